//! Every reduction, on both axes, float32 and float64, every SIMD level, against the float64 reference.

mod common;

use common::catalog::{reduction_inputs, reductions};
use ndarray::{Array2, ArrayView2};
use noyau_engine::cpu::{self, Engine, SimdLevel};
use noyau_engine::random::Rng;
use noyau_engine::{Axis, Backend, Cat, Expr, Options, Real, Reduce, Reduction, SumScheme};

/// Sizes around the tile (64 lanes) and block (16 tiles) boundaries, and the empty and single cases.
/// (1029: sixteen whole tiles, then a block holding only the last, partial tile.)
const SIZES: &[(usize, usize)] =
    &[(0, 5), (5, 0), (1, 1), (3, 63), (17, 64), (40, 65), (33, 1100), (9, 1029), (70, 130)];

/// F = -‖x−y‖²·s + ⟨x, y⟩ (dim 1, or dim 2 via a concatenation for the componentwise reductions),
/// with a weight b of dim 2 for the weighted ones.
fn spec(red: Reduction, axis: Axis) -> Reduce {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let s = Expr::var(2, 1, Cat::P).unwrap();
    let b = Expr::var(3, 2, Cat::J).unwrap();
    let f = x
        .clone()
        .sqdist(y.clone())
        .unwrap()
        .neg()
        .unwrap()
        .mul(s)
        .unwrap()
        .add(x.clone().scalprod(y.clone()).unwrap())
        .unwrap();
    let componentwise = !matches!(
        red,
        Reduction::LogSumExp
            | Reduction::LogSumExpWeight
            | Reduction::MaxSumShiftExpWeight
            | Reduction::SumSoftMaxWeight
    );
    let f =
        if componentwise { f.concat(x.elem(1).unwrap().mul(b.clone().elem(0).unwrap()).unwrap()).unwrap() } else { f };
    let weight = red.has_weight().then_some(b.clone());
    let declared: Vec<_> = [(0, 3, Cat::I, "x"), (1, 3, Cat::J, "y"), (2, 1, Cat::P, "s"), (3, 2, Cat::J, "b")]
        .iter()
        .map(|&(index, dim, cat, name)| noyau_engine::VarDecl { name: name.into(), index, dim, cat })
        .collect();
    Reduce::with_vars(f, weight, red, axis, &declared).unwrap()
}

fn data<T: Real>(n: usize, m: usize, seed: u64) -> Vec<Array2<T>> {
    reduction_inputs(&mut Rng::new(seed), n, m)
}

/// Max relative error of `got` against `want`, index outputs compared exactly.
fn check<T: Real>(got: &Array2<T>, want: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let scale = want.iter().filter(|v| v.is_finite()).fold(1e-30f64, |a, b| a.max(b.abs()));
    for (g, w) in got.iter().zip(want) {
        let g = g.as_f64();
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == *w
        } else {
            (g - w).abs() <= tol * scale.max(w.abs())
        };
        assert!(ok, "{what}: got {g}, want {w} (scale {scale})\ngot  {got:?}\nwant {want:?}");
    }
}

fn run_all<T: Real>(tol: f64) {
    for &(n, m) in SIZES {
        for axis in [Axis::J, Axis::I] {
            for red in reductions() {
                let spec = spec(red, axis);
                let d = data::<T>(n, m, (n * 1000 + m) as u64);
                let views: Vec<ArrayView2<T>> = d.iter().map(|a| a.view()).collect();
                let (n_out, n_in) = spec.sizes(&views).unwrap();
                if red.k().is_some_and(|k| k > n_in) {
                    let err = spec.eval(&views, &Options::default()).unwrap_err().to_string();
                    assert!(err.contains("larger than the number of points"), "{err}");
                    continue;
                }
                let want = spec.eval(&views, &Options { backend: Backend::Reference, ..Options::default() }).unwrap();
                let want = want.mapv(|v| v.as_f64());
                let engines =
                    SimdLevel::available().into_iter().flat_map(|l| [(l, Engine::Auto), (l, Engine::Interpreter)]);
                for (level, engine) in engines {
                    for scheme in [SumScheme::Direct, SumScheme::Block, SumScheme::Kahan] {
                        for accumulate_f64 in [false, true] {
                            let opts = Options { sum_scheme: scheme, accumulate_f64, ..Options::default() };
                            let got = cpu::reduce_on(&spec, &views, n_out, n_in, &opts, level, engine).unwrap();
                            let what = format!(
                                "{red} axis {axis:?} n={n} m={m} {} {engine:?} {scheme:?} f64-acc {accumulate_f64}",
                                level.name()
                            );
                            check(&got, &want, tol, &what);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_reduction_f64() {
    run_all::<f64>(1e-12);
}

#[test]
fn every_reduction_f32() {
    run_all::<f32>(2e-5);
}

/// The accuracy goal of the engine: float32 block sums within 1e-5 of float64 over 10⁵ points.
#[test]
fn float32_block_sum_accuracy_at_1e5() {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let spec = Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(7);
    let (n, m) = (24, 100_000);
    let xs: Array2<f32> = rng.normal_array(n, 3);
    let ys: Array2<f32> = rng.normal_array(m, 3);
    let bs: Array2<f32> = rng.uniform_array(m, 1);
    let views = [xs.view(), ys.view(), bs.view()];
    let got = spec.eval(&views, &Options::default()).unwrap();
    let d64: Vec<Array2<f64>> = [&xs, &ys, &bs].iter().map(|a| a.mapv(|v| v as f64)).collect();
    let v64: Vec<_> = d64.iter().map(|a| a.view()).collect();
    let want = noyau_engine::reference::reduce(&spec, &v64).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let rel = ((*g as f64 - w) / w).abs();
        assert!(rel < 1e-5, "relative error {rel}: got {g}, want {w}");
    }
}

/// float32 log-sum-exp against float64, for points at the scale of the data and for points
/// so far apart that most terms fall below the smallest normal float (a Sinkhorn iteration at
/// a small ε): the unweighted fold leaves such terms out, the weighted one computes them.
#[test]
fn float32_log_sum_exp_accuracy() {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.sqdist(y).unwrap().neg().unwrap();
    let mut rng = Rng::new(11);
    for (m, spread, weighted) in [(100_000, 1.0, false), (3000, 30.0, false), (3000, 30.0, true)] {
        let (red, weight) =
            if weighted { (Reduction::LogSumExpWeight, Some(b.clone())) } else { (Reduction::LogSumExp, None) };
        let spec = Reduce::new(f.clone(), weight, red, Axis::J).unwrap();
        let n = 40;
        let xs: Array2<f32> = rng.normal_array::<f32>(n, 3).mapv(|v| v * spread);
        let ys: Array2<f32> = rng.normal_array::<f32>(m, 3).mapv(|v| v * spread);
        let bs: Array2<f32> = rng.uniform_array(m, 1);
        let args = if weighted { 3 } else { 2 };
        let views = &[xs.view(), ys.view(), bs.view()][..args];
        let d64: Vec<Array2<f64>> = [&xs, &ys, &bs][..args].iter().map(|a| a.mapv(|v| v as f64)).collect();
        let v64: Vec<_> = d64.iter().map(|a| a.view()).collect();
        let want = noyau_engine::reference::reduce(&spec, &v64).unwrap();
        for level in SimdLevel::available() {
            let got = cpu::reduce_on(&spec, views, n, m, &Options::default(), level, Engine::Auto).unwrap();
            for (g, w) in got.iter().zip(&want) {
                // Within a few float32 ulps of the value (its magnitude runs to thousands).
                let err = (*g as f64 - w).abs() / w.abs().max(1.0);
                assert!(err < 4e-7, "{red} m={m} spread {spread} {}: got {g}, want {w}, error {err:e}", level.name());
            }
        }
    }
}

#[test]
fn nan_propagates() {
    let x = Expr::var(0, 1, Cat::I).unwrap();
    let y = Expr::var(1, 1, Cat::J).unwrap();
    let f = x.mul(y).unwrap();
    let xs = Array2::from_shape_vec((2, 1), vec![1.0f32, 2.0]).unwrap();
    let mut ys = Array2::from_shape_vec((100, 1), (0..100).map(|v| v as f32).collect()).unwrap();
    ys[[70, 0]] = f32::NAN;
    for red in [Reduction::Sum, Reduction::Max, Reduction::Min, Reduction::LogSumExp, Reduction::KMin(2)] {
        let spec = Reduce::new(f.clone(), None, red, Axis::J).unwrap();
        let out = spec.eval(&[xs.view(), ys.view()], &Options::default()).unwrap();
        assert!(out[[0, 0]].is_nan(), "{red}: {out:?}");
    }
}
