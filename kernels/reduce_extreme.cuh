//! Max, Min, ArgMax, ArgMin, Max_ArgMax and Min_ArgMin: a running best value per component, with its index.
//
// A thread meets the points of the reduced side in increasing order, so keeping the first best
// value (strict comparison) gives the earliest index on ties, as on the CPU. A NaN wins and
// stays. An index that was never set is written as -1, with the value ∓inf (empty reductions,
// or components that are ∓inf throughout). Expects DIM, GREATER (Max family) and OUTPUT.

struct Acc {
    T best[DIM];
    int index[DIM];
};

__device__ __forceinline__ void acc_init(Acc& a) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) {
        a.best[k] = GREATER ? -noyau_inf() : noyau_inf();
        a.index[k] = -1;
    }
}

__device__ __forceinline__ void acc_fold(Acc& a, const T* f, const T* w, int j) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) {
        const T v = f[k];
        const bool better = GREATER ? v > a.best[k] : v < a.best[k];
        if (better || (isnan(v) && !isnan(a.best[k]))) {
            a.best[k] = v;
            a.index[k] = j;
        }
    }
}

__device__ __forceinline__ void acc_end_block(Acc& a) {}

__device__ __forceinline__ void acc_finish(const Acc& a, T* out) {
#pragma unroll NOYAU_UNROLL(DIM)
    for (int k = 0; k < DIM; ++k) {
        if constexpr (OUTPUT == OUT_VALUES) {
            out[k] = a.best[k];
        } else if constexpr (OUTPUT == OUT_INDICES) {
            out[k] = (T)a.index[k];
        } else {
            out[k] = a.best[k];
            out[DIM + k] = (T)a.index[k];
        }
    }
}
