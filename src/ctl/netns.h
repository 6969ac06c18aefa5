/* SPDX-License-Identifier: MIT */
#pragma once

/* systemd (252 at least) runs a unit's "+" commands inside the unit's
 * network namespace (PrivateNetwork=yes), though "+" lifts the rest of the
 * sandbox. `notify`, run so around the worker, must reach the network for
 * pings and mail while the worker must not: so it joins the network
 * namespace of PID 1 when it is in another one. Returns 0 when it is (or
 * already was) there, a negative errno when it cannot (not privileged:
 * then it was not started by "+"). */
int netns_join_host(void);
