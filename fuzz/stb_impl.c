/* stb_image compiled into the fuzz targets (instead of linking libstb), so
 * that the decoder itself is instrumented: the sanitizers watch it and the
 * fuzzer is guided by its coverage.  The header is the system's libstb one. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
