//! The soft C-transform f_i = −ε log Σ_j exp(h_j − C(x_i, y_j)/ε), one log-sum-exp reduction over j.
//!
//! The formula is fixed per ground cost and dimension, H_j − SqDist(X_i, Y_j) or
//! H_j − Norm2(X_i − Y_j): ε never appears in it. The points are scaled instead (by 1/√(2ε)
//! for C = ‖x−y‖²/2, by 1/ε for C = ‖x−y‖), which costs O(N + M) per call and leaves the
//! per-pair work at one fused squared distance (or norm), one subtraction and the fold, with
//! one cached CPU program serving every temperature of the schedule.

use crate::error::{Error, Result};
use crate::expr::{Cat, Expr, Op};
use crate::reduction::{Axis, Reduction};
use crate::spec::{Options, Reduce, VarDecl};
use crate::tensor::Tensor;

/// The ground cost C(x, y) = ‖x − y‖ᵖ / p of GeomLoss, for p = 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundCost {
    /// p = 1: C(x, y) = ‖x − y‖.
    Distance,
    /// p = 2: C(x, y) = ‖x − y‖² / 2.
    HalfSquaredDistance,
}

impl GroundCost {
    /// The cost of exponent `p` (1 or 2).
    pub fn from_p(p: f64) -> Result<GroundCost> {
        if p == 1.0 {
            Ok(GroundCost::Distance)
        } else if p == 2.0 {
            Ok(GroundCost::HalfSquaredDistance)
        } else {
            Err(Error::invalid(
                "sinkhorn",
                format!("p = {p}: the ground cost ‖x−y‖ᵖ/p is available for p = 1 and p = 2"),
            ))
        }
    }

    pub fn p(self) -> f64 {
        match self {
            GroundCost::Distance => 1.0,
            GroundCost::HalfSquaredDistance => 2.0,
        }
    }

    /// The factor s such that C(s·x, s·y) written without constants equals C(x, y)/ε.
    fn point_scale(self, eps: f64) -> f64 {
        match self {
            GroundCost::Distance => 1.0 / eps,
            GroundCost::HalfSquaredDistance => 1.0 / (2.0 * eps).sqrt(),
        }
    }

    /// ‖x − y‖ or ‖x − y‖² as a formula.
    pub(crate) fn formula(self, x: Expr, y: Expr) -> Result<Expr> {
        match self {
            GroundCost::Distance => Expr::new(Op::Norm2, vec![x.sub(y)?]),
            GroundCost::HalfSquaredDistance => x.sqdist(y),
        }
    }
}

/// The soft C-transform for one ground cost and dimension, with the options its reductions run with.
pub(crate) struct Softmin {
    spec: Reduce,
    cost: GroundCost,
    opts: Options,
}

impl Softmin {
    pub fn new(cost: GroundCost, dim: usize, opts: &Options) -> Result<Softmin> {
        let spec = cloud_reduction(dim, "h", Reduction::LogSumExp, |x, y, h| h.sub(cost.formula(x, y)?))?;
        Ok(Softmin { spec, cost, opts: opts.clone() })
    }

    /// The points of a cloud scaled for temperature `eps` (differentiable: the final step
    /// passes points that require gradients).
    pub fn scaled(&self, points: &Tensor, eps: f64) -> Tensor {
        points * self.cost.point_scale(eps)
    }

    /// −ε log Σ_j exp(h_j − C(x_i, y_j)/ε) for points already `scaled` for this ε (N×1).
    pub fn apply(&self, eps: f64, xs: &Tensor, ys: &Tensor, h: &Tensor) -> Result<Tensor> {
        Ok(Tensor::lazy_reduce(&self.spec, &[xs, ys, h], &self.opts)? * -eps)
    }
}

/// The shape of every OT reduction: F(x_i, y_j, w_j) reduced over j, with the arguments
/// x = Vi(dim), y = Vj(dim) and a per-point scalar w = Vj(1) (named `w` in messages).
pub(crate) fn cloud_reduction(
    dim: usize,
    w: &str,
    reduction: Reduction,
    formula: impl FnOnce(Expr, Expr, Expr) -> Result<Expr>,
) -> Result<Reduce> {
    let decls: Vec<VarDecl> = [("x", dim, Cat::I), ("y", dim, Cat::J), (w, 1, Cat::J)]
        .iter()
        .enumerate()
        .map(|(index, &(name, dim, cat))| VarDecl { name: name.into(), index, dim, cat })
        .collect();
    let var = |k: usize| Expr::var(k, decls[k].dim, decls[k].cat);
    Reduce::with_vars(formula(var(0)?, var(1)?, var(2)?)?, None, reduction, Axis::J, &decls)
}
