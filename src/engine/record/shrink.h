/* SPDX-License-Identifier: MIT */
#pragma once

/* The backup that shrinks: a run that reads far less than the runs before
 * it (the disk did not mount, a source moved) is a warning, whatever it
 * wrote. "Usual" is the median of the last SHRINK_HISTORY runs that wrote
 * an archive, from their run records. */

#include <stdint.h>
#include "record.h"

#define SHRINK_HISTORY 7

typedef struct RunUsual {
        bool known;                     /* there was at least one earlier run */
        uint64_t files, bytes;          /* medians */
        uint64_t source_files;          /* median of the records that have it, else 0 */
} RunUsual;

/* RECORDS: oldest first, as record_list() gives them. */
void shrink_usual(const RunRecord *records, size_t n, RunUsual *ret);

/* The restore point a run made: its entries and the bytes of its files,
 * and how many of its entries from the sources are not directories. */
typedef struct RunPoint {
        uint64_t files, bytes, source_files;
} RunPoint;

/* Whether the run that made POINT shrank against USUAL: by more than
 * PERCENT (0: never), or emptied (always): no data where there was data,
 * or nothing but directories from the sources where they usually gave more.
 * *RET_MESSAGE then says it with both figures. */
int shrink_check(const RunUsual *usual, const RunPoint *point, unsigned percent, char **ret_message);
