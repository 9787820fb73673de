/*
 * swift_api_cost: the C side of benches/swift_api.sh. What a C caller spends per file with the
 * batched form the Swift package uses: laying 256 paths end to end and handing them over with
 * multipool_session_enqueue_buffer, then taking the results with multipool_session_poll (256 per
 * call, timeout 0) and looking each one's path up by its tag. Polling starts once every file is
 * hashed, so waiting is not counted, nor is the hashing. Swift's twin is
 * benches/swift-api/Sources/swift-api-cost/main.swift.
 *
 *   swift_api_cost DIR N    N empty files in DIR (made if missing); prints one table row
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "multipool.h"

#define BATCH 256

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(multipool_status status, const char *what)
{
    if (status != MULTIPOOL_OK && status != MULTIPOOL_DONE && status != MULTIPOOL_TIMEOUT) {
        fprintf(stderr, "%s: %s\n", what, multipool_status_str(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static multipool_result results[BATCH];
    static unsigned char bytes[BATCH * 64];
    size_t lengths[BATCH];
    uint64_t tags[BATCH];
    multipool_options options;
    multipool_session *session;
    multipool_stats stats = {.struct_size = sizeof stats};
    multipool_status status;
    char **names;
    size_t n, i, k, got = 0, count, used;
    unsigned sink = 0;
    double t, added, delivered;
    if (argc != 3) {
        fputs("usage: swift_api_cost DIR N\n", stderr);
        return 2;
    }
    n = strtoul(argv[2], NULL, 10);
    names = malloc(n * sizeof *names);
    mkdir(argv[1], 0755);
    for (i = 0; i < n; i++) {
        FILE *f;
        names[i] = malloc(strlen(argv[1]) + 32);
        sprintf(names[i], "%s/e%07zu", argv[1], i);
        if (access(names[i], F_OK) != 0 && (f = fopen(names[i], "w")) != NULL) {
            fclose(f);
        }
    }
    check(multipool_options_init(&options), "options");
    options.max_ready_results = (uint32_t)n; /* every result may wait: polling starts at the end */
    check(multipool_session_new(&options, &session), "session");

    t = now();
    for (i = 0; i < n; i += BATCH) {
        size_t batch = n - i < BATCH ? n - i : BATCH;
        used = 0;
        for (k = 0; k < batch; k++) {
            size_t len = strlen(names[i + k]);
            memcpy(bytes + used, names[i + k], len);
            used += len;
            lengths[k] = len;
            tags[k] = i + k;
        }
        check(multipool_session_enqueue_buffer(session, bytes, used, lengths, tags, batch), "enqueue_buffer");
    }
    added = now() - t;
    check(multipool_session_finish(session), "finish");
    do {
        usleep(1000);
        check(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), "stats");
    } while (stats.files_done + stats.files_failed < n);

    t = now();
    do {
        status = multipool_session_poll(session, results, sizeof results[0], BATCH, 0, &count);
        check(status, "poll");
        for (k = 0; k < count; k++) {
            /* What a caller does with a result: its path by tag, its digest. */
            sink += (unsigned)names[results[k].tag][0] + results[k].digest[0] + (unsigned)results[k].status;
        }
        got += count;
    } while (status != MULTIPOOL_DONE);
    delivered = now() - t;
    if (got != n || stats.files_failed != 0) {
        fprintf(stderr, "%zu results (%llu failed) for %zu paths\n", got, (unsigned long long)stats.files_failed, n);
        return 1;
    }
    multipool_session_free(session);
    printf("| C enqueue_buffer + poll | %.0f | %.0f | %u |\n", added / (double)n * 1e9, delivered / (double)n * 1e9,
           sink & 1);
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return 0;
}
