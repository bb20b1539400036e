//! Lazy reductions as autograd nodes, checked against the same computations written with dense tensor ops.
//!
//! The dense versions build the N×M kernel matrix with broadcasting, which the dense tensor
//! tests check op by op against finite differences; agreement of the two is an independent
//! check of both. Gradients are compared to first order (plain `grad`, through `Reduce::vjp`)
//! and to second order (`grad_with(.., create_graph = true)`, through lazy gradient reductions).

use noyau_engine::random::Rng;
use noyau_engine::tensor::{grad, grad_with, no_grad, Tensor};
use noyau_engine::{Axis, DType, Genred, Options, Reduce, Reduction, Result};

fn reduce(formula: &str, aliases: &[&str], reduction: Reduction) -> Reduce {
    Genred::new(formula, aliases, reduction, Axis::J).unwrap().reduce().clone()
}

fn randn(shape: &[usize], rng: &mut Rng) -> Tensor {
    Tensor::randn(shape, DType::F64, rng).unwrap()
}

/// ‖x_i − y_j‖² as an N×M tensor, densely.
fn sqdist(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    x.unsqueeze(1)?.sub(&y.unsqueeze(0)?)?.square().sum(-1, false)
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    let scale = want.to_vec_f64().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.to_vec_f64().iter().zip(want.to_vec_f64()).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + scale), "{what}[{i}]: lazy {g}, dense {w}");
    }
}

fn grads(out: &Tensor, inputs: &[&Tensor]) -> Vec<Tensor> {
    grad(out, inputs, None).unwrap()
}

/// L = Σ_i (Σ_j exp(−‖x_i − y_j‖²) b_j)².
fn conv_loss_lazy(x: &Tensor, y: &Tensor, b: &Tensor) -> Tensor {
    let spec = reduce("Exp(-SqDist(x,y))*b", &["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], Reduction::Sum);
    Tensor::lazy_reduce(&spec, &[x, y, b], &Options::default()).unwrap().square().sum_all()
}

fn conv_loss_dense(x: &Tensor, y: &Tensor, b: &Tensor) -> Tensor {
    (-sqdist(x, y).unwrap()).exp().matmul(b).unwrap().square().sum_all()
}

#[test]
fn gaussian_convolution_gradient_matches_dense_and_finite_differences() {
    let mut rng = Rng::new(1);
    let (x, y, b) = (
        randn(&[6, 2], &mut rng).requires_grad(),
        randn(&[5, 2], &mut rng).requires_grad(),
        randn(&[5, 1], &mut rng).requires_grad(),
    );
    let lazy = conv_loss_lazy(&x, &y, &b);
    let dense = conv_loss_dense(&x, &y, &b);
    assert!((lazy.item().unwrap() - dense.item().unwrap()).abs() < 1e-12);
    let (gl, gd) = (grads(&lazy, &[&x, &y, &b]), grads(&dense, &[&x, &y, &b]));
    for (k, (l, d)) in gl.iter().zip(&gd).enumerate() {
        assert_close(&format!("d/d{}", ["x", "y", "b"][k]), l, d, 1e-12);
    }
    // Finite differences of the dense loss, element by element.
    let h = 1e-6;
    for (k, input) in [&x, &y, &b].into_iter().enumerate() {
        let base = input.to_vec_f64();
        for e in 0..base.len() {
            let at = |d: f64| {
                let mut v = base.clone();
                v[e] += d;
                let moved = Tensor::from_vec(v, input.shape()).unwrap();
                let mut args = [x.detach(), y.detach(), b.detach()];
                args[k] = moved;
                no_grad(|| conv_loss_dense(&args[0], &args[1], &args[2])).item().unwrap()
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            let g = gl[k].to_vec_f64()[e];
            assert!((g - fd).abs() < 1e-6 * (1.0 + fd.abs()), "input {k}[{e}]: lazy {g}, finite differences {fd}");
        }
    }
}

#[test]
fn float32_and_mixed_dtypes() {
    let mut rng = Rng::new(2);
    let (x, y, b) = (randn(&[7, 2], &mut rng), randn(&[4, 2], &mut rng), randn(&[4, 1], &mut rng));
    let (x32, y32, b32) = (
        x.to_dtype(DType::F32).requires_grad(),
        y.to_dtype(DType::F32).requires_grad(),
        b.to_dtype(DType::F32).requires_grad(),
    );
    let lazy = conv_loss_lazy(&x32, &y32, &b32);
    assert_eq!(lazy.dtype(), DType::F32);
    let (x, y, b) = (x.requires_grad(), y.requires_grad(), b.requires_grad());
    let dense = conv_loss_dense(&x, &y, &b);
    for (l, d) in grads(&lazy, &[&x32, &y32, &b32]).iter().zip(grads(&dense, &[&x, &y, &b])) {
        assert_eq!(l.dtype(), DType::F32);
        assert_close("float32", l, &d, 1e-4);
    }
    // float32 x with float64 y and b: computed in float64, x's gradient returned in float32.
    let mixed = conv_loss_lazy(&x32, &y, &b);
    assert_eq!(mixed.dtype(), DType::F64);
    let g = grads(&mixed, &[&x32, &y]);
    assert_eq!((g[0].dtype(), g[1].dtype()), (DType::F32, DType::F64));
    assert_close("mixed", &g[0], &grads(&dense, &[&x])[0], 1e-5);
}

/// H = ½ Σ_ij exp(−‖q_i − q_j‖² γ) ⟨p_i, p_j⟩, with γ = 1/σ².
fn hamiltonian_lazy(q: &Tensor, p: &Tensor, gamma: &Tensor) -> Tensor {
    let spec = reduce("Exp(-SqDist(q,r)*g)*p", &["q = Vi(3)", "r = Vj(3)", "p = Vj(3)", "g = Pm(1)"], Reduction::Sum);
    let kp = Tensor::lazy_reduce(&spec, &[q, q, p, gamma], &Options::default()).unwrap();
    p.mul(&kp).unwrap().sum_all() * 0.5
}

fn hamiltonian_dense(q: &Tensor, p: &Tensor, gamma: &Tensor) -> Tensor {
    let k = (-sqdist(q, q).unwrap().mul(gamma).unwrap()).exp();
    p.mul(&k.matmul(p).unwrap()).unwrap().sum_all() * 0.5
}

#[test]
fn lddmm_hamiltonian_gradient_matches_dense_at_n_200() {
    let mut rng = Rng::new(3);
    let q = randn(&[200, 3], &mut rng).requires_grad();
    let p = randn(&[200, 3], &mut rng).requires_grad();
    let gamma = Tensor::full(&[1, 1], 1.0 / 0.25, DType::F64).unwrap().requires_grad();
    let (hl, hd) = (hamiltonian_lazy(&q, &p, &gamma), hamiltonian_dense(&q, &p, &gamma));
    assert!((hl.item().unwrap() - hd.item().unwrap()).abs() < 1e-10 * hd.item().unwrap().abs());
    let (gl, gd) = (grads(&hl, &[&q, &p, &gamma]), grads(&hd, &[&q, &p, &gamma]));
    for (name, l, d) in [("q", &gl[0], &gd[0]), ("p", &gl[1], &gd[1]), ("gamma", &gl[2], &gd[2])] {
        assert_close(&format!("dH/d{name}"), l, d, 1e-10);
    }
}

/// Σ_k ⟨∂out/∂x_k, v_k⟩, differentiable.
fn directional_gradient(out: &Tensor, inputs: &[&Tensor], vs: &[Tensor]) -> Tensor {
    let g = grad_with(out, inputs, None, true).unwrap();
    g.iter().zip(vs).fold(Tensor::scalar(0.0, DType::F64), |acc, (g, v)| acc.add(&g.mul(v).unwrap().sum_all()).unwrap())
}

#[test]
fn second_order_through_lazy_reductions() {
    let mut rng = Rng::new(4);
    let q = randn(&[40, 3], &mut rng).requires_grad();
    let p = randn(&[40, 3], &mut rng).requires_grad();
    let gamma = Tensor::full(&[1, 1], 2.0, DType::F64).unwrap().requires_grad();
    let vs = [randn(&[40, 3], &mut rng), randn(&[40, 3], &mut rng), randn(&[1, 1], &mut rng)];
    let inputs = [&q, &p, &gamma];
    let hv_lazy = grads(&directional_gradient(&hamiltonian_lazy(&q, &p, &gamma), &inputs, &vs), &inputs);
    let hv_dense = grads(&directional_gradient(&hamiltonian_dense(&q, &p, &gamma), &inputs, &vs), &inputs);
    for (k, (l, d)) in hv_lazy.iter().zip(&hv_dense).enumerate() {
        assert_close(&format!("Hessian-vector product, input {k}"), l, d, 1e-10);
    }
    // A log-sum-exp reduction, whose gradient reads the forward output: third order, too.
    let x = randn(&[8, 2], &mut rng).requires_grad();
    let y = randn(&[6, 2], &mut rng).requires_grad();
    let spec = reduce("-SqDist(x,y)", &["x = Vi(2)", "y = Vj(2)"], Reduction::LogSumExp);
    let lazy = Tensor::lazy_reduce(&spec, &[&x, &y], &Options::default()).unwrap().square().sum_all();
    let dense = (-sqdist(&x, &y).unwrap()).exp().sum(1, true).unwrap().log().square().sum_all();
    let v = [randn(&[8, 2], &mut rng), randn(&[6, 2], &mut rng)];
    let third = |out: &Tensor| {
        let second = directional_gradient(&directional_gradient(out, &[&x, &y], &v), &[&x, &y], &v);
        grads(&second, &[&x, &y])
    };
    for (l, d) in third(&lazy).iter().zip(third(&dense)) {
        assert_close("third order, log-sum-exp", l, &d, 1e-9);
    }
}

#[test]
fn min_reduction_is_differentiable_once() {
    let mut rng = Rng::new(5);
    let x = randn(&[9, 2], &mut rng).requires_grad();
    let y = randn(&[7, 2], &mut rng).requires_grad();
    let spec = reduce("SqDist(x,y)", &["x = Vi(2)", "y = Vj(2)"], Reduction::Min);
    let lazy = Tensor::lazy_reduce(&spec, &[&x, &y], &Options::default()).unwrap().sum_all();
    let dense = sqdist(&x, &y).unwrap().min(1, false).unwrap().sum_all();
    for (l, d) in grads(&lazy, &[&x, &y]).iter().zip(grads(&dense, &[&x, &y])) {
        assert_close("d min", l, &d, 1e-12);
    }
    let v = [randn(&[9, 2], &mut rng), randn(&[7, 2], &mut rng)];
    let err = grad(&directional_gradient(&lazy, &[&x, &y], &v), &[&x], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lazy_reduce: the gradient of a Min reduction is available to first order only: it cannot be differentiated again"
    );
}

#[test]
fn lazy_reduce_errors() {
    let spec = reduce("Exp(-SqDist(x,y))*b", &["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], Reduction::Sum);
    let o = Options::default();
    let m = |s: &[usize]| Tensor::zeros(s, DType::F64).unwrap();
    let msg = |r: Result<Tensor>| r.unwrap_err().to_string();
    assert_eq!(
        msg(Tensor::lazy_reduce(&spec, &[&m(&[3, 2]), &m(&[4, 2]), &m(&[4])], &o)),
        "lazy_reduce: argument 2 (b) must be a 2-D tensor, got shape [4]"
    );
    assert_eq!(
        msg(Tensor::lazy_reduce(&spec, &[&m(&[3, 2]), &m(&[4, 2]), &m(&[5, 1])], &o)),
        "variable b is declared Vj(1) but got an array of shape [5, 1]: y has 4 rows and both are j-indexed"
    );
    assert!(msg(Tensor::lazy_reduce(&spec, &[&m(&[3, 2])], &o)).starts_with("expected 3 input array(s), got 1"));
}
