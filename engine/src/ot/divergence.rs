//! The Sinkhorn divergence as a number: the dual value assembled from the extrapolated potentials (GeomLoss's `sinkhorn_cost`).
//!
//! Balanced, debiased: S_ε(a, b) = ⟨a, f − f_aa⟩ + ⟨b, g − g_bb⟩, which is
//! OT_ε(a, b) − ½ OT_ε(a, a) − ½ OT_ε(b, b) at convergence. Raw: OT_ε(a, b) = ⟨a, f⟩ + ⟨b, g⟩.
//! Unbalanced (ρ = reachᵖ), each potential φ enters through ρ(1 − e^{−φ/ρ}), scaled by
//! (ρ + ε/2) as in Séjourné et al., "Sinkhorn divergences for unbalanced optimal transport"
//! (Proposition 12): debiased ⟨a, (ρ+ε/2)(e^{−f_aa/ρ} − e^{−f/ρ})⟩ + ⟨b, (ρ+ε/2)(e^{−g_bb/ρ} − e^{−g/ρ})⟩,
//! raw ⟨a, (ρ+ε/2)(1 − e^{−f/ρ})⟩ + ⟨b, (ρ+ε/2)(1 − e^{−g/ρ})⟩.
//!
//! The weights enter only through these scalar products (the potentials were computed from
//! detached log-weights), so the gradient with respect to a is the bracket next to a.

use super::sinkhorn::{solve, Potentials, SinkhornOptions};
use crate::error::Result;
use crate::tensor::Tensor;

/// The Sinkhorn divergence S_ε (or, with `debias: false`, the entropic cost OT_ε) between
/// Σ a_i δ_{x_i} and Σ b_j δ_{y_j}, as a 0-D tensor differentiable with respect to the weights
/// and the points: GeomLoss's `SamplesLoss("sinkhorn", p, blur, reach, scaling, debias)(a, x, b, y)`.
pub fn sinkhorn_divergence(a: &Tensor, x: &Tensor, b: &Tensor, y: &Tensor, opts: &SinkhornOptions) -> Result<Tensor> {
    let (ma, mb, p) = solve(a, x, b, y, opts)?;
    let (a, b) = (&ma.weights, &mb.weights);
    let scal = |w: &Tensor, t: Tensor| -> Result<Tensor> { Ok(w.mul(&t)?.sum_all()) };
    let (f_side, g_side) = match p.rho {
        None => match (&p.f_aa, &p.g_bb) {
            (Some(f_aa), Some(g_bb)) => (p.f.sub(f_aa)?, p.g.sub(g_bb)?),
            _ => (p.f.clone(), p.g.clone()),
        },
        Some(rho) => (unbalanced(&p, &p.f, p.f_aa.as_ref(), rho)?, unbalanced(&p, &p.g, p.g_bb.as_ref(), rho)?),
    };
    scal(a, f_side)?.add(&scal(b, g_side)?)
}

/// (ρ + ε/2)(e^{−self/ρ} − e^{−φ/ρ}), where the self term is 1 without debiasing.
fn unbalanced(p: &Potentials, phi: &Tensor, own: Option<&Tensor>, rho: f64) -> Result<Tensor> {
    let decay = |t: &Tensor| (t * (-1.0 / rho)).exp();
    let own = match own {
        Some(t) => decay(t),
        None => Tensor::scalar(1.0, phi.dtype()),
    };
    Ok(own.sub(&decay(phi))? * (rho + p.eps / 2.0))
}
