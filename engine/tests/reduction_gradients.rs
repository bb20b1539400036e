//! Gradients of reductions (`Reduce::vjp`) against central finite differences of the float64 reference, and closed forms.
//!
//! Every reduction, on both axes, is differentiated with respect to an output-side variable, a
//! reduced-side variable and a parameter; the finite differences perturb every input entry of
//! ⟨out, η⟩ computed by the reference backend. Random normal points keep Min/Max/KMin away from
//! ties. Then: the LDDMM Hamiltonian against its closed-form gradients, the Sinkhorn softmin, a
//! Hessian-vector product (the gradient of a gradient reduction), a run at N = 10⁵, the cache
//! of derived reductions, and the error messages.

mod common;

use common::catalog::{reduction_inputs, reductions};
use ndarray::{Array2, ArrayView2};
use noyau_engine::diff::grad;
use noyau_engine::random::Rng;
use noyau_engine::{Axis, Backend, Cat, Expr, Options, Reduce, Reduction, VarDecl};
use std::sync::Arc;

const STEP: f64 = 1e-6;

fn reference() -> Options {
    Options { backend: Backend::Reference, ..Options::default() }
}

fn views(a: &[Array2<f64>]) -> Vec<ArrayView2<'_, f64>> {
    a.iter().map(|a| a.view()).collect()
}

/// ⟨out, η⟩ with out computed by the float64 reference backend.
fn objective(spec: &Reduce, inputs: &[Array2<f64>], eta: &Array2<f64>) -> f64 {
    let out = spec.eval(&views(inputs), &reference()).unwrap();
    out.iter().zip(eta).map(|(o, e)| o * e).sum()
}

/// ∂⟨out, η⟩/∂inputs[k] by central differences, one entry at a time.
fn finite_difference(spec: &Reduce, inputs: &[Array2<f64>], eta: &Array2<f64>, k: usize) -> Array2<f64> {
    let mut x = inputs.to_vec();
    let mut g = Array2::zeros(inputs[k].dim());
    for idx in ndarray::indices(inputs[k].dim()) {
        let v = inputs[k][idx];
        x[k][idx] = v + STEP;
        let up = objective(spec, &x, eta);
        x[k][idx] = v - STEP;
        let down = objective(spec, &x, eta);
        x[k][idx] = v;
        g[idx] = (up - down) / (2.0 * STEP);
    }
    g
}

/// Entrywise |got − want| ≤ tol · max(1, ‖want‖∞).
fn assert_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let scale = want.iter().fold(1f64, |a, b| a.max(b.abs()));
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}: got {g}, want {w} (scale {scale})\ngot  {got:.6}\nwant {want:.6}"
        );
    }
}

/// vjp with both backends against finite differences, for every input.
fn check_against_fd(spec: &Reduce, inputs: &[Array2<f64>], eta: &Array2<f64>, tol: f64, what: &str) {
    let wrt: Vec<usize> = (0..inputs.len()).collect();
    let want: Vec<Array2<f64>> = wrt.iter().map(|&k| finite_difference(spec, inputs, eta, k)).collect();
    for opts in [reference(), Options::default()] {
        let out = spec.eval(&views(inputs), &opts).unwrap();
        let got = spec.vjp(&views(inputs), out.view(), eta.view(), &wrt, &opts).unwrap();
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_close(g, w, tol, &format!("{what}, {:?} backend, d/d{}", opts.backend, spec.vars[k].name));
        }
    }
}

fn decls(vars: &[(usize, usize, Cat, &str)]) -> Vec<VarDecl> {
    vars.iter().map(|&(index, dim, cat, name)| VarDecl { name: name.into(), index, dim, cat }).collect()
}

/// x = Vi(3), y = Vj(3), s = Pm(1), b = Vj(2). F = −s‖x−y‖² + ⟨x, y⟩, with a second component
/// x₁·b₀ for the componentwise reductions (so that each component selects its own pair), and
/// the positive weight G = exp(s·b + x₀).
fn spec(red: Reduction, axis: Axis) -> Reduce {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let s = Expr::var(2, 1, Cat::P).unwrap();
    let b = Expr::var(3, 2, Cat::J).unwrap();
    let f = x.clone().sqdist(y.clone()).unwrap().mul(s.clone()).unwrap().neg().unwrap();
    let f = f.add(x.clone().scalprod(y).unwrap()).unwrap();
    let scalar = matches!(
        red,
        Reduction::LogSumExp
            | Reduction::LogSumExpWeight
            | Reduction::MaxSumShiftExpWeight
            | Reduction::SumSoftMaxWeight
    );
    let f =
        if scalar { f } else { f.concat(x.clone().elem(1).unwrap().mul(b.clone().elem(0).unwrap()).unwrap()).unwrap() };
    let g = b.mul(s).unwrap().add(x.elem(0).unwrap()).unwrap().exp().unwrap();
    let weight = red.has_weight().then_some(g);
    let vars = decls(&[(0, 3, Cat::I, "x"), (1, 3, Cat::J, "y"), (2, 1, Cat::P, "s"), (3, 2, Cat::J, "b")]);
    Reduce::with_vars(f, weight, red, axis, &vars).unwrap()
}

#[test]
fn every_reduction_both_axes_every_kind_of_variable() {
    for (n, m) in [(7, 11), (11, 7), (6, 1), (1, 5)] {
        for axis in [Axis::J, Axis::I] {
            for red in reductions() {
                let spec = spec(red, axis);
                let mut rng = Rng::new((n * 100 + m) as u64);
                let inputs = reduction_inputs(&mut rng, n, m);
                let (n_out, n_in) = spec.sizes(&views(&inputs)).unwrap();
                if red.k().is_some_and(|k| k > n_in) {
                    continue;
                }
                let eta = rng.normal_array(n_out, spec.out_dim);
                check_against_fd(&spec, &inputs, &eta, 1e-6, &format!("{red} axis {axis:?} n={n} m={m}"));
            }
        }
    }
}

#[test]
fn empty_sides_give_zero_gradients() {
    for (n, m) in [(0, 5), (4, 0)] {
        for red in reductions() {
            let spec = spec(red, Axis::J);
            let mut rng = Rng::new(3);
            let inputs = reduction_inputs(&mut rng, n, m);
            let (n_out, n_in) = spec.sizes(&views(&inputs)).unwrap();
            if red.k().is_some_and(|k| k > n_in) {
                continue;
            }
            let out = spec.eval(&views(&inputs), &Options::default()).unwrap();
            let eta = rng.normal_array(n_out, spec.out_dim);
            let got = spec.vjp(&views(&inputs), out.view(), eta.view(), &[0, 1, 2, 3], &Options::default()).unwrap();
            for (g, a) in got.iter().zip(&inputs) {
                assert_eq!(g.shape(), a.shape(), "{red} n={n} m={m}");
                assert!(g.iter().all(|v| *v == 0.0), "{red} n={n} m={m}: {g:?}");
            }
        }
    }
}

/// H(q, p) = ½ Σᵢⱼ exp(−‖qᵢ − qⱼ‖²/s²)⟨pᵢ, pⱼ⟩, with q and p each passed as a Vi and a Vj argument.
#[test]
fn lddmm_hamiltonian_matches_closed_forms() {
    let (n, d, s2) = (500, 3, 0.5);
    let qi = Expr::var(0, d, Cat::I).unwrap();
    let qj = Expr::var(1, d, Cat::J).unwrap();
    let pi = Expr::var(2, d, Cat::I).unwrap();
    let pj = Expr::var(3, d, Cat::J).unwrap();
    let k = qi.sqdist(qj).unwrap().neg().unwrap().div(Expr::constant(s2)).unwrap().exp().unwrap();
    let spec = Reduce::new(k.mul(pi.scalprod(pj).unwrap()).unwrap(), None, Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(11);
    let q: Array2<f64> = rng.normal_array(n, d);
    let p: Array2<f64> = rng.normal_array(n, d);
    let inputs = [q.view(), q.view(), p.view(), p.view()];
    let out = spec.eval(&inputs, &Options::default()).unwrap();
    // dH/dout_i = ½ for every row.
    let eta = Array2::from_elem((n, 1), 0.5);
    let g = spec.vjp(&inputs, out.view(), eta.view(), &[0, 1, 2, 3], &Options::default()).unwrap();
    let (dq, dp) = (&g[0] + &g[1], &g[2] + &g[3]);
    // ∂H/∂pᵢ = Σⱼ kᵢⱼ pⱼ; ∂H/∂qᵢ = −(2/s²) Σⱼ kᵢⱼ ⟨pᵢ, pⱼ⟩ (qᵢ − qⱼ) (both terms of the symmetric sum).
    let mut want_dq = Array2::<f64>::zeros((n, d));
    let mut want_dp = Array2::<f64>::zeros((n, d));
    for i in 0..n {
        for j in 0..n {
            let diff = &q.row(i) - &q.row(j);
            let kij = (-diff.dot(&diff) / s2).exp();
            let pp = p.row(i).dot(&p.row(j));
            want_dp.row_mut(i).scaled_add(kij, &p.row(j));
            want_dq.row_mut(i).scaled_add(-2.0 / s2 * kij * pp, &diff);
        }
    }
    for (got, want, what) in [(&dq, &want_dq, "dH/dq"), (&dp, &want_dp, "dH/dp")] {
        let scale = want.iter().fold(0f64, |a, b| a.max(b.abs()));
        let err = got.iter().zip(want).fold(0f64, |a, (g, w)| a.max((g - w).abs()));
        assert!(err <= 1e-10 * scale, "{what}: max error {err} for a scale of {scale}");
    }
}

/// The Sinkhorn building block: outᵢ = −ε log Σⱼ exp((gⱼ − ‖xᵢ − yⱼ‖²)/ε), on both axes.
#[test]
fn softmin_gradients() {
    let eps = 0.1;
    for axis in [Axis::J, Axis::I] {
        let x = Expr::var(0, 2, Cat::I).unwrap();
        let y = Expr::var(1, 2, Cat::J).unwrap();
        let g = Expr::var(2, 1, axis.inner()).unwrap();
        let f = g.sub(x.sqdist(y).unwrap()).unwrap().div(Expr::constant(eps)).unwrap();
        let spec = Reduce::new(f, None, Reduction::LogSumExp, axis).unwrap();
        let mut rng = Rng::new(5);
        let (n, m) = (13, 17);
        let n_in = if axis == Axis::J { m } else { n };
        let inputs = vec![rng.normal_array(n, 2), rng.normal_array(m, 2), rng.normal_array(n_in, 1)];
        let n_out = n + m - n_in;
        // ⟨−ε·lse, η⟩ = ⟨lse, −ε η⟩: the softmin's gradient is the log-sum-exp's with a scaled η.
        let eta = rng.normal_array::<f64>(n_out, 1).mapv(|v| -eps * v);
        check_against_fd(&spec, &inputs, &eta, 1e-6, &format!("softmin axis {axis:?}"));
    }
}

/// A Hessian-vector product: the gradient of E(x) = Σᵢⱼ exp(−‖xᵢ − yⱼ‖²) bⱼ is itself a Sum
/// reduction (its formula from `diff::grad`); its vjp along v is H v.
#[test]
fn gradient_of_a_gradient_reduction() {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let f = x.clone().sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap();
    let gradient = Reduce::new(grad(&f, &x, &Expr::constant(1.0)).unwrap(), None, Reduction::Sum, Axis::J).unwrap();
    let mut rng = Rng::new(9);
    let (n, m) = (8, 12);
    let inputs = vec![rng.normal_array(n, 3), rng.normal_array(m, 3), rng.normal_array(m, 1)];
    let v: Array2<f64> = rng.normal_array(n, 3);
    let out = gradient.eval(&views(&inputs), &Options::default()).unwrap();
    let hv = gradient.vjp(&views(&inputs), out.view(), v.view(), &[0], &Options::default()).unwrap();
    // The gradient at x ± h·v, from the reference backend.
    let at = |t: f64| {
        let mut moved = inputs.clone();
        moved[0].scaled_add(t, &v);
        gradient.eval(&views(&moved), &reference()).unwrap()
    };
    let want = (at(1e-5) - at(-1e-5)) / 2e-5;
    assert_close(&hv[0], &want, 1e-6, "Hessian-vector product");
    // And every input of the second-order reduction against finite differences.
    check_against_fd(&gradient, &inputs, &v, 1e-6, "gradient reduction");
}

/// A Gaussian Sum at N = 10⁵ in float32: the gradient runs (in O(N + M) memory) and a sample of
/// rows matches the closed form −2 Σⱼ (xᵢ − yⱼ) exp(−‖xᵢ − yⱼ‖²) bⱼ ηᵢ.
#[test]
fn gaussian_gradient_at_1e5_points() {
    let (n, m) = (100_000, 1_000);
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let b = Expr::var(2, 1, Cat::J).unwrap();
    let spec =
        Reduce::new(x.sqdist(y).unwrap().neg().unwrap().exp().unwrap().mul(b).unwrap(), None, Reduction::Sum, Axis::J)
            .unwrap();
    let mut rng = Rng::new(1);
    let (xs, ys, bs): (Array2<f32>, Array2<f32>, Array2<f32>) =
        (rng.normal_array(n, 3), rng.normal_array(m, 3), rng.uniform_array(m, 1));
    let eta: Array2<f32> = rng.normal_array(n, 1);
    let inputs = [xs.view(), ys.view(), bs.view()];
    let out = spec.eval(&inputs, &Options::default()).unwrap();
    let dx = spec.vjp(&inputs, out.view(), eta.view(), &[0], &Options::default()).unwrap().remove(0);
    assert_eq!(dx.shape(), &[n, 3]);
    for i in (0..n).step_by(9973) {
        let mut want = [0f64; 3];
        for j in 0..m {
            let diff: Vec<f64> = (0..3).map(|c| (xs[[i, c]] - ys[[j, c]]) as f64).collect();
            let k = (-diff.iter().map(|v| v * v).sum::<f64>()).exp() * bs[[j, 0]] as f64 * eta[[i, 0]] as f64;
            for c in 0..3 {
                want[c] -= 2.0 * diff[c] * k;
            }
        }
        let scale = want.iter().fold(1e-3f64, |a, b| a.max(b.abs()));
        for c in 0..3 {
            let err = (dx[[i, c]] as f64 - want[c]).abs();
            assert!(err <= 1e-4 * scale, "row {i}: got {:?}, want {want:?}", dx.row(i));
        }
    }
}

#[test]
fn derived_reductions_are_cached_across_calls() {
    let s = spec(Reduction::SumSoftMaxWeight, Axis::J);
    let mut rng = Rng::new(2);
    let inputs =
        vec![rng.normal_array(4, 3), rng.normal_array(6, 3), Array2::from_elem((1, 1), 0.7), rng.normal_array(6, 2)];
    let out = s.eval(&views(&inputs), &Options::default()).unwrap();
    let eta = rng.normal_array(4, 2);
    let first = s.vjp(&views(&inputs), out.view(), eta.view(), &[0, 3], &Options::default()).unwrap();
    let plan = s.gradient_plan().unwrap();
    let (a, b) = (plan.input(0).unwrap(), plan.input(3).unwrap());
    let second = s.vjp(&views(&inputs), out.view(), eta.view(), &[0, 3], &Options::default()).unwrap();
    assert_eq!(first, second);
    // The second pass found the same plan and the same derived reductions.
    let plan2 = spec(Reduction::SumSoftMaxWeight, Axis::J).gradient_plan().unwrap();
    assert!(Arc::ptr_eq(&plan, &plan2));
    assert!(Arc::ptr_eq(&a, &plan2.input(0).unwrap()));
    assert!(Arc::ptr_eq(&b, &plan2.input(3).unwrap()));
    assert_eq!(plan.aux.as_ref().map(|r| r.reduction), Some(Reduction::LogSumExp));
}

#[test]
fn errors_name_the_problem() {
    let s = spec(Reduction::Sum, Axis::J);
    let mut rng = Rng::new(4);
    let inputs =
        vec![rng.normal_array(4, 3), rng.normal_array(6, 3), Array2::from_elem((1, 1), 0.7), rng.normal_array(6, 2)];
    let v = views(&inputs);
    let out = s.eval(&v, &Options::default()).unwrap();
    let eta = Array2::<f64>::ones((4, 2));
    let bad = Array2::<f64>::ones((3, 2));
    let err = |out: &Array2<f64>, eta: &Array2<f64>, wrt: &[usize]| {
        s.vjp(&v, out.view(), eta.view(), wrt, &Options::default()).unwrap_err().to_string()
    };
    assert_eq!(
        err(&out, &eta, &[4]),
        "Sum gradient: wrt names input 4, but the reduction has 4 input(s) (x = Vi(3), y = Vj(3), s = Pm(1), b = Vj(2))"
    );
    assert_eq!(
        err(&out, &bad, &[0]),
        "Sum gradient: eta (the output gradient) has shape [3, 2] but the reduction's output has shape [4, 2]"
    );
    assert_eq!(
        err(&bad, &eta, &[0]),
        "Sum gradient: out (the forward output) has shape [3, 2] but the reduction's output has shape [4, 2]"
    );
    // Indices read from a caller's output are checked before use.
    let s = spec(Reduction::MinArgMin, Axis::J);
    let mut out = s.eval(&v, &Options::default()).unwrap();
    out[[1, 2]] = 6.0;
    let eta = Array2::<f64>::ones((4, 4));
    let e = s.vjp(&v, out.view(), eta.view(), &[1], &Options::default()).unwrap_err().to_string();
    assert_eq!(e, "the selected index at row 1, column 2 is 6: it must be −1 or an integer in 0..6");
}
