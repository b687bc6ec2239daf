/* cpu_features_neon.c - run-time checks for the optional aarch64 extensions
 * the NEON kernels use (NEON itself is architectural). Built with the
 * baseline flags, so it runs on any aarch64 CPU. */
#include "kernels/gemm_internal.h"

#include <sys/auxv.h>

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20) /* Linux arch/arm64 uapi hwcap.h */
#endif

/* FEAT_DotProd (sdot/udot), as the kernel reports it. */
bool ax_cpu_has_neon_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
