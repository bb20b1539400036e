//! Symbolic gradients checked against central finite differences of the float64 reference evaluator.
//!
//! The catalogue of `common/` holds a formula for every operation (its coverage is checked
//! against the op lists, so a new operation fails these tests until it has a row); these tests
//! use it at D = 3, where every row exists. Every row is checked to first order with respect to
//! every variable it uses, to second order (the gradient formula differentiated again, which
//! exercises the ops the rules themselves emit), and through `diff`.
//! Points are drawn by a small deterministic generator, inside each row's domain, so that a
//! failure reproduces exactly.

use noyau_engine::diff::{diff, divergence, grad, grad_matrix, laplacian, RESERVED_INDEX};
use noyau_engine::reference::eval_point;
use noyau_engine::{BinaryOp, Cat, Expr, Op, UnaryOp};
use std::collections::BTreeMap;

mod common;
use common::catalog::{assert_covers_every_op, bin, k, node, rows, un, Pool, Rng, FIXED_D};

/// The pool at D = 3, where the closed forms below are written.
const P: Pool = Pool { d: FIXED_D };

/// Values of the variables, by index.
type Point = BTreeMap<usize, Vec<f64>>;

const STEP: f64 = 1e-6;
const TOL: f64 = 1e-6;

fn eval(f: &Expr, p: &Point) -> Vec<f64> {
    eval_point(std::slice::from_ref(f), &|i| p[&i].clone()).remove(0)
}

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(p, q)| p * q).sum()
}

fn vars_of(f: &Expr) -> Vec<(usize, usize, Cat)> {
    Expr::variables(std::slice::from_ref(f))
}

/// A value for every variable of `f`, uniform in [lo, hi].
fn random_point(f: &Expr, lo: f64, hi: f64, rng: &mut Rng) -> Point {
    vars_of(f).into_iter().map(|(index, dim, _)| (index, rng.vector(dim, lo, hi))).collect()
}

/// The central difference of `phi` at `p` along `dir` in variable `index`.
fn directional(phi: &dyn Fn(&Point) -> f64, p: &Point, index: usize, dir: &[f64]) -> f64 {
    let shifted = |s: f64| {
        let mut q = p.clone();
        for (v, d) in q.get_mut(&index).unwrap().iter_mut().zip(dir) {
            *v += s * d;
        }
        phi(&q)
    };
    (shifted(STEP) - shifted(-STEP)) / (2.0 * STEP)
}

fn unit(n: usize, k: usize) -> Vec<f64> {
    (0..n).map(|i| if i == k { 1.0 } else { 0.0 }).collect()
}

/// A mismatch report, or nothing when `got` matches `want` to `tol`, relative plus absolute.
fn compare(label: &str, got: &[f64], want: &[f64], tol: f64) -> Option<String> {
    let ok = got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() <= tol * (1.0 + w.abs()));
    (!ok).then(|| format!("{label}: got {got:?}, finite differences give {want:?}"))
}

/// Checks grad(F, v, E) against finite differences of ⟨F, E⟩ for every variable v of `f`, at `p`
/// (which must bind them) and a random E. Returns the mismatches.
fn gradient_failures(label: &str, f: &Expr, p: &Point, rng: &mut Rng) -> Vec<String> {
    let vars = vars_of(f);
    let e_index = vars.last().map_or(0, |v| v.0 + 1);
    let e = Expr::var(e_index, f.dim(), Cat::J).unwrap();
    let e_val = rng.vector(f.dim(), -1.0, 1.0);
    let mut with_e = p.clone();
    with_e.insert(e_index, e_val.clone());
    let phi = |q: &Point| dot(&eval(f, q), &e_val);
    let mut failures = Vec::new();
    for (index, dim, cat) in vars {
        let v = Expr::var(index, dim, cat).unwrap();
        let g = match grad(f, &v, &e) {
            Ok(g) => g,
            Err(err) => {
                failures.push(format!("{label}: grad wrt variable {index} failed: {err}"));
                continue;
            }
        };
        let got = eval(&g, &with_e);
        let want: Vec<f64> = (0..dim).map(|c| directional(&phi, p, index, &unit(dim, c))).collect();
        failures.extend(compare(&format!("{label}, wrt variable {index} at {p:?}"), &got, &want, TOL));
    }
    failures
}

#[test]
fn the_table_covers_every_operation() {
    assert_covers_every_op(&rows(FIXED_D));
}

#[test]
fn every_rule_matches_finite_differences() {
    let mut rng = Rng::new(1);
    let mut failures = Vec::new();
    for r in rows(FIXED_D) {
        for _ in 0..2 {
            let p = random_point(&r.f, r.lo, r.hi, &mut rng);
            failures.extend(gradient_failures(&r.label, &r.f, &p, &mut rng));
        }
    }
    assert!(failures.is_empty(), "{} mismatch(es):\n{}", failures.len(), failures.join("\n"));
}

/// Every gradient formula differentiated again, with respect to every variable it uses
/// (including its own adjoint input), against finite differences of the gradient.
#[test]
fn every_rule_differentiates_twice() {
    let mut rng = Rng::new(2);
    let mut failures = Vec::new();
    for r in rows(FIXED_D) {
        for (index, dim, cat) in vars_of(&r.f) {
            let e = Expr::var(Pool::LEN, r.f.dim(), Cat::J).unwrap();
            let g = grad(&r.f, &Expr::var(index, dim, cat).unwrap(), &e).unwrap();
            let p = random_point(&g, r.lo, r.hi, &mut rng);
            failures.extend(gradient_failures(&format!("{} (d/d variable {index})", r.label), &g, &p, &mut rng));
        }
    }
    assert!(failures.is_empty(), "{} mismatch(es):\n{}", failures.len(), failures.join("\n"));
}

/// `diff` is the derivative along a direction, for every row and variable, with no dummy left.
#[test]
fn diff_is_the_directional_derivative() {
    let mut rng = Rng::new(3);
    let mut failures = Vec::new();
    for r in rows(FIXED_D) {
        let p = random_point(&r.f, r.lo, r.hi, &mut rng);
        for (index, dim, cat) in vars_of(&r.f) {
            let dv = Expr::var(Pool::LEN, dim, Cat::J).unwrap();
            let dv_val = rng.vector(dim, -1.0, 1.0);
            let d = diff(&r.f, &Expr::var(index, dim, cat).unwrap(), &dv).unwrap();
            assert!(vars_of(&d).iter().all(|v| v.0 < RESERVED_INDEX), "{}: dummy left in {d}", r.label);
            let mut q = p.clone();
            q.insert(Pool::LEN, dv_val.clone());
            let got = eval(&d, &q);
            let want: Vec<f64> =
                (0..r.f.dim()).map(|c| directional(&|s: &Point| eval(&r.f, s)[c], &p, index, &dv_val)).collect();
            failures.extend(compare(&format!("{}, along variable {index}", r.label), &got, &want, TOL));
        }
    }
    assert!(failures.is_empty(), "{} mismatch(es):\n{}", failures.len(), failures.join("\n"));
}

fn gaussian() -> Expr {
    // Exp(-SqDist(x, y)) * w, w of dimension 2.
    let k = un(UnaryOp::Exp, &un(UnaryOp::Minus, &P.x().sqdist(P.y()).unwrap()));
    bin(BinaryOp::Mul, &k, &P.var(7))
}

#[test]
fn gaussian_kernel_second_order() {
    let mut rng = Rng::new(4);
    let f = gaussian();
    let e = Expr::var(10, 2, Cat::I).unwrap();
    let u = Expr::var(11, 3, Cat::I).unwrap();
    let g = grad(&f, &P.x(), &e).unwrap();
    let h = grad(&g, &P.x(), &u).unwrap();
    for _ in 0..3 {
        let p = random_point(&h, -1.0, 1.0, &mut rng);
        let u_val = p[&11].clone();
        let got = eval(&h, &p);
        let want: Vec<f64> =
            (0..3).map(|c| directional(&|q: &Point| dot(&eval(&g, q), &u_val), &p, 0, &unit(3, c))).collect();
        assert_eq!(compare("Hessian of the Gaussian", &got, &want, TOL), None);
        // The closed form: ∇ₓ(e·k w) = −2 (x − y) k ⟨w, e⟩.
        let (xv, yv, wv, ev) = (&p[&0], &p[&1], &p[&7], &p[&10]);
        let kv = (-xv.iter().zip(yv).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).exp();
        let closed: Vec<f64> = (0..3).map(|c| -2.0 * (xv[c] - yv[c]) * kv * dot(wv, ev)).collect();
        assert_eq!(compare("gradient of the Gaussian", &eval(&g, &p), &closed, 1e-12), None);
    }
}

#[test]
fn grad_matrix_is_the_jacobian_row_by_row() {
    let mut rng = Rng::new(5);
    for f in [gaussian(), node(Op::MatVecMult, vec![P.var(6), P.x()]), node(Op::Normalize, vec![P.x()])] {
        let j = grad_matrix(&f, &P.x()).unwrap();
        assert_eq!(j.dim(), f.dim() * 3);
        let p = random_point(&f, -1.0, 1.0, &mut rng);
        let got = eval(&j, &p);
        let want: Vec<f64> = (0..f.dim())
            .flat_map(|i| (0..3).map(move |c| (i, c)))
            .map(|(i, c)| directional(&|q: &Point| eval(&f, q)[i], &p, 0, &unit(3, c)))
            .collect();
        assert_eq!(compare(&format!("Jacobian of {f}"), &got, &want, TOL), None);
    }
}

#[test]
fn divergence_is_the_trace_of_the_jacobian() {
    let mut rng = Rng::new(6);
    let direction = node(Op::Normalize, vec![bin(BinaryOp::Sub, &P.x(), &P.y())]);
    let field = bin(BinaryOp::Mul, &direction, &P.x().sum().unwrap());
    for f in [field, P.x(), node(Op::MatVecMult, vec![P.var(5), P.x()])] {
        let div = divergence(&f, &P.x()).unwrap();
        let p = random_point(&f, -1.0, 1.0, &mut rng);
        let want: f64 = (0..3).map(|c| directional(&|q: &Point| eval(&f, q)[c], &p, 0, &unit(3, c))).sum();
        assert_eq!(compare(&format!("divergence of {f}"), &eval(&div, &p), &[want], TOL), None);
    }
}

#[test]
fn laplacian_of_a_gaussian_has_its_closed_form() {
    let mut rng = Rng::new(7);
    let f = un(UnaryOp::Exp, &un(UnaryOp::Minus, &P.x().sqnorm2().unwrap()));
    let lap = laplacian(&f, &P.x()).unwrap();
    for _ in 0..3 {
        let p = random_point(&f, -1.0, 1.0, &mut rng);
        let r2: f64 = p[&0].iter().map(|v| v * v).sum();
        let closed = (4.0 * r2 - 6.0) * (-r2).exp();
        assert_eq!(compare("Laplacian of exp(-|x|²)", &eval(&lap, &p), &[closed], 1e-12), None);
    }
}

#[test]
fn laplacian_matches_second_differences() {
    let mut rng = Rng::new(8);
    let distance = node(Op::Norm2, vec![bin(BinaryOp::Sub, &P.x(), &P.y())]);
    let f = bin(BinaryOp::Mul, &distance, &un(UnaryOp::Sin, &P.x().sum().unwrap()));
    let lap = laplacian(&f, &P.x()).unwrap();
    let p = random_point(&f, -1.0, 1.0, &mut rng);
    let h = 1e-4;
    let at = |c: usize, s: f64| {
        let mut q = p.clone();
        q.get_mut(&0).unwrap()[c] += s;
        eval(&f, &q)[0]
    };
    let want: f64 = (0..3).map(|c| (at(c, h) - 2.0 * at(c, 0.0) + at(c, -h)) / (h * h)).sum();
    assert_eq!(compare("Laplacian", &eval(&lap, &p), &[want], 1e-5), None);
}

/// The conventions at the singular points, which finite differences cannot check: the
/// derivative of the branch the evaluator takes, or the limit, never NaN.
#[test]
fn derivatives_at_singular_points_follow_the_evaluator() {
    let s = Expr::var(0, 1, Cat::I).unwrap();
    let at_zero = |f: Expr, v: &Expr| {
        let g = grad(&f, v, &k(1.0)).unwrap_or_else(|e| panic!("{e}"));
        eval(&g, &BTreeMap::from([(0, vec![0.0; v.dim()])]))
    };
    assert_eq!(at_zero(un(UnaryOp::SinXDivX, &s), &s), [0.0]);
    assert_eq!(at_zero(un(UnaryOp::Sqrt, &s), &s), [0.0]);
    assert_eq!(at_zero(un(UnaryOp::ReLU, &s), &s), [1.0]);
    assert_eq!(at_zero(un(UnaryOp::Abs, &s), &s), [0.0]);
    assert_eq!(at_zero(node(Op::Norm2, vec![P.x()]), &P.x()), [0.0; 3]);
    assert_eq!(at_zero(node(Op::Max, vec![P.x()]), &P.x()), [1.0, 0.0, 0.0]);
    let normalized = node(Op::Normalize, vec![P.x()]).sum().unwrap();
    assert_eq!(at_zero(normalized, &P.x()), [0.0; 3]);
}

/// The branch an IfElse does not take contributes exactly nothing, even where its own derivative
/// is NaN or infinite (KeOps' rule multiplies it by 0, which leaks the NaN).
#[test]
fn the_branch_not_taken_leaks_no_nan() {
    let s = Expr::var(0, 1, Cat::I).unwrap();
    let at = |f: &Expr, x: f64| {
        let g = grad(f, &s, &k(1.0)).unwrap_or_else(|e| panic!("{e}"));
        eval(&g, &BTreeMap::from([(0, vec![x])]))[0]
    };
    // Sqrt and Log under the branch taken for x ≥ 0, −x (then 2x) otherwise.
    let root = node(Op::IfElse, vec![s.clone(), un(UnaryOp::Sqrt, &s), un(UnaryOp::Minus, &s)]);
    assert_eq!(at(&root, -1.0), -1.0);
    assert_eq!(at(&root, 4.0), 0.25);
    let chained = un(UnaryOp::Exp, &un(UnaryOp::Log, &bin(BinaryOp::Mul, &s, &k(3.0))));
    let log = node(Op::IfElse, vec![s.clone(), chained, bin(BinaryOp::Mul, &s, &k(2.0))]);
    assert_eq!(at(&log, -2.0), 2.0);
    assert!((at(&log, 2.0) - 3.0).abs() < 1e-12);
    // Nested selections, and the second derivative.
    let nested = node(Op::IfElse, vec![un(UnaryOp::Minus, &s), root.clone(), un(UnaryOp::Log, &s)]);
    assert_eq!(at(&nested, -1.0), -1.0);
    let first = grad(&root, &s, &k(1.0)).unwrap();
    assert_eq!(at(&first, -1.0), 0.0);
}

#[test]
fn constant_formulas_and_the_variable_itself() {
    let e = Expr::var(10, 3, Cat::I).unwrap();
    assert_eq!(grad(&P.y(), &P.x(), &e).unwrap(), Expr::zero(3).unwrap());
    assert_eq!(grad(&P.x(), &P.x(), &e).unwrap(), e);
    let scalar = P.x().sqnorm2().unwrap();
    assert_eq!(grad(&scalar, &P.a(), &k(1.0)).unwrap(), Expr::zero(1).unwrap());
    assert_eq!(diff(&P.y(), &P.x(), &e).unwrap(), Expr::zero(3).unwrap());
}

#[test]
fn misuse_is_reported_clearly() {
    let e = Expr::var(10, 3, Cat::I).unwrap();
    let sum = bin(BinaryOp::Add, &P.x(), &P.y());
    let err = grad(&sum, &sum, &e).unwrap_err().to_string();
    assert!(err.starts_with("Grad: can only differentiate with respect to a variable"), "{err}");
    let err = grad(&P.x().sqnorm2().unwrap(), &P.x(), &e).unwrap_err().to_string();
    assert_eq!(err, "Grad: the gradient input has dimension 3 but the formula has dimension 1: they must match");
    let err = diff(&P.x(), &P.x(), &P.a()).unwrap_err().to_string();
    assert_eq!(err, "Diff: the direction has dimension 1 but the variable has dimension 3: they must match");
    let err = divergence(&P.var(7), &P.x()).unwrap_err().to_string();
    assert_eq!(err, "Divergence: the formula has dimension 2 but the variable has dimension 3: they must match");
    let err = laplacian(&P.x(), &P.x()).unwrap_err().to_string();
    assert_eq!(err, "Laplacian: the formula must be a scalar, it has dimension 3");
    let reserved = Expr::var(usize::MAX, 3, Cat::I).unwrap();
    let err = diff(&bin(BinaryOp::Mul, &P.x(), &reserved), &P.x(), &e).unwrap_err().to_string();
    assert!(err.contains("is reserved for the dummy variables"), "{err}");
    assert!(grad_matrix(&P.x(), &sum).is_err());
}
