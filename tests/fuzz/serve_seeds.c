/* tests/fuzz/serve_seeds.c - what named seeds of corpus/serve/ must do in fuzz_serve.c, so that the fuzz target's
 * checks, which only say what must never happen, are not met by a node that does nothing: the allowed call reaches
 * the trigger hook through rex, ei_rpc and erpc, and its answer goes back; everything else is answered without it;
 * replies to our own call end it; frames a BEAM node would refuse drop the connection. */
#include "tests/fuzz/fuzz_serve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *seed;
    int hooks, frames;
    bool call_done;
    int call_rc;
    bool dead;
} expect[] = {
    {"rex_trigger", 1, 1, false, 0, false},            /* {Tag, Answer}, answered after on_frame */
    {"rex_block_call", 1, 1, false, 0, false},         /* the same through block_call */
    {"ei_rpc_trigger", 1, 1, false, 0, false},         /* {rex, Answer} */
    {"erpc_call_monitor_link", 1, 3, false, 0, false}, /* SPAWN_REPLY, MONITOR_P_EXIT and EXIT */
    {"erpc_cast", 1, 1, false, 0, false},              /* SPAWN_REPLY only: nobody waits */
    {"rex_trigger_spoofed", 0, 1, false, 0, false},    /* unauthorized_node without the hook */
    {"rex_trigger_bignum", 0, 1, false, 0, false},     /* {error, badarg} */
    {"name_with_nul", 0, 1, false, 0, false},          /* {error, badarg} */
    {"rex_undef", 0, 1, false, 0, false},              /* {badrpc, {'EXIT', {undef, ...}}} */
    {"rex_other_function", 0, 1, false, 0, false},     /* the trigger's arguments, another function: undef */
    {"erpc_other_module", 0, 2, false, 0, false},      /* the same through erpc: SPAWN_REPLY and the exit */
    {"rex_wrong_arity", 0, 1, false, 0, false},        /* receive_workflow_data/4: undef */
    {"spawn_other", 0, 2, false, 0, false},            /* SPAWN_REPLY, then the exit with undef */
    {"net_kernel_is_auth", 0, 1, false, 0, false},     /* yes */
    {"reply_to_our_call", 0, 0, true, 0, false},       /* {ok, started} */
    {"reply_unauthorized", 0, 0, true, -1, false},     /* an error */
    {"pid_node_not_utf8", 0, 0, false, 0, true},       /* refused as a whole */
    {"bitstring_bad_bits", 0, 0, false, 0, true},      /* refused as a whole */
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: serve_seeds CORPUS_DIR\n");
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], expect[i].seed);
        FILE *f = fopen(path, "rb");
        static uint8_t buf[1 << 20];
        size_t n = f != NULL ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f == NULL || ferror(f) || !feof(f)) {
            fprintf(stderr, "FAIL %s: cannot read it\n", path);
            failed++;
            if (f != NULL)
                fclose(f);
            continue;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        const fuzz_serve_result_t *r = &fuzz_serve_last;
        bool ok = r->hooks == expect[i].hooks && r->frames == expect[i].frames && r->call_done == expect[i].call_done &&
                  (!r->call_done || r->call_rc == expect[i].call_rc) && r->dead == expect[i].dead;
        printf("%s %s: hooks %d, frames %d, call %s (rc %d), connection %s\n", ok ? "ok  " : "FAIL", expect[i].seed,
               r->hooks, r->frames, r->call_done ? "ended" : "waiting", r->call_rc, r->dead ? "dropped" : "kept");
        failed += !ok;
    }
    return failed == 0 ? 0 : 1;
}
