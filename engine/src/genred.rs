//! Running reductions: [`Reduce::eval`] dispatches a checked reduction to a backend, and [`Genred`] is KeOps' string front end.
//!
//! The backends import `spec.rs` (what a reduction is) and `plan/` (how it is lowered), never
//! this module, so that no module imports one that dispatches to it.

use crate::error::{Error, Result};
use crate::real::Real;
use crate::reduction::{Axis, Reduction};
use crate::spec::{Backend, Options, Reduce, VarDecl};
use ndarray::{Array2, ArrayView2};

impl Reduce {
    /// Runs the reduction: one output row per point of the side that is not reduced.
    pub fn eval<T: Real>(&self, inputs: &[ArrayView2<T>], opts: &Options) -> Result<Array2<T>> {
        let (n_out, n_in) = self.sizes(inputs)?;
        if let Some(k) = self.reduction.k() {
            // Also with nothing to reduce: a list of K nearest points among none is no answer.
            if k > n_in {
                return Err(Error::Reduction {
                    reduction: self.reduction.name().into(),
                    msg: format!("K = {k} is larger than the number of points reduced over ({n_in})"),
                });
            }
        }
        if opts.ranges.is_some() && matches!(opts.backend, Backend::Gpu(_)) {
            return Err(Error::Backend {
                backend: "gpu".into(),
                msg: "block-sparse ranges run on the CPU backend for now: use backend cpu or auto".into(),
            });
        }
        match opts.backend {
            Backend::Reference => {
                let inputs64: Vec<Array2<f64>> = inputs.iter().map(|a| a.mapv(|x| x.as_f64())).collect();
                let views: Vec<ArrayView2<f64>> = inputs64.iter().map(|a| a.view()).collect();
                Ok(crate::reference::reduce_sparse(self, &views, opts.ranges.as_deref())?.mapv(T::from_f64))
            }
            Backend::Cpu => crate::cpu::reduce(self, inputs, n_out, n_in, opts),
            #[cfg(feature = "cuda")]
            Backend::Auto if opts.ranges.is_none() && crate::cuda::auto_selects(self) => {
                crate::cuda::reduce(self, inputs, n_out, n_in, opts, 0)
            }
            Backend::Auto => crate::cpu::reduce(self, inputs, n_out, n_in, opts),
            #[cfg(feature = "cuda")]
            Backend::Gpu(device) => crate::cuda::reduce(self, inputs, n_out, n_in, opts, device),
            #[cfg(not(feature = "cuda"))]
            Backend::Gpu(_) => Err(crate::spec::no_gpu_build()),
        }
    }
}

/// KeOps' `Genred`: a reduction written as a formula string over named variables.
///
/// ```
/// use noyau_engine::{Axis, Genred, Reduction};
/// use ndarray::array;
/// let conv = Genred::new("Exp(-s*SqNorm2(x-y))*b", &["s = Pm(1)", "x = Vi(2)", "y = Vj(2)", "b = Vj(1)"],
///                        Reduction::Sum, Axis::J).unwrap();
/// let (s, x, y, b) = (array![[0.5]], array![[0.0, 0.0]], array![[0.0, 0.0], [1.0, 0.0]], array![[1.0], [2.0]]);
/// let out = conv.eval(&[s.view(), x.view(), y.view(), b.view()]).unwrap();
/// assert!((out[[0, 0]] - (1.0 + 2.0 * (-0.5f64).exp())).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct Genred {
    reduce: Reduce,
    vars: crate::parse::VarTable,
}

impl Genred {
    /// Parses `formula` over `aliases` (`"x = Vi(3)"`, `"s = Pm(1)"`, ...) and binds it to a reduction.
    /// Arguments are passed to `eval` in alias order (or by their explicit index).
    pub fn new(formula: &str, aliases: &[&str], reduction: Reduction, axis: Axis) -> Result<Genred> {
        Genred::build(formula, None, aliases, reduction, axis)
    }

    /// For the weighted reductions (LogSumExpWeight, SumSoftMaxWeight, ...): `weight` is the formula G.
    pub fn weighted(formula: &str, weight: &str, aliases: &[&str], reduction: Reduction, axis: Axis) -> Result<Genred> {
        Genred::build(formula, Some(weight), aliases, reduction, axis)
    }

    fn build(
        formula: &str,
        weight: Option<&str>,
        aliases: &[&str],
        reduction: Reduction,
        axis: Axis,
    ) -> Result<Genred> {
        let vars = crate::parse::parse_aliases(aliases)?;
        let f = crate::parse::parse_formula(formula, &vars)?;
        let mut w = weight.map(|w| crate::parse::parse_formula(w, &vars)).transpose()?;
        if reduction == Reduction::MaxSumShiftExpWeight && w.is_none() {
            // KeOps' Max_SumShiftExp: (max f, Σ exp(f − max f)), the weighted form with weight 1.
            w = Some(crate::expr::Expr::constant(1.0));
        }
        let mut declared: Vec<VarDecl> = Vec::new();
        for (name, (index, dim, cat)) in vars.iter() {
            // Several aliases may name one argument; the first names it in messages.
            if !declared.iter().any(|d| d.index == index) {
                declared.push(VarDecl { name: name.to_string(), index, dim, cat });
            }
        }
        let reduce = Reduce::with_vars(f, w, reduction, axis, &declared)?;
        Ok(Genred { reduce, vars })
    }

    /// Runs the reduction with the default options (fastest backend, block sums).
    pub fn eval<T: Real>(&self, inputs: &[ArrayView2<T>]) -> Result<Array2<T>> {
        self.reduce.eval(inputs, &Options::default())
    }

    pub fn eval_with<T: Real>(&self, inputs: &[ArrayView2<T>], opts: &Options) -> Result<Array2<T>> {
        self.reduce.eval(inputs, opts)
    }

    /// The expression-level reduction (formula, weight, reduction, axis, arguments).
    pub fn reduce(&self) -> &Reduce {
        &self.reduce
    }

    /// The formula printed with the alias names.
    pub fn formula(&self) -> String {
        self.vars.print(&self.reduce.formula)
    }
}
