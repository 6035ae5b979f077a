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

file(WRITE "${STB_PATCHED}.tmp" "${stb}")
file(RENAME "${STB_PATCHED}.tmp" "${STB_PATCHED}")
