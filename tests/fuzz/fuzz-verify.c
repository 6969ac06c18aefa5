/* SPDX-License-Identifier: MIT */
/* verify of any bytes as an archive (item 5 of issue 9 was a crafted
 * manifest that made it read out of bounds): it reads to the end or fails
 * with a reason, and what it counts adds up. Its seeds are restore's. */
#include "fuzz.h"
#include "log.h"
#include "verify.h"

static void count_reports(int level, const char *message, void *userdata) {
        fuzz_assert(message && *message);
        (*(unsigned *) userdata)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = fuzz_memfd(data, size);
        char archive[64];
        snprintf(archive, sizeof archive, "/proc/self/fd/%d", fd);

        VerifyResult res = {};
        unsigned reports = 0;
        int r = verify_archive(archive, NULL, count_reports, &reports, &res);
        if (r < 0)
                fuzz_assert(reports > 0);
        else if (!verify_result_ok(&res))
                /* every problem is named */
                fuzz_assert(reports >= 1 && reports >= res.missing + res.extra + res.corrupt);
        close(fd);
        return 0;
}
