/* SPDX-License-Identifier: MIT */
#include <ctype.h>

#include "copy-target.h"
#include "format-util.h"

#define SPEC_MAX 4096

CopyTarget *copy_target_free(CopyTarget *t) {
        if (!t)
                return NULL;
        free(t->spec);
        free(t->display);
        free(t->user);
        free(t->host);
        free(t->path);
        free(t->remote);
        free(t->remote_path);
        free(t);
        return NULL;
}

static bool has_control_or_space(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s <= 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static bool has_dotdot(const char *p) {
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if ((c == p || c[-1] == '/') && (c[2] == 0 || c[2] == '/'))
                        return true;
        return false;
}

/* Paths reach a remote rsync (and old ones split their arguments at
 * spaces) or rclone: a conservative set that every file system and object
 * store takes literally. */
static bool path_chars_are_safe(const char *p) {
        for (; *p; p++)
                if (!(isalnum((unsigned char) *p) || strchr("/._-+~@,=", *p)) || *p & 0x80)
                        return false;
        return true;
}

static char *strip_trailing_slashes(char *p) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
                p[--n] = 0;
        return p;
}

static int parse_ssh(CopyTarget *t, const char *spec, const char *rest, char **ret_error) {
        const char *slash = strchr(rest, '/'), *at, *host, *host_end, *port = NULL;
        _cleanup_free_ char *authority = NULL;

        /* "ssh://host:backups" is scp's host:path, which URLs do not have */
        authority = slash ? strndup(rest, slash - rest) : strdup(rest);
        if (!authority)
                return -ENOMEM;

        at = strrchr(authority, '@');
        if (at) {
                t->user = strndup(authority, at - authority);
                if (!t->user)
                        return -ENOMEM;
                if (isempty(t->user) || t->user[0] == '-' ||
                    strspn(t->user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(t->user))
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%s' is not a user name", spec, t->user);
                host = at + 1;
        } else
                host = authority;

        if (host[0] == '[') {
                host_end = strchr(host, ']');
                if (!host_end || host_end == host + 1 ||
                    strspn(host + 1, "0123456789abcdefABCDEF:.") != (size_t) (host_end - host - 1))
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%s' is not an IPv6 address in brackets", spec, host);
                t->host = strndup(host + 1, host_end - host - 1);
                host_end++;
        } else {
                host_end = host + strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
                if (host_end == host || host[0] == '-' || host[0] == '.' || (*host_end && *host_end != ':'))
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%s' is not a host name", spec, host);
                t->host = strndup(host, host_end - host);
        }
        if (!t->host)
                return -ENOMEM;
        if (*host_end == ':')
                port = host_end + 1;
        else if (*host_end)
                return errorf(ret_error, -EINVAL, "CopyTo=%s: unexpected '%s' after the host", spec, host_end);

        if (port) {
                if (isempty(port) || strspn(port, "0123456789") != strlen(port))
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%s' is not a port number; the path must be absolute: "
                                      "ssh://[USER@]HOST[:PORT]/PATH", spec, port);
                unsigned long p = strlen(port) > 5 ? 0 : strtoul(port, NULL, 10);
                if (p < 1 || p > 65535)
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: port %s is out of range (1-65535)", spec, port);
                t->port = (unsigned) p;
        }

        if (!slash)
                return errorf(ret_error, -EINVAL, "CopyTo=%s: no path; give an absolute one: ssh://[USER@]HOST[:PORT]/PATH", spec);
        if (!path_chars_are_safe(slash))
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path may only contain letters, digits and / . _ - + ~ @ , =", spec);
        if (has_dotdot(slash))
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path contains a '..' component", spec);
        /* "ssh://host/~/x" is ssh's home-relative path, which rrsync and a
         * forced command would not take either: absolute only. */
        if (slash[1] == '~')
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path must be absolute, not relative to the home directory", spec);
        t->path = strdup(slash);
        if (!t->path)
                return -ENOMEM;
        strip_trailing_slashes(t->path);
        t->display = strdup(spec);
        return t->display ? 0 : -ENOMEM;
}

static int parse_rclone(CopyTarget *t, const char *spec, const char *rest, char **ret_error) {
        const char *end, *path;
        bool on_the_fly = rest[0] == ':';

        if (on_the_fly) {
                /* ":backend[,key=value…]:" — values may be "quoted" (to hold a ':' or ',') */
                size_t n = strspn(rest + 1, "abcdefghijklmnopqrstuvwxyz0123456789");
                if (n == 0)
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: expected an rclone backend after 'rclone::' (such as :local: or :sftp,host=…:)", spec);
                bool quoted = false;
                for (end = rest + 1 + n; *end && (quoted || *end != ':'); end++)
                        if (*end == '"')
                                quoted = !quoted;
                if (*end != ':' || quoted)
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: the on-the-fly remote is not closed by ':'", spec);
                if (rest[1 + n] != ':' && rest[1 + n] != ',')
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%.*s' is not an rclone backend name", spec, (int) (end - rest - 1), rest + 1);
                path = end + 1;
                t->remote = strndup(rest, path - rest);
                /* the parameters are where keys and passwords go */
                if (asprintf(&t->display, "rclone::%.*s%s%s", (int) n, rest + 1, rest[1 + n] == ',' ? ",…:" : ":", path) < 0)
                        t->display = NULL;
        } else {
                end = strchr(rest, ':');
                if (!end)
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: expected rclone:REMOTE:PATH", spec);
                if (end == rest || rest[0] == '-' ||
                    strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+@-") != (size_t) (end - rest))
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: '%.*s' is not an rclone remote name", spec, (int) (end - rest), rest);
                path = end + 1;
                t->remote = strndup(rest, path - rest);
                t->display = strdup(spec);
        }
        if (!t->remote || !t->display)
                return -ENOMEM;

        if (!path_chars_are_safe(path))
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path may only contain letters, digits and / . _ - + ~ @ , =", t->display);
        if (has_dotdot(path))
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path contains a '..' component", t->display);
        if (path[0] == '-')
                return errorf(ret_error, -EINVAL, "CopyTo=%s: the path must not start with '-'", t->display);
        /* rclone resolves a relative local path against its working directory */
        if (streq(t->remote, ":local:") && path[0] != '/')
                return errorf(ret_error, -EINVAL, "CopyTo=%s: a :local: path must be absolute", t->display);
        t->remote_path = strdup(path);
        if (!t->remote_path)
                return -ENOMEM;
        strip_trailing_slashes(t->remote_path);
        return 0;
}

int copy_target_parse(const char *spec, CopyTarget **ret, char **ret_error) {
        _cleanup_copy_target_free_ CopyTarget *t = NULL;
        const char *rest;
        int r;

        if (isempty(spec))
                return errorf(ret_error, -EINVAL, "CopyTo= is empty: give ssh://[USER@]HOST[:PORT]/PATH or rclone:REMOTE:PATH");
        if (strlen(spec) > SPEC_MAX)
                return errorf(ret_error, -EINVAL, "CopyTo= is longer than %d characters", SPEC_MAX);
        if (has_control_or_space(spec))
                return errorf(ret_error, -EINVAL, "CopyTo= contains a space or a control character");
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->spec = strdup(spec);
        if (!t->spec)
                return -ENOMEM;

        if ((rest = startswith(spec, "ssh://"))) {
                t->kind = COPY_SSH;
                r = parse_ssh(t, spec, rest, ret_error);
        } else if ((rest = startswith(spec, "rclone:"))) {
                t->kind = COPY_RCLONE;
                r = parse_rclone(t, spec, rest, ret_error);
        } else {
                const char *colon = strstr(spec, "://");
                if (colon)
                        return errorf(ret_error, -EINVAL, "CopyTo=%s: unknown scheme '%.*s' (use ssh://[USER@]HOST[:PORT]/PATH or rclone:REMOTE:PATH)",
                                      spec, (int) (colon - spec), spec);
                return errorf(ret_error, -EINVAL, "CopyTo=%s: unknown scheme (use ssh://[USER@]HOST[:PORT]/PATH or rclone:REMOTE:PATH)", spec);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

char *copy_target_location(const CopyTarget *t, const char *filename) {
        char *s;
        int k;

        if (t->kind == COPY_SSH) {
                bool v6 = strchr(t->host, ':');
                bool root = streq(t->path, "/");
                k = asprintf(&s, "%s%s%s%s%s:%s/%s", strempty(t->user), t->user ? "@" : "", v6 ? "[" : "", t->host,
                             v6 ? "]" : "", root ? "" : t->path, filename);
        } else
                k = asprintf(&s, "%s%s%s%s", t->remote, t->remote_path,
                             isempty(t->remote_path) || endswith(t->remote_path, "/") ? "" : "/", filename);
        return k < 0 ? NULL : s;
}

bool ssh_command_is_valid(const char *command) {
        if (isempty(command) || strlen(command) > SPEC_MAX || command[0] == '-' || isspace((unsigned char) command[0]))
                return false;
        for (const char *p = command; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}
