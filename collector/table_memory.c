#include "config.h"

#include <sys/mman.h>

#include "table_memory.h"

#define HUGE_PAGE  ((gsize)2 << 20)
#define CACHE_LINE 64

/* Below a huge page, malloc's own memory does as well. */
static gboolean
is_big(gsize bytes)
{
    return bytes >= HUGE_PAGE;
}

static gsize
rounded_up(gsize bytes)
{
    return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *
ps_table_alloc0(gsize bytes)
{
    gsize size = rounded_up(bytes), lead;
    guint8 *mapped, *aligned;

    /* 64-byte aligned, so that no entry of a table of 16, 32 or 64-byte entries (the series
     * are 192) straddles two cache lines */
    if (!is_big(bytes))
        return g_aligned_alloc0(1, MAX(bytes, 1), CACHE_LINE);
    /* a huge page must start on a 2 MiB boundary: map one more and trim both ends */
    mapped = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
    if (mapped == MAP_FAILED)
        g_error("%s: failed to map %" G_GSIZE_FORMAT " bytes", G_STRLOC, size);
    aligned = (guint8 *)(((guintptr)mapped + HUGE_PAGE - 1) & ~(guintptr)(HUGE_PAGE - 1));
    lead = (gsize)(aligned - mapped);
    if (lead > 0)
        munmap(mapped, lead);
    munmap(aligned + size, HUGE_PAGE - lead);
    (void)madvise(aligned, size, MADV_HUGEPAGE); /* advice: without THP, 4 KiB pages */
    return aligned;
}

void
ps_table_free(void *memory, gsize bytes)
{
    if (memory == NULL)
        return;
    if (!is_big(bytes)) {
        g_aligned_free(memory);
        return;
    }
    munmap(memory, rounded_up(bytes));
}
