//! Symbolic gradients checked against central finite differences of the float64 reference evaluator.
//!
//! One table holds a formula for every operation (its coverage is checked against the op
//! lists, so a new operation fails these tests until it has a row). Every row is checked to
//! first order with respect to every variable it uses, to second order (the gradient formula
//! differentiated again, which exercises the ops the rules themselves emit), and through `diff`.
//! Points are drawn by a small deterministic generator, inside each row's domain, so that a
//! failure reproduces exactly.

use noyau_engine::diff::{diff, divergence, grad, grad_matrix, laplacian, RESERVED_INDEX};
use noyau_engine::reference::eval_point;
use noyau_engine::{BinaryOp, Cat, Expr, Op, UnaryOp};
use std::collections::BTreeMap;

/// SplitMix64: a few lines, good enough for test points, and no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn vector(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// Values of the variables, by index.
type Point = BTreeMap<usize, Vec<f64>>;

const STEP: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// Dimension and category of the test variables 0..10: x, y, a, b, γ (dim 3), Γ (dim 9), a 2×3
/// matrix M, w (dim 2), z (dim 4), and T (dim 12, read as 2×3×2 or 3×2×2).
const POOL: [(usize, Cat); 10] = [
    (3, Cat::I),
    (3, Cat::J),
    (1, Cat::P),
    (1, Cat::J),
    (3, Cat::P),
    (9, Cat::P),
    (6, Cat::P),
    (2, Cat::J),
    (4, Cat::I),
    (12, Cat::P),
];

fn var(index: usize) -> Expr {
    let (dim, cat) = POOL[index];
    Expr::var(index, dim, cat).unwrap()
}
fn x() -> Expr {
    var(0)
}
fn y() -> Expr {
    var(1)
}
fn a() -> Expr {
    var(2)
}
fn b() -> Expr {
    var(3)
}
fn node(op: Op, args: Vec<Expr>) -> Expr {
    Expr::new(op, args).unwrap()
}
fn un(u: UnaryOp, e: &Expr) -> Expr {
    e.clone().unary(u).unwrap()
}
fn bin(op: BinaryOp, l: &Expr, r: &Expr) -> Expr {
    l.clone().binary(op, r.clone()).unwrap()
}
fn k(c: f64) -> Expr {
    Expr::constant(c)
}

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

/// One formula of the table, with the range its variables are drawn from (away from the
/// op's singularities).
struct Row {
    label: String,
    f: Expr,
    lo: f64,
    hi: f64,
}

/// A row whose variables are drawn from [-1, 1].
fn row(label: impl Into<String>, f: Expr) -> Row {
    Row { label: label.into(), f, lo: -1.0, hi: 1.0 }
}

impl Row {
    fn within(self, (lo, hi): (f64, f64)) -> Row {
        Row { lo, hi, ..self }
    }
}

fn unary_domain(u: UnaryOp) -> (f64, f64) {
    use UnaryOp::*;
    match u {
        Inv | Log | XLogX | Sqrt | Rsqrt => (0.3, 2.0),
        Asin | Acos => (-0.9, 0.9),
        Minus | Exp | Sin | Cos | SinXDivX | Atan | Square | Abs | Sign | Step | ReLU => (-2.0, 2.0),
    }
}

fn binary_domain(op: BinaryOp) -> (f64, f64) {
    use BinaryOp::*;
    match op {
        Div | Powf => (0.5, 2.0),
        Add | Sub | Mul | Atan2 | Less | LessEq | Greater | GreaterEq | Equal | NotEqual => (-2.0, 2.0),
    }
}

fn tensordot(a: &[usize], b: &[usize], ca: &[usize], cb: &[usize], l: Expr, r: Expr) -> Expr {
    node(Op::TensorDot { a: a.to_vec(), b: b.to_vec(), ca: ca.to_vec(), cb: cb.to_vec() }, vec![l, r])
}

/// The table: every operation at least once, each operand of the multi-operand ops a separate
/// variable, scalar operands broadcast against vectors, and every reading of the weights.
fn rows() -> Vec<Row> {
    let (x, y, a, b) = (x(), y(), a(), b());
    let (g3, g9, m, w, z, t) = (var(4), var(5), var(6), var(7), var(8), var(9));
    let mut rows = Vec::new();
    for &u in UnaryOp::ALL {
        rows.push(row(u.name(), un(u, &x)).within(unary_domain(u)));
    }
    for &op in BinaryOp::ALL {
        rows.push(row(format!("{}(x, y)", op.name()), bin(op, &x, &y)).within(binary_domain(op)));
        rows.push(row(format!("{}(a, x)", op.name()), bin(op, &a, &x)).within(binary_domain(op)));
        rows.push(row(format!("{}(x, a)", op.name()), bin(op, &x, &a)).within(binary_domain(op)));
    }
    let sum_leaves = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &x, &k(2.5)), &bin(BinaryOp::Mul, &Expr::int(3), &y));
    rows.push(row("leaves", bin(BinaryOp::Add, &sum_leaves, &Expr::zero(3).unwrap())));
    rows.push(row("Pow 3", x.clone().pow(3).unwrap()).within((-2.0, 2.0)));
    rows.push(row("Pow -2", x.clone().pow(-2).unwrap()).within((0.3, 2.0)));
    let (pow0, pow1) = (x.clone().pow(0).unwrap(), x.clone().pow(1).unwrap());
    rows.push(row("Pow 0 and 1", bin(BinaryOp::Add, &pow0, &pow1)).within((-2.0, 2.0)));
    let round = node(Op::Round(1), vec![bin(BinaryOp::Mul, &x, &a)]);
    rows.push(row("Round", bin(BinaryOp::Add, &bin(BinaryOp::Mul, &round, &y), &x)));
    rows.push(row("ClampInt", node(Op::ClampInt(-1, 1), vec![bin(BinaryOp::Mul, &x, &k(2.0))])));
    let branches = [un(UnaryOp::Exp, &x), un(UnaryOp::Sin, &y)];
    let [then, otherwise] = branches;
    rows.push(row("IfElse vector", node(Op::IfElse, vec![bin(BinaryOp::Sub, &x, &y), then, otherwise])));
    rows.push(row("IfElse scalar condition", node(Op::IfElse, vec![a.clone(), x.clone(), y.clone()])));
    rows.push(row("IfElse scalar branches", node(Op::IfElse, vec![x.clone(), a.clone(), b.clone()])));
    rows.push(row("Clamp vector bound", node(Op::Clamp, vec![x.clone(), a.clone(), y.clone()])));
    rows.push(row("Clamp scalar bounds", node(Op::Clamp, vec![x.clone(), a.clone(), b.clone()])));
    let three_x = bin(BinaryOp::Mul, &x, &k(3.0));
    let shifted = |e: &Expr| bin(BinaryOp::Add, e, &k(2.0));
    rows.push(row("Mod scalar modulus", node(Op::Mod, vec![three_x.clone(), shifted(&a), y.clone()])));
    rows.push(row("Mod vector modulus", node(Op::Mod, vec![three_x, shifted(&y), b.clone()])));
    let d = bin(BinaryOp::Sub, &x, &y);
    rows.push(row("SqNorm2", node(Op::SqNorm2, vec![x.clone()])));
    rows.push(row("Norm2", node(Op::Norm2, vec![d.clone()])));
    rows.push(row("Normalize", node(Op::Normalize, vec![d.clone()])));
    rows.push(row("SqDist", x.clone().sqdist(y.clone()).unwrap()));
    rows.push(row("Scalprod", x.clone().scalprod(un(UnaryOp::Exp, &y)).unwrap()));
    for gamma in [&a, &g3, &g9] {
        let label = format!("weight of dimension {}", gamma.dim());
        rows.push(row(format!("WeightedSqNorm, {label}"), node(Op::WeightedSqNorm, vec![gamma.clone(), x.clone()])));
        let dist = node(Op::WeightedSqDist, vec![gamma.clone(), x.clone(), y.clone()]);
        rows.push(row(format!("WeightedSqDist, {label}"), dist));
    }
    let xy = bin(BinaryOp::Mul, &x, &y);
    rows.push(row("Sum", xy.clone().sum().unwrap()));
    rows.push(row("Max", node(Op::Max, vec![xy.clone()])));
    rows.push(row("Min", node(Op::Min, vec![bin(BinaryOp::Add, &xy, &y)])));
    rows.push(row("ArgMax", bin(BinaryOp::Mul, &node(Op::ArgMax, vec![x.clone()]), &y)));
    rows.push(row("ArgMin", bin(BinaryOp::Mul, &node(Op::ArgMin, vec![y.clone()]), &x)));
    rows.push(row("Elem", bin(BinaryOp::Mul, &x.clone().elem(1).unwrap(), &y)));
    rows.push(row("ElemT", bin(BinaryOp::Mul, &node(Op::ElemT { index: 2, dim: 3 }, vec![a.clone()]), &x)));
    let xy_cat = x.clone().concat(y.clone()).unwrap();
    rows.push(row("Extract", bin(BinaryOp::Mul, &node(Op::Extract { start: 2, len: 3 }, vec![xy_cat]), &x)));
    let placed = node(Op::ExtractT { start: 1, dim: 5 }, vec![x.clone()]);
    rows.push(row("ExtractT", bin(BinaryOp::Mul, &placed, &y.clone().concat(w.clone()).unwrap())));
    rows.push(row("Concat", bin(BinaryOp::Mul, &x, &a).concat(un(UnaryOp::Sin, &y)).unwrap()));
    let index = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &a, &k(2.0)), &k(1.5));
    rows.push(row("OneHot", bin(BinaryOp::Mul, &node(Op::OneHot(3), vec![index]), &x)));
    rows.push(row("MatVecMult", node(Op::MatVecMult, vec![m.clone(), x.clone()])));
    rows.push(row("VecMatMult", node(Op::VecMatMult, vec![w.clone(), m.clone()])));
    rows.push(row("TensorProd", node(Op::TensorProd, vec![x.clone(), w.clone()])));
    rows.push(row("Kron 2 axes", node(Op::Kron { a: vec![2, 3], b: vec![2, 2] }, vec![m.clone(), z.clone()])));
    rows.push(row("Kron 1 axis", node(Op::Kron { a: vec![3], b: vec![2] }, vec![x.clone(), w.clone()])));
    rows.push(row("TensorDot matrix-vector", tensordot(&[2, 3], &[3], &[1], &[0], m.clone(), x.clone())));
    rows.push(row("TensorDot transposed", tensordot(&[2, 3], &[2, 2], &[0], &[1], m.clone(), z.clone())));
    rows.push(row("TensorDot crossed axes", tensordot(&[2, 3, 2], &[2, 2], &[0, 2], &[1, 0], t.clone(), z.clone())));
    rows.push(row("TensorDot middle axis", tensordot(&[2, 3], &[2, 3, 2], &[1], &[1], m.clone(), t.clone())));
    rows.push(row("TensorDot full", tensordot(&[3], &[3], &[0], &[0], x.clone(), y.clone())));
    rows.push(row("TensorDot outer", tensordot(&[3], &[2], &[], &[], x.clone(), w.clone())));
    rows
}

/// A distinct number per `Op` variant. The match has no wildcard, so a new variant stops this
/// file from compiling until it is numbered here, named in `VARIANT_NAMES` and given a row.
fn variant_rank(op: &Op) -> usize {
    match op {
        Op::Var { .. } => 0,
        Op::Const(_) => 1,
        Op::IntCst(_) => 2,
        Op::Zero(_) => 3,
        Op::Unary(_) => 4,
        Op::Binary(_) => 5,
        Op::Pow(_) => 6,
        Op::Round(_) => 7,
        Op::ClampInt(..) => 8,
        Op::IfElse => 9,
        Op::Clamp => 10,
        Op::Mod => 11,
        Op::SqNorm2 => 12,
        Op::Norm2 => 13,
        Op::Normalize => 14,
        Op::SqDist => 15,
        Op::Scalprod => 16,
        Op::WeightedSqNorm => 17,
        Op::WeightedSqDist => 18,
        Op::Sum => 19,
        Op::Max => 20,
        Op::Min => 21,
        Op::ArgMax => 22,
        Op::ArgMin => 23,
        Op::Elem(_) => 24,
        Op::ElemT { .. } => 25,
        Op::Extract { .. } => 26,
        Op::ExtractT { .. } => 27,
        Op::Concat => 28,
        Op::OneHot(_) => 29,
        Op::MatVecMult => 30,
        Op::VecMatMult => 31,
        Op::TensorProd => 32,
        Op::Kron { .. } => 33,
        Op::TensorDot { .. } => 34,
    }
}

const VARIANT_NAMES: [&str; 35] = [
    "Var", "Const", "IntCst", "Zero", "Unary", "Binary", "Pow", "Round", "ClampInt", "IfElse", "Clamp", "Mod",
    "SqNorm2", "Norm2", "Normalize", "SqDist", "Scalprod", "WeightedSqNorm", "WeightedSqDist", "Sum", "Max", "Min",
    "ArgMax", "ArgMin", "Elem", "ElemT", "Extract", "ExtractT", "Concat", "OneHot", "MatVecMult", "VecMatMult",
    "TensorProd", "Kron", "TensorDot",
];

#[test]
fn the_table_covers_every_operation() {
    let mut seen = [false; VARIANT_NAMES.len()];
    let mut names = std::collections::BTreeSet::new();
    for r in rows() {
        for n in Expr::topo_order(&[r.f]) {
            let rank = variant_rank(n.op());
            assert!(rank < seen.len(), "variant {} has rank {rank}: add it to VARIANT_NAMES", n.op().name());
            seen[rank] = true;
            names.insert(n.op().name());
        }
    }
    let missing_variants: Vec<&str> = VARIANT_NAMES.iter().zip(seen).filter(|(_, s)| !s).map(|(n, _)| *n).collect();
    let missing_ops: Vec<&str> = (UnaryOp::ALL.iter().map(|u| u.name()))
        .chain(BinaryOp::ALL.iter().map(|b| b.name()))
        .filter(|n| !names.contains(n))
        .collect();
    let complete = missing_variants.is_empty() && missing_ops.is_empty();
    assert!(complete, "no gradient row for {missing_variants:?} {missing_ops:?}");
}

#[test]
fn every_rule_matches_finite_differences() {
    let mut rng = Rng(1);
    let mut failures = Vec::new();
    for r in rows() {
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
    let mut rng = Rng(2);
    let mut failures = Vec::new();
    for r in rows() {
        for (index, dim, cat) in vars_of(&r.f) {
            let e = Expr::var(POOL.len(), r.f.dim(), Cat::J).unwrap();
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
    let mut rng = Rng(3);
    let mut failures = Vec::new();
    for r in rows() {
        let p = random_point(&r.f, r.lo, r.hi, &mut rng);
        for (index, dim, cat) in vars_of(&r.f) {
            let dv = Expr::var(POOL.len(), dim, Cat::J).unwrap();
            let dv_val = rng.vector(dim, -1.0, 1.0);
            let d = diff(&r.f, &Expr::var(index, dim, cat).unwrap(), &dv).unwrap();
            assert!(vars_of(&d).iter().all(|v| v.0 < RESERVED_INDEX), "{}: dummy left in {d}", r.label);
            let mut q = p.clone();
            q.insert(POOL.len(), dv_val.clone());
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
    let k = un(UnaryOp::Exp, &un(UnaryOp::Minus, &x().sqdist(y()).unwrap()));
    bin(BinaryOp::Mul, &k, &var(7))
}

#[test]
fn gaussian_kernel_second_order() {
    let mut rng = Rng(4);
    let f = gaussian();
    let e = Expr::var(10, 2, Cat::I).unwrap();
    let u = Expr::var(11, 3, Cat::I).unwrap();
    let g = grad(&f, &x(), &e).unwrap();
    let h = grad(&g, &x(), &u).unwrap();
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
    let mut rng = Rng(5);
    for f in [gaussian(), node(Op::MatVecMult, vec![var(6), x()]), node(Op::Normalize, vec![x()])] {
        let j = grad_matrix(&f, &x()).unwrap();
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
    let mut rng = Rng(6);
    let field = bin(BinaryOp::Mul, &node(Op::Normalize, vec![bin(BinaryOp::Sub, &x(), &y())]), &x().sum().unwrap());
    for f in [field, x(), node(Op::MatVecMult, vec![var(5), x()])] {
        let div = divergence(&f, &x()).unwrap();
        let p = random_point(&f, -1.0, 1.0, &mut rng);
        let want: f64 = (0..3).map(|c| directional(&|q: &Point| eval(&f, q)[c], &p, 0, &unit(3, c))).sum();
        assert_eq!(compare(&format!("divergence of {f}"), &eval(&div, &p), &[want], TOL), None);
    }
}

#[test]
fn laplacian_of_a_gaussian_has_its_closed_form() {
    let mut rng = Rng(7);
    let f = un(UnaryOp::Exp, &un(UnaryOp::Minus, &x().sqnorm2().unwrap()));
    let lap = laplacian(&f, &x()).unwrap();
    for _ in 0..3 {
        let p = random_point(&f, -1.0, 1.0, &mut rng);
        let r2: f64 = p[&0].iter().map(|v| v * v).sum();
        let closed = (4.0 * r2 - 6.0) * (-r2).exp();
        assert_eq!(compare("Laplacian of exp(-|x|²)", &eval(&lap, &p), &[closed], 1e-12), None);
    }
}

#[test]
fn laplacian_matches_second_differences() {
    let mut rng = Rng(8);
    let distance = node(Op::Norm2, vec![bin(BinaryOp::Sub, &x(), &y())]);
    let f = bin(BinaryOp::Mul, &distance, &un(UnaryOp::Sin, &x().sum().unwrap()));
    let lap = laplacian(&f, &x()).unwrap();
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
    assert_eq!(at_zero(node(Op::Norm2, vec![x()]), &x()), [0.0; 3]);
    assert_eq!(at_zero(node(Op::Max, vec![x()]), &x()), [1.0, 0.0, 0.0]);
    let normalized = node(Op::Normalize, vec![x()]).sum().unwrap();
    assert_eq!(at_zero(normalized, &x()), [0.0; 3]);
}

#[test]
fn constant_formulas_and_the_variable_itself() {
    let e = Expr::var(10, 3, Cat::I).unwrap();
    assert_eq!(grad(&y(), &x(), &e).unwrap(), Expr::zero(3).unwrap());
    assert_eq!(grad(&x(), &x(), &e).unwrap(), e);
    let scalar = x().sqnorm2().unwrap();
    assert_eq!(grad(&scalar, &a(), &k(1.0)).unwrap(), Expr::zero(1).unwrap());
    assert_eq!(diff(&y(), &x(), &e).unwrap(), Expr::zero(3).unwrap());
}

#[test]
fn misuse_is_reported_clearly() {
    let e = Expr::var(10, 3, Cat::I).unwrap();
    let sum = bin(BinaryOp::Add, &x(), &y());
    let err = grad(&sum, &sum, &e).unwrap_err().to_string();
    assert!(err.starts_with("Grad: can only differentiate with respect to a variable"), "{err}");
    let err = grad(&x().sqnorm2().unwrap(), &x(), &e).unwrap_err().to_string();
    assert_eq!(err, "Grad: the gradient input has dimension 3 but the formula has dimension 1: they must match");
    let err = diff(&x(), &x(), &a()).unwrap_err().to_string();
    assert_eq!(err, "Diff: the direction has dimension 1 but the variable has dimension 3: they must match");
    let err = divergence(&var(7), &x()).unwrap_err().to_string();
    assert_eq!(err, "Divergence: the formula has dimension 2 but the variable has dimension 3: they must match");
    let err = laplacian(&x(), &x()).unwrap_err().to_string();
    assert_eq!(err, "Laplacian: the formula must be a scalar, it has dimension 3");
    let reserved = Expr::var(usize::MAX, 3, Cat::I).unwrap();
    let err = diff(&bin(BinaryOp::Mul, &x(), &reserved), &x(), &e).unwrap_err().to_string();
    assert!(err.contains("is reserved for the dummy variables"), "{err}");
    assert!(grad_matrix(&x(), &sum).is_err());
}
