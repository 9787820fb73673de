/*
 * mphash: print SHA-256, SHA-512 or BLAKE3 sums of files and directory trees, like sha256sum,
 * sha512sum or b3sum, with libmultipool reading every storage device at once, each with the
 * parallelism it likes. `mphash --help` lists the options; docs/mphash.1 is the man page.
 *
 * Output lines are exactly what sha256sum, sha512sum or b3sum print ("HEX  NAME"; a name with a
 * backslash or newline — and for the coreutils tools a carriage return — is escaped and its
 * line prefixed with a backslash), so `sha256sum -c` (`sha512sum -c`, `b3sum -c`) verifies
 * them; with BLAKE3 a name that is not UTF-8 is printed as b3sum prints it, each invalid
 * sequence as U+FFFD. Lines come in completion order, or sorted by name with --sort.
 * Directories are walked recursively; inside them only regular files are hashed: symbolic
 * links, FIFOs, sockets and devices are skipped. Errors go to stderr as "mphash: PATH: reason";
 * the exit status is 1 if any path failed, 2 for a usage error.
 *
 * --record FILE keeps every answered file's identity and digest in FILE (written to a
 * temporary file renamed over FILE at the end); --since FILE hands each path's record from such
 * a file to the library (multipool_session_enqueue_records), which answers a file whose stat
 * still matches it MULTIPOOL_UNCHANGED with the stored digest, without opening it. The line
 * format is in docs/mphash.1 (RECORDS FILE).
 */
#define _DEFAULT_SOURCE /* d_type in struct dirent */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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

/* A line kept for --sort: the name it sorts by (its bytes) and the line as printed. */
struct line {
    char *name;
    char *text;
    size_t len;
};

/* A chunk event kept until its file's result says whether (and which attempt) counts. */
struct chunk {
    uint64_t offset, length;
    uint32_t attempt, digest_len;
    unsigned char digest[MULTIPOOL_MAX_DIGEST_LEN];
};

struct chunk_list {
    struct chunk *v;
    size_t n, cap;
};

/* A growable byte string. */
struct buf {
    char *p;
    size_t len, cap;
};

/* --since: the records read, by path (open addressing over `slots`, a power of two long, each
 * 0 or an index into `paths`/`records` plus one). Each path points into `text`, the records
 * file read whole; its length and hash are kept beside it, so that neither a lookup nor a
 * rebuild of the slots measures or hashes a path twice. */
struct records {
    char *text;
    const char **paths;
    size_t *lens;
    uint64_t *hashes;
    multipool_record *records;
    size_t count, cap;
    size_t *slots;
    size_t nslots;
};

/* --since: the records file read on a thread of its own while the tree is walked (reading
 * 20,000 records took 7 ms, a fifth of an unchanged pass, with the other CPU idle). */
struct loader {
    pthread_t thread;
    pthread_mutex_t lock;
    int running; /* the thread was started and not yet joined */
    int done;    /* under `lock`: the records are read (or the file was found wrong) */
    /* Why the records could not be loaded (the file cannot be read, a line is not a record, or
     * memory ran out): the loader never exits, since the main thread may be inside a library
     * call; the main thread frees the session and exits 2 with this message when it joins. */
    char error[512];
};

struct app {
    multipool_session *session;
    struct paths paths;
    multipool_path batch[BATCH]; /* walked but not yet enqueued: one library call per BATCH paths */
    size_t batched;
    size_t queued; /* with --since: the paths (by tag) handed to the library; the rest wait */
    struct loader loader;
    int verbose;
    int progress;
    int escape_cr; /* coreutils escapes \r in names; b3sum does not */
    int lossy;     /* b3sum prints a name that is not UTF-8 with U+FFFD for each bad sequence */
    int zero;      /* -z: lines end with NUL, names are not escaped */
    const char *tag; /* --tag: BSD lines "ALGO (NAME) = HEX" with this ALGO; NULL: "HEX  NAME" */
    int sort;      /* --sort: lines kept and printed sorted by name at the end */
    int chunking;  /* --chunker: the session cuts chunks, so it is polled for events */
    int chunks;    /* --chunks: each file's chunk lines after its line */
    struct chunk_list *pending; /* --chunks: each tag's chunk events until its result */
    struct line *lines;
    size_t nlines, lines_cap;
    int failed;
    uint32_t algorithm;
    const char *since_file; /* --since: the records file read into `since` */
    struct records since;
    const char *record_file; /* --record: the file renamed over at the end */
    FILE *record_out;        /* --record: its temporary file, written as results come */
    size_t records_written;
    size_t unchanged;
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

static void put(struct buf *b, const void *bytes, size_t n)
{
    if (n == 0) {
        return; /* memcpy from a NULL (an empty buf's p) is undefined even for 0 bytes */
    }
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, bytes, n);
    b->len += n;
}

/* The length of the UTF-8 sequence at S (N bytes left), or 0 if it is not valid there; then
 * *BAD is the length of the longest start of a valid sequence found (at least 1), which Rust's
 * String::from_utf8_lossy, and so b3sum, replaces with one U+FFFD. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;
    *bad = 1;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    for (i = 1; i <= need; i++) {
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
        if (i >= n || s[i] < min || s[i] > max) {
            *bad = i;
            return 0;
        }
    }
    return need + 1;
}

/* NAME as it is printed: for BLAKE3, made valid UTF-8 as b3sum does; else its bytes. */
static void printed_name(const struct app *app, const char *name, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n = strlen(name), i = 0, len, bad;
    out->len = 0;
    if (!app->lossy) {
        put(out, name, n);
        return;
    }
    while (i < n) {
        if ((len = utf8_sequence(s + i, n - i, &bad)) != 0) {
            put(out, s + i, len);
            i += len;
        } else {
            put(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i += bad;
        }
    }
}

/* Whether a printed name needs sha256sum-style escaping: a backslash, a newline, or
 * (coreutils) a carriage return. Never with -z, which prints names as they are. */
static int needs_escape(const struct app *app, const struct buf *name)
{
    size_t i;
    if (app->zero) {
        return 0;
    }
    for (i = 0; i < name->len; i++) {
        char c = name->p[i];
        if (c == '\\' || c == '\n' || (c == '\r' && app->escape_cr)) {
            return 1;
        }
    }
    return 0;
}

static void put_name(const struct app *app, const struct buf *name, int escape, struct buf *line)
{
    size_t i;
    if (!escape) {
        put(line, name->p, name->len);
        return;
    }
    for (i = 0; i < name->len; i++) {
        char c = name->p[i];
        if (c == '\\') {
            put(line, "\\\\", 2);
        } else if (c == '\n') {
            put(line, "\\n", 2);
        } else if (c == '\r' && app->escape_cr) {
            put(line, "\\r", 2);
        } else {
            put(line, &c, 1);
        }
    }
}

/* Writes LEN digest bytes in lowercase hex to OUT (room for 2 * LEN); returns how many
 * characters. */
static size_t hex_bytes(const unsigned char *bytes, uint32_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t i;
    for (i = 0; i < len; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    return 2 * (size_t)i;
}

/* Writes R's digest in lowercase hex to OUT (room for 2 * MULTIPOOL_MAX_DIGEST_LEN); returns
 * how many characters. */
static size_t hex_digest(const multipool_result *r, char *out)
{
    return hex_bytes(r->digest, r->digest_len, out);
}

/* --chunks: appends to LINE one line per chunk of R's file, "OFFSET LENGTH DIGEST" (decimal,
 * decimal, lowercase hex), the chunks of the attempt R names, in order; frees the list. Returns
 * 0 if those chunks are not R's whole file, one after the other (then nothing is appended). */
static int put_chunks(struct app *app, const multipool_result *r, struct buf *line)
{
    struct chunk_list *list = &app->pending[r->tag];
    uint64_t next = 0, count = 0;
    size_t i, start = line->len;
    int whole = 1;
    for (i = 0; i < list->n; i++) {
        const struct chunk *c = &list->v[i];
        char text[2 * 20 + 2 * MULTIPOOL_MAX_DIGEST_LEN + 4];
        int n;
        if (c->attempt != r->attempt) {
            continue; /* an earlier read of a file that was read again: not its chunks */
        }
        if (c->offset != next) {
            whole = 0;
            break;
        }
        n = snprintf(text, sizeof text, "%llu %llu ", (unsigned long long)c->offset,
                     (unsigned long long)c->length);
        n += (int)hex_bytes(c->digest, c->digest_len, text + n);
        text[n++] = app->zero ? '\0' : '\n';
        put(line, text, (size_t)n);
        next += c->length;
        count++;
    }
    free(list->v);
    memset(list, 0, sizeof *list);
    if (!whole || count != r->chunks || next != r->size) {
        line->len = start;
        return 0;
    }
    return 1;
}

static void format_line(const struct app *app, const char *name, const multipool_result *r,
                        struct buf *line)
{
    static struct buf printed;
    char digits[2 * sizeof r->digest];
    size_t i = hex_digest(r, digits);
    int escape;
    printed_name(app, name, &printed);
    escape = needs_escape(app, &printed);
    line->len = 0;
    if (escape) {
        put(line, "\\", 1);
    }
    if (app->tag != NULL) { /* BSD style: SHA256 (NAME) = HEX */
        put(line, app->tag, strlen(app->tag));
        put(line, " (", 2);
        put_name(app, &printed, escape, line);
        put(line, ") = ", 4);
        put(line, digits, i);
    } else {
        put(line, digits, i);
        put(line, "  ", 2);
        put_name(app, &printed, escape, line);
    }
    put(line, app->zero ? "" : "\n", 1); /* "" is one NUL byte */
}

static const char *algorithm_name(uint32_t algorithm)
{
    return algorithm == MULTIPOOL_ALGORITHM_SHA512   ? "sha512"
           : algorithm == MULTIPOOL_ALGORITHM_BLAKE3 ? "blake3"
                                                     : "sha256";
}

/* --record: one line for R, the result of NAME (its raw bytes, escaped: no other change). */
static void write_record(struct app *app, const char *name, const multipool_result *r)
{
    static struct buf line;
    struct app plain; /* put_name's rules with \r escaped too: any name survives a line */
    struct buf raw = {(char *)name, strlen(name), 0};
    char text[6 * 24 + 2 * MULTIPOOL_MAX_DIGEST_LEN + 16];
    int n;
    if (!r->has_identity || r->digest_len == 0 || r->digest_len > MULTIPOOL_MAX_DIGEST_LEN) {
        return;
    }
    memset(&plain, 0, sizeof plain);
    plain.escape_cr = 1;
    n = snprintf(text, sizeof text, "%s\t%llu\t%lld\t%lld\t%llu\t%llu\t", algorithm_name(app->algorithm),
                 (unsigned long long)r->size, (long long)r->mtime_ns, (long long)r->ctime_ns,
                 (unsigned long long)r->inode, (unsigned long long)r->device_id);
    n += (int)hex_digest(r, text + n);
    text[n++] = '\t';
    line.len = 0;
    put(&line, text, (size_t)n);
    put_name(&plain, &raw, 1, &line);
    put(&line, "\n", 1);
    fwrite(line.p, 1, line.len, app->record_out);
    app->records_written++;
}

static void print_result(struct app *app, const multipool_result *r)
{
    static struct buf line, chunk_lines;
    char *name = app->paths.names[r->tag];
    /* An unchanged file has its line too, with the digest its record kept. */
    int ok = r->status == MULTIPOOL_OK || r->status == MULTIPOOL_UNCHANGED;
    app->unchanged += r->status == MULTIPOOL_UNCHANGED;
    if (ok && app->record_out != NULL) {
        write_record(app, name, r);
    }
    chunk_lines.len = 0;
    if (ok && app->chunks && !put_chunks(app, r, &chunk_lines)) {
        /* Never seen: the library promises each OK result its chunks, in order, before it. */
        fprintf(stderr, "mphash: %s: the chunk events do not make up the file\n", name);
        app->failed = 1;
        free(name);
        app->paths.names[r->tag] = NULL;
        app->outstanding--;
        return;
    }
    if (app->chunks && !ok) {
        /* The chunks of a file that failed are not its chunks: dropped. */
        free(app->pending[r->tag].v);
        memset(&app->pending[r->tag], 0, sizeof app->pending[r->tag]);
    }
    if (ok && !app->sort && !app->lossy && !app->zero && app->tag == NULL &&
        strpbrk(name, "\\\n\r") == NULL) {
        /* The common line, built whole and written with one call: printf("%02x") per byte, or
         * assembling the line piece by piece, cost more CPU than the library spent reading small
         * files. */
        char digits[2 * sizeof r->digest + 2];
        size_t i = hex_digest(r, digits);
        digits[i] = digits[i + 1] = ' ';
        fwrite(digits, 1, i + 2, stdout);
        fputs(name, stdout);
        putchar('\n');
        if (chunk_lines.len > 0) { /* never fwrite from NULL, even 0 bytes */
            fwrite(chunk_lines.p, 1, chunk_lines.len, stdout);
        }
        free(name);
        app->paths.names[r->tag] = NULL;
        app->outstanding--;
        return;
    }
    if (!ok) {
        app->failed = 1;
        fprintf(stderr, "mphash: %s: %s\n", name,
                r->os_error != 0 ? strerror(r->os_error) : multipool_status_str(r->status));
        free(name);
    } else if (app->sort) {
        struct line *kept;
        if (app->nlines == app->lines_cap) {
            app->lines_cap = app->lines_cap ? 2 * app->lines_cap : 1024;
            app->lines = xrealloc(app->lines, app->lines_cap * sizeof *app->lines);
        }
        kept = &app->lines[app->nlines++];
        format_line(app, name, r, &line);
        put(&line, chunk_lines.p, chunk_lines.len); /* a file's chunk lines stay after its line */
        kept->name = name; /* kept: it is the sort key */
        kept->text = memcpy(xrealloc(NULL, line.len), line.p, line.len);
        kept->len = line.len;
    } else {
        format_line(app, name, r, &line);
        put(&line, chunk_lines.p, chunk_lines.len);
        fwrite(line.p, 1, line.len, stdout);
        free(name);
    }
    app->paths.names[r->tag] = NULL;
    app->outstanding--;
}

/* --chunks: keeps a chunk event until its file's result comes (files' events interleave). */
static void keep_chunk(struct app *app, const multipool_event *e)
{
    struct chunk_list *list = &app->pending[e->tag];
    struct chunk *c;
    if (list->n == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 16;
        list->v = xrealloc(list->v, list->cap * sizeof *list->v);
    }
    c = &list->v[list->n++];
    c->offset = e->offset;
    c->length = e->length;
    c->attempt = e->attempt;
    c->digest_len = e->digest_len <= sizeof c->digest ? e->digest_len : (uint32_t)sizeof c->digest;
    memcpy(c->digest, e->digest, c->digest_len);
}

static int by_name(const void *a, const void *b)
{
    /* strcmp compares bytes as unsigned char: byte order, whatever the locale. */
    return strcmp(((const struct line *)a)->name, ((const struct line *)b)->name);
}

/* --sort: every line, sorted by name, at the end. */
static void print_sorted(struct app *app)
{
    size_t i;
    if (app->nlines > 0) {
        qsort(app->lines, app->nlines, sizeof *app->lines, by_name);
    }
    for (i = 0; i < app->nlines; i++) {
        fwrite(app->lines[i].text, 1, app->lines[i].len, stdout);
        free(app->lines[i].text);
        free(app->lines[i].name);
    }
    free(app->lines);
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
    fprintf(stderr, "\r%llu/%llu files, ",
            (unsigned long long)(s.files_done + s.files_failed + s.files_cancelled + s.files_unchanged),
            (unsigned long long)s.files_queued);
    if (app->since_file != NULL) {
        fprintf(stderr, "%llu unchanged, ", (unsigned long long)s.files_unchanged);
    }
    fprintf(stderr, "%.1f/%.1f MB, %.1f MB/s   ", mb, (double)s.bytes_queued / 1e6,
            mb / (t - app->started > 1e-3 ? t - app->started : 1e-3));
    if (final) {
        fputc('\n', stderr);
    }
}

/* Reports every result that is ready, waiting up to timeout_ms for the first. */
static multipool_status drain(struct app *app, int32_t timeout_ms)
{
    multipool_result results[BATCH];
    static multipool_event events[BATCH];
    size_t n = 0, i;
    multipool_status status;
    if (app->chunking) {
        /* A session that cuts chunks delivers them, and its results, as events. */
        status = multipool_session_poll_events(app->session, events, sizeof events[0], BATCH, timeout_ms, &n);
    } else {
        status = multipool_session_poll(app->session, results, sizeof results[0], BATCH, timeout_ms, &n);
    }
    if (status != MULTIPOOL_OK && status != MULTIPOOL_TIMEOUT && status != MULTIPOOL_DONE) {
        die("poll", status);
    }
    for (i = 0; i < n; i++) {
        if (!app->chunking) {
            print_result(app, &results[i]);
        } else if (events[i].kind == MULTIPOOL_EVENT_RESULT) {
            print_result(app, &events[i].result);
        } else if (events[i].kind == MULTIPOOL_EVENT_CHUNK && app->chunks) {
            keep_chunk(app, &events[i]);
        } /* without --chunks, chunks are not printed; a kind newer than this program is skipped */
    }
    show_progress(app, 0);
    return status;
}

static const multipool_record *find_record(const struct records *t, const char *path, size_t len);
static int records_ready(struct app *app, int wait);

/* --since: hands the walked paths not yet queued to the library, each with its record if the
 * records file has one (else flags 0: hashed), BATCH paths a call, printing whatever is ready
 * between calls. Until the records are read (see struct loader), the paths wait, unless WAIT. */
static void flush_since(struct app *app, int wait)
{
    static struct buf bytes;
    static size_t lengths[BATCH];
    static uint64_t tags[BATCH];
    static multipool_record records[BATCH];
    static const multipool_record none;
    if (!records_ready(app, wait)) {
        return;
    }
    while (app->queued < app->paths.count) {
        size_t n = app->paths.count - app->queued < BATCH ? app->paths.count - app->queued : BATCH, i;
        multipool_status status;
        bytes.len = 0;
        for (i = 0; i < n; i++) {
            const char *path = app->paths.names[app->queued + i];
            size_t len = strlen(path);
            const multipool_record *found = find_record(&app->since, path, len);
            put(&bytes, path, len);
            lengths[i] = len;
            tags[i] = (uint64_t)(app->queued + i);
            records[i] = found != NULL ? *found : none;
        }
        status = multipool_session_enqueue_records(app->session, (const uint8_t *)bytes.p, bytes.len, lengths, tags,
                                                   records, sizeof records[0], n);
        if (status != MULTIPOOL_OK) {
            die("enqueue", status);
        }
        app->outstanding += n;
        app->queued += n;
        drain(app, 0);
    }
}

/* Hands the batched paths to the library, then prints whatever is ready, so results keep
 * flowing while a big tree is walked. WAIT: every path, even if --since's records are still
 * being read. */
static void flush(struct app *app, int wait)
{
    multipool_status status;
    if (app->since_file != NULL) {
        flush_since(app, wait);
        return;
    }
    status = multipool_session_enqueue_many(app->session, app->batch, app->batched);
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
    multipool_path *entry;
    if (app->paths.count == app->paths.cap) {
        size_t old = app->paths.cap;
        app->paths.cap = app->paths.cap ? 2 * app->paths.cap : 1024;
        app->paths.names = xrealloc(app->paths.names, app->paths.cap * sizeof(char *));
        if (app->chunks) {
            app->pending = xrealloc(app->pending, app->paths.cap * sizeof *app->pending);
            memset(app->pending + old, 0, (app->paths.cap - old) * sizeof *app->pending);
        }
    }
    app->paths.names[app->paths.count] = path;
    if (app->since_file != NULL) {
        /* Its tag is its index; its record is found when it is handed over (flush_since). */
        if (++app->paths.count % BATCH == 0) {
            flush(app, 0);
        }
        return;
    }
    entry = &app->batch[app->batched++];
    entry->path = (const uint8_t *)path;
    entry->len = strlen(path);
    entry->tag = (uint64_t)app->paths.count++;
    if (app->batched == BATCH) {
        flush(app, 0);
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

/* In parts: C99 promises string literals of 4095 bytes, no more. */
static const char *const HELP[] = {
    "usage: mphash [OPTION]... [--] PATH...\n"
    "Print SHA-256 (or SHA-512, BLAKE3) sums of files and directory trees, as sha256sum\n"
    "(sha512sum, b3sum) prints them, reading every storage device at once.\n"
    "\n"
    "  -a, --algorithm ALGO   sha256 (default, like sha256sum), sha512 (sha512sum) or blake3\n"
    "                         (b3sum)\n"
    "  -t, --threads SPEC     threads per device: comma-separated SELECTOR:VALUE rules, SELECTOR\n"
    "                         a kind (ssd, hdd, ram, network, removable, unknown), dev:NAME or\n"
    "                         path:PATH, VALUE a count from 1 to 1024 or a kind to treat the\n"
    "                         device as; e.g. ssd:8,hdd:1,dev:sdb:2,path:/mnt/nas:4\n"
    "      --tag              BSD-style lines: SHA256 (NAME) = HEX\n"
    "  -z, --zero             end each line with NUL, not newline, and do not escape names\n"
    "      --sort             print the lines sorted by name (byte order) once all are done;\n"
    "                         keeps every line in memory until then (about twice the name's\n"
    "                         length plus 120 bytes a file)\n"
    "      --files-from FILE  also hash the names in FILE, one a line ('-': standard input)\n"
    "      --files0-from FILE also hash the names in FILE, NUL-separated ('-': standard input)\n"
    "  -c, --check            read sums from each PATH ('-' or none: standard input), as made\n"
    "                         by mphash, sha256sum, sha512sum, b3sum or --tag, and check them,\n"
    "                         every file through the library; prints NAME: OK or FAILED in\n"
    "                         listing order. An untagged line's algorithm is -a's. With it:\n"
    "      --quiet            print no OK line\n"
    "      --status           print nothing; the exit status says it all\n"
    "      --strict           exit 1 for improperly formatted lines too\n"
    "  -w, --warn             warn about each improperly formatted line\n"
    "      --ignore-missing   no line and no failure for a listed file that does not exist\n"
    "  -v, --verbose          print the devices used, with kind, threads and reads in flight,\n"
    "                         on standard error\n"
    "      --progress         show files, bytes and MB/s on standard error while hashing, when\n"
    "                         it is a terminal\n",
    "      --chunker SPEC     also cut each file into chunks from the same read (for backups):\n"
    "                         fastcdc:MIN:AVG:MAX[:LEVEL]  FastCDC 2020 as the fastcdc crate\n"
    "                           cuts (MIN 64 to 1M, AVG 256 to 4M, MAX 1K to 16M, all even,\n"
    "                           MIN <= AVG <= MAX), normalization LEVEL 0 to 3 (default 1);\n"
    "                         restic[:POLY]  restic's chunker (512K min, 8M max) with POLY, the\n"
    "                           repository's polynomial in hex (with or without 0x, either\n"
    "                           case); default restic's test polynomial 0x3DA3358B4DC173;\n"
    "                         fixed:SIZE  chunks of SIZE bytes (1 to 16M), the last shorter.\n"
    "                         Sizes are in bytes; K and M mean KiB and MiB (64K, 1M).\n"
    "                         The file lines stay as they are without --chunks\n"
    "      --chunks           after each file's line, one line per chunk: OFFSET LENGTH DIGEST\n"
    "                         (decimal, decimal, lowercase hex; none for an empty file or\n"
    "                         one that failed)\n"
    "      --chunk-digest ALGO  sha256 or blake3: the chunks' digest (default blake3 with\n"
    "                         -a blake3, else sha256)\n"
    "      --chunk-key FILE   FILE holds exactly 32 bytes: chunk digests are BLAKE3 keyed with\n"
    "                         them, and FastCDC cuts with the Gear table derived from them\n"
    "      --help             print this help and exit\n"
    "      --version          print the version and exit\n",
    "      --record FILE      also write FILE: a record of every file answered (its size,\n"
    "                         mtime, ctime, inode, device, algorithm and digest), one a line,\n"
    "                         to a temporary file renamed over FILE at the end\n"
    "      --since FILE       read the records in FILE (made by --record): a file whose stat\n"
    "                         still matches its record is not opened, and its line has the\n"
    "                         digest the record kept; -v counts such files (unchanged=).\n"
    "                         Records are keyed by path as given: use the same PATHs and\n"
    "                         directory. --since A --record A is the nightly loop\n"
    "      --policy POLICY    what a record must match (with --since): restic (mtime, ctime,\n"
    "                         size and inode; the default), borg (ctime, size, inode),\n"
    "                         mtime-size, or fields joined by commas from mtime, ctime, size,\n"
    "                         inode, device. A file changed within the last second is read\n"
    "\n"
    "A directory is walked recursively; inside it only regular files are hashed: symbolic\n"
    "links are not followed, and links, FIFOs, sockets and devices are skipped without a line\n"
    "(reading them could block or never end). A PATH named on the command line or in a FILE is\n"
    "hashed whatever it is, and gets an error line if it is no regular file.\n"
    "Lines come in the order files are done, unless --sort.\n"
    "Exit status: 0 if every file was hashed, 1 if any failed, 2 for a usage error.\n",
    NULL};

/* A usage error: what was wrong, then where to look; exit status 2, as the coreutils tools. */
static void usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "mphash: %s '%s'\nTry 'mphash --help' for more information.\n", what, arg);
    exit(2);
}

/* A usage error said in a sentence; exit status 2. */
static void usage_message(const char *message)
{
    fprintf(stderr, "mphash: %s\nTry 'mphash --help' for more information.\n", message);
    exit(2);
}

/* Hashes the names read from FILE ('-': standard input), separated by SEP ('\n' or '\0'). */
static void add_names_from(struct app *app, const char *file, int sep)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    char *name = NULL;
    size_t cap = 0;
    ssize_t n;
    if (f == NULL) {
        fprintf(stderr, "mphash: %s: %s\n", file, strerror(errno));
        exit(2);
    }
    while ((n = getdelim(&name, &cap, sep, f)) > 0) {
        if (name[n - 1] == (char)sep) {
            name[--n] = '\0';
        }
        if (n == 0) {
            continue; /* an empty line names nothing */
        }
        if ((size_t)n != strlen(name)) {
            /* A NUL inside a line: no path holds one. */
            fprintf(stderr, "mphash: %s: a name holds a NUL byte (use --files0-from)\n", file);
            app->failed = 1;
            continue;
        }
        add_argument(app, name);
    }
    if (ferror(f)) {
        fprintf(stderr, "mphash: %s: %s\n", file, strerror(errno));
        app->failed = 1;
    }
    free(name);
    if (f != stdin) {
        fclose(f);
    }
}

/* ---- --check: verify listings made by mphash, sha256sum, sha512sum, b3sum (or --tag) ---- */

struct check_opts {
    uint32_t algorithm; /* of untagged lines: -a's */
    int quiet, status, strict, warn, ignore_missing;
    const char *threads_spec;
};

struct entry {
    char *name;
    unsigned char want[MULTIPOOL_MAX_DIGEST_LEN];
    uint32_t algorithm;
    multipool_status status;
    int os_error;
    int same; /* the digest computed equals the one listed */
};

static uint32_t digest_len_of(uint32_t algorithm)
{
    return algorithm == MULTIPOOL_ALGORITHM_SHA512 ? 64 : 32;
}

/* Each byte's value as a hex digit, or -1: a table, not comparisons, since the branches of
 * random digits mispredicted half the time and reading 20,000 records' digests took 6 ms. */
static signed char hex_values[256];

static void init_hex_values(void)
{
    int c;
    for (c = 0; c < 256; c++) {
        hex_values[c] = (signed char)(c >= '0' && c <= '9'   ? c - '0'
                                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                             : -1);
    }
}

static int hex_value(char c)
{
    if (hex_values['1'] != 1) {
        init_hex_values();
    }
    return hex_values[(unsigned char)c];
}

/* Reads LEN hex digits at S into OUT; whether they all were hex digits. */
static int parse_hex(const char *s, size_t len, unsigned char *out)
{
    size_t i;
    int bad = 0;
    if (hex_values['1'] != 1) {
        init_hex_values();
    }
    for (i = 0; i < len; i += 2) {
        int hi = hex_values[(unsigned char)s[i]], lo = hex_values[(unsigned char)s[i + 1]];
        bad |= hi | lo; /* negative if either is not a digit: one test at the end */
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return bad >= 0;
}

/* Undoes sha256sum's escaping of a name in place (\\ and \n, and \r); whether it was valid. */
static int unescape(char *name, size_t *len)
{
    size_t i, o = 0;
    for (i = 0; i < *len; i++) {
        if (name[i] != '\\') {
            name[o++] = name[i];
            continue;
        }
        if (++i == *len) {
            return 0;
        }
        switch (name[i]) {
        case '\\': name[o++] = '\\'; break;
        case 'n': name[o++] = '\n'; break;
        case 'r': name[o++] = '\r'; break;
        default: return 0;
        }
    }
    *len = o;
    name[o] = '\0';
    return 1;
}

/* Parses one listing line (without its newline) into E: "HEX  NAME", "HEX *NAME" or
 * "ALGO (NAME) = HEX", any of them after a backslash that says the name is escaped. Whether the
 * line is properly formatted. */
static int parse_line(char *line, size_t len, uint32_t algorithm, struct entry *e)
{
    static const struct {
        const char *tag;
        uint32_t algorithm;
    } tags[] = {{"SHA256 (", MULTIPOOL_ALGORITHM_SHA256},
                {"SHA512 (", MULTIPOOL_ALGORITHM_SHA512},
                {"BLAKE3 (", MULTIPOOL_ALGORITHM_BLAKE3}};
    int escaped = len > 0 && line[0] == '\\';
    size_t i, hex_len, name_len;
    char *name = NULL, *hex = NULL;
    if (escaped) {
        line++;
        len--;
    }
    for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        size_t t = strlen(tags[i].tag);
        if (len > t && memcmp(line, tags[i].tag, t) == 0) {
            /* The name runs to the last ") = " of the line. */
            char *end = NULL, *p;
            for (p = line + t; p + 4 <= line + len; p++) {
                if (memcmp(p, ") = ", 4) == 0) {
                    end = p;
                }
            }
            if (end == NULL) {
                return 0;
            }
            algorithm = tags[i].algorithm;
            name = line + t;
            name_len = (size_t)(end - name);
            hex = end + 4;
            hex_len = (size_t)(line + len - hex);
            break;
        }
    }
    if (name == NULL) {
        for (hex_len = 0; hex_len < len && hex_value(line[hex_len]) >= 0; hex_len++) {
        }
        if (hex_len + 2 > len || line[hex_len] != ' ' || (line[hex_len + 1] != ' ' && line[hex_len + 1] != '*')) {
            return 0;
        }
        hex = line;
        name = line + hex_len + 2;
        name_len = len - hex_len - 2;
    }
    if (hex_len != 2 * (size_t)digest_len_of(algorithm) || name_len == 0 || !parse_hex(hex, hex_len, e->want)) {
        return 0;
    }
    name[name_len] = '\0'; /* the line is ours: the name ends here */
    if (memchr(name, '\0', name_len) != NULL || (escaped && !unescape(name, &name_len))) {
        return 0;
    }
    e->name = copy(name);
    e->algorithm = algorithm;
    return 1;
}

/* Prints NAME as sha256sum -c does: escaped, after a backslash, if it holds a newline or a
 * carriage return (a backslash alone does not make it escape a name in this mode). */
static void print_check_line(const char *name, const char *verdict)
{
    static struct buf line;
    struct app plain;
    struct buf printed = {(char *)name, strlen(name), 0};
    int escape = strpbrk(name, "\n\r") != NULL;
    memset(&plain, 0, sizeof plain);
    plain.escape_cr = 1;
    line.len = 0;
    if (escape) {
        put(&line, "\\", 1);
    }
    put_name(&plain, &printed, escape, &line);
    put(&line, verdict, strlen(verdict));
    fwrite(line.p, 1, line.len, stdout);
}

/* Hashes every entry of ALGORITHM through one session: the library's per-device scheduling. */
static void hash_entries(struct entry *entries, size_t count, uint32_t algorithm, const char *spec)
{
    multipool_options options = {0};
    multipool_session *session;
    multipool_result results[BATCH];
    multipool_status status;
    size_t i, n;
    options.struct_size = sizeof options;
    options.algorithm = algorithm;
    if (spec != NULL) {
        options.threads_spec = (const uint8_t *)spec;
        options.threads_spec_len = strlen(spec);
    }
    if ((status = multipool_session_new(&options, &session)) != MULTIPOOL_OK) {
        die(spec != NULL ? spec : "session", status);
    }
    for (i = 0; i < count; i++) {
        if (entries[i].algorithm == algorithm) {
            status = multipool_session_enqueue(session, (const uint8_t *)entries[i].name, strlen(entries[i].name), i);
            if (status != MULTIPOOL_OK) {
                die("enqueue", status);
            }
        }
    }
    multipool_session_finish(session);
    while ((status = multipool_session_poll(session, results, sizeof results[0], BATCH, -1, &n)) == MULTIPOOL_OK) {
        for (i = 0; i < n; i++) {
            struct entry *e = &entries[results[i].tag];
            e->status = results[i].status;
            e->os_error = results[i].os_error;
            e->same = results[i].status == MULTIPOOL_OK && results[i].digest_len == digest_len_of(algorithm) &&
                      memcmp(results[i].digest, e->want, results[i].digest_len) == 0;
        }
    }
    if (status != MULTIPOOL_DONE) {
        die("poll", status);
    }
    multipool_session_free(session);
}

/* Checks one listing; whether everything in it checked out. */
static int check_listing(const char *listing, const struct check_opts *o)
{
    static const uint32_t algorithms[] = {MULTIPOOL_ALGORITHM_SHA256, MULTIPOOL_ALGORITHM_SHA512,
                                          MULTIPOOL_ALGORITHM_BLAKE3};
    FILE *f = strcmp(listing, "-") == 0 ? stdin : fopen(listing, "r");
    const char *shown = strcmp(listing, "-") == 0 ? "standard input" : listing;
    struct entry *entries = NULL;
    size_t count = 0, cap = 0, line_no = 0, malformed = 0, unread = 0, mismatched = 0, verified = 0, i, k;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int ok = 1;
    if (f == NULL) {
        fprintf(stderr, "mphash: %s: %s\n", shown, strerror(errno));
        return 0;
    }
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        struct entry e;
        line_no++;
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        memset(&e, 0, sizeof e);
        if (!parse_line(line, (size_t)len, o->algorithm, &e)) {
            malformed++;
            if (o->warn) {
                fprintf(stderr, "mphash: %s: %zu: improperly formatted checksum line\n", shown, line_no);
            }
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 256;
            entries = xrealloc(entries, cap * sizeof *entries);
        }
        entries[count++] = e;
    }
    free(line);
    if (ferror(f)) {
        fprintf(stderr, "mphash: %s: %s\n", shown, strerror(errno));
        ok = 0;
    }
    if (f != stdin) {
        fclose(f);
    }
    if (count == 0) {
        fprintf(stderr, "mphash: %s: no properly formatted checksum lines found\n", shown);
        return 0;
    }
    for (k = 0; k < sizeof algorithms / sizeof algorithms[0]; k++) {
        for (i = 0; i < count && entries[i].algorithm != algorithms[k]; i++) {
        }
        if (i < count) {
            hash_entries(entries, count, algorithms[k], o->threads_spec);
        }
    }
    /* In listing order, as sha256sum -c. */
    for (i = 0; i < count; i++) {
        struct entry *e = &entries[i];
        if (e->status != MULTIPOOL_OK) {
            if (o->ignore_missing && e->status == MULTIPOOL_ERR_NOT_FOUND) {
                free(e->name);
                continue;
            }
            fprintf(stderr, "mphash: %s: %s\n", e->name,
                    e->os_error != 0 ? strerror(e->os_error) : multipool_status_str(e->status));
            unread++;
            if (!o->status) {
                print_check_line(e->name, ": FAILED open or read\n");
            }
        } else if (!e->same) {
            mismatched++;
            if (!o->status) {
                print_check_line(e->name, ": FAILED\n");
            }
        } else {
            verified++;
            if (!o->status && !o->quiet) {
                print_check_line(e->name, ": OK\n");
            }
        }
        free(e->name);
    }
    free(entries);
    if (!o->status) {
        if (malformed > 0) {
            fprintf(stderr, "mphash: WARNING: %zu line%s improperly formatted\n", malformed,
                    malformed == 1 ? " is" : "s are");
        }
        if (unread > 0) {
            fprintf(stderr, "mphash: WARNING: %zu listed file%s could not be read\n", unread,
                    unread == 1 ? "" : "s");
        }
        if (mismatched > 0) {
            fprintf(stderr, "mphash: WARNING: %zu computed checksum%s did NOT match\n", mismatched,
                    mismatched == 1 ? "" : "s");
        }
    }
    if (o->ignore_missing && verified == 0 && unread == 0 && mismatched == 0) {
        fprintf(stderr, "mphash: %s: no file was verified\n", shown);
        return 0;
    }
    return ok && unread == 0 && mismatched == 0 && !(o->strict && malformed > 0);
}

/* ---- --chunker, --chunk-digest, --chunk-key ---- */

/* Reads a size at S (up to END): decimal digits, then K (KiB) or M (MiB) or nothing; at least
 * 1 byte. Whether it is one. */
static int parse_size(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0, unit = 1;
    const char *p = s;
    if (end > s && (end[-1] == 'K' || end[-1] == 'M')) {
        unit = end[-1] == 'K' ? 1024 : 1024 * 1024;
        end--;
    }
    if (p == end) {
        return 0;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v == 0 || v > UINT64_MAX / unit) {
        return 0;
    }
    *out = v * unit;
    return 1;
}

/* Reads restic's polynomial at S: hex digits, with or without 0x, either case, not zero. */
static int parse_polynomial(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        int d = hex_value(*s);
        if (d < 0 || v >> 60 != 0) {
            return 0;
        }
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return v != 0; /* 0 would mean the library's default: no polynomial names it */
}

/* An invalid --chunker: what is wrong, what is valid; exit status 2, as other usage errors. */
static void chunker_error(const char *spec, const char *why)
{
    fprintf(stderr, "mphash: invalid chunker '%s': %s\nTry 'mphash --help' for more information.\n", spec,
            why);
    exit(2);
}

static const char FASTCDC_RULE[] =
    "expected fastcdc:MIN:AVG:MAX[:LEVEL], sizes in bytes with an optional K (KiB) or M (MiB), MIN 64 "
    "to 1M, AVG 256 to 4M, MAX 1K to 16M, all even, MIN <= AVG <= MAX, LEVEL 0 to 3 (default 1)";
static const char RESTIC_RULE[] =
    "expected restic or restic:POLY, POLY in hex (with or without 0x), an irreducible polynomial of "
    "degree 53 such as restic's test polynomial 0x3DA3358B4DC173";
static const char FIXED_RULE[] = "expected fixed:SIZE, SIZE in bytes with an optional K (KiB) or M (MiB), 1 to 16M";

/* Sets the chunker fields of O from a --chunker SPEC, or exits with a usage error. */
static void parse_chunker(const char *spec, multipool_options *o)
{
    const char *fields[6], *p;
    size_t n = 0, len[6], i;
    uint64_t sizes[3];
    for (p = spec, fields[0] = spec;; p++) { /* the fields between colons */
        if (*p == ':' || *p == '\0') {
            len[n] = (size_t)(p - fields[n]);
            n++;
            if (*p == '\0' || n == sizeof fields / sizeof fields[0]) {
                break;
            }
            fields[n] = p + 1;
        }
    }
#define FIELD_IS(k, word) (len[k] == strlen(word) && strncmp(fields[k], word, len[k]) == 0)
    if (FIELD_IS(0, "fastcdc")) {
        if (n != 4 && n != 5) {
            chunker_error(spec, FASTCDC_RULE);
        }
        for (i = 0; i < 3; i++) {
            if (!parse_size(fields[i + 1], fields[i + 1] + len[i + 1], &sizes[i])) {
                chunker_error(spec, FASTCDC_RULE);
            }
        }
        o->chunker = MULTIPOOL_CHUNKER_FASTCDC;
        o->chunk_min = sizes[0];
        o->chunk_avg = sizes[1];
        o->chunk_max = sizes[2];
        o->chunk_level = 1 + 1; /* the level plus one: level 1, the default */
        if (n == 5) {
            if (len[4] != 1 || fields[4][0] < '0' || fields[4][0] > '3') {
                chunker_error(spec, FASTCDC_RULE);
            }
            o->chunk_level = (uint32_t)(fields[4][0] - '0') + 1;
        }
    } else if (FIELD_IS(0, "restic")) {
        o->chunker = MULTIPOOL_CHUNKER_RESTIC;
        o->chunk_polynomial = 0x3DA3358B4DC173; /* restic's test polynomial */
        if (n > 2 || (n == 2 && !parse_polynomial(fields[1], &o->chunk_polynomial))) {
            chunker_error(spec, RESTIC_RULE);
        }
    } else if (FIELD_IS(0, "fixed")) {
        if (n != 2 || !parse_size(fields[1], fields[1] + len[1], &sizes[0])) {
            chunker_error(spec, FIXED_RULE);
        }
        o->chunker = MULTIPOOL_CHUNKER_FIXED;
        o->chunk_avg = sizes[0];
    } else {
        chunker_error(spec, "expected fastcdc:MIN:AVG:MAX[:LEVEL], restic[:POLY] or fixed:SIZE");
    }
#undef FIELD_IS
}

/* Reads the 32-byte key in FILE into KEY, or exits with a usage error. */
static void read_chunk_key(const char *file, uint8_t key[32])
{
    unsigned char bytes[33];
    size_t got = 0, n;
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "mphash: --chunk-key %s: %s\n", file, strerror(errno));
        exit(2);
    }
    while (got < sizeof bytes && (n = fread(bytes + got, 1, sizeof bytes - got, f)) > 0) {
        got += n;
    }
    if (ferror(f)) {
        fprintf(stderr, "mphash: --chunk-key %s: %s\n", file, strerror(errno));
        exit(2);
    }
    fclose(f);
    if (got != 32) {
        fprintf(stderr, "mphash: --chunk-key %s: a key is exactly 32 bytes, and this file has %s%zu\n", file,
                got > 32 ? "more than " : "", got > 32 ? (size_t)32 : got);
        exit(2);
    }
    memcpy(key, bytes, 32);
}

/* ---- --since, --record, --policy: records of files answered, for the next run ---- */

static uint64_t hash_path(const char *path, size_t len)
{
    /* Eight bytes a step (FNV-1a's byte steps were a fifth of loading the records), mixed so
     * that the low bits, which pick the slot, depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
    size_t i;
    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, path + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, path + i, len - i);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
}

/* Gives T's arrays room for CAP records; 0 if memory ran out (T is then as it was, with some
 * arrays perhaps already larger). Runs on the loader's thread: reports, never exits. */
static int grow_records(struct records *t, size_t cap)
{
    const char **paths;
    size_t *lens;
    uint64_t *hashes;
    multipool_record *records;
    if (cap > SIZE_MAX / sizeof *records) {
        return 0;
    }
    if ((paths = realloc(t->paths, cap * sizeof *paths)) == NULL) {
        return 0;
    }
    t->paths = paths;
    if ((lens = realloc(t->lens, cap * sizeof *lens)) == NULL) {
        return 0;
    }
    t->lens = lens;
    if ((hashes = realloc(t->hashes, cap * sizeof *hashes)) == NULL) {
        return 0;
    }
    t->hashes = hashes;
    if ((records = realloc(t->records, cap * sizeof *records)) == NULL) {
        return 0;
    }
    t->records = records;
    t->cap = cap;
    return 1;
}

/* Gives T empty slots, NSLOTS of them (a power of two); 0 if memory ran out (T unchanged). */
static int new_slots(struct records *t, size_t nslots)
{
    size_t *slots;
    if (nslots > SIZE_MAX / sizeof *slots || (slots = calloc(nslots, sizeof *slots)) == NULL) {
        return 0;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 1;
}

/* Room for N records, and slots for them at most half full: a table never rebuilt while the
 * records file is read (its lines counted first), nor its arrays moved. 0 if memory ran out. */
static int reserve_records(struct records *t, size_t n)
{
    size_t slots = 2048;
    while (slots < 2 * n && slots <= SIZE_MAX / 4) {
        slots *= 2;
    }
    return slots >= 2 * n && grow_records(t, n > 0 ? n : 1) && new_slots(t, slots);
}

static const multipool_record *find_record(const struct records *t, const char *path, size_t len)
{
    size_t mask = t->nslots - 1, i;
    uint64_t h;
    if (t->nslots == 0) {
        return NULL;
    }
    h = hash_path(path, len);
    for (i = (size_t)h & mask; t->slots[i] != 0; i = (i + 1) & mask) {
        size_t k = t->slots[i] - 1;
        if (t->hashes[k] == h && t->lens[k] == len && memcmp(t->paths[k], path, len) == 0) {
            return &t->records[k];
        }
    }
    return NULL;
}

/* Places entry K (its path already in t->paths) in the slots; a path seen before takes the
 * later record. */
static void place_record(struct records *t, size_t k)
{
    size_t mask = t->nslots - 1, len = t->lens[k], i;
    for (i = (size_t)t->hashes[k] & mask; t->slots[i] != 0; i = (i + 1) & mask) {
        size_t j = t->slots[i] - 1;
        if (t->hashes[j] == t->hashes[k] && t->lens[j] == len && memcmp(t->paths[j], t->paths[k], len) == 0) {
            t->slots[i] = k + 1;
            return;
        }
    }
    t->slots[i] = k + 1;
}

/* Adds PATH (LEN bytes, NUL-terminated, kept in t->text) with its record R; 0 if memory ran
 * out (T is then as it was). */
static int add_record(struct records *t, const char *path, size_t len, const multipool_record *r)
{
    size_t k;
    if (t->count == t->cap && !grow_records(t, t->cap ? 2 * t->cap : 1024)) {
        return 0;
    }
    t->paths[t->count] = path;
    t->lens[t->count] = len;
    t->hashes[t->count] = hash_path(path, len);
    t->records[t->count] = *r;
    t->count++;
    if (2 * t->count > t->nslots) { /* at most half full: rebuild twice as large */
        if (!new_slots(t, t->nslots ? 2 * t->nslots : 2048)) {
            t->count--;
            return 0;
        }
        for (k = 0; k < t->count; k++) {
            place_record(t, k);
        }
    } else {
        place_record(t, t->count - 1);
    }
    return 1;
}

static void free_records(struct records *t)
{
    free(t->text);
    free(t->paths);
    free(t->lens);
    free(t->hashes);
    free(t->records);
    free(t->slots);
}

/* A bad line in a records file: where, and what is wrong, kept for exit status 2; returns 0. */
static int records_error(struct app *app, const char *file, size_t line_no, const char *why)
{
    snprintf(app->loader.error, sizeof app->loader.error,
             "mphash: %s: line %zu: %s (a records line is ALGO, SIZE, MTIME_NS, CTIME_NS, INODE, DEVICE, "
             "DIGEST and PATH, tab-separated; see mphash(1))\n",
             file, line_no, why);
    return 0;
}

/* Reads a decimal integer filling [S, END): unsigned, or signed if NEGATIVE_OK. */
static int parse_decimal(const char *s, const char *end, int negative_ok, uint64_t *out, int *negative)
{
    uint64_t v = 0, limit = UINT64_MAX;
    *negative = 0;
    if (negative_ok && s < end && *s == '-') {
        *negative = 1;
        s++;
    }
    if (negative_ok) {
        limit = *negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    }
    if (s == end) {
        return 0;
    }
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > (limit - (uint64_t)(*s - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

/* Memory ran out while FILE's records were loaded: the message for the main thread; returns 0. */
static int records_out_of_memory(struct app *app, const char *file)
{
    snprintf(app->loader.error, sizeof app->loader.error, "mphash: --since %s: out of memory loading the records\n",
             file);
    return 0;
}

/* --since FILE: every record in it, by path. 0 if the file cannot be read, has a line that is
 * not a record or needs more memory than there is, with the message in app->loader.error
 * (mphash then exits 2). Runs on the loader's thread: it allocates without xrealloc, which
 * would exit under the library's calls on the main thread. */
static int load_records(struct app *app, const char *file)
{
    static const char *const names[] = {"ALGO", "SIZE", "MTIME_NS", "CTIME_NS", "INODE", "DEVICE", "DIGEST"};
    FILE *f = fopen(file, "r");
    char *text, *next, *stop;
    size_t cap = 1 << 16, size = 0, line_no = 0, other = 0;
    uint32_t other_algorithm = 0;
    if (f == NULL) {
        snprintf(app->loader.error, sizeof app->loader.error, "mphash: --since %s: %s\n", file, strerror(errno));
        return 0;
    }
    /* The whole file in one buffer (a pipe too), its lines cut in place: each record's path
     * stays where it is, rather than a line read and a path allocated per record. */
    if ((text = malloc(cap)) == NULL) {
        fclose(f);
        return records_out_of_memory(app, file);
    }
    for (;;) {
        char *more;
        size += fread(text + size, 1, cap - 1 - size, f);
        if (size < cap - 1) {
            break;
        }
        if (cap > SIZE_MAX / 2 || (more = realloc(text, cap * 2)) == NULL) {
            free(text);
            fclose(f);
            return records_out_of_memory(app, file);
        }
        text = more;
        cap *= 2;
    }
    if (ferror(f)) {
        snprintf(app->loader.error, sizeof app->loader.error, "mphash: --since %s: %s\n", file, strerror(errno));
        free(text);
        fclose(f);
        return 0;
    }
    fclose(f);
    text[size] = '\0';
    app->since.text = text;
    for (next = text, stop = text + size; (next = memchr(next, '\n', (size_t)(stop - next))) != NULL; next++) {
        line_no++;
    }
    if (!reserve_records(&app->since, line_no + 1)) {
        return records_out_of_memory(app, file);
    }
    line_no = 0;
    for (next = text, stop = text + size; next < stop;) {
        char *line = next, *newline = memchr(line, '\n', (size_t)(stop - line));
        const char *field[8], *p, *end;
        size_t n = 0, path_len, len = newline != NULL ? (size_t)(newline - line) : (size_t)(stop - line);
        multipool_record r;
        uint64_t v[5];
        int negative[5], k;
        char why[160];
        line_no++;
        next = line + len + 1;
        line[len] = '\0';
        if (len == 0 || line[0] == '#') {
            continue; /* blank lines and comments (the header) */
        }
        if (memchr(line, '\0', len) != NULL) {
            return records_error(app, file, line_no, "a NUL byte");
        }
        /* Seven fields up to a tab each; the path is the rest of the line, tabs and all. */
        for (p = line, field[0] = line; n < 7; p++) {
            if (*p == '\0') {
                snprintf(why, sizeof why, "%zu field%s, expected 8", n + 1, n == 0 ? "" : "s");
                return records_error(app, file, line_no, why);
            }
            if (*p == '\t') {
                field[++n] = p + 1;
            }
        }
        memset(&r, 0, sizeof r);
        r.flags = MULTIPOOL_RECORD_PRESENT;
        end = field[1] - 1;
        if ((size_t)(end - field[0]) == 6 && memcmp(field[0], "sha256", 6) == 0) {
            r.algorithm = MULTIPOOL_ALGORITHM_SHA256;
        } else if ((size_t)(end - field[0]) == 6 && memcmp(field[0], "sha512", 6) == 0) {
            r.algorithm = MULTIPOOL_ALGORITHM_SHA512;
        } else if ((size_t)(end - field[0]) == 6 && memcmp(field[0], "blake3", 6) == 0) {
            r.algorithm = MULTIPOOL_ALGORITHM_BLAKE3;
        } else {
            return records_error(app, file, line_no, "ALGO is not sha256, sha512 or blake3");
        }
        for (k = 0; k < 5; k++) {
            const char *s = field[k + 1];
            end = field[k + 2] - 1;
            if (k == 4 && end - s == 1 && *s == '-') { /* no device number kept */
                v[k] = 0;
                negative[k] = -1;
                continue;
            }
            if (!parse_decimal(s, end, k == 1 || k == 2, &v[k], &negative[k])) {
                snprintf(why, sizeof why, "%s is not a%s decimal number in range", names[k + 1],
                         k == 1 || k == 2 ? " signed 64-bit" : "n unsigned 64-bit");
                return records_error(app, file, line_no, why);
            }
        }
        r.size = v[0];
        r.mtime_ns = negative[1] ? (int64_t)(0 - v[1]) : (int64_t)v[1];
        r.ctime_ns = negative[2] ? (int64_t)(0 - v[2]) : (int64_t)v[2];
        r.inode = v[3];
        if (negative[4] != -1) {
            r.flags |= MULTIPOOL_RECORD_HAS_DEVICE;
            r.device_id = v[4];
        }
        r.digest_len = digest_len_of(r.algorithm);
        end = field[7] - 1;
        if ((size_t)(end - field[6]) != 2 * (size_t)r.digest_len || !parse_hex(field[6], 2 * r.digest_len, r.digest)) {
            snprintf(why, sizeof why, "DIGEST is not %u hex digits (a %s digest)", 2 * r.digest_len,
                     algorithm_name(r.algorithm));
            return records_error(app, file, line_no, why);
        }
        path_len = (size_t)(line + len - field[7]);
        if (path_len == 0) {
            return records_error(app, file, line_no, "an empty PATH");
        }
        if (!unescape((char *)field[7], &path_len)) {
            return records_error(app, file, line_no, "PATH has a backslash that is not \\\\, \\n or \\r");
        }
        if (r.algorithm != app->algorithm && other++ == 0) {
            other_algorithm = r.algorithm;
        }
        if (!add_record(&app->since, field[7], path_len, &r)) { /* unescape ended it with a NUL */
            return records_out_of_memory(app, file);
        }
    }
    if (other > 0) {
        /* The library never lets another algorithm's digest vouch for a file: said once. */
        fprintf(stderr, "mphash: %s: %zu record%s of %s, not %s: never used, those files are read\n", file, other,
                other == 1 ? " is" : "s are", algorithm_name(other_algorithm), algorithm_name(app->algorithm));
    }
    return 1;
}

/* The loader's thread: reads the records file, then says so. */
static void *load_records_thread(void *arg)
{
    struct app *app = arg;
    load_records(app, app->since_file);
    pthread_mutex_lock(&app->loader.lock);
    app->loader.done = 1;
    pthread_mutex_unlock(&app->loader.lock);
    return NULL;
}

/* Starts reading --since's records on the loader's thread; reads them here if it cannot start. */
static void start_loading(struct app *app)
{
    /* Without a lock or a thread, the records are read here, before the walk. */
    if (pthread_mutex_init(&app->loader.lock, NULL) != 0) {
        load_records(app, app->since_file); /* the lock is never touched: no thread runs */
        app->loader.done = 1;
        return;
    }
    if (pthread_create(&app->loader.thread, NULL, load_records_thread, app) == 0) {
        app->loader.running = 1;
    } else {
        load_records_thread(app);
    }
}

/* Whether --since's records are read (after which `since` is this thread's to use), waiting for
 * them if WAIT. If they could not be loaded (see struct loader), prints why, frees the session
 * (which cancels what it was given) and exits 2. */
static int records_ready(struct app *app, int wait)
{
    if (app->loader.running) {
        int done;
        pthread_mutex_lock(&app->loader.lock);
        done = app->loader.done;
        pthread_mutex_unlock(&app->loader.lock);
        if (!done && !wait) {
            return 0;
        }
        pthread_join(app->loader.thread, NULL);
        app->loader.running = 0;
    }
    if (app->loader.error[0] != '\0') {
        fputs(app->loader.error, stderr);
        multipool_session_free(app->session);
        free_records(&app->since);
        exit(2);
    }
    return 1;
}

/* --policy: restic, borg, mtime-size, or fields joined by commas. 0 if it is none of them. */
static uint32_t parse_policy(const char *spec)
{
    static const struct {
        const char *name;
        uint32_t bits;
    } words[] = {{"mtime", MULTIPOOL_RECORD_MATCH_MTIME}, {"ctime", MULTIPOOL_RECORD_MATCH_CTIME},
                 {"size", MULTIPOOL_RECORD_MATCH_SIZE},   {"inode", MULTIPOOL_RECORD_MATCH_INODE},
                 {"device", MULTIPOOL_RECORD_MATCH_DEVICE}};
    uint32_t bits = 0;
    const char *p = spec;
    size_t i;
    if (strcmp(spec, "restic") == 0) {
        return MULTIPOOL_RECORD_POLICY_RESTIC;
    }
    if (strcmp(spec, "borg") == 0) {
        return MULTIPOOL_RECORD_POLICY_BORG;
    }
    if (strcmp(spec, "mtime-size") == 0) {
        return MULTIPOOL_RECORD_POLICY_MTIME_SIZE;
    }
    for (;;) {
        size_t len = strcspn(p, ",");
        for (i = 0; i < sizeof words / sizeof words[0]; i++) {
            if (strlen(words[i].name) == len && strncmp(p, words[i].name, len) == 0) {
                break;
            }
        }
        if (i == sizeof words / sizeof words[0]) {
            return 0;
        }
        bits |= words[i].bits;
        if (p[len] == '\0') {
            return bits;
        }
        p += len + 1;
    }
}

/* --record: the temporary file, removed at exit unless it was renamed over FILE. */
static char *record_tmp;

static void remove_record_tmp(void)
{
    if (record_tmp != NULL) {
        unlink(record_tmp);
    }
}

/* Opens the temporary file of --record FILE beside FILE, with FILE's mode a new file would get. */
static FILE *open_record(const char *file)
{
    size_t n = strlen(file);
    mode_t mask = umask(0);
    int fd;
    FILE *f;
    umask(mask);
    record_tmp = memcpy(xrealloc(NULL, n + 8), file, n);
    memcpy(record_tmp + n, ".XXXXXX", 8);
    if ((fd = mkstemp(record_tmp)) < 0) {
        fprintf(stderr, "mphash: --record %s: %s\n", file, strerror(errno));
        free(record_tmp);
        record_tmp = NULL;
        exit(2);
    }
    atexit(remove_record_tmp);
    if (fchmod(fd, 0666 & ~mask) != 0 || (f = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "mphash: --record %s: %s\n", file, strerror(errno));
        exit(2);
    }
    fputs("# mphash records 1\tALGO\tSIZE\tMTIME_NS\tCTIME_NS\tINODE\tDEVICE\tDIGEST\tPATH\n", f);
    return f;
}

/* Writes the temporary file out and renames it over FILE; whether that all worked. */
static int close_record(FILE *f, const char *file)
{
    int ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(record_tmp, file) != 0) {
        fprintf(stderr, "mphash: --record %s: %s\n", file, strerror(errno));
        return 0;
    }
    free(record_tmp);
    record_tmp = NULL;
    return 1;
}

int main(int argc, char **argv)
{
    struct app app;
    multipool_options options = {0};
    multipool_status status;
    const char *spec = NULL, *names_from[64];
    const char *chunker = NULL, *chunk_digest = NULL, *chunk_key = NULL, *policy = NULL;
    int names_sep[64];
    size_t nfrom = 0, k;
    uint32_t algorithm = MULTIPOOL_ALGORITHM_SHA256;
    int i, first_path = argc, check = 0;
    struct check_opts check_opts;

    memset(&app, 0, sizeof app);
    memset(&check_opts, 0, sizeof check_opts);
    app.escape_cr = 1;
    app.tag = NULL;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* Options that take a value: "-a X", "--algorithm X" and "--algorithm=X". */
        const char *value = NULL;
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
#define IS(long_name) (strlen(long_name) == name_len && strncmp(arg, long_name, name_len) == 0)
#define VALUE()                                                                                  \
    (eq != NULL ? eq + 1 : i + 1 < argc ? argv[++i] : (usage_error("option needs a value:", arg), ""))
        if (strcmp(arg, "--") == 0) {
            first_path = i + 1;
            break;
        } else if (eq != NULL && !(IS("--algorithm") || IS("--threads") || IS("--files-from") ||
                                   IS("--files0-from") || IS("--chunker") || IS("--chunk-digest") ||
                                   IS("--chunk-key") || IS("--since") || IS("--record") || IS("--policy"))) {
            usage_error("unrecognized option", arg);
        } else if (strcmp(arg, "-a") == 0 || IS("--algorithm")) {
            value = VALUE();
            if (strcmp(value, "sha256") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_SHA256;
            } else if (strcmp(value, "sha512") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_SHA512;
            } else if (strcmp(value, "blake3") == 0) {
                algorithm = MULTIPOOL_ALGORITHM_BLAKE3;
            } else {
                fprintf(stderr, "mphash: unknown algorithm '%s' (sha256, sha512 or blake3)\n", value);
                exit(2);
            }
        } else if (strcmp(arg, "-t") == 0 || IS("--threads")) {
            spec = VALUE();
        } else if (IS("--files-from") || IS("--files0-from")) {
            if (nfrom == sizeof names_from / sizeof names_from[0]) {
                usage_error("too many", arg);
            }
            names_sep[nfrom] = IS("--files0-from") ? '\0' : '\n';
            names_from[nfrom++] = VALUE();
        } else if (IS("--chunker")) {
            chunker = VALUE();
        } else if (IS("--chunk-digest")) {
            chunk_digest = VALUE();
            if (strcmp(chunk_digest, "sha256") != 0 && strcmp(chunk_digest, "blake3") != 0) {
                fprintf(stderr, "mphash: unknown chunk digest '%s' (sha256 or blake3)\n", chunk_digest);
                exit(2);
            }
        } else if (IS("--chunk-key")) {
            chunk_key = VALUE();
        } else if (IS("--chunks")) {
            app.chunks = 1;
        } else if (IS("--since")) {
            app.since_file = VALUE();
        } else if (IS("--record")) {
            app.record_file = VALUE();
        } else if (IS("--policy")) {
            policy = VALUE();
            if (parse_policy(policy) == 0) {
                fprintf(stderr,
                        "mphash: unknown policy '%s' (restic, borg, mtime-size, or fields joined by commas: "
                        "mtime, ctime, size, inode, device)\nTry 'mphash --help' for more information.\n",
                        policy);
                exit(2);
            }
        } else if (strcmp(arg, "-c") == 0 || IS("--check")) {
            check = 1;
        } else if (IS("--quiet") || IS("--status") || strcmp(arg, "-w") == 0 || IS("--warn")) {
            /* As in sha256sum, the last of the three wins. */
            check_opts.quiet = IS("--quiet");
            check_opts.status = IS("--status");
            check_opts.warn = !check_opts.quiet && !check_opts.status;
        } else if (IS("--strict")) {
            check_opts.strict = 1;
        } else if (IS("--ignore-missing")) {
            check_opts.ignore_missing = 1;
        } else if (strcmp(arg, "-v") == 0 || IS("--verbose")) {
            app.verbose = 1;
        } else if (IS("--progress")) {
            app.progress = isatty(STDERR_FILENO); /* carriage returns only where they redraw */
        } else if (strcmp(arg, "-z") == 0 || IS("--zero")) {
            app.zero = 1;
        } else if (IS("--tag")) {
            app.tag = "";
        } else if (IS("--sort")) {
            app.sort = 1;
        } else if (IS("--help")) {
            const char *const *part;
            for (part = HELP; *part != NULL; part++) {
                fputs(*part, stdout);
            }
            return fflush(stdout) == 0 ? 0 : 2;
        } else if (IS("--version")) {
            printf("mphash (multipool) %s\n", multipool_version());
            return fflush(stdout) == 0 ? 0 : 2;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            usage_error(arg[1] == '-' ? "unrecognized option" : "invalid option", arg);
        } else {
            first_path = i;
            break;
        }
#undef IS
#undef VALUE
    }
    if (chunker == NULL && (app.chunks || chunk_digest != NULL || chunk_key != NULL)) {
        usage_message(app.chunks ? "--chunks needs --chunker"
                      : chunk_digest != NULL ? "--chunk-digest needs --chunker"
                                             : "--chunk-key needs --chunker");
    }
    if (chunker != NULL && check) {
        usage_message("--chunker does not go with --check");
    }
    if (chunk_key != NULL && chunk_digest != NULL && strcmp(chunk_digest, "sha256") == 0) {
        usage_message("--chunk-key makes chunk digests keyed BLAKE3: it does not go with --chunk-digest sha256");
    }
    if (check && (app.since_file != NULL || app.record_file != NULL)) {
        usage_message(app.since_file != NULL ? "--since does not go with --check" : "--record does not go with --check");
    }
    if (policy != NULL && app.since_file == NULL) {
        usage_message("--policy needs --since");
    }
    if (app.chunks && app.since_file != NULL) {
        /* A file its record answers is not read: it would have a line and no chunk lines. */
        usage_message("--chunks does not go with --since: a file answered from its record is not read, "
                      "so it has no chunks");
    }
    if (check) {
        int all_ok = 1;
        check_opts.algorithm = algorithm;
        check_opts.threads_spec = spec;
        if (first_path >= argc) {
            all_ok = check_listing("-", &check_opts);
        }
        for (i = first_path; i < argc; i++) {
            all_ok &= check_listing(argv[i], &check_opts);
        }
        if (fflush(stdout) != 0) {
            perror("mphash: stdout");
            return 2;
        }
        return all_ok ? 0 : 1;
    }
    if (first_path >= argc && nfrom == 0) {
        fputs("mphash: no PATH given\nTry 'mphash --help' for more information.\n", stderr);
        return 2;
    }
    switch (algorithm) {
    case MULTIPOOL_ALGORITHM_BLAKE3:
        app.escape_cr = 0; /* as b3sum */
        app.lossy = 1;
        app.tag = app.tag != NULL ? "BLAKE3" : NULL;
        break;
    case MULTIPOOL_ALGORITHM_SHA512:
        app.tag = app.tag != NULL ? "SHA512" : NULL;
        break;
    default:
        app.tag = app.tag != NULL ? "SHA256" : NULL;
    }

    /* Zero means default: only the size and the fields mphash sets. */
    options.struct_size = sizeof options;
    options.algorithm = algorithm;
    app.algorithm = algorithm;
    if (spec != NULL) {
        options.threads_spec = (const uint8_t *)spec;
        options.threads_spec_len = strlen(spec);
    }
    if (policy != NULL) {
        options.record_policy = parse_policy(policy);
    }
    if (chunker != NULL) {
        app.chunking = 1;
        parse_chunker(chunker, &options);
        /* The chunk digest: --chunk-digest's, else BLAKE3 with -a blake3, else SHA-256; with a
         * key, BLAKE3 keyed with it. */
        options.chunk_digest = (chunk_digest != NULL ? strcmp(chunk_digest, "blake3") == 0
                                                     : algorithm == MULTIPOOL_ALGORITHM_BLAKE3)
                                   ? MULTIPOOL_CHUNK_DIGEST_BLAKE3
                                   : MULTIPOOL_CHUNK_DIGEST_SHA256;
        if (chunk_key != NULL) {
            read_chunk_key(chunk_key, options.chunk_key);
            options.flags |= MULTIPOOL_FLAG_CHUNK_KEY;
            options.chunk_digest = MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED;
        }
    }
    if ((status = multipool_session_new(&options, &app.session)) != MULTIPOOL_OK) {
        if (status == MULTIPOOL_ERR_INVALID_CHUNKER) {
            chunker_error(chunker, options.chunker == MULTIPOOL_CHUNKER_FASTCDC  ? FASTCDC_RULE
                                   : options.chunker == MULTIPOOL_CHUNKER_RESTIC ? RESTIC_RULE
                                                                                 : FIXED_RULE);
        }
        if (status == MULTIPOOL_ERR_INVALID_THREADS_SPEC) {
            fprintf(stderr,
                    "mphash: invalid threads spec '%s': comma-separated SELECTOR:VALUE rules, SELECTOR a "
                    "kind (ssd, hdd, ram, network, removable, unknown), dev:NAME or path:PATH, VALUE a "
                    "thread count from 1 to 1024 or a kind\n",
                    spec);
            return 2;
        }
        die(spec != NULL ? spec : "session", status);
    }
    if (app.since_file != NULL) {
        start_loading(&app); /* before --record's file replaces it, if the same */
    }
    if (app.record_file != NULL) {
        app.record_out = open_record(app.record_file);
    }
    app.started = app.last_progress = now();

    for (i = first_path; i < argc; i++) {
        add_argument(&app, argv[i]);
    }
    for (k = 0; k < nfrom; k++) {
        add_names_from(&app, names_from[k], names_sep[k]);
    }
    flush(&app, 1);
    if ((status = multipool_session_finish(app.session)) != MULTIPOOL_OK) {
        die("finish", status);
    }
    while (drain(&app, 200) != MULTIPOOL_DONE) {
    }
    show_progress(&app, 1);
    if (app.sort) {
        print_sorted(&app);
    }
    if (app.verbose) {
        print_devices(&app);
        if (app.since_file != NULL || app.record_file != NULL) {
            multipool_stats s = {.struct_size = sizeof s};
            if (multipool_session_stats(app.session, MULTIPOOL_DEVICE_NONE, &s) == MULTIPOOL_OK) {
                fprintf(stderr, "records: unchanged=%llu hashed=%llu failed=%llu", (unsigned long long)s.files_unchanged,
                        (unsigned long long)s.files_done, (unsigned long long)(s.files_failed + s.files_cancelled));
                if (app.record_file != NULL) {
                    fprintf(stderr, " written=%zu", app.records_written);
                }
                fputc('\n', stderr);
            }
        }
    }
    if (app.record_out != NULL && !close_record(app.record_out, app.record_file)) {
        app.failed = 2;
    }

    multipool_session_free(app.session);
    free_records(&app.since);
    if (app.since_file != NULL) {
        pthread_mutex_destroy(&app.loader.lock);
    }
    free(app.paths.names);
    free(app.pending);
    if (fflush(stdout) != 0) {
        perror("mphash: stdout");
        return 2;
    }
    return app.failed == 2 ? 2 : app.failed ? 1 : 0;
}
