//! LazyTensor from scripts: every operation and reduction against dense float64 computations in Rust.

mod lazy_support;

use lazy_support::{assert_close, dense_sum, flat, randn, rows, Runner};
use noyau_engine::{DType, Tensor};
use noyau_scripting::lazy::LazyTensor;
use noyau_scripting::Event;

type Pair = fn(&[f64], &[f64]) -> Vec<f64>;

fn u(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter().zip(y).map(|(a, b)| a - b).collect()
}
fn p(x: &[f64], y: &[f64]) -> Vec<f64> {
    each(u(x, y), |t| t * t + 0.5)
}
fn each(v: Vec<f64>, f: impl Fn(f64) -> f64) -> Vec<f64> {
    v.into_iter().map(f).collect()
}
fn sq(v: &[f64]) -> f64 {
    v.iter().map(|t| t * t).sum()
}
fn one(t: f64) -> Vec<f64> {
    vec![t]
}
fn bool01(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Script formulas over `x_i`, `y_j`, `u = x_i - y_j`, `p = u**2 + 0.5` (and parameters `w`, `g`,
/// i-variable `a` of dimension 6), each with its value for one pair (x_i, y_j).
const PAIRS: &[(&str, Pair)] = &[
    ("u", u),
    ("-u", |x, y| each(u(x, y), |t| -t)),
    ("+u", u),
    ("u.abs()", |x, y| each(u(x, y), f64::abs)),
    ("(u * 0.1).exp()", |x, y| each(u(x, y), |t| (t * 0.1).exp())),
    ("p.log()", |x, y| each(p(x, y), f64::ln)),
    ("p.xlogx()", |x, y| each(p(x, y), |t| t * t.ln())),
    ("u.sin()", |x, y| each(u(x, y), f64::sin)),
    ("u.cos()", |x, y| each(u(x, y), f64::cos)),
    ("u.sinxdivx()", |x, y| each(u(x, y), |t| t.sin() / t)),
    ("(u.sin() * 0.9).asin()", |x, y| each(u(x, y), |t| (t.sin() * 0.9).asin())),
    ("(u.sin() * 0.9).acos()", |x, y| each(u(x, y), |t| (t.sin() * 0.9).acos())),
    ("u.atan()", |x, y| each(u(x, y), f64::atan)),
    ("p.sqrt()", |x, y| each(p(x, y), f64::sqrt)),
    ("p.rsqrt()", |x, y| each(p(x, y), |t| 1.0 / t.sqrt())),
    ("p.inv()", |x, y| each(p(x, y), |t| 1.0 / t)),
    ("u.square()", |x, y| each(u(x, y), |t| t * t)),
    ("u.sign()", |x, y| each(u(x, y), f64::signum)),
    ("u.step()", |x, y| each(u(x, y), |t| bool01(t >= 0.0))),
    ("u.relu()", |x, y| each(u(x, y), |t| t.max(0.0))),
    ("(u * 2.0).floor()", |x, y| each(u(x, y), |t| (t * 2.0).floor())),
    ("u.sinc()", |x, y| each(u(x, y), |t| (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t))),
    ("u ** 3", |x, y| each(u(x, y), |t| t.powi(3))),
    ("u ** 2.0", |x, y| each(u(x, y), |t| t * t)),
    ("p ** 0.5", |x, y| each(p(x, y), f64::sqrt)),
    ("p ** -0.5", |x, y| each(p(x, y), |t| 1.0 / t.sqrt())),
    ("p ** 1.5", |x, y| each(p(x, y), |t| t.powf(1.5))),
    ("p ** (u * 0.1)", |x, y| p(x, y).iter().zip(u(x, y)).map(|(a, b)| a.powf(b * 0.1)).collect()),
    ("2.0 ** u", |x, y| each(u(x, y), |t| 2f64.powf(t))),
    ("u.power(2)", |x, y| each(u(x, y), |t| t * t)),
    ("2 * u + 1 - u / 4", |x, y| each(u(x, y), |t| 2.0 * t + 1.0 - t / 4.0)),
    ("1.5 / p - 3 * x_i", |x, y| p(x, y).iter().zip(x).map(|(a, b)| 1.5 / a - 3.0 * b).collect()),
    ("u < 0.1", |x, y| each(u(x, y), |t| bool01(t < 0.1))),
    ("u <= 0.1", |x, y| each(u(x, y), |t| bool01(t <= 0.1))),
    ("u > 0.1", |x, y| each(u(x, y), |t| bool01(t > 0.1))),
    ("u >= 0.1", |x, y| each(u(x, y), |t| bool01(t >= 0.1))),
    ("(u * 0.0) == 0", |x, y| each(u(x, y), |_| 1.0)),
    ("u != x_i", |x, y| u(x, y).iter().zip(x).map(|(a, b)| bool01(a != b)).collect()),
    ("u.atan2(p)", |x, y| u(x, y).iter().zip(p(x, y)).map(|(a, b)| a.atan2(b)).collect()),
    ("u.clamp(-0.5, 0.7)", |x, y| each(u(x, y), |t| t.clamp(-0.5, 0.7))),
    ("u.clamp(-1, 1)", |x, y| each(u(x, y), |t| t.clamp(-1.0, 1.0))),
    ("u.ifelse(p, -p)", |x, y| u(x, y).iter().zip(p(x, y)).map(|(a, b)| if *a >= 0.0 { b } else { -b }).collect()),
    ("u.mod(1.5, 0.2)", |x, y| each(u(x, y), |t| t - 1.5 * ((t - 0.2) / 1.5).floor())),
    ("u.mod(1.5)", |x, y| each(u(x, y), |t| t - 1.5 * (t / 1.5).floor())),
    ("u.round(1)", |x, y| each(u(x, y), |t| (t * 10.0).round() / 10.0)),
    ("u.round()", |x, y| each(u(x, y), f64::round)),
    ("u.sqnorm2()", |x, y| one(sq(&u(x, y)))),
    ("u.norm2()", |x, y| one(sq(&u(x, y)).sqrt())),
    ("u.norm(-1)", |x, y| one(sq(&u(x, y)).sqrt())),
    ("u.normalize()", |x, y| {
        let n = sq(&u(x, y)).sqrt();
        each(u(x, y), |t| t / n)
    }),
    ("x_i.sqdist(y_j)", |x, y| one(sq(&u(x, y)))),
    ("(x_i | y_j)", |x, y| one(x.iter().zip(y).map(|(a, b)| a * b).sum())),
    ("u.weightedsqnorm(0.5)", |x, y| one(0.5 * sq(&u(x, y)))),
    ("u.weightedsqnorm(Pm(w))", |x, y| one(u(x, y).iter().zip([0.5, 1.0, 2.0]).map(|(t, w)| w * t * t).sum())),
    ("x_i.weightedsqdist(y_j, Pm(g))", |x, y| {
        let (d, g) = (u(x, y), [2.0, 0.5, 0.0, 0.5, 1.0, 0.25, 0.0, 0.25, 3.0]);
        one((0..3).flat_map(|k| (0..3).map(move |l| (k, l))).map(|(k, l)| d[k] * g[k * 3 + l] * d[l]).sum())
    }),
    ("x_i.difference_matrix(y_j)", |x, y| x.iter().flat_map(|a| y.iter().map(move |b| a - b)).collect()),
    ("u.sum(-1)", |x, y| one(u(x, y).iter().sum())),
    ("u.sum()", |x, y| one(u(x, y).iter().sum())),
    ("u.min(-1)", |x, y| one(u(x, y).into_iter().fold(f64::INFINITY, f64::min))),
    ("u.max(-1)", |x, y| one(u(x, y).into_iter().fold(f64::NEG_INFINITY, f64::max))),
    ("u.argmin(-1)", |x, y| {
        let v = u(x, y);
        one((0..3).min_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as f64)
    }),
    ("u.argmax(-1)", |x, y| {
        let v = u(x, y);
        one((0..3).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as f64)
    }),
    ("u.elem(1)", |x, y| one(u(x, y)[1])),
    ("u[2]", |x, y| one(u(x, y)[2])),
    ("u[-1]", |x, y| one(u(x, y)[2])),
    ("u[0..2]", |x, y| u(x, y)[0..2].to_vec()),
    ("u[1..=2]", |x, y| u(x, y)[1..3].to_vec()),
    ("u.extract(1, 2)", |x, y| u(x, y)[1..3].to_vec()),
    ("x_i.concat(y_j)", |x, y| [x, y].concat()),
    ("u.elem(0).abs().clamp(0, 3).one_hot(4)", |x, y| {
        let k = u(x, y)[0].abs().clamp(0.0, 3.0).round() as usize;
        (0..4).map(|j| bool01(j == k)).collect()
    }),
    ("Vi(a).matvecmult(y_j)", |_, y| (0..2).map(|r| (0..3).map(|c| A[r * 3 + c] * y[c]).sum()).collect()),
    ("y_j.extract(0, 2).vecmatmult(Vi(a))", |_, y| (0..3).map(|c| (0..2).map(|r| y[r] * A[r * 3 + c]).sum()).collect()),
    ("x_i.tensorprod(y_j)", |x, y| x.iter().flat_map(|a| y.iter().map(move |b| a * b)).collect()),
    ("x_i.keops_kron(y_j, [1, 3], [3, 1])", |x, y| (0..3).flat_map(|r| (0..3).map(move |c| x[c] * y[r])).collect()),
    ("x_i.keops_tensordot(y_j, [3], [3], [0], [0])", |x, y| one(x.iter().zip(y).map(|(a, b)| a * b).sum())),
    ("(-u.sqnorm2()).exp().grad(x_i, 1.0)", |x, y| {
        let e = (-sq(&u(x, y))).exp();
        each(u(x, y), |t| -2.0 * t * e)
    }),
    ("u.sqnorm2().diff(x_i, y_j)", |x, y| one(2.0 * u(x, y).iter().zip(y).map(|(a, b)| a * b).sum::<f64>())),
    ("(-u.sqnorm2()).exp().laplacian(x_i)", |x, y| {
        let r2 = sq(&u(x, y));
        one((4.0 * r2 - 6.0) * (-r2).exp())
    }),
    ("(u * u.sqnorm2()).divergence(x_i)", |x, y| one(5.0 * sq(&u(x, y)))),
    ("u.grad_matrix(x_i)", |_, _| (0..9).map(|k| bool01(k % 4 == 0)).collect()),
];

/// The i-variable `a` (the same 2×3 matrix for every i) used by matvecmult and vecmatmult.
const A: [f64; 6] = [1.0, -2.0, 0.5, 3.0, 0.25, -1.0];

const PRELUDE: &str = "let x_i = Vi(x); let y_j = Vj(y); let u = x_i - y_j; let p = u ** 2 + 0.5;";

fn small() -> (Runner, Tensor, Tensor) {
    let (x, y) = (randn(1, &[7, 3], DType::F64), randn(2, &[6, 3], DType::F64));
    let mut r = Runner::new();
    r.set("x", &x).set("y", &y);
    r.set("w", &Tensor::from_vec(vec![0.5, 1.0, 2.0], &[3]).unwrap());
    r.set("g", &Tensor::from_vec(vec![2.0, 0.5, 0.0, 0.5, 1.0, 0.25, 0.0, 0.25, 3.0], &[9]).unwrap());
    r.set("a", &Tensor::from_vec(A.repeat(7), &[7, 6]).unwrap());
    (r, x, y)
}

#[test]
fn every_operation_matches_a_dense_computation_on_both_axes() {
    let (mut r, x, y) = small();
    let (xs, ys) = (rows(&x), rows(&y));
    for &(formula, f) in PAIRS {
        let over_j = r.tensor(&format!("{PRELUDE} ({formula}).sum(1)"));
        assert_close(
            &format!("{formula}, sum over j"),
            &over_j.to_vec_f64(),
            &flat(&dense_sum(&xs, &ys, f)),
            1e-9,
            1e-9,
        );
        let over_i = r.tensor(&format!("{PRELUDE} ({formula}).sum(0)"));
        let want = dense_sum(&ys, &xs, |yj, xi| f(xi, yj));
        assert_close(&format!("{formula}, sum over i"), &over_i.to_vec_f64(), &flat(&want), 1e-9, 1e-9);
    }
}

/// Dense reductions of F(x_i, y_j) = ‖x_i − y_j‖² over j, row by row.
fn dense_rows(xs: &[Vec<f64>], ys: &[Vec<f64>]) -> Vec<Vec<f64>> {
    xs.iter().map(|xi| ys.iter().map(|yj| sq(&u(xi, yj))).collect()).collect()
}

fn sorted_indices(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    idx
}

#[test]
fn reductions_match_dense_computations() {
    let (mut r, x, y) = small();
    let (xs, ys) = (rows(&x), rows(&y));
    let f = dense_rows(&xs, &ys);
    let by_row = |g: &dyn Fn(&[f64]) -> Vec<f64>| -> Vec<f64> { f.iter().flat_map(|row| g(row)).collect() };
    let min = |row: &[f64]| vec![row.iter().copied().fold(f64::INFINITY, f64::min)];
    let max = |row: &[f64]| vec![row.iter().copied().fold(f64::NEG_INFINITY, f64::max)];
    let argmin = |row: &[f64]| vec![sorted_indices(row)[0] as f64];
    let argmax = |row: &[f64]| vec![*sorted_indices(row).last().unwrap() as f64];
    let lse = |row: &[f64]| vec![row.iter().map(|t| (-t).exp()).sum::<f64>().ln()];
    let kmin = |row: &[f64]| sorted_indices(row)[..3].iter().map(|&k| row[k]).collect::<Vec<_>>();
    let argkmin = |row: &[f64]| sorted_indices(row)[..3].iter().map(|&k| k as f64).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<f64>)> = vec![
        ("F.min(1)", by_row(&min)),
        ("F.max(1)", by_row(&max)),
        ("F.argmin(1)", by_row(&argmin)),
        ("F.argmax(1)", by_row(&argmax)),
        ("F.min_argmin(1)[0]", by_row(&min)),
        ("F.min_argmin(1)[1]", by_row(&argmin)),
        ("F.max_argmax(1)[0]", by_row(&max)),
        ("F.max_argmax(1)[1]", by_row(&argmax)),
        ("(-F).logsumexp(1)", by_row(&lse)),
        ("F.Kmin(3, 1)", by_row(&kmin)),
        ("F.argKmin(3, 1)", by_row(&argkmin)),
        ("F.Kmin_argKmin(3, 1)[0]", by_row(&kmin)),
        ("F.Kmin_argKmin(3, 1)[1]", by_row(&argkmin)),
        ("F.T.min(0)", by_row(&min)),
        ("F.sum_reduction(1)", by_row(&|row| vec![row.iter().sum()])),
        ("F.min_reduction(1)", by_row(&min)),
        ("F.max_reduction(1)", by_row(&max)),
        (
            "F.sum(1, #{sum_scheme: \"kahan\", dtype_acc: \"float64\", backend: \"cpu\"})",
            by_row(&|row| vec![row.iter().sum()]),
        ),
        (
            "F.sum(1, #{backend: \"reference\", sum_scheme: \"direct\", use_double_acc: false})",
            by_row(&|row| vec![row.iter().sum()]),
        ),
    ];
    for (src, want) in cases {
        let got = r.tensor(&format!("{PRELUDE} let F = u.sqnorm2(); {src}"));
        assert_close(src, &got.to_vec_f64(), &want, 1e-9, 1e-9);
    }
    // Weighted reductions: log Σ exp(−F)·G and Σ exp(−F)·y / Σ exp(−F).
    let gw: Vec<f64> = ys.iter().map(|yj| sq(yj) + 1.0).collect();
    let want: Vec<f64> =
        f.iter().map(|row| row.iter().zip(&gw).map(|(t, w)| (-t).exp() * w).sum::<f64>().ln()).collect();
    let got = r.tensor(&format!("{PRELUDE} (-u.sqnorm2()).logsumexp(1, y_j.sqnorm2() + 1)"));
    assert_close("logsumexp with weight", &got.to_vec_f64(), &want, 1e-9, 1e-9);
    let want: Vec<f64> = f
        .iter()
        .flat_map(|row| {
            let z: f64 = row.iter().map(|t| (-t).exp()).sum();
            let ys = &ys;
            (0..3)
                .map(move |c| row.iter().zip(ys).map(|(t, yj)| (-t).exp() * yj[c]).sum::<f64>() / z)
                .collect::<Vec<_>>()
        })
        .collect();
    let got = r.tensor(&format!("{PRELUDE} (-u.sqnorm2()).sumsoftmaxweight(y_j, 1)"));
    assert_close("sumsoftmaxweight", &got.to_vec_f64(), &want, 1e-9, 1e-9);
}

#[test]
fn matrix_products_transpose_and_solve() {
    let (mut r, x, y) = small();
    let (xs, ys) = (rows(&x), rows(&y));
    let k: Vec<Vec<f64>> = xs.iter().map(|xi| ys.iter().map(|yj| (-sq(&u(xi, yj))).exp()).collect()).collect();
    let b: Vec<f64> = (0..6).map(|j| j as f64 - 2.0).collect();
    let c: Vec<f64> = (0..7).map(|i| 1.0 + i as f64 * 0.5).collect();
    r.set("b", &Tensor::from_vec(b.clone(), &[6]).unwrap()).set("c", &Tensor::from_vec(c.clone(), &[7]).unwrap());
    let v: Vec<f64> = b.iter().flat_map(|t| [*t, t * t]).collect();
    r.set("v", &Tensor::from_vec(v.clone(), &[6, 2]).unwrap());
    let kb: Vec<f64> = k.iter().map(|row| row.iter().zip(&b).map(|(a, t)| a * t).sum()).collect();
    let got = r.tensor(&format!("{PRELUDE} let K = (-u.sqnorm2()).exp(); K @ b"));
    assert_eq!(got.shape(), &[7]);
    assert_close("K @ b", &got.to_vec_f64(), &kb, 1e-9, 1e-9);
    let got = r.tensor(&format!("{PRELUDE} let K = (-u.sqnorm2()).exp(); K.matmul(b)"));
    assert_close("K.matmul(b)", &got.to_vec_f64(), &kb, 1e-9, 1e-9);
    let kv: Vec<f64> = k
        .iter()
        .flat_map(|row| (0..2).map(|c| row.iter().zip(v.chunks(2)).map(|(a, t)| a * t[c]).sum()).collect::<Vec<f64>>())
        .collect();
    let got = r.tensor(&format!("{PRELUDE} let K = (-u.sqnorm2()).exp(); K.matmul(v, #{{sum_scheme: \"kahan\"}})"));
    assert_eq!(got.shape(), &[7, 2]);
    assert_close("K.matmul(v)", &got.to_vec_f64(), &kv, 1e-9, 1e-9);
    let ktc: Vec<f64> = (0..6).map(|j| (0..7).map(|i| k[i][j] * c[i]).sum()).collect();
    for src in ["K.T @ c", "K.t() @ c", "K.T.T.T @ c"] {
        let got = r.tensor(&format!("{PRELUDE} let K = (-u.sqnorm2()).exp(); {src}"));
        assert_close(src, &got.to_vec_f64(), &ktc, 1e-9, 1e-9);
    }
    // (αI + K) a = c on x itself, checked by applying the dense matrix.
    let kxx: Vec<Vec<f64>> = xs.iter().map(|a| xs.iter().map(|b| (-sq(&u(a, b))).exp()).collect()).collect();
    let a = r.tensor("let K = (-Vi(x).sqdist(Vj(x))).exp(); K.solve(c, 0.5)").to_vec_f64();
    let back: Vec<f64> = (0..7).map(|i| 0.5 * a[i] + (0..7).map(|j| kxx[i][j] * a[j]).sum::<f64>()).collect();
    assert_close("solve", &back, &c, 1e-5, 1e-6);
    assert!(r.events.borrow().is_empty());
    r.tensor("let K = (-Vi(x).sqdist(Vj(x))).exp(); K.solve(c, 0.5, #{max_iter: 1, tol: 1e-12})");
    let events = r.events.borrow();
    assert!(
        matches!(&events[..], [Event::Stderr(s)] if s.contains("did not converge in 1 iterations")),
        "{:?}",
        events
    );
}

#[test]
fn constructors_read_shapes_as_keops_does() {
    let (mut r, x, _) = small();
    r.set("x3", &x.reshape(&[7, 1, 3]).unwrap()).set("y3", &x.reshape(&[1, 7, 3]).unwrap());
    r.set("col", &Tensor::from_vec((0..7).map(f64::from).collect::<Vec<_>>(), &[7]).unwrap());
    let shape = |r: &mut Runner, src: &str| r.string(&format!("({src}).shape"));
    assert_eq!(shape(&mut r, "Vi(x)"), "[7, 1, 3]");
    assert_eq!(shape(&mut r, "Vj(x)"), "[1, 7, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(x, 0)"), "[7, 1, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(x, 1)"), "[1, 7, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(x3)"), "[7, 1, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(y3)"), "[1, 7, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(w)"), "[1, 1, 3]");
    assert_eq!(shape(&mut r, "LazyTensor(w, 2)"), "[1, 1, 3]");
    assert_eq!(shape(&mut r, "Pm(w)"), "[1, 1, 3]");
    assert_eq!(shape(&mut r, "Pm(2.5)"), "[1, 1, 1]");
    assert_eq!(shape(&mut r, "LazyTensor(2)"), "[1, 1, 1]");
    assert_eq!(shape(&mut r, "Vi(col)"), "[7, 1, 1]");
    assert_eq!(shape(&mut r, "Vi([[1.0, 2.0], [3.0, 4.0]])"), "[2, 1, 2]");
    assert_eq!(shape(&mut r, "Vi(x) - Vj(x) + Pm(w)"), "[7, 7, 3]");
    assert_eq!(r.string("Vi(x).ndim"), "3");
    // The same tensor object is one variable; the same tensor as Vi and as Vj is two.
    assert_eq!(r.string("(Vi(x) - Vi(x)).formula()"), "x_i - x_i");
    assert_eq!(r.string("(Vi(x) - Vj(x)).formula()"), "x_i - y_j");
    assert_eq!(r.string("(LazyTensor(x3) - LazyTensor(x3)).formula()"), "x_i - x_i");
    let got = r.tensor("(LazyTensor(x3) - LazyTensor(y3)).sqnorm2().sum(1)");
    let want = r.tensor("(Vi(x) - Vj(x)).sqnorm2().sum(1)");
    assert_eq!(got.to_vec_f64(), want.to_vec_f64());
}

#[test]
fn printing_shows_the_formula_with_readable_names() {
    let (mut r, _, _) = small();
    let _ = r.eval("let K = (-((Vi(x) - Vj(y)) ** 2).sum(-1) / (2 * 0.3 ** 2)).exp(); print(K)").unwrap();
    let printed = format!("{:?}", r.events.borrow());
    expect_test::expect![[r#"[Stdout("LazyTensor(formula=Exp(-Sum(Square(x_i - y_j)) / 0.18), shape=(7, 6, 1))")]"#]]
        .assert_eq(&printed);
    let text = r.string("(Vi(x) * Pm(w) + Vj(y) * Pm(w) - Vi(a).extract(0, 3) * Vj(y).sqnorm2()).formula()");
    expect_test::expect!["x_i * p + y_j * p - Extract(u_i, 0, 3) * SqNorm2(y_j)"].assert_eq(&text);
    let text = r.string("let u = Vi(x) - Vj(y); ((-u.sqnorm2() * 0.5).exp() / (1 + (u | Pm(w))).sqrt()).latex()");
    expect_test::expect![[r#"\frac{\exp\left(-0.5 \left\|x_{i} - y_{j}\right\|^{2}\right)}{\sqrt{1 + \left\langle x_{i} - y_{j}, p \right\rangle}}"#]]
    .assert_eq(&text);
    assert_eq!(r.string("`${Vi(x)}`"), "LazyTensor(formula=x_i, shape=(7, 1, 3))");
}

#[test]
fn formulas_are_built_identically_each_time_and_numbers_stay_parameters() {
    let (mut r, _, _) = small();
    let lazy = |r: &mut Runner, src: &str| r.eval(src).unwrap().cast::<LazyTensor>();
    let src = "let s = 0.25; let K = (-Vi(x).sqdist(Vj(y)) / s).exp() * Vj(y).sum(-1); K";
    let (a, b) = (lazy(&mut r, src), lazy(&mut r, src));
    assert!(a.expr() == b.expr(), "the same line must build the same hash-consed formula");
    let c = lazy(&mut r, &src.replace("0.25", "0.5"));
    assert!(a.expr() == c.expr(), "a different number is a different parameter value, not a different formula");
    // Numbers are parameters cast to the data's type: float32 data gives float32 results.
    r.set("x32", &randn(3, &[5, 2], DType::F32));
    let t = r.tensor("(2.0 * Vi(x32) + 1).sum(1)");
    assert_eq!(t.dtype(), DType::F32);
    let t = r.tensor("(Vi(x32) * Vj(x32) * 0.5).sum(0)");
    assert_eq!((t.dtype(), t.shape()), (DType::F32, &[5usize, 2][..]));
}
