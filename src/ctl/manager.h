/* SPDX-License-Identifier: MIT */
#pragma once

/* The systemd manager over sd-bus: the few calls alexandria-ctl needs. On
 * failure they return a negative errno and fill the sd_bus_error, which the
 * caller logs (bus_error_text() makes it a sentence). */

#include <stdint.h>
#include <systemd/sd-bus.h>
#include "macro.h"


/* System mode: /run/systemd/private as root (works without a bus daemon,
 * like systemctl), else the system bus. User mode: the user bus, else
 * $XDG_RUNTIME_DIR/systemd/private. Logs on failure. */
int manager_connect(bool user, sd_bus **ret);

int manager_reload(sd_bus *bus, sd_bus_error *error);

/* Called about once a second while manager_start_unit() waits. */
typedef void (*manager_tick_t)(sd_bus *bus, void *userdata);

/* Starts UNIT (mode "replace"). With WAIT_USEC > 0, returns when the job
 * is finished and gives its result ("done", "failed", "canceled", …), or
 * -ETIME when it is still queued after WAIT_USEC (MANAGER_WAIT_FOREVER:
 * no limit). */
#define MANAGER_WAIT_FOREVER UINT64_MAX
int manager_start_unit(sd_bus *bus, const char *unit, uint64_t wait_usec, manager_tick_t tick, void *userdata,
                       char **ret_result, sd_bus_error *error);
int manager_stop_unit(sd_bus *bus, const char *unit, sd_bus_error *error);
int manager_restart_unit(sd_bus *bus, const char *unit, sd_bus_error *error);
int manager_reset_failed(sd_bus *bus, const char *unit, sd_bus_error *error);

/* Properties of UNIT on INTERFACE ("Unit", "Timer", "Service": the
 * org.freedesktop.systemd1. prefix is added). */
int manager_get_string(sd_bus *bus, const char *unit, const char *interface, const char *property,
                       char **ret, sd_bus_error *error);
int manager_get_u64(sd_bus *bus, const char *unit, const char *interface, const char *property,
                    uint64_t *ret, sd_bus_error *error);
int manager_get_i32(sd_bus *bus, const char *unit, const char *interface, const char *property,
                    int32_t *ret, sd_bus_error *error);

/* UNIT's InvocationID as 32 hex digits, like $INVOCATION_ID. */
int manager_get_invocation_id(sd_bus *bus, const char *unit, char ret[static 33], sd_bus_error *error);

/* Names of loaded units matching PATTERN (e.g. "alexandria-*.timer"). */
int manager_list_units(sd_bus *bus, const char *pattern, char ***ret, sd_bus_error *error);

const char *bus_error_text(const sd_bus_error *error, int r);
