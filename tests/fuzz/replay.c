/* Standalone driver for the normal (gcc) build: runs every file of the
 * directories (or files) named on the command line through the target's
 * LLVMFuzzerTestOneInput, in name order, so that the saved corpus and every
 * past crasher are re-checked by `scripts/test`, its ASan run and valgrind.
 * A missing directory is skipped (crashes/<target>/ may hold only a
 * .gitkeep); files whose name starts with '.' or ends in ".md" are not
 * inputs. Fails if nothing at all was replayed. */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static bool
is_input_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && !(n >= 3 && strcmp(name + n - 3, ".md") == 0);
}

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (p == NULL)
                abort();
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    /* An exact-size copy, as libFuzzer passes it: overreads are caught. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL)
        abort();
    if (len > 0)
        memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every input file of dir; returns how many, or -1 on error. */
static long
replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long count = 0;
    if (d == NULL) {
        if (errno == ENOENT) {
            fprintf(stderr, "replay: %s: absent, skipped\n", dir);
            return 0;
        }
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (!is_input_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof(*names));
            if (p == NULL)
                abort();
            names = p;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(plen);
        struct stat st;
        if (path == NULL)
            abort();
        snprintf(path, plen, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return count;
}

int
main(int argc, char **argv)
{
    long total = 0;
    bool failed = false;
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
            n = replay_file(argv[i]) == 0 ? 1 : -1;
        else
            n = replay_dir(argv[i]);
        if (n < 0)
            failed = true;
        else
            total += n;
    }
    printf("replayed %ld input(s)\n", total);
    if (failed || total == 0) {
        fprintf(stderr, "replay: %s\n",
            failed ? "an input could not be read" : "no input replayed");
        return 1;
    }
    return 0;
}
