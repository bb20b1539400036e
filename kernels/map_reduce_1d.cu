//! The 1D map-reduce scheme: one thread per output row, the reduced side staged tile by tile in shared memory.
//
// Each block of BLOCK threads loads BLOCK points of the reduced side into shared memory, one
// point per thread (STAGE values per point), waits for the whole tile, and then every thread
// evaluates the formula against each point of the tile and folds the value into its own
// accumulator, held in registers. Each point is thus read from global memory once per block
// rather than once per thread, and no N×M value is ever stored.
//
// The engine replaces the marked comments with generated code (engine/src/cuda/codegen.rs):
//   @params  one `const T* __restrict__ argN,` per variable of the formula
//   @row     the variables of output row r and the values that depend only on them
//   @stage   copies point j of the reduced side into the thread's slot of the tile
//   @pair    the formula (and weight) for the pair (r, j), ending with pointers f and w
//   @finish  statements on the finished row o (a Sum's per-row factor, hoisted out of @pair)

extern "C" __global__ void __launch_bounds__(BLOCK) noyau_map_reduce(const int n_out, const int n_in,
    /*@params*/
    T* __restrict__ out) {
    __shared__ T tile[STAGE > 0 ? BLOCK * STAGE : 1];
    const int row = blockIdx.x * BLOCK + threadIdx.x;
    const bool active = row < n_out;
    // Threads past the last row still stage points for the others; they read row 0 meanwhile.
    const int r = active ? row : 0;
    /*@row*/
    Acc acc;
    acc_init(acc);
    for (int tile0 = 0; tile0 < n_in; tile0 += BLOCK) {
        const int j = tile0 + threadIdx.x;
        if (j < n_in) {
            T* slot = tile + threadIdx.x * STAGE;
            /*@stage*/
        }
        __syncthreads();
        if (active) {
            const int len = min(BLOCK, n_in - tile0);
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
