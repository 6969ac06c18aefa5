/* SPDX-License-Identifier: MIT */
#include "path-util.h"
#include "locations.h"

static int xdg_dir(const char *env, const char *fallback_below_home, char **ret) {
        const char *e = getenv(env);
        if (e && e[0] == '/')
                return (*ret = path_normalize(e)) ? 0 : -ENOMEM;
        const char *home = getenv("HOME");
        if (!home || home[0] != '/')
                return -ENXIO;
        return (*ret = path_join(home, fallback_below_home)) ? 0 : -ENOMEM;
}

int paths_init(bool user, const char *config_dir_override, Paths *ret) {
        Paths p = { .user = user };
        int r;

        if (!config_dir_override)
                config_dir_override = getenv("ALEXANDRIA_CONFIG_DIR");
        /* System schedules run as root: only root may have written them. A
         * directory given explicitly (tests, trials) belongs to whoever gave it. */
        p.owner = user || !isempty(config_dir_override) ? getuid() : 0;

        if (!isempty(config_dir_override))
                r = path_make_absolute_cwd(config_dir_override, &p.config_dir);
        else if (user) {
                _cleanup_free_ char *base = NULL;
                r = xdg_dir("XDG_CONFIG_HOME", ".config", &base);
                if (r >= 0)
                        r = (p.config_dir = path_join(base, "alexandria")) ? 0 : -ENOMEM;
        } else
                r = (p.config_dir = strdup(ALEXANDRIA_SYSCONFDIR)) ? 0 : -ENOMEM;
        if (r < 0)
                goto fail;

        if (user) {
                _cleanup_free_ char *base = NULL;
                r = xdg_dir("XDG_DATA_HOME", ".local/share", &base);
                if (r >= 0)
                        r = (p.default_destination = path_join(base, "alexandria/backups")) ? 0 : -ENOMEM;
        } else
                r = (p.default_destination = strdup(ALEXANDRIA_DEFAULT_DESTINATION)) ? 0 : -ENOMEM;
        if (r < 0)
                goto fail;

        const char *state = getenv("ALEXANDRIA_STATE_DIR");
        if (!isempty(state))
                r = path_make_absolute_cwd(state, &p.state_dir);
        else if (user) {
                _cleanup_free_ char *base = NULL;
                r = xdg_dir("XDG_STATE_HOME", ".local/state", &base);
                if (r >= 0)
                        r = (p.state_dir = path_join(base, "alexandria")) ? 0 : -ENOMEM;
        } else
                r = (p.state_dir = strdup("/var/lib/alexandria")) ? 0 : -ENOMEM;
        if (r < 0)
                goto fail;

        p.schedules_dir = path_join(p.config_dir, "schedules.d");
        p.config_file = path_join(p.config_dir, "alexandria.conf");
        if (!p.schedules_dir || !p.config_file) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = p;
        return 0;
fail:
        paths_done(&p);
        return r;
}

void paths_done(Paths *p) {
        free(p->config_dir);
        free(p->schedules_dir);
        free(p->default_destination);
        free(p->state_dir);
        free(p->config_file);
        *p = (Paths) {};
}
