/* dist/ctrl.c - splitting and building distribution frames (ctrl.h). */
#include "dist/ctrl.h"

#include "dist/etf_check.h"
#include "policy/alloc.h"

#include <string.h>

#define PASS_THROUGH  112
#define VERSION_MAGIC 131

/* The control tuples we act on and their arity (the "Distribution Protocol" chapter, control messages). */
static const struct {
    long op;
    int arity;
} arities[] = {
    {AC_DIST_LINK, 3},
    {AC_DIST_SEND, 3},
    {AC_DIST_EXIT, 4},
    {AC_DIST_UNLINK, 3},
    {AC_DIST_REG_SEND, 4},
    {AC_DIST_EXIT2, 4},
    {AC_DIST_SEND_TT, 4},
    {AC_DIST_EXIT_TT, 5},
    {AC_DIST_REG_SEND_TT, 5},
    {AC_DIST_EXIT2_TT, 5},
    {AC_DIST_MONITOR_P, 4},
    {AC_DIST_DEMONITOR_P, 4},
    {AC_DIST_MONITOR_P_EXIT, 5},
    {AC_DIST_SEND_SENDER, 3},
    {AC_DIST_SEND_SENDER_TT, 4},
    {AC_DIST_SPAWN_REQUEST, 6},
    {AC_DIST_SPAWN_REQUEST_TT, 7},
    {AC_DIST_UNLINK_ID, 4},
    {AC_DIST_UNLINK_ID_ACK, 4},
};

int ac_dist_ctrl_parse(const char *p, size_t len, ac_dist_ctrl_t *out, ac_errmsg_t *err)
{
    memset(out, 0, sizeof(*out));
    out->msg = -1;
    if (len < 3 || (unsigned char)p[0] != PASS_THROUGH || (unsigned char)p[1] != VERSION_MAGIC)
        return ac_errmsg_set(err, -AC_EINVAL, "frame does not start with pass-through and a version byte");
    size_t at = 2;
    if (ac_dist_etf_check(p, len, &at, err) != 0)
        return -AC_EINVAL;
    out->ctrl_end = (int)at;
    out->msg_end = -1;
    if (at < len) {
        if ((unsigned char)p[at] != VERSION_MAGIC)
            return ac_errmsg_set(err, -AC_EINVAL, "message term without a version byte");
        size_t m = at + 1;
        if (ac_dist_etf_check(p, len, &m, err) != 0)
            return -AC_EINVAL;
        if (m != len)
            return ac_errmsg_set(err, -AC_EINVAL, "trailing bytes after the message term");
        out->msg = (int)(at + 1);
        out->msg_end = (int)len;
    }
    int idx = 2, arity;
    long op;
    if (ei_decode_tuple_header(p, &idx, &arity) != 0 || arity < 1 || ei_decode_long(p, &idx, &op) != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "control message is not a tuple starting with an integer");
    for (size_t i = 0; i < sizeof(arities) / sizeof(arities[0]); i++)
        if (arities[i].op == op && arities[i].arity != arity)
            return ac_errmsg_set(err, -AC_EINVAL, "control message %ld with arity %d (expected %d)", op, arity,
                                 arities[i].arity);
    out->op = op;
    out->buf = p;
    out->len = len;
    out->ctrl = idx;
    out->ctrl_arity = arity;
    return 0;
}

void ac_dist_ctrl_frame(const ei_x_buff *ctrl, const ei_x_buff *msg, char **frame, size_t *flen)
{
    size_t body = 1 + 1 + (size_t)ctrl->index + (msg != NULL ? 1 + (size_t)msg->index : 0);
    char *f = ac_malloc(4 + body);
    f[0] = (char)(body >> 24);
    f[1] = (char)(body >> 16);
    f[2] = (char)(body >> 8);
    f[3] = (char)body;
    size_t o = 4;
    f[o++] = (char)PASS_THROUGH;
    f[o++] = (char)VERSION_MAGIC;
    memcpy(f + o, ctrl->buff, (size_t)ctrl->index);
    o += (size_t)ctrl->index;
    if (msg != NULL) {
        f[o++] = (char)VERSION_MAGIC;
        memcpy(f + o, msg->buff, (size_t)msg->index);
        o += (size_t)msg->index;
    }
    *frame = f;
    *flen = o;
}
