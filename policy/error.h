/* policy/error.h - the project's error codes: one X-macro table of code, name and message.
 *
 * Functions return int: 0 (or a count) on success, a negative -AC_E* code on failure. ac_strerror() turns a code into
 * a short message that is safe to log and show (it never contains data). Callers that need context (which key, which
 * migration) pass an ac_errmsg_t, a bounded buffer the callee fills with one human-readable sentence. */
#ifndef AC_POLICY_ERROR_H
#define AC_POLICY_ERROR_H

#include <stddef.h>

#define AC_ERRNO_MAP(X)                                                                                                \
    X(EINVAL, "invalid argument")                                                                                      \
    X(ENOMEM, "out of memory")                                                                                         \
    X(ENOENT, "not found")                                                                                             \
    X(EEXIST, "already exists")                                                                                        \
    X(ETOOLONG, "too long")                                                                                            \
    X(ETYPE, "wrong type")                                                                                             \
    X(EIO, "input/output error")                                                                                       \
    X(ETIMEDOUT, "timed out")                                                                                          \
    X(EPERM, "not permitted")                                                                                          \
    X(ECONFIG, "invalid configuration")                                                                                \
    X(EDB, "database error")                                                                                           \
    X(EDBDOWN, "database unreachable")                                                                                 \
    X(EMIGRATION, "migration failed")                                                                                  \
    X(EBASE64, "invalid base64")                                                                                       \
    X(ECIPHERTEXT, "invalid ciphertext")                                                                               \
    X(EDECRYPT, "decryption failed")                                                                                   \
    X(ECRYPTO, "cryptographic library failure")                                                                        \
    X(ESYS, "system call failed")                                                                                      \
    X(ESTATE, "wrong state")                                                                                           \
    X(ESTOPPED, "stopped")                                                                                             \
    X(EAGAIN, "busy, try again later")

enum {
    AC_OK = 0,
    AC_ERRNO_BASE_ = 1000, /* keep clear of errno values so a mix-up is visible */
#define AC_ERRNO_ENUM_(name, msg) AC_##name,
    AC_ERRNO_MAP(AC_ERRNO_ENUM_)
#undef AC_ERRNO_ENUM_
        AC_ERRNO_END_
};

/* Returns a static message for `code` (negative or positive); "unknown error" for codes outside the table. */
const char *ac_strerror(int code);
/* Returns the code's symbolic name ("EINVAL"), or "EUNKNOWN". */
const char *ac_strerror_name(int code);

/* A bounded error sentence filled by a callee. Always NUL-terminated; empty when nothing was said. */
#define AC_ERRMSG_MAX 512
typedef struct ac_errmsg {
    char msg[AC_ERRMSG_MAX];
} ac_errmsg_t;

/* Sets err->msg (printf-style, truncated to fit) and returns `code` so callers can write `return ac_errmsg_set(...)`.
 * err may be NULL. Never put secrets into the format arguments. */
int ac_errmsg_set(ac_errmsg_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
