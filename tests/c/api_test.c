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
#include <poll.h>
#include <time.h>
#include <pthread.h>
#include <stddef.h>
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
        multipool_status got_ = (expr);                                                       \
        if (got_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u\n", __FILE__,     \
                    __LINE__, #expr, got_, multipool_status_str(got_), (unsigned)(expected)); \
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

static multipool_session *new_session_with(const char *spec, size_t buffer_size, uint32_t algorithm)
{
    multipool_options options;
    multipool_session *session = NULL;
    CHECK_STATUS(multipool_options_init(&options), MULTIPOOL_OK);
    options.algorithm = algorithm;
    if (spec != NULL) {
        options.threads_spec = (const uint8_t *)spec;
        options.threads_spec_len = strlen(spec);
    }
    if (buffer_size != 0) {
        options.buffer_size = buffer_size;
    }
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_OK);
    CHECK(session != NULL);
    return session;
}

static multipool_session *new_session(const char *spec, size_t buffer_size)
{
    return new_session_with(spec, buffer_size, MULTIPOOL_ALGORITHM_SHA256);
}

/* Polls until MULTIPOOL_DONE; every result goes into results[tag] (tags must be < count, each seen
 * exactly once). Uses a small capacity so that several polls are needed. */
static void collect(multipool_session *session, multipool_result *results, size_t count)
{
    unsigned char *seen = calloc(count, 1);
    size_t total = 0;
    multipool_status status;
    CHECK(seen != NULL);
    for (;;) {
        multipool_result batch[3];
        size_t n = 99, i;
        status = multipool_session_poll(session, batch, sizeof(multipool_result), 3, 10000, &n);
        if (status == MULTIPOOL_DONE) {
            CHECK(n == 0);
            break;
        }
        CHECK(status == MULTIPOOL_OK || status == MULTIPOOL_TIMEOUT);
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

static void to_hex(const multipool_result *r, char *out)
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
    CHECK(multipool_version_number() ==
          MULTIPOOL_VERSION_MAJOR * 10000 + MULTIPOOL_VERSION_MINOR * 100 + MULTIPOOL_VERSION_PATCH);
    CHECK(multipool_version() != NULL && strlen(multipool_version()) >= 5);
    CHECK(strcmp(multipool_status_str(MULTIPOOL_OK), "ok") == 0);
    CHECK(strncmp(multipool_status_str(9999), "unknown", 7) == 0);
    CHECK(strncmp(multipool_status_str(0xFFFFFFFFu), "unknown", 7) == 0);
    for (code = 0; code < 400; code++) {
        CHECK(multipool_status_str(code) != NULL);
    }
    CHECK(strcmp(multipool_kind_str(MULTIPOOL_KIND_HDD), "hdd") == 0);
    CHECK(strcmp(multipool_kind_str(12345), "unknown") == 0);
    CHECK(strcmp(multipool_kind_source_str(MULTIPOOL_KIND_SOURCE_MOUNTINFO), "mountinfo") == 0);
    puts("version and strings: ok");
}

static void test_null_pointers(void)
{
    multipool_session *session = new_session(NULL, 0);
    multipool_result result;
    multipool_stats stats;
    multipool_device device;
    multipool_path path;
    size_t n;
    memset(&stats, 0, sizeof stats);
    memset(&device, 0, sizeof device);
    CHECK_STATUS(multipool_options_init(NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_new(NULL, NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_enqueue(NULL, (const uint8_t *)"x", 1, 0), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_enqueue(session, NULL, 5, 0), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_enqueue_many(session, NULL, 2), MULTIPOOL_ERR_NULL_POINTER);
    path.path = NULL;
    path.len = 3;
    path.tag = 1;
    CHECK_STATUS(multipool_session_enqueue_many(session, &path, 1), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_finish(NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_cancel(NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll(NULL, &result, sizeof(multipool_result), 1, 0, &n), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll(session, NULL, sizeof(multipool_result), 1, 0, &n), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll(session, &result, sizeof(multipool_result), 1, 0, NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll(session, &result, sizeof(multipool_result), 0, 0, &n), MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_stats(NULL, MULTIPOOL_DEVICE_NONE, &stats), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, NULL), MULTIPOOL_ERR_NULL_POINTER);
    /* struct_size left at 0: refused rather than guessed, for every struct the library writes. */
    CHECK_STATUS(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_device(session, 0, &device), MULTIPOOL_ERR_STRUCT_SIZE);
    /* Smaller than the first multipool_result, which ends before `attempt`. */
    CHECK_STATUS(multipool_session_poll(session, &result, offsetof(multipool_result, attempt) - 1, 1, 0, &n),
                 MULTIPOOL_ERR_STRUCT_SIZE);
    stats.struct_size = sizeof stats;
    device.struct_size = sizeof device;
    CHECK_STATUS(multipool_session_stats(session, 0, &stats), MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_device_count(NULL, &n), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_device_count(session, NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_device(NULL, 0, &device), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_device(session, 0, NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_device(session, 0, &device), MULTIPOOL_ERR_INVALID_ARGUMENT);
    /* Nothing was enqueued by the refused calls: an empty finished session is done at once. */
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_poll(session, &result, sizeof(multipool_result), 1, -1, &n), MULTIPOOL_DONE);
    CHECK(n == 0);
    multipool_session_free(session);
    multipool_session_free(NULL);
    multipool_session_abandon(NULL);
    puts("null pointers: ok");
}

static void test_struct_size_past_the_maximum(void);

static void test_bad_options(void)
{
    multipool_options options;
    multipool_session *session = NULL;
    CHECK_STATUS(multipool_options_init(&options), MULTIPOOL_OK);
    CHECK(options.struct_size == sizeof options);
    options.struct_size = 3;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_STRUCT_SIZE);
    multipool_options_init(&options);
    options.threads_spec = (const uint8_t *)"ssd:0";
    options.threads_spec_len = 5;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_INVALID_THREADS_SPEC);
    multipool_options_init(&options);
    options.flags = 0x80;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_INVALID_ARGUMENT);
    multipool_options_init(&options);
    options.algorithm = 77;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_INVALID_ARGUMENT);
    options.algorithm = 4;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_INVALID_ARGUMENT);
    multipool_options_init(&options);
    options.buffer_size = ((size_t)1 << 30) + 1;
    CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK(session == NULL);
    test_struct_size_past_the_maximum();
    puts("bad options: ok");
}

/* A struct_size past MULTIPOOL_MAX_STRUCT_SIZE is refused without a byte past the struct being
 * read or written: each struct lies in a heap block of exactly its size, where valgrind and ASan
 * see any access beyond it. */
static void test_struct_size_past_the_maximum(void)
{
    const size_t sizes[] = {SIZE_MAX, MULTIPOOL_MAX_STRUCT_SIZE + 1};
    multipool_session *session = NULL, *other = new_session(NULL, 0);
    multipool_result *result = malloc(sizeof *result);
    size_t i, n = 0;
    CHECK(MULTIPOOL_MAX_STRUCT_SIZE >= sizeof(multipool_options) + 64);
    CHECK(result != NULL);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        multipool_options *options = malloc(sizeof *options);
        multipool_stats *stats = malloc(sizeof *stats);
        multipool_device *device = malloc(sizeof *device);
        CHECK(options != NULL && stats != NULL && device != NULL);
        CHECK_STATUS(multipool_options_init(options), MULTIPOOL_OK);
        options->struct_size = sizes[i];
        CHECK_STATUS(multipool_session_new(options, &session), MULTIPOOL_ERR_STRUCT_SIZE);
        CHECK(session == NULL);
        memset(stats, 0, sizeof *stats);
        stats->struct_size = sizes[i];
        CHECK_STATUS(multipool_session_stats(other, MULTIPOOL_DEVICE_NONE, stats), MULTIPOOL_ERR_STRUCT_SIZE);
        memset(device, 0, sizeof *device);
        device->struct_size = sizes[i];
        CHECK_STATUS(multipool_session_device(other, 0, device), MULTIPOOL_ERR_STRUCT_SIZE);
        CHECK_STATUS(multipool_session_poll(other, result, sizes[i], 1, 0, &n), MULTIPOOL_ERR_STRUCT_SIZE);
        free(options);
        free(stats);
        free(device);
    }
    /* The maximum itself is accepted, its unknown tail being zero. */
    {
        unsigned char *big = calloc(1, MULTIPOOL_MAX_STRUCT_SIZE);
        multipool_options init;
        CHECK(big != NULL);
        CHECK_STATUS(multipool_options_init(&init), MULTIPOOL_OK);
        init.struct_size = MULTIPOOL_MAX_STRUCT_SIZE;
        memcpy(big, &init, sizeof init);
        CHECK_STATUS(multipool_session_new((const multipool_options *)(void *)big, &session), MULTIPOOL_OK);
        multipool_session_free(session);
        free(big);
    }
    free(result);
    multipool_session_free(other);
}

/* Hashes the 3-byte file "abc" with `options` and returns the first 4 digest bytes as hex. */
static void hash_abc(const multipool_options *options, char hex[9])
{
    multipool_session *session = NULL;
    multipool_result result;
    char *path = scratch_path("abc");
    size_t n = 0;
    int i;
    write_file(path, (const unsigned char *)"abc", 3);
    CHECK_STATUS(multipool_session_new(options, &session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)path, strlen(path), 1), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_poll(session, &result, sizeof result, 1, -1, &n), MULTIPOOL_OK);
    CHECK(n == 1);
    CHECK_STATUS(result.status, MULTIPOOL_OK);
    for (i = 0; i < 4; i++) {
        sprintf(hex + 2 * i, "%02x", result.digest[i]);
    }
    multipool_session_free(session);
    free(path);
}

static void *wake_later(void *session)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_STATUS(multipool_session_wake(session), MULTIPOOL_OK);
    return NULL;
}

static void *wake_now(void *session)
{
    CHECK_STATUS(multipool_session_wake(session), MULTIPOOL_OK);
    return NULL;
}

/* What a binding needs: paths from one byte buffer, a wake that ends a blocked poll without
 * cancelling, and a descriptor an event loop waits on. */
static void test_buffer_wake_and_ready_fd(void)
{
    multipool_session *session = new_session(NULL, 0);
    char *a = scratch_path("buffer-a"), *b = scratch_path("buffer-b");
    char bytes[512];
    size_t lengths[3], n = 0, got = 0;
    uint64_t tags[3] = {7, 8, 9}, generation = 99;
    multipool_result results[4];
    multipool_status status;
    struct pollfd pfd;
    pthread_t waker;
    int fd = -1, fd2 = -1;
    write_file(a, (const unsigned char *)"a", 1);
    write_file(b, (const unsigned char *)"bb", 2);
    lengths[0] = strlen(a);
    lengths[1] = strlen(b);
    lengths[2] = 0;
    CHECK(lengths[0] + lengths[1] < sizeof bytes);
    memcpy(bytes, a, lengths[0]);
    memcpy(bytes + lengths[0], b, lengths[1]);

    CHECK_STATUS(multipool_session_ready_fd(session, &fd), MULTIPOOL_OK);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    CHECK_STATUS(multipool_session_ready_fd(session, &fd2), MULTIPOOL_OK);
    CHECK(fd2 == fd);
    pfd.fd = fd;
    pfd.events = POLLIN;
    CHECK(poll(&pfd, 1, 0) == 0);

    /* A wake ends a poll that would otherwise wait without limit. */
    CHECK_STATUS(multipool_session_wake_generation(session, &generation), MULTIPOOL_OK);
    CHECK(generation == 0);
    CHECK(pthread_create(&waker, NULL, wake_later, session) == 0);
    CHECK_STATUS(multipool_session_poll_wakeable(session, results, sizeof results[0], 4, -1, generation, &n),
                 MULTIPOOL_WOKEN);
    CHECK(n == 0);
    CHECK(pthread_join(waker, NULL) == 0);
    CHECK_STATUS(multipool_session_wake_generation(session, &generation), MULTIPOOL_OK);
    CHECK(generation == 1);
    /* A wake racing the poller's entry, a thousand times: read the generation, start a thread
     * that wakes at once, poll without limit. Whichever comes first, the poll returns. */
    for (int round = 0; round < 1000; round++) {
        uint64_t before;
        CHECK_STATUS(multipool_session_wake_generation(session, &before), MULTIPOOL_OK);
        CHECK(pthread_create(&waker, NULL, wake_now, session) == 0);
        CHECK_STATUS(multipool_session_poll_wakeable(session, results, sizeof results[0], 4, -1, before, &n),
                     MULTIPOOL_WOKEN);
        CHECK(pthread_join(waker, NULL) == 0);
    }
    CHECK_STATUS(multipool_session_wake_generation(session, &generation), MULTIPOOL_OK);
    CHECK(generation == 1001);

    /* Lengths that do not add up: refused, nothing queued. */
    CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, lengths[0] + lengths[1] + 1,
                                                  lengths, tags, 3),
                 MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, lengths[0] + lengths[1], NULL,
                                                  tags, 3),
                 MULTIPOOL_ERR_NULL_POINTER);
    /* A count far beyond the arrays, whose first length is already past the buffer: refused at
     * that first length, without reading the second element (valgrind and ASan would see it). */
    {
        size_t *two_lengths = malloc(2 * sizeof *two_lengths);
        uint64_t *two_tags = malloc(2 * sizeof *two_tags);
        CHECK(two_lengths != NULL && two_tags != NULL);
        two_lengths[0] = sizeof bytes + 1;
        two_lengths[1] = 0;
        two_tags[0] = two_tags[1] = 0;
        CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, sizeof bytes, two_lengths,
                                                      two_tags, (size_t)PTRDIFF_MAX / 8),
                     MULTIPOOL_ERR_INVALID_ARGUMENT);
        two_lengths[0] = 1;
        two_lengths[1] = sizeof bytes;
        CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, sizeof bytes, two_lengths,
                                                      two_tags, (size_t)PTRDIFF_MAX / 8),
                     MULTIPOOL_ERR_INVALID_ARGUMENT);
        free(two_lengths);
        free(two_tags);
    }
    CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, lengths[0] + lengths[1],
                                                  lengths, tags, 3),
                 MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    /* After finish, arguments are checked first: wrong lengths are INVALID_ARGUMENT, right ones
     * SESSION_FINISHED. */
    CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, lengths[0] + lengths[1] + 1,
                                                  lengths, tags, 3),
                 MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_enqueue_buffer(session, (const uint8_t *)bytes, lengths[0] + lengths[1],
                                                  lengths, tags, 3),
                 MULTIPOOL_ERR_SESSION_FINISHED);

    /* The event loop: wait for the descriptor, take what is there without waiting. */
    for (;;) {
        CHECK(poll(&pfd, 1, 30000) == 1);
        status = multipool_session_poll_wakeable(session, results, sizeof results[0], 4, 0, generation, &n);
        if (status == MULTIPOOL_DONE) {
            break;
        }
        CHECK(status == MULTIPOOL_OK || status == MULTIPOOL_TIMEOUT);
        for (size_t i = 0; i < n; i++) {
            CHECK(results[i].tag >= 7 && results[i].tag <= 9);
            CHECK_STATUS(results[i].status, results[i].tag == 9 ? MULTIPOOL_ERR_NOT_FOUND : MULTIPOOL_OK);
            CHECK(results[i].tag == 9 || results[i].size == results[i].tag - 6);
        }
        got += n;
    }
    CHECK(got == 3);
    CHECK(poll(&pfd, 1, 0) == 1); /* done: stays readable */
    /* Done beats woken: a drained, finished session polled with an old generation is DONE. */
    CHECK_STATUS(multipool_session_wake(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_poll_wakeable(session, results, sizeof results[0], 4, -1, generation, &n),
                 MULTIPOOL_DONE);
    CHECK(n == 0);
    multipool_session_free(session); /* closes the descriptor */
    free(a);
    free(b);
    puts("buffer, wake and ready fd: ok");
}

static void test_zero_means_default(void)
{
    /* The size and the one field wanted; every other field 0, and 0 is its default. */
    multipool_options blake3 = {.struct_size = sizeof blake3, .algorithm = MULTIPOOL_ALGORITHM_BLAKE3};
    multipool_options zero;
    /* A program built against a newer header: fields this library does not know must be 0. */
    struct {
        multipool_options known;
        uint64_t future;
    } newer;
    multipool_session *session = NULL;
    char hex[9];
    hash_abc(&blake3, hex);
    CHECK(strcmp(hex, "6437b3ac") == 0); /* b3sum of "abc" */
    memset(&zero, 0, sizeof zero);
    zero.struct_size = sizeof zero;
    hash_abc(&zero, hex);
    CHECK(strcmp(hex, "ba7816bf") == 0); /* sha256sum of "abc" */
    memset(&newer, 0, sizeof newer);
    newer.known.struct_size = sizeof newer;
    hash_abc(&newer.known, hex);
    CHECK(strcmp(hex, "ba7816bf") == 0);
    newer.future = 1;
    CHECK_STATUS(multipool_session_new(&newer.known, &session), MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK(session == NULL);
    puts("zero means default: ok");
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
    multipool_path paths[32];
    char *names[32];
    multipool_result results[32];
    size_t count = 0, i, total_bytes = 0;
    FILE *f = fopen(vectors_file, "r");
    multipool_session *session = new_session_with("hdd:1,ssd:2,ram:2", 4096, code);
    multipool_stats stats = {.struct_size = sizeof stats};
    size_t devices = 0;
    multipool_device device = {.struct_size = sizeof device};
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
    CHECK_STATUS(multipool_session_enqueue_many(session, paths, count), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    collect(session, results, count);
    for (i = 0; i < count; i++) {
        char hex[129];
        CHECK_STATUS(results[i].status, MULTIPOOL_OK);
        CHECK(results[i].digest_len == digest_len);
        CHECK(results[i].device != MULTIPOOL_DEVICE_NONE);
        to_hex(&results[i], hex);
        if (strcmp(hex, expected[i]) != 0) {
            fprintf(stderr, "vector %u: got %s expected %s\n", (unsigned)i, hex, expected[i]);
            exit(1);
        }
        free(names[i]);
    }
    CHECK_STATUS(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), MULTIPOOL_OK);
    CHECK(stats.files_queued == count && stats.files_done == count && stats.files_failed == 0);
    CHECK(stats.bytes_done == total_bytes && stats.bytes_queued == total_bytes);
    CHECK(stats.struct_size == sizeof stats && stats.files_from_cache <= count);
    CHECK_STATUS(multipool_session_stats(session, results[0].device, &stats), MULTIPOOL_OK);
    CHECK(stats.files_done >= 1 && stats.files_done <= count);
    CHECK_STATUS(multipool_session_device_count(session, &devices), MULTIPOOL_OK);
    CHECK(devices >= 1);
    CHECK_STATUS(multipool_session_device(session, results[0].device, &device), MULTIPOOL_OK);
    CHECK(device.index == results[0].device && device.threads >= 1 && device.name[0] != '\0');
    CHECK(memchr(device.name, '\0', sizeof device.name) != NULL);
    CHECK(device.reads_limit >= 1 && device.reads_chosen >= 1 && device.reads_chosen <= device.threads);
    CHECK(strcmp(multipool_limit_reason_str(device.limit_reason), "unknown") != 0);
    {
        /* A caller built against the first multipool_device gets its fields and nothing past them. */
        multipool_device old;
        memset(&old, 0xAB, sizeof old);
        old.struct_size = offsetof(multipool_device, reads_limit);
        CHECK_STATUS(multipool_session_device(session, results[0].device, &old), MULTIPOOL_OK);
        CHECK(old.index == device.index && old.threads == device.threads);
        CHECK(old.reads_limit == 0xABABABABu && old.disk_order == 0xABABABABu);
    }
    multipool_session_free(session);
    printf("known-answer vectors, %s: %u ok\n", name, (unsigned)count);
}

enum { BAD_MISSING, BAD_DIR, BAD_FIFO, BAD_SOCKET, BAD_DEVICE, BAD_EMPTY, BAD_NUL, BAD_LONG,
       BAD_LOOP, BAD_ODD_BYTES, BAD_COUNT };

static void test_bad_inputs(void)
{
    multipool_session *session = new_session("hdd:1", 0);
    multipool_result results[BAD_COUNT];
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

#define ENQUEUE(path, len, tag) CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)(path), (len), (tag)), MULTIPOOL_OK)
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
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)"x", 1, 99), MULTIPOOL_ERR_SESSION_FINISHED);
    collect(session, results, BAD_COUNT);

    CHECK_STATUS(results[BAD_MISSING].status, MULTIPOOL_ERR_NOT_FOUND);
    CHECK(results[BAD_MISSING].os_error == ENOENT);
    CHECK(results[BAD_MISSING].device == MULTIPOOL_DEVICE_NONE && results[BAD_MISSING].digest_len == 0);
    CHECK_STATUS(results[BAD_DIR].status, MULTIPOOL_ERR_IS_DIRECTORY);
    CHECK_STATUS(results[BAD_FIFO].status, MULTIPOOL_ERR_IS_FIFO);
    CHECK_STATUS(results[BAD_SOCKET].status, MULTIPOOL_ERR_IS_SOCKET);
    CHECK_STATUS(results[BAD_DEVICE].status, MULTIPOOL_ERR_IS_DEVICE);
    CHECK_STATUS(results[BAD_EMPTY].status, MULTIPOOL_ERR_NOT_FOUND);
    CHECK_STATUS(results[BAD_NUL].status, MULTIPOOL_ERR_INVALID_PATH);
    CHECK_STATUS(results[BAD_LONG].status, MULTIPOOL_ERR_NAME_TOO_LONG);
    CHECK(results[BAD_LONG].os_error == ENAMETOOLONG);
    CHECK_STATUS(results[BAD_LOOP].status, MULTIPOOL_ERR_SYMLINK_LOOP);
    CHECK_STATUS(results[BAD_ODD_BYTES].status, MULTIPOOL_OK);
    CHECK(results[BAD_ODD_BYTES].size == 3 && results[BAD_ODD_BYTES].digest[0] == 0xba);
    multipool_session_free(session);
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

static void enqueue_all(multipool_session *session, char **names, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)names[i], strlen(names[i]), i),
                     MULTIPOOL_OK);
    }
}

static void test_cancel(char **names)
{
    multipool_session *session = new_session("hdd:1,ssd:1,ram:1,unknown:1", 4096);
    multipool_result results[MANY], first;
    multipool_stats stats = {.struct_size = sizeof stats};
    size_t n = 0, i, cancelled = 0, done = 0;
    enqueue_all(session, names, MANY);
    CHECK_STATUS(multipool_session_poll(session, &first, sizeof(multipool_result), 1, -1, &n), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_cancel(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_cancel(session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)"x", 1, MANY), MULTIPOOL_ERR_SESSION_CANCELLED);
    memset(results, 0, sizeof results);
    {
        /* Every path still gets exactly one result; the one polled above counts too. */
        unsigned char seen[MANY];
        multipool_status status;
        memset(seen, 0, sizeof seen);
        seen[first.tag] = 1;
        results[first.tag] = first;
        n = 1;
        while ((status = multipool_session_poll(session, results, sizeof(multipool_result), 1, 10000, &i)) != MULTIPOOL_DONE) {
            CHECK(status == MULTIPOOL_OK);
            CHECK(i == 1 && results[0].tag < MANY && !seen[results[0].tag]);
            seen[results[0].tag] = 1;
            cancelled += results[0].status == MULTIPOOL_ERR_CANCELLED;
            done += results[0].status == MULTIPOOL_OK;
            n++;
        }
        CHECK(n == MANY);
    }
    CHECK(cancelled > 0);
    CHECK_STATUS(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), MULTIPOOL_OK);
    CHECK(stats.files_cancelled == cancelled);
    CHECK(stats.files_done + stats.files_failed + stats.files_cancelled == MANY);
    /* Every result delivered: abandon returns at once, and the session's threads (with nothing
     * left to wait for) free it on their own before the tests below end. */
    multipool_session_abandon(session);
    printf("cancel: %u cancelled, %u hashed, every tag once\n", (unsigned)cancelled,
           (unsigned)(done + (first.status == MULTIPOOL_OK)));
}

static void test_free_in_flight(char **names)
{
    multipool_session *session = new_session("hdd:1", 4096);
    multipool_result r;
    size_t n;
    enqueue_all(session, names, MANY);
    CHECK_STATUS(multipool_session_poll(session, &r, sizeof(multipool_result), 1, -1, &n), MULTIPOOL_OK);
    multipool_session_free(session); /* cancels, joins every thread, leaks nothing (valgrind checks) */
    session = new_session(NULL, 0);
    enqueue_all(session, names, MANY);
    multipool_session_free(session); /* freed before anything was polled or finished */
    multipool_session_free(new_session(NULL, 0)); /* never used */
    puts("free in flight: ok");
}


/* ---- Chunks (issue 27): chunker options, multipool_session_poll_events, multipool_event ---- */

/* Deterministic bytes (xorshift), as the Rust tests make them. */
static unsigned char *pseudo_random(size_t len, uint64_t seed)
{
    unsigned char *out = malloc(len + 1);
    uint64_t x = seed | 1;
    size_t i;
    CHECK(out != NULL);
    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (unsigned char)x;
    }
    return out;
}

/* Options with a chunker and nothing else set. */
static multipool_options chunk_options(uint32_t chunker)
{
    multipool_options options;
    CHECK_STATUS(multipool_options_init(&options), MULTIPOOL_OK);
    options.chunker = chunker;
    return options;
}

static void expect_refused(const multipool_options *options, multipool_status expected, int line)
{
    multipool_session *session = NULL;
    multipool_status got = multipool_session_new(options, &session);
    if (got != expected) {
        fprintf(stderr, "%s:%d: multipool_session_new returned %u (%s), expected %u\n", __FILE__, line, got,
                multipool_status_str(got), (unsigned)expected);
        exit(1);
    }
    CHECK(session == NULL);
}
#define REFUSED(options, expected) expect_refused(&(options), (expected), __LINE__)

static void test_chunk_options(void)
{
    multipool_options o;
    multipool_session *session = NULL;
    /* Accepted: each chunker with its defaults (fixed needs its size), every level, a key. */
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    multipool_session_free(session);
    for (o.chunk_level = 1; o.chunk_level <= 4; o.chunk_level++) { /* levels 0 to 3 */
        o.chunk_min = 64;
        o.chunk_avg = 256;
        o.chunk_max = 1024;
        CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
        multipool_session_free(session);
    }
    o = chunk_options(MULTIPOOL_CHUNKER_RESTIC);
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    multipool_session_free(session);
    o.chunk_polynomial = 0x2482734cacca49; /* irreducible, from restic's tests */
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    multipool_session_free(session);
    o = chunk_options(MULTIPOOL_CHUNKER_FIXED);
    o.chunk_avg = 1;
    o.flags = MULTIPOOL_FLAG_CHUNK_KEY | MULTIPOOL_FLAG_NO_FILE_DIGEST;
    memset(o.chunk_key, 7, sizeof o.chunk_key);
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    multipool_session_free(session);

    /* Refused with MULTIPOOL_ERR_INVALID_CHUNKER: sizes out of range, odd or out of order. */
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    o.chunk_min = 32;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_min = 65; /* odd */
    o.chunk_avg = 256;
    o.chunk_max = 1024;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_min = 2048; /* above the average */
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_min = 64;
    o.chunk_max = 128; /* below the average, and below 1 KiB */
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_max = ((uint64_t)16 << 20) + 2; /* past 16 MiB */
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_max = 0;
    o.chunk_avg = (uint64_t)8 << 20; /* past 4 MiB */
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_avg = UINT64_MAX;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* Level 4 (chunk_level 5), and far past it. */
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    o.chunk_level = 5;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_level = UINT32_MAX;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* restic: a reducible polynomial, one of degree 52 or 54. */
    o = chunk_options(MULTIPOOL_CHUNKER_RESTIC);
    o.chunk_polynomial = 0x38f1e565e288df;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_polynomial = 0x3DA3358B4DC173 >> 1;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_polynomial = (uint64_t)0x3DA3358B4DC173 << 1;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* Fixed: no size, or one past 16 MiB. */
    o = chunk_options(MULTIPOOL_CHUNKER_FIXED);
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_avg = ((uint64_t)16 << 20) + 1;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* Fields given to a chunker that does not take them. */
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    o.chunk_polynomial = 0x3DA3358B4DC173;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_RESTIC);
    o.chunk_level = 2;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_level = 0;
    o.chunk_min = (uint64_t)512 << 10;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_min = 0;
    o.chunk_avg = 1 << 20;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_avg = 0;
    o.chunk_max = (uint64_t)8 << 20;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_FIXED);
    o.chunk_avg = 4096;
    o.chunk_min = 64;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_min = 0;
    o.chunk_max = 8192;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_max = 0;
    o.chunk_level = 1;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_level = 0;
    o.chunk_polynomial = 0x3DA3358B4DC173;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* Chunk fields, a chunk digest, a key or no file digest without a chunker. */
    o = chunk_options(MULTIPOOL_CHUNKER_NONE);
    o.chunk_avg = 4096;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_NONE);
    o.chunk_digest = MULTIPOOL_CHUNK_DIGEST_SHA256;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_NONE);
    o.flags = MULTIPOOL_FLAG_CHUNK_KEY;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_NONE);
    o.flags = MULTIPOOL_FLAG_NO_FILE_DIGEST;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* An unknown chunker or chunk digest; keyed BLAKE3 without a key. */
    o = chunk_options(4);
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    o.chunk_digest = 4;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    o.chunk_digest = MULTIPOOL_CHUNK_DIGEST_BLAKE3_KEYED;
    REFUSED(o, MULTIPOOL_ERR_INVALID_CHUNKER);
    /* max_ready_chunks is a bound like max_ready_results: 0 is the default, any other is taken. */
    o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
    o.max_ready_chunks = 1;
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    multipool_session_free(session);
    /* A wake ends a poll of events that waits without limit, as it ends a poll of results. */
    {
        multipool_event e;
        size_t n = 99;
        uint64_t generation = 99;
        o = chunk_options(MULTIPOOL_CHUNKER_FASTCDC);
        CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
        CHECK_STATUS(multipool_session_wake_generation(session, &generation), MULTIPOOL_OK);
        CHECK_STATUS(multipool_session_wake(session), MULTIPOOL_OK);
        CHECK_STATUS(multipool_session_poll_events_wakeable(session, &e, sizeof e, 1, -1, generation, &n),
                     MULTIPOOL_WOKEN);
        CHECK(n == 0);
        CHECK_STATUS(multipool_session_poll_events_wakeable(session, &e, sizeof e, 1, 0, generation + 1, &n),
                     MULTIPOOL_TIMEOUT);
        multipool_session_free(session);
    }
    /* A caller built before the chunk fields: its options end before `chunker`, and its sessions
     * are as they were. */
    {
        multipool_options *old = malloc(offsetof(multipool_options, chunker));
        CHECK(old != NULL);
        o = chunk_options(MULTIPOOL_CHUNKER_NONE);
        memcpy(old, &o, offsetof(multipool_options, chunker));
        old->struct_size = offsetof(multipool_options, chunker);
        CHECK_STATUS(multipool_session_new(old, &session), MULTIPOOL_OK);
        multipool_session_free(session);
        free(old);
    }
    puts("chunk options: ok");
}

/* Writes LEN bytes of the file at PATH from OFFSET to the file OUT_PATH (a chunk as a file). */
static void copy_range(const char *path, uint64_t offset, uint64_t len, const char *out_path, FILE *append)
{
    FILE *in = fopen(path, "rb");
    unsigned char *bytes = malloc(len + 1);
    CHECK(in != NULL && bytes != NULL);
    CHECK(fseek(in, (long)offset, SEEK_SET) == 0);
    CHECK(fread(bytes, 1, len, in) == len);
    fclose(in);
    write_file(out_path, bytes, len);
    CHECK(fwrite(bytes, 1, len, append) == len);
    free(bytes);
}

/* Fixed-size chunks through poll_events (three events a call, at most two chunk events waiting,
 * so that the file pauses): each file's chunks come in offset order before its result, cover it,
 * and each chunk's SHA-256 is what a chunkless session computes for the chunk's bytes as a file;
 * the chunks put together rebuild the file. A missing file and an empty one: a result, no chunk. */
static void test_fixed_chunks_rebuild_a_file(void)
{
    enum { SIZE = 150001, CHUNK = 4096, COUNT = (SIZE + CHUNK - 1) / CHUNK };
    unsigned char *data = pseudo_random(SIZE, 42);
    char *path = scratch_path("chunky"), *empty = scratch_path("chunky-empty");
    char *missing = scratch_path("chunky-missing"), *rebuilt = scratch_path("chunky-rebuilt");
    multipool_options o = chunk_options(MULTIPOOL_CHUNKER_FIXED);
    multipool_session *session = NULL, *check = NULL;
    multipool_event events[3], chunks[2 * COUNT]; /* two attempts at most */
    multipool_result file_result, results[COUNT + 1];
    uint64_t next_offset = 0;
    size_t n = 0, i, nchunks = 0, results_seen = 0, counted = 0;
    multipool_status status;
    char *pieces[COUNT];
    FILE *joined;
    memset(&file_result, 0, sizeof file_result);
    write_file(path, data, SIZE);
    write_file(empty, data, 0);
    o.chunk_avg = CHUNK;
    o.chunk_digest = MULTIPOOL_CHUNK_DIGEST_SHA256;
    o.max_ready_chunks = 2;
    o.threads_spec = (const uint8_t *)"hdd:1,ssd:1,ram:1,unknown:1,network:1,removable:1";
    o.threads_spec_len = strlen((const char *)o.threads_spec);
    CHECK_STATUS(multipool_session_new(&o, &session), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)path, strlen(path), 1), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)empty, strlen(empty), 2), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)missing, strlen(missing), 3), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    /* This session's results come only as events. */
    CHECK_STATUS(multipool_session_poll(session, results, sizeof results[0], 1, 0, &n), MULTIPOOL_ERR_NEEDS_EVENT_POLL);
    CHECK_STATUS(multipool_session_poll_wakeable(session, results, sizeof results[0], 1, 0, 0, &n),
                 MULTIPOOL_ERR_NEEDS_EVENT_POLL);
    while ((status = multipool_session_poll_events(session, events, sizeof events[0], 3, 30000, &n)) != MULTIPOOL_DONE) {
        CHECK_STATUS(status, MULTIPOOL_OK);
        CHECK(n >= 1 && n <= 3);
        for (i = 0; i < n; i++) {
            const multipool_event *e = &events[i];
            if (e->kind == MULTIPOOL_EVENT_CHUNK) {
                CHECK(e->tag == 1); /* the empty and the missing file have no chunk */
                CHECK(file_result.tag == 0); /* no chunk after its file's result */
                CHECK(nchunks < sizeof chunks / sizeof chunks[0]);
                CHECK(e->attempt >= 1 && e->digest_len == 32 && e->reserved == 0);
                CHECK(e->result.status == 0 && e->result.tag == 0 && e->result.digest_len == 0);
                chunks[nchunks++] = *e;
                continue;
            }
            CHECK(e->kind == MULTIPOOL_EVENT_RESULT);
            CHECK(e->tag == e->result.tag && e->attempt == e->result.attempt);
            CHECK(e->index == 0 && e->offset == 0 && e->length == 0 && e->digest_len == 0);
            results_seen++;
            if (e->tag == 1) {
                file_result = e->result;
            } else if (e->tag == 2) {
                CHECK_STATUS(e->result.status, MULTIPOOL_OK);
                CHECK(e->result.chunks == 0 && e->result.size == 0 && e->result.attempt >= 1);
            } else {
                CHECK(e->tag == 3);
                CHECK_STATUS(e->result.status, MULTIPOOL_ERR_NOT_FOUND);
                CHECK(e->result.chunks == 0 && e->result.attempt == 0);
            }
        }
    }
    CHECK(n == 0 && results_seen == 3);
    CHECK_STATUS(file_result.status, MULTIPOOL_OK);
    CHECK(file_result.size == SIZE && file_result.chunks == COUNT && file_result.digest_len == 32);
    /* The chunks of the attempt the result names (a file this fresh may have been read twice). */
    joined = fopen(rebuilt, "wb");
    CHECK(joined != NULL);
    for (i = 0; i < nchunks; i++) {
        const multipool_event *c = &chunks[i];
        char name[32];
        if (c->attempt != file_result.attempt) {
            continue;
        }
        CHECK(c->index == counted && c->offset == next_offset);
        CHECK(c->length == (counted + 1 < COUNT ? CHUNK : SIZE - (COUNT - 1) * CHUNK));
        sprintf(name, "chunk-%u", (unsigned)counted);
        pieces[counted] = scratch_path(name);
        copy_range(path, c->offset, c->length, pieces[counted], joined);
        next_offset += c->length;
        counted++;
    }
    CHECK(fclose(joined) == 0);
    CHECK(counted == COUNT && next_offset == SIZE);
    printf("fixed-size chunks: %u chunk events, %u of attempt %u\n", (unsigned)nchunks, (unsigned)counted,
           (unsigned)file_result.attempt);
    multipool_session_free(session);

    /* Each chunk's digest, and the rebuilt file's, by a session without a chunker. */
    check = new_session(NULL, 0);
    for (i = 0; i < COUNT; i++) {
        CHECK_STATUS(multipool_session_enqueue(check, (const uint8_t *)pieces[i], strlen(pieces[i]), i), MULTIPOOL_OK);
    }
    CHECK_STATUS(multipool_session_enqueue(check, (const uint8_t *)rebuilt, strlen(rebuilt), COUNT), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(check), MULTIPOOL_OK);
    collect(check, results, COUNT + 1);
    for (i = 0, counted = 0; i < nchunks; i++) {
        if (chunks[i].attempt == file_result.attempt) {
            CHECK_STATUS(results[counted].status, MULTIPOOL_OK);
            CHECK(memcmp(results[counted].digest, chunks[i].digest, 32) == 0);
            counted++;
        }
    }
    CHECK(results[COUNT].size == SIZE && memcmp(results[COUNT].digest, file_result.digest, 32) == 0);
    multipool_session_free(check);
    for (i = 0; i < COUNT; i++) {
        unlink(pieces[i]);
        free(pieces[i]);
    }
    unlink(path);
    unlink(empty);
    unlink(rebuilt);
    free(path);
    free(empty);
    free(missing);
    free(rebuilt);
    free(data);
    puts("fixed-size chunks rebuild a file: ok");
}

/* event_size: the caller's sizeof(multipool_event). Smaller than the first multipool_event (which
 * is this one: there is no older) is refused; larger is written at the caller's stride with its
 * unknown tail zeroed. A session without a chunker delivers its results as events too. */
static void test_poll_events_sizes_and_results_as_events(void)
{
    enum { BIG = sizeof(multipool_event) + 24, FILES = 3 };
    char *abc = scratch_path("events-abc"), *missing = scratch_path("events-missing");
    multipool_session *session = new_session(NULL, 0);
    unsigned char *big = malloc(BIG * FILES);
    multipool_event *exact = malloc(sizeof *exact); /* exactly its size: valgrind and ASan watch the end */
    multipool_result old[2];
    size_t n = 0, got = 0, i;
    multipool_status status;
    CHECK(big != NULL && exact != NULL);
    write_file(abc, (const unsigned char *)"abc", 3);
    CHECK_STATUS(multipool_session_poll_events(session, exact, sizeof *exact - 1, 1, 0, &n), MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_poll_events(session, exact, offsetof(multipool_event, result) +
                                                                   offsetof(multipool_result, attempt),
                                               1, 0, &n),
                 MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_poll_events(session, exact, 0, 1, 0, &n), MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_poll_events(session, exact, SIZE_MAX, 1, 0, &n), MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_poll_events(session, exact, MULTIPOOL_MAX_STRUCT_SIZE + 1, 1, 0, &n),
                 MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_poll_events(session, exact, sizeof *exact, 0, 0, &n), MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_poll_events(session, NULL, sizeof *exact, 1, 0, &n), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll_events(session, exact, sizeof *exact, 1, 0, NULL), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll_events(NULL, exact, sizeof *exact, 1, 0, &n), MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_poll_events(session, exact, sizeof *exact, 1, 0, &n), MULTIPOOL_TIMEOUT);
    CHECK(n == 0);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)abc, strlen(abc), 10), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)missing, strlen(missing), 11), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)abc, strlen(abc), 12), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    /* The first event at exactly its size, the rest at a larger stride. */
    CHECK_STATUS(multipool_session_poll_events(session, exact, sizeof *exact, 1, -1, &n), MULTIPOOL_OK);
    CHECK(n == 1 && exact->kind == MULTIPOOL_EVENT_RESULT && exact->tag >= 10 && exact->tag <= 12);
    memset(big, 0xAB, BIG * FILES);
    while ((status = multipool_session_poll_events(session, (multipool_event *)(void *)big, BIG, FILES, 30000, &n)) ==
           MULTIPOOL_OK) {
        for (i = 0; i < n; i++) {
            size_t k;
            multipool_event e;
            for (k = sizeof(multipool_event); k < BIG; k++) {
                CHECK(big[i * BIG + k] == 0); /* the caller's fields this library lacks: zeroed */
            }
            memcpy(&e, big + i * BIG, sizeof e);
            CHECK(e.kind == MULTIPOOL_EVENT_RESULT && e.tag == e.result.tag && e.tag >= 10 && e.tag <= 12);
            CHECK(e.tag != exact->tag);
            CHECK_STATUS(e.result.status, e.tag == 11 ? MULTIPOOL_ERR_NOT_FOUND : MULTIPOOL_OK);
            got++;
        }
        for (i = n; i < FILES; i++) {
            CHECK(big[i * BIG] == 0xAB); /* nothing past what it said it wrote */
        }
        memset(big, 0xAB, BIG * FILES);
    }
    CHECK_STATUS(status, MULTIPOOL_DONE);
    CHECK(got == 2);
    multipool_session_free(session);

    /* Every event of a chunkless session is a result; its fields as poll would write them. */
    session = new_session(NULL, 0);
    for (i = 0; i < FILES; i++) {
        const char *p = i == 1 ? missing : abc;
        CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)p, strlen(p), 20 + i), MULTIPOOL_OK);
    }
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    got = 0;
    while ((status = multipool_session_poll_events(session, exact, sizeof *exact, 1, 30000, &n)) == MULTIPOOL_OK) {
        const multipool_event *e = exact;
        CHECK(n == 1 && e->kind == MULTIPOOL_EVENT_RESULT);
        CHECK(e->tag == e->result.tag && e->tag >= 20 && e->tag < 20 + FILES);
        CHECK(e->attempt == e->result.attempt && e->result.chunks == 0 && e->result.reserved == 0);
        CHECK(e->index == 0 && e->offset == 0 && e->length == 0 && e->digest_len == 0);
        if (e->tag == 21) {
            CHECK_STATUS(e->result.status, MULTIPOOL_ERR_NOT_FOUND);
            CHECK(e->result.attempt == 0 && e->result.device == MULTIPOOL_DEVICE_NONE);
        } else {
            CHECK_STATUS(e->result.status, MULTIPOOL_OK);
            CHECK(e->result.size == 3 && e->result.digest_len == 32 && e->result.digest[0] == 0xba);
            CHECK(e->result.attempt == 1 || e->result.attempt == 2);
        }
        got++;
    }
    CHECK_STATUS(status, MULTIPOOL_DONE);
    CHECK(got == FILES);
    multipool_session_free(session);

    /* A caller built before multipool_result grew: poll writes its first version and nothing
     * past it. */
    session = new_session(NULL, 0);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)abc, strlen(abc), 30), MULTIPOOL_OK);
    CHECK_STATUS(multipool_session_finish(session), MULTIPOOL_OK);
    memset(old, 0xAB, sizeof old);
    CHECK_STATUS(multipool_session_poll(session, old, offsetof(multipool_result, attempt), 1, -1, &n), MULTIPOOL_OK);
    CHECK(n == 1 && old[0].tag == 30 && old[0].digest[0] == 0xba && old[0].attempt == 0xABABABABu);
    multipool_session_free(session);
    unlink(abc);
    free(abc);
    free(missing);
    free(big);
    free(exact);
    puts("poll_events sizes, results as events: ok");
}


/* Prior records: a result carries the identity its file was hashed with (stat's fields); that
 * result made into a record answers the file MULTIPOOL_UNCHANGED, with the record's digest,
 * without reading it; a record that lies about one field, of another algorithm or length, or a
 * path without MULTIPOOL_RECORD_PRESENT is hashed. Records are read at the caller's stride. */
static void test_records_and_identities(void)
{
    char *path = scratch_path("recorded");
    const char *text = "recorded\n";
    struct stat st;
    multipool_session *session;
    multipool_result first[1], results[6];
    multipool_stats stats;
    struct {
        multipool_record record;
        uint64_t newer_field; /* a newer caller's field, left zero */
    } records[6];
    size_t lengths[6], i;
    uint64_t tags[6];
    char bytes[6 * 256];
    size_t total = 0;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    write_file(path, (const unsigned char *)text, strlen(text));
    sleep(2); /* older than the settle margin, so that a record may vouch for it */
    CHECK(stat(path, &st) == 0);

    session = new_session(NULL, 0);
    CHECK_STATUS(multipool_session_enqueue(session, (const uint8_t *)path, strlen(path), 0), MULTIPOOL_OK);
    multipool_session_finish(session);
    collect(session, first, 1);
    multipool_session_free(session);
    CHECK(first[0].status == MULTIPOOL_OK && first[0].has_identity == 1 && first[0].attempt == 1);
    CHECK(first[0].inode == (uint64_t)st.st_ino && first[0].device_id == (uint64_t)st.st_dev);
    CHECK(first[0].mode == (uint32_t)st.st_mode && first[0].size == (uint64_t)st.st_size);
    CHECK(first[0].mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    CHECK(first[0].ctime_ns == (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);

    memset(records, 0, sizeof records);
    for (i = 0; i < 6; i++) {
        multipool_record *r = &records[i].record;
        r->flags = MULTIPOOL_RECORD_PRESENT;
        r->algorithm = MULTIPOOL_ALGORITHM_SHA256;
        r->size = first[0].size;
        r->mtime_ns = first[0].mtime_ns;
        r->ctime_ns = first[0].ctime_ns;
        r->inode = first[0].inode;
        r->digest_len = 32;
        memset(r->digest, 0xAB, 32); /* what the caller stored: returned only if it vouches */
        lengths[i] = strlen(path);
        tags[i] = i;
        memcpy(bytes + total, path, lengths[i]);
        total += lengths[i];
    }
    records[1].record.size += 1;                        /* lies about the size */
    records[2].record.algorithm = MULTIPOOL_ALGORITHM_BLAKE3; /* another algorithm */
    records[3].record.digest_len = 16;                  /* a digest of the wrong length */
    records[4].record.flags = 0;                        /* no record */
    records[5].record.flags |= MULTIPOOL_RECORD_HAS_DEVICE;
    records[5].record.device_id = first[0].device_id;

    session = new_session(NULL, 0);
    CHECK_STATUS(multipool_session_enqueue_records(session, (const uint8_t *)bytes, total, lengths, tags,
                                                   &records[0].record, sizeof(multipool_record) - 1, 6),
                 MULTIPOOL_ERR_STRUCT_SIZE);
    CHECK_STATUS(multipool_session_enqueue_records(session, (const uint8_t *)bytes, total, lengths, tags,
                                                   NULL, sizeof records[0], 6),
                 MULTIPOOL_ERR_NULL_POINTER);
    CHECK_STATUS(multipool_session_enqueue_records(session, (const uint8_t *)bytes, total, lengths, tags,
                                                   &records[0].record, sizeof records[0], 6),
                 MULTIPOOL_OK);
    multipool_session_finish(session);
    collect(session, results, 6);
    CHECK_STATUS(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), MULTIPOOL_OK);
    multipool_session_free(session);
    for (i = 0; i < 6; i++) {
        int vouched = i == 0 || i == 5;
        CHECK(results[i].status == (vouched ? MULTIPOOL_UNCHANGED : MULTIPOOL_OK));
        CHECK(results[i].has_identity == 1 && results[i].inode == first[0].inode);
        if (vouched) {
            CHECK(results[i].digest[0] == 0xAB && results[i].attempt == 0);
        } else {
            CHECK(memcmp(results[i].digest, first[0].digest, 32) == 0);
        }
    }
    CHECK(stats.files_unchanged == 2 && stats.files_done == 4);

    /* The policy: unknown bits are refused; MTIME_SIZE ignores a lying inode and ctime, and
     * records go with paths relative to a directory too. */
    {
        multipool_options options;
        multipool_session *refused = NULL;
        char *dir = strdup(path);
        char *slash;
        int dirfd;
        size_t one = strlen("recorded");
        uint64_t tag = 0;
        CHECK(dir != NULL);
        slash = strrchr(dir, '/');
        CHECK(slash != NULL);
        *slash = '\0';
        CHECK_STATUS(multipool_options_init(&options), MULTIPOOL_OK);
        CHECK(options.record_policy == MULTIPOOL_RECORD_POLICY_RESTIC);
        options.record_policy = 1u << 7;
        CHECK_STATUS(multipool_session_new(&options, &refused), MULTIPOOL_ERR_INVALID_ARGUMENT);
        options.record_policy = MULTIPOOL_RECORD_POLICY_MTIME_SIZE;
        CHECK_STATUS(multipool_session_new(&options, &session), MULTIPOOL_OK);
        records[0].record.inode += 1;
        records[0].record.ctime_ns -= 1;
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(dirfd >= 0);
        CHECK_STATUS(multipool_session_enqueue_at(session, dirfd, (const uint8_t *)"recorded", one, &one, &tag,
                                                  &records[0].record, sizeof records[0], 1),
                     MULTIPOOL_OK);
        CHECK(close(dirfd) == 0);
        multipool_session_finish(session);
        collect(session, results, 1);
        multipool_session_free(session);
        CHECK(results[0].status == MULTIPOOL_UNCHANGED && results[0].digest[0] == 0xAB);
        free(dir);
    }
    CHECK(strcmp(multipool_status_str(MULTIPOOL_UNCHANGED), "unknown multipool status code") != 0);
    free(path);
}

/* Paths relative to a directory descriptor: resolved from it even after it is renamed and the
 * caller closed its own descriptor; a descriptor that is not a directory, or negative, is
 * refused; records go with them. */
static void test_enqueue_at(void)
{
    char *dir_path = scratch_path("at-dir");
    char *moved = scratch_path("at-moved");
    char *file_path;
    size_t n = strlen(dir_path) + 16, lengths[2] = {2, 2};
    uint64_t tags[2] = {0, 1};
    multipool_session *session;
    multipool_result results[2];
    int dirfd, filefd;
    CHECK(mkdir(dir_path, 0755) == 0);
    file_path = malloc(n);
    CHECK(file_path != NULL);
    snprintf(file_path, n, "%s/f0", dir_path);
    write_file(file_path, (const unsigned char *)"abc", 3);
    snprintf(file_path, n, "%s/f1", dir_path);
    write_file(file_path, (const unsigned char *)"abc", 3);
    dirfd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    filefd = open(file_path, O_RDONLY | O_CLOEXEC);
    CHECK(dirfd >= 0 && filefd >= 0);

    session = new_session(NULL, 0);
    CHECK_STATUS(multipool_session_enqueue_at(session, -1, (const uint8_t *)"f0f1", 4, lengths, tags, NULL, 0, 2),
                 MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_enqueue_at(session, filefd, (const uint8_t *)"f0f1", 4, lengths, tags, NULL, 0, 2),
                 MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(multipool_session_enqueue_at(session, dirfd, (const uint8_t *)"f0f1", 4, lengths, tags, NULL, 0, 2),
                 MULTIPOOL_OK);
    CHECK(close(dirfd) == 0); /* the session holds its own */
    /* A number that is no longer an open descriptor: refused, nothing queued. */
    CHECK_STATUS(multipool_session_enqueue_at(session, dirfd, (const uint8_t *)"f0f1", 4, lengths, tags, NULL, 0, 2),
                 MULTIPOOL_ERR_INVALID_ARGUMENT);
    CHECK(rename(dir_path, moved) == 0);
    multipool_session_finish(session);
    collect(session, results, 2);
    multipool_session_free(session);
    CHECK(results[0].status == MULTIPOOL_OK && results[1].status == MULTIPOOL_OK);
    CHECK(results[0].digest[0] == 0xba && results[0].digest[1] == 0x78); /* SHA-256("abc") */
    CHECK(close(filefd) == 0);
    free(file_path);
    free(dir_path);
    free(moved);
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
    test_zero_means_default();
    test_buffer_wake_and_ready_fd();
    test_vectors(argv[2], "sha256", MULTIPOOL_ALGORITHM_SHA256, 32);
    test_vectors(argv[2], "sha512", MULTIPOOL_ALGORITHM_SHA512, 64);
    test_vectors(argv[2], "blake3", MULTIPOOL_ALGORITHM_BLAKE3, 32);
    test_bad_inputs();
    test_chunk_options();
    test_fixed_chunks_rebuild_a_file();
    test_poll_events_sizes_and_results_as_events();
    test_records_and_identities();
    test_enqueue_at();
    names = make_files(MANY, 65536);
    test_cancel(names);
    test_free_in_flight(names);
    free_files(names, MANY);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
