/* ppa_tech.h - the chip-level technology constants model.c prices blocks
 * with, derived in tech.c for one chip's node and supply. Not installed. */
#ifndef AX_PPA_TECH_H
#define AX_PPA_TECH_H

#include "ppa_internal.h"

typedef struct ppa_tech {
    double area_scale, energy_scale; /* 45 nm -> the chip's node */
    double array_overhead;           /* PE wiring/clock/density factor (TPUv1 calibration) */
    double ub_mm2_per_mib, acc_mm2_per_mib, vector_mm2_per_lane;
    double uncore_share;             /* control + I/O area per unit of priced blocks */
    double labeled_share;            /* priced + uncore share of a real floorplan */
    double sram_pj_per_byte, vector_pj_per_output, wire_pj_per_bit_mm;
} ppa_tech;

void ppa_tech_for(const ax_chip *c, ppa_tech *t);

#endif
