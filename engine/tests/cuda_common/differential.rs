//! The differential suite of the GPU backend: cases covering every op, reduction, gradient, layout and sum scheme, run by an executor and compared with the CPU backend.
//!
//! An executor is the GPU itself (`cuda_device.rs`) or the host emulation of the generated
//! CUDA (`host.rs`, `cuda_emulated.rs`), so that the same cases check the generated code with
//! and without a GPU.

use super::{inputs, reduce_of, reductions, rows, var};
use ndarray::{Array2, ArrayView2};
use noyau_engine::{Axis, Backend, Cat, DType, Expr, Options, Real, Reduce, Reduction, Result, SumScheme};
use rayon::prelude::*;

/// One reduction on one data set.
#[derive(Clone)]
pub struct Case {
    pub label: String,
    pub spec: Reduce,
    pub dtype: DType,
    pub opts: Options,
    /// Points on the i side and on the j side.
    pub n: usize,
    pub m: usize,
    /// Range of the data.
    pub lo: f64,
    pub hi: f64,
}

/// Something that runs a reduction the way the GPU backend does.
pub trait Executor: Sync {
    fn run_f32(&self, case: &Case, inputs: &[ArrayView2<f32>]) -> Result<Array2<f32>>;
    fn run_f64(&self, case: &Case, inputs: &[ArrayView2<f64>]) -> Result<Array2<f64>>;
}

fn case(label: String, spec: Reduce, dtype: DType, (n, m): (usize, usize), (lo, hi): (f64, f64)) -> Case {
    Case { label, spec, dtype, opts: Options::default(), n, m, lo, hi }
}

/// Float32 over j and float64 over i: both element types, and every variable on both sides.
const VARIANTS: [(DType, Axis); 2] = [(DType::F32, Axis::J), (DType::F64, Axis::I)];

/// Every row of the catalogue under each reduction of `reds`.
pub fn op_cases(reds: &[Reduction]) -> Vec<Case> {
    let mut cases = Vec::new();
    for r in rows() {
        for &red in reds {
            for (dtype, axis) in VARIANTS {
                let label = format!("{} under {red} ({}, axis {axis:?})", r.label, dtype.name());
                cases.push(case(label, reduce_of(&r.f, red, axis), dtype, (37, 71), (r.lo, r.hi)));
            }
        }
    }
    cases
}

/// Every reduction, on both axes, around the tile and block boundaries (192 points), with the
/// empty and single-point cases.
pub fn reduction_cases() -> Vec<Case> {
    let (x, y, a) = (var(0), var(1), var(2));
    let f = x
        .clone()
        .sqdist(y.clone())
        .unwrap()
        .neg()
        .unwrap()
        .mul(a)
        .unwrap()
        .add(x.clone().scalprod(y).unwrap())
        .unwrap();
    let f2 = f.clone().concat(x.elem(1).unwrap()).unwrap();
    let sizes = [(0, 5), (5, 0), (1, 1), (5, 191), (33, 192), (193, 40), (200, 450)];
    let mut cases = Vec::new();
    for red in reductions() {
        let formula = if super::needs_scalar(red) { &f } else { &f2 };
        for (dtype, axis) in [(DType::F32, Axis::J), (DType::F32, Axis::I), (DType::F64, Axis::J)] {
            for size in sizes {
                // K nearest among fewer than K points (none included) is an error, tested elsewhere.
                let n_in = if axis == Axis::J { size.1 } else { size.0 };
                if red.k().is_some_and(|k| k > n_in) {
                    continue;
                }
                let label = format!("{red} ({}, axis {axis:?}, {size:?})", dtype.name());
                cases.push(case(label, reduce_of(formula, red, axis), dtype, size, (-1.0, 1.0)));
            }
        }
    }
    cases
}

/// The gradient of each row with respect to x (summed over j) and to y (summed over i).
pub fn gradient_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for r in rows() {
        let e = Expr::var(10, r.f.dim(), Cat::I).unwrap();
        for (v, axis) in [(0, Axis::J), (1, Axis::I)] {
            let g = noyau_engine::diff::grad(&r.f, &var(v), &e).unwrap();
            let label = format!("gradient of {} with respect to variable {v}", r.label);
            cases.push(case(label, reduce_of(&g, Reduction::Sum, axis), DType::F64, (23, 41), (r.lo, r.hi)));
        }
    }
    cases
}

/// Dimensions that need the chunked scheme (tiles of fewer points) and the global one.
pub fn layout_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (d, dtype) in [(100, DType::F32), (40, DType::F64), (7000, DType::F64)] {
        let x = Expr::var(0, d, Cat::I).unwrap();
        let y = Expr::var(1, d, Cat::J).unwrap();
        let k = x.clone().sqdist(y.clone()).unwrap().neg().unwrap().exp().unwrap();
        for (f, red) in
            [(k.mul(y.clone()).unwrap(), Reduction::Sum), (x.sub(y).unwrap().sqnorm2().unwrap(), Reduction::ArgKMin(3))]
        {
            let spec = Reduce::new(f, None, red, Axis::J).unwrap();
            cases.push(case(format!("{red} in dimension {d} ({})", dtype.name()), spec, dtype, (40, 300), (-0.1, 0.1)));
        }
    }
    cases
}

/// The sum schemes and float64 accumulation of float32 data, on a long reduction.
pub fn scheme_cases() -> Vec<Case> {
    let (x, y, b) = (var(0), var(1), var(3));
    let f = x.sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let mut cases = Vec::new();
    for red in [Reduction::Sum, Reduction::LogSumExpWeight] {
        for scheme in [SumScheme::Direct, SumScheme::Block, SumScheme::Kahan] {
            for acc in [false, true] {
                let mut c = case(
                    format!("{red} {scheme:?}, f64 accumulation {acc}"),
                    reduce_of(&f, red, Axis::J),
                    DType::F32,
                    (20, 5000),
                    (0.0, 1.0),
                );
                c.opts = Options { sum_scheme: scheme, accumulate_f64: acc, ..Options::default() };
                cases.push(c);
            }
        }
    }
    cases
}

/// A mismatch report, or nothing when `got` matches `want` within `tol` relative to the
/// largest finite value of `want` (index outputs thus match exactly).
fn compare<T: Real>(label: &str, got: &Array2<T>, want: &Array2<T>, tol: f64) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("{label}: shape {:?}, the CPU gives {:?}", got.shape(), want.shape()));
    }
    let scale = want.iter().map(|v| v.as_f64()).filter(|v| v.is_finite()).fold(1e-30f64, |a, b| a.max(b.abs()));
    let bad = got.iter().zip(want).map(|(g, w)| (g.as_f64(), w.as_f64())).find(|&(g, w)| {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * scale.max(w.abs())
        };
        !ok
    });
    bad.map(|(g, w)| format!("{label}: got {g}, the CPU gives {w} (scale {scale})\n  got  {got:?}\n  want {want:?}"))
}

fn check<T: Real>(c: &Case, run: impl Fn(&[ArrayView2<T>]) -> Result<Array2<T>>, tol: f64) -> Option<String> {
    let data = inputs::<T>(&c.spec, c.n, c.m, c.lo, c.hi, (c.n * 7919 + c.m) as u64);
    let views: Vec<ArrayView2<T>> = data.iter().map(|a| a.view()).collect();
    let cpu = Options { backend: Backend::Cpu, ..c.opts.clone() };
    let want = match c.spec.eval(&views, &cpu) {
        Ok(w) => w,
        Err(e) => return Some(format!("{}: the CPU fails: {e}", c.label)),
    };
    match run(&views) {
        Ok(got) => compare(&c.label, &got, &want, tol),
        Err(e) => Some(format!("{}: {e}", c.label)),
    }
}

/// Runs every case and returns the failures, one report each.
pub fn run(cases: &[Case], exec: &dyn Executor) -> Vec<String> {
    cases
        .par_iter()
        .filter_map(|c| match c.dtype {
            DType::F32 => check::<f32>(c, |v| exec.run_f32(c, v), 5e-5),
            DType::F64 => check::<f64>(c, |v| exec.run_f64(c, v), 1e-11),
        })
        .collect()
}

/// Fails with every report, or passes when there is none.
pub fn assert_passes(what: &str, cases: &[Case], exec: &dyn Executor) {
    let failures = run(cases, exec);
    assert!(
        failures.is_empty(),
        "{what}: {} of {} cases differ from the CPU:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
