/* tests/fuzz/replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput() over saved inputs, without libFuzzer.
 *
 * Linked with any fuzz_<target>.c as replay_<target>, it lets ctest run every seed and every past crash input on each
 * build, with whatever sanitizers that build has. Arguments are directories (every regular file in them is run, in
 * name order) or single files. Exit status 0 when everything ran; 1 when an argument is missing, unreadable, or a
 * directory holds no files (an empty corpus would make the test pass vacuously). The target reports a failure by
 * crashing or aborting, as under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads the whole file at path and runs it. Returns 0, or -1 after printing why. */
static int run_file(const char *path)
{
    FILE *f = NULL;
    uint8_t *buf = NULL;
    long n;
    int ret = -1;

    if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        goto Exit;
    }
    /* An exact-size heap copy, so AddressSanitizer catches a read one byte past the input. */
    if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        goto Exit;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    ret = 0;

Exit:
    free(buf);
    if (f != NULL)
        fclose(f);
    return ret;
}

/* Runs every regular file in dir; adds the number run to *count. Returns 0, or -1 after printing why. */
static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    size_t ran = 0;
    int n, ret = -1;

    if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >= (int)sizeof(path)) {
            fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]->d_name);
            goto Exit;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (run_file(path) != 0)
            goto Exit;
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "replay: %s: no inputs\n", dir);
        goto Exit;
    }
    printf("replay: %zu inputs from %s\n", ran, dir);
    *count += ran;
    ret = 0;

Exit:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ret;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    struct stat st;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 1;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) != 0 : run_file(argv[i]) != 0)
            return 1;
        if (!S_ISDIR(st.st_mode))
            count++;
    }
    printf("replay: ran %zu inputs\n", count);
    return 0;
}
