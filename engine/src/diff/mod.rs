//! Symbolic differentiation: gradients of formulas are formulas (KeOps' `Grad`, `Diff`, `GradMatrix`, ...).
//!
//! Everything rests on [`grad`], reverse mode over the DAG: the nodes of F are visited from F
//! down to the leaves, each node's adjoint (the sum of what its parents sent it) is pushed to
//! its operands by the node's rule in [`rules::vjp`], one exhaustive match over [`Op`]. Only
//! nodes that depend on the variable are visited. The result is an ordinary formula, which can
//! be evaluated, reduced, printed or differentiated again.
//!
//! The other operators (KeOps' `Diff`, `GradMatrix`, `Divergence`, `Laplacian`) are built from `grad`:
//! - [`diff`] (the directional derivative J·dV) differentiates the gradient once more, with
//!   respect to its adjoint input: `Grad(F, V, E) = Jᵀ E` is linear in E, so
//!   `Grad(Grad(F, V, E), E, dV) = J dV`, and E disappears from the result. E is a *dummy
//!   variable*, an `Op::Var` whose index is reserved (see [`RESERVED_INDEX`]); formulas given to
//!   `diff` may not use reserved indices, and no returned formula contains one.
//! - [`grad_matrix`], [`divergence`] and [`laplacian`] use gradients contracted with the constant
//!   one-hot vectors `ElemT(1, i)`, so they need no dummy variable.
//!
//! Every returned formula goes through `finish`, the single place where the simplifier will be
//! applied.

mod build;
mod rules;

use crate::error::{Error, Result};
use crate::expr::{Cat, Expr, Op};
use build::{add, c, concat_all, elem, elem_t, internal};
use std::collections::{HashMap, HashSet};

/// Variable indices from this one up to `usize::MAX` are reserved for the dummy variables that
/// [`diff`] introduces and eliminates. Dummy k is `Var(usize::MAX − k)`.
pub const RESERVED_INDEX: usize = usize::MAX - 15;

/// The post-processing of every formula this module returns.
fn finish(e: Expr) -> Expr {
    // The rules only fold trivial factors; the simplifier gives gradients their compact form.
    crate::simplify::simplify(&e)
}

/// The gradient of `f` with respect to the variable `v`, contracted with `e`: the vector
/// (∂F/∂V)ᵀ·E, of dimension dim(V). `e` must have the dimension of `f`; it may be any formula,
/// and is treated as a constant (KeOps' `Grad(F, V, E)`). If `f` does not depend on `v`, the
/// result is `Zero(dim V)`.
pub fn grad(f: &Expr, v: &Expr, e: &Expr) -> Result<Expr> {
    Ok(finish(backward("Grad", f, v, e)?))
}

/// The derivative of `f` with respect to the variable `v` in the direction `dv`: the vector
/// (∂F/∂V)·dV, of dimension dim(F) (KeOps' `Diff(F, V, dV)`). `dv` must have the dimension of `v`.
pub fn diff(f: &Expr, v: &Expr, dv: &Expr) -> Result<Expr> {
    let name = "Diff";
    check_variable(name, v)?;
    same_dim(name, "the direction", dv, "the variable", v)?;
    reject_reserved(name, &[f.clone(), v.clone(), dv.clone()])?;
    let adjoint = dummy(0, f.dim())?;
    // Jᵀ E, linear in E; its gradient with respect to E along dV is J dV.
    let transposed = backward(name, f, v, &adjoint)?;
    let result = backward(name, &transposed, &adjoint, dv)?;
    if Expr::variables(std::slice::from_ref(&result)).iter().any(|&(index, _, _)| index >= RESERVED_INDEX) {
        return Err(internal("a dummy variable is left in a directional derivative"));
    }
    Ok(finish(result))
}

/// The Jacobian of `f` with respect to the variable `v`, as a vector of dim(F)·dim(V) values:
/// block i (of dim(V) values) is the gradient of component i of F, i.e. the dim(F)×dim(V)
/// matrix ∂Fᵢ/∂Vⱼ row by row (KeOps' `GradMatrix`, the same layout).
pub fn grad_matrix(f: &Expr, v: &Expr) -> Result<Expr> {
    let rows = (0..f.dim()).map(|i| backward("GradMatrix", f, v, &one_hot(i, f.dim())?)).collect::<Result<Vec<_>>>()?;
    Ok(finish(concat_all(&rows)?))
}

/// The divergence Σᵢ ∂Fᵢ/∂Vᵢ (a scalar) of `f` with respect to the variable `v`, which must
/// have the dimension of `f`.
pub fn divergence(f: &Expr, v: &Expr) -> Result<Expr> {
    Ok(finish(trace("Divergence", f, v)?))
}

/// The Laplacian Σᵢ ∂²F/∂Vᵢ² of the scalar formula `f` with respect to the variable `v`: the
/// divergence of its gradient.
pub fn laplacian(f: &Expr, v: &Expr) -> Result<Expr> {
    let name = "Laplacian";
    if f.dim() != 1 {
        return Err(Error::invalid(name, format!("the formula must be a scalar, it has dimension {}", f.dim())));
    }
    let gradient = backward(name, f, v, &c(1.0))?;
    Ok(finish(trace(name, &gradient, v)?))
}

/// Σᵢ ∂Fᵢ/∂Vᵢ, one gradient per component, each contracted with a one-hot vector.
fn trace(name: &str, f: &Expr, v: &Expr) -> Result<Expr> {
    check_variable(name, v)?;
    same_dim(name, "the formula", f, "the variable", v)?;
    let mut total = Expr::zero(1)?;
    for i in 0..f.dim() {
        let column = backward(name, f, v, &one_hot(i, f.dim())?)?;
        total = add(total, elem(column, i)?)?;
    }
    Ok(total)
}

/// The constant vector of dimension `d` with a 1 at position `i`.
fn one_hot(i: usize, d: usize) -> Result<Expr> {
    elem_t(c(1.0), i, d)
}

/// Dummy variable k, of dimension `dim`.
fn dummy(k: usize, dim: usize) -> Result<Expr> {
    Expr::var(usize::MAX - k, dim, Cat::P)
}

fn check_variable(name: &str, v: &Expr) -> Result<()> {
    match v.op() {
        Op::Var { .. } => Ok(()),
        _ => Err(Error::invalid(
            name,
            format!("can only differentiate with respect to a variable (Vi, Vj, Pm or Var), not `{v}`"),
        )),
    }
}

/// An error naming both formulas unless `a` and `b` have the same dimension.
fn same_dim(name: &str, what_a: &str, a: &Expr, what_b: &str, b: &Expr) -> Result<()> {
    if a.dim() == b.dim() {
        return Ok(());
    }
    let msg = format!("{what_a} has dimension {} but {what_b} has dimension {}: they must match", a.dim(), b.dim());
    Err(Error::invalid(name, msg))
}

fn reject_reserved(name: &str, roots: &[Expr]) -> Result<()> {
    match Expr::variables(roots).iter().find(|&&(index, _, _)| index >= RESERVED_INDEX) {
        Some((index, _, _)) => Err(Error::invalid(
            name,
            format!("variable index {index} is reserved for the dummy variables of differentiation"),
        )),
        None => Ok(()),
    }
}

/// (∂F/∂V)ᵀ·E by reverse accumulation, without `finish`, so that the operators built on it
/// finish their result once. `name` is the operator to report errors under.
fn backward(name: &str, f: &Expr, v: &Expr, e: &Expr) -> Result<Expr> {
    check_variable(name, v)?;
    same_dim(name, "the gradient input", e, "the formula", f)?;
    let order = Expr::topo_order(std::slice::from_ref(f));
    // Children come before parents, so one pass finds every node with a path down to v.
    let mut depends: HashSet<Expr> = HashSet::new();
    for n in &order {
        if n == v || n.args().iter().any(|a| depends.contains(a)) {
            depends.insert(n.clone());
        }
    }
    if !depends.contains(f) {
        return Expr::zero(v.dim());
    }
    let mut adjoints: HashMap<Expr, Expr> = HashMap::new();
    adjoints.insert(f.clone(), e.clone());
    // Parents come before children in reverse order, so a node's adjoint is complete when it is reached.
    for n in order.iter().rev() {
        if n == v || !depends.contains(n) {
            continue;
        }
        let Some(g) = adjoints.remove(n) else { continue };
        if g.is_zero() {
            continue;
        }
        let parts = rules::vjp(n, &g)?;
        for (operand, part) in n.args().iter().zip(parts) {
            let Some(part) = part else { continue };
            if !depends.contains(operand) || part.is_zero() {
                continue;
            }
            if part.dim() != operand.dim() {
                return Err(internal(format!(
                    "{} sent a contribution of dimension {} to an operand of dimension {}",
                    n.op().name(),
                    part.dim(),
                    operand.dim()
                )));
            }
            let total = match adjoints.remove(operand) {
                Some(previous) => add(previous, part)?,
                None => part,
            };
            adjoints.insert(operand.clone(), total);
        }
    }
    match adjoints.remove(v) {
        Some(g) => Ok(g),
        None => Expr::zero(v.dim()),
    }
}
