//! Kernel norms between measures (GeomLoss's "energy", "gaussian" and "laplacian" losses): ½‖a − b‖²_k.
//!
//! ½‖a − b‖²_k = ½⟨a, K_xx a⟩ + ½⟨b, K_yy b⟩ − ⟨a, K_xy b⟩, three sums over pairs, with
//! k(x, y) = −‖x − y‖ (energy), exp(−‖x − y‖²/2σ²) (gaussian), exp(−‖x − y‖/σ) (laplacian), σ = blur.
//! The points are scaled by 1/σ (laplacian) or 1/(σ√2) (gaussian) so that one cached program
//! serves every blur.
//!
//! The symmetric terms use GeomLoss's trick: s = ⟨a, K(x, x̄) ā⟩ with x̄, ā detached has the
//! gradient of ½⟨a, K(x, x) a⟩ (k is symmetric, so both slots contribute alike), and s − ½s̄
//! has its value. One gradient reduction per cloud instead of two. Gradients are exact to
//! first order; like GeomLoss's, they are not meant to be differentiated again.

use super::measure;
use super::softmin::{cloud_reduction, GroundCost};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::reduction::Reduction;
use crate::spec::Options;
use crate::tensor::Tensor;

/// The kernels of GeomLoss's kernel losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelLoss {
    /// k(x, y) = −‖x − y‖: the energy distance (blur is not used).
    Energy,
    /// k(x, y) = exp(−‖x − y‖²/2σ²).
    Gaussian,
    /// k(x, y) = exp(−‖x − y‖/σ).
    Laplacian,
}

const NAMES: [(&str, KernelLoss); 3] =
    [("energy", KernelLoss::Energy), ("gaussian", KernelLoss::Gaussian), ("laplacian", KernelLoss::Laplacian)];

impl KernelLoss {
    /// `energy`, `gaussian` or `laplacian`.
    pub fn from_name(name: &str) -> Result<KernelLoss> {
        NAMES.iter().find(|(n, _)| *n == name).map(|&(_, k)| k).ok_or_else(|| {
            Error::invalid(
                "kernel_loss",
                format!("unknown kernel loss `{name}`: the kernel losses are energy, gaussian and laplacian"),
            )
        })
    }

    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }

    /// k(x, y) · b_j as a formula of scaled points x, y and the weight b.
    fn formula(self, x: Expr, y: Expr, b: Expr) -> Result<Expr> {
        let k = match self {
            KernelLoss::Energy => GroundCost::Distance.formula(x, y)?.neg()?,
            KernelLoss::Gaussian => GroundCost::HalfSquaredDistance.formula(x, y)?.neg()?.exp()?,
            KernelLoss::Laplacian => GroundCost::Distance.formula(x, y)?.neg()?.exp()?,
        };
        k.mul(b)
    }

    /// The factor applied to the points so that the formula has no blur in it.
    fn point_scale(self, blur: f64) -> f64 {
        match self {
            KernelLoss::Energy => 1.0,
            KernelLoss::Gaussian => 1.0 / (blur * std::f64::consts::SQRT_2),
            KernelLoss::Laplacian => 1.0 / blur,
        }
    }
}

/// ½‖a − b‖²_k between Σ a_i δ_{x_i} and Σ b_j δ_{y_j} as a 0-D tensor, differentiable with
/// respect to weights and points: GeomLoss's `SamplesLoss(kind, blur=blur)(a, x, b, y)`.
/// `blur` (> 0) is σ; the energy kernel does not use it.
pub fn kernel_loss(
    kind: KernelLoss,
    a: &Tensor,
    x: &Tensor,
    b: &Tensor,
    y: &Tensor,
    blur: f64,
    opts: &Options,
) -> Result<Tensor> {
    if !(blur.is_finite() && blur > 0.0) {
        return Err(Error::invalid(kind.name(), format!("blur = {blur}: it must be a positive number")));
    }
    let (ma, mb) = measure::pair(kind.name(), a, x, b, y)?;
    let spec = cloud_reduction(ma.dim(), "b", Reduction::Sum, |x, y, b| kind.formula(x, y, b))?;
    let s = kind.point_scale(blur);
    let (xs, ys) = (&ma.points * s, &mb.points * s);
    let (a, b) = (&ma.weights, &mb.weights);
    let apply = |p: &Tensor, q: &Tensor, w: &Tensor| Tensor::lazy_reduce(&spec, &[p, q, w], opts);
    let scal = |w: &Tensor, t: Tensor| -> Result<Tensor> { Ok(w.mul(&t)?.sum_all()) };
    // ½⟨w, K w⟩ with the gradient of the symmetric form, through s − ½·detach(s).
    let half_norm = |p: &Tensor, w: &Tensor| -> Result<Tensor> {
        let s = scal(w, apply(p, &p.detach(), &w.detach())?)?;
        s.sub(&(s.detach() * 0.5))
    };
    half_norm(&xs, a)?.add(&half_norm(&ys, b)?)?.sub(&scal(a, apply(&xs, &ys, b)?)?)
}
