/* Memory for the aggregation's big per-bucket tables (the (series, source) pair table:
 * 16 MiB at 100,000 sources a minute; the series: 6 MiB at 10,000 ports), in 2 MiB huge pages
 * where the kernel allows them; smaller ones 64-byte aligned.
 *
 * Why: a new bucket's table is fresh memory, and with 4 KiB pages its first flows fault in
 * 4,096 pages, each twice (a lookup reads the slot first, mapping the zero page; the insert
 * then copies it, with a TLB flush): 4,096 datagrams took 31-41 ms instead of ~12 at the start
 * of every bucket, and 100-130 ms whenever a table doubled, more than the socket buffer holds
 * at a few million records a second (tests/bench/README.md, session 13).
 * In huge pages the same table is 8 faults. Where transparent huge pages are off, this is
 * plain zeroed memory. */
#pragma once

#include <glib.h>

/* Zeroed memory of bytes; free it with ps_table_free(same bytes). Aborts when out of memory,
 * as g_malloc does. */
void *ps_table_alloc0(gsize bytes);
void ps_table_free(void *memory, gsize bytes);
