//! Device helpers that the generated formula code calls: special values, integer powers and vector operations.
//
// Each helper computes exactly what engine/src/eval.rs computes for its operation, in the same
// order of operations and with the same NaN, tie and edge conventions, so that the GPU agrees
// with the CPU to rounding. Dimensions are template parameters: the loops then have constant
// trip counts, are unrolled, and the small arrays of a formula live in registers.

// Loops up to this length are unrolled; longer ones stay loops (and their arrays in local memory).
#define NOYAU_UNROLL(n) ((n) <= 64 ? (n) : 1)

__device__ __forceinline__ T noyau_inf() { return (T)__longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ T noyau_nan() { return (T)__longlong_as_double(0x7ff8000000000000LL); }

// x^n by binary powering: the algorithm of compiler-rt's __powidf2, which Rust's powi calls,
// so that the rounding matches the CPU.
__device__ __forceinline__ T noyau_powi(T x, int n) {
    const bool recip = n < 0;
    T r = (T)1;
    while (true) {
        if (n & 1) r *= x;
        n /= 2;
        if (n == 0) break;
        x *= x;
    }
    return recip ? (T)1 / r : r;
}

// Rounding to a number of decimals whose scale s = 10^d (eval.rs's round_to): a scale too large
// for T, or a product x·s too large, leaves x as it is (it has no finer digits); d far below
// zero rounds to zero.
__device__ __forceinline__ T noyau_round_to(T x, T s) {
    if (isinf(s)) return x;
    if (s == (T)0) return x * (T)0;
    const T y = x * s;
    return isinf(y) ? x : round(y) / s;
}

template <int N> __device__ __forceinline__ T noyau_sum(const T* a) {
    T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) s += a[k];
    return s;
}

template <int N> __device__ __forceinline__ T noyau_sqnorm2(const T* a) {
    T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) s += a[k] * a[k];
    return s;
}

template <int N> __device__ __forceinline__ T noyau_scalprod(const T* a, const T* b) {
    T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) s += a[k] * b[k];
    return s;
}

template <int N> __device__ __forceinline__ T noyau_sqdist(const T* a, const T* b) {
    T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) {
        const T d = a[k] - b[k];
        s += d * d;
    }
    return s;
}

// x / |x|, and 0 for the zero vector.
template <int N> __device__ __forceinline__ void noyau_normalize(const T* a, T* out) {
    const T n2 = noyau_sqnorm2<N>(a);
    const T r = n2 == (T)0 ? (T)0 : (T)1 / sqrt(n2);
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) out[k] = a[k] * r;
}

// γ|x|², Σ γ_k x_k² or xᵀΓx, as the weight γ has 1, N or N² components.
template <int NG, int N> __device__ __forceinline__ T noyau_weighted_sqnorm(const T* g, const T* x) {
    if constexpr (NG == 1) {
        return g[0] * noyau_sqnorm2<N>(x);
    } else if constexpr (NG == N) {
        T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
        for (int k = 0; k < N; ++k) s += g[k] * x[k] * x[k];
        return s;
    } else {
        T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
        for (int k = 0; k < N; ++k) {
#pragma unroll NOYAU_UNROLL(N)
            for (int l = 0; l < N; ++l) s += x[k] * g[k * N + l] * x[l];
        }
        return s;
    }
}

template <int NG, int N> __device__ __forceinline__ T noyau_weighted_sqdist(const T* g, const T* x, const T* y) {
    T d[N];
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) d[k] = x[k] - y[k];
    return noyau_weighted_sqnorm<NG, N>(g, d);
}

// The largest (or smallest) component and its position: the first one on ties, and the first
// NaN as soon as one is met.
struct NoyauExtreme {
    T value;
    int index;
};

template <int N, bool GREATER> __device__ __forceinline__ NoyauExtreme noyau_extreme(const T* a) {
    NoyauExtreme best = {a[0], 0};
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 1; k < N; ++k) {
        const T x = a[k];
        const bool better = GREATER ? x > best.value : x < best.value;
        if (!isnan(best.value) && (better || isnan(x))) best = {x, k};
    }
    return best;
}

template <int N> __device__ __forceinline__ void noyau_copy(const T* a, T* out) {
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) out[k] = a[k];
}

// A vector of dimension N placed at `start` in a zero vector of dimension D (ElemT, ExtractT).
template <int N, int D> __device__ __forceinline__ void noyau_place(const T* a, int start, T* out) {
#pragma unroll NOYAU_UNROLL(D)
    for (int k = 0; k < D; ++k) out[k] = (T)0;
    noyau_copy<N>(a, out + start);
}

template <int NA, int NB> __device__ __forceinline__ void noyau_concat(const T* a, const T* b, T* out) {
    noyau_copy<NA>(a, out);
    noyau_copy<NB>(b, out + NA);
}

// The one-hot vector of round(x); all zeros when round(x) is not a position (or is NaN).
template <int N> __device__ __forceinline__ void noyau_one_hot(T x, T* out) {
    const T r = round(x);
#pragma unroll NOYAU_UNROLL(N)
    for (int k = 0; k < N; ++k) out[k] = r == (T)k ? (T)1 : (T)0;
}

// A v, A of N rows and M columns stored row by row.
template <int N, int M> __device__ __forceinline__ void noyau_mat_vec_mult(const T* a, const T* v, T* out) {
#pragma unroll NOYAU_UNROLL(N)
    for (int i = 0; i < N; ++i) out[i] = noyau_scalprod<M>(a + i * M, v);
}

// vᵀ A, v of dimension N, A of N rows and M columns.
template <int N, int M> __device__ __forceinline__ void noyau_vec_mat_mult(const T* v, const T* a, T* out) {
#pragma unroll NOYAU_UNROLL(M)
    for (int j = 0; j < M; ++j) {
        T s = (T)0;
#pragma unroll NOYAU_UNROLL(N)
        for (int k = 0; k < N; ++k) s += v[k] * a[k * M + j];
        out[j] = s;
    }
}

template <int NA, int NB> __device__ __forceinline__ void noyau_tensor_prod(const T* a, const T* b, T* out) {
#pragma unroll NOYAU_UNROLL(NA)
    for (int i = 0; i < NA; ++i) {
#pragma unroll NOYAU_UNROLL(NB)
        for (int j = 0; j < NB; ++j) out[i * NB + j] = a[i] * b[j];
    }
}

// out[o] = a[ia[o]] · b[ib[o]]: the Kronecker product, its index tables computed by the engine.
template <int NO> __device__ __forceinline__ void noyau_gather_product(const T* a, const T* b, const int* ia, const int* ib, T* out) {
#pragma unroll NOYAU_UNROLL(NO)
    for (int o = 0; o < NO; ++o) out[o] = a[ia[o]] * b[ib[o]];
}

// out[o] = Σ_c a[base_a[o] + off_a[c]] · b[base_b[o] + off_b[c]]: a tensor contraction, the free
// axes in base_*, the contracted ones in off_*, both tables computed by the engine.
template <int NO, int NC>
__device__ __forceinline__ void noyau_tensor_dot(const T* a, const T* b, const int* base_a, const int* base_b,
                                                 const int* off_a, const int* off_b, T* out) {
#pragma unroll NOYAU_UNROLL(NO)
    for (int o = 0; o < NO; ++o) {
        T s = (T)0;
#pragma unroll NOYAU_UNROLL(NC)
        for (int c = 0; c < NC; ++c) s += a[base_a[o] + off_a[c]] * b[base_b[o] + off_b[c]];
        out[o] = s;
    }
}
