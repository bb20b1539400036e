//! Algebraic rewrites applied while lowering: fused distance kernels and per-row factors hoisted out of sums.
//!
//! Both passes walk the DAG in an explicit topological order (formulas can be 10⁵ nodes deep)
//! and preserve the value exactly in real arithmetic; floating-point rounding may differ in the
//! last bits, within every backend's tolerance.

use crate::expr::{Cat, Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};
use std::collections::{HashMap, HashSet};

/// Rewrites the common spellings of distances into the fused ops every backend has a kernel
/// for: `SqNorm2(x − y)` and `Sum((x − y)²)` become `SqDist(x, y)`, `Sum(a * b)` becomes
/// `Scalprod(a, b)` (for a and b of one dimension). Shared subformulas stay shared.
pub fn fuse(roots: &[Expr]) -> Vec<Expr> {
    let mut memo: HashMap<Expr, Expr> = HashMap::new();
    for e in Expr::topo_order(roots) {
        let args: Vec<Expr> = e.args().iter().map(|a| memo.get(a).unwrap_or(a).clone()).collect();
        let out = fused(&e, &args).unwrap_or_else(|| {
            if args.iter().zip(e.args()).all(|(a, b)| a == b) {
                e.clone()
            } else {
                // Rebuilding with rewritten operands of the same dimensions cannot fail.
                Expr::new(e.op().clone(), args).unwrap_or_else(|_| e.clone())
            }
        });
        memo.insert(e, out);
    }
    roots.iter().map(|r| memo.get(r).unwrap_or(r).clone()).collect()
}

/// The fused form of `e` whose operands were rewritten into `args`, if a rule applies.
fn fused(e: &Expr, args: &[Expr]) -> Option<Expr> {
    let is_sub = |x: &Expr| matches!(x.op(), Op::Binary(BinaryOp::Sub)) && x.arg(0).dim() == x.arg(1).dim();
    let squared_sub = |x: &Expr| match x.op() {
        Op::Unary(UnaryOp::Square) | Op::Pow(2) if is_sub(x.arg(0)) => Some(x.arg(0).clone()),
        _ => None,
    };
    match e.op() {
        Op::SqNorm2 if is_sub(&args[0]) => args[0].arg(0).clone().sqdist(args[0].arg(1).clone()).ok(),
        Op::Sum => match squared_sub(&args[0]) {
            Some(d) => d.arg(0).clone().sqdist(d.arg(1).clone()).ok(),
            None if matches!(args[0].op(), Op::Binary(BinaryOp::Mul))
                && args[0].arg(0).dim() == args[0].arg(1).dim() =>
            {
                args[0].arg(0).clone().scalprod(args[0].arg(1).clone()).ok()
            }
            None => None,
        },
        _ => None,
    }
}

/// The nodes of `roots` that depend on a variable of category `cat`.
pub fn depending_on(roots: &[Expr], cat: Cat) -> HashSet<Expr> {
    let mut dep = HashSet::new();
    for e in Expr::topo_order(roots) {
        let d = match e.op() {
            Op::Var { cat: c, .. } => *c == cat,
            _ => e.args().iter().any(|a| dep.contains(a)),
        };
        if d {
            dep.insert(e);
        }
    }
    dep
}

/// For a Sum, rewrites F = u·L, u the factors that do not depend on the reduced index, into
/// (L, Some(u)): Σ_j u_i·L_ij = u_i·Σ_j L_ij saves a product per pair. F is left alone (None)
/// when it has no such factor, or when L would lose F's dimension (u must be a scalar or of
/// F's dimension).
pub fn hoist_row_factors(f: &Expr, inner: Cat) -> (Expr, Option<Expr>) {
    let lane = depending_on(std::slice::from_ref(f), inner);
    let (mut uniform, mut pair) = (Vec::new(), Vec::new());
    // The factors of the product tree, left to right, through products and negations.
    let mut stack = vec![f.clone()];
    while let Some(e) = stack.pop() {
        match e.op() {
            Op::Binary(BinaryOp::Mul) => {
                stack.push(e.arg(1).clone());
                stack.push(e.arg(0).clone());
            }
            Op::Unary(UnaryOp::Minus) => {
                uniform.push(Expr::constant(-1.0));
                stack.push(e.arg(0).clone());
            }
            _ if lane.contains(&e) => pair.push(e),
            _ => uniform.push(e),
        }
    }
    if uniform.is_empty() || pair.is_empty() {
        return (f.clone(), None);
    }
    match (product(pair), product(uniform)) {
        (Some(l), Some(u)) if l.dim() == f.dim() && (u.dim() == 1 || u.dim() == f.dim()) => (l, Some(u)),
        _ => (f.clone(), None),
    }
}

/// The product of the factors, left to right; `None` for no factor or a dimension clash.
fn product(factors: Vec<Expr>) -> Option<Expr> {
    let mut it = factors.into_iter();
    let first = it.next()?;
    it.try_fold(first, |acc, f| acc.mul(f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse_aliases, parse_formula};

    fn f(s: &str) -> Expr {
        let vars = parse_aliases(&["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)", "u = Vi(1)"]).unwrap();
        parse_formula(s, &vars).unwrap()
    }

    #[test]
    fn distances_are_fused() {
        assert_eq!(fuse(&[f("Exp(-SqNorm2(x-y))")])[0], f("Exp(-SqDist(x,y))"));
        assert_eq!(fuse(&[f("Sum((x-y)**2)*b")])[0], f("SqDist(x,y)*b"));
        assert_eq!(fuse(&[f("Sum(x*y)")])[0], f("(x|y)"));
        assert_eq!(fuse(&[f("Exp(x)")])[0], f("Exp(x)"));
    }

    #[test]
    fn row_factors_leave_the_sum() {
        let (l, u) = hoist_row_factors(&f("-u*Exp(-SqDist(x,y))*s*b"), Cat::J);
        assert_eq!(l, f("Exp(-SqDist(x,y))*b"));
        assert_eq!(u.unwrap(), f("-1*u*s"));
        let (l, u) = hoist_row_factors(&f("Exp(-SqDist(x,y))*b"), Cat::J);
        assert_eq!((l, u), (f("Exp(-SqDist(x,y))*b"), None));
    }

    #[test]
    fn deep_formulas_do_not_recurse() {
        let mut e = f("u");
        for k in 0..100_000 {
            e = e.mul(Expr::constant(1.0 + k as f64 * 1e-9)).unwrap();
        }
        let fused = fuse(std::slice::from_ref(&e));
        assert_eq!(fused[0], e);
        let (l, u) = hoist_row_factors(&e.mul(f("b")).unwrap(), Cat::J);
        assert_eq!(l, f("b"));
        assert!(u.is_some());
    }
}
