/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <sys/stat.h>

#include "settings.h"
#include "ini.h"
#include "path-util.h"
#include "schedule.h"

static int config_key(const char *section, const char *key, const char *value, unsigned line,
                      void *userdata, char **ret_error) {
        Config *c = userdata;

        if (!streq(section, "Metrics"))
                return asprintf(ret_error, "unknown section [%s] (expected [Metrics])", section) < 0 ? -ENOMEM : -EINVAL;
        if (!key)
                return 0;
        if (streq(key, "Enabled")) {
                bool on;
                if (parse_bool(value, &on) < 0)
                        return asprintf(ret_error, "Enabled=%s is not yes or no", value) < 0 ? -ENOMEM : -EINVAL;
                c->metrics_disabled = !on;
                return 0;
        }
        if (!streq(key, "Directory"))
                return asprintf(ret_error, "unknown key '%s' in section [%s]", key, section) < 0 ? -ENOMEM : -EINVAL;
        if (value[0] != '/')
                return asprintf(ret_error, "Directory=%s is not an absolute path", value) < 0 ? -ENOMEM : -EINVAL;
        free(c->metrics_directory);
        c->metrics_directory = path_normalize(value);
        return c->metrics_directory ? 0 : -ENOMEM;
}

int config_load(const char *path, uid_t owner, Config *ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *error = NULL;
        Config c = {};
        unsigned line = 0;

        if (!f) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = c;
                return 0;
        }
        struct stat st;
        if (fstat(fileno(f), &st) < 0)
                return negative_errno();
        if (st.st_uid != owner || (st.st_mode & (S_IWGRP | S_IWOTH))) {
                if (ret_error && asprintf(ret_error, "%s: must be owned by uid %u and not writable by group or others, refusing it",
                                          path, (unsigned) owner) < 0)
                        *ret_error = NULL;
                return -EPERM;
        }
        int r = ini_parse(f, config_key, &c, &line, &error);
        if (r < 0) {
                config_done(&c);
                if (ret_error && asprintf(ret_error, "%s:%u: %s", path, line, strempty(error)) < 0)
                        *ret_error = NULL;
                return r;
        }
        *ret = c;
        return 0;
}

void config_done(Config *c) {
        free(c->metrics_directory);
        *c = (Config) {};
}

const char *config_metrics_directory(const Config *c, bool user) {
        struct stat st;

        if (c->metrics_disabled)
                return NULL;
        if (c->metrics_directory)
                return c->metrics_directory;
        /* The exporter's package makes the directory: where it is, metrics
         * are wanted. A user's schedules may not write there. */
        if (user || stat(METRICS_DEFAULT_DIRECTORY, &st) < 0 || !S_ISDIR(st.st_mode))
                return NULL;
        return METRICS_DEFAULT_DIRECTORY;
}
