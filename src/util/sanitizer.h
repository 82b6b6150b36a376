/* SM_SANITIZER_BUILD: defined in ASan builds (gcc and clang), where the
 * sandbox skips RLIMIT_AS (the shadow memory alone is larger) and the
 * server opens its report file before entering the sandbox. */
#ifndef SAFEMOUNT_UTIL_SANITIZER_H
#define SAFEMOUNT_UTIL_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define SM_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SM_SANITIZER_BUILD 1
#endif
#endif

#endif
