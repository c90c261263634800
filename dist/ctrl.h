/* dist/ctrl.h - distribution control messages: splitting a frame into its control and message terms, and building
 * the frames we send.
 *
 * A frame after the handshake (no atom cache negotiated):  'p' (112) | 131 Control | [131 Message]
 * Control is a tuple whose first element is the operation (Erlang's "Distribution Protocol", control messages). Both
 * terms are checked with ac_dist_etf_check() before anything decodes them, so ei only ever sees well-formed input. */
#ifndef AC_DIST_CTRL_H
#define AC_DIST_CTRL_H

#include "policy/error.h"

#include <ei.h>
#include <stddef.h>

enum {
    AC_DIST_LINK = 1,
    AC_DIST_SEND = 2,
    AC_DIST_EXIT = 3,
    AC_DIST_UNLINK = 4,
    AC_DIST_REG_SEND = 6,
    AC_DIST_GROUP_LEADER = 7,
    AC_DIST_EXIT2 = 8,
    AC_DIST_SEND_TT = 12,
    AC_DIST_EXIT_TT = 13,
    AC_DIST_REG_SEND_TT = 16,
    AC_DIST_EXIT2_TT = 18,
    AC_DIST_MONITOR_P = 19,
    AC_DIST_DEMONITOR_P = 20,
    AC_DIST_MONITOR_P_EXIT = 21,
    AC_DIST_SEND_SENDER = 22,
    AC_DIST_SEND_SENDER_TT = 23,
    AC_DIST_SPAWN_REQUEST = 29,
    AC_DIST_SPAWN_REQUEST_TT = 30,
    AC_DIST_SPAWN_REPLY = 31,
    AC_DIST_SPAWN_REPLY_TT = 32,
    AC_DIST_UNLINK_ID = 35,
    AC_DIST_UNLINK_ID_ACK = 36,
};

typedef struct ac_dist_ctrl {
    long op;
    const char *buf; /* the frame payload */
    size_t len;
    int ctrl;       /* index after the control tuple's header and operation, for ei_decode_* */
    int ctrl_arity; /* checked against the operation's arity for every operation we act on */
    int ctrl_end;   /* index just past the control term */
    int msg;        /* index of the message term (after its version byte), or -1 */
    int msg_end;    /* index just past the message term (== len), or -1 */
} ac_dist_ctrl_t;

/* Splits and checks a frame payload. After success, ei may decode buf from ctrl / msg (ctrl is positioned after the
 * tuple header and the operation); decoders must still check the arity of every container in the message term and
 * keep their index inside [msg, msg_end). A control tuple whose arity does not fit its operation is refused. */
int ac_dist_ctrl_parse(const char *payload, size_t len, ac_dist_ctrl_t *out, ac_errmsg_t *err);

/* Builds a frame (4-byte length | 'p' | 131 control | [131 message]) from encoded terms WITHOUT version bytes.
 * OUT: *frame from ac_malloc, *flen. */
void ac_dist_ctrl_frame(const ei_x_buff *ctrl, const ei_x_buff *msg, char **frame, size_t *flen);

#endif
