/*
 * abi_cost: what the C ABI itself costs the caller, and what queueing a million paths costs in
 * memory. Run by benches/abi.sh.
 *
 *   abi_cost calls DIR N    time spent inside multipool_session_enqueue / _enqueue_many /
 *                           _enqueue_buffer / _poll, per file, for N empty files in DIR (tmpfs:
 *                           no I/O to speak of). Polling starts once every file is hashed, so
 *                           waiting is not counted.
 *   abi_cost memory M       queue M paths (about 60 bytes each) without polling, then drain;
 *                           report peak RSS growth against the path bytes.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "multipool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: what the calls cost it, without the time it spent waiting
 * for a core that the library's threads held. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(multipool_status status, const char *what)
{
    if (status != MULTIPOOL_OK && status != MULTIPOOL_DONE && status != MULTIPOOL_TIMEOUT) {
        fprintf(stderr, "%s: %s\n", what, multipool_status_str(status));
        exit(1);
    }
}

static multipool_session *session_for(size_t n)
{
    multipool_options options;
    multipool_session *session;
    check(multipool_options_init(&options), "options");
    options.max_ready_results = (uint32_t)n; /* every result may wait: polling starts at the end */
    check(multipool_session_new(&options, &session), "session");
    return session;
}

static void wait_until_hashed(multipool_session *session, size_t n)
{
    multipool_stats stats = {.struct_size = sizeof stats};
    do {
        usleep(1000);
        check(multipool_session_stats(session, MULTIPOOL_DEVICE_NONE, &stats), "stats");
    } while (stats.files_done + stats.files_failed < n);
}

/* Seconds spent inside poll draining every result, `capacity` (at most 1024) per call; the
 * calling thread's CPU seconds in it into *cpu. */
static double drain(multipool_session *session, size_t n, size_t capacity, double *cpu)
{
    static multipool_result results[1024];
    size_t got = 0, count;
    double spent = 0, t, c;
    multipool_status status;
    *cpu = 0;
    for (;;) {
        c = cpu_now(); /* outside the wall-clock time */
        t = now();
        status = multipool_session_poll(session, results, sizeof(multipool_result), capacity, 0, &count);
        spent += now() - t;
        *cpu += cpu_now() - c;
        check(status, "poll");
        got += count;
        if (status == MULTIPOOL_DONE) {
            break;
        }
    }
    if (got != n) {
        fprintf(stderr, "got %zu results for %zu paths\n", got, n);
        exit(1);
    }
    return spent;
}

static int calls(const char *dir, size_t n)
{
    char **names = malloc(n * sizeof *names);
    multipool_path *paths = malloc(n * sizeof *paths);
    size_t i;
    size_t *lengths = malloc(n * sizeof *lengths);
    uint64_t *tags = malloc(n * sizeof *tags);
    uint8_t *bytes;
    size_t total = 0, at = 0;
    double t, c, enqueue, enqueue_many, enqueue_buffer, poll_single, poll_many, poll_buffer;
    double cpu_many, cpu_buffer, cpu_poll, cpu_unused;
    multipool_session *session;
    mkdir(dir, 0755);
    for (i = 0; i < n; i++) {
        FILE *f;
        names[i] = malloc(strlen(dir) + 32);
        sprintf(names[i], "%s/e%07zu", dir, i);
        if (access(names[i], F_OK) != 0 && (f = fopen(names[i], "w")) != NULL) {
            fclose(f);
        }
        paths[i].path = (const uint8_t *)names[i];
        paths[i].len = strlen(names[i]);
        paths[i].tag = i;
        lengths[i] = paths[i].len;
        tags[i] = i;
        total += paths[i].len;
    }
    /* enqueue_buffer's form, as the Go binding passes it: the paths end to end (laid out here,
     * outside the timing), lengths and tags in plain arrays. */
    bytes = malloc(total);
    for (i = 0; i < n; i++) {
        memcpy(bytes + at, names[i], lengths[i]);
        at += lengths[i];
    }

    session = session_for(n);
    t = now();
    for (i = 0; i < n; i++) {
        check(multipool_session_enqueue(session, paths[i].path, paths[i].len, i), "enqueue");
    }
    enqueue = now() - t;
    check(multipool_session_finish(session), "finish");
    wait_until_hashed(session, n);
    poll_single = drain(session, n, 1024, &cpu_unused);
    multipool_session_free(session);

    session = session_for(n);
    c = cpu_now();
    t = now();
    for (i = 0; i < n; i += 256) {
        check(multipool_session_enqueue_many(session, paths + i, n - i < 256 ? n - i : 256), "enqueue_many");
    }
    enqueue_many = now() - t;
    cpu_many = cpu_now() - c;
    check(multipool_session_finish(session), "finish");
    wait_until_hashed(session, n);
    poll_many = drain(session, n, 1024, &cpu_poll);
    cpu_many += cpu_poll;
    multipool_session_free(session);

    /* As the Go binding calls the library: enqueue_buffer and poll, 256 per call each. */
    session = session_for(n);
    c = cpu_now();
    t = now();
    for (i = 0, at = 0; i < n; i += 256) {
        size_t count = n - i < 256 ? n - i : 256, len = 0, j;
        for (j = i; j < i + count; j++) {
            len += lengths[j];
        }
        check(multipool_session_enqueue_buffer(session, bytes + at, len, lengths + i, tags + i, count),
              "enqueue_buffer");
        at += len;
    }
    enqueue_buffer = now() - t;
    cpu_buffer = cpu_now() - c;
    check(multipool_session_finish(session), "finish");
    wait_until_hashed(session, n);
    poll_buffer = drain(session, n, 256, &cpu_poll);
    cpu_buffer += cpu_poll;
    multipool_session_free(session);

    printf("| path | ns per file |\n|---|---:|\n");
    printf("| multipool_session_enqueue, one call per path | %.0f |\n", enqueue / (double)n * 1e9);
    printf("| multipool_session_enqueue_many, 256 per call | %.0f |\n", enqueue_many / (double)n * 1e9);
    printf("| multipool_session_poll, 1024 per call | %.0f |\n", (poll_single + poll_many) / 2 / (double)n * 1e9);
    printf("| enqueue + poll, one path per enqueue | %.0f |\n", (enqueue + poll_single) / (double)n * 1e9);
    printf("| enqueue_many + poll | %.0f |\n", (enqueue_many + poll_many) / (double)n * 1e9);
    printf("| multipool_session_enqueue_buffer, 256 per call | %.0f |\n", enqueue_buffer / (double)n * 1e9);
    printf("| multipool_session_poll, 256 per call | %.0f |\n", poll_buffer / (double)n * 1e9);
    printf("| enqueue_buffer + poll, 256 per call each (the Go binding's calls) | %.0f |\n",
           (enqueue_buffer + poll_buffer) / (double)n * 1e9);
    printf("| enqueue_many + poll, CPU time of the calling thread | %.0f |\n", cpu_many / (double)n * 1e9);
    printf("| enqueue_buffer + poll, CPU time of the calling thread | %.0f |\n", cpu_buffer / (double)n * 1e9);
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    free(paths);
    free(lengths);
    free(tags);
    free(bytes);
    return 0;
}

static long peak_rss_kib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

static int memory(size_t m)
{
    multipool_session *session;
    multipool_options options;
    char path[128];
    size_t i, path_bytes = 0;
    double cpu;
    long before;
    check(multipool_options_init(&options), "options");
    check(multipool_session_new(&options, &session), "session");
    before = peak_rss_kib();
    for (i = 0; i < m; i++) {
        /* Missing files: each fails at once, so results, not hashing, would pile up. */
        int len = sprintf(path, "/nonexistent/multipool/benchmark/a-directory/file-%09zu.dat", i);
        path_bytes += (size_t)len;
        check(multipool_session_enqueue(session, (const uint8_t *)path, (size_t)len, i), "enqueue");
    }
    check(multipool_session_finish(session), "finish");
    sleep(1); /* let the dispatcher run ahead as far as the bounds allow */
    drain(session, m, 1024, &cpu);
    multipool_session_free(session);
    printf("| paths queued | path bytes MiB | peak RSS growth MiB | growth - path bytes MiB |\n");
    printf("|---:|---:|---:|---:|\n");
    printf("| %zu | %.1f | %.1f | %.1f |\n", m, (double)path_bytes / 1048576.0,
           (double)(peak_rss_kib() - before) / 1024.0,
           (double)(peak_rss_kib() - before) / 1024.0 - (double)path_bytes / 1048576.0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "calls") == 0) {
        return calls(argv[2], strtoul(argv[3], NULL, 10));
    }
    if (argc == 3 && strcmp(argv[1], "memory") == 0) {
        return memory(strtoul(argv[2], NULL, 10));
    }
    fputs("usage: abi_cost calls DIR N | abi_cost memory M\n", stderr);
    return 2;
}
