//! LogSumExp, LogSumExpWeight, Max_SumShiftExpWeight and SumSoftMaxWeight: one pass with a running maximum.
//
// The thread keeps m, the largest value of F met so far, and sums of exp(F − m)·G; when a
// larger value arrives the sums are rescaled by exp(m_old − m_new), so exp never overflows and
// nothing is stored. A NaN value makes m NaN for good; −inf values add nothing. The sums
// follow the block scheme like Sum's (SCHEME_KAHAN sums directly, as on the CPU). Expects
// WDIM (the weight's dimension, 1 for plain LogSumExp), LSE_MODE and SUM_SCHEME.

// The summed rows: the weighted sums, then the plain sum (the softmax's normaliser).
constexpr int NSUMS = LSE_MODE == LSE_SOFTMAX ? WDIM + 1 : WDIM;

struct Acc {
    T m;
    ACC part[NSUMS];
    ACC total[NSUMS];
};

__device__ __forceinline__ void acc_init(Acc& a) {
    a.m = -noyau_inf();
#pragma unroll NOYAU_UNROLL(NSUMS)
    for (int k = 0; k < NSUMS; ++k) a.part[k] = a.total[k] = (ACC)0;
}

__device__ __forceinline__ void acc_fold(Acc& a, const T* f, const T* w, int j) {
    const T v = f[0];
    if (isnan(a.m)) return;
    if (isnan(v)) {
        a.m = v;
        return;
    }
    if (v == -noyau_inf()) return;
    if (v > a.m) {
        const ACC scale = (ACC)(a.m == -noyau_inf() ? (T)0 : exp(a.m - v));
#pragma unroll NOYAU_UNROLL(NSUMS)
        for (int k = 0; k < NSUMS; ++k) {
            a.part[k] *= scale;
            a.total[k] *= scale;
        }
        a.m = v;
    }
    const T e = exp(v - a.m);
    if constexpr (LSE_MODE == LSE_PLAIN) {
        a.part[0] += (ACC)e;
    } else {
#pragma unroll NOYAU_UNROLL(WDIM)
        for (int k = 0; k < WDIM; ++k) a.part[k] += (ACC)(e * w[k]);
        if constexpr (LSE_MODE == LSE_SOFTMAX) a.part[WDIM] += (ACC)e;
    }
}

__device__ __forceinline__ void acc_end_block(Acc& a) {
    if constexpr (SUM_SCHEME == SCHEME_BLOCK) {
#pragma unroll NOYAU_UNROLL(NSUMS)
        for (int k = 0; k < NSUMS; ++k) {
            a.total[k] += a.part[k];
            a.part[k] = (ACC)0;
        }
    }
}

__device__ __forceinline__ void acc_finish(const Acc& a, T* out) {
    if constexpr (LSE_MODE == LSE_PLAIN || LSE_MODE == LSE_WEIGHT) {
#pragma unroll NOYAU_UNROLL(WDIM)
        for (int k = 0; k < WDIM; ++k) out[k] = a.m + log((T)(a.total[k] + a.part[k]));
    } else if constexpr (LSE_MODE == LSE_MAX_SUMSHIFT) {
        out[0] = a.m;
#pragma unroll NOYAU_UNROLL(WDIM)
        for (int k = 0; k < WDIM; ++k) out[1 + k] = isnan(a.m) ? a.m : (T)(a.total[k] + a.part[k]);
    } else {
        const ACC z = a.total[WDIM] + a.part[WDIM];
#pragma unroll NOYAU_UNROLL(WDIM)
        for (int k = 0; k < WDIM; ++k) out[k] = isnan(a.m) ? a.m : (T)((a.total[k] + a.part[k]) / z);
    }
}
