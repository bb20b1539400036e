//! The derived reductions of a gradient: one rule per reduction, built once per reduction and cached.
//!
//! A [`GradPlan`] holds what every input's gradient shares (the extra forward reduction some rules
//! need) and derives, on first request, the [`InputGrad`] of each input: the `Sum` reductions
//! whose outputs, added up, are the gradient. Plans live in a small global map keyed like the CPU
//! backend's program cache, so a training loop differentiates each formula once.

use crate::diff::grad;
use crate::error::{Error, Result};
use crate::expr::{Cat, Expr, Op};
use crate::reduction::{Axis, Reduction};
use crate::spec::{Reduce, VarDecl};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The forward array a pair reduction reads as an extra output-side argument, after the
/// reduction's own arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// η, the gradient of the output (dimension `out_dim`).
    Eta,
    /// The forward output (dimension `out_dim`).
    Out,
    /// The output of the plan's auxiliary reduction (the log-sum-exp of F, dimension 1).
    Aux,
}

/// Where the selected reduced-side indices of a Min/Max-like reduction come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// The output of the plan's auxiliary Arg reduction, from its first column.
    Aux,
    /// The forward output, from this column on (the index half of `Min_ArgMin` and its kin).
    Out(usize),
}

/// What multiplies the gradient of F at a selected pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coef {
    /// The output gradient of the selected value: η's first `slots` columns.
    Eta,
    /// For `Max_SumShiftExpWeight`: η_m − ⟨η_s, s⟩, how ⟨out, η⟩ moves with the maximum m.
    ShiftCorrection,
}

/// How the gradient flows through selected pairs: slot s (of `slots`) is component s mod dim(F).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectRule {
    pub indices: IndexSource,
    pub coef: Coef,
    pub slots: usize,
}

/// The gradient with respect to one input, as reductions to evaluate and add up.
#[derive(Debug)]
pub struct InputGrad {
    /// Σ over pairs of the adjoint formula: a `Sum` over the reduced side for output-side
    /// variables and parameters (whose rows are then added up), over the other side for
    /// reduced-side variables. Its arguments are the forward ones followed by the plan's
    /// [`GradPlan::extras`]. `None` where the part is identically zero.
    pub pairs: Option<Reduce>,
    /// Grad(F, θ, H) at one selected pair per output row: the reduced-side variables are turned
    /// into output-side ones (same index, holding the gathered selected rows) and H, the last
    /// argument (dimension dim F), holds the coefficients of one slot. It sums over a reduced
    /// axis of size 1. `None` where the part is identically zero.
    pub selected: Option<Reduce>,
}

/// What every input's gradient of one reduction shares, and the per-input derivations.
#[derive(Debug)]
pub struct GradPlan {
    spec: Reduce,
    /// The extra forward reduction the rule needs: the Arg reduction giving the selected indices
    /// (Min, Max, KMin, and the m of `Max_SumShiftExpWeight`) or the log-sum-exp of F
    /// (`SumSoftMaxWeight`).
    pub aux: Option<Reduce>,
    /// The extra arguments of every `pairs` reduction, in order (empty: the rule has no pair sum).
    pub extras: Vec<Extra>,
    /// How gradients flow through selected pairs, for the Min/Max-like reductions.
    pub select: Option<SelectRule>,
    inputs: Mutex<HashMap<usize, Arc<InputGrad>>>,
}

impl GradPlan {
    fn new(spec: &Reduce) -> Result<GradPlan> {
        use Reduction::*;
        let d = spec.formula.dim();
        let arg = |r: Reduction| Reduce::with_vars(spec.formula.clone(), None, r, spec.axis, &spec.vars).map(Some);
        let select = |indices, coef, slots| Some(SelectRule { indices, coef, slots });
        let (aux, extras, select) = match spec.reduction {
            Sum => (None, vec![Extra::Eta], None),
            LogSumExp | LogSumExpWeight => (None, vec![Extra::Eta, Extra::Out], None),
            // The pair sum holds the shift m fixed; the selected pair adds how m itself moves.
            MaxSumShiftExpWeight => {
                (arg(ArgMax)?, vec![Extra::Eta, Extra::Out], select(IndexSource::Aux, Coef::ShiftCorrection, 1))
            }
            SumSoftMaxWeight => (arg(LogSumExp)?, vec![Extra::Eta, Extra::Out, Extra::Aux], None),
            Min => (arg(ArgMin)?, vec![], select(IndexSource::Aux, Coef::Eta, d)),
            Max => (arg(ArgMax)?, vec![], select(IndexSource::Aux, Coef::Eta, d)),
            KMin(k) => (arg(ArgKMin(k))?, vec![], select(IndexSource::Aux, Coef::Eta, k * d)),
            MinArgMin | MaxArgMax => (None, vec![], select(IndexSource::Out(d), Coef::Eta, d)),
            KMinArgKMin(k) => (None, vec![], select(IndexSource::Out(k * d), Coef::Eta, k * d)),
            // Indices are piecewise constant: their gradient is zero almost everywhere.
            ArgMin | ArgMax | ArgKMin(_) => (None, vec![], None),
        };
        Ok(GradPlan { spec: spec.clone(), aux, extras, select, inputs: Mutex::new(HashMap::new()) })
    }

    /// The derived reductions of the gradient with respect to input `k`, derived on first use.
    pub fn input(&self, k: usize) -> Result<Arc<InputGrad>> {
        let spec = &self.spec;
        let Some(v) = spec.vars.get(k) else {
            return Err(Error::Reduction {
                reduction: format!("{} gradient", spec.reduction.name()),
                msg: format!("no input {k}: the reduction has {} argument(s)", spec.vars.len()),
            });
        };
        if let Some(g) = lock(&self.inputs).get(&k) {
            return Ok(g.clone());
        }
        let theta = Expr::var(k, v.dim, v.cat)?;
        let n = spec.vars.len();
        let outer = spec.axis.outer();
        let pairs = if self.extras.is_empty() {
            None
        } else {
            let news = [
                new_var(n, spec.out_dim, outer, "eta")?,
                new_var(n + 1, spec.out_dim, outer, "out")?,
                new_var(n + 2, 1, outer, "lse")?,
            ];
            // The extras are always a prefix of (η, out, lse), so their indices follow the
            // forward arguments in that order.
            let decls: Vec<VarDecl> =
                spec.vars.iter().cloned().chain(news[..self.extras.len()].iter().map(|v| v.1.clone())).collect();
            let [eta, out, aux] = news.map(|v| v.0);
            let a = pair_adjoint(spec, &theta, &eta, &out, &aux)?;
            let axis = if v.cat == spec.axis.inner() { flip(spec.axis) } else { spec.axis };
            derived_sum(a, axis, &decls)?
        };
        let selected = if self.select.is_none() {
            None
        } else {
            let inner = spec.axis.inner();
            let h = new_var(n, spec.formula.dim(), outer, "adjoint")?;
            let decls: Vec<VarDecl> = spec
                .vars
                .iter()
                .map(|d| VarDecl { cat: if d.cat == inner { outer } else { d.cat }, ..d.clone() })
                .chain(std::iter::once(h.1))
                .collect();
            let f = recat(&spec.formula, inner, outer)?;
            let theta = recat(&theta, inner, outer)?;
            derived_sum(grad(&f, &theta, &h.0)?, spec.axis, &decls)?
        };
        // Another thread may have derived the same input meanwhile: keep the first, so that every
        // caller shares one set of reductions.
        Ok(lock(&self.inputs).entry(k).or_insert_with(|| Arc::new(InputGrad { pairs, selected })).clone())
    }
}

/// A new output-side argument: its formula variable and its declaration.
fn new_var(index: usize, dim: usize, cat: Cat, name: &str) -> Result<(Expr, VarDecl)> {
    Ok((Expr::var(index, dim, cat)?, VarDecl { name: name.into(), index, dim, cat }))
}

fn flip(axis: Axis) -> Axis {
    match axis {
        Axis::I => Axis::J,
        Axis::J => Axis::I,
    }
}

/// The one builder of gradient reductions: a `Sum` of `formula` over `axis` with the given
/// arguments (declared, so that unused ones still fix the sizes), or `None` for a zero formula.
fn derived_sum(formula: Expr, axis: Axis, decls: &[VarDecl]) -> Result<Option<Reduce>> {
    let formula = crate::simplify::simplify(&formula);
    if formula.is_zero() {
        return Ok(None);
    }
    Reduce::with_vars(formula, None, Reduction::Sum, axis, decls).map(Some)
}

/// Σₖ Grad(fₖ, θ, eₖ), the zero terms left out.
fn grad_sum(terms: &[(&Expr, Expr)], theta: &Expr) -> Result<Expr> {
    let mut total: Option<Expr> = None;
    for (f, e) in terms {
        let g = grad(f, theta, e)?;
        if g.is_zero() {
            continue;
        }
        total = Some(match total {
            Some(t) => t.add(g)?,
            None => g,
        });
    }
    total.map_or_else(|| Expr::zero(theta.dim()), Ok)
}

/// The formula whose sum over pairs is ∂⟨out, η⟩/∂θ, for the smooth reductions, with η, the
/// forward output `o` and the log-sum-exp `l` as output-side variables (see the module docs for
/// the derivations).
fn pair_adjoint(spec: &Reduce, theta: &Expr, eta: &Expr, o: &Expr, l: &Expr) -> Result<Expr> {
    let f = &spec.formula;
    let weight = || {
        spec.weight.clone().ok_or_else(|| Error::Reduction {
            reduction: spec.reduction.name().into(),
            msg: "needs a weight formula".into(),
        })
    };
    match spec.reduction {
        Reduction::Sum => grad_sum(&[(f, eta.clone())], theta),
        Reduction::LogSumExp => grad_sum(&[(f, eta.clone().mul(f.clone().sub(o.clone())?.exp()?)?)], theta),
        Reduction::LogSumExpWeight => {
            let g = weight()?;
            // exp(F − oₑ) per component e: the weights of each component's log-sum-exp.
            let w = eta.clone().mul(f.clone().sub(o.clone())?.exp()?)?;
            grad_sum(&[(f, w.clone().mul(g.clone())?.sum()?), (&g, w)], theta)
        }
        Reduction::MaxSumShiftExpWeight => {
            let g = weight()?;
            let e = g.dim();
            let eta_s = Expr::new(Op::Extract { start: 1, len: e }, vec![eta.clone()])?;
            let w = f.clone().sub(o.clone().elem(0)?)?.exp()?;
            grad_sum(&[(f, w.clone().mul(eta_s.clone().scalprod(g.clone())?)?), (&g, eta_s.mul(w)?)], theta)
        }
        Reduction::SumSoftMaxWeight => {
            let g = weight()?;
            let p = f.clone().sub(l.clone())?.exp()?;
            let centred = eta.clone().scalprod(g.clone().sub(o.clone())?)?;
            grad_sum(&[(f, p.clone().mul(centred)?), (&g, p.mul(eta.clone())?)], theta)
        }
        r => Err(Error::Reduction { reduction: r.name().into(), msg: "has no gradient as a sum over pairs".into() }),
    }
}

/// `f` with every variable of category `from` turned into one of category `to` (same index and
/// dimension): evaluating it with gathered rows evaluates `f` at selected pairs.
fn recat(f: &Expr, from: Cat, to: Cat) -> Result<Expr> {
    let mut new: HashMap<Expr, Expr> = HashMap::new();
    for e in Expr::topo_order(std::slice::from_ref(f)) {
        let rebuilt = match e.op() {
            Op::Var { index, dim, cat } if *cat == from => Expr::var(*index, *dim, to)?,
            _ => {
                let args: Vec<Expr> =
                    e.args().iter().map(|a| new.get(a).cloned().unwrap_or_else(|| a.clone())).collect();
                if args.iter().zip(e.args()).all(|(a, b)| a == b) {
                    e.clone()
                } else {
                    Expr::new(e.op().clone(), args)?
                }
            }
        };
        new.insert(e, rebuilt);
    }
    Ok(new.remove(f).unwrap_or_else(|| f.clone()))
}

/// A poisoned lock only means another thread panicked while holding it; the map is still valid.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Signature = (Vec<Expr>, Reduction, Axis, Vec<(usize, Cat)>);

static PLANS: Mutex<Option<HashMap<Signature, Arc<GradPlan>>>> = Mutex::new(None);

/// The gradient plan of a reduction, cached by formula, weight, reduction, axis and arguments.
pub fn plan(spec: &Reduce) -> Result<Arc<GradPlan>> {
    let key: Signature = (spec.roots(), spec.reduction, spec.axis, spec.vars.iter().map(|v| (v.dim, v.cat)).collect());
    if let Some(p) = lock(&PLANS).get_or_insert_with(HashMap::new).get(&key) {
        return Ok(p.clone());
    }
    // Built outside the lock: derivations may be slow, and another thread's plan is as good as ours.
    let p = Arc::new(GradPlan::new(spec)?);
    let mut guard = lock(&PLANS);
    let map = guard.get_or_insert_with(HashMap::new);
    // A bounded cache: a script generating endless distinct formulas must not grow memory forever.
    if map.len() >= 4096 {
        map.clear();
    }
    Ok(map.entry(key).or_insert(p).clone())
}
