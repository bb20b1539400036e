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

/// A Genred whose formula, once differentiated and simplified, no longer uses some declared
/// aliases still takes every declared argument, in alias order (KeOps' convention): a second
/// derivative of a quadratic form keeps neither x nor y, yet x, y and e are passed.
#[test]
fn declared_arguments_outlive_simplification() {
    use noyau_engine::Genred;
    let aliases = ["x = Vi(2)", "y = Vj(2)", "e = Vi(2)"];
    let g = Genred::new("Grad(Grad(SqDist(x, y), x, IntCst(1)), x, e)", &aliases, Reduction::Sum, Axis::J).unwrap();
    assert_eq!(g.reduce().vars.len(), 3, "{}", g.formula());
    let (n, m) = (4, 5);
    let x = Array2::<f64>::from_elem((n, 2), 0.3);
    let y = Array2::<f64>::from_elem((m, 2), -0.7);
    let e = Array2::<f64>::from_shape_fn((n, 2), |(i, k)| (i + k) as f64);
    let out = g.eval_with(&[x.view(), y.view(), e.view()], &Options::default()).unwrap();
    // d²‖x−y‖²/dx² = 2I, so each of the M terms is 2e.
    assert_eq!(out, e.mapv(|v| 2.0 * v * m as f64));
    // The arguments are still checked: too few is an error naming what is missing.
    assert!(g.eval_with(&[x.view(), e.view()], &Options::default()).is_err());
}

/// KeOps' Max_SumShiftExp, the unweighted form: (max_j f, Σ_j exp(f − max_j f)).
#[test]
fn max_sum_shift_exp_without_a_weight() {
    use noyau_engine::Genred;
    let g = Genred::new(
        "-SqDist(x, y)",
        &["x = Vi(1)", "y = Vj(1)"],
        Reduction::from_name("Max_SumShiftExp", None).unwrap(),
        Axis::J,
    )
    .unwrap();
    let x = Array2::from_shape_vec((2, 1), vec![0.0, 1.0]).unwrap();
    let y = Array2::from_shape_vec((3, 1), vec![0.0, 0.5, 2.0]).unwrap();
    let out = g.eval_with(&[x.view(), y.view()], &Options::default()).unwrap();
    for (i, &xi) in [0.0f64, 1.0].iter().enumerate() {
        let f: Vec<f64> = [0.0f64, 0.5, 2.0].iter().map(|yj| -(xi - yj) * (xi - yj)).collect();
        let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = f.iter().map(|v| (v - m).exp()).sum();
        assert!((out[[i, 0]] - m).abs() < 1e-12 && (out[[i, 1]] - s).abs() < 1e-12, "row {i}: {:?}", out.row(i));
    }
}

/// Random clusters over 0..n (lengths 1 to 24, with gaps that belong to no cluster).
fn random_clusters(n: usize, rng: &mut Rng) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let len = 1 + (rng.next_u64() % 24) as usize;
        let end = (at + len).min(n);
        if !rng.next_u64().is_multiple_of(5) {
            out.push(at..end);
        }
        at = end;
    }
    out
}

/// Random block-sparse ranges for N i-points and M j-points, each cluster pair kept with
/// probability 2/5.
fn random_ranges(n: usize, m: usize, seed: u64) -> noyau_engine::ranges::Ranges {
    let mut rng = Rng::new(seed);
    let (ci, cj) = (random_clusters(n, &mut rng), random_clusters(m, &mut rng));
    let keep = Array2::from_shape_fn((ci.len(), cj.len()), |_| rng.next_u64() % 5 < 2);
    noyau_engine::ranges::from_matrix(&ci, &cj, keep.view()).unwrap()
}

/// Block-sparse reductions equal the reference restricted to the kept blocks: every reduction,
/// both axes (each reading its half of the ranges), every SIMD level and engine.
#[test]
fn block_sparse_reductions_match_the_reference() {
    for &(n, m) in &[(40usize, 65usize), (33, 1100), (200, 150)] {
        for axis in [Axis::J, Axis::I] {
            for red in reductions() {
                let spec = spec(red, axis);
                let d = data::<f64>(n, m, (n * 7 + m) as u64);
                let views: Vec<ArrayView2<f64>> = d.iter().map(|a| a.view()).collect();
                let (n_out, n_in) = spec.sizes(&views).unwrap();
                let ranges = std::sync::Arc::new(random_ranges(n, m, (n + m) as u64));
                let sparse = Options { ranges: Some(ranges.clone()), ..Options::default() };
                let reference = Options { backend: Backend::Reference, ..sparse.clone() };
                let want = spec.eval(&views, &reference).unwrap();
                for level in SimdLevel::available() {
                    for engine in [Engine::Auto, Engine::Interpreter] {
                        let got = cpu::reduce_on(&spec, &views, n_out, n_in, &sparse, level, engine).unwrap();
                        check(&got, &want, 1e-12, &format!("{red} axis {axis:?} n={n} m={m} {engine:?} ranges"));
                    }
                }
                let got = spec.eval(&views, &sparse).unwrap();
                check(&got, &want, 1e-12, &format!("{red} axis {axis:?} n={n} m={m} through eval"));
            }
        }
    }
}

/// Keeping every block gives the dense result; ranges that do not fit the data are an error.
#[test]
fn full_ranges_are_dense_and_bad_ranges_are_errors() {
    let (n, m) = (70, 130);
    let spec = spec(Reduction::Sum, Axis::J);
    let d = data::<f64>(n, m, 3);
    let views: Vec<ArrayView2<f64>> = d.iter().map(|a| a.view()).collect();
    let ci = [0..30, 30..70];
    let cj = [0..100, 100..130];
    let all = noyau_engine::ranges::from_matrix(&ci, &cj, Array2::from_elem((2, 2), true).view()).unwrap();
    let opts = Options { ranges: Some(std::sync::Arc::new(all)), ..Options::default() };
    let dense = spec.eval(&views, &Options::default()).unwrap();
    check(&spec.eval(&views, &opts).unwrap(), &dense, 1e-12, "all blocks kept");
    let small = data::<f64>(n, 100, 3);
    let small: Vec<ArrayView2<f64>> = small.iter().map(|a| a.view()).collect();
    let err = spec.eval(&small, &opts).unwrap_err().to_string();
    assert!(err.contains("not within 0..100"), "{err}");
}

/// The gradients of a block-sparse Gaussian convolution honour the ranges: with respect to x
/// (a reduction over j, the first half) and to y (over i, the transposed half), against sums
/// written out over the kept pairs.
#[test]
fn block_sparse_gradients_honour_the_ranges() {
    let (n, m) = (50, 70);
    let x = Expr::var(0, 2, Cat::I).unwrap();
    let y = Expr::var(1, 2, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.clone().sqdist(y.clone()).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let spec = Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(9);
    let (xs, ys, bs): (Array2<f64>, Array2<f64>, Array2<f64>) =
        (rng.normal_array(n, 2), rng.normal_array(m, 2), rng.normal_array(m, 1));
    let eta: Array2<f64> = rng.normal_array(n, 1);
    let ranges = random_ranges(n, m, 4);
    let kept = |i: usize, j: usize| {
        let b = ranges.for_axis(Axis::J);
        b.clusters.iter().position(|c| c.contains(&i)).is_some_and(|c| b.reduced_of(c).iter().any(|r| r.contains(&j)))
    };
    let opts = Options { ranges: Some(std::sync::Arc::new(ranges.clone())), ..Options::default() };
    let inputs = [xs.view(), ys.view(), bs.view()];
    let out = spec.eval(&inputs, &opts).unwrap();
    let grads = spec.vjp(&inputs, out.view(), eta.view(), &[0, 1], &opts).unwrap();
    let (mut gx, mut gy) = (Array2::<f64>::zeros((n, 2)), Array2::<f64>::zeros((m, 2)));
    for i in 0..n {
        for j in (0..m).filter(|&j| kept(i, j)) {
            let diff = [xs[[i, 0]] - ys[[j, 0]], xs[[i, 1]] - ys[[j, 1]]];
            let k = (-(diff[0] * diff[0] + diff[1] * diff[1])).exp() * bs[[j, 0]] * eta[[i, 0]];
            for c in 0..2 {
                gx[[i, c]] -= 2.0 * diff[c] * k;
                gy[[j, c]] += 2.0 * diff[c] * k;
            }
        }
    }
    check(&grads[0], &gx, 1e-12, "gradient with respect to x");
    check(&grads[1], &gy, 1e-12, "gradient with respect to y");
}
