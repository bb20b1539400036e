//! KMin, ArgKMin and KMin_ArgKMin: per component, the K smallest values met so far, sorted, with their indices.
//
// A new value is inserted after every value it does not precede, so that ties keep the order
// of their indices (the earlier index first); NaN precedes every number, as on the CPU. The
// lists live in registers for small K·DIM and in local memory otherwise. Output is k-major:
// the r-th smallest value of component k at r·DIM + k (indices after the K·DIM values for
// KMin_ArgKMin). Expects DIM, K and OUTPUT.

struct Acc {
    T value[DIM][K];
    int index[DIM][K];
    int count[DIM];
};

// "a comes before b": NaN first, then increasing values.
__device__ __forceinline__ bool noyau_kmin_before(T a, T b) { return a < b || (isnan(a) && !isnan(b)); }

__device__ __forceinline__ void acc_init(Acc& a) {
    for (int k = 0; k < DIM; ++k) {
        a.count[k] = 0;
        for (int r = 0; r < K; ++r) {
            a.value[k][r] = noyau_inf();
            a.index[k][r] = -1;
        }
    }
}

__device__ __forceinline__ void acc_fold(Acc& a, const T* f, const T* w, int j) {
    for (int k = 0; k < DIM; ++k) {
        const T v = f[k];
        const int n = a.count[k];
        if (n == K && !noyau_kmin_before(v, a.value[k][K - 1])) continue;
        int p = n < K - 1 ? n : K - 1;
        while (p > 0 && noyau_kmin_before(v, a.value[k][p - 1])) {
            a.value[k][p] = a.value[k][p - 1];
            a.index[k][p] = a.index[k][p - 1];
            --p;
        }
        a.value[k][p] = v;
        a.index[k][p] = j;
        a.count[k] = n < K ? n + 1 : K;
    }
}

__device__ __forceinline__ void acc_end_block(Acc& a) {}

__device__ __forceinline__ void acc_finish(const Acc& a, T* out) {
    for (int k = 0; k < DIM; ++k) {
        for (int r = 0; r < K; ++r) {
            if constexpr (OUTPUT == OUT_VALUES) {
                out[r * DIM + k] = a.value[k][r];
            } else if constexpr (OUTPUT == OUT_INDICES) {
                out[r * DIM + k] = (T)a.index[k][r];
            } else {
                out[r * DIM + k] = a.value[k][r];
                out[K * DIM + r * DIM + k] = (T)a.index[k][r];
            }
        }
    }
}
