//! The Sum reduction: per-thread sums of the formula's values, in ACC (T, or double for float data with f64 accumulation).
//
// SCHEME_BLOCK adds each tile's partial sum into a running total, so that rounding errors grow
// with the number of tiles rather than of points; SCHEME_KAHAN carries a compensation term;
// SCHEME_DIRECT keeps one running sum. Expects DIM and SUM_SCHEME.

struct Acc {
    ACC part[DIM];
    ACC total[DIM];
    ACC comp[DIM];
};

__device__ __forceinline__ void acc_init(Acc& a) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) a.part[k] = a.total[k] = a.comp[k] = (ACC)0;
}

__device__ __forceinline__ void acc_fold(Acc& a, const T* f, const T* w, int j) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) {
        const ACC x = (ACC)f[k];
        if constexpr (SUM_SCHEME == SCHEME_KAHAN) {
            const ACC y = x - a.comp[k];
            const ACC t = a.part[k] + y;
            a.comp[k] = (t - a.part[k]) - y;
            a.part[k] = t;
        } else {
            a.part[k] += x;
        }
    }
}

__device__ __forceinline__ void acc_end_block(Acc& a) {
    if constexpr (SUM_SCHEME == SCHEME_BLOCK) {
#pragma unroll NOYAU_UNROLL(DIM)
        for (int k = 0; k < DIM; ++k) {
            a.total[k] += a.part[k];
            a.part[k] = (ACC)0;
        }
    }
}

__device__ __forceinline__ void acc_finish(const Acc& a, T* out) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) out[k] = (T)(a.total[k] + (a.part[k] - a.comp[k]));
}
