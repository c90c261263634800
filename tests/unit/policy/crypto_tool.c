/* tests/unit/policy/crypto_tool.c - ac_crypto_tool: seal and open settings values from the command line, so that
 * tests/unit/policy/crypto_interop.sh can check the C format against an independent Python implementation.
 *
 *   ac_crypto_tool seal SKB PLAINTEXT   prints the "enc:" value
 *   ac_crypto_tool open SKB VALUE       prints the plaintext, or the error name (EDECRYPT, ...) and exits 1
 *
 * A test helper only: it takes SECRET_KEY_BASE on the command line, which the node itself never does. */
#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void usage(void)
{
    fputs("usage: ac_crypto_tool seal|open SECRET_KEY_BASE VALUE\n", stderr);
}

int main(int argc, char **argv)
{
    uint8_t key[AC_POLICY_CRYPTO_KEY_LEN];
    char *out = NULL;
    int seal, ret, status = 1;

    if (argc != 4 || (strcmp(argv[1], "seal") != 0 && strcmp(argv[1], "open") != 0)) {
        usage();
        return 2;
    }
    seal = strcmp(argv[1], "seal") == 0;
    if ((ret = ac_policy_crypto_derive_key(argv[2], strlen(argv[2]), AC_POLICY_CRYPTO_INFO_SETTINGS, key)) != 0)
        goto Exit;
    if (seal)
        ret = ac_policy_crypto_seal(key, argv[3], strlen(argv[3]), &out);
    else
        ret = ac_policy_crypto_open(key, argv[3], strlen(argv[3]), &out, NULL);
    if (ret != 0)
        goto Exit;
    printf("%s\n", out);
    status = 0;

Exit:
    if (ret != 0)
        printf("%s\n", ac_strerror_name(ret));
    OPENSSL_cleanse(key, sizeof(key));
    ac_free_secret_str(out);
    return fflush(stdout) == 0 ? status : 1;
}
