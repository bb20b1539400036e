//! Shared by the GPU test files: a formula for every operation (coverage checked by an exhaustive match), reductions built on them, data, and the NVRTC gate.

#![allow(dead_code)]

pub mod differential;
pub mod host;

use ndarray::Array2;
use noyau_engine::cuda::nvrtc;
use noyau_engine::random::Rng;
use noyau_engine::{Axis, BinaryOp, Cat, Domain, Expr, Op, Real, Reduce, Reduction, UnaryOp, VarDecl};

/// Dimension and category of the arguments 0..10 of every catalogue reduction: x, y, a, b,
/// γ (dim 3), Γ (dim 9), a 2×3 matrix M, w (dim 2), z (dim 4), and T (dim 12). All are declared
/// in every reduction, so every reduction takes the same ten arrays.
pub const POOL: [(usize, Cat); 10] = [
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

/// The weight of the weighted reductions: w, of dimension 2.
pub const WEIGHT: usize = 7;

pub fn var(index: usize) -> Expr {
    let (dim, cat) = POOL[index];
    Expr::var(index, dim, cat).unwrap()
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

/// A formula of the catalogue, with the range its data is drawn from (inside the op's domain).
pub struct Row {
    pub label: String,
    pub f: Expr,
    pub lo: f64,
    pub hi: f64,
}

fn row(label: impl Into<String>, f: Expr, (lo, hi): (f64, f64)) -> Row {
    Row { label: label.into(), f, lo, hi }
}

const WIDE: (f64, f64) = (-2.0, 2.0);
const POSITIVE: (f64, f64) = (0.3, 2.0);
const UNIT: (f64, f64) = (-0.9, 0.9);

fn unary_domain(u: UnaryOp) -> (f64, f64) {
    match u.domain() {
        Domain::Positive => POSITIVE,
        Domain::Unit => UNIT,
        Domain::All | Domain::KinkAtZero | Domain::Steps => WIDE,
    }
}

fn tensordot(a: &[usize], b: &[usize], ca: &[usize], cb: &[usize], l: &Expr, r: &Expr) -> Expr {
    node(Op::TensorDot { a: a.to_vec(), b: b.to_vec(), ca: ca.to_vec(), cb: cb.to_vec() }, vec![l.clone(), r.clone()])
}

/// Every operation at least once, with scalar operands broadcast against vectors, and mixed
/// i-, j- and parameter operands so that both the per-row and the per-pair code are exercised.
pub fn rows() -> Vec<Row> {
    let (x, y, a, b) = (var(0), var(1), var(2), var(3));
    let (g3, g9, m, w, z, t) = (var(4), var(5), var(6), var(7), var(8), var(9));
    let k = Expr::constant;
    let mut rows = Vec::new();
    for &u in UnaryOp::ALL {
        rows.push(row(u.name(), un(u, &bin(BinaryOp::Mul, &x, &y)), unary_domain(u)));
    }
    for &op in BinaryOp::ALL {
        let domain = if op.domain() == Domain::Positive { POSITIVE } else { WIDE };
        rows.push(row(format!("{}(x, y)", op.name()), bin(op, &x, &y), domain));
        rows.push(row(format!("{}(b, x)", op.name()), bin(op, &b, &x), domain));
    }
    let leaves = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &x, &k(2.5)), &bin(BinaryOp::Mul, &Expr::int(3), &y));
    rows.push(row("Const, IntCst, Zero", bin(BinaryOp::Add, &leaves, &Expr::zero(3).unwrap()), WIDE));
    rows.push(row("Pow 3", bin(BinaryOp::Sub, &x, &y).pow(3).unwrap(), WIDE));
    rows.push(row("Pow -2", bin(BinaryOp::Mul, &x, &y).pow(-2).unwrap(), POSITIVE));
    rows.push(row("Round", node(Op::Round(1), vec![bin(BinaryOp::Mul, &x, &y)]), WIDE));
    // Scales of 10^d beyond the type (x·10^40 overflows float32), infinite (d = i32::MAX) and
    // zero (d = -400): x is its own rounding, or rounds to zero.
    for d in [40, i32::MAX, -400] {
        rows.push(row(format!("Round {d}"), node(Op::Round(d), vec![bin(BinaryOp::Mul, &x, &y)]), WIDE));
    }
    rows.push(row("ClampInt", node(Op::ClampInt(-1, 1), vec![bin(BinaryOp::Sub, &x, &y)]), WIDE));
    let diff = bin(BinaryOp::Sub, &x, &y);
    rows.push(row("IfElse", node(Op::IfElse, vec![diff.clone(), un(UnaryOp::Exp, &x), un(UnaryOp::Sin, &y)]), WIDE));
    rows.push(row("IfElse scalar condition", node(Op::IfElse, vec![b.clone(), x.clone(), y.clone()]), WIDE));
    rows.push(row("Clamp", node(Op::Clamp, vec![x.clone(), a.clone(), y.clone()]), WIDE));
    rows.push(row(
        "Mod",
        node(Op::Mod, vec![bin(BinaryOp::Mul, &x, &k(3.0)), bin(BinaryOp::Add, &b, &k(2.0)), y.clone()]),
        WIDE,
    ));
    rows.push(row("SqNorm2", node(Op::SqNorm2, vec![diff.clone()]), WIDE));
    rows.push(row("Norm2", node(Op::Norm2, vec![diff.clone()]), WIDE));
    rows.push(row("Normalize", node(Op::Normalize, vec![diff.clone()]), WIDE));
    rows.push(row("SqDist", x.clone().sqdist(y.clone()).unwrap(), WIDE));
    rows.push(row("Scalprod", x.clone().scalprod(un(UnaryOp::Exp, &y)).unwrap(), WIDE));
    for gamma in [&a, &g3, &g9] {
        let label = format!("weight of dimension {}", gamma.dim());
        rows.push(row(
            format!("WeightedSqNorm, {label}"),
            node(Op::WeightedSqNorm, vec![gamma.clone(), x.clone()]),
            WIDE,
        ));
        rows.push(row(
            format!("WeightedSqDist, {label}"),
            node(Op::WeightedSqDist, vec![gamma.clone(), x.clone(), y.clone()]),
            WIDE,
        ));
    }
    let xy = bin(BinaryOp::Mul, &x, &y);
    rows.push(row("Sum", xy.clone().sum().unwrap(), WIDE));
    rows.push(row("Max", node(Op::Max, vec![xy.clone()]), WIDE));
    rows.push(row("Min", node(Op::Min, vec![bin(BinaryOp::Add, &xy, &y)]), WIDE));
    rows.push(row("ArgMax", bin(BinaryOp::Mul, &node(Op::ArgMax, vec![diff.clone()]), &b), WIDE));
    rows.push(row("ArgMin", node(Op::ArgMin, vec![diff.clone()]), WIDE));
    rows.push(row("Elem", bin(BinaryOp::Mul, &x.clone().elem(1).unwrap(), &y), WIDE));
    rows.push(row("ElemT", bin(BinaryOp::Mul, &node(Op::ElemT { index: 2, dim: 3 }, vec![b.clone()]), &x), WIDE));
    let cat = x.clone().concat(y.clone()).unwrap();
    rows.push(row("Extract", bin(BinaryOp::Mul, &node(Op::Extract { start: 2, len: 3 }, vec![cat.clone()]), &x), WIDE));
    rows.push(row("Extract one", node(Op::Extract { start: 4, len: 1 }, vec![cat]), WIDE));
    let placed = node(Op::ExtractT { start: 1, dim: 5 }, vec![x.clone()]);
    rows.push(row("ExtractT", bin(BinaryOp::Mul, &placed, &y.clone().concat(w.clone()).unwrap()), WIDE));
    rows.push(row("Concat", bin(BinaryOp::Mul, &x, &a).concat(un(UnaryOp::Sin, &y)).unwrap(), WIDE));
    let index = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &b, &k(2.0)), &k(1.5));
    rows.push(row("OneHot", bin(BinaryOp::Mul, &node(Op::OneHot(3), vec![index]), &x), WIDE));
    rows.push(row("MatVecMult", node(Op::MatVecMult, vec![m.clone(), diff.clone()]), WIDE));
    rows.push(row("VecMatMult", node(Op::VecMatMult, vec![w.clone(), m.clone()]), WIDE));
    rows.push(row("TensorProd", node(Op::TensorProd, vec![x.clone(), w.clone()]), WIDE));
    rows.push(row("Kron 2 axes", node(Op::Kron { a: vec![2, 3], b: vec![2, 2] }, vec![m.clone(), z.clone()]), WIDE));
    rows.push(row("Kron 1 axis", node(Op::Kron { a: vec![3], b: vec![2] }, vec![y.clone(), w.clone()]), WIDE));
    rows.push(row("TensorDot matrix-vector", tensordot(&[2, 3], &[3], &[1], &[0], &m, &y), WIDE));
    rows.push(row("TensorDot crossed axes", tensordot(&[2, 3, 2], &[2, 2], &[0, 2], &[1, 0], &t, &z), WIDE));
    rows.push(row("TensorDot full", tensordot(&[3], &[3], &[0], &[0], &x, &y), WIDE));
    rows.push(row("TensorDot outer", tensordot(&[3], &[2], &[], &[], &x, &w), WIDE));
    rows
}

/// Every operation's name and the list of reductions are the shared catalogue's.
/// (Each test file compiles its own copy of this module and uses only some of these.)
#[allow(unused_imports)]
pub use super::common::catalog::{ops_missing_from, reductions};

/// True for the reductions whose formula must be a scalar (the log-sum-exp family).
pub fn needs_scalar(r: Reduction) -> bool {
    matches!(
        r,
        Reduction::LogSumExp
            | Reduction::LogSumExpWeight
            | Reduction::MaxSumShiftExpWeight
            | Reduction::SumSoftMaxWeight
    )
}

/// `f` bound to `red` over `axis`, every argument of [`POOL`] declared; a vector `f` is summed
/// for the reductions that need a scalar, and the weighted ones weigh by w.
pub fn reduce_of(f: &Expr, red: Reduction, axis: Axis) -> Reduce {
    let f = if needs_scalar(red) && f.dim() > 1 { f.clone().sum().unwrap() } else { f.clone() };
    let weight = red.has_weight().then(|| var(WEIGHT));
    let declared: Vec<VarDecl> = POOL
        .iter()
        .enumerate()
        .map(|(index, &(dim, cat))| VarDecl { name: format!("v{index}"), index, dim, cat })
        .collect();
    Reduce::with_vars(f, weight, red, axis, &declared).unwrap()
}

/// Arrays for every argument of `spec`: `n` i-points, `m` j-points, uniform in [lo, hi].
pub fn inputs<T: Real>(spec: &Reduce, n: usize, m: usize, lo: f64, hi: f64, seed: u64) -> Vec<Array2<T>> {
    let mut rng = Rng::new(seed);
    spec.vars
        .iter()
        .map(|v| {
            let rows = match v.cat {
                Cat::I => n,
                Cat::J => m,
                Cat::P => 1,
            };
            Array2::from_shape_simple_fn((rows, v.dim), || T::from_f64(lo + (hi - lo) * rng.uniform()))
        })
        .collect()
}

/// Whether NVRTC can be used. Without it the calling test is skipped with a notice, or fails
/// when `NOYAU_REQUIRE_NVRTC=1` (as in CI). `scripts/nvrtc.sh` installs it and prints the folder
/// to put in `NOYAU_NVRTC_PATH`.
pub fn nvrtc_ready(test: &str) -> bool {
    match nvrtc::load() {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var("NOYAU_REQUIRE_NVRTC").as_deref() != Ok("1"),
                "{test}: NVRTC is required (NOYAU_REQUIRE_NVRTC=1) but unusable: {why}"
            );
            notice(&format!("SKIPPED {test}: {why}"));
            false
        }
    }
}

/// Prints a line that the test harness does not capture, so that a skipped test is seen.
pub fn notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
