/* tests/fuzz/fuzz_serve.h - what fuzz_serve.c's last input did, for the seed expectations of serve_seeds.c. */
#ifndef AC_TESTS_FUZZ_SERVE_H
#define AC_TESTS_FUZZ_SERVE_H

#include <stdbool.h>

typedef struct fuzz_serve_result {
    int hooks;      /* trigger hook calls */
    int frames;     /* non-tick frames queued for the peer */
    bool call_done; /* the outgoing call waiting was ended */
    int call_rc;
    bool dead; /* the connection was marked dead (a frame we cannot trust) */
} fuzz_serve_result_t;

extern fuzz_serve_result_t fuzz_serve_last;

#endif
