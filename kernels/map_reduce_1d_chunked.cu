//! The 1D scheme for large dimensions: tiles of TILE < BLOCK points, loaded by the whole block in coalesced chunks.
//
// When BLOCK points of STAGE values do not fit in shared memory, a tile holds only TILE
// points, and the block copies it cooperatively: the values of one variable for consecutive
// points are contiguous in global memory, so consecutive threads copy consecutive values
// (coalesced), chunk after chunk, whatever the dimension. When not even one point fits
// (STAGE == 0 here), the formula reads the reduced side straight from global memory, where
// every thread of the block reads the same address at the same time (a broadcast, served by
// the caches). Otherwise as map_reduce_1d.cu: one thread per output row, accumulators in
// registers, the same markers:
//   @params  one `const T* __restrict__ argN,` per variable of the formula
//   @row     the variables of output row r and the values that depend only on them
//   @stage   copies the tile's points of each reduced-side variable (noyau_stage_chunk)
//   @pair    the formula (and weight) for the pair (r, j), ending with pointers f and w
//   @finish  statements on the finished row o (a Sum's per-row factor, hoisted out of @pair)

// Copies points tile0 .. tile0+len of a variable of dimension D into the tile, at offset OFF
// of each point's STAGE values.
template <int D, int OFF>
__device__ __forceinline__ void noyau_stage_chunk(const T* __restrict__ src, int tile0, int len, T* tile) {
    const T* first = src + (size_t)tile0 * D;
    for (int q = threadIdx.x; q < len * D; q += BLOCK) tile[(q / D) * STAGE + OFF + q % D] = first[q];
}

extern "C" __global__ void __launch_bounds__(BLOCK) noyau_map_reduce(const int n_out, const int n_in,
    /*@params*/
    T* __restrict__ out) {
    __shared__ T tile[STAGE > 0 ? TILE * STAGE : 1];
    const int row = blockIdx.x * BLOCK + threadIdx.x;
    const bool active = row < n_out;
    // Threads past the last row still stage points for the others; they read row 0 meanwhile.
    const int r = active ? row : 0;
    /*@row*/
    Acc acc;
    acc_init(acc);
    for (int tile0 = 0; tile0 < n_in; tile0 += TILE) {
        const int len = min(TILE, n_in - tile0);
        /*@stage*/
        __syncthreads();
        if (active) {
            for (int jr = 0; jr < len; ++jr) {
                const int j = tile0 + jr;
                const T* slot = tile + jr * STAGE;
                /*@pair*/
                acc_fold(acc, f, w, j);
            }
            acc_end_block(acc);
        }
        // The tile is overwritten next round only once every thread is done with it.
        __syncthreads();
    }
    if (active) {
        T* o = out + (size_t)row * OUT_DIM;
        acc_finish(acc, o);
        /*@finish*/
    }
}
