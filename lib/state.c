/*
 * state.c - small files in the client's state directory (the generated
 * salt, the consent decision).
 *
 * Writes are atomic (temporary file, fsync, rename) so a crash never leaves
 * half a value; the directory is created 0700 and files 0600.
 */
#include "privacy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int
path_of(
    const char *dir, const char *name, const char *suffix, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/%s%s", dir, name, suffix);

    return len > 0 && (size_t)len < n ? 0 : TLM_EINVAL;
}

int
tlm__state_read(const char *dir, const char *name, char *buf, size_t n)
{
    char path[4096];
    ssize_t got;
    int fd, rc = TLM_EIO;

    if (n == 0 || path_of(dir, name, "", path, sizeof(path)) != 0)
        return TLM_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return TLM_EIO;
    got = read(fd, buf, n - 1);
    if (got >= 0) {
        buf[got] = '\0';
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
            buf[--got] = '\0';
        rc = 0;
    }
    close(fd);
    return rc;
}

int
tlm__state_write(const char *dir, const char *name, const char *value)
{
    char path[4096], tmp[4096], suffix[32];
    unsigned int r = 0;
    size_t len = strlen(value);
    int fd, rc = TLM_EIO;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return TLM_EIO;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) < 0)
        r = (unsigned int)getpid();
    snprintf(suffix, sizeof(suffix), ".tmp.%u", r);
    if (path_of(dir, name, "", path, sizeof(path)) != 0
        || path_of(dir, name, suffix, tmp, sizeof(tmp)) != 0)
        return TLM_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return TLM_EIO;
    if (write(fd, value, len) == (ssize_t)len && write(fd, "\n", 1) == 1
        && fsync(fd) == 0)
        rc = 0;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = TLM_EIO;
    if (rc != 0)
        unlink(tmp);
    return rc;
}
