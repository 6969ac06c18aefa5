/* SPDX-License-Identifier: MIT */
/* Archive names as found in a destination directory, which other users or
 * tools may write into: whatever parses formats back to the same name. */
#include <string.h>

#include "archive-list.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;       /* longer than any file name */
        char *name = strndup((const char *) data, size);
        fuzz_assert(name);

        char *schedule = NULL;
        uint64_t t = 0;
        Compression c;
        bool encrypted = false, incremental = false;
        if (archive_name_parse_kind(name, &schedule, &t, &incremental, &c, &encrypted)) {
                fuzz_assert(schedule_name_is_valid(schedule));
                char *formatted = NULL;
                fuzz_assert(archive_name_format_kind(schedule, t, incremental, c, encrypted, &formatted) == 0);
                fuzz_assert(strcmp(formatted, name) == 0);
                free(formatted);
                free(schedule);
        }
        schedule = NULL;
        if (archive_temporary_name_parse(name, &schedule)) {
                fuzz_assert(schedule_name_is_valid(schedule));
                free(schedule);
        }
        free(name);
        return 0;
}
