//! The GPU backend on a real device, against the CPU backend: every op under every reduction, both element types, gradients, layouts and sum schemes.
//!
//! Runs only where a CUDA driver, a device and NVRTC are present; elsewhere each test prints a
//! notice and passes, unless `NOYAU_REQUIRE_GPU=1` (for a machine that must have one). The same
//! cases run without a GPU through the host emulation (`cuda_emulated.rs`).

#![cfg(feature = "cuda")]

mod common;
mod cuda_common;

use cuda_common::differential::{self, assert_passes, Case, Executor};
use ndarray::{Array2, ArrayView2};
use noyau_engine::random::Rng;
use noyau_engine::{cuda, Axis, Backend, Cat, Expr, Genred, Options, Reduce, Reduction, Result};

/// Whether device 0 can run reductions; otherwise a notice, or a failure under `NOYAU_REQUIRE_GPU=1`.
fn gpu_ready(test: &str) -> bool {
    match cuda::available(0) {
        Ok(()) => true,
        Err(e) => {
            assert!(std::env::var("NOYAU_REQUIRE_GPU").as_deref() != Ok("1"), "{test}: a GPU is required but: {e}");
            cuda_common::notice(&format!("SKIPPED {test}: {e}"));
            false
        }
    }
}

/// Runs the cases through the public API on device 0.
struct Device;

impl Executor for Device {
    fn run_f32(&self, case: &Case, inputs: &[ArrayView2<f32>]) -> Result<Array2<f32>> {
        case.spec.eval(inputs, &Options { backend: Backend::Gpu(0), ..case.opts.clone() })
    }
    fn run_f64(&self, case: &Case, inputs: &[ArrayView2<f64>]) -> Result<Array2<f64>> {
        case.spec.eval(inputs, &Options { backend: Backend::Gpu(0), ..case.opts.clone() })
    }
}

#[test]
fn every_operation_under_every_reduction_matches_the_cpu() {
    if gpu_ready("every_operation_under_every_reduction_matches_the_cpu") {
        assert_passes("operations", &differential::op_cases(&cuda_common::reductions()), &Device);
    }
}

#[test]
fn every_reduction_matches_the_cpu_around_tile_boundaries() {
    if gpu_ready("every_reduction_matches_the_cpu_around_tile_boundaries") {
        assert_passes("reductions", &differential::reduction_cases(), &Device);
    }
}

#[test]
fn gradients_match_the_cpu() {
    if gpu_ready("gradients_match_the_cpu") {
        assert_passes("gradients", &differential::gradient_cases(), &Device);
    }
}

#[test]
fn layouts_and_sum_schemes_match_the_cpu() {
    if gpu_ready("layouts_and_sum_schemes_match_the_cpu") {
        let mut cases = differential::layout_cases();
        cases.extend(differential::scheme_cases());
        assert_passes("layouts", &cases, &Device);
    }
}

/// The accuracy goal of the engine, on the GPU: float32 block sums within 1e-5 of float64 over 10⁵ points.
#[test]
fn float32_block_sum_accuracy_at_1e5() {
    if !gpu_ready("float32_block_sum_accuracy_at_1e5") {
        return;
    }
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let spec = Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(7);
    let (xs, ys, bs): (Array2<f32>, Array2<f32>, Array2<f32>) =
        (rng.normal_array(24, 3), rng.normal_array(100_000, 3), rng.uniform_array(100_000, 1));
    let got = spec
        .eval(&[xs.view(), ys.view(), bs.view()], &Options { backend: Backend::Gpu(0), ..Options::default() })
        .unwrap();
    let d64: Vec<Array2<f64>> = [&xs, &ys, &bs].iter().map(|a| a.mapv(|v| v as f64)).collect();
    let want = noyau_engine::reference::reduce(&spec, &d64.iter().map(|a| a.view()).collect::<Vec<_>>()).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!(((*g as f64 - w) / w).abs() < 1e-5, "got {g}, want {w}");
    }
}

#[test]
fn nan_propagates() {
    if !gpu_ready("nan_propagates") {
        return;
    }
    let f = Expr::var(0, 1, Cat::I).unwrap().mul(Expr::var(1, 1, Cat::J).unwrap()).unwrap();
    let xs = Array2::from_shape_vec((2, 1), vec![1.0f32, 2.0]).unwrap();
    let mut ys = Array2::from_shape_vec((300, 1), (0..300).map(|v| v as f32).collect()).unwrap();
    ys[[250, 0]] = f32::NAN;
    for red in [Reduction::Sum, Reduction::Max, Reduction::Min, Reduction::LogSumExp, Reduction::KMin(2)] {
        let spec = Reduce::new(f.clone(), None, red, Axis::J).unwrap();
        let out =
            spec.eval(&[xs.view(), ys.view()], &Options { backend: Backend::Gpu(0), ..Options::default() }).unwrap();
        assert!(out[[0, 0]].is_nan(), "{red}: {out:?}");
    }
}

/// `Auto` picks the GPU here, `cuda:N` past the last device is an error, and the kernel is timed.
#[test]
fn device_selection_and_timing() {
    if !gpu_ready("device_selection_and_timing") {
        return;
    }
    let g =
        Genred::new("Exp(-SqDist(x,y))*b", &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(3);
    let (x, y, b): (Array2<f32>, Array2<f32>, Array2<f32>) =
        (rng.normal_array(1000, 3), rng.normal_array(2000, 3), rng.normal_array(2000, 1));
    let inputs = [x.view(), y.view(), b.view()];
    assert!(cuda::auto_selects(g.reduce()));
    let auto = g.eval_with(&inputs, &Options::default()).unwrap();
    let gpu = g.eval_with(&inputs, &Options { backend: Backend::Gpu(0), ..Options::default() }).unwrap();
    assert_eq!(auto, gpu);
    let count = cuda::device::device_count().unwrap();
    let err =
        g.eval_with(&inputs, &Options { backend: Backend::Gpu(count), ..Options::default() }).unwrap_err().to_string();
    assert!(err.contains("no CUDA device"), "{err}");
    let (n_out, n_in) = g.reduce().sizes(&inputs).unwrap();
    let (_, timing) = cuda::reduce_timed(g.reduce(), &inputs, n_out, n_in, &Options::default(), 0).unwrap();
    assert!(timing.kernel_ms > 0.0);
}
