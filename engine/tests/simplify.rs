//! Tests of the simplifier: a snapshot of every rule at work, soundness on random formulas, deep chains.
//!
//! Regenerate the snapshot after changing a rule with
//! `UPDATE_EXPECT=1 cargo test -p noyau-engine --test simplify`, then read the diff.

use expect_test::expect;
use noyau_engine::print::to_string_with;
use noyau_engine::reference::eval_point;
use noyau_engine::simplify::{rule_names, simplify_traced};
use noyau_engine::{simplify, BinaryOp, Cat, Expr, Op, UnaryOp};
use std::collections::BTreeSet;

/// A formula with operators, so that test cases read like the formulas they build.
#[derive(Clone)]
struct F(Expr);

macro_rules! infix {
    ($($trait:ident $method:ident $op:ident;)*) => {$(
        impl std::ops::$trait for F {
            type Output = F;
            fn $method(self, o: F) -> F {
                F(self.0.binary(BinaryOp::$op, o.0).unwrap())
            }
        }
    )*};
}
infix! { Add add Add; Sub sub Sub; Mul mul Mul; Div div Div; }

impl std::ops::Neg for F {
    type Output = F;
    fn neg(self) -> F {
        un(UnaryOp::Minus, self)
    }
}

/// The variables of every test: x, y scalars, u of dimension 2, v and w of dimension 3.
const NAMES: [&str; 5] = ["x", "y", "u", "v", "w"];
const DIMS: [usize; 5] = [1, 1, 2, 3, 3];

fn var(k: usize) -> F {
    let cat = [Cat::I, Cat::J][k % 2];
    F(Expr::var(k, DIMS[k], cat).unwrap())
}
fn x() -> F {
    var(0)
}
fn y() -> F {
    var(1)
}
fn u() -> F {
    var(2)
}
fn v() -> F {
    var(3)
}
fn w() -> F {
    var(4)
}
fn k(c: f64) -> F {
    F(Expr::constant(c))
}
fn zero(d: usize) -> F {
    F(Expr::zero(d).unwrap())
}
fn un(op: UnaryOp, a: F) -> F {
    F(a.0.unary(op).unwrap())
}
fn op(op: Op, args: &[F]) -> F {
    F(Expr::new(op, args.iter().map(|a| a.0.clone()).collect()).unwrap())
}

fn show(e: &Expr) -> String {
    to_string_with(e, &|k, _, _| NAMES.get(k).map(|n| n.to_string()))
}

/// Inputs exercising every rule of the table, and a few where a rule must not apply.
fn cases() -> Vec<F> {
    use UnaryOp::*;
    let kron = Op::Kron { a: vec![2], b: vec![3] };
    let dot = Op::TensorDot { a: vec![3], b: vec![3], ca: vec![0], cb: vec![0] };
    vec![
        // The shape of what symbolic differentiation produces.
        un(Exp, x()) * k(0.0) + k(1.0) * -(-y()) * zero(3),
        x() * k(0.0),
        k(0.0) * v(),
        v() * k(1.0),
        F(Expr::int(1)) * x(),
        x() * k(-1.0),
        k(-1.0) * v(),
        -x() * -y(),
        x() + k(0.0),
        zero(3) + v(),
        x() - k(0.0),
        k(0.0) - y(),
        v() - v(),
        x() / k(1.0),
        k(0.0) / y(),
        -(-v()),
        -zero(3),
        op(Op::Pow(0), &[x()]),
        op(Op::Pow(1), &[v()]),
        op(Op::Pow(2), &[x()]),
        op(Op::Pow(-1), &[y()]),
        un(Square, -x()),
        un(Abs, -v()),
        op(Op::IfElse, &[x(), v(), v()]),
        op(Op::Sum, &[x()]),
        op(Op::Max, &[y()]),
        op(Op::Min, &[x() + y()]),
        op(Op::Elem(0), &[x()]),
        op(Op::Extract { start: 0, len: 3 }, &[v()]),
        op(Op::Sum, &[zero(3)]),
        op(Op::SqNorm2, &[zero(3)]),
        op(Op::Norm2, &[zero(2)]),
        op(Op::Scalprod, &[zero(3), v()]),
        op(Op::Scalprod, &[w(), zero(3)]),
        op(Op::SqDist, &[v(), v()]),
        op(Op::SqDist, &[v(), zero(3)]),
        op(Op::SqDist, &[zero(3), w()]),
        op(Op::WeightedSqNorm, &[k(0.0), v()]),
        op(Op::WeightedSqNorm, &[x(), zero(3)]),
        op(Op::WeightedSqDist, &[zero(9), v(), w()]),
        op(Op::WeightedSqDist, &[w(), v(), v()]),
        op(Op::Elem(1), &[zero(3)]),
        op(Op::Extract { start: 1, len: 2 }, &[zero(3)]),
        op(Op::ElemT { index: 1, dim: 3 }, &[k(0.0)]),
        op(Op::ExtractT { start: 1, dim: 3 }, &[zero(2)]),
        op(Op::Concat, &[zero(1), zero(2)]),
        op(Op::MatVecMult, &[zero(6), u()]),
        op(Op::MatVecMult, &[v(), zero(1)]),
        op(Op::VecMatMult, &[zero(1), v()]),
        op(Op::VecMatMult, &[u(), zero(6)]),
        op(Op::TensorProd, &[zero(1), v()]),
        op(Op::TensorProd, &[u(), zero(1)]),
        op(kron.clone(), &[zero(2), v()]),
        op(kron, &[u(), zero(3)]),
        op(dot.clone(), &[zero(3), v()]),
        op(dot, &[v(), zero(3)]),
        // Constant folding.
        un(Exp, k(0.0)),
        un(Log, k(1.0)),
        un(Sqrt, zero(3)),
        op(Op::Pow(3), &[zero(3)]),
        un(Step, k(-2.0)) + un(Sign, k(-3.0)),
        k(1.0).binary_op(BinaryOp::Less, k(2.0)),
        F(Expr::int(2)) * k(3.0) + x(),
        un(Log, k(0.0)),
        // Normal forms.
        x() * k(2.0),
        k(2.0) * (k(3.0) * x()),
        (k(2.0) * x()) * y(),
        x() * (k(3.0) * v()),
        (x() * k(2.0)) * (y() * k(3.0)),
        (x() + y()) * (x() + y()),
        -x() * y(),
        x() * -v(),
        -x() / y(),
        x() / -y(),
        -(k(2.0) * x()),
        -(x() - y()),
        v() + v(),
        x() + x() + (x() + x()),
        x() + -y(),
        -x() + y(),
        x() - -y(),
        // Rules that must not fire: the result would change the dimension.
        x() + zero(3),
        zero(3) - x(),
        op(Op::Pow(0), &[v()]),
        op(Op::Sum, &[v()]),
        un(Exp, zero(3)),
        op(Op::Elem(0), &[v()]),
        // Nor may a metavariable bound twice meet two different operands.
        v() - w(),
        op(Op::IfElse, &[x(), v(), w()]),
    ]
}

impl F {
    fn binary_op(self, b: BinaryOp, o: F) -> F {
        F(self.0.binary(b, o.0).unwrap())
    }
}

#[test]
fn every_rule_in_a_snapshot() {
    let text: String = cases().iter().map(|e| format!("{}  ==>  {}\n", show(&e.0), show(&simplify(&e.0)))).collect();
    expect![[r#"
        Exp(x) * 0.0 + 1.0 * -(-y) * Zero(3)  ==>  Zero(3)
        x * 0.0  ==>  0.0
        0.0 * v  ==>  Zero(3)
        v * 1.0  ==>  v
        IntCst(1) * x  ==>  x
        x * -1.0  ==>  -x
        -1.0 * v  ==>  -v
        -x * -y  ==>  x * y
        x + 0.0  ==>  x
        Zero(3) + v  ==>  v
        x - 0.0  ==>  x
        0.0 - y  ==>  -y
        v - v  ==>  Zero(3)
        x / 1.0  ==>  x
        0.0 / y  ==>  0.0
        -(-v)  ==>  v
        -Zero(3)  ==>  Zero(3)
        Pow(x, 0)  ==>  1.0
        Pow(v, 1)  ==>  v
        Pow(x, 2)  ==>  Square(x)
        Pow(y, -1)  ==>  Inv(y)
        Square(-x)  ==>  Square(x)
        Abs(-v)  ==>  Abs(v)
        IfElse(x, v, v)  ==>  v
        Sum(x)  ==>  x
        Max(y)  ==>  y
        Min(x + y)  ==>  x + y
        Elem(x, 0)  ==>  x
        Extract(v, 0, 3)  ==>  v
        Sum(Zero(3))  ==>  0.0
        SqNorm2(Zero(3))  ==>  0.0
        Norm2(Zero(2))  ==>  0.0
        (Zero(3) | v)  ==>  0.0
        (w | Zero(3))  ==>  0.0
        SqDist(v, v)  ==>  0.0
        SqDist(v, Zero(3))  ==>  SqNorm2(v)
        SqDist(Zero(3), w)  ==>  SqNorm2(w)
        WeightedSqNorm(0.0, v)  ==>  0.0
        WeightedSqNorm(x, Zero(3))  ==>  0.0
        WeightedSqDist(Zero(9), v, w)  ==>  0.0
        WeightedSqDist(w, v, v)  ==>  0.0
        Elem(Zero(3), 1)  ==>  0.0
        Extract(Zero(3), 1, 2)  ==>  Zero(2)
        ElemT(0.0, 3, 1)  ==>  Zero(3)
        ExtractT(Zero(2), 1, 3)  ==>  Zero(3)
        Concat(Zero(1), Zero(2))  ==>  Zero(3)
        MatVecMult(Zero(6), u)  ==>  Zero(3)
        MatVecMult(v, Zero(1))  ==>  Zero(3)
        VecMatMult(Zero(1), v)  ==>  Zero(3)
        VecMatMult(u, Zero(6))  ==>  Zero(3)
        TensorProd(Zero(1), v)  ==>  Zero(3)
        TensorProd(u, Zero(1))  ==>  Zero(2)
        Kron(Zero(2), v, [2], [3])  ==>  Zero(6)
        Kron(u, Zero(3), [2], [3])  ==>  Zero(6)
        TensorDot(Zero(3), v, [3], [3], [0], [0])  ==>  0.0
        TensorDot(v, Zero(3), [3], [3], [0], [0])  ==>  0.0
        Exp(0.0)  ==>  1.0
        Log(1.0)  ==>  0.0
        Sqrt(Zero(3))  ==>  Zero(3)
        Pow(Zero(3), 3)  ==>  Zero(3)
        Step(-2.0) + Sign(-3.0)  ==>  -1.0
        1.0 < 2.0  ==>  1.0
        IntCst(2) * 3.0 + x  ==>  6.0 + x
        Log(0.0)  ==>  -Inf
        x * 2.0  ==>  2.0 * x
        2.0 * (3.0 * x)  ==>  6.0 * x
        2.0 * x * y  ==>  2.0 * (x * y)
        x * (3.0 * v)  ==>  3.0 * (x * v)
        x * 2.0 * (y * 3.0)  ==>  6.0 * (x * y)
        (x + y) * (x + y)  ==>  Square(x + y)
        -x * y  ==>  -(x * y)
        x * -v  ==>  -(x * v)
        -x / y  ==>  -(x / y)
        x / -y  ==>  -(x / y)
        -(2.0 * x)  ==>  -2.0 * x
        -(x - y)  ==>  y - x
        v + v  ==>  2.0 * v
        x + x + (x + x)  ==>  4.0 * x
        x + -y  ==>  x - y
        -x + y  ==>  y - x
        x - -y  ==>  x + y
        x + Zero(3)  ==>  x + Zero(3)
        Zero(3) - x  ==>  Zero(3) - x
        Pow(v, 0)  ==>  Pow(v, 0)
        Sum(v)  ==>  Sum(v)
        Exp(Zero(3))  ==>  Exp(Zero(3))
        Elem(v, 0)  ==>  Elem(v, 0)
        v - w  ==>  v - w
        IfElse(x, v, w)  ==>  IfElse(x, v, w)
    "#]]
    .assert_eq(&text);
}

#[test]
fn every_rule_fires_in_the_snapshot() {
    let mut fired = BTreeSet::new();
    for e in cases() {
        simplify_traced(&e.0, &mut |name| {
            fired.insert(name);
        });
    }
    let never: Vec<_> = rule_names().into_iter().filter(|r| !fired.contains(r)).collect();
    assert!(never.is_empty(), "rules no snapshot case exercises: {never:?}");
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random formulas of a given dimension, reusing earlier subformulas often so that rules like
/// `a - a` and `IfElse(c, a, a)` get their chance.
struct Gen {
    rng: Rng,
    pool: Vec<F>,
}

impl Gen {
    fn leaf(&mut self, dim: usize) -> F {
        let r = &mut self.rng;
        match (dim, r.below(4)) {
            (_, 0) => zero(dim),
            (1, 1) => F(Expr::int(r.pick(&[0, 1, 2, -1]))),
            (1, 2) => k(r.pick(&[0.0, 1.0, -1.0, 2.0, 0.5, 3.0, -2.5])),
            (1, _) => r.pick(&[x(), y()]),
            (2, _) => u(),
            _ => r.pick(&[v(), w()]),
        }
    }

    fn formula(&mut self, depth: usize, dim: usize) -> F {
        let reuse: Vec<F> = self.pool.iter().filter(|f| f.0.dim() == dim).cloned().collect();
        if !reuse.is_empty() && self.rng.below(4) == 0 {
            return self.rng.pick(&reuse);
        }
        if depth == 0 || self.rng.below(5) == 0 {
            return self.leaf(dim);
        }
        let d = depth - 1;
        use UnaryOp::*;
        // No Sin: at the huge arguments random formulas reach, it turns the rounding differences of
        // reassociated products into differences of order one, which says nothing about the rules.
        let unary = [Minus, Exp, Log, Square, Sqrt, Abs, Sign, Step, Inv, Atan, ReLU];
        let binary = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Less, BinaryOp::GreaterEq];
        let f = match self.rng.below(9) {
            0 | 1 => {
                let o = self.rng.pick(&unary);
                un(o, self.formula(d, dim))
            }
            2 => {
                let n = self.rng.pick(&[-1, 0, 1, 2, 3]);
                op(Op::Pow(n), &[self.formula(d, dim)])
            }
            3..=5 => {
                let b = self.rng.pick(&binary);
                let other = self.rng.pick(&[1, dim]);
                let (a, c) = (self.formula(d, dim), self.formula(d, other));
                if self.rng.below(2) == 0 {
                    a.binary_op(b, c)
                } else {
                    c.binary_op(b, a)
                }
            }
            6 => {
                let cond = self.rng.pick(&[1, dim]);
                let c = self.formula(d, cond);
                op(Op::IfElse, &[c, self.formula(d, dim), self.formula(d, dim)])
            }
            _ => self.structural(d, dim),
        };
        self.pool.push(f.clone());
        f
    }

    /// The ops that change dimensions, one of those that produce `dim`.
    fn structural(&mut self, d: usize, dim: usize) -> F {
        let (choice, any) = (self.rng.below(7), self.rng.pick(&[1, 2, 3]));
        let mut g = |dim| self.formula(d, dim);
        match (dim, choice) {
            (1, 0) => op(Op::Sum, &[g(any)]),
            (1, 1) => op(Op::SqDist, &[g(3), g(3)]),
            (1, 2) => op(Op::Scalprod, &[g(2), g(2)]),
            (1, 3) => op(Op::WeightedSqDist, &[g(1), g(3), g(3)]),
            (1, 4) => op(Op::Max, &[g(any)]),
            (1, 5) => op(Op::Elem(0), &[g(any)]),
            (1, _) => op(Op::Norm2, &[g(any)]),
            (2, 0) => op(Op::Concat, &[g(1), g(1)]),
            (2, 1) => op(Op::ExtractT { start: 1, dim: 2 }, &[g(1)]),
            (2, _) => op(Op::Extract { start: 1, len: 2 }, &[g(3)]),
            (_, 0) => op(Op::MatVecMult, &[op(Op::TensorProd, &[g(3), g(2)]), g(2)]),
            (_, 1) => op(Op::VecMatMult, &[g(1), g(3)]),
            (_, 2) => op(Op::TensorProd, &[g(1), g(3)]),
            (_, 3) => op(Op::Concat, &[g(2), g(1)]),
            (_, 4) => op(Op::ElemT { index: 2, dim: 3 }, &[g(1)]),
            (_, 5) => op(Op::Extract { start: 0, len: 3 }, &[g(3)]),
            _ => op(Op::SqNorm2, &[g(3)]) * g(3),
        }
    }
}

#[test]
fn simplification_preserves_values_and_dimensions() {
    let mut random = Gen { rng: Rng(0x9e37_79b9_7f4a_7c15), pool: Vec::new() };
    let mut compared = 0;
    for _ in 0..3000 {
        if random.pool.len() > 200 {
            random.pool.clear();
        }
        let dim = random.rng.pick(&[1, 1, 2, 3]);
        let e = random.formula(5, dim).0;
        let s = simplify(&e);
        assert_eq!(s.dim(), e.dim(), "{}", show(&e));
        assert_eq!(simplify(&s), s, "not idempotent on {}", show(&e));
        let nodes = Expr::topo_order(std::slice::from_ref(&e));
        for _ in 0..4 {
            let mut coordinate = || random.rng.uniform(-2.0, 2.0);
            let point: Vec<Vec<f64>> = DIMS.iter().map(|&d| (0..d).map(|_| coordinate()).collect()).collect();
            let at = |k: usize| point[k].clone();
            // The rules that drop an operand assume it is finite: skip points where any part of the original is not.
            let all = eval_point(&nodes, &at);
            if all.iter().flatten().any(|v| !v.is_finite()) {
                continue;
            }
            let got = &eval_point(std::slice::from_ref(&s), &at)[0];
            let want = &all[all.len() - 1];
            for (a, b) in want.iter().zip(got) {
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                    "{} = {a} but its simplification {} = {b} at {point:?}",
                    show(&e),
                    show(&s)
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 2000, "only {compared} points compared");
}

/// Drops a formula parents first. Dropping a node drops its operands recursively, so letting a
/// 100 000-deep chain go at once overflows a test thread's stack (a limit of `Expr`, not of the simplifier).
fn drop_shallow(e: Expr) {
    let mut nodes = Expr::topo_order(std::slice::from_ref(&e));
    drop(e);
    while let Some(n) = nodes.pop() {
        drop(n);
    }
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    const N: usize = 100_000;
    // x + 0 + y + 0 + y + ...: half the levels vanish, the rest are rebuilt on top of each other.
    let mut e = x().0;
    for n in 0..N {
        let term = if n % 2 == 0 { Expr::constant(0.0) } else { y().0 };
        e = e.add(term).unwrap();
    }
    let s = simplify(&e);
    assert_eq!(Expr::topo_order(std::slice::from_ref(&s)).len(), N / 2 + 2);
    drop_shallow(s);
    drop_shallow(e);

    // -(-(-(...x))): the whole chain collapses.
    let mut e = x().0;
    for _ in 0..N {
        e = e.neg().unwrap();
    }
    let s = simplify(&e);
    assert_eq!(s, x().0);
    drop_shallow(e);
}
