// Host emulation of the CUDA subset used by Noyau's generated kernels, for the tests (host.rs).
//
// Each block's threads run as fibres taking turns between barriers (noyau_host::launch),
// __shared__ arrays are statics (blocks run one after another, each kernel behind its own
// lock), and the math functions are the host's. This checks the generated code's logic
// (indices, staging, tiles, folds, NaN and tie rules) without a GPU, but not CUDA's own math
// library, nor the compiler's treatment of shared memory and registers.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <memory>
#include <ucontext.h>
#include <vector>

using namespace std;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __constant__ static const
#define __shared__ static

struct noyau_dim3 {
    int x, y, z;
};
inline thread_local noyau_dim3 threadIdx, blockIdx;

namespace noyau_host {
// The threads of a block are fibres (ucontext) run in turn by one OS thread: each runs until
// its next __syncthreads or its end, then the next one runs. When every fibre has had its turn,
// all have reached the barrier (the kernels' barriers are uniform), and the next round passes
// it. Much cheaper than an OS thread per GPU thread.
constexpr size_t STACK = 1 << 20;  // per fibre: room for the arrays of large dimensions
struct Block {
    ucontext_t scheduler;
    std::vector<ucontext_t> fibres;
    std::vector<std::unique_ptr<char[]>> stacks;
    std::vector<bool> done;
    int current = 0;
};

// The arguments of a launch, as the dispatcher of host.rs passes them to a kernel's entry.
struct Call {
    int n_out, n_in;
    const void* const* args;
    void* out;
    void (*entry)(const Call&);
};
inline thread_local Block block_state;
inline thread_local const Call* current_call;

inline void fibre_entry() {
    Block& b = block_state;
    current_call->entry(*current_call);
    b.done[b.current] = true;
}  // returns to the scheduler through uc_link

inline void syncthreads() { swapcontext(&block_state.fibres[block_state.current], &block_state.scheduler); }

// Runs the call's entry as a grid of ceil(n_out / block) blocks of `block` threads, block after block.
// `Lock` is a distinct type per kernel, so that one kernel's statics are never shared by two
// launches at once.
template <class Lock> int launch(int block, const Call& call) {
    static std::mutex lock;
    std::lock_guard<std::mutex> guard(lock);
    Block& b = block_state;
    b.fibres.resize(block);
    while ((int)b.stacks.size() < block) b.stacks.emplace_back(new char[STACK]);
    current_call = &call;
    const int blocks = (call.n_out + block - 1) / block;
    for (int bx = 0; bx < blocks; ++bx) {
        blockIdx = {bx, 0, 0};
        b.done.assign(block, false);
        for (int t = 0; t < block; ++t) {
            getcontext(&b.fibres[t]);
            b.fibres[t].uc_stack.ss_sp = b.stacks[t].get();
            b.fibres[t].uc_stack.ss_size = STACK;
            b.fibres[t].uc_link = &b.scheduler;
            makecontext(&b.fibres[t], fibre_entry, 0);
        }
        for (bool running = true; running;) {
            running = false;
            for (int t = 0; t < block; ++t) {
                if (b.done[t]) continue;
                running = true;
                b.current = t;
                threadIdx = {t, 0, 0};
                swapcontext(&b.scheduler, &b.fibres[t]);
            }
        }
    }
    return 0;
}
}  // namespace noyau_host

inline void __syncthreads() { noyau_host::syncthreads(); }
inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
