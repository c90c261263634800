/* policy/error.c - messages and names for the -AC_E* codes of error.h. */
#include "policy/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const messages[] = {
#define AC_ERRNO_MSG_(name, msg) msg,
    AC_ERRNO_MAP(AC_ERRNO_MSG_)
#undef AC_ERRNO_MSG_
};

static const char *const names[] = {
#define AC_ERRNO_NAME_(name, msg) #name,
    AC_ERRNO_MAP(AC_ERRNO_NAME_)
#undef AC_ERRNO_NAME_
};

static int index_of(int code)
{
    if (code < 0)
        code = -code;
    if (code <= AC_ERRNO_BASE_ || code >= AC_ERRNO_END_)
        return -1;
    return code - AC_ERRNO_BASE_ - 1;
}

const char *ac_strerror(int code)
{
    if (code == 0)
        return "success";
    int i = index_of(code);
    return i < 0 ? "unknown error" : messages[i];
}

const char *ac_strerror_name(int code)
{
    if (code == 0)
        return "OK";
    int i = index_of(code);
    return i < 0 ? "EUNKNOWN" : names[i];
}

int ac_errmsg_set(ac_errmsg_t *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
