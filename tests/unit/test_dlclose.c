/* Check suite for unloading: libtelemetry.so opened with dlopen(), a
 * client made, used, closed and freed, the library unloaded with
 * dlclose(), then fork(): the library's pthread_atfork handler must have
 * gone with it (glibc unregisters a DSO's handlers at dlclose), or the
 * fork would call into unmapped code. TLM_LIBRARY names the library. */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void *(*options_new_fn)(void);
typedef int (*set_str_fn)(void *, const char *);
typedef int (*client_new_fn)(void **, const void *);
typedef int (*track_fn)(
    void *, const char *, const char *, int, double, const char *);
typedef int (*close_fn)(void *, uint32_t);
typedef void (*free_fn)(void *);

/* True if a file whose name contains name is mapped in this process. */
static int
mapped(const char *name)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        found |= strstr(line, name) != NULL;
    fclose(f);
    return found;
}

START_TEST(dlclose_after_free_then_fork)
{
    const char *path = getenv("TLM_LIBRARY");
    ck_assert_ptr_nonnull(path);
    for (int round = 0; round < 2; round++) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
        options_new_fn options_new
            = (options_new_fn)(uintptr_t)dlsym(h, "tlm_options_new");
        set_str_fn set_endpoint
            = (set_str_fn)(uintptr_t)dlsym(h, "tlm_options_set_endpoint");
        client_new_fn client_new
            = (client_new_fn)(uintptr_t)dlsym(h, "tlm_client_new");
        track_fn track
            = (track_fn)(uintptr_t)dlsym(h, "tlm_track_request_simple");
        close_fn client_close
            = (close_fn)(uintptr_t)dlsym(h, "tlm_client_close");
        free_fn client_free = (free_fn)(uintptr_t)dlsym(h, "tlm_client_free");
        free_fn options_free = (free_fn)(uintptr_t)dlsym(h, "tlm_options_free");
        ck_assert(options_new && set_endpoint && client_new && track
            && client_close && client_free && options_free);
        void *o = options_new(), *c = NULL;
        ck_assert_int_eq(set_endpoint(o, "http://127.0.0.1:1"), 0);
        ck_assert_int_eq(client_new(&c, o), 0);
        options_free(o);
        ck_assert_int_eq(track(c, "/v1/x", "GET", 200, 1.0, "u"), 0);
        (void)client_close(c, 100);
        client_free(c);
        ck_assert_int_eq(dlclose(h), 0);
        ck_assert_msg(!mapped("libtelemetry.so"),
            "dlclose left the library mapped: the test would prove nothing");
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(0);
        int st = 0;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the child of a fork after dlclose died (status %d)", st);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("dlclose");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, dlclose_after_free_then_fork);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
