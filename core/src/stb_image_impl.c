/* stb_image_impl.c — the one translation unit that compiles stb_image (Debian's
 * libstb-dev, not vendored), configured for decoding from memory only. */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS 32768 /* = CAPT_IMAGE_MAX_SIDE */
#include <stb/stb_image.h> /* a system include (CMakeLists.txt): its warnings are not ours */
