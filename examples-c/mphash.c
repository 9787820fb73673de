/*
 * mphash: print SHA-256 sums of files and directory trees, like sha256sum, with libmultipool
 * reading every storage device at once, each with the parallelism it likes.
 *
 *   mphash [-a sha256|sha512|blake3] [-t SPEC] [-v] [--progress] [--] PATH...
 *
 * Output lines are exactly what sha256sum, sha512sum or b3sum print ("HEX  NAME"; a name with a
 * backslash or newline — and for the coreutils tools a carriage return — is escaped and its
 * line prefixed with a backslash), so `sha256sum -c` (`sha512sum -c`, `b3sum -c`) verifies them.
 * Names are printed as their bytes; b3sum itself prints names that are not UTF-8 lossily and
 * cannot check them. Lines come in completion order. Directories are walked recursively; inside them only
 * regular files are hashed and symbolic links are not followed. Errors go to stderr as
 * "mphash: PATH: reason"; the exit status is 1 if any path failed.
 */
#define _DEFAULT_SOURCE /* d_type in struct dirent */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "multipool.h"

#define BATCH 256

/* Every enqueued path, indexed by its tag, so results can be printed by name. */
struct paths {
    char **names;
    size_t count;
    size_t cap;
};

struct app {
    multipool_session *session;
    struct paths paths;
    multipool_path batch[BATCH]; /* walked but not yet enqueued: one library call per BATCH paths */
    size_t batched;
    int verbose;
    int progress;
    int escape_cr; /* coreutils escapes \r in names; b3sum does not */
    int failed;
    size_t outstanding; /* enqueued and not yet reported */
    double last_progress;
    double started;
};

static void die(const char *what, multipool_status status)
{
    fprintf(stderr, "mphash: %s: %s\n", what, multipool_status_str(status));
    exit(2);
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL) {
        fputs("mphash: out of memory\n", stderr);
        exit(2);
    }
    return q;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether NAME needs sha256sum-style escaping: a backslash, a newline, or (coreutils) a CR. */
static int needs_escape(const char *name, int escape_cr)
{
    return strpbrk(name, escape_cr ? "\\\n\r" : "\\\n") != NULL;
}

static void print_escaped(const char *name, int escape_cr)
{
    const char *p;
    for (p = name; *p != '\0'; p++) {
        if (*p == '\\') {
            fputs("\\\\", stdout);
        } else if (*p == '\n') {
            fputs("\\n", stdout);
        } else if (*p == '\r' && escape_cr) {
            fputs("\\r", stdout);
        } else {
            putchar(*p);
        }
    }
}

static void print_result(struct app *app, const multipool_result *r)
{
    static const char hex[] = "0123456789abcdef";
    const char *name = app->paths.names[r->tag];
    uint32_t i;
    if (r->status != MULTIPOOL_OK) {
        app->failed = 1;
        fprintf(stderr, "mphash: %s: %s\n", name,
                r->os_error != 0 ? strerror(r->os_error) : multipool_status_str(r->status));
    } else if (needs_escape(name, app->escape_cr)) {
        putchar('\\');
        for (i = 0; i < r->digest_len; i++) {
            putchar(hex[r->digest[i] >> 4]);
            putchar(hex[r->digest[i] & 15]);
        }
        fputs("  ", stdout);
        print_escaped(name, app->escape_cr);
        putchar('\n');
    } else {
        /* The common line, built whole and written with one call: printf("%02x") per byte
         * cost more CPU than the library spent reading small files. */
        char line[2 * sizeof r->digest + 2];
        for (i = 0; i < r->digest_len; i++) {
            line[2 * i] = hex[r->digest[i] >> 4];
            line[2 * i + 1] = hex[r->digest[i] & 15];
        }
        line[2 * i] = line[2 * i + 1] = ' ';
        fwrite(line, 1, 2 * (size_t)i + 2, stdout);
        fputs(name, stdout);
        putchar('\n');
    }
    free(app->paths.names[r->tag]);
    app->paths.names[r->tag] = NULL;
    app->outstanding--;
}

static void show_progress(struct app *app, int final)
{
    multipool_stats s = {.struct_size = sizeof s}; /* the struct size first; the library fills the rest */
    double t = now();
    double mb;
    if (!app->progress || (!final && t - app->last_progress < 0.2)) {
        return;
    }
    app->last_progress = t;
    if (multipool_session_stats(app->session, MULTIPOOL_DEVICE_NONE, &s) != MULTIPOOL_OK) {
        return;
    }
    mb = (double)s.bytes_done / 1e6;
    fprintf(stderr, "\r%llu/%llu files, %.1f/%.1f MB, %.1f MB/s   ",
            (unsigned long long)(s.files_done + s.files_failed + s.files_cancelled),
            (unsigned long long)s.files_queued, mb, (double)s.bytes_queued / 1e6,
            mb / (t - app->started > 1e-3 ? t - app->started : 1e-3));
    if (final) {
        fputc('\n', stderr);
    }
}

/* Reports every result that is ready, waiting up to timeout_ms for the first. */
static multipool_status drain(struct app *app, int32_t timeout_ms)
{
    multipool_result results[BATCH];
    size_t n = 0, i;
    multipool_status status = multipool_session_poll(app->session, results, sizeof results[0], BATCH, timeout_ms, &n);
    if (status != MULTIPOOL_OK && status != MULTIPOOL_TIMEOUT && status != MULTIPOOL_DONE) {
        die("poll", status);
    }
    for (i = 0; i < n; i++) {
        print_result(app, &results[i]);
    }
    show_progress(app, 0);
    return status;
}

/* Hands the batched paths to the library, then prints whatever is ready, so results keep
 * flowing while a big tree is walked. */
static void flush(struct app *app)
{
    multipool_status status = multipool_session_enqueue_many(app->session, app->batch, app->batched);
    if (status != MULTIPOOL_OK) {
        die("enqueue", status);
    }
    app->outstanding += app->batched;
    app->batched = 0;
    drain(app, 0);
}

/* Takes ownership of PATH (malloc'd): it is kept, for printing, until its result arrives. */
static void enqueue(struct app *app, char *path)
{
    multipool_path *entry = &app->batch[app->batched++];
    if (app->paths.count == app->paths.cap) {
        app->paths.cap = app->paths.cap ? 2 * app->paths.cap : 1024;
        app->paths.names = xrealloc(app->paths.names, app->paths.cap * sizeof(char *));
    }
    app->paths.names[app->paths.count] = path;
    entry->path = (const uint8_t *)path;
    entry->len = strlen(path);
    entry->tag = (uint64_t)app->paths.count++;
    if (app->batched == BATCH) {
        flush(app);
    }
}

static char *copy(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = xrealloc(NULL, a + (size_t)slash + b + 1);
    memcpy(p, dir, a);
    if (slash) {
        p[a] = '/';
    }
    memcpy(p + a + (size_t)slash, name, b + 1);
    return p;
}

/* Walks a directory tree without recursion (one open directory at a time), enqueueing regular
 * files; symbolic links and other special files inside the tree are skipped. */
static void walk(struct app *app, const char *root)
{
    char **stack = NULL;
    size_t depth = 0, cap = 0;
    stack = xrealloc(stack, (cap = 64) * sizeof(char *));
    stack[depth++] = join(root, "");
    while (depth > 0) {
        char *dir = stack[--depth];
        DIR *d = opendir(dir);
        struct dirent *e;
        if (d == NULL) {
            fprintf(stderr, "mphash: %s: %s\n", dir, strerror(errno));
            app->failed = 1;
            free(dir);
            continue;
        }
        for (;;) {
            char *path;
            unsigned char type;
            errno = 0; /* readdir returns NULL both at the end and on an error */
            if ((e = readdir(d)) == NULL) {
                if (errno != 0) {
                    fprintf(stderr, "mphash: %s: %s\n", dir, strerror(errno));
                    app->failed = 1;
                }
                break;
            }
            type = e->d_type;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            path = join(dir, e->d_name);
            if (type == DT_UNKNOWN) {
                /* The file system does not say what the entry is: ask, and report an entry
                 * that cannot be examined rather than pass over it in silence. */
                struct stat st;
                if (lstat(path, &st) != 0) {
                    fprintf(stderr, "mphash: %s: %s\n", path, strerror(errno));
                    app->failed = 1;
                    free(path);
                    continue;
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
            }
            if (type == DT_DIR) {
                if (depth == cap) {
                    stack = xrealloc(stack, (cap *= 2) * sizeof(char *));
                }
                stack[depth++] = path;
                continue;
            }
            if (type == DT_REG) {
                enqueue(app, path);
            } else {
                free(path);
            }
        }
        closedir(d);
        free(dir);
    }
    free(stack);
}

static void add_argument(struct app *app, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        walk(app, path);
    } else {
        enqueue(app, copy(path)); /* the library reports what is wrong with it */
    }
}

static void print_devices(struct app *app)
{
    size_t count = 0, i;
    if (multipool_session_device_count(app->session, &count) != MULTIPOOL_OK) {
        return;
    }
    for (i = 0; i < count; i++) {
        multipool_device d = {.struct_size = sizeof d};
        multipool_stats s = {.struct_size = sizeof s};
        if (multipool_session_device(app->session, (uint32_t)i, &d) != MULTIPOOL_OK ||
            multipool_session_stats(app->session, d.index, &s) != MULTIPOOL_OK) {
            continue;
        }
        fprintf(stderr,
                "device: %u %s kind=%s threads=%u source=%s reads=%u chosen=%u limit=%s%s files=%llu "
                "bytes=%llu from_cache=%llu\n",
                d.index, d.name, multipool_kind_str(d.kind), d.threads, multipool_kind_source_str(d.kind_source),
                d.reads_limit, d.reads_chosen, multipool_limit_reason_str(d.limit_reason),
                d.disk_order ? " disk-order" : "", (unsigned long long)s.files_done,
                (unsigned long long)s.bytes_done, (unsigned long long)s.files_from_cache);
    }
}

static void usage(void)
{
    fputs("usage: mphash [-a sha256|sha512|blake3] [-t SPEC] [-v] [--progress] [--] PATH...\n"
          "  -a ALGO     sha256 (default, like sha256sum), sha512 (sha512sum) or blake3 (b3sum)\n"
          "  -t SPEC     threads per device, e.g. ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4\n"
          "  -v          print the devices used, with kind, threads and reads in flight, on stderr\n"
          "  --progress  show files, bytes and MB/s on stderr while hashing\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct app app;
    multipool_options options = {0};
    multipool_status status;
    const char *spec = NULL;
    uint32_t algorithm = MULTIPOOL_ALGORITHM_SHA256;
    int i, first_path = argc;

    memset(&app, 0, sizeof app);
    app.escape_cr = 1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            first_path = i + 1;
            break;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            spec = argv[++i];
        } else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "sha256") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_SHA256;
            } else if (strcmp(argv[i], "sha512") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_SHA512;
            } else if (strcmp(argv[i], "blake3") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_BLAKE3;
                app.escape_cr = 0;
            } else {
                usage();
            }
        } else if (strcmp(argv[i], "-v") == 0) {
            app.verbose = 1;
        } else if (strcmp(argv[i], "--progress") == 0) {
            app.progress = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage();
        } else {
            first_path = i;
            break;
        }
    }
    if (first_path >= argc) {
        usage();
    }

    /* Zero means default: only the size and the fields mphash sets. */
    options.struct_size = sizeof options;
    options.algorithm = algorithm;
    if (spec != NULL) {
        options.threads_spec = (const uint8_t *)spec;
        options.threads_spec_len = strlen(spec);
    }
    if ((status = multipool_session_new(&options, &app.session)) != MULTIPOOL_OK) {
        die(spec != NULL ? spec : "session", status);
    }
    app.started = app.last_progress = now();

    for (i = first_path; i < argc; i++) {
        add_argument(&app, argv[i]);
    }
    flush(&app);
    if ((status = multipool_session_finish(app.session)) != MULTIPOOL_OK) {
        die("finish", status);
    }
    while (drain(&app, 200) != MULTIPOOL_DONE) {
    }
    show_progress(&app, 1);
    if (app.verbose) {
        print_devices(&app);
    }

    multipool_session_free(app.session);
    free(app.paths.names);
    if (fflush(stdout) != 0) {
        perror("mphash: stdout");
        return 2;
    }
    return app.failed ? 1 : 0;
}
