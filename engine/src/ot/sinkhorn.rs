//! The symmetric Sinkhorn loop with ε-scaling (GeomLoss's `sinkhorn_loop`), and its dual potentials.
//!
//! Four dual vectors are iterated: f_ba on the x_i and g_ab on the y_j for OT_ε(a, b), and,
//! when debiased, f_aa and g_bb for the symmetric problems OT_ε(a, a) and OT_ε(b, b). Each
//! iteration updates all of them from the previous ones at once and averages old and new
//! ("symmetric" updates, which converge where alternate updates oscillate), while ε follows
//! the schedule of `schedule.rs`. The loop runs without recording; a last update, the
//! "extrapolation", is then made with the converged potentials detached and the points on
//! the tape, so that gradients are those of the envelope theorem and cost two reductions per
//! potential rather than a backward pass through the iterations.

use super::measure::{self, Measure};
use super::schedule::{dampening, diameter, epsilon_schedule};
use super::softmin::{GroundCost, Softmin};
use crate::error::{Error, Result};
use crate::spec::Options;
use crate::tensor::{no_grad, Tensor};

const OP: &str = "sinkhorn";

/// The parameters of GeomLoss's `SamplesLoss("sinkhorn", ...)`; the defaults are its defaults.
#[derive(Debug, Clone)]
pub struct SinkhornOptions {
    /// Exponent of the ground cost C(x, y) = ‖x − y‖ᵖ/p: 1 or 2.
    pub p: f64,
    /// The final temperature is ε = blurᵖ (> 0).
    pub blur: f64,
    /// Ratio between successive blur radii of the schedule, in (0, 1).
    pub scaling: f64,
    /// `Some(r)`: unbalanced transport, the marginals penalised by ρ·KL with ρ = rᵖ (> 0).
    pub reach: Option<f64>,
    /// Debiased divergence S_ε (true) or raw entropic cost OT_ε (false).
    pub debias: bool,
    /// The first radius of the schedule; `None` takes the diagonal of the clouds' bounding box.
    pub diameter: Option<f64>,
    /// How the reductions run (backend, accumulation, cancel flag).
    pub reduce: Options,
}

impl Default for SinkhornOptions {
    fn default() -> Self {
        SinkhornOptions {
            p: 2.0,
            blur: 0.05,
            scaling: 0.5,
            reach: None,
            debias: true,
            diameter: None,
            reduce: Options::default(),
        }
    }
}

impl SinkhornOptions {
    /// Checks every parameter and returns the ground cost.
    pub fn check(&self) -> Result<GroundCost> {
        let cost = GroundCost::from_p(self.p)?;
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(OP, format!("{name} = {v}: it must be a positive number")))
            }
        };
        positive("blur", self.blur)?;
        if !(self.scaling > 0.0 && self.scaling < 1.0) {
            return Err(Error::invalid(
                OP,
                format!("scaling = {}: it must lie strictly between 0 and 1", self.scaling),
            ));
        }
        if let Some(r) = self.reach {
            positive("reach", r)?;
        }
        if let Some(d) = self.diameter {
            positive("diameter", d)?;
        }
        Ok(cost)
    }
}

/// The dual potentials at the final temperature, after the extrapolation step: differentiable
/// with respect to the points (not through the loop, see the module documentation).
///
/// Each is supported by one cloud and shaped like that cloud's weights. GeomLoss's
/// `potentials=True` returns (f − f_aa, g − g_bb) when debiased and (f, g) otherwise.
#[derive(Clone)]
pub struct Potentials {
    /// f_i, on the x_i, for OT_ε(a, b) (GeomLoss's f_ba).
    pub f: Tensor,
    /// g_j, on the y_j, for OT_ε(a, b) (g_ab).
    pub g: Tensor,
    /// On the x_i, for OT_ε(a, a): present when debiased.
    pub f_aa: Option<Tensor>,
    /// On the y_j, for OT_ε(b, b): present when debiased.
    pub g_bb: Option<Tensor>,
    /// The final temperature ε = blurᵖ.
    pub eps: f64,
    /// The marginal penalty ρ = reachᵖ of unbalanced transport.
    pub rho: Option<f64>,
}

/// The dual potentials of the Sinkhorn problem between Σ a_i δ_{x_i} and Σ b_j δ_{y_j}.
///
/// `a` (\[N\] or \[N, 1\]) and `b` are nonnegative weights, `x` (N×D) and `y` (M×D) the points.
pub fn sinkhorn(a: &Tensor, x: &Tensor, b: &Tensor, y: &Tensor, opts: &SinkhornOptions) -> Result<Potentials> {
    let (ma, mb, p) = solve(a, x, b, y, opts)?;
    let each = |m: &Measure, t: Option<Tensor>| t.map(|t| m.like_weights(&t)).transpose();
    Ok(Potentials {
        f: ma.like_weights(&p.f)?,
        g: mb.like_weights(&p.g)?,
        f_aa: each(&ma, p.f_aa)?,
        g_bb: each(&mb, p.g_bb)?,
        eps: p.eps,
        rho: p.rho,
    })
}

/// The checked measures and their potentials as N×1 and M×1 columns.
pub(crate) fn solve(
    a: &Tensor,
    x: &Tensor,
    b: &Tensor,
    y: &Tensor,
    opts: &SinkhornOptions,
) -> Result<(Measure, Measure, Potentials)> {
    let cost = opts.check()?;
    let (ma, mb) = measure::pair(OP, a, x, b, y)?;
    ma.check_mass(OP, "a")?;
    mb.check_mass(OP, "b")?;
    let diameter = match opts.diameter {
        Some(d) => d,
        // Clouds reduced to one common point have no extent: start at the blur itself.
        None => Some(diameter(&ma.points, &mb.points)?).filter(|&d| d > 0.0).unwrap_or(opts.blur),
    };
    let run = Run {
        softmin: Softmin::new(cost, ma.dim(), &opts.reduce)?,
        log_a: ma.log_weights()?,
        log_b: mb.log_weights()?,
        schedule: epsilon_schedule(cost.p(), diameter, opts.blur, opts.scaling)?,
        rho: opts.reach.map(|r| r.powf(cost.p())),
        debias: opts.debias,
        progress: opts.reduce.progress.clone(),
    };
    let dual = no_grad(|| run.anneal(&ma, &mb))?;
    let potentials = run.extrapolate(&ma, &mb, &dual)?;
    Ok((ma, mb, potentials))
}

/// Everything the loop needs besides the measures.
struct Run {
    softmin: Softmin,
    log_a: Tensor,
    log_b: Tensor,
    schedule: Vec<f64>,
    rho: Option<f64>,
    debias: bool,
    progress: Option<crate::progress::ProgressHook>,
}

/// The four potentials being iterated (the symmetric ones only when debiased).
struct Dual {
    f_ba: Tensor,
    g_ab: Tensor,
    f_aa: Option<Tensor>,
    g_bb: Option<Tensor>,
}

impl Run {
    /// λ·softmin over the points `ys` (with log-weights `log_w` and potential `pot`, both
    /// detached) seen from the points `xs`, at temperature `eps`; `xs` and `ys` are scaled for it.
    fn update(&self, eps: f64, xs: &Tensor, ys: &Tensor, log_w: &Tensor, pot: Option<&Tensor>) -> Result<Tensor> {
        let h = match pot {
            Some(pot) => no_grad(|| log_w.add(&(pot / eps)))?,
            None => log_w.clone(),
        };
        Ok(self.softmin.apply(eps, xs, ys, &h)? * dampening(eps, self.rho))
    }

    /// The ε-scaling descent, from a first update with zero potentials (at ε = diameterᵖ the
    /// softmin is nearly a convolution with the cost: a decent start).
    fn anneal(&self, ma: &Measure, mb: &Measure) -> Result<Dual> {
        let sm = &self.softmin;
        let eps = self.schedule[0];
        let (xs, ys) = (sm.scaled(&ma.points, eps), sm.scaled(&mb.points, eps));
        let symmetric =
            |xs: &Tensor, log: &Tensor| self.debias.then(|| self.update(eps, xs, xs, log, None)).transpose();
        let mut d = Dual {
            f_ba: self.update(eps, &xs, &ys, &self.log_b, None)?,
            g_ab: self.update(eps, &ys, &xs, &self.log_a, None)?,
            f_aa: symmetric(&xs, &self.log_a)?,
            g_bb: symmetric(&ys, &self.log_b)?,
        };
        let average = |old: &Tensor, new: Tensor| -> Result<Tensor> { Ok(old.add(&new)? * 0.5) };
        let progress = crate::progress::Reporter::new(self.progress.as_ref(), "sinkhorn", self.schedule.len() as u64);
        let result = self.descend(ma, mb, &mut d, &average, &progress);
        progress.finish();
        result.map(|()| d)
    }

    /// The loop over the schedule, one ε step at a time, reported as it goes.
    fn descend(
        &self,
        ma: &Measure,
        mb: &Measure,
        d: &mut Dual,
        average: &dyn Fn(&Tensor, Tensor) -> Result<Tensor>,
        progress: &crate::progress::Reporter,
    ) -> Result<()> {
        let sm = &self.softmin;
        for &eps in &self.schedule {
            progress.set_detail(format!("ε = {eps:.3e}"));
            let (xs, ys) = (sm.scaled(&ma.points, eps), sm.scaled(&mb.points, eps));
            // Both cross updates read the previous potentials: they are computed before either is replaced.
            let f_ba = self.update(eps, &xs, &ys, &self.log_b, Some(&d.g_ab))?;
            let g_ab = self.update(eps, &ys, &xs, &self.log_a, Some(&d.f_ba))?;
            d.f_ba = average(&d.f_ba, f_ba)?;
            d.g_ab = average(&d.g_ab, g_ab)?;
            if let (Some(f_aa), Some(g_bb)) = (&d.f_aa, &d.g_bb) {
                let f_new = average(f_aa, self.update(eps, &xs, &xs, &self.log_a, Some(f_aa))?)?;
                let g_new = average(g_bb, self.update(eps, &ys, &ys, &self.log_b, Some(g_bb))?)?;
                (d.f_aa, d.g_bb) = (Some(f_new), Some(g_new));
            }
            progress.advance(1);
        }
        Ok(())
    }

    /// One more update at the final temperature, recorded: the potential on x_i is a
    /// reduction of the points x (on the tape) against the other side's points, log-weights
    /// and potential, all detached. The symmetric problems see x on the tape only on the
    /// i side, which is GeomLoss's convention: it yields ½ of ∇ OT_ε(a, a), the share that
    /// S_ε = OT_ε(a, b) − ½ OT_ε(a, a) − ½ OT_ε(b, b) needs.
    fn extrapolate(&self, ma: &Measure, mb: &Measure, d: &Dual) -> Result<Potentials> {
        let sm = &self.softmin;
        let eps = *self.schedule.last().ok_or_else(|| Error::invalid(OP, "internal error: empty schedule"))?;
        let (xs, ys) = (sm.scaled(&ma.points, eps), sm.scaled(&mb.points, eps));
        let (xd, yd) = (sm.scaled(&ma.points.detach(), eps), sm.scaled(&mb.points.detach(), eps));
        let f_aa = d.f_aa.as_ref().map(|f| self.update(eps, &xs, &xd, &self.log_a, Some(f))).transpose()?;
        let g_bb = d.g_bb.as_ref().map(|g| self.update(eps, &ys, &yd, &self.log_b, Some(g))).transpose()?;
        Ok(Potentials {
            f: self.update(eps, &xs, &yd, &self.log_b, Some(&d.g_ab))?,
            g: self.update(eps, &ys, &xd, &self.log_a, Some(&d.f_ba))?,
            f_aa,
            g_bb,
            eps,
            rho: self.rho,
        })
    }
}
