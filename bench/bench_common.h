/*
 * bench_common.h - timing, statistics and allocation counting shared by the
 * benchmarks in bench/.
 *
 * Benchmarks print figures; they never assert a timing. Every function here
 * is static: each benchmark is one translation unit plus this header.
 */
#ifndef TLM_BENCH_COMMON_H
#define TLM_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- allocation counting -------------------------------------------------
 * The benchmark binary defines malloc/calloc/realloc itself and forwards to
 * glibc's __libc_* entry points. The executable's definitions come first in
 * symbol lookup, so libtelemetry.so's calls land here too. Counting is per
 * thread and only while bench_counting is set on that thread. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static __thread int bench_counting;
static __thread uint64_t bench_allocs;

void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);

void *
malloc(size_t n)
{
    if (bench_counting)
        bench_allocs++;
    return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
    if (bench_counting)
        bench_allocs++;
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
    if (bench_counting)
        bench_allocs++;
    return __libc_realloc(p, n);
}

/* ---- clocks ------------------------------------------------------------ */
static inline uint64_t
bench_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
/* lfence keeps the read from drifting across the timed code. */
static inline uint64_t
bench_ticks(void)
{
    uint32_t lo, hi;

    __asm__ volatile("lfence\n\trdtsc\n\tlfence"
                     : "=a"(lo), "=d"(hi)
                     :
                     : "memory");
    return ((uint64_t)hi << 32) | lo;
}
#else
static inline uint64_t
bench_ticks(void)
{
    return bench_mono_ns();
}
#endif

/* Nanoseconds per tick, measured against CLOCK_MONOTONIC over ~100 ms. */
static inline double
bench_calibrate(void)
{
    uint64_t n0 = bench_mono_ns(), t0 = bench_ticks(), n1, t1;
    struct timespec d = {0, 100000000L};

    nanosleep(&d, NULL);
    n1 = bench_mono_ns();
    t1 = bench_ticks();
    return t1 > t0 ? (double)(n1 - n0) / (double)(t1 - t0) : 1.0;
}

/* ---- statistics -------------------------------------------------------- */
static inline int
bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of v[0..n), sorting v in place. */
static inline double
bench_quantile(double *v, size_t n, double q)
{
    size_t i;

    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof(*v), bench_cmp_double);
    i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static inline double
bench_median3(double a, double b, double c)
{
    double v[3] = {a, b, c};

    return bench_quantile(v, 3, 0.5);
}

/* Peak resident set size so far, in KiB. */
static inline long
bench_maxrss_kib(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Current resident set size in KiB (from /proc/self/statm), -1 if unknown. */
static inline long
bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = -1, resident = -1;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static inline double
bench_cpu_seconds(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
        + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#endif /* TLM_BENCH_COMMON_H */
