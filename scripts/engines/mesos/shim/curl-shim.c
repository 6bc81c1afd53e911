/* libcurl.so.4 for libmesos 1.11.0: the system's libcurl under the symbol version libmesos wants.
 *
 * libmesos imports seven curl_easy_* / curl_global_init functions with the symbol version
 * CURL_OPENSSL_3 (Debian 9's libcurl); Debian 12's libcurl.so.4 has the same functions and ABI but
 * versions them CURL_OPENSSL_4, so the loader refuses libmesos. This library takes the name
 * libcurl.so.4 (found first through the launcher's RPATH, never by other programs), exports those
 * functions as CURL_OPENSSL_3 (version script generated from libmesos-imports.txt, "forward"
 * lines), and forwards each call to the real library, loaded with dlopen by its absolute path
 * (TARS_REAL_LIBCURL, found by install.sh with ldconfig): a path, so that the loader does not
 * hand back this library, which already carries the name libcurl.so.4.
 *
 * Each export is a bare jump through a pointer filled in by the constructor: no frame, registers
 * and stack untouched, so variadic functions (curl_easy_setopt, curl_easy_getinfo) and every
 * argument and return value pass through unchanged. The constructor runs before libmesos' own
 * (a library is initialised before the libraries that depend on it), so no call can come first.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef TARS_REAL_LIBCURL
#error "build with -DTARS_REAL_LIBCURL='\"/path/to/the/system/libcurl.so.4\"'"
#endif

#define FORWARD(name)                                             \
    static void *real_##name __attribute__((used));               \
    __attribute__((naked)) void name(void)                        \
    {                                                             \
        __asm__("jmp *real_" #name "(%rip)");                     \
    }
#include "curl-forwards.inc"
#undef FORWARD

__attribute__((constructor)) static void tars_curl_shim_init(void)
{
    void *real = dlopen(TARS_REAL_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (real == NULL) {
        fprintf(stderr, "[tars curl shim] cannot load %s: %s\n", TARS_REAL_LIBCURL, dlerror());
        abort();
    }
#define FORWARD(name)                                                                      \
    if ((real_##name = dlsym(real, #name)) == NULL) {                                      \
        fprintf(stderr, "[tars curl shim] %s not found in %s\n", #name, TARS_REAL_LIBCURL); \
        abort();                                                                           \
    }
#include "curl-forwards.inc"
#undef FORWARD
}
