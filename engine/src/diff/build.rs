//! Formula builders with light local simplification, used by the derivative rules.
//!
//! Adjoint formulas are mostly products of the incoming adjoint with local derivatives, and many
//! of those factors are trivially 0, 1 or −1. Folding them here keeps gradients small before the
//! simplifier sees them. Every builder returns a formula of exactly the dimension the plain
//! constructor would give, so a folded formula can stand wherever the unfolded one could.

use crate::error::{Error, Result};
use crate::expr::{Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};

/// An error for a broken invariant of the derivative rules themselves, not of the user's input.
pub(super) fn internal(msg: impl Into<String>) -> Error {
    let msg = msg.into();
    Error::invalid("Grad", format!("internal error in a derivative rule: {msg}"))
}

/// The dimension of an elementwise binary op, with the constructor's broadcasting rule.
fn broadcast_dim(op: BinaryOp, a: &Expr, b: &Expr) -> Result<usize> {
    match (a.dim(), b.dim()) {
        (x, y) if x == y || y == 1 => Ok(x),
        (1, y) => Ok(y),
        (x, y) => Err(Error::DimMismatch { op: op.name().into(), a: x, b: y }),
    }
}

pub(super) fn c(x: f64) -> Expr {
    Expr::constant(x)
}

pub(super) fn neg(a: Expr) -> Result<Expr> {
    if a.is_zero() {
        return Ok(a);
    }
    if let Op::Unary(UnaryOp::Minus) = a.op() {
        return Ok(a.arg(0).clone());
    }
    a.neg()
}

pub(super) fn add(a: Expr, b: Expr) -> Result<Expr> {
    let d = broadcast_dim(BinaryOp::Add, &a, &b)?;
    if a.is_zero() && b.dim() == d {
        return Ok(b);
    }
    if b.is_zero() && a.dim() == d {
        return Ok(a);
    }
    a.add(b)
}

pub(super) fn sub(a: Expr, b: Expr) -> Result<Expr> {
    let d = broadcast_dim(BinaryOp::Sub, &a, &b)?;
    if b.is_zero() && a.dim() == d {
        return Ok(a);
    }
    if a.is_zero() && b.dim() == d {
        return neg(b);
    }
    a.sub(b)
}

pub(super) fn mul(a: Expr, b: Expr) -> Result<Expr> {
    let d = broadcast_dim(BinaryOp::Mul, &a, &b)?;
    if a.is_zero() || b.is_zero() {
        return Expr::zero(d);
    }
    if let Some(product) = inside_masks(&a, &b, mul)? {
        return Ok(product);
    }
    if let Some(product) = inside_masks(&b, &a, |x, y| mul(y, x))? {
        return Ok(product);
    }
    for (k, other) in [(&a, &b), (&b, &a)] {
        if other.dim() == d {
            if k.as_const() == Some(1.0) {
                return Ok(other.clone());
            }
            if k.as_const() == Some(-1.0) {
                return neg(other.clone());
            }
        }
    }
    // At most one side is peeled, so that the product keeps dimension d.
    let a = unbroadcast(a, b.dim());
    let b = if a.dim() == d { unbroadcast(b, d) } else { b };
    a.mul(b)
}

/// `IfElse(c, p, 0)` or `IfElse(c, 0, p)`: the adjoint that the IfElse rule sends to a branch,
/// zero where the branch was not taken. Returns the condition, p, and whether p is the first branch.
fn mask_of(e: &Expr) -> Option<(Expr, Expr, bool)> {
    match (e.op(), e.args()) {
        (Op::IfElse, [cond, p, z]) if z.is_zero() => Some((cond.clone(), p.clone(), true)),
        (Op::IfElse, [cond, z, p]) if z.is_zero() => Some((cond.clone(), p.clone(), false)),
        _ => None,
    }
}

/// `op(masked, other)` with the masks of `masked` kept outermost: `IfElse(c, op(p, other), 0)`.
///
/// A local derivative may be NaN or infinite where its branch was not taken (the derivative of
/// Sqrt at a negative number in `IfElse(x, Sqrt(x), -x)`); multiplied outside the mask, 0·NaN
/// would leak into the gradient, whereas the selection outside gives exactly 0 there, as the
/// derivative of the branch actually taken. Nested masks are peeled in a loop, not by recursion,
/// since a formula built by a loop may nest thousands of them.
fn inside_masks(masked: &Expr, other: &Expr, op: fn(Expr, Expr) -> Result<Expr>) -> Result<Option<Expr>> {
    let mut masks = Vec::new();
    let mut inner = masked.clone();
    while let Some((cond, p, first)) = mask_of(&inner) {
        masks.push((cond, first));
        inner = p;
    }
    if masks.is_empty() {
        return Ok(None);
    }
    let mut out = op(inner, other.clone())?;
    for (cond, first) in masks.into_iter().rev() {
        let branches = if first { vec![cond, out, c(0.0)] } else { vec![cond, c(0.0), out] };
        out = Expr::new(Op::IfElse, branches)?;
    }
    Ok(Some(out))
}

/// The scalar s of a `Zero(d) + s` built by [`broadcast`], when the other operand of an
/// elementwise product has dimension d and would broadcast s just the same.
fn unbroadcast(e: Expr, other_dim: usize) -> Expr {
    if let (Op::Binary(BinaryOp::Add), [z, s]) = (e.op(), e.args()) {
        if matches!(z.op(), Op::Zero(d) if *d == other_dim) && s.dim() == 1 {
            return s.clone();
        }
    }
    e
}

pub(super) fn div(a: Expr, b: Expr) -> Result<Expr> {
    let d = broadcast_dim(BinaryOp::Div, &a, &b)?;
    if a.is_zero() {
        return Expr::zero(d);
    }
    if let Some(quotient) = inside_masks(&a, &b, div)? {
        return Ok(quotient);
    }
    if b.as_const() == Some(1.0) && a.dim() == d {
        return Ok(a);
    }
    a.div(b)
}

/// `k * a` for a real constant k.
pub(super) fn scale(k: f64, a: Expr) -> Result<Expr> {
    mul(c(k), a)
}

/// `x^n`, with the exponents 0 and 1 folded away (0^0 is 1, as for `powi`).
pub(super) fn pow(x: Expr, n: i32) -> Result<Expr> {
    match n {
        0 => Ok(c(1.0)),
        1 => Ok(x),
        _ => x.pow(n),
    }
}

/// The 0/1 result of a comparison, with scalar broadcasting.
pub(super) fn cmp(op: BinaryOp, a: &Expr, b: &Expr) -> Result<Expr> {
    a.clone().binary(op, b.clone())
}

pub(super) fn sum(a: Expr) -> Result<Expr> {
    if a.dim() == 1 {
        return Ok(a);
    }
    if a.is_zero() {
        return Expr::zero(1);
    }
    a.sum()
}

/// A scalar repeated `d` times, written `Zero(d) + s` since the language has no "ones".
pub(super) fn broadcast(s: Expr, d: usize) -> Result<Expr> {
    if s.dim() == d {
        return Ok(s);
    }
    if s.dim() != 1 {
        return Err(internal(format!("cannot broadcast a vector of dimension {} to {d}", s.dim())));
    }
    if s.is_zero() {
        return Expr::zero(d);
    }
    Expr::zero(d)?.add(s)
}

/// An adjoint contribution brought to its operand's dimension: an operand that was broadcast
/// from a scalar receives the sum of the contributions of all the components it fed.
pub(super) fn fit(part: Expr, operand_dim: usize) -> Result<Expr> {
    if part.dim() == operand_dim {
        Ok(part)
    } else if operand_dim == 1 {
        sum(part)
    } else {
        Err(internal(format!("a contribution of dimension {} for an operand of dimension {operand_dim}", part.dim())))
    }
}

/// Component `m` of `x`; the whole of a scalar.
pub(super) fn elem(x: Expr, m: usize) -> Result<Expr> {
    if x.dim() == 1 && m == 0 {
        return Ok(x);
    }
    Expr::new(Op::Elem(m), vec![x])
}

/// The scalar `s` at position `index` of a zero vector of dimension `dim`.
pub(super) fn elem_t(s: Expr, index: usize, dim: usize) -> Result<Expr> {
    if dim == 1 && index == 0 {
        return Ok(s);
    }
    Expr::new(Op::ElemT { index, dim }, vec![s])
}

/// Components `start..start+len` of `x`; `x` itself when that is all of it.
pub(super) fn extract(x: Expr, start: usize, len: usize) -> Result<Expr> {
    if start == 0 && len == x.dim() {
        return Ok(x);
    }
    Expr::new(Op::Extract { start, len }, vec![x])
}

/// `x` placed at `start` in a zero vector of dimension `dim`; `x` itself when it fills it.
pub(super) fn extract_t(x: Expr, start: usize, dim: usize) -> Result<Expr> {
    if start == 0 && x.dim() == dim {
        return Ok(x);
    }
    Expr::new(Op::ExtractT { start, dim }, vec![x])
}

pub(super) fn binop(op: Op, a: Expr, b: Expr) -> Result<Expr> {
    Expr::new(op, vec![a, b])
}

/// The concatenation of `parts` in order, as a balanced tree so that no Concat chain is deep.
pub(super) fn concat_all(parts: &[Expr]) -> Result<Expr> {
    match parts {
        [] => Err(internal("an empty concatenation")),
        [one] => Ok(one.clone()),
        _ => {
            let mid = parts.len() / 2;
            concat_all(&parts[..mid])?.concat(concat_all(&parts[mid..])?)
        }
    }
}

/// The flat position, in a row-major tensor of `shape`, of the multi-index whose flat position
/// in a row-major tensor of `out_shape` is `flat`, where axis `i` of `out_shape` is axis
/// `perm[i]` of `shape`.
fn source_index(flat: usize, out_shape: &[usize], in_strides: &[usize], perm: &[usize]) -> usize {
    let mut rest = flat;
    let mut src = 0;
    for i in (0..out_shape.len()).rev() {
        src += (rest % out_shape[i]) * in_strides[perm[i]];
        rest /= out_shape[i];
    }
    src
}

/// The tensor `t` of row-major `shape` with its axes permuted: axis `i` of the result is axis
/// `perm[i]` of `t`. The language has no transpose, so this is a gather: the result is cut into
/// the longest runs that are contiguous in `t`, each an `Extract`, concatenated back together.
pub(super) fn permute_axes(t: Expr, shape: &[usize], perm: &[usize]) -> Result<Expr> {
    let mut seen = vec![false; shape.len()];
    for &p in perm {
        match seen.get_mut(p) {
            Some(s) if !*s => *s = true,
            _ => return Err(internal(format!("{perm:?} is not a permutation of the axes of {shape:?}"))),
        }
    }
    if perm.len() != shape.len() || shape.iter().product::<usize>() != t.dim() {
        return Err(internal(format!("shape {shape:?} does not describe a tensor of dimension {}", t.dim())));
    }
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(t);
    }
    let mut in_strides = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        in_strides[k] = in_strides[k + 1] * shape[k + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let src: Vec<usize> = (0..t.dim()).map(|o| source_index(o, &out_shape, &in_strides, perm)).collect();
    let mut pieces = Vec::new();
    let mut run_start = 0;
    for o in 1..=src.len() {
        if o == src.len() || src[o] != src[o - 1] + 1 {
            pieces.push(extract(t.clone(), src[run_start], o - run_start)?);
            run_start = o;
        }
    }
    concat_all(&pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Cat;
    use crate::reference::eval_point;

    #[test]
    fn folding_keeps_the_dimension() {
        let s = Expr::var(0, 1, Cat::I).unwrap();
        let t = Expr::var(1, 1, Cat::J).unwrap();
        let x = Expr::var(2, 3, Cat::I).unwrap();
        let (bs, bt) = (broadcast(s.clone(), 3).unwrap(), broadcast(t.clone(), 3).unwrap());
        assert_eq!(mul(bs.clone(), bt).unwrap().dim(), 3);
        assert_eq!(mul(bs.clone(), x.clone()).unwrap(), s.clone().mul(x.clone()).unwrap());
        assert_eq!(mul(s.clone(), bs.clone()).unwrap().dim(), 3);
        assert_eq!(mul(c(1.0), x.clone()).unwrap(), x);
        assert_eq!(mul(c(1.0), s.clone()).unwrap(), s);
        assert_eq!(mul(x.clone(), c(0.0)).unwrap(), Expr::zero(3).unwrap());
        assert_eq!(add(Expr::zero(3).unwrap(), s.clone()).unwrap().dim(), 3);
        assert_eq!(neg(neg(x.clone()).unwrap()).unwrap(), x);
    }

    #[test]
    fn permuting_axes_is_a_transpose() {
        let m = Expr::var(0, 6, Cat::P).unwrap();
        let t = permute_axes(m, &[2, 3], &[1, 0]).unwrap();
        let v = eval_point(&[t], &|_| vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(v[0], [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let cube = Expr::var(0, 12, Cat::P).unwrap();
        // Moving the first axis of a 2×3×2 tensor last leaves no two neighbours contiguous.
        let moved = permute_axes(cube.clone(), &[2, 3, 2], &[1, 2, 0]).unwrap();
        let v = eval_point(&[moved], &|_| (0..12).map(f64::from).collect());
        assert_eq!(v[0], [0.0, 6.0, 1.0, 7.0, 2.0, 8.0, 3.0, 9.0, 4.0, 10.0, 5.0, 11.0]);
        assert_eq!(permute_axes(cube.clone(), &[2, 3, 2], &[0, 1, 2]).unwrap(), cube);
        assert!(permute_axes(cube, &[2, 3, 2], &[0, 0, 2]).is_err());
    }
}
