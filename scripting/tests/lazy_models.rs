//! Whole computations from scripts: the seed notebook's kernel density, a Hamiltonian's gradient, Genred.

mod lazy_support;

use lazy_support::{assert_close, dense_sum, flat, randn, rows, Runner};
use noyau_engine::tensor::grad;
use noyau_engine::{Axis, DType, Genred, Reduction};

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(s, t)| (s - t) * (s - t)).sum()
}

/// Seed notebook 000: f_i = Σ_j exp(−‖x_i − y_j‖² / 2σ²), N = M = 3000, d = 2, σ = 0.3, float32,
/// written as in the notebook (3-D tensors x[:, None, :] and y[None, :, :]).
#[test]
fn seed_000_gaussian_kernel_density() {
    let (n, d, sigma) = (3000, 2, 0.3);
    let (x, y) = (randn(0, &[n, d], DType::F32), randn(1, &[n, d], DType::F32));
    let mut r = Runner::new();
    r.set("x3", &x.reshape(&[n as isize, 1, d as isize]).unwrap());
    r.set("y3", &y.reshape(&[1, n as isize, d as isize]).unwrap());
    let f = r.tensor(
        "let sigma = 0.3;
         let x_i = LazyTensor(x3);   // (N, 1, d)
         let y_j = LazyTensor(y3);   // (1, M, d)
         let D_ij = ((x_i - y_j) ** 2).sum(-1);
         let K_ij = (- D_ij / (2 * sigma ** 2)).exp();
         K_ij.sum(1)",
    );
    assert_eq!((f.shape(), f.dtype()), (&[n, 1][..], DType::F32));

    // The engine's Rust API on the same data.
    let conv = Genred::new("Exp(-SqDist(x,y) * g)", &["x = Vi(2)", "y = Vj(2)", "g = Pm(1)"], Reduction::Sum, Axis::J)
        .unwrap();
    let g = ndarray::arr2(&[[1.0 / (2.0 * sigma * sigma) as f32]]);
    let (xa, ya) = (x.to_array2::<f32>().unwrap(), y.to_array2::<f32>().unwrap());
    let rust = conv.eval(&[xa.view(), ya.view(), g.view()]).unwrap();
    let rust: Vec<f64> = rust.iter().map(|&v| v as f64).collect();
    assert_close("script vs Rust API", &f.to_vec_f64(), &rust, 1e-5, 1e-5);

    // A dense float64 computation (N×M is fine at this size).
    let (xs, ys) = (rows(&x), rows(&y));
    let dense = dense_sum(&xs, &ys, |a, b| vec![(-sq_dist(a, b) / (2.0 * sigma * sigma)).exp()]);
    assert_close("script vs dense", &f.to_vec_f64(), &flat(&dense), 1e-4, 1e-4);
}

/// H(q, p) = ½ Σ_ij k(q_i, q_j) ⟨p_i, p_j⟩ with a Gaussian k: its gradient through the lazy
/// reduction, from a script, against the analytic gradient computed densely.
#[test]
fn hamiltonian_gradient_through_a_lazy_reduction() {
    let (n, s) = (60, 0.7);
    let q = randn(4, &[n, 3], DType::F64).requires_grad();
    let p = randn(5, &[n, 3], DType::F64).requires_grad();
    let mut r = Runner::new();
    r.set("q", &q).set("p", &p);
    let kp = r.tensor("let s = 0.7; let K = (-Vi(q).sqdist(Vj(q)) / (2 * s * s)).exp(); (K * Vj(p)).sum(1)");
    let h = &p.mul(&kp).unwrap().sum_all() * 0.5;
    let g = grad(&h, &[&q, &p], None).unwrap();

    let (qs, ps) = (rows(&q), rows(&p));
    let k = |i: usize, j: usize| (-sq_dist(&qs[i], &qs[j]) / (2.0 * s * s)).exp();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(s, t)| s * t).sum::<f64>();
    let mut dq = vec![0.0; n * 3];
    let mut dp = vec![0.0; n * 3];
    for i in 0..n {
        for j in 0..n {
            let kij = k(i, j);
            for c in 0..3 {
                dp[i * 3 + c] += kij * ps[j][c];
                dq[i * 3 + c] -= dot(&ps[i], &ps[j]) * kij * (qs[i][c] - qs[j][c]) / (s * s);
            }
        }
    }
    assert_close("dH/dq", &g[0].to_vec_f64(), &dq, 1e-9, 1e-9);
    assert_close("dH/dp", &g[1].to_vec_f64(), &dp, 1e-9, 1e-9);
}

#[test]
fn genred_from_scripts() {
    let (x, y) = (randn(6, &[8, 3], DType::F64), randn(7, &[5, 3], DType::F64));
    let b = randn(8, &[5, 2], DType::F64);
    let mut r = Runner::new();
    r.set("x", &x).set("y", &y).set("b", &b);
    let (xs, ys, bs) = (rows(&x), rows(&y), rows(&b));
    let aliases = r#"["s = Pm(1)", "x = Vi(3)", "y = Vj(3)", "b = Vj(2)"]"#;
    let make = format!(r#"let conv = Genred("Exp(-s*SqNorm2(x-y))*b", {aliases}, "Sum", 1);"#);
    let want: Vec<f64> = xs
        .iter()
        .flat_map(|xi| {
            (0..2)
                .map(|c| ys.iter().zip(&bs).map(|(yj, bj)| (-0.5 * sq_dist(xi, yj)).exp() * bj[c]).sum())
                .collect::<Vec<f64>>()
        })
        .collect();
    for call in ["conv.call(0.5, x, y, b)", "conv.call([0.5, x, y, b])", "call(conv, [0.5], x, y, b)"] {
        assert_close(call, &r.tensor(&format!("{make} {call}")).to_vec_f64(), &want, 1e-12, 1e-12);
    }
    // The same reduction written with LazyTensors gives the same values and the same gradient.
    let lazy = r.tensor("(( -0.5 * Vi(x).sqdist(Vj(y))).exp() * Vj(b)).sum(1)");
    assert_close("LazyTensor version", &lazy.to_vec_f64(), &want, 1e-12, 1e-12);
    let yg = y.requires_grad();
    r.set("yg", &yg);
    let from_genred = r.tensor(&format!("{make} conv.call(0.5, x, yg, b)"));
    let from_lazy = r.tensor("((-0.5 * Vi(x).sqdist(Vj(yg))).exp() * Vj(b)).sum(1)");
    let g1 = grad(&from_genred.sum_all(), &[&yg], None).unwrap();
    let g2 = grad(&from_lazy.sum_all(), &[&yg], None).unwrap();
    assert_close("gradients", &g1[0].to_vec_f64(), &g2[0].to_vec_f64(), 1e-12, 1e-12);

    // Axis 0, K in the name or in the options, and a weight formula.
    let over_i = r.tensor(r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 0).call(x, y)"#);
    let want: Vec<f64> = ys.iter().map(|yj| xs.iter().map(|xi| sq_dist(xi, yj)).sum()).collect();
    assert_close("axis 0", &over_i.to_vec_f64(), &want, 1e-12, 1e-12);
    let a = r.tensor(r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin(2)", 1).call(x, y)"#);
    let b2 = r.tensor(
        r#"Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", 1, #{K: 2, sum_scheme: "kahan"}).call(x, y)"#,
    );
    assert_eq!(a.to_vec_f64(), b2.to_vec_f64());
    assert_eq!(a.shape(), &[8, 2]);
    let lse = r.tensor(r#"Genred("-SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], "LogSumExp", 1, #{formula2: "SqNorm2(y) + 1"}).call(x, y)"#);
    let want: Vec<f64> = xs
        .iter()
        .map(|xi| ys.iter().map(|yj| (-sq_dist(xi, yj)).exp() * (sq_dist(yj, &[0.0; 3]) + 1.0)).sum::<f64>().ln())
        .collect();
    assert_close("LogSumExp with formula2", &lse.to_vec_f64(), &want, 1e-12, 1e-12);
    // float32 data stays float32 whatever the number arguments.
    r.set("x32", &x.to_dtype(DType::F32)).set("y32", &y.to_dtype(DType::F32));
    let t = r.tensor(
        r#"Genred("Exp(-s*SqDist(x,y))", ["s = Pm(1)", "x = Vi(3)", "y = Vj(3)"], "Sum", 1).call(2, x32, y32)"#,
    );
    assert_eq!(t.dtype(), DType::F32);
}
