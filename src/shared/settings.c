/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>

#include "format-util.h"
#include "ini.h"
#include "path-util.h"
#include "schedule.h"
#include "settings.h"
#include "trust.h"

#define CONFIG_FILE_MAX (64 * 1024)

static int config_key(const char *section, const char *key, const char *value, unsigned line,
                      void *userdata, char **ret_error) {
        Config *c = userdata;

        if (!streq(section, "Metrics"))
                return errorf(ret_error, -EINVAL, "unknown section [%s] (expected [Metrics])", section);
        if (!key)
                return 0;
        /* as in a schedule file: a second value is a mistake, not an override */
        if (streq(key, "Enabled")) {
                bool on;
                if (c->enabled_line > 0)
                        return errorf(ret_error, -EINVAL, "Enabled= is set twice (first on line %u)", c->enabled_line);
                if (parse_bool(value, &on) < 0)
                        return errorf(ret_error, -EINVAL, "Enabled=%s is not yes or no", value);
                c->metrics_disabled = !on;
                c->enabled_line = line;
                return 0;
        }
        if (!streq(key, "Directory"))
                return errorf(ret_error, -EINVAL, "unknown key '%s' in section [%s]", key, section);
        if (c->directory_line > 0)
                return errorf(ret_error, -EINVAL, "Directory= is set twice (first on line %u)", c->directory_line);
        c->directory_line = line;
        if (value[0] != '/')
                return errorf(ret_error, -EINVAL, "Directory=%s is not an absolute path", value);
        free(c->metrics_directory);
        c->metrics_directory = path_normalize(value);
        return c->metrics_directory ? 0 : -ENOMEM;
}

int config_load(const char *path, uid_t owner, Config *ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int fd = -EBADF;
        Config c = {};
        unsigned line = 0;
        int r;

        /* It decides where root writes files: trusted like a schedule file. */
        r = trusted_file_open(AT_FDCWD, path, path, owner, CONFIG_FILE_MAX, &fd, &error);
        if (r == -ENOENT) {
                *ret = c;
                return 0;
        }
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        _cleanup_fclose_ FILE *f = fdopen(fd, "re");
        if (!f)
                return negative_errno();
        TAKE_FD(fd);

        r = ini_parse(f, config_key, &c, &line, &error);
        if (r < 0) {
                config_done(&c);
                return errorf(ret_error, r, "%s:%u: %s", path, line, strempty(error));
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
