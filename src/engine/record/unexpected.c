/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "fileio.h"
#include "manifest.h"
#include "path-util.h"
#include "unexpected.h"

char *unexpected_path(const char *state_dir, const char *name) {
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s.unexpected", name) < 0)
                return NULL;
        return path_join(state_dir, file);
}

int unexpected_save(const char *state_dir, const char *name, const char *list) {
        _cleanup_free_ char *path = unexpected_path(state_dir, name);
        if (!path)
                return -ENOMEM;
        int r = mkdir_p(state_dir, 0755);
        if (r < 0)
                return r;
        /* paths may say more about a machine than its owner wants to show */
        return write_file_atomic(path, strempty(list), 0600);
}

int unexpected_forget(const char *state_dir, const char *name) {
        _cleanup_free_ char *path = unexpected_path(state_dir, name);
        if (!path)
                return -ENOMEM;
        return unlink_if_present(path);
}

int unexpected_peek(const char *state_dir, const char *name, size_t max, char ***ret_first, uint64_t *ret_count) {
        _cleanup_free_ char *path = unexpected_path(state_dir, name), *line = NULL;
        _cleanup_strv_free_ char **first = NULL;
        size_t size = 0;
        uint64_t n = 0;
        ssize_t k;

        if (!path)
                return -ENOMEM;
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return negative_errno();
        while ((k = getline(&line, &size, f)) > 0) {
                if (line[k - 1] == '\n')
                        line[k - 1] = 0;
                if (n++ < max && strv_extend(&first, line) < 0)
                        return -ENOMEM;
        }
        if (ferror(f))
                return -EIO;
        *ret_first = TAKE_PTR(first);
        *ret_count = n;
        return 0;
}

int unexpected_digest(const char *list, char ret[static 65]) {
        uint8_t d[SHA256_LEN];
        Sha256 h;
        if (sha256_init(&h) < 0)
                return -ENOMEM;
        sha256_update(&h, strempty(list), strlen(strempty(list)));
        sha256_final(&h, d);
        sha256_done(&h);
        for (size_t i = 0; i < SHA256_LEN; i++)
                snprintf(ret + 2 * i, 3, "%02x", d[i]);
        return 0;
}

char *unexpected_summary(const char *list, uint64_t count, size_t max) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, shown = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (const char *p = strempty(list); *p && shown < max; shown++) {
                size_t n = strcspn(p, "\n");
                fprintf(f, "%s%.*s", shown > 0 ? ", " : "", (int) n, p);
                p += n + (p[n] == '\n');
        }
        if (count > shown)
                fprintf(f, " and %" PRIu64 " more", count - shown);
        if (fflush(f) != 0 || ferror(f))
                return NULL;
        fclose(TAKE_PTR(f));
        return TAKE_PTR(buf);
}
