/*
 * smallio: what the syscalls of a small file cost, and what batching them through io_uring
 * saves: one experiment for issue 22 (small files) and 26 (reads as a source).
 *
 *   smallio MODE THREADS LISTFILE > sums     (LISTFILE: NUL-separated paths, e.g. find -print0)
 *
 * MODE 4:     statx(path), open, read, close                  (6b1306b's syscalls per file)
 * MODE 5:     statx(path), open, read, fstat, close           (the settle rule's look after the read)
 * MODE uring: the same five, in batches of BATCH files per thread through io_uring: statx and
 *             openat of a batch in one submission, then read + statx(fd, "") for each, then close
 *             (submitted with the next batch's statx and openat).
 * Every mode hashes each file with OpenSSL's SHA-256 and prints "HEX  NAME" like sha256sum.
 * The checks after the read compare size and mtime only: enough to cost what the library's
 * check costs (one call), not a replacement for it. Run by benches/smallio.py.
 *
 * In the uring mode the look after the read is linked to it with IOSQE_IO_HARDLINK: a plain
 * link is cancelled (ECANCELED) when the read returns fewer bytes than asked, which a read that
 * meets the end of a small file always does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 32
#define BUFSZ 65536

static char **names;
static size_t count, next_index;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER, out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *mode;

static void emit(EVP_MD_CTX *ctx, const unsigned char *buf, size_t n, const char *name)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len, j;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, buf, n);
    EVP_DigestFinal_ex(ctx, d, &len);
    for (j = 0; j < len; j++)
        sprintf(hex + 2 * j, "%02x", d[j]);
    pthread_mutex_lock(&out_lock);
    printf("%s  %s\n", hex, name);
    pthread_mutex_unlock(&out_lock);
}

static size_t take(size_t want, size_t *first)
{
    size_t got;
    pthread_mutex_lock(&lock);
    *first = next_index;
    got = count - next_index < want ? count - next_index : want;
    next_index += got;
    pthread_mutex_unlock(&lock);
    return got;
}

static void *plain(void *arg)
{
    unsigned char *buf = malloc(BUFSZ);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int settle = *(int *)arg;
    size_t i;
    while (take(1, &i)) {
        struct statx before;
        struct stat after;
        ssize_t n;
        int fd;
        if (statx(AT_FDCWD, names[i], AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &before) != 0)
            continue;
        fd = open(names[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        n = read(fd, buf, BUFSZ);
        if (settle && (fstat(fd, &after) != 0 || after.st_size != (off_t)before.stx_size ||
                       after.st_mtim.tv_nsec != before.stx_mtime.tv_nsec)) {
            close(fd);
            continue;
        }
        close(fd);
        if (n >= 0)
            emit(ctx, buf, (size_t)n, names[i]);
    }
    return NULL;
}

static void *uring(void *arg)
{
    struct io_uring ring;
    unsigned char *bufs = malloc((size_t)BATCH * BUFSZ);
    struct statx before[BATCH], after[BATCH];
    int fds[BATCH], pending_close[BATCH], n_close = 0, res_read[BATCH];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t first, got, k;
    (void)arg;
    if (io_uring_queue_init(4 * BATCH, &ring, 0) != 0) {
        fprintf(stderr, "io_uring refused\n");
        exit(2);
    }
    while ((got = take(BATCH, &first)) > 0 || n_close) {
        struct io_uring_cqe *cqe;
        unsigned submitted = 0;
        for (k = 0; k < (size_t)n_close; k++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_close(sqe, pending_close[k]);
            io_uring_sqe_set_data64(sqe, 3000 + k);
            submitted++;
        }
        n_close = 0;
        for (k = 0; k < got; k++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_statx(sqe, AT_FDCWD, names[first + k], AT_SYMLINK_NOFOLLOW,
                                STATX_BASIC_STATS, &before[k]);
            io_uring_sqe_set_data64(sqe, 1000 + k);
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_openat(sqe, AT_FDCWD, names[first + k], O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
            io_uring_sqe_set_data64(sqe, 2000 + k);
            submitted += 2;
            fds[k] = -1;
        }
        if (!submitted)
            break;
        io_uring_submit_and_wait(&ring, submitted);
        for (k = 0; k < submitted; k++) {
            io_uring_wait_cqe(&ring, &cqe);
            unsigned long long d = cqe->user_data;
            if (d >= 2000 && d < 3000)
                fds[d - 2000] = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
        }
        if (!got)
            break;
        submitted = 0;
        for (k = 0; k < got; k++) {
            struct io_uring_sqe *sqe;
            if (fds[k] < 0)
                continue;
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_read(sqe, fds[k], bufs + k * BUFSZ, BUFSZ, 0);
            io_uring_sqe_set_data64(sqe, 4000 + k);
            sqe->flags |= IOSQE_IO_HARDLINK;
            sqe = io_uring_get_sqe(&ring);
            io_uring_prep_statx(sqe, fds[k], "", AT_EMPTY_PATH, STATX_BASIC_STATS, &after[k]);
            io_uring_sqe_set_data64(sqe, 5000 + k);
            submitted += 2;
        }
        io_uring_submit_and_wait(&ring, submitted);
        for (k = 0; k < submitted; k++) {
            io_uring_wait_cqe(&ring, &cqe);
            unsigned long long d = cqe->user_data;
            if (d >= 4000 && d < 5000)
                res_read[d - 4000] = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
        }
        for (k = 0; k < got; k++) {
            if (fds[k] < 0)
                continue;
            pending_close[n_close++] = fds[k];
            if (res_read[k] >= 0 && after[k].stx_size == before[k].stx_size &&
                after[k].stx_mtime.tv_nsec == before[k].stx_mtime.tv_nsec)
                emit(ctx, bufs + k * BUFSZ, (size_t)res_read[k], names[first + k]);
        }
    }
    io_uring_queue_exit(&ring);
    return NULL;
}

int main(int argc, char **argv)
{
    static char data[64 << 20];
    size_t len, i, cap = 1024;
    int threads, settle;
    FILE *list;
    pthread_t tid[64];
    if (argc != 4 || (threads = atoi(argv[2])) < 1 || threads > 64 || !(list = fopen(argv[3], "rb")))
        return fprintf(stderr, "usage: smallio 4|5|uring THREADS LISTFILE\n"), 2;
    mode = argv[1];
    settle = strcmp(mode, "5") == 0;
    len = fread(data, 1, sizeof data - 1, list);
    names = malloc(cap * sizeof *names);
    for (i = 0; i < len;) {
        if (count == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        names[count++] = data + i;
        i += strlen(data + i) + 1;
    }
    for (i = 0; i < (size_t)threads; i++)
        pthread_create(&tid[i], NULL, strcmp(mode, "uring") == 0 ? uring : plain, &settle);
    for (i = 0; i < (size_t)threads; i++)
        pthread_join(tid[i], NULL);
    return 0;
}
