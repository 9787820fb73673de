/*
 * lstat_walk: the floor an unchanged `mphash --since` pass is measured against (issue 28, item 5):
 * walk the trees given, on one thread, with opendir/readdir, lstat every entry, and print how
 * many regular files there are. Built and run by benches/records.py.
 *
 *     cc -O2 -std=c99 -Wall -Wextra -Werror -o lstat_walk benches/lstat_walk.c
 *     ./lstat_walk DIR...
 */
#define _DEFAULT_SOURCE

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long long files, failed;

/* PATH is a buffer of PATH_CAP bytes holding the directory's path, LEN bytes long. */
static void walk(char *path, size_t len, size_t cap)
{
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL) {
        fprintf(stderr, "lstat_walk: %s: %s\n", path, strerror(errno));
        failed++;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        size_t n = strlen(e->d_name);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (len + 1 + n + 1 > cap) {
            fprintf(stderr, "lstat_walk: %s/%s: path too long\n", path, e->d_name);
            failed++;
            continue;
        }
        path[len] = '/';
        memcpy(path + len + 1, e->d_name, n + 1);
        if (lstat(path, &st) != 0) {
            fprintf(stderr, "lstat_walk: %s: %s\n", path, strerror(errno));
            failed++;
        } else if (S_ISDIR(st.st_mode)) {
            walk(path, len + 1 + n, cap);
        } else if (S_ISREG(st.st_mode)) {
            files++;
        }
        path[len] = '\0';
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    static char path[1 << 16];
    int i;
    for (i = 1; i < argc; i++) {
        size_t len = strlen(argv[i]);
        while (len > 1 && argv[i][len - 1] == '/') {
            len--;
        }
        if (len + 1 > sizeof path) {
            fprintf(stderr, "lstat_walk: %s: path too long\n", argv[i]);
            return 1;
        }
        memcpy(path, argv[i], len);
        path[len] = '\0';
        walk(path, len, sizeof path);
    }
    printf("%llu\n", files);
    return failed != 0;
}
