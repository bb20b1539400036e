//! Reductions (Sum, LogSumExp, KMin, ...), the axis they run over, and the shape of their output.

use crate::error::{Error, Result};
use crate::expr::{Cat, Expr};
use std::fmt;

/// Which index a reduction sums (or maximises, ...) over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Reduce over i (KeOps `axis=0`): one output row per j.
    I,
    /// Reduce over j (KeOps `axis=1`): one output row per i.
    J,
}

impl Axis {
    /// KeOps' numbering: 0 reduces over i, 1 over j.
    pub fn from_index(k: i64) -> Result<Axis> {
        match k {
            0 => Ok(Axis::I),
            1 => Ok(Axis::J),
            _ => Err(Error::Reduction {
                reduction: "axis".into(),
                msg: format!("axis must be 0 (reduce over i) or 1 (reduce over j), got {k}"),
            }),
        }
    }
    pub fn index(self) -> usize {
        match self {
            Axis::I => 0,
            Axis::J => 1,
        }
    }
    /// The category of the variables that index the output rows.
    pub fn outer(self) -> Cat {
        match self {
            Axis::I => Cat::J,
            Axis::J => Cat::I,
        }
    }
    /// The category of the variables that are reduced over.
    pub fn inner(self) -> Cat {
        match self {
            Axis::I => Cat::I,
            Axis::J => Cat::J,
        }
    }
}

/// How the partial sums of a Sum-like reduction are accumulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SumScheme {
    /// One running sum per SIMD lane over the whole reduction: fastest, least accurate.
    Direct,
    /// Partial sums over blocks of the reduced index, added to the total per block.
    #[default]
    Block,
    /// Kahan-compensated running sums.
    Kahan,
}

impl SumScheme {
    pub fn from_name(s: &str) -> Result<SumScheme> {
        match s {
            "direct" | "direct_sum" => Ok(SumScheme::Direct),
            "block" | "block_sum" => Ok(SumScheme::Block),
            "kahan" | "kahan_scheme" => Ok(SumScheme::Kahan),
            _ => Err(Error::Reduction {
                reduction: "sum_scheme".into(),
                msg: format!("unknown scheme `{s}`: use direct, block or kahan"),
            }),
        }
    }
}

/// The reductions of the engine. `K` variants carry their K; weighted ones take a second formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    Sum,
    Max,
    Min,
    ArgMax,
    ArgMin,
    /// The maximum, then its index: output dimension 2·D.
    MaxArgMax,
    /// The minimum, then its index: output dimension 2·D.
    MinArgMin,
    /// The K smallest values, in increasing order: output dimension K·D (k-major).
    KMin(usize),
    /// The indices of the K smallest values.
    ArgKMin(usize),
    /// The K smallest values, then their indices: 2·K·D.
    KMinArgKMin(usize),
    /// log Σ exp F, F of dimension 1, computed in one pass with a running maximum.
    LogSumExp,
    /// log Σ exp(F)·G (componentwise in G), F of dimension 1, G the weight formula.
    LogSumExpWeight,
    /// The raw (m, Σ exp(F − m)·G) pair of KeOps: output dimension 1 + E.
    MaxSumShiftExpWeight,
    /// Σ exp(F)·G / Σ exp(F), F of dimension 1.
    SumSoftMaxWeight,
}

impl Reduction {
    /// Parses a KeOps reduction name (`"Sum"`, `"LogSumExp"`, `"ArgKMin"` with `k`, ...).
    pub fn from_name(name: &str, k: Option<usize>) -> Result<Reduction> {
        let need_k = |r: fn(usize) -> Reduction| {
            k.map(r).ok_or_else(|| Error::Reduction { reduction: name.into(), msg: "needs K".into() })
        };
        Ok(match name {
            "Sum" => Reduction::Sum,
            "Max" => Reduction::Max,
            "Min" => Reduction::Min,
            "ArgMax" => Reduction::ArgMax,
            "ArgMin" => Reduction::ArgMin,
            "Max_ArgMax" => Reduction::MaxArgMax,
            "Min_ArgMin" => Reduction::MinArgMin,
            "KMin" => need_k(Reduction::KMin)?,
            "ArgKMin" => need_k(Reduction::ArgKMin)?,
            "KMin_ArgKMin" => need_k(Reduction::KMinArgKMin)?,
            "LogSumExp" => Reduction::LogSumExp,
            "LogSumExpWeight" => Reduction::LogSumExpWeight,
            // KeOps' unweighted spelling: the weight is then 1 (see `Genred`).
            "Max_SumShiftExpWeight" | "Max_SumShiftExp" => Reduction::MaxSumShiftExpWeight,
            "SumSoftMaxWeight" => Reduction::SumSoftMaxWeight,
            _ => {
                return Err(Error::Reduction {
                    reduction: name.into(),
                    msg: "unknown reduction: use Sum, Max, Min, ArgMax, ArgMin, Max_ArgMax, Min_ArgMin, KMin, \
                          ArgKMin, KMin_ArgKMin, LogSumExp, LogSumExpWeight, Max_SumShiftExp(Weight) or SumSoftMaxWeight"
                        .into(),
                })
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "Sum",
            Reduction::Max => "Max",
            Reduction::Min => "Min",
            Reduction::ArgMax => "ArgMax",
            Reduction::ArgMin => "ArgMin",
            Reduction::MaxArgMax => "Max_ArgMax",
            Reduction::MinArgMin => "Min_ArgMin",
            Reduction::KMin(_) => "KMin",
            Reduction::ArgKMin(_) => "ArgKMin",
            Reduction::KMinArgKMin(_) => "KMin_ArgKMin",
            Reduction::LogSumExp => "LogSumExp",
            Reduction::LogSumExpWeight => "LogSumExpWeight",
            Reduction::MaxSumShiftExpWeight => "Max_SumShiftExpWeight",
            Reduction::SumSoftMaxWeight => "SumSoftMaxWeight",
        }
    }

    /// K for the KMin family.
    pub fn k(self) -> Option<usize> {
        match self {
            Reduction::KMin(k) | Reduction::ArgKMin(k) | Reduction::KMinArgKMin(k) => Some(k),
            _ => None,
        }
    }

    /// True for the reductions that take a weight formula G.
    pub fn has_weight(self) -> bool {
        matches!(self, Reduction::LogSumExpWeight | Reduction::MaxSumShiftExpWeight | Reduction::SumSoftMaxWeight)
    }

    fn err(self, msg: impl Into<String>) -> Error {
        Error::Reduction { reduction: self.name().into(), msg: msg.into() }
    }

    /// Checks the formula (and weight) dimensions and returns the output dimension.
    pub fn output_dim(self, f: &Expr, weight: Option<&Expr>) -> Result<usize> {
        let d = f.dim();
        match (self.has_weight(), weight) {
            (true, None) => return Err(self.err("needs a weight formula")),
            (false, Some(_)) => return Err(self.err("takes no weight formula")),
            _ => {}
        }
        let scalar = || {
            if d == 1 {
                Ok(())
            } else {
                Err(self.err(format!("the formula must have dimension 1, it has dimension {d}")))
            }
        };
        let e = weight.map(Expr::dim).unwrap_or(0);
        Ok(match self {
            Reduction::Sum | Reduction::Max | Reduction::Min | Reduction::ArgMax | Reduction::ArgMin => d,
            Reduction::MaxArgMax | Reduction::MinArgMin => 2 * d,
            Reduction::KMin(k) | Reduction::ArgKMin(k) | Reduction::KMinArgKMin(k) => {
                if k == 0 {
                    return Err(self.err("K must be at least 1"));
                }
                if k > 1 << 16 {
                    return Err(self.err(format!("K = {k} is absurdly large (at most 65536)")));
                }
                if let Reduction::KMinArgKMin(_) = self {
                    2 * k * d
                } else {
                    k * d
                }
            }
            Reduction::LogSumExp => {
                scalar()?;
                1
            }
            Reduction::LogSumExpWeight | Reduction::SumSoftMaxWeight => {
                scalar()?;
                e
            }
            Reduction::MaxSumShiftExpWeight => {
                scalar()?;
                1 + e
            }
        })
    }

    /// The output components that hold indices of reduced points (an `out_dim`-wide output).
    pub fn index_columns(self, out_dim: usize) -> std::ops::Range<usize> {
        match self {
            Reduction::ArgMax | Reduction::ArgMin | Reduction::ArgKMin(_) => 0..out_dim,
            Reduction::MaxArgMax | Reduction::MinArgMin | Reduction::KMinArgKMin(_) => out_dim / 2..out_dim,
            _ => 0..0,
        }
    }

    /// The value of every output component when nothing is reduced (N or M is 0).
    pub fn empty_output(self, d: usize, out_dim: usize) -> Vec<f64> {
        let inf = f64::INFINITY;
        match self {
            Reduction::Sum => vec![0.0; out_dim],
            Reduction::Max => vec![-inf; out_dim],
            Reduction::Min | Reduction::KMin(_) => vec![inf; out_dim],
            Reduction::ArgMax | Reduction::ArgMin | Reduction::ArgKMin(_) => vec![-1.0; out_dim],
            Reduction::MaxArgMax => [vec![-inf; d], vec![-1.0; d]].concat(),
            Reduction::MinArgMin => [vec![inf; d], vec![-1.0; d]].concat(),
            Reduction::KMinArgKMin(_) => [vec![inf; out_dim / 2], vec![-1.0; out_dim / 2]].concat(),
            Reduction::LogSumExp | Reduction::LogSumExpWeight => vec![-inf; out_dim],
            Reduction::MaxSumShiftExpWeight => {
                let mut v = vec![0.0; out_dim];
                v[0] = -inf;
                v
            }
            Reduction::SumSoftMaxWeight => vec![0.0; out_dim],
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.k() {
            Some(k) => write!(f, "{}(K={k})", self.name()),
            None => f.write_str(self.name()),
        }
    }
}
