/*
 * C test of the multipool ABI, compiled with -std=c99 -Wall -Wextra -Werror -pedantic and run
 * under valgrind (and ASan/UBSan) by tests/c_api.rs.
 *
 *   api_test SCRATCH_DIR VECTORS_FILE
 *
 * Prints one line per check group and "N passed, 0 failed" at the end; exits 1 on the first
 * failed check.
 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "multipool.h"

static int passed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                   \
        }                                                                              \
        passed++;                                                                      \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                   \
    do {                                                                               \
        mp_status got_ = (expr);                                                       \
        if (got_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u\n", __FILE__,     \
                    __LINE__, #expr, got_, mp_status_str(got_), (unsigned)(expected)); \
            exit(1);                                                                   \
        }                                                                              \
        passed++;                                                                      \
    } while (0)

static const char *scratch;

static char *scratch_path(const char *name)
{
    size_t n = strlen(scratch) + strlen(name) + 2;
    char *p = malloc(n);
    CHECK(p != NULL);
    snprintf(p, n, "%s/%s", scratch, name);
    return p;
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(len == 0 || fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

static mp_session *new_session_with(const char *spec, size_t buffer_size, uint32_t algorithm)
{
    mp_options options;
    mp_session *session = NULL;
    CHECK_STATUS(mp_options_init(&options), MP_OK);
    options.algorithm = algorithm;
    if (spec != NULL) {
        options.threads_spec = (const uint8_t *)spec;
        options.threads_spec_len = strlen(spec);
    }
    if (buffer_size != 0) {
        options.buffer_size = buffer_size;
    }
    CHECK_STATUS(mp_session_new(&options, &session), MP_OK);
    CHECK(session != NULL);
    return session;
}

static mp_session *new_session(const char *spec, size_t buffer_size)
{
    return new_session_with(spec, buffer_size, MP_ALGORITHM_SHA256);
}

/* Polls until MP_DONE; every result goes into results[tag] (tags must be < count, each seen
 * exactly once). Uses a small capacity so that several polls are needed. */
static void collect(mp_session *session, mp_result *results, size_t count)
{
    unsigned char *seen = calloc(count, 1);
    size_t total = 0;
    mp_status status;
    CHECK(seen != NULL);
    for (;;) {
        mp_result batch[3];
        size_t n = 99, i;
        status = mp_session_poll(session, batch, 3, 10000, &n);
        if (status == MP_DONE) {
            CHECK(n == 0);
            break;
        }
        CHECK(status == MP_OK || status == MP_TIMEOUT);
        for (i = 0; i < n; i++) {
            CHECK(batch[i].tag < count);
            CHECK(!seen[batch[i].tag]);
            seen[batch[i].tag] = 1;
            results[batch[i].tag] = batch[i];
            total++;
        }
    }
    CHECK(total == count);
    free(seen);
}

static void to_hex(const mp_result *r, char *out)
{
    uint32_t i;
    for (i = 0; i < r->digest_len; i++) {
        sprintf(out + 2 * i, "%02x", r->digest[i]);
    }
    out[2 * r->digest_len] = '\0';
}

static void test_version_and_strings(void)
{
    uint32_t code;
    CHECK(mp_version_number() ==
          MULTIPOOL_VERSION_MAJOR * 10000 + MULTIPOOL_VERSION_MINOR * 100 + MULTIPOOL_VERSION_PATCH);
    CHECK(mp_version() != NULL && strlen(mp_version()) >= 5);
    CHECK(strcmp(mp_status_str(MP_OK), "ok") == 0);
    CHECK(strncmp(mp_status_str(9999), "unknown", 7) == 0);
    CHECK(strncmp(mp_status_str(0xFFFFFFFFu), "unknown", 7) == 0);
    for (code = 0; code < 400; code++) {
        CHECK(mp_status_str(code) != NULL);
    }
    CHECK(strcmp(mp_kind_str(MP_KIND_HDD), "hdd") == 0);
    CHECK(strcmp(mp_kind_str(12345), "unknown") == 0);
    CHECK(strcmp(mp_kind_source_str(MP_KIND_SOURCE_MOUNTINFO), "mountinfo") == 0);
    puts("version and strings: ok");
}

static void test_null_pointers(void)
{
    mp_session *session = new_session(NULL, 0);
    mp_result result;
    mp_stats stats;
    mp_counters counters;
    mp_device device;
    mp_path path;
    size_t n;
    memset(&counters, 0, sizeof counters);
    CHECK_STATUS(mp_options_init(NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_new(NULL, NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_enqueue(NULL, (const uint8_t *)"x", 1, 0), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_enqueue(session, NULL, 5, 0), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_enqueue_many(session, NULL, 2), MP_ERR_NULL_POINTER);
    path.path = NULL;
    path.len = 3;
    path.tag = 1;
    CHECK_STATUS(mp_session_enqueue_many(session, &path, 1), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_finish(NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_cancel(NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_poll(NULL, &result, 1, 0, &n), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_poll(session, NULL, 1, 0, &n), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_poll(session, &result, 1, 0, NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_poll(session, &result, 0, 0, &n), MP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mp_session_stats(NULL, &stats), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_stats(session, NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_counters(NULL, MP_DEVICE_NONE, &counters), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_counters(session, MP_DEVICE_NONE, NULL), MP_ERR_NULL_POINTER);
    /* struct_size left at 0: refused rather than guessed. */
    CHECK_STATUS(mp_session_counters(session, MP_DEVICE_NONE, &counters),
                 MP_ERR_OPTIONS_VERSION);
    counters.struct_size = sizeof counters;
    CHECK_STATUS(mp_session_counters(session, 0, &counters), MP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mp_session_device_count(NULL, &n), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_device_count(session, NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_device(NULL, 0, &device), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_device(session, 0, NULL), MP_ERR_NULL_POINTER);
    CHECK_STATUS(mp_session_device(session, 0, &device), MP_ERR_INVALID_ARGUMENT);
    /* Nothing was enqueued by the refused calls: an empty finished session is done at once. */
    CHECK_STATUS(mp_session_finish(session), MP_OK);
    CHECK_STATUS(mp_session_poll(session, &result, 1, -1, &n), MP_DONE);
    CHECK(n == 0);
    mp_session_free(session);
    mp_session_free(NULL);
    mp_session_abandon(NULL);
    puts("null pointers: ok");
}

static void test_bad_options(void)
{
    mp_options options;
    mp_session *session = NULL;
    CHECK_STATUS(mp_options_init(&options), MP_OK);
    CHECK(options.struct_size == sizeof options);
    options.struct_size = 3;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_OPTIONS_VERSION);
    mp_options_init(&options);
    options.threads_spec = (const uint8_t *)"ssd:0";
    options.threads_spec_len = 5;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_INVALID_THREADS_SPEC);
    mp_options_init(&options);
    options.flags = 0x80;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_INVALID_ARGUMENT);
    mp_options_init(&options);
    options.algorithm = 0;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_INVALID_ARGUMENT);
    options.algorithm = 4;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_INVALID_ARGUMENT);
    mp_options_init(&options);
    options.buffer_size = 0;
    CHECK_STATUS(mp_session_new(&options, &session), MP_ERR_INVALID_ARGUMENT);
    CHECK(session == NULL);
    puts("bad options: ok");
}

/* Expands a vector's input description (see the vectors file) into bytes. */
static unsigned char *vector_input(const char *spec, size_t *len)
{
    unsigned char *out;
    if (strncmp(spec, "empty:", 6) == 0) {
        *len = 0;
        return malloc(1);
    }
    if (strncmp(spec, "text:", 5) == 0) {
        *len = strlen(spec + 5);
        out = malloc(*len + 1);
        CHECK(out != NULL);
        memcpy(out, spec + 5, *len);
        return out;
    }
    if (strncmp(spec, "repeat:", 7) == 0) {
        char *end;
        size_t count = strtoul(spec + 7, &end, 10), unit, i;
        CHECK(*end == ':');
        unit = strlen(end + 1);
        *len = count * unit;
        out = malloc(*len + 1);
        CHECK(out != NULL);
        for (i = 0; i < count; i++) {
            memcpy(out + i * unit, end + 1, unit);
        }
        return out;
    }
    CHECK(!"unknown vector input");
    return NULL;
}

static void test_vectors(const char *vectors_file, const char *name, uint32_t code,
                         uint32_t digest_len)
{
    char line[512], algorithm[32], input[256], expected[32][129];
    mp_path paths[32];
    char *names[32];
    mp_result results[32];
    size_t count = 0, i, total_bytes = 0;
    FILE *f = fopen(vectors_file, "r");
    mp_session *session = new_session_with("hdd:1,ssd:2,ram:2", 4096, code);
    mp_stats stats;
    mp_counters counters;
    size_t devices = 0;
    mp_device device;
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned char *data;
        size_t len;
        char file[64];
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        CHECK(sscanf(line, "%31s %255s %128s", algorithm, input, expected[count]) == 3);
        if (strcmp(algorithm, name) != 0) {
            continue;
        }
        CHECK(count < 32);
        data = vector_input(input, &len);
        sprintf(file, "vector-%s-%u", algorithm, (unsigned)count);
        names[count] = scratch_path(file);
        write_file(names[count], data, len);
        free(data);
        total_bytes += len;
        paths[count].path = (const uint8_t *)names[count];
        paths[count].len = strlen(names[count]);
        paths[count].tag = count;
        count++;
    }
    fclose(f);
    CHECK(count >= 5);
    CHECK_STATUS(mp_session_enqueue_many(session, paths, count), MP_OK);
    CHECK_STATUS(mp_session_finish(session), MP_OK);
    collect(session, results, count);
    for (i = 0; i < count; i++) {
        char hex[129];
        CHECK_STATUS(results[i].status, MP_OK);
        CHECK(results[i].digest_len == digest_len);
        CHECK(results[i].device != MP_DEVICE_NONE);
        to_hex(&results[i], hex);
        if (strcmp(hex, expected[i]) != 0) {
            fprintf(stderr, "vector %u: got %s expected %s\n", (unsigned)i, hex, expected[i]);
            exit(1);
        }
        free(names[i]);
    }
    CHECK_STATUS(mp_session_stats(session, &stats), MP_OK);
    CHECK(stats.files_queued == count && stats.files_done == count && stats.files_failed == 0);
    CHECK(stats.bytes_done == total_bytes && stats.bytes_queued == total_bytes);
    memset(&counters, 0, sizeof counters);
    counters.struct_size = sizeof counters;
    CHECK_STATUS(mp_session_counters(session, MP_DEVICE_NONE, &counters), MP_OK);
    CHECK(counters.struct_size == sizeof counters);
    CHECK(counters.stats.files_queued == count && counters.stats.files_done == count);
    CHECK(counters.stats.bytes_done == total_bytes && counters.stats.files_failed == 0);
    CHECK(counters.files_from_cache <= count);
    CHECK_STATUS(mp_session_counters(session, results[0].device, &counters), MP_OK);
    CHECK(counters.stats.files_done >= 1 && counters.stats.files_done <= count);
    CHECK_STATUS(mp_session_device_count(session, &devices), MP_OK);
    CHECK(devices >= 1);
    CHECK_STATUS(mp_session_device(session, results[0].device, &device), MP_OK);
    CHECK(device.index == results[0].device && device.threads >= 1 && device.name[0] != '\0');
    CHECK(memchr(device.name, '\0', sizeof device.name) != NULL);
    mp_session_free(session);
    printf("known-answer vectors, %s: %u ok\n", name, (unsigned)count);
}

enum { BAD_MISSING, BAD_DIR, BAD_FIFO, BAD_SOCKET, BAD_DEVICE, BAD_EMPTY, BAD_NUL, BAD_LONG,
       BAD_LOOP, BAD_ODD_BYTES, BAD_COUNT };

static void test_bad_inputs(void)
{
    mp_session *session = new_session("hdd:1", 0);
    mp_result results[BAD_COUNT];
    char *fifo = scratch_path("fifo"), *sock = scratch_path("sock"), *loop = scratch_path("loop");
    char *odd = scratch_path("caf\xe9\n\\name");
    char *missing = scratch_path("missing");
    char nul_path[] = "/tmp/a\0b";
    char *long_path = malloc(4097);
    struct sockaddr_un addr;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(long_path != NULL && fd >= 0);
    memset(long_path, 'x', 4096);
    long_path[0] = '/';
    long_path[4096] = '\0';
    CHECK(mkfifo(fifo, 0644) == 0);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    CHECK(strlen(sock) < sizeof addr.sun_path);
    strcpy(addr.sun_path, sock);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(symlink(loop, loop) == 0);
    write_file(odd, (const unsigned char *)"abc", 3);

#define ENQUEUE(path, len, tag) CHECK_STATUS(mp_session_enqueue(session, (const uint8_t *)(path), (len), (tag)), MP_OK)
    ENQUEUE(missing, strlen(missing), BAD_MISSING);
    ENQUEUE(scratch, strlen(scratch), BAD_DIR);
    ENQUEUE(fifo, strlen(fifo), BAD_FIFO);
    ENQUEUE(sock, strlen(sock), BAD_SOCKET);
    ENQUEUE("/dev/null", 9, BAD_DEVICE);
    ENQUEUE(NULL, 0, BAD_EMPTY);
    ENQUEUE(nul_path, sizeof nul_path - 1, BAD_NUL);
    ENQUEUE(long_path, 4096, BAD_LONG);
    ENQUEUE(loop, strlen(loop), BAD_LOOP);
    ENQUEUE(odd, strlen(odd), BAD_ODD_BYTES);
#undef ENQUEUE
    CHECK_STATUS(mp_session_finish(session), MP_OK);
    CHECK_STATUS(mp_session_enqueue(session, (const uint8_t *)"x", 1, 99), MP_ERR_SESSION_FINISHED);
    collect(session, results, BAD_COUNT);

    CHECK_STATUS(results[BAD_MISSING].status, MP_ERR_NOT_FOUND);
    CHECK(results[BAD_MISSING].os_error == ENOENT);
    CHECK(results[BAD_MISSING].device == MP_DEVICE_NONE && results[BAD_MISSING].digest_len == 0);
    CHECK_STATUS(results[BAD_DIR].status, MP_ERR_IS_DIRECTORY);
    CHECK_STATUS(results[BAD_FIFO].status, MP_ERR_IS_FIFO);
    CHECK_STATUS(results[BAD_SOCKET].status, MP_ERR_IS_SOCKET);
    CHECK_STATUS(results[BAD_DEVICE].status, MP_ERR_IS_DEVICE);
    CHECK_STATUS(results[BAD_EMPTY].status, MP_ERR_NOT_FOUND);
    CHECK_STATUS(results[BAD_NUL].status, MP_ERR_INVALID_PATH);
    CHECK_STATUS(results[BAD_LONG].status, MP_ERR_NAME_TOO_LONG);
    CHECK(results[BAD_LONG].os_error == ENAMETOOLONG);
    CHECK_STATUS(results[BAD_LOOP].status, MP_ERR_SYMLINK_LOOP);
    CHECK_STATUS(results[BAD_ODD_BYTES].status, MP_OK);
    CHECK(results[BAD_ODD_BYTES].size == 3 && results[BAD_ODD_BYTES].digest[0] == 0xba);
    mp_session_free(session);
    close(fd);
    unlink(fifo);
    unlink(sock);
    unlink(loop);
    unlink(odd);
    free(fifo);
    free(sock);
    free(loop);
    free(odd);
    free(missing);
    free(long_path);
    puts("bad inputs: ok");
}

#define MANY 200

static char **make_files(size_t count, size_t size)
{
    char **names = malloc(count * sizeof(char *));
    unsigned char *data = malloc(size);
    size_t i;
    CHECK(names != NULL && data != NULL);
    memset(data, 'm', size);
    for (i = 0; i < count; i++) {
        char name[32];
        sprintf(name, "many-%u", (unsigned)i);
        names[i] = scratch_path(name);
        write_file(names[i], data, size);
    }
    free(data);
    return names;
}

static void free_files(char **names, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        unlink(names[i]);
        free(names[i]);
    }
    free(names);
}

static void enqueue_all(mp_session *session, char **names, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        CHECK_STATUS(mp_session_enqueue(session, (const uint8_t *)names[i], strlen(names[i]), i),
                     MP_OK);
    }
}

static void test_cancel(char **names)
{
    mp_session *session = new_session("hdd:1,ssd:1,ram:1,unknown:1", 4096);
    mp_result results[MANY], first;
    mp_stats stats;
    size_t n = 0, i, cancelled = 0, done = 0;
    enqueue_all(session, names, MANY);
    CHECK_STATUS(mp_session_poll(session, &first, 1, -1, &n), MP_OK);
    CHECK_STATUS(mp_session_cancel(session), MP_OK);
    CHECK_STATUS(mp_session_cancel(session), MP_OK);
    CHECK_STATUS(mp_session_enqueue(session, (const uint8_t *)"x", 1, MANY), MP_ERR_SESSION_CANCELLED);
    memset(results, 0, sizeof results);
    {
        /* Every path still gets exactly one result; the one polled above counts too. */
        unsigned char seen[MANY];
        mp_status status;
        memset(seen, 0, sizeof seen);
        seen[first.tag] = 1;
        results[first.tag] = first;
        n = 1;
        while ((status = mp_session_poll(session, results, 1, 10000, &i)) != MP_DONE) {
            CHECK(status == MP_OK);
            CHECK(i == 1 && results[0].tag < MANY && !seen[results[0].tag]);
            seen[results[0].tag] = 1;
            cancelled += results[0].status == MP_ERR_CANCELLED;
            done += results[0].status == MP_OK;
            n++;
        }
        CHECK(n == MANY);
    }
    CHECK(cancelled > 0);
    CHECK_STATUS(mp_session_stats(session, &stats), MP_OK);
    CHECK(stats.files_cancelled == cancelled);
    CHECK(stats.files_done + stats.files_failed + stats.files_cancelled == MANY);
    /* Every result delivered: abandon returns at once, and the session's threads (with nothing
     * left to wait for) free it on their own before the tests below end. */
    mp_session_abandon(session);
    printf("cancel: %u cancelled, %u hashed, every tag once\n", (unsigned)cancelled,
           (unsigned)(done + (first.status == MP_OK)));
}

static void test_free_in_flight(char **names)
{
    mp_session *session = new_session("hdd:1", 4096);
    mp_result r;
    size_t n;
    enqueue_all(session, names, MANY);
    CHECK_STATUS(mp_session_poll(session, &r, 1, -1, &n), MP_OK);
    mp_session_free(session); /* cancels, joins every thread, leaks nothing (valgrind checks) */
    session = new_session(NULL, 0);
    enqueue_all(session, names, MANY);
    mp_session_free(session); /* freed before anything was polled or finished */
    mp_session_free(new_session(NULL, 0)); /* never used */
    puts("free in flight: ok");
}

int main(int argc, char **argv)
{
    char **names;
    if (argc != 3) {
        fputs("usage: api_test SCRATCH_DIR VECTORS_FILE\n", stderr);
        return 2;
    }
    scratch = argv[1];
    test_version_and_strings();
    test_null_pointers();
    test_bad_options();
    test_vectors(argv[2], "sha256", MP_ALGORITHM_SHA256, 32);
    test_vectors(argv[2], "sha512", MP_ALGORITHM_SHA512, 64);
    test_vectors(argv[2], "blake3", MP_ALGORITHM_BLAKE3, 32);
    test_bad_inputs();
    names = make_files(MANY, 65536);
    test_cancel(names);
    test_free_in_flight(names);
    free_files(names, MANY);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
