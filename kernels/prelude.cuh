//! The names of the configuration values that the engine writes after this file and the templates test.
//
// A generated kernel is, in this order: this prelude, the configuration (element type T,
// accumulation type ACC, dimensions, block and tile sizes, the reduction's settings), the
// tables of index-shuffling operations, common.cuh, one reduce_*.cuh and one map_reduce_*.cu
// with the formula's statements spliced in. See engine/src/cuda/source.rs.

// How Sum-like reductions accumulate (engine/src/reduction.rs, SumScheme).
constexpr int SCHEME_DIRECT = 0;
constexpr int SCHEME_BLOCK = 1;
constexpr int SCHEME_KAHAN = 2;

// What the Max/Min and KMin families write: values, indices, or values then indices.
constexpr int OUT_VALUES = 0;
constexpr int OUT_INDICES = 1;
constexpr int OUT_BOTH = 2;

// The members of the log-sum-exp family (reduce_lse.cuh).
constexpr int LSE_PLAIN = 0;
constexpr int LSE_WEIGHT = 1;
constexpr int LSE_MAX_SUMSHIFT = 2;
constexpr int LSE_SOFTMAX = 3;
