/* Stand-in for OpenSSL 1.0's libssl.so.1.0.0 and libcrypto.so.1.0.0, for libmesos 1.11.0.
 *
 * libmesos (PyPI mesos.scheduler 1.11.0) was linked against OpenSSL 1.0, which Debian 12 does not
 * ship, and the dynamic loader refuses to load it unless both libraries are found and define every
 * versioned symbol it imports. tars never enables TLS in libprocess (LIBPROCESS_SSL_ENABLED is
 * unset), so nothing here has to work: it only has to let libmesos load.
 *
 * install.sh builds this file twice (sonames libssl.so.1.0.0 and libcrypto.so.1.0.0) with a version
 * script (OPENSSL_1.0.0 < 1.0.1 < 1.0.2) and an include file, both generated from
 * libmesos-imports.txt, whose third column says what each function does:
 *   return:N  returns N: the few calls libprocess makes even with TLS off (library setup, error queue);
 *   abort     prints which function was called and aborts: a call means some code path wants real
 *             crypto, and a loud crash is better than a NULL handed back to code that uses it.
 * Set TARS_MESOS_SHIM_TRACE=1 to log every call of a return:N function to stderr.
 *
 * Every function is declared `long f(void)` whatever its real prototype: on x86-64 (System V) the
 * caller passes arguments in registers and cleans up, so ignoring them is harmless, and the value
 * in %rax serves as int, long or pointer (0 = NULL) alike; callers of void functions ignore it.
 */
#include <stdio.h>
#include <stdlib.h>

static int trace(void)
{
    static int on = -1; /* benign race: every thread computes the same value */
    if (on < 0)
        on = getenv("TARS_MESOS_SHIM_TRACE") != NULL;
    return on;
}

#define SHIM_RETURN(name, value)                                                      \
    long name(void)                                                                   \
    {                                                                                 \
        if (trace())                                                                  \
            fprintf(stderr, "[tars openssl stub] %s -> %ld\n", #name, (long)(value)); \
        return (value);                                                               \
    }

#define SHIM_ABORT(name)                                                                    \
    long name(void)                                                                         \
    {                                                                                       \
        fprintf(stderr,                                                                     \
                "[tars openssl stub] %s called: TLS and crypto are not available in this "  \
                "Mesos build (OpenSSL 1.0 is a stub); aborting\n",                          \
                #name);                                                                     \
        abort();                                                                            \
    }

#include "openssl-stubs.inc"
