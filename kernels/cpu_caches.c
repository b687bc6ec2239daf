/* cpu_caches.c - the machine facts the blocking follows: the L1 data and L2
 * cache sizes of a core and the number of physical cores, from hwloc when
 * the build has it, else sysconf, else conservative defaults (32 KiB, 1 MiB,
 * the OpenMP processor count). Read once per process: a write-once record
 * of the hardware, not mutable state. */
#include "gemm_internal.h"
#include "ax_config.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#if AX_HAVE_HWLOC
#include <hwloc.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static ax_cpu_caches caches;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if AX_HAVE_HWLOC
/* size of the first data (or unified) cache of that level, 0 if none */
static size_t hwloc_cache(hwloc_topology_t t, hwloc_obj_type_t type)
{
    for (hwloc_obj_t o = hwloc_get_next_obj_by_type(t, type, NULL); o; o = hwloc_get_next_obj_by_type(t, type, o))
        if (o->attr && o->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION) return (size_t)o->attr->cache.size;
    return 0;
}
#endif

static void probe(void)
{
#if AX_HAVE_HWLOC
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            caches.l1d = hwloc_cache(t, HWLOC_OBJ_L1CACHE);
            caches.l2 = hwloc_cache(t, HWLOC_OBJ_L2CACHE);
            int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
            caches.cores = n > 0 ? n : 0;
            caches.source = "hwloc";
        }
        hwloc_topology_destroy(t);
    }
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    if (!caches.l1d) {
        long v = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        caches.l1d = v > 0 ? (size_t)v : 0;
        if (caches.l1d) caches.source = "sysconf";
    }
    if (!caches.l2) {
        long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
        caches.l2 = v > 0 ? (size_t)v : 0;
    }
#endif
    if (!caches.source) caches.source = "defaults";
    if (caches.l1d < 16384) caches.l1d = 32768;
    if (caches.l2 < caches.l1d * 4) caches.l2 = 1 << 20;
    if (caches.cores <= 0) {
#ifdef _OPENMP
        caches.cores = omp_get_num_procs();
#else
        caches.cores = 1;
#endif
    }
}

const ax_cpu_caches *ax_cpu_caches_get(void)
{
    pthread_once(&once, probe);
    return &caches;
}

int ax_default_threads(int threads)
{
    if (threads > 0) return threads;
#ifdef _OPENMP
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) return omp_get_max_threads();
    return ax_cpu_caches_get()->cores;
#else
    return 1;
#endif
}
