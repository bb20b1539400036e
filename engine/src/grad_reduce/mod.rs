//! Gradients of reductions: [`Reduce::vjp`], computed by new reductions whose formulas come from [`crate::diff::grad`].
//!
//! Backends know nothing of autodiff: the gradient of a reduction with respect to an input is a
//! handful of ordinary `Sum` reductions (built once per formula and cached, see [`GradPlan`]),
//! evaluated with the caller's options, plus O(N + M) dense work (adding rows, gathering and
//! scattering selected rows). No N×M array is ever allocated.
//!
//! Notation, for a reduction over j (axis J; axis I swaps the roles): i indexes the output rows,
//! F = F(i, j) the formula, G the weight, o the forward output, η the output gradient, θ the
//! input, ∂ the derivative with respect to θ. Every rule is a sum over pairs Σᵢⱼ Aᵢⱼ where
//! Aᵢⱼ = Σ Grad(·, θ, ·) is a formula with η (and o) as extra output-side variables; it is
//! evaluated as a `Sum` over j when θ is an output-side variable, over i when θ is reduced over,
//! and over j followed by a sum of rows when θ is a parameter.
//!
//! - `Sum`: ∂⟨o, η⟩ = Σⱼ Grad(F, θ, ηᵢ).
//! - `LogSumExp`: oᵢ = log Σⱼ exp Fᵢⱼ, so ∂oᵢ = Σⱼ exp(Fᵢⱼ − oᵢ) ∂Fᵢⱼ: A = Grad(F, θ, η·exp(F − o)).
//! - `LogSumExpWeight`: oₑ = log Σⱼ exp(F) Gₑ, so ∂oₑ = Σⱼ exp(F − oₑ)(Gₑ ∂F + ∂Gₑ):
//!   A = Grad(F, θ, Σₑ ηₑ exp(F − oₑ) Gₑ) + Grad(G, θ, η ⊙ exp(F − o)).
//! - `SumSoftMaxWeight`: oₑ = Σⱼ pⱼ Gⱼₑ with pⱼ = exp(Fⱼ − L), L the log-sum-exp of F (an extra
//!   `LogSumExp` reduction). ∂L = Σⱼ pⱼ ∂Fⱼ gives ∂oₑ = Σⱼ pⱼ [(Gⱼₑ − oₑ) ∂Fⱼ + ∂Gⱼₑ]:
//!   A = Grad(F, θ, p ⟨η, G − o⟩) + Grad(G, θ, p η).
//! - `Max_SumShiftExpWeight`: o = (m, s), m = maxⱼ F, sₑ = Σⱼ exp(F − m) Gₑ. Unlike KeOps (which
//!   freezes m), both outputs are differentiated exactly: m is F at its argmax j*, so ∂m = ∂F(i, j*)
//!   almost everywhere, and ∂sₑ = Σⱼ exp(F − m)(Gₑ ∂F + ∂Gₑ) − sₑ ∂m. Hence
//!   ∂⟨o, η⟩ = Σⱼ [Grad(F, θ, exp(F − m)⟨η_s, G⟩) + Grad(G, θ, η_s exp(F − m))] + cᵢ ∂F(i, j*)
//!   with cᵢ = η_m − ⟨η_s, s⟩: a pair sum plus a selected pair, j* from an `ArgMax` reduction.
//!   The gradient is that of the function (m, s) away from ties of the maximum; for the usual
//!   use, log(s) + m, c vanishes and the result is KeOps'.
//! - `Min`, `Max`, `KMin`, `Min_ArgMin`, `Max_ArgMax`, `KMin_ArgKMin` (KeOps has no gradient for
//!   these): each value output is F at a selected pair, so its gradient goes to that pair only:
//!   component d of F has its own selected j per output row and rank, taken from the output
//!   when it holds the indices or else from the matching Arg reduction. Per slot (rank, component),
//!   the selected reduced-side rows are gathered into output-side arrays, Grad(F, θ, H) is
//!   evaluated with F's reduced-side variables read from them (a `Sum` over a reduced axis of
//!   size 1) and H holding η in component d only, and reduced-side gradients are scattered back
//!   to the selected rows. Index outputs (and the Arg reductions) have zero gradient.
//!
//! Gradients hold almost everywhere: at ties of a Min/Max the gradient of one of the tied
//! pairs (the one the Arg reduction reports) is returned.

mod plan;
mod select;

pub use plan::{Coef, Extra, GradPlan, IndexSource, InputGrad, SelectRule};

use crate::error::{Error, Result};
use crate::expr::Cat;
use crate::real::Real;
use crate::spec::{Options, Reduce};
use ndarray::{s, Array2, ArrayView2};
use plan::plan as cached_plan;
use select::{add_rows, gather, Selection};
use std::sync::Arc;

impl Reduce {
    /// ∂⟨out, η⟩/∂inputs[k] for each k in `wrt`: `out` is this reduction's forward output on
    /// `inputs` and `eta` the gradient of the output (both n_out × out_dim). Each result has the
    /// shape of `inputs[k]`. The derived reductions run with `opts`, on the caller's backend.
    ///
    /// ```
    /// # use noyau_engine::{Axis, Cat, Expr, Options, Reduce, Reduction};
    /// # use ndarray::array;
    /// // out_i = Σ_j exp(−‖x_i − y_j‖²) b_j, then the gradient of Σ_i out_i with respect to x.
    /// let (x, y, b) = (Expr::var(0, 2, Cat::I)?, Expr::var(1, 2, Cat::J)?, Expr::var(2, 1, Cat::J)?);
    /// let k = Reduce::new(x.sqdist(y)?.neg()?.exp()?.mul(b)?, None, Reduction::Sum, Axis::J)?;
    /// let (xs, ys, bs) = (array![[0.0, 1.0]], array![[1.0, 1.0], [0.0, 2.0]], array![[1.0], [2.0]]);
    /// let inputs = [xs.view(), ys.view(), bs.view()];
    /// let out = k.eval(&inputs, &Options::default())?;
    /// let eta = out.mapv(|_| 1.0);
    /// let dx = k.vjp(&inputs, out.view(), eta.view(), &[0], &Options::default())?;
    /// assert_eq!(dx[0].shape(), &[1, 2]);
    /// # Ok::<(), noyau_engine::Error>(())
    /// ```
    pub fn vjp<T: Real>(
        &self,
        inputs: &[ArrayView2<T>],
        out: ArrayView2<T>,
        eta: ArrayView2<T>,
        wrt: &[usize],
        opts: &Options,
    ) -> Result<Vec<Array2<T>>> {
        let (n_out, n_in) = self.sizes(inputs)?;
        self.check_vjp(n_out, &out, &eta, wrt)?;
        let plan = self.gradient_plan()?;
        let parts: Vec<Arc<InputGrad>> = wrt.iter().map(|&k| plan.input(k)).collect::<Result<_>>()?;
        let mut grads: Vec<Array2<f64>> = wrt.iter().map(|&k| Array2::zeros(inputs[k].dim())).collect();
        if parts.iter().any(|p| p.pairs.is_some() || p.selected.is_some()) {
            let aux = plan.aux.as_ref().map(|a| a.eval(inputs, opts)).transpose()?;
            let aux = aux.as_ref().map(|a| a.view());
            let extras = plan
                .extras
                .iter()
                .map(|x| match x {
                    Extra::Eta => Ok(eta),
                    Extra::Out => Ok(out),
                    Extra::Aux => aux.ok_or_else(|| internal("the rule reads an auxiliary reduction it has not")),
                })
                .collect::<Result<Vec<_>>>()?;
            let pair_inputs: Vec<ArrayView2<T>> = inputs.iter().cloned().chain(extras).collect();
            for ((part, &k), g) in parts.iter().zip(wrt).zip(&mut grads) {
                if let Some(p) = &part.pairs {
                    let cat = self.vars[k].cat;
                    add_rows(g, p.eval(&pair_inputs, opts)?.view(), |r| Some(if cat == Cat::P { 0 } else { r }));
                }
            }
            if let Some(rule) = plan.select.filter(|_| parts.iter().any(|p| p.selected.is_some())) {
                let sel = self.selection(rule, out, eta, aux, n_in)?;
                self.add_selected(&sel, inputs, &parts, wrt, &mut grads, opts)?;
            }
        }
        Ok(grads.into_iter().map(|g| g.mapv(T::from_f64)).collect())
    }

    /// The cached gradient plan of this reduction: the derived reductions [`Reduce::vjp`] evaluates.
    pub fn gradient_plan(&self) -> Result<Arc<GradPlan>> {
        cached_plan(self)
    }

    /// Errors naming the argument of [`Reduce::vjp`] that cannot be right.
    fn check_vjp<T>(&self, n_out: usize, out: &ArrayView2<T>, eta: &ArrayView2<T>, wrt: &[usize]) -> Result<()> {
        let err = |msg: String| Error::Reduction { reduction: format!("{} gradient", self.reduction.name()), msg };
        let want = [n_out, self.out_dim];
        for (name, a) in [("eta (the output gradient)", eta), ("out (the forward output)", out)] {
            if a.shape() != want {
                return Err(err(format!(
                    "{name} has shape {:?} but the reduction's output has shape {want:?}",
                    a.shape()
                )));
            }
        }
        if let Some(&k) = wrt.iter().find(|&&k| k >= self.vars.len()) {
            let names: Vec<String> = self.vars.iter().map(|v| format!("{} = {}", v.name, v.declaration())).collect();
            return Err(err(format!(
                "wrt names input {k}, but the reduction has {} input(s) ({})",
                self.vars.len(),
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// The selected pairs of a Min/Max-like rule and the coefficient of each.
    fn selection<T: Real>(
        &self,
        rule: SelectRule,
        out: ArrayView2<T>,
        eta: ArrayView2<T>,
        aux: Option<ArrayView2<T>>,
        n_in: usize,
    ) -> Result<Selection<T>> {
        let coef = match rule.coef {
            Coef::Eta => eta.slice(s![.., ..rule.slots]).to_owned(),
            Coef::ShiftCorrection => {
                let mut c = Array2::zeros((out.nrows(), 1));
                for ((c, o), e) in c.iter_mut().zip(out.outer_iter()).zip(eta.outer_iter()) {
                    let shift: f64 = o.iter().zip(e).skip(1).map(|(o, e)| o.as_f64() * e.as_f64()).sum();
                    *c = T::from_f64(e[0].as_f64() - shift);
                }
                c
            }
        };
        let (indices, offset) = match rule.indices {
            IndexSource::Aux => (aux.ok_or_else(|| internal("the selected indices need the Arg reduction"))?, 0),
            IndexSource::Out(offset) => (out, offset),
        };
        Selection::new(indices, offset, coef, self.formula.dim(), n_in)
    }

    /// Adds the gradients flowing through selected pairs, one slot at a time so that only one
    /// slot's gathered rows are alive at once.
    fn add_selected<T: Real>(
        &self,
        sel: &Selection<T>,
        inputs: &[ArrayView2<T>],
        parts: &[Arc<InputGrad>],
        wrt: &[usize],
        grads: &mut [Array2<f64>],
        opts: &Options,
    ) -> Result<()> {
        let inner = self.axis.inner();
        for s in (0..sel.slots()).filter(|&s| !sel.is_empty(s)) {
            let idx = sel.indices(s);
            let gathered: Vec<Option<Array2<T>>> =
                self.vars.iter().zip(inputs).map(|(v, a)| (v.cat == inner).then(|| gather(*a, idx))).collect();
            let h = sel.adjoint(s);
            let args: Vec<ArrayView2<T>> = gathered
                .iter()
                .zip(inputs)
                .map(|(g, a)| g.as_ref().map_or(*a, |g| g.view()))
                .chain(std::iter::once(h.view()))
                .collect();
            for ((part, &k), g) in parts.iter().zip(wrt).zip(grads.iter_mut()) {
                let Some(spec) = &part.selected else { continue };
                let cat = self.vars[k].cat;
                add_rows(g, spec.eval(&args, opts)?.view(), |r| {
                    let j = usize::try_from(idx[r]).ok()?;
                    Some(match cat {
                        Cat::P => 0,
                        c if c == inner => j,
                        _ => r,
                    })
                });
            }
        }
        Ok(())
    }
}

fn internal(msg: &str) -> Error {
    Error::Data(format!("internal error in a reduction gradient: {msg}"))
}

#[cfg(test)]
mod tests {
    use crate::expr::{Cat, Expr};
    use crate::reduction::{Axis, Reduction};
    use crate::spec::Reduce;
    use std::sync::Arc;

    #[test]
    fn derived_reductions_are_cached() {
        let x = Expr::var(0, 2, Cat::I).unwrap();
        let y = Expr::var(1, 2, Cat::J).unwrap();
        let f = x.sqdist(y).unwrap().neg().unwrap();
        let spec = Reduce::new(f.clone(), None, Reduction::LogSumExp, Axis::J).unwrap();
        let a = spec.gradient_plan().unwrap().input(1).unwrap();
        // Another `Reduce` value with the same formula finds the same plan and derivation.
        let again = Reduce::new(f, None, Reduction::LogSumExp, Axis::J).unwrap();
        let b = again.gradient_plan().unwrap().input(1).unwrap();
        assert!(Arc::ptr_eq(&spec.gradient_plan().unwrap(), &again.gradient_plan().unwrap()));
        assert!(Arc::ptr_eq(&a, &b));
        let pairs = a.pairs.as_ref().unwrap();
        assert_eq!(pairs.axis, Axis::I, "a reduced-side variable's gradient sums over the other side");
        assert_eq!(pairs.vars.len(), 4, "x, y, eta, out");
    }
}
