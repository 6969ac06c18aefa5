/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "scratch.h"

#define BLOCK 64        /* of the XChaCha20 key stream */
#define CHUNK (64 * 1024)

typedef struct Scratch {
        int fd;
        off_t pos;
        uint8_t key[crypto_stream_xchacha20_KEYBYTES];
        uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES];
        uint8_t buf[CHUNK];
} Scratch;

/* XORs N bytes at file offset POS with the key stream: a stream cipher,
 * so any offset can be read or written again. */
static void xor_at(const Scratch *s, uint8_t *p, size_t n, off_t pos) {
        size_t skip = (size_t) pos % BLOCK;
        if (skip > 0 && n > 0) {
                uint8_t stream[BLOCK] = {};
                size_t k = MIN(n, BLOCK - skip);
                crypto_stream_xchacha20_xor_ic(stream, stream, BLOCK, s->nonce, (uint64_t) pos / BLOCK, s->key);
                for (size_t i = 0; i < k; i++)
                        p[i] ^= stream[skip + i];
                sodium_memzero(stream, sizeof stream);
                p += k, n -= k, pos += (off_t) k;
        }
        if (n > 0)
                crypto_stream_xchacha20_xor_ic(p, p, n, s->nonce, (uint64_t) pos / BLOCK, s->key);
}

static ssize_t scratch_read(void *cookie, char *buf, size_t size) {
        Scratch *s = cookie;
        ssize_t n;
        while ((n = pread(s->fd, buf, size, s->pos)) < 0 && errno == EINTR)
                ;
        if (n <= 0)
                return n;
        xor_at(s, (uint8_t *) buf, (size_t) n, s->pos);
        s->pos += n;
        return n;
}

static ssize_t scratch_write(void *cookie, const char *buf, size_t size) {
        Scratch *s = cookie;
        size_t done = 0;
        while (done < size) {
                size_t n = MIN(size - done, sizeof s->buf);
                memcpy(s->buf, buf + done, n);
                xor_at(s, s->buf, n, s->pos);
                ssize_t k = pwrite(s->fd, s->buf, n, s->pos);
                if (k < 0 && errno == EINTR)
                        continue;
                /* glibc takes a negative return for a count: 0 is its error */
                if (k <= 0)
                        return (ssize_t) done;
                s->pos += k;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

static int scratch_seek(void *cookie, off64_t *offset, int whence) {
        Scratch *s = cookie;
        off_t base = 0;
        struct stat st;

        if (whence == SEEK_CUR)
                base = s->pos;
        else if (whence == SEEK_END) {
                if (fstat(s->fd, &st) < 0)
                        return -1;
                base = st.st_size;
        } else if (whence != SEEK_SET) {
                errno = EINVAL;
                return -1;
        }
        if (*offset < -base) {
                errno = EINVAL;
                return -1;
        }
        s->pos = *offset = base + *offset;
        return 0;
}

static int scratch_close(void *cookie) {
        Scratch *s = cookie;
        int r = close(s->fd);
        sodium_memzero(s, sizeof *s);
        free(s);
        return r;
}

FILE *scratch_wrap(int fd) {
        Scratch *s = calloc(1, sizeof *s);
        if (!s || sodium_init() < 0) {
                free(s);
                errno = ENOMEM;
                return NULL;
        }
        s->fd = fd;
        randombytes_buf(s->key, sizeof s->key);
        randombytes_buf(s->nonce, sizeof s->nonce);
        FILE *f = fopencookie(s, "w+", (cookie_io_functions_t) {
                .read = scratch_read, .write = scratch_write, .seek = scratch_seek, .close = scratch_close,
        });
        if (!f) {
                sodium_memzero(s, sizeof *s);
                free(s);
                return NULL;
        }
        return f;
}

FILE *scratch_open(const char *archive) {
        _cleanup_free_ char *dir = strdup(archive);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!dir)
                return NULL;
        if (slash)
                slash[slash == dir] = 0;        /* "/a" is in "/" */
        else
                strcpy(dir, ".");
        const char *candidates[] = { dir, getenv("TMPDIR"), "/var/tmp", "/tmp" };
        int error = -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                if (!candidates[i])
                        continue;
                _cleanup_close_ int dir_fd = open(candidates[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int fd = dir_fd >= 0 ? spool_open(dir_fd) : -errno;
                if (fd < 0) {
                        error = fd;
                        continue;
                }
                FILE *f = scratch_wrap(fd);
                if (!f) {
                        int saved = errno;
                        safe_close(fd);
                        errno = saved;
                }
                return f;
        }
        errno = -error;
        return NULL;
}
