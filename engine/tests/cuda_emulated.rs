//! The generated CUDA of every op, reduction, gradient, layout and sum scheme, run on the host and compared with the CPU backend.
//!
//! The kernels are compiled as C++ by g++ with `cuda_common/host_shim.h`, each GPU thread a
//! fibre and `__syncthreads` a switch to the next one (`cuda_common/host.rs`). This checks everything of
//! the GPU backend but the device and CUDA's math library, on machines without a GPU. Without
//! g++ the tests print a notice and pass, unless `NOYAU_REQUIRE_HOST_CXX=1`.

#![cfg(feature = "cuda")]

mod common;
mod cuda_common;

use cuda_common::differential::{self, assert_passes, Case};
use cuda_common::host::{compiler_ready, work_dir, HostEmulator};
use noyau_engine::Reduction;

fn emulate(name: &str, cases: Vec<Case>) {
    if !compiler_ready(name) {
        return;
    }
    let dir = work_dir(name);
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let emulator = HostEmulator::build(&cases, &dir, jobs).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_passes(name, &cases, &emulator);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_operation_matches_the_cpu() {
    emulate("operations", differential::op_cases(&[Reduction::Sum]));
}

#[test]
fn every_reduction_matches_the_cpu() {
    let mut cases = differential::reduction_cases();
    cases.extend(differential::op_cases(&[Reduction::MinArgMin, Reduction::LogSumExpWeight]));
    emulate("reductions", cases);
}

#[test]
fn gradients_match_the_cpu() {
    emulate("gradients", differential::gradient_cases());
}

#[test]
fn layouts_and_sum_schemes_match_the_cpu() {
    let mut cases = differential::layout_cases();
    cases.extend(differential::scheme_cases());
    emulate("layouts", cases);
}
