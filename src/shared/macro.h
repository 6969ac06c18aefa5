/* SPDX-License-Identifier: MIT */
#pragma once

/* Small GNU C helpers used everywhere: scope-bound cleanup, ownership
 * transfer, and a few arithmetic/format guards. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand over ownership: returns the value and leaves NULL (or -EBADF) behind,
 * so the cleanup handler of the old owner becomes a no-op. */
#define TAKE_GENERIC(var, type, nullvalue)        \
        ({                                        \
                type *_pvar_ = &(var);            \
                type _var_ = *_pvar_;             \
                *_pvar_ = (nullvalue);            \
                _var_;                            \
        })
#define TAKE_PTR(p) TAKE_GENERIC(p, typeof(p), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Define fooo_freep() for a type whose destructor is foo_free(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)   \
        static inline void func##p(type *p) {     \
                if (*p)                           \
                        func(*p);                 \
        }

/* NAME_to_string() and NAME_from_string() for an enum whose values index
 * the table NAME_table[] (entries may be NULL); from_string gives -EINVAL
 * for an unknown string, as the enums' _X_INVALID values are. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                  \
        const char *name##_to_string(type i) {                                  \
                if ((int) i < 0 || (size_t) i >= ELEMENTSOF(name##_table))      \
                        return NULL;                                            \
                return name##_table[i];                                         \
        }                                                                       \
        type name##_from_string(const char *s) {                                \
                for (size_t i = 0; s && i < ELEMENTSOF(name##_table); i++)      \
                        if (name##_table[i] && strcmp(name##_table[i], s) == 0) \
                                return (type) i;                                \
                return (type) -EINVAL;                                          \
        }

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
static inline const char *endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0 ? s + ls - lx : NULL;
}

/* errno as a negative return value, never 0 even if errno was not set. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define USEC_PER_SEC  UINT64_C(1000000)
#define NSEC_PER_USEC UINT64_C(1000)

/* A tiny strv: NULL-terminated, heap-owned array of heap-owned strings. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char * const *l);
int strv_push(char ***l, char *value);          /* takes ownership of value, also on failure */
int strv_extend(char ***l, const char *value);  /* copies value */
bool strv_contains(char * const *l, const char *s);
#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)
