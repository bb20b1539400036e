//! The catalogue: one formula per operation over a pool of variables, for any dimension D of the vectors.
//!
//! Every test that must hold for every operation (gradients against finite differences, each
//! backend against the float64 oracle) iterates over [`rows`]. [`assert_covers_every_op`] checks
//! the table against every operation's name ([`every_op_name`], read from the operation table),
//! so a new operation fails every such test, by name, until it has a row here.
//!
//! Most rows are built for any D ≥ 1 from x, y (dimension D), γ (D) and Γ (D²), with the
//! positions of Elem, ElemT, Extract, ExtractT and OneHot derived from D. Rows tied to fixed
//! shapes (a 2×3 matrix, 4- and 12-component tensors) exist only at [`FIXED_D`]; at that D the
//! table is exactly the one the gradient tests were written against.

use noyau_engine::{BinaryOp, Cat, Domain, Expr, Op, Reduction, UnaryOp};

/// The engine's deterministic generator, with the helpers the tests draw points with.
pub struct Rng(noyau_engine::random::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(noyau_engine::random::Rng::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.uniform()
    }
    pub fn vector(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    /// Uniform in lo..=hi.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// The dimension of x and y at which the rows tied to fixed shapes are in the table.
pub const FIXED_D: usize = 3;

/// The test variables, x and y being of dimension `d`. By index: x (D, i), y (D, j), a (1,
/// parameter), b (1, j), γ (D, parameter), Γ (D², parameter), a 2×3 matrix M (parameter),
/// w (2, j), z (4, i), and T (12, parameter, read as 2×3×2 or 3×2×2).
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub d: usize,
}

impl Pool {
    /// The number of variables: indices from `LEN` on are free for a test's own variables.
    pub const LEN: usize = 10;

    /// Dimension and category of variable `index`.
    pub fn decl(self, index: usize) -> (usize, Cat) {
        let d = self.d;
        let pool = [
            (d, Cat::I),
            (d, Cat::J),
            (1, Cat::P),
            (1, Cat::J),
            (d, Cat::P),
            (d * d, Cat::P),
            (6, Cat::P),
            (2, Cat::J),
            (4, Cat::I),
            (12, Cat::P),
        ];
        pool[index]
    }
    pub fn var(self, index: usize) -> Expr {
        let (dim, cat) = self.decl(index);
        Expr::var(index, dim, cat).unwrap()
    }
    pub fn x(self) -> Expr {
        self.var(0)
    }
    pub fn y(self) -> Expr {
        self.var(1)
    }
    pub fn a(self) -> Expr {
        self.var(2)
    }
    pub fn b(self) -> Expr {
        self.var(3)
    }
}

pub fn node(op: Op, args: Vec<Expr>) -> Expr {
    Expr::new(op, args).unwrap()
}
pub fn un(u: UnaryOp, e: &Expr) -> Expr {
    e.clone().unary(u).unwrap()
}
pub fn bin(op: BinaryOp, l: &Expr, r: &Expr) -> Expr {
    l.clone().binary(op, r.clone()).unwrap()
}
pub fn k(c: f64) -> Expr {
    Expr::constant(c)
}

/// Why a row's data is drawn on the grid: its jump is at a computed value, and on the grid the
/// arithmetic before it is exact in float32 (products of eighths, sums, one division far from
/// an integer), so float32 lands on the same side as the float64 oracle.
pub const EXACT_JUMP: &str = "jump at a computed value: the grid keeps float32 on the oracle's side of it";
/// Why a row's data is drawn on the grid: ties must occur for the tie branch to run.
pub const TIES: &str = "ties (a == b, c == 0, equal components) must occur for the tie branch to run";
/// Why a row's data is drawn on the grid: zero must occur, where the op has a special value or a kink.
pub const ZERO: &str = "x = 0 must occur: the op has a special value or a kink there";

/// The spacing of the grid of [`Row::grid`]: eighths are exact in float32, and so are their
/// products and sums at the magnitudes of the table.
pub const GRID_STEP: f64 = 0.125;

/// One formula of the table, with the range its variables are drawn from (away from the
/// op's singularities).
pub struct Row {
    pub label: String,
    pub f: Expr,
    pub lo: f64,
    pub hi: f64,
    /// Set, with the reason, when backend tests must draw the data on the multiples of
    /// [`GRID_STEP`] in [lo, hi] instead of uniformly. Gradient tests ignore it: they need points
    /// where the formula is smooth, which uniform draws give almost surely.
    pub grid: Option<&'static str>,
}

/// A row whose variables are drawn from [-1, 1].
fn row(label: impl Into<String>, f: Expr) -> Row {
    Row { label: label.into(), f, lo: -1.0, hi: 1.0, grid: None }
}

impl Row {
    fn within(self, (lo, hi): (f64, f64)) -> Row {
        Row { lo, hi, ..self }
    }
    fn on_grid(self, reason: &'static str) -> Row {
        Row { grid: Some(reason), ..self }
    }
}

/// Where a unary function's row draws its points: inside its domain, across 0 where it has a
/// kink or a special value there.
fn unary_domain(u: UnaryOp) -> (f64, f64) {
    match u.domain() {
        Domain::Positive => (0.3, 2.0),
        Domain::Unit => (-0.9, 0.9),
        Domain::All | Domain::KinkAtZero | Domain::Steps => (-2.0, 2.0),
    }
}

fn binary_domain(op: BinaryOp) -> (f64, f64) {
    match op.domain() {
        Domain::Positive => (0.5, 2.0),
        Domain::Unit => (-0.9, 0.9),
        Domain::All | Domain::KinkAtZero | Domain::Steps => (-2.0, 2.0),
    }
}

fn tensordot(a: &[usize], b: &[usize], ca: &[usize], cb: &[usize], l: Expr, r: Expr) -> Expr {
    node(Op::TensorDot { a: a.to_vec(), b: b.to_vec(), ca: ca.to_vec(), cb: cb.to_vec() }, vec![l, r])
}

/// The table for vectors of dimension `d`: every operation at least once (at `d == FIXED_D`),
/// each operand of the multi-operand ops a separate variable, scalar operands broadcast against
/// vectors, and every reading of the weights. For other `d`, the rows tied to fixed shapes are
/// left out and the others keep their order.
pub fn rows(d: usize) -> Vec<Row> {
    assert!(d >= 1, "the vectors need at least one component");
    let p = Pool { d };
    let fixed = d == FIXED_D;
    let (x, y, a, b) = (p.x(), p.y(), p.a(), p.b());
    let (g1, gd, m, w, z, t) = (p.var(4), p.var(5), p.var(6), p.var(7), p.var(8), p.var(9));
    let mut rows = Vec::new();
    for &u in UnaryOp::ALL {
        let r = row(u.name(), un(u, &x)).within(unary_domain(u));
        rows.push(match u.domain() {
            Domain::KinkAtZero => r.on_grid(ZERO),
            Domain::Steps => r.on_grid(EXACT_JUMP),
            _ => r,
        });
    }
    for &op in BinaryOp::ALL {
        for (label, l, r) in [("x, y", &x, &y), ("a, x", &a, &x), ("x, a", &x, &a)] {
            let r = row(format!("{}({label})", op.name()), bin(op, l, r)).within(binary_domain(op));
            rows.push(if op.is_comparison() { r.on_grid(TIES) } else { r });
        }
    }
    let sum_leaves = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &x, &k(2.5)), &bin(BinaryOp::Mul, &Expr::int(3), &y));
    rows.push(row("leaves", bin(BinaryOp::Add, &sum_leaves, &Expr::zero(d).unwrap())));
    rows.push(row("Pow 3", x.clone().pow(3).unwrap()).within((-2.0, 2.0)));
    rows.push(row("Pow -2", x.clone().pow(-2).unwrap()).within((0.3, 2.0)));
    let (pow0, pow1) = (x.clone().pow(0).unwrap(), x.clone().pow(1).unwrap());
    rows.push(row("Pow 0 and 1", bin(BinaryOp::Add, &pow0, &pow1)).within((-2.0, 2.0)));
    let round = node(Op::Round(1), vec![bin(BinaryOp::Mul, &x, &a)]);
    rows.push(row("Round", bin(BinaryOp::Add, &bin(BinaryOp::Mul, &round, &y), &x)).on_grid(EXACT_JUMP));
    rows.push(row("ClampInt", node(Op::ClampInt(-1, 1), vec![bin(BinaryOp::Mul, &x, &k(2.0))])));
    let branches = [un(UnaryOp::Exp, &x), un(UnaryOp::Sin, &y)];
    let [then, otherwise] = branches;
    let if_else = |label: &str, args: Vec<Expr>| row(label, node(Op::IfElse, args)).on_grid(TIES);
    rows.push(if_else("IfElse vector", vec![bin(BinaryOp::Sub, &x, &y), then, otherwise]));
    rows.push(if_else("IfElse scalar condition", vec![a.clone(), x.clone(), y.clone()]));
    rows.push(if_else("IfElse scalar branches", vec![x.clone(), a.clone(), b.clone()]));
    rows.push(row("Clamp vector bound", node(Op::Clamp, vec![x.clone(), a.clone(), y.clone()])));
    rows.push(row("Clamp scalar bounds", node(Op::Clamp, vec![x.clone(), a.clone(), b.clone()])));
    let three_x = bin(BinaryOp::Mul, &x, &k(3.0));
    let shifted = |e: &Expr| bin(BinaryOp::Add, e, &k(2.0));
    let modulo = |label: &str, args: Vec<Expr>| row(label, node(Op::Mod, args)).on_grid(EXACT_JUMP);
    rows.push(modulo("Mod scalar modulus", vec![three_x.clone(), shifted(&a), y.clone()]));
    rows.push(modulo("Mod vector modulus", vec![three_x, shifted(&y), b.clone()]));
    let diff = bin(BinaryOp::Sub, &x, &y);
    rows.push(row("SqNorm2", node(Op::SqNorm2, vec![x.clone()])));
    rows.push(row("Norm2", node(Op::Norm2, vec![diff.clone()])));
    rows.push(row("Normalize", node(Op::Normalize, vec![diff.clone()])));
    rows.push(row("SqDist", x.clone().sqdist(y.clone()).unwrap()));
    rows.push(row("Scalprod", x.clone().scalprod(un(UnaryOp::Exp, &y)).unwrap()));
    for gamma in [&a, &g1, &gd] {
        let label = format!("weight of dimension {}", gamma.dim());
        rows.push(row(format!("WeightedSqNorm, {label}"), node(Op::WeightedSqNorm, vec![gamma.clone(), x.clone()])));
        let dist = node(Op::WeightedSqDist, vec![gamma.clone(), x.clone(), y.clone()]);
        rows.push(row(format!("WeightedSqDist, {label}"), dist));
    }
    let xy = bin(BinaryOp::Mul, &x, &y);
    rows.push(row("Sum", xy.clone().sum().unwrap()));
    rows.push(row("Max", node(Op::Max, vec![xy.clone()])));
    rows.push(row("Min", node(Op::Min, vec![bin(BinaryOp::Add, &xy, &y)])));
    rows.push(row("ArgMax", bin(BinaryOp::Mul, &node(Op::ArgMax, vec![x.clone()]), &y)).on_grid(TIES));
    rows.push(row("ArgMin", bin(BinaryOp::Mul, &node(Op::ArgMin, vec![y.clone()]), &x)).on_grid(TIES));
    rows.push(row("Elem", bin(BinaryOp::Mul, &x.clone().elem(d / 2).unwrap(), &y)));
    rows.push(row("ElemT", bin(BinaryOp::Mul, &node(Op::ElemT { index: d - 1, dim: d }, vec![a.clone()]), &x)));
    let xy_cat = x.clone().concat(y.clone()).unwrap();
    let extract = node(Op::Extract { start: d - 1, len: d }, vec![xy_cat]);
    rows.push(row("Extract", bin(BinaryOp::Mul, &extract, &x)));
    let placed = node(Op::ExtractT { start: 1, dim: d + 2 }, vec![x.clone()]);
    rows.push(row("ExtractT", bin(BinaryOp::Mul, &placed, &y.clone().concat(w.clone()).unwrap())));
    rows.push(row("Concat", bin(BinaryOp::Mul, &x, &a).concat(un(UnaryOp::Sin, &y)).unwrap()));
    // round(a·(d+1)/2 + d/2) for a in [-1, 1] covers every position of the one-hot vector and
    // one past each end.
    let index = bin(BinaryOp::Add, &bin(BinaryOp::Mul, &a, &k(d.div_ceil(2) as f64)), &k(d as f64 / 2.0));
    rows.push(row("OneHot", bin(BinaryOp::Mul, &node(Op::OneHot(d), vec![index]), &x)).on_grid(EXACT_JUMP));
    if fixed {
        rows.push(row("MatVecMult", node(Op::MatVecMult, vec![m.clone(), x.clone()])));
        rows.push(row("VecMatMult", node(Op::VecMatMult, vec![w.clone(), m.clone()])));
    }
    rows.push(row("TensorProd", node(Op::TensorProd, vec![x.clone(), w.clone()])));
    if fixed {
        rows.push(row("Kron 2 axes", node(Op::Kron { a: vec![2, 3], b: vec![2, 2] }, vec![m.clone(), z.clone()])));
    }
    rows.push(row("Kron 1 axis", node(Op::Kron { a: vec![d], b: vec![2] }, vec![x.clone(), w.clone()])));
    if fixed {
        rows.push(row("TensorDot matrix-vector", tensordot(&[2, 3], &[3], &[1], &[0], m.clone(), x.clone())));
        rows.push(row("TensorDot transposed", tensordot(&[2, 3], &[2, 2], &[0], &[1], m.clone(), z.clone())));
        let crossed = tensordot(&[2, 3, 2], &[2, 2], &[0, 2], &[1, 0], t.clone(), z.clone());
        rows.push(row("TensorDot crossed axes", crossed));
        rows.push(row("TensorDot middle axis", tensordot(&[2, 3], &[2, 3, 2], &[1], &[1], m.clone(), t.clone())));
    }
    rows.push(row("TensorDot full", tensordot(&[d], &[d], &[0], &[0], x.clone(), y.clone())));
    rows.push(row("TensorDot outer", tensordot(&[d], &[2], &[], &[], x.clone(), w.clone())));
    rows
}

/// Every operation's name: variables and constants, each row of the operation table
/// (`Op::templates`) and each elementwise function of `ops.rs`. The coverage checks compare
/// against this list, so a new operation fails them, by name, until it has a row.
pub fn every_op_name() -> Vec<&'static str> {
    let mut names = vec!["Var", "Const"];
    names.extend(Op::templates().iter().map(Op::name));
    names.extend(UnaryOp::ALL.iter().map(|u| u.name()));
    names.extend(BinaryOp::ALL.iter().map(|b| b.name()));
    names
}

/// The operations of [`every_op_name`] that no node of `roots` uses.
pub fn ops_missing_from(roots: &[Expr]) -> Vec<&'static str> {
    let used: std::collections::BTreeSet<&str> = Expr::topo_order(roots).iter().map(|n| n.op().name()).collect();
    every_op_name().into_iter().filter(|n| !used.contains(n)).collect()
}

/// Panics, naming what is missing, unless `rows` use every operation.
pub fn assert_covers_every_op(rows: &[Row]) {
    let roots: Vec<Expr> = rows.iter().map(|r| r.f.clone()).collect();
    for n in Expr::topo_order(&roots) {
        // Backends size fixed operand arrays by MAX_ARITY; every operation passes here.
        assert!(
            n.op().arity() <= noyau_engine::expr::MAX_ARITY,
            "{} takes more than MAX_ARITY operands",
            n.op().name()
        );
    }
    let missing = ops_missing_from(&roots);
    assert!(missing.is_empty(), "the catalogue has no row for {missing:?}");
}

/// Every reduction of the engine, with small K, for tests that walk them all.
pub fn reductions() -> Vec<Reduction> {
    vec![
        Reduction::Sum,
        Reduction::Max,
        Reduction::Min,
        Reduction::ArgMax,
        Reduction::ArgMin,
        Reduction::MaxArgMax,
        Reduction::MinArgMin,
        Reduction::KMin(3),
        Reduction::ArgKMin(3),
        Reduction::KMinArgKMin(2),
        Reduction::LogSumExp,
        Reduction::LogSumExpWeight,
        Reduction::MaxSumShiftExpWeight,
        Reduction::SumSoftMaxWeight,
    ]
}

/// The inputs of the reduction tests' formulas: x (n×3, i), y (m×3, j), s = 0.7 (a parameter) and
/// b (m×2, j), drawn from `rng` so that a test can go on drawing from the same stream.
pub fn reduction_inputs<T: noyau_engine::Real>(
    rng: &mut noyau_engine::random::Rng,
    n: usize,
    m: usize,
) -> Vec<ndarray::Array2<T>> {
    vec![
        rng.normal_array(n, 3),
        rng.normal_array(m, 3),
        ndarray::Array2::from_elem((1, 1), T::from_f64(0.7)),
        rng.normal_array(m, 2),
    ]
}
