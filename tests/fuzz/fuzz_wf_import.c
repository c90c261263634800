/* tests/fuzz/fuzz_wf_import.c - workflow documents as the import reads them (node/wf_io.c,
 * ac_node_wf_import_check: JSON, depth, the format, every field, the schedule's cron expression), from arbitrary
 * bytes. Whatever arrives: nothing crashes, reads out of bounds or leaks; a refusal says why in a message that is
 * valid UTF-8 without NUL (the admin UI sends it in a JSON error, which needs UTF-8); only valid JSON with version 1
 * is accepted, and the same text always gets the same answer. */
#include "node/wf_io.h"
#include "policy/utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exact size, no NUL after it */
    memcpy(text, data, size);
    ac_errmsg_t err = {{0}};
    int rc = ac_node_wf_import_check(text, size, &err);
    if (rc != 0) {
        size_t n = strnlen(err.msg, sizeof(err.msg));
        if (rc != -AC_EINVAL || n == 0 || n == sizeof(err.msg) || !ac_policy_utf8_valid(err.msg, n))
            abort();
    } else {
        json_t *doc = json_loadb(text, size, 0, NULL);
        if (doc == NULL || json_integer_value(json_object_get(doc, "version")) != 1)
            abort();
        json_decref(doc);
    }
    ac_errmsg_t again = {{0}};
    if (ac_node_wf_import_check(text, size, &again) != rc || strcmp(again.msg, err.msg) != 0)
        abort();
    free(text);
    return 0;
}
