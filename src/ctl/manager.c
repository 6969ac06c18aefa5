/* SPDX-License-Identifier: MIT */
#include <sys/stat.h>

#include "format-util.h"
#include "log.h"
#include "manager.h"

#define DEST "org.freedesktop.systemd1"
#define PATH "/org/freedesktop/systemd1"
#define IFACE_MANAGER "org.freedesktop.systemd1.Manager"

static int connect_address(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int manager_connect(bool user, sd_bus **ret) {
        int r;

        if (!user) {
                if (geteuid() == 0 && access("/run/systemd/private", F_OK) == 0 &&
                    connect_address("unix:path=/run/systemd/private", ret) >= 0)
                        return 0;
                r = sd_bus_open_system(ret);
                if (r < 0)
                        return log_error_errno(r, "Cannot connect to the systemd system manager (is systemd running?): %m");
                return 0;
        }

        r = sd_bus_open_user(ret);
        if (r >= 0)
                return 0;
        const char *rt = getenv("XDG_RUNTIME_DIR");
        if (rt) {
                _cleanup_free_ char *address = NULL;
                if (asprintf(&address, "unix:path=%s/systemd/private", rt) < 0)
                        return log_oom();
                if (connect_address(address, ret) >= 0)
                        return 0;
        }
        return log_error_errno(r, "Cannot connect to the systemd user manager (is XDG_RUNTIME_DIR set and systemd --user running?): %m");
}

const char *bus_error_text(const sd_bus_error *error, int r) {
        if (error && sd_bus_error_is_set(error) && error->message)
                return error->message;
        return strerror(r < 0 ? -r : r);
}

int manager_reload(sd_bus *bus, sd_bus_error *error) {
        return sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "Reload", error, NULL, NULL);
}

typedef struct JobWait {
        const char *job;
        char *result;
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->job && streq(path, w->job) && !w->result)
                w->result = strdup(result);
        return 0;
}

int manager_start_unit(sd_bus *bus, const char *unit, uint64_t wait_usec, manager_tick_t tick, void *userdata,
                       char **ret_result, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *job = NULL;
        JobWait w = {};
        const char *path;
        int r;

        bool wait = wait_usec > 0;
        uint64_t deadline = wait_usec == MANAGER_WAIT_FOREVER ? UINT64_MAX : now_monotonic_usec() + wait_usec;
        if (wait) {
                /* Match before starting: a short job could finish before we listen. */
                r = sd_bus_match_signal(bus, &slot, NULL, PATH, IFACE_MANAGER, "JobRemoved", on_job_removed, &w);
                if (r < 0)
                        return r;
                (void) sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "Subscribe", NULL, NULL, NULL);
        }

        r = sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "StartUnit", error, &reply, "ss", unit, "replace");
        if (r < 0)
                return r;
        if (!wait)
                return 0;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        job = strdup(path);
        if (!job)
                return -ENOMEM;
        w.job = job;

        while (!w.result) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                uint64_t now = now_monotonic_usec();
                if (now >= deadline)
                        return -ETIME;
                r = sd_bus_wait(bus, MIN(USEC_PER_SEC, deadline - now));
                if (r < 0)
                        return r;
                if (tick)
                        tick(bus, userdata);
        }
        *ret_result = w.result;
        return 0;
}

int manager_stop_unit(sd_bus *bus, const char *unit, sd_bus_error *error) {
        return sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "StopUnit", error, NULL, "ss", unit, "replace");
}

int manager_restart_unit(sd_bus *bus, const char *unit, sd_bus_error *error) {
        return sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "RestartUnit", error, NULL, "ss", unit, "replace");
}

int manager_reset_failed(sd_bus *bus, const char *unit, sd_bus_error *error) {
        return sd_bus_call_method(bus, DEST, PATH, IFACE_MANAGER, "ResetFailedUnit", error, NULL, "s", unit);
}

static int unit_path(const char *unit, char **ret) {
        return sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, ret);
}

static int get_property(sd_bus *bus, const char *unit, const char *interface, const char *property,
                        char type, void *ret, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL, *iface = NULL;
        int r = unit_path(unit, &path);
        if (r < 0)
                return r;
        if (asprintf(&iface, "org.freedesktop.systemd1.%s", interface) < 0)
                return -ENOMEM;
        if (type == 's')
                return sd_bus_get_property_string(bus, DEST, path, iface, property, error, ret);
        return sd_bus_get_property_trivial(bus, DEST, path, iface, property, error, type, ret);
}

int manager_get_string(sd_bus *bus, const char *unit, const char *interface, const char *property,
                       char **ret, sd_bus_error *error) {
        return get_property(bus, unit, interface, property, 's', ret, error);
}

int manager_get_u64(sd_bus *bus, const char *unit, const char *interface, const char *property,
                    uint64_t *ret, sd_bus_error *error) {
        return get_property(bus, unit, interface, property, 't', ret, error);
}

int manager_get_i32(sd_bus *bus, const char *unit, const char *interface, const char *property,
                    int32_t *ret, sd_bus_error *error) {
        return get_property(bus, unit, interface, property, 'i', ret, error);
}

int manager_get_invocation_id(sd_bus *bus, const char *unit, char ret[static 33], sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const uint8_t *id;
        size_t n;
        int r = unit_path(unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, DEST, path, "org.freedesktop.systemd1.Unit", "InvocationID", error, &reply, "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(reply, 'y', (const void **) &id, &n);
        if (r < 0)
                return r;
        if (n != 16)
                return -ENODATA;
        /* the form systemd puts in $INVOCATION_ID: 32 lowercase hex digits */
        for (size_t i = 0; i < n; i++)
                snprintf(ret + 2 * i, 3, "%02x", id[i]);
        return 0;
}

int manager_list_units(sd_bus *bus, const char *pattern, char ***ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *name;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, PATH, IFACE_MANAGER, "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, NULL);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char *[]) { (char *) pattern, NULL });
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)) > 0)
                if (strv_extend(&names, name) < 0)
                        return -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(names);
        return 0;
}
