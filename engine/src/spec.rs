//! What a reduction is, independently of where it runs: a formula bound to a reduction and an axis, its arguments and options.
//!
//! [`Reduce`] is the expression-level form (what LazyTensor and autodiff build), checked against
//! its input arrays before any backend runs, so a backend may assume shapes are right. This
//! module imports no backend: the backends read it, and `genred.rs` dispatches to them.

use crate::error::{Error, Result};
use crate::expr::{Cat, Expr};
use crate::reduction::{Axis, Reduction, SumScheme};
use ndarray::ArrayView2;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where a reduction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// The fastest backend available on this machine: the GPU when the build has the `cuda`
    /// feature and a CUDA driver, a device and NVRTC are present, else the CPU.
    #[default]
    Auto,
    /// The vectorised, multi-threaded CPU backend.
    Cpu,
    /// The float64 pair-by-pair oracle (slow; for tests).
    Reference,
    /// The CUDA device of this index (`"gpu"` is `cuda:0`); an error where there is none.
    Gpu(usize),
}

impl Backend {
    /// `auto`, `cpu`, `reference`, `gpu` (device 0), or `cuda:N` / `gpu:N`.
    pub fn from_name(s: &str) -> Result<Backend> {
        let device = s.strip_prefix("cuda:").or_else(|| s.strip_prefix("gpu:"));
        match s {
            "auto" => Ok(Backend::Auto),
            "cpu" | "CPU" => Ok(Backend::Cpu),
            "reference" => Ok(Backend::Reference),
            // KeOps' GPU_1D is the one-thread-per-row scheme that the GPU backend runs.
            "gpu" | "GPU" | "cuda" | "GPU_1D" => gpu_backend(0),
            "GPU_2D" => Err(Error::Backend {
                backend: s.into(),
                msg: "KeOps' 2-D GPU scheme is not built yet: use GPU_1D (or gpu), which runs every reduction".into(),
            }),
            _ => match device.map(str::parse::<usize>) {
                Some(Ok(k)) => gpu_backend(k),
                _ => Err(Error::Backend {
                    backend: s.into(),
                    msg: "unknown backend: use auto, cpu, gpu, cuda:N (KeOps' CPU and GPU_1D also)".into(),
                }),
            },
        }
    }
}

#[cfg(feature = "cuda")]
fn gpu_backend(device: usize) -> Result<Backend> {
    Ok(Backend::Gpu(device))
}

#[cfg(not(feature = "cuda"))]
fn gpu_backend(_device: usize) -> Result<Backend> {
    Err(no_gpu_build())
}

#[cfg(not(feature = "cuda"))]
pub(crate) fn no_gpu_build() -> Error {
    Error::Backend {
        backend: "gpu".into(),
        msg: "this build has no GPU backend (no CUDA device support compiled in)".into(),
    }
}

/// How a reduction is computed; `Options::default()` is what users want.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub backend: Backend,
    pub sum_scheme: SumScheme,
    /// Accumulate float32 sums (and log-sum-exp sums) in float64.
    pub accumulate_f64: bool,
    /// When set to true by another thread, the reduction stops between blocks with `Error::Interrupted`.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Called with the progress of long computations (blocks of rows, Sinkhorn's ε steps).
    pub progress: Option<crate::progress::ProgressHook>,
    /// Block-sparsity (KeOps' `ranges`): only the kept blocks of pairs are reduced. Both halves
    /// are given, so the gradient reductions derived with these options use the right one.
    pub ranges: Option<Arc<crate::ranges::Ranges>>,
}

/// One argument of a reduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarDecl {
    pub name: String,
    pub index: usize,
    pub dim: usize,
    pub cat: Cat,
}

impl VarDecl {
    /// `Vi(3)`, as in the aliases.
    pub fn declaration(&self) -> String {
        format!("{}({})", self.cat.short(), self.dim)
    }
}

/// A formula, an optional weight formula, a reduction and an axis: everything but the data.
#[derive(Debug, Clone)]
pub struct Reduce {
    pub formula: Expr,
    pub weight: Option<Expr>,
    pub reduction: Reduction,
    pub axis: Axis,
    /// Number of columns of the output.
    pub out_dim: usize,
    /// The arguments, in argument order (`vars[k].index == k`).
    pub vars: Vec<VarDecl>,
}

impl Reduce {
    /// Binds a formula to a reduction; arguments are the formula's variables, named `arg0`, `arg1`...
    pub fn new(formula: Expr, weight: Option<Expr>, reduction: Reduction, axis: Axis) -> Result<Reduce> {
        Reduce::with_vars(formula, weight, reduction, axis, &[])
    }

    /// Like [`Reduce::new`], with declared arguments (which name them and may include unused ones).
    pub fn with_vars(
        formula: Expr,
        weight: Option<Expr>,
        reduction: Reduction,
        axis: Axis,
        declared: &[VarDecl],
    ) -> Result<Reduce> {
        let out_dim = reduction.output_dim(&formula, weight.as_ref())?;
        let roots: Vec<Expr> = std::iter::once(formula.clone()).chain(weight.clone()).collect();
        let mut vars: Vec<Option<VarDecl>> = Vec::new();
        let mut put = |v: VarDecl| -> Result<()> {
            if vars.len() <= v.index {
                vars.resize(v.index + 1, None);
            }
            match &vars[v.index] {
                Some(old) if old.dim != v.dim || old.cat != v.cat => Err(Error::DuplicateVariable(format!(
                    "{} (argument {} used as both {} and {})",
                    old.name,
                    v.index,
                    old.declaration(),
                    v.declaration()
                ))),
                Some(_) => Ok(()),
                None => {
                    let k = v.index;
                    vars[k] = Some(v);
                    Ok(())
                }
            }
        };
        for d in declared {
            put(d.clone())?;
        }
        for (index, dim, cat) in Expr::variables(&roots) {
            put(VarDecl { name: format!("arg{index}"), index, dim, cat })?;
        }
        let vars = vars
            .into_iter()
            .enumerate()
            .map(|(k, v)| {
                v.ok_or_else(|| Error::InvalidOp {
                    op: "Var".into(),
                    msg: format!("argument {k} is neither declared nor used, but a later argument is"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Reduce { formula, weight, reduction, axis, out_dim, vars })
    }

    /// The roots evaluated per pair: the formula, then the weight if any.
    pub fn roots(&self) -> Vec<Expr> {
        std::iter::once(self.formula.clone()).chain(self.weight.clone()).collect()
    }

    /// Checks the inputs and returns (rows of the output, length of the reduced index).
    /// A side with no variable has size 1, as a single point.
    pub fn sizes<T>(&self, inputs: &[ArrayView2<T>]) -> Result<(usize, usize)> {
        if inputs.len() != self.vars.len() {
            let names: Vec<String> = self.vars.iter().map(|v| format!("{} = {}", v.name, v.declaration())).collect();
            return Err(Error::ArgCount {
                expected: self.vars.len(),
                got: inputs.len(),
                detail: format!(" (the arguments are {})", names.join(", ")),
            });
        }
        let mut n: [Option<(usize, &str)>; 2] = [None, None];
        for (v, a) in self.vars.iter().zip(inputs) {
            let shape = a.shape().to_vec();
            let bad = |detail: String| Error::Shape {
                name: v.name.clone(),
                decl: v.declaration(),
                shape: shape.clone(),
                detail,
            };
            if shape[1] != v.dim {
                return Err(bad(format!(": it needs {} column(s)", v.dim)));
            }
            match v.cat {
                Cat::P => {
                    if shape[0] != 1 {
                        return Err(bad(format!(": a parameter is one row of shape [1, {}]", v.dim)));
                    }
                }
                Cat::I | Cat::J => {
                    let side = v.cat.index();
                    match n[side] {
                        Some((rows, other)) if rows != shape[0] => {
                            return Err(bad(format!(
                                ": {} has {rows} rows and both are {}-indexed",
                                other,
                                if side == 0 { "i" } else { "j" }
                            )))
                        }
                        _ => n[side] = Some((shape[0], v.name.as_str())),
                    }
                }
            }
        }
        let ni = n[0].map(|x| x.0).unwrap_or(1);
        let nj = n[1].map(|x| x.0).unwrap_or(1);
        Ok(match self.axis {
            Axis::J => (ni, nj),
            Axis::I => (nj, ni),
        })
    }
}
