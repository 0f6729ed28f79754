/* The process's CPU time, for the in-process benchmarks. */
#pragma once

#include <glib.h>
#include <time.h>

static inline gdouble
ps_bench_cpu_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}
