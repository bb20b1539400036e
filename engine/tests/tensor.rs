//! Dense tensors: every op's gradient against central finite differences (first and second order), broadcasting, dtypes, errors, printing.
//!
//! One table holds a function for every differentiable op (and for the broadcasting forms of
//! the binary ops). Each row is checked in float64: the gradient of ⟨f(x), w⟩ for a random w
//! against finite differences, and the Hessian-vector product (the gradient of a gradient,
//! through `grad_with(.., create_graph = true)`) against finite differences of the gradient.
//! Error messages are snapshots; regenerate with `UPDATE_EXPECT=1 cargo test -p noyau-engine --test tensor`.

use expect_test::{expect, Expect};
use noyau_engine::random::Rng;
use noyau_engine::tensor::{grad, grad_with, no_grad, Tensor};
use noyau_engine::{DType, Result};

type OpFn = fn(&[Tensor]) -> Result<Tensor>;

/// An op under test: its input shapes, the interval its inputs are drawn from, and the function.
struct Case {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    domain: (f64, f64),
    f: OpFn,
}

const ANY: (f64, f64) = (-2.0, 2.0);
const POS: (f64, f64) = (0.5, 2.0);

fn cases() -> Vec<Case> {
    let c = |name, shapes, domain, f: OpFn| Case { name, shapes, domain, f };
    vec![
        c("add", &[&[2, 3], &[2, 3]], ANY, |x| x[0].add(&x[1])),
        c("add broadcast row", &[&[2, 3], &[3]], ANY, |x| x[0].add(&x[1])),
        c("sub broadcast column", &[&[2, 1], &[2, 3]], ANY, |x| x[0].sub(&x[1])),
        c("mul outer broadcast", &[&[4, 1, 3], &[2, 1]], ANY, |x| x[0].mul(&x[1])),
        c("mul by 0-d", &[&[], &[2, 3]], ANY, |x| x[0].mul(&x[1])),
        c("div", &[&[2, 3], &[1, 3]], POS, |x| x[0].div(&x[1])),
        c("pow tensor", &[&[2, 3], &[2, 3]], POS, |x| x[0].pow(&x[1])),
        c("pow broadcast exponent", &[&[2, 3], &[1]], POS, |x| x[0].pow(&x[1])),
        c("pow_scalar 3", &[&[5]], ANY, |x| Ok(x[0].pow_scalar(3.0))),
        c("pow_scalar -1.5", &[&[5]], POS, |x| Ok(x[0].pow_scalar(-1.5))),
        c("square", &[&[5]], ANY, |x| Ok(x[0].square())),
        c("neg", &[&[2, 2]], ANY, |x| Ok(-&x[0])),
        c("exp", &[&[2, 3]], ANY, |x| Ok(x[0].exp())),
        c("log", &[&[2, 3]], POS, |x| Ok(x[0].log())),
        c("sqrt", &[&[2, 3]], POS, |x| Ok(x[0].sqrt())),
        c("sin", &[&[2, 3]], ANY, |x| Ok(x[0].sin())),
        c("cos", &[&[2, 3]], ANY, |x| x[0].cos().mul(&x[0])),
        c("abs", &[&[7]], ANY, |x| x[0].abs().mul(&x[0])),
        c("scalar arithmetic", &[&[4]], POS, |x| {
            ((2.0 - &x[0]) * 3.0).add(&(1.5 / &x[0]))?.sub(&(x[0].clone() / 4.0 + 1.0))
        }),
        c("matmul 2-D", &[&[2, 3], &[3, 4]], ANY, |x| x[0].matmul(&x[1])),
        c("matmul vector·matrix", &[&[3], &[3, 2]], ANY, |x| x[0].matmul(&x[1])),
        c("matmul matrix·vector", &[&[2, 3], &[3]], ANY, |x| x[0].matmul(&x[1])),
        c("matmul vector·vector", &[&[3], &[3]], ANY, |x| x[0].matmul(&x[1])),
        c("matmul batched broadcast", &[&[2, 2, 3], &[3, 2]], ANY, |x| x[0].matmul(&x[1])),
        c("matmul batch broadcast both", &[&[2, 1, 2, 3], &[3, 3, 1]], ANY, |x| x[0].matmul(&x[1])),
        c("dot", &[&[4], &[4]], ANY, |x| x[0].dot(&x[1])),
        c("sum dim", &[&[2, 3, 2]], ANY, |x| x[0].sum(1, false)),
        c("sum keepdim", &[&[2, 3]], ANY, |x| x[0].sum(-1, true)?.mul(&x[0])),
        c("sum all", &[&[2, 3]], ANY, |x| Ok(x[0].sum_all().square())),
        c("mean dim", &[&[2, 3]], ANY, |x| x[0].mean(0, false)),
        c("mean all", &[&[2, 3]], ANY, |x| Ok(x[0].mean_all().exp())),
        c("max dim", &[&[3, 4]], ANY, |x| x[0].max(1, false)),
        c("min keepdim", &[&[3, 4]], ANY, |x| x[0].min(0, true)?.mul(&x[0])),
        c("max all", &[&[3, 4]], ANY, |x| Ok(x[0].max_all()?.square())),
        c("min all", &[&[5]], ANY, |x| x[0].min_all()),
        c("reshape -1", &[&[2, 3]], ANY, |x| x[0].reshape(&[3, -1])?.matmul(&x[0])),
        c("view", &[&[2, 3]], ANY, |x| x[0].view(&[6])),
        c("unsqueeze squeeze", &[&[2, 3]], ANY, |x| x[0].unsqueeze(0)?.mul(&x[0])?.squeeze(0)),
        c("transpose", &[&[2, 3, 4]], ANY, |x| x[0].transpose(0, -1)),
        c("t", &[&[2, 3]], ANY, |x| x[0].t()?.matmul(&x[0])),
        c("slice", &[&[4, 3]], ANY, |x| x[0].slice(0, 1, 3)?.exp().sum(1, false)),
        c("slice negative", &[&[2, 5]], ANY, |x| x[0].slice(-1, -3, 100)),
        c("index", &[&[3, 2]], ANY, |x| x[0].index(-1)?.mul(&x[0].index(0)?)),
        c("cat", &[&[2, 3], &[1, 3]], ANY, |x| Tensor::cat(&[&x[0], &x[1], &x[0]], 0)?.square().sum(0, false)),
        c("stack", &[&[3], &[3]], ANY, |x| Tensor::stack(&[&x[0], &x[1].exp()], 1)),
        c("broadcast_to", &[&[3, 1]], ANY, |x| x[0].broadcast_to(&[2, 3, 4])?.mul(&x[0])),
        c("to_dtype round trip", &[&[3]], ANY, |x| Ok(x[0].to_dtype(DType::F64).square())),
        c("softplus-like chain", &[&[2, 3], &[3]], ANY, |x| {
            Ok((x[0].mul(&x[1])?.exp() + 1.0).log().sum(0, false)?.sqrt())
        }),
    ]
}

fn random_inputs(case: &Case, rng: &mut Rng) -> Vec<Tensor> {
    let (lo, hi) = case.domain;
    case.shapes
        .iter()
        .map(|s| {
            let n: usize = s.iter().product();
            Tensor::from_vec((0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect(), s).unwrap()
        })
        .collect()
}

/// L(x) = ⟨f(x), w⟩, without recording.
fn objective(case: &Case, xs: &[Tensor], w: &Tensor) -> f64 {
    no_grad(|| (case.f)(xs).unwrap().mul(w).unwrap().sum_all().item().unwrap())
}

/// Central finite differences of `phi` with respect to every element of every input.
fn finite_differences(xs: &[Tensor], h: f64, phi: impl Fn(&[Tensor]) -> f64) -> Vec<Vec<f64>> {
    (0..xs.len())
        .map(|k| {
            let base = xs[k].to_vec_f64();
            (0..base.len())
                .map(|e| {
                    let moved = |d: f64| {
                        let mut v = base.clone();
                        v[e] += d;
                        let mut ys = xs.to_vec();
                        ys[k] = Tensor::from_vec(v, xs[k].shape()).unwrap();
                        phi(&ys)
                    };
                    (moved(h) - moved(-h)) / (2.0 * h)
                })
                .collect()
        })
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: autograd {g}, finite differences {w}");
    }
}

/// The gradients of ⟨f(x), w⟩, recorded (so that they can be differentiated again) if `create_graph`.
fn gradients(case: &Case, xs: &[Tensor], w: &Tensor, create_graph: bool) -> Vec<Tensor> {
    let leaves: Vec<Tensor> = xs.iter().map(|x| x.requires_grad()).collect();
    let out = (case.f)(&leaves).unwrap();
    let loss = out.mul(w).unwrap().sum_all();
    let refs: Vec<&Tensor> = leaves.iter().collect();
    let g = grad_with(&loss, &refs, None, create_graph).unwrap();
    for (gi, x) in g.iter().zip(xs) {
        assert_eq!((gi.shape(), gi.dtype()), (x.shape(), x.dtype()), "{}: gradient shape", case.name);
    }
    if create_graph {
        // The caller differentiates again with respect to these leaves.
        return leaves.into_iter().chain(g).collect();
    }
    g
}

#[test]
fn every_op_gradient_matches_finite_differences() {
    let mut rng = Rng::new(7);
    for case in cases() {
        let xs = random_inputs(&case, &mut rng);
        let out_shape = no_grad(|| (case.f)(&xs).unwrap()).shape().to_vec();
        let n: usize = out_shape.iter().product();
        let w = Tensor::from_vec((0..n).map(|_| rng.normal()).collect(), &out_shape).unwrap();
        let g = gradients(&case, &xs, &w, false);
        let fd = finite_differences(&xs, 1e-6, |ys| objective(&case, ys, &w));
        for (k, (gk, fk)) in g.iter().zip(&fd).enumerate() {
            assert_close(&format!("{} d/dx{k}", case.name), &gk.to_vec_f64(), fk, 1e-6);
        }
    }
}

#[test]
fn every_op_second_order_matches_finite_differences() {
    let mut rng = Rng::new(11);
    for case in cases() {
        let xs = random_inputs(&case, &mut rng);
        let out_shape = no_grad(|| (case.f)(&xs).unwrap()).shape().to_vec();
        let n: usize = out_shape.iter().product();
        let w = Tensor::from_vec((0..n).map(|_| rng.normal()).collect(), &out_shape).unwrap();
        let vs: Vec<Tensor> = random_inputs(&case, &mut rng);
        // φ(x) = Σ_k ⟨∂L/∂x_k, v_k⟩; its gradient is the Hessian of L applied to v.
        let phi_graph = |xs: &[Tensor]| {
            let lg = gradients(&case, xs, &w, true);
            let (leaves, g) = lg.split_at(xs.len());
            let phi = g.iter().zip(&vs).fold(Tensor::scalar(0.0, DType::F64), |acc, (gk, vk)| {
                acc.add(&gk.mul(vk).unwrap().sum_all()).unwrap()
            });
            (leaves.to_vec(), phi)
        };
        let (leaves, phi) = phi_graph(&xs);
        let refs: Vec<&Tensor> = leaves.iter().collect();
        let hv = grad(&phi, &refs, None).unwrap();
        let fd = finite_differences(&xs, 1e-5, |ys| phi_graph(ys).1.item().unwrap());
        for (k, (hk, fk)) in hv.iter().zip(&fd).enumerate() {
            assert_close(&format!("{} second order d/dx{k}", case.name), &hk.to_vec_f64(), fk, 1e-5);
        }
    }
}

fn t(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

#[test]
fn broadcasting_values() {
    let a = t(&[1.0, 2.0, 3.0], &[3, 1]);
    let b = t(&[10.0, 20.0], &[2]);
    let s = a.add(&b).unwrap();
    assert_eq!(s.shape(), &[3, 2]);
    assert_eq!(s.to_vec_f64(), vec![11.0, 21.0, 12.0, 22.0, 13.0, 23.0]);
    let c = Tensor::scalar(2.0, DType::F64).mul(&a).unwrap();
    assert_eq!(c.to_vec_f64(), vec![2.0, 4.0, 6.0]);
    // Gradients of broadcast operands are summed over the stretched dimensions.
    let (ar, br) = (a.requires_grad(), b.requires_grad());
    let g = grad(&ar.mul(&br).unwrap().sum_all(), &[&ar, &br], None).unwrap();
    assert_eq!(g[0].to_vec_f64(), vec![30.0; 3]);
    assert_eq!(g[1].to_vec_f64(), vec![6.0, 6.0]);
    assert!(a.add(&t(&[1.0, 2.0], &[1, 2])).is_ok());
    assert!(a.reshape(&[1, 3]).unwrap().add(&t(&[1.0, 2.0], &[2, 1])).is_ok());
}

#[test]
fn comparisons_sign_and_unreached_inputs_have_zero_gradients() {
    let x = t(&[-1.0, 0.0, 2.0], &[3]).requires_grad();
    let y = t(&[0.0, 0.0, 0.0], &[3]).requires_grad();
    let masks = [x.lt(&y), x.le(&y), x.gt(&y), x.ge(&y), x.eq(&y), x.ne(&y)].map(|m| m.unwrap().to_vec_f64());
    assert_eq!(
        masks,
        [[1., 0., 0.], [1., 1., 0.], [0., 0., 1.], [0., 1., 1.], [0., 1., 0.], [1., 0., 1.]].map(|m| m.to_vec())
    );
    assert_eq!(x.sign().to_vec_f64(), vec![-1.0, 0.0, 1.0]);
    let out = x.gt(&y).unwrap().mul(&x).unwrap().sum_all();
    let g = grad(&out, &[&x, &y], None).unwrap();
    assert_eq!(g[0].to_vec_f64(), vec![0.0, 0.0, 1.0]);
    assert_eq!(g[1].to_vec_f64(), vec![0.0; 3]);
    // An output that depends on no input: every gradient is zero.
    let c = Tensor::scalar(3.0, DType::F64);
    assert_eq!(grad(&c, &[&x], None).unwrap()[0].to_vec_f64(), vec![0.0; 3]);
}

#[test]
fn gradients_accumulate_over_shared_subexpressions_and_intermediates() {
    let x = t(&[1.0, 2.0], &[2]).requires_grad();
    let y = x.exp();
    let out = y.mul(&y).unwrap().add(&y).unwrap().sum_all();
    let g = grad(&out, &[&x, &y], None).unwrap();
    let e = [1f64.exp(), 2f64.exp()];
    assert_close("d/dx", &g[0].to_vec_f64(), &[2.0 * e[0] * e[0] + e[0], 2.0 * e[1] * e[1] + e[1]], 1e-12);
    assert_close("d/dy", &g[1].to_vec_f64(), &[2.0 * e[0] + 1.0, 2.0 * e[1] + 1.0], 1e-12);
    // grad_output: a vector-Jacobian product of a non-scalar output.
    let v = grad(&y, &[&x], Some(&t(&[1.0, -1.0], &[2]))).unwrap();
    assert_close("vjp", &v[0].to_vec_f64(), &[e[0], -e[1]], 1e-12);
}

#[test]
fn mixed_dtypes_promote_to_f64_and_gradients_keep_their_dtype() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap().requires_grad();
    let b = t(&[3.0, 4.0], &[2]).requires_grad();
    for out in [a.mul(&b).unwrap(), b.mul(&a).unwrap(), a.matmul(&b).unwrap(), Tensor::cat(&[&a, &b], 0).unwrap()] {
        assert_eq!(out.dtype(), DType::F64);
        let g = grad(&out.sum_all(), &[&a, &b], None).unwrap();
        assert_eq!((g[0].dtype(), g[1].dtype()), (DType::F32, DType::F64));
    }
    let f = a.mul(&a).unwrap();
    assert_eq!(f.dtype(), DType::F32);
    assert_eq!(grad(&f.sum_all(), &[&a], None).unwrap()[0].to_vec_f64(), vec![2.0, 4.0]);
    let h = a.to_dtype(DType::F64);
    assert_eq!(h.dtype(), DType::F64);
    assert_eq!(grad(&h.sum_all(), &[&a], None).unwrap()[0].dtype(), DType::F32);
}

#[test]
fn deep_graphs_neither_overflow_the_stack_in_grad_nor_in_drop() {
    let x = t(&[1.0], &[1]).requires_grad();
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = &y * 1.0;
    }
    assert_eq!(grad(&y.sum_all(), &[&x], None).unwrap()[0].to_vec_f64(), vec![1.0]);
    drop(y);
}

#[test]
fn no_grad_records_nothing_and_detach_cuts_the_graph() {
    let x = t(&[1.0], &[1]).requires_grad();
    assert!(no_grad(|| x.exp()).grad_fn().is_none());
    assert_eq!(x.exp().grad_fn(), Some("exp"));
    let d = x.exp().detach();
    assert!(!d.is_requires_grad());
    assert_eq!(grad(&d.mul(&x).unwrap().sum_all(), &[&x], None).unwrap()[0].to_vec_f64(), vec![1f64.exp()]);
}

#[test]
fn backward_accumulates_into_leaves() {
    let x = t(&[1.0, 2.0], &[2]).requires_grad();
    let w = t(&[3.0], &[1]).requires_grad();
    let loss = x.mul(&w).unwrap().sum_all();
    assert!(x.grad().is_none());
    loss.backward().unwrap();
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec_f64(), vec![6.0, 6.0]);
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    assert!(x.exp().backward().is_err());
}

fn err(r: Result<Tensor>, expect: Expect) {
    expect.assert_eq(&r.unwrap_err().to_string());
}

#[test]
fn error_messages() {
    let a = Tensor::zeros(&[2, 3], DType::F64).unwrap();
    let b = Tensor::zeros(&[4], DType::F32).unwrap();
    let c = Tensor::zeros(&[2, 4, 5], DType::F64).unwrap();
    err(a.add(&b), expect!["add: shapes [2, 3] and [4] cannot be broadcast together"]);
    err(a.pow(&b), expect!["pow: shapes [2, 3] and [4] cannot be broadcast together"]);
    err(a.matmul(&a), expect!["matmul: shapes [2, 3] and [2, 3] do not match: 3 column(s) against 2 row(s)"]);
    err(
        a.matmul(&Tensor::scalar(1.0, DType::F64)),
        expect!["matmul: both operands need at least one dimension, got shapes [2, 3] and []"],
    );
    err(
        Tensor::zeros(&[3, 2, 3], DType::F64).unwrap().matmul(&Tensor::zeros(&[2, 3, 1], DType::F64).unwrap()),
        expect!["matmul: the batch dimensions of shapes [3, 2, 3] and [2, 3, 1] cannot be broadcast together"],
    );
    err(b.dot(&a), expect!["dot: expects two 1-D tensors of the same length, got shapes [4] and [2, 3]"]);
    err(a.sum(2, false), expect!["sum: dimension 2 is out of range for a tensor with 2 dimension(s)"]);
    err(
        Tensor::zeros(&[0, 2], DType::F64).unwrap().max(0, false),
        expect!["max: cannot reduce an empty dimension (shape [0, 2])"],
    );
    err(a.reshape(&[4, -1]), expect!["reshape: cannot reshape a tensor of shape [2, 3] to [4, -1]"]);
    err(a.reshape(&[-1, -1]), expect!["reshape: cannot reshape a tensor of shape [2, 3] to [-1, -1]"]);
    err(a.squeeze(0), expect!["squeeze: dimension 0 of shape [2, 3] does not have size 1"]);
    err(c.t(), expect!["t: expects a tensor with at most 2 dimensions, got shape [2, 4, 5]"]);
    err(a.transpose(0, -3), expect!["transpose: dimension -3 is out of range for a tensor with 2 dimension(s)"]);
    err(a.index(2), expect!["index: index 2 is out of range for dimension 0 of shape [2, 3]"]);
    err(Tensor::scalar(1.0, DType::F64).index(0), expect!["index: a 0-D tensor cannot be indexed"]);
    err(
        Tensor::cat(&[&a, &c], 1),
        expect![
            "cat: tensor 1 has shape [2, 4, 5] but tensor 0 has shape [2, 3] (they may differ only in dimension 1)"
        ],
    );
    err(Tensor::cat(&[], 0), expect!["cat: needs at least one tensor"]);
    err(Tensor::stack(&[&a, &b], 0), expect!["stack: tensor 1 has shape [4] but tensor 0 has shape [2, 3]"]);
    err(a.broadcast_to(&[3]), expect!["broadcast_to: shape [2, 3] cannot be broadcast to [3]"]);
    err(a.broadcast_to(&[1, 3]), expect!["broadcast_to: shape [2, 3] cannot be broadcast to [1, 3]"]);
    err(
        a.broadcast_to(&[1 << 62, 2, 3]),
        expect!["broadcast_to: shape [4611686018427387904, 2, 3] has too many elements"],
    );
    err(Tensor::from_vec(vec![1.0f64; 5], &[2, 3]), expect!["from_vec: 5 values cannot have shape [2, 3] (6 values)"]);
    err(
        Tensor::zeros(&[1 << 40, 1 << 40], DType::F32),
        expect!["zeros: shape [1099511627776, 1099511627776] has too many elements"],
    );
    let x = a.requires_grad();
    let y = x.exp();
    let ge = |r: Result<Vec<Tensor>>, e: Expect| e.assert_eq(&r.unwrap_err().to_string());
    ge(
        grad(&y, &[&x], None),
        expect!["grad: the output has shape [2, 3]: without grad_output it must have a single element"],
    );
    ge(
        grad(&y.sum_all(), &[&x, &a], None),
        expect!["grad: input 1 (shape [2, 3]) does not require grad: make it with .requires_grad()"],
    );
    ge(grad(&y, &[&x], Some(&b)), expect!["grad: grad_output has shape [4] but the output has shape [2, 3]"]);
    let e = a.item().unwrap_err().to_string();
    assert_eq!(e, "item: only one-element tensors have an item, got shape [2, 3]");
}

fn show(t: &Tensor, expect: Expect) {
    expect.assert_eq(&t.to_string());
}

#[test]
fn printing() {
    show(&Tensor::scalar(3.5, DType::F64), expect!["tensor(3.5000, dtype=float64)"]);
    show(
        &t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).to_dtype(DType::F32),
        expect![[r#"
        tensor([[1., 2.],
                [3., 4.]], dtype=float32)"#]],
    );
    show(
        &t(&[1.5, -2.25, 3.0, 4.0], &[2, 2]),
        expect![[r#"
        tensor([[ 1.5000, -2.2500],
                [ 3.0000,  4.0000]], dtype=float64)"#]],
    );
    show(&t(&[1e-5, 1.0, 2e5], &[3]), expect!["tensor([1.0000e-05, 1.0000e+00, 2.0000e+05], dtype=float64)"]);
    show(&t(&[f64::NAN, f64::INFINITY, 0.5], &[3]), expect!["tensor([   nan,    inf, 0.5000], dtype=float64)"]);
    let x = t(&(0..8).map(|v| v as f64).collect::<Vec<_>>(), &[2, 2, 2]).requires_grad();
    show(
        &x,
        expect![[r#"
        tensor([[[0., 1.],
                 [2., 3.]],

                [[4., 5.],
                 [6., 7.]]], dtype=float64, requires_grad=true)"#]],
    );
    show(&x.exp().sum_all(), expect!["tensor(1734.2661, dtype=float64, grad_fn=<sum>)"]);
    show(&Tensor::zeros(&[0, 3], DType::F32).unwrap(), expect!["tensor([], shape=[0, 3], dtype=float32)"]);
    show(&Tensor::zeros(&[2, 0], DType::F32).unwrap(), expect!["tensor([], shape=[2, 0], dtype=float32)"]);
    show(
        &t(&(0..30).map(|v| v as f64 / 4.0).collect::<Vec<_>>(), &[30]),
        expect![[r#"
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000, 1.2500, 1.5000, 1.7500, 2.0000,
                2.2500, 2.5000, 2.7500, 3.0000, 3.2500, 3.5000, 3.7500, 4.0000, 4.2500,
                4.5000, 4.7500, 5.0000, 5.2500, 5.5000, 5.7500, 6.0000, 6.2500, 6.5000,
                6.7500, 7.0000, 7.2500], dtype=float64)"#]],
    );
    let big = Tensor::from_vec((0..3000).map(|v| v as f32).collect::<Vec<f32>>(), &[1000, 3]).unwrap();
    show(
        &big,
        expect![[r#"
        tensor([[   0.,    1.,    2.],
                [   3.,    4.,    5.],
                [   6.,    7.,    8.],
                ...,
                [2991., 2992., 2993.],
                [2994., 2995., 2996.],
                [2997., 2998., 2999.]], shape=[1000, 3], dtype=float32)"#]],
    );
    let long = Tensor::from_vec((0..2000).map(|v| v as f64 * 0.5).collect::<Vec<_>>(), &[2000]).unwrap();
    show(
        &long,
        expect![[r#"
        tensor([0.0000e+00, 5.0000e-01, 1.0000e+00,  ..., 9.9850e+02, 9.9900e+02,
                9.9950e+02], shape=[2000], dtype=float64)"#]],
    );
}

#[test]
fn constructors_and_conversions() {
    let z = Tensor::zeros(&[2, 3], DType::F32).unwrap();
    assert_eq!((z.shape(), z.dtype(), z.numel(), z.ndim()), (&[2usize, 3][..], DType::F32, 6, 2));
    assert_eq!(Tensor::ones(&[2], DType::F64).unwrap().to_vec_f64(), vec![1.0, 1.0]);
    assert_eq!(Tensor::full(&[1], 4.5, DType::F64).unwrap().item().unwrap(), 4.5);
    let r = Tensor::rand(&[100], DType::F64, &mut Rng::new(3)).unwrap().to_vec_f64();
    assert!(r.iter().all(|&v| (0.0..1.0).contains(&v)));
    let a = ndarray::array![[1.0f32, 2.0], [3.0, 4.0]];
    let ta = Tensor::from(a.clone());
    assert_eq!(ta.to_array2::<f32>().unwrap(), a);
    assert_eq!(ta.t().unwrap().to_array2::<f64>().unwrap(), a.t().mapv(|v| v as f64));
    assert!(Tensor::ones(&[3], DType::F64).unwrap().to_array2::<f64>().is_err());
    assert_eq!(Tensor::from(ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[2, 1, 2]))).shape(), &[2, 1, 2]);
}
