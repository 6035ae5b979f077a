# Debian's stb_image.h (v2.27) with fixes for what fuzzing found under ASan/UBSan
# (docs/fuzzing.md): each fix replaces one exact piece of the original, and configuring
# fails if a piece is not found (another stb version needs its fixes reviewed). The
# patched copy is what every build includes (build/stb-include/stb/stb_image.h).
#   STB_SOURCE: the original header; STB_PATCHED: where the copy goes.

file(READ "${STB_SOURCE}" stb)

function(stb_fix name old new)
  string(FIND "${stb}" "${old}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "stb_image.h: the code fix '${name}' applies to was not found (${STB_SOURCE})")
  endif()
  string(REPLACE "${old}" "${new}" patched "${stb}")
  set(stb "${patched}" PARENT_SCOPE)
endfunction()

# A DHT segment whose 16 code-length counts add up to more than 256 symbols overruns the
# table's size[257] and values[256] arrays (stbi__build_huffman, the loop reading values).
stb_fix("DHT symbol count"
"            for (i=0; i < 16; ++i) {
               sizes[i] = stbi__get8(z->s);
               n += sizes[i];
            }
"
"            for (i=0; i < 16; ++i) {
               sizes[i] = stbi__get8(z->s);
               n += sizes[i];
            }
            if (n > 256) return stbi__err(\"bad DHT header\",\"Corrupt JPEG\"); /* capt: fuzzing fix */
")

# A scan may use a Huffman table no DHT segment defined: the decoder read it from
# uninitialised memory (the decoder state is malloc'ed), so the same file decoded
# differently from run to run, and a code could index past the table's 256 symbols or
# run the code-length search past its 17 entries. The state now starts zeroed (an
# undefined table decodes nothing), the search stops at 16 bits and the symbol index is
# checked (stbi__jpeg_huff_decode).
stb_fix("zeroed decoder state (load)"
"   if (!j) return stbi__errpuc(\"outofmem\", \"Out of memory\");
"
"   if (!j) return stbi__errpuc(\"outofmem\", \"Out of memory\");
   memset(j, 0, sizeof(*j)); /* capt: fuzzing fix */
")
stb_fix("zeroed decoder state (test, info)"
"   if (!j) return stbi__err(\"outofmem\", \"Out of memory\");
"
"   if (!j) return stbi__err(\"outofmem\", \"Out of memory\");
   memset(j, 0, sizeof(*j)); /* capt: fuzzing fix */
")
stb_fix("Huffman code length search"
"   for (k=FAST_BITS+1 ; ; ++k)
"
"   for (k=FAST_BITS+1 ; k < 17 ; ++k) /* capt: fuzzing fix */
")
stb_fix("Huffman symbol index"
"   c = ((j->code_buffer >> (32 - k)) & stbi__bmask[k]) + h->delta[k];
"
"   c = ((j->code_buffer >> (32 - k)) & stbi__bmask[k]) + h->delta[k];
   if (c < 0 || c >= 256) return -1; /* capt: fuzzing fix */
")

# A marker met inside the entropy-coded data stops the bit buffer from growing; readers
# that took their bits anyway drove code_bits negative, and the next refill shifted by
# 32 or more bits. Missing bits now read as zeros and the fast AC path checks its length.
stb_fix("bits past a marker (extend_receive)"
"   int sgn;
   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);
"
"   int sgn;
   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);
   if (j->code_bits < n) return 0; /* capt: fuzzing fix */
")
stb_fix("bits past a marker (get_bits)"
"   unsigned int k;
   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);
   k = stbi_lrot(j->code_buffer, n);
"
"   unsigned int k;
   if (j->code_bits < n) stbi__grow_buffer_unsafe(j);
   if (j->code_bits < n) return 0; /* capt: fuzzing fix */
   k = stbi_lrot(j->code_buffer, n);
")
stb_fix("bits past a marker (get_bit)"
"   if (j->code_bits < 1) stbi__grow_buffer_unsafe(j);
"
"   if (j->code_bits < 1) stbi__grow_buffer_unsafe(j);
   if (j->code_bits < 1) return 0; /* capt: fuzzing fix */
")
stb_fix("bits past a marker (fast AC)"
"         s = r & 15; // combined length
         j->code_buffer <<= s;
"
"         s = r & 15; // combined length
         if (s > j->code_bits) return stbi__err(\"bad huffman code\",\"Corrupt JPEG\"); /* capt: fuzzing fix */
         j->code_buffer <<= s;
")
stb_fix("bits past a marker (progressive fast AC)"
"            s = r & 15; // combined length
            j->code_buffer <<= s;
"
"            s = r & 15; // combined length
            if (s > j->code_bits) return stbi__err(\"bad huffman code\",\"Corrupt JPEG\"); /* capt: fuzzing fix */
            j->code_buffer <<= s;
")

# The running DC value is a sum of per-block differences: a hostile stream overflows the
# int sum and the product with the quantizer. Real DC coefficients fit in 16 bits.
stb_fix("DC overflow (baseline)"
"   dc = j->img_comp[b].dc_pred + diff;
   j->img_comp[b].dc_pred = dc;
   data[0] = (short) (dc * dequant[0]);
"
"   if (j->img_comp[b].dc_pred + (long long)diff > 32767 || j->img_comp[b].dc_pred + (long long)diff < -32768)
      return stbi__err(\"bad delta\",\"Corrupt JPEG\"); /* capt: fuzzing fix */
   dc = j->img_comp[b].dc_pred + diff;
   j->img_comp[b].dc_pred = dc;
   data[0] = (short) (dc * dequant[0]);
")
stb_fix("DC overflow (progressive)"
"      dc = j->img_comp[b].dc_pred + diff;
      j->img_comp[b].dc_pred = dc;
      data[0] = (short) (dc * (1 << j->succ_low));
"
"      if (j->img_comp[b].dc_pred + (long long)diff > 32767 || j->img_comp[b].dc_pred + (long long)diff < -32768)
         return stbi__err(\"bad delta\",\"Corrupt JPEG\"); /* capt: fuzzing fix */
      dc = j->img_comp[b].dc_pred + diff;
      j->img_comp[b].dc_pred = dc;
      data[0] = (short) (dc * (1 << j->succ_low));
")

file(WRITE "${STB_PATCHED}.tmp" "${stb}")
file(RENAME "${STB_PATCHED}.tmp" "${STB_PATCHED}")
