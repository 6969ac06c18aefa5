/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "prefetch.h"

struct PrefetchChunk {
        Prefetch *owner;
        PrefetchChunk *queued_next;
        int dir_fd;
        const char *const *names;
        size_t n;
        PrefetchedFile *files;
        size_t *offsets;                /* of each file's bytes in buf, while buf still grows */
        uint8_t *buf;
        size_t used, allocated;
        bool done;                      /* under owner->lock; then the data pointers are set */
};

struct Prefetch {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t work;            /* the helper: a chunk was queued, or stop */
        pthread_cond_t finished;        /* the walk: a chunk is done */
        PrefetchChunk *head, *tail;
        bool stop;
        atomic_size_t held;             /* bytes in chunks not yet released */
};

/* Room for SIZE more bytes in C's buffer: false (fall back) if memory is short. */
static bool reserve(PrefetchChunk *c, size_t size) {
        if (c->used + size <= c->allocated)
                return true;
        size_t a = MAX(c->used + size, MAX(c->allocated * 2, (size_t) 16384));
        uint8_t *grown = realloc(c->buf, a);
        if (!grown)
                return false;
        c->buf = grown;
        c->allocated = a;
        return true;
}

static void read_one(Prefetch *p, PrefetchChunk *c, size_t i) {
        PrefetchedFile *f = &c->files[i];
        _cleanup_close_ int fd = openat_noatime(c->dir_fd, c->names[i], OPEN_WALKED_FILE);
        if (fd < 0) {
                f->error = -errno;
                return;
        }
        if (fstat(fd, &f->st) < 0) {
                f->error = -errno;
                return;
        }
        size_t size = (size_t) f->st.st_size;
        /* an empty file on a pseudo file system (procfs) may still hold
         * something, a file with fewer blocks than bytes may have holes:
         * the writer's own path says so, or maps them; a name of a hard-link
         * set may be stored as a link without data, which the writer's link
         * resolver decides: reading it here could be for nothing */
        bool empty_pseudo = size == 0 && major(f->st.st_dev) == 0;
        bool maybe_sparse = (uint64_t) f->st.st_blocks * 512 < (uint64_t) f->st.st_size;
        if (!S_ISREG(f->st.st_mode) || f->st.st_nlink > 1 || f->st.st_size > PREFETCH_FILE_MAX || empty_pseudo || maybe_sparse ||
            atomic_load(&p->held) + size > PREFETCH_BYTES_MAX || flistxattr(fd, NULL, 0) != 0 || !reserve(c, size)) {
                f->fallback = true;
                return;
        }

        size_t done = 0;
        while (done < size) {
                ssize_t n = pread(fd, c->buf + c->used + done, size - done, (off_t) done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        f->content.read_error = -errno;
                        break;
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        if (fstat(fd, &f->content.after) < 0)
                f->content.after = f->st;
        c->offsets[i] = c->used;
        f->content.len = done;
        c->used += done;
        atomic_fetch_add(&p->held, done);
}

static void *helper(void *userdata) {
        Prefetch *p = userdata;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->head && !p->stop)
                        pthread_cond_wait(&p->work, &p->lock);
                if (!p->head)
                        break;
                PrefetchChunk *c = p->head;
                p->head = c->queued_next;
                if (!p->head)
                        p->tail = NULL;
                pthread_mutex_unlock(&p->lock);

                for (size_t i = 0; i < c->n; i++)
                        read_one(p, c, i);
                /* buf is complete: it stays where it is now */
                for (size_t i = 0; i < c->n; i++)
                        if (c->buf && !c->files[i].error && !c->files[i].fallback)
                                c->files[i].content.data = c->buf + c->offsets[i];

                pthread_mutex_lock(&p->lock);
                c->done = true;
                pthread_cond_broadcast(&p->finished);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int prefetch_new(Prefetch **ret) {
        Prefetch *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->finished, NULL);
        int r = pthread_create(&p->thread, NULL, helper, p);
        if (r != 0) {
                pthread_cond_destroy(&p->finished);
                pthread_cond_destroy(&p->work);
                pthread_mutex_destroy(&p->lock);
                free(p);
                return -r;
        }
        *ret = p;
        return 0;
}

Prefetch *prefetch_free(Prefetch *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->finished);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

int prefetch_submit(Prefetch *p, int dir_fd, const char *const *names, size_t n, PrefetchChunk **ret) {
        PrefetchChunk *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->files = calloc(n, sizeof *c->files);
        c->offsets = calloc(n, sizeof *c->offsets);
        if (!c->files || !c->offsets) {
                free(c->files);
                free(c->offsets);
                free(c);
                return -ENOMEM;
        }
        c->owner = p;
        c->dir_fd = dir_fd;
        c->names = names;
        c->n = n;

        pthread_mutex_lock(&p->lock);
        if (p->tail)
                p->tail->queued_next = c;
        else
                p->head = c;
        p->tail = c;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->lock);
        *ret = c;
        return 0;
}

static void wait_done(PrefetchChunk *c) {
        Prefetch *p = c->owner;
        pthread_mutex_lock(&p->lock);
        while (!c->done)
                pthread_cond_wait(&p->finished, &p->lock);
        pthread_mutex_unlock(&p->lock);
}

const PrefetchedFile *prefetch_get(PrefetchChunk *c, size_t i) {
        wait_done(c);
        return &c->files[i];
}

void prefetch_release(PrefetchChunk *c) {
        if (!c)
                return;
        wait_done(c);
        atomic_fetch_sub(&c->owner->held, c->used);
        free(c->buf);
        free(c->offsets);
        free(c->files);
        free(c);
}
