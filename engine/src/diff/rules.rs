//! One derivative rule per operation: how the adjoint of a node flows to its operands.
//!
//! [`vjp`] is one exhaustive match over [`Op`], so adding an operation fails to compile until
//! its rule is written here. Each rule returns, for every operand, the vector-Jacobian product
//! (∂node/∂operand)ᵀ·g as a formula of the operand's dimension, or `None` when the node is
//! locally constant in that operand (almost everywhere). Where a function is not differentiable
//! on a set of measure zero, the rule picks the derivative of the branch `eval_op` takes there.

use super::build::{
    add, binop, broadcast, c, cmp, div, elem, elem_t, extract, extract_t, fit, internal, mul, neg, permute_axes, pow,
    scale, sub,
};
use crate::error::{Error, Result};
use crate::expr::{Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};

/// The contributions of `node`'s adjoint `g` (of the node's dimension) to each of its operands.
pub(super) fn vjp(node: &Expr, g: &Expr) -> Result<Vec<Option<Expr>>> {
    let a = node.args();
    let g = g.clone();
    Ok(match node.op() {
        Op::Var { .. } | Op::Const(_) | Op::IntCst(_) | Op::Zero(_) => vec![],
        Op::Unary(u) => vec![unary_rule(*u, node, &a[0], g)?],
        Op::Binary(b) => binary_rule(*b, node, &a[0], &a[1], g)?,
        Op::Pow(n) => vec![pow_rule(*n, &a[0], g)?],
        // Rounding is piecewise constant.
        Op::Round(_) => vec![None],
        Op::ClampInt(lo, hi) => {
            let [dx, _, _] = clamp_rule(&a[0], &Expr::int(*lo), &Expr::int(*hi), g)?;
            vec![Some(dx)]
        }
        Op::IfElse => {
            // The condition only selects, so it gets nothing; each branch gets the adjoint where it was chosen.
            let to_a = Expr::new(Op::IfElse, vec![a[0].clone(), g.clone(), c(0.0)])?;
            let to_b = Expr::new(Op::IfElse, vec![a[0].clone(), c(0.0), g])?;
            vec![None, Some(fit(to_a, a[1].dim())?), Some(fit(to_b, a[2].dim())?)]
        }
        Op::Clamp => clamp_rule(&a[0], &a[1], &a[2], g)?
            .into_iter()
            .zip(a)
            .map(|(part, operand)| fit(part, operand.dim()).map(Some))
            .collect::<Result<_>>()?,
        Op::Mod => {
            // x − m·⌊(x − o)/m⌋: the floor is piecewise constant, so x passes through, o gets
            // nothing, and m gets −⌊(x − o)/m⌋, recovered from the node as (x − node)/m since
            // the language has no floor.
            let (x, m) = (&a[0], &a[1]);
            let floor = div(sub(x.clone(), node.clone())?, m.clone())?;
            let to_m = neg(mul(g.clone(), floor)?)?;
            vec![Some(fit(g, x.dim())?), Some(fit(to_m, m.dim())?), None]
        }
        Op::SqNorm2 => vec![Some(mul(scale(2.0, g)?, a[0].clone())?)],
        // Normalize(0) = 0 makes the gradient of the norm 0 at the origin, a valid subgradient.
        Op::Norm2 => vec![Some(mul(g, Expr::new(Op::Normalize, vec![a[0].clone()])?)?)],
        Op::Normalize => {
            // n = x·r with r = 1/‖x‖: the Jacobian is r(I − n nᵀ), symmetric, and r = 0 at the
            // origin as in the evaluator.
            let r = a[0].clone().sqnorm2()?.unary(UnaryOp::Rsqrt)?;
            let along = mul(node.clone(), node.clone().scalprod(g.clone())?)?;
            vec![Some(mul(r, sub(g, along)?)?)]
        }
        Op::SqDist => {
            let to_a = mul(scale(2.0, g)?, sub(a[0].clone(), a[1].clone())?)?;
            vec![Some(to_a.clone()), Some(neg(to_a)?)]
        }
        Op::Scalprod => vec![Some(mul(g.clone(), a[1].clone())?), Some(mul(g, a[0].clone())?)],
        Op::WeightedSqNorm => {
            let (to_gamma, to_x) = weighted_rule(&a[0], a[1].clone(), g)?;
            vec![Some(to_gamma), Some(to_x)]
        }
        Op::WeightedSqDist => {
            let (to_gamma, to_d) = weighted_rule(&a[0], sub(a[1].clone(), a[2].clone())?, g)?;
            vec![Some(to_gamma), Some(to_d.clone()), Some(neg(to_d)?)]
        }
        Op::Sum => vec![Some(broadcast(g, a[0].dim())?)],
        Op::Max => vec![Some(extreme_rule(&a[0], Op::ArgMax, g)?)],
        Op::Min => vec![Some(extreme_rule(&a[0], Op::ArgMin, g)?)],
        // Indices and one-hot vectors are piecewise constant.
        Op::ArgMax | Op::ArgMin | Op::OneHot(_) => vec![None],
        Op::Elem(m) => vec![Some(elem_t(g, *m, a[0].dim())?)],
        Op::ElemT { index, .. } => vec![Some(elem(g, *index)?)],
        Op::Extract { start, .. } => vec![Some(extract_t(g, *start, a[0].dim())?)],
        Op::ExtractT { start, .. } => vec![Some(extract(g, *start, a[0].dim())?)],
        Op::Concat => {
            let n = a[0].dim();
            vec![Some(extract(g.clone(), 0, n)?), Some(extract(g, n, a[1].dim())?)]
        }
        Op::MatVecMult => {
            // y = A v: ∂A = g vᵀ (row-major, g's index slowest), ∂v = Aᵀ g.
            vec![Some(binop(Op::TensorProd, g.clone(), a[1].clone())?), Some(binop(Op::VecMatMult, g, a[0].clone())?)]
        }
        Op::VecMatMult => {
            // y = vᵀA: ∂v = A g, ∂A = v gᵀ.
            vec![Some(binop(Op::MatVecMult, a[1].clone(), g.clone())?), Some(binop(Op::TensorProd, a[0].clone(), g)?)]
        }
        Op::TensorProd => {
            // g read as the da×db matrix G: ∂a = G b, ∂b = Gᵀ a.
            vec![Some(binop(Op::MatVecMult, g.clone(), a[1].clone())?), Some(binop(Op::VecMatMult, a[0].clone(), g)?)]
        }
        Op::Kron { a: sa, b: sb } => kron_rule(&a[0], &a[1], sa, sb, g)?,
        Op::TensorDot { a: sa, b: sb, ca, cb } => tensordot_rule(&a[0], &a[1], sa, sb, ca, cb, g)?,
    })
}

/// `g * local`, the shape of most elementwise rules.
fn times(g: Expr, local: Result<Expr>) -> Result<Option<Expr>> {
    Ok(Some(mul(g, local?)?))
}

/// 1/x where x ≠ 0 and 0 at 0, written Sign(x)·Rsqrt(x²) with the evaluator's Rsqrt(0) = 0.
fn inv_or_zero(x: &Expr) -> Result<Expr> {
    mul(x.clone().unary(UnaryOp::Sign)?, x.clone().square()?.unary(UnaryOp::Rsqrt)?)
}

/// 1/(1 + s·x²): with s = −1 under a square root, the derivative of asin; with s = 1, of atan.
/// Inv(Sqrt) rather than Rsqrt keeps the infinite slope at ±1 infinite.
fn inv_one_plus_square(x: &Expr, s: f64, root: bool) -> Result<Expr> {
    let base = add(c(1.0), scale(s, x.clone().square()?)?)?;
    let base = if root { base.sqrt()? } else { base };
    base.unary(UnaryOp::Inv)
}

/// The rule of an elementwise unary function: g times its derivative at x (`n` is the node f(x)).
fn unary_rule(u: UnaryOp, n: &Expr, x: &Expr, g: Expr) -> Result<Option<Expr>> {
    let x = x.clone();
    match u {
        UnaryOp::Minus => Ok(Some(neg(g)?)),
        // d(1/x) = −(1/x)².
        UnaryOp::Inv => times(g, neg(n.clone().square()?)),
        UnaryOp::Exp => times(g, Ok(n.clone())),
        UnaryOp::Log => Ok(Some(div(g, x)?)),
        UnaryOp::XLogX => times(g, add(x.log()?, c(1.0))),
        UnaryOp::Sin => times(g, x.unary(UnaryOp::Cos)),
        UnaryOp::Cos => times(g, neg(x.unary(UnaryOp::Sin)?)),
        // (x cos x − sin x)/x² = (cos x − sinc x)/x, whose limit at 0 is 0: the division is
        // written so that it gives 0 there instead of NaN.
        UnaryOp::SinXDivX => times(g, mul(sub(x.clone().unary(UnaryOp::Cos)?, n.clone())?, inv_or_zero(&x)?)),
        UnaryOp::Asin => times(g, inv_one_plus_square(&x, -1.0, true)),
        UnaryOp::Acos => times(g, neg(inv_one_plus_square(&x, -1.0, true)?)),
        UnaryOp::Atan => times(g, inv_one_plus_square(&x, 1.0, false)),
        UnaryOp::Square => times(g, scale(2.0, x)),
        // ½·Rsqrt(x), which is 0 at 0 like KeOps: Norm2 and Sqrt-based kernels then have a
        // zero (sub)gradient at the origin instead of an infinity that turns into NaN downstream.
        UnaryOp::Sqrt => times(g, scale(0.5, x.unary(UnaryOp::Rsqrt)?)),
        // d(x^−½) = −½·x^−3/2 = −½·Rsqrt(x)³, also 0 at 0.
        UnaryOp::Rsqrt => times(g, scale(-0.5, pow(n.clone(), 3)?)),
        UnaryOp::Abs => times(g, x.unary(UnaryOp::Sign)),
        UnaryOp::Sign | UnaryOp::Step | UnaryOp::Floor => Ok(None),
        // Step(0) = 1 picks the right derivative at the kink.
        UnaryOp::ReLU => times(g, x.unary(UnaryOp::Step)),
    }
}

/// The rule of an elementwise binary function, each contribution summed if its operand was broadcast.
fn binary_rule(op: BinaryOp, n: &Expr, a: &Expr, b: &Expr, g: Expr) -> Result<Vec<Option<Expr>>> {
    let (a, b) = (a.clone(), b.clone());
    let (to_a, to_b) = match op {
        BinaryOp::Add => (Some(g.clone()), Some(g)),
        BinaryOp::Sub => (Some(g.clone()), Some(neg(g)?)),
        BinaryOp::Mul => (Some(mul(g.clone(), b)?), Some(mul(g, a)?)),
        // a/b: ∂b = −g·a/b² = −(g·n)/b.
        BinaryOp::Div => (Some(div(g.clone(), b.clone())?), Some(neg(div(mul(g, n.clone())?, b)?)?)),
        BinaryOp::Powf => {
            // a^b: ∂a = b·a^(b−1), ∂b = log(a)·a^b.
            let da = mul(b.clone(), a.clone().binary(BinaryOp::Powf, sub(b, c(1.0))?)?)?;
            (Some(mul(g.clone(), da)?), Some(mul(g, mul(a.log()?, n.clone())?)?))
        }
        BinaryOp::Atan2 => {
            // atan2(a, b) is the angle of (b, a): ∂a = b/(a²+b²), ∂b = −a/(a²+b²).
            let r2 = add(a.clone().square()?, b.clone().square()?)?;
            (Some(div(mul(g.clone(), b)?, r2.clone())?), Some(neg(div(mul(g, a)?, r2)?)?))
        }
        BinaryOp::Less
        | BinaryOp::LessEq
        | BinaryOp::Greater
        | BinaryOp::GreaterEq
        | BinaryOp::Equal
        | BinaryOp::NotEqual => (None, None),
    };
    let (da, db) = (n.arg(0).dim(), n.arg(1).dim());
    Ok(vec![to_a.map(|p| fit(p, da)).transpose()?, to_b.map(|p| fit(p, db)).transpose()?])
}

/// n·x^(n−1)·g; Pow(x, 0) is constant.
fn pow_rule(n: i32, x: &Expr, g: Expr) -> Result<Option<Expr>> {
    if n == 0 {
        return Ok(None);
    }
    let too_small = || Error::invalid("Pow", format!("exponent {n} is too small to differentiate"));
    let lower = n.checked_sub(1).ok_or_else(too_small)?;
    times(g, scale(n as f64, pow(x.clone(), lower)?))
}

/// The unfitted contributions of Clamp(x, lo, hi) = lo if x < lo, else hi if x > hi, else x
/// (the evaluator's order of tests): x passes where neither bound applies, each bound where it is the result.
fn clamp_rule(x: &Expr, lo: &Expr, hi: &Expr, g: Expr) -> Result<[Expr; 3]> {
    let above_lo = cmp(BinaryOp::GreaterEq, x, lo)?;
    let to_x = mul(g.clone(), mul(above_lo.clone(), cmp(BinaryOp::LessEq, x, hi)?)?)?;
    let to_lo = mul(g.clone(), cmp(BinaryOp::Less, x, lo)?)?;
    let to_hi = mul(g, mul(above_lo, cmp(BinaryOp::Greater, x, hi)?)?)?;
    Ok([to_x, to_lo, to_hi])
}

/// The contributions of WeightedSqNorm(γ, d) to γ and to d, with the evaluator's reading of γ
/// (tested in this order: a scalar, a diagonal of dimension D, a full D×D matrix Γ row by row).
fn weighted_rule(gamma: &Expr, d: Expr, g: Expr) -> Result<(Expr, Expr)> {
    let (k, n) = (gamma.dim(), d.dim());
    if k == 1 {
        // γ‖d‖²: ∂γ = ‖d‖², ∂d = 2γd.
        Ok((mul(g.clone(), d.clone().sqnorm2()?)?, mul(scale(2.0, mul(g, gamma.clone())?)?, d)?))
    } else if k == n {
        // Σ γₖdₖ²: ∂γ = d², ∂d = 2γ∘d.
        Ok((mul(g.clone(), d.clone().square()?)?, mul(scale(2.0, g)?, mul(gamma.clone(), d)?)?))
    } else {
        // dᵀΓd: ∂Γ = d dᵀ, ∂d = (Γ + Γᵀ) d, Γ not being assumed symmetric.
        let to_gamma = mul(g.clone(), binop(Op::TensorProd, d.clone(), d.clone())?)?;
        let sym = add(binop(Op::MatVecMult, gamma.clone(), d.clone())?, binop(Op::VecMatMult, d, gamma.clone())?)?;
        Ok((to_gamma, mul(g, sym)?))
    }
}

/// Max and Min pass the adjoint to the component they selected (the first one on ties, as the
/// evaluator's ArgMax/ArgMin do): g·OneHot(ArgMax(x), D).
fn extreme_rule(x: &Expr, arg: Op, g: Expr) -> Result<Expr> {
    if x.dim() == 1 {
        return Ok(g);
    }
    let position = Expr::new(arg, vec![x.clone()])?;
    mul(g, Expr::new(Op::OneHot(x.dim()), vec![position])?)
}

/// Kron of shapes a and b: the output, read as a tensor of the interleaved shape
/// (a₀, b₀, a₁, b₁, …), is the outer product A[i]·B[j] with its axes interleaved, in the same
/// memory order. So ∂A contracts g's b-axes with B, ∂B contracts g's a-axes with A, and the
/// kept axes come out in the operand's own order: no permutation is needed.
fn kron_rule(ea: &Expr, eb: &Expr, a: &[usize], b: &[usize], g: Expr) -> Result<Vec<Option<Expr>>> {
    let interleaved: Vec<usize> = a.iter().zip(b).flat_map(|(&x, &y)| [x, y]).collect();
    let all: Vec<usize> = (0..a.len()).collect();
    let axes = |parity: usize| -> Vec<usize> { (0..a.len()).map(|k| 2 * k + parity).collect() };
    let part = |other: &Expr, shape: &[usize], parity: usize| {
        let op = Op::TensorDot { a: interleaved.clone(), b: shape.to_vec(), ca: axes(parity), cb: all.clone() };
        binop(op, g.clone(), other.clone())
    };
    Ok(vec![Some(part(eb, b, 1)?), Some(part(ea, a, 0)?)])
}

/// One operand of a TensorDot seen from the rule: its formula, shape, free axes (in order, as
/// they appear in the output) and contracted axes (paired in order with the other operand's).
struct Operand<'a> {
    e: &'a Expr,
    shape: &'a [usize],
    free: Vec<usize>,
    contracted: &'a [usize],
    /// Where this operand's free axes start among the output's axes.
    offset: usize,
}

/// One factor of a contraction built by the rule: a formula of row-major `shape`, the axes it
/// contracts, and for each axis it keeps, the axis of the differentiated operand it becomes.
struct Factor<'a> {
    e: &'a Expr,
    shape: Vec<usize>,
    contract: Vec<usize>,
    target: Vec<Option<usize>>,
}

impl Factor<'_> {
    fn kept(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        (0..self.shape.len()).filter(|k| !self.contract.contains(k)).map(|k| self.target[k])
    }
}

/// The TensorDot of two factors, permuted into the row-major layout `out_shape` of the operand
/// being differentiated. Of the two operand orders, one that needs no permutation is preferred.
fn contract_into(x: Factor, y: Factor, out_shape: &[usize]) -> Result<Expr> {
    let order = |l: &Factor, r: &Factor| -> Result<Vec<usize>> {
        l.kept().chain(r.kept()).map(|t| t.ok_or_else(|| internal("a kept axis has no target"))).collect()
    };
    let is_identity = |o: &[usize]| o.iter().enumerate().all(|(i, &t)| i == t);
    let (xy, yx) = (order(&x, &y)?, order(&y, &x)?);
    let (l, r, axes) = if is_identity(&xy) || !is_identity(&yx) { (x, y, xy) } else { (y, x, yx) };
    let op = Op::TensorDot { a: l.shape, b: r.shape, ca: l.contract, cb: r.contract };
    let product = binop(op, l.e.clone(), r.e.clone())?;
    // Axis j of the product is the operand's axis axes[j]; the operand's axis i is the
    // product's axis at the position of i in `axes`.
    let shape: Vec<usize> = axes.iter().map(|&t| out_shape[t]).collect();
    let perm = (0..axes.len())
        .map(|i| axes.iter().position(|&t| t == i).ok_or_else(|| internal("an axis is lost in a contraction")))
        .collect::<Result<Vec<_>>>()?;
    permute_axes(product, &shape, &perm)
}

/// The contribution of TensorDot's adjoint to `own`: g's axes of the other operand's free axes
/// are contracted with those axes of the other operand; what remains of g is own's free axes
/// and what remains of the other operand is its contracted axes, each becoming the own axis it
/// was paired with.
fn tensordot_part(g: &Expr, g_shape: &[usize], own: &Operand, other: &Operand) -> Result<Expr> {
    let mut g_target = vec![None; g_shape.len()];
    for (q, &axis) in own.free.iter().enumerate() {
        g_target[own.offset + q] = Some(axis);
    }
    let mut other_target = vec![None; other.shape.len()];
    for (&theirs, &mine) in other.contracted.iter().zip(own.contracted) {
        other_target[theirs] = Some(mine);
    }
    let gf = Factor {
        e: g,
        shape: g_shape.to_vec(),
        contract: (other.offset..other.offset + other.free.len()).collect(),
        target: g_target,
    };
    let of = Factor { e: other.e, shape: other.shape.to_vec(), contract: other.free.clone(), target: other_target };
    contract_into(gf, of, own.shape)
}

fn tensordot_rule(
    ea: &Expr,
    eb: &Expr,
    a: &[usize],
    b: &[usize],
    ca: &[usize],
    cb: &[usize],
    g: Expr,
) -> Result<Vec<Option<Expr>>> {
    let free = |shape: &[usize], contracted: &[usize]| -> Vec<usize> {
        (0..shape.len()).filter(|k| !contracted.contains(k)).collect()
    };
    let (fa, fb) = (free(a, ca), free(b, cb));
    let left = Operand { e: ea, shape: a, offset: 0, free: fa, contracted: ca };
    let right = Operand { e: eb, shape: b, offset: left.free.len(), free: fb, contracted: cb };
    let g_shape: Vec<usize> = left.free.iter().map(|&k| a[k]).chain(right.free.iter().map(|&k| b[k])).collect();
    if g_shape.iter().product::<usize>() != g.dim() {
        return Err(internal("the adjoint of a TensorDot does not have the output's shape"));
    }
    Ok(vec![Some(tensordot_part(&g, &g_shape, &left, &right)?), Some(tensordot_part(&g, &g_shape, &right, &left)?)])
}
