/* rm -rf for a test's scratch directory, without a shell: removes dir and
 * everything under it, ignoring what is already gone. Shared by the unit
 * and integration suites that make their own directories. */
#ifndef TLM_TESTS_RM_RF_H
#define TLM_TESTS_RM_RF_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) != 0 && (errno == EISDIR || errno == EPERM))
            rm_rf(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
