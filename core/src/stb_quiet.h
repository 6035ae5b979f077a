/* stb_quiet.h — stb's headers are not warning-clean at -Wall -Wextra; their includes go
 * between CAPT_STB_QUIET_BEGIN and CAPT_STB_QUIET_END. */
#ifndef CAPT_STB_QUIET_H
#define CAPT_STB_QUIET_H

#if defined(__GNUC__)
#define CAPT_STB_QUIET_BEGIN                                                                           \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-function\"")             \
        _Pragma("GCC diagnostic ignored \"-Wsign-compare\"")                                           \
            _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")                         \
                _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"")                               \
                    _Pragma("GCC diagnostic ignored \"-Wimplicit-fallthrough\"")                       \
                        _Pragma("GCC diagnostic ignored \"-Wshadow\"")                                 \
                            _Pragma("GCC diagnostic ignored \"-Wmissing-braces\"")
#define CAPT_STB_QUIET_END _Pragma("GCC diagnostic pop")
#else
#define CAPT_STB_QUIET_BEGIN
#define CAPT_STB_QUIET_END
#endif

#endif
