/*
 * refhash: the reference read-and-hash loop benches/compare.py measures multipool against.
 *
 *   find DIR -type f -print0 | refhash THREADS [read] > sums
 *
 * THREADS threads take file names from a shared list, read each with a 1 MiB buffer and hash it
 * with OpenSSL's SHA-256, and print "HEX  NAME" like sha256sum. No device awareness, no
 * ordering, no change detection: the least work anything that reads and hashes files can do.
 * With "read" they only read, print nothing: the raw read rate of the device with THREADS
 * readers, each reading as the hashing loop does.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char **names;
static size_t count;
static size_t next_index;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int read_only;

static void *worker(void *arg)
{
    unsigned char *buf = malloc(1 << 20), digest[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *sha256 = EVP_sha256();
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    (void)arg;
    for (;;) {
        size_t i;
        unsigned int len, j;
        ssize_t n;
        int fd;
        pthread_mutex_lock(&lock);
        i = next_index++;
        pthread_mutex_unlock(&lock);
        if (i >= count) {
            break;
        }
        fd = open(names[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(names[i]);
            continue;
        }
        EVP_DigestInit_ex(ctx, sha256, NULL);
        while ((n = read(fd, buf, 1 << 20)) > 0) {
            if (!read_only) {
                EVP_DigestUpdate(ctx, buf, (size_t)n);
            }
        }
        close(fd);
        if (read_only) {
            continue;
        }
        EVP_DigestFinal_ex(ctx, digest, &len);
        for (j = 0; j < len; j++) {
            sprintf(hex + 2 * j, "%02x", digest[j]);
        }
        printf("%s  %s\n", hex, names[i]); /* stdio locks per call: lines never interleave */
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, t;
    size_t cap = 1024, used = 0, got;
    char *list = malloc(cap), *p;
    pthread_t *ids;
    read_only = argc > 2 && strcmp(argv[2], "read") == 0;
    while ((got = fread(list + used, 1, cap - used, stdin)) > 0) {
        used += got;
        if (used == cap) {
            list = realloc(list, cap *= 2);
        }
    }
    for (p = list; p < list + used; p += strlen(p) + 1) {
        count++;
    }
    names = malloc(count * sizeof *names);
    count = 0;
    for (p = list; p < list + used; p += strlen(p) + 1) {
        names[count++] = p;
    }
    ids = malloc((size_t)(threads > 0 ? threads : 1) * sizeof *ids);
    for (t = 0; t < threads; t++) {
        pthread_create(&ids[t], NULL, worker, NULL);
    }
    for (t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
    }
    free(ids);
    free(names);
    free(list);
    return 0;
}
