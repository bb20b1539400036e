//! KeOps' `kernel_product` helper: kernel names such as `"gaussian(x,y) * linear(u,v)**2"` turned into reductions.
//!
//! A name combines atomic kernels (each acting on a pair of point variables) with integer
//! constants, `+`, `*`, `**k` and parentheses. [`Kernel::parse`] reads it once; [`Kernel::reduce`]
//! builds the `Reduce` for given dimensions, gammas and a mode. Each atomic formula has its own
//! gamma G (dimension 1, D or D·D; uniform as a `Pm`, or per point as a `Vj`, as in KeOps where a
//! varying G has one row per y_j), and ⟨x−y, G(x−y)⟩ is `WeightedSqDist(G, x, y)`.
//!
//! Arguments of the reduction, in order: for each pair its i-points then its j-points, the
//! gammas of the atoms that take one, the signal b (`Vj`), then `a_log` (`Vi(1)`) and `b_log`
//! (`Vj(1)`) in the log-scaled modes.

use crate::error::{Error, Result};
use crate::expr::{Cat, Expr, Op};
use crate::ops::UnaryOp;
use crate::reduction::{Axis, Reduction};
use crate::spec::{Reduce, VarDecl};

mod parse;

/// The predefined atomic kernels, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atom {
    Linear,
    Distance,
    Gaussian,
    Laplacian,
    Cauchy,
    InverseMultiquadric,
}

const ATOMS: [(&str, Atom); 6] = [
    ("linear", Atom::Linear),
    ("distance", Atom::Distance),
    ("gaussian", Atom::Gaussian),
    ("laplacian", Atom::Laplacian),
    ("cauchy", Atom::Cauchy),
    ("inverse_multiquadric", Atom::InverseMultiquadric),
];

impl Atom {
    pub fn name(self) -> &'static str {
        ATOMS.iter().find(|(_, a)| *a == self).map_or("?", |(n, _)| n)
    }
    /// Whether the atom takes a gamma (every atom but the scalar product).
    pub fn has_gamma(self) -> bool {
        self != Atom::Linear
    }
}

/// How the kernel matrix is applied to the signal (KeOps' `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// v_i = Σ_j k(x_i, y_j) b_j.
    Sum,
    /// v_i = log Σ_j exp(c(x_i, y_j) + b_j), with c = log k.
    Lse,
    /// v_i = Σ_j exp(c(x_i, y_j) + a_log_i + b_log_j) b_j.
    LogScaled,
    /// v_i = log Σ_j exp(c(x_i, y_j) + a_log_i + b_log_j + b_j).
    LogScaledLse,
}

impl Mode {
    pub fn from_name(name: &str) -> Result<Mode> {
        match name {
            "sum" => Ok(Mode::Sum),
            "lse" => Ok(Mode::Lse),
            "log_scaled" => Ok(Mode::LogScaled),
            "log_scaled_lse" => Ok(Mode::LogScaledLse),
            _ => Err(invalid(format!("unknown mode `{name}`: the modes are sum, lse, log_scaled, log_scaled_lse"))),
        }
    }
    /// Whether the mode uses the log form c = log k of the kernel.
    pub fn is_log(self) -> bool {
        self != Mode::Sum
    }
    /// Whether the mode takes the scaling vectors a_log and b_log.
    pub fn is_scaled(self) -> bool {
        matches!(self, Mode::LogScaled | Mode::LogScaledLse)
    }
}

/// The shape of one atom's gamma: its dimension (1, D or D·D) and whether it varies with j.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gamma {
    pub dim: usize,
    pub per_point: bool,
}

/// A kernel name, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    name: String,
    term: Term,
    /// The atomic formulas in order of appearance, each with the index of its pair.
    atoms: Vec<(Atom, usize)>,
    /// The pairs of variable names in order of first appearance.
    pairs: Vec<(char, char)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Const(i64),
    /// The atom of index `usize` in `Kernel::atoms`.
    Atom(usize),
    Add(Box<Term>, Box<Term>),
    Mul(Box<Term>, Box<Term>),
    Pow(Box<Term>, i32),
}

fn invalid(msg: String) -> Error {
    Error::InvalidOp { op: "kernel_product".into(), msg }
}

impl Kernel {
    /// Parses a kernel name; errors carry the column of the mistake.
    pub fn parse(name: &str) -> Result<Kernel> {
        parse::parse(name)
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The atomic formulas in order of appearance, with the index of their pair.
    pub fn atoms(&self) -> &[(Atom, usize)] {
        &self.atoms
    }
    /// The pairs of variables, e.g. `[('x', 'y'), ('u', 'v')]`.
    pub fn pairs(&self) -> &[(char, char)] {
        &self.pairs
    }

    /// The reduction over j for points of dimension `dims[p]` for pair p, one gamma per atom
    /// (`None` for `linear`), a signal of dimension `b_dim` and a mode.
    pub fn reduce(&self, mode: Mode, dims: &[usize], gammas: &[Option<Gamma>], b_dim: usize) -> Result<Reduce> {
        if dims.len() != self.pairs.len() {
            return Err(invalid(format!(
                "{} has {} pair(s) of variables but got points for {}",
                self.name,
                self.pairs.len(),
                dims.len()
            )));
        }
        if gammas.len() != self.atoms.len() {
            return Err(invalid(format!(
                "{} has {} atomic formula(s), each with its gamma, but got {} gamma(s)",
                self.name,
                self.atoms.len(),
                gammas.len()
            )));
        }
        if matches!(mode, Mode::Lse | Mode::LogScaledLse) && b_dim != 1 {
            // A log-sum-exp reduces one scalar per pair, so the signal added to c must be one too.
            return Err(invalid(format!("in the log-sum-exp modes b must have one column, got {b_dim}")));
        }
        let mut decls = Vec::new();
        let mut declare = |name: String, dim: usize, cat: Cat| -> Result<Expr> {
            let index = decls.len();
            decls.push(VarDecl { name, index, dim, cat });
            Expr::var(index, dim, cat)
        };
        let mut points = Vec::new();
        for (&(a, b), &d) in self.pairs.iter().zip(dims) {
            points.push((declare(a.to_string(), d, Cat::I)?, declare(b.to_string(), d, Cat::J)?));
        }
        let mut gamma_vars = Vec::new();
        for (k, (&(atom, pair), gamma)) in self.atoms.iter().zip(gammas).enumerate() {
            let d = dims[pair];
            let (a, b) = self.pairs[pair];
            let what = format!("gamma {k} (of {}({a},{b}))", atom.name());
            gamma_vars.push(match (atom.has_gamma(), gamma) {
                (false, None) => None,
                (false, Some(_)) => return Err(invalid(format!("{what} must be none: linear takes no parameter"))),
                (true, None) => return Err(invalid(format!("{what} is missing"))),
                (true, Some(g)) if g.dim != 1 && g.dim != d && g.dim != d * d => {
                    return Err(invalid(format!(
                        "{what} has dimension {}: expected 1 (scalar), {d} (diagonal) or {} (full {d}×{d} matrix)",
                        g.dim,
                        d * d
                    )))
                }
                (true, Some(g)) => {
                    let cat = if g.per_point { Cat::J } else { Cat::P };
                    Some(declare(format!("gamma{k}"), g.dim, cat)?)
                }
            });
        }
        let b = declare("b".into(), b_dim, Cat::J)?;
        let scales = if mode.is_scaled() {
            Some((declare("a_log".into(), 1, Cat::I)?, declare("b_log".into(), 1, Cat::J)?))
        } else {
            None
        };
        let atom = |k: usize, log: bool| -> Result<Expr> {
            let (kind, pair) = self.atoms[k];
            let (x, y) = points[pair].clone();
            atom_formula(kind, x, y, gamma_vars[k].clone(), log, &self.name)
        };
        let formula = if mode.is_log() {
            let c = log_form(&self.term, &atom)?;
            let c = match scales {
                Some((a_log, b_log)) => c.add(a_log)?.add(b_log)?,
                None => c,
            };
            match mode {
                Mode::LogScaled => c.exp()?.mul(b)?,
                _ => c.add(b)?,
            }
        } else {
            sum_form(&self.term, &atom)?.mul(b)?
        };
        let reduction =
            if matches!(mode, Mode::Lse | Mode::LogScaledLse) { Reduction::LogSumExp } else { Reduction::Sum };
        Reduce::with_vars(formula, None, reduction, Axis::J, &decls)
    }
}

/// One atomic kernel, as k (`log` false) or as c = log k (`log` true).
fn atom_formula(kind: Atom, x: Expr, y: Expr, gamma: Option<Expr>, log: bool, name: &str) -> Result<Expr> {
    if x.dim() != y.dim() {
        return Err(invalid(format!(
            "{}: the points of a pair have dimensions {} and {}",
            kind.name(),
            x.dim(),
            y.dim()
        )));
    }
    let w = || -> Result<Expr> {
        let g = gamma.clone().ok_or_else(|| invalid(format!("{} needs a gamma", kind.name())))?;
        Expr::new(Op::WeightedSqDist, vec![g, x.clone(), y.clone()])
    };
    let one_plus_w = || Expr::int(1).add(w()?);
    let half = || Expr::constant(0.5);
    Ok(match (kind, log) {
        (Atom::Linear, false) => x.scalprod(y)?,
        (Atom::Linear, true) => {
            // ⟨x, y⟩ takes both signs, so its logarithm is not defined for every pair.
            return Err(invalid(format!(
                "{name}: linear(x,y) can be negative and has no log form, so it cannot be used in the log modes (lse, log_scaled, log_scaled_lse)"
            )));
        }
        (Atom::Distance, false) => w()?.sqrt()?,
        (Atom::Distance, true) => half().mul(w()?.log()?)?,
        (Atom::Gaussian, false) => w()?.neg()?.exp()?,
        (Atom::Gaussian, true) => w()?.neg()?,
        (Atom::Laplacian, false) => w()?.sqrt()?.neg()?.exp()?,
        (Atom::Laplacian, true) => w()?.sqrt()?.neg()?,
        (Atom::Cauchy, false) => Expr::int(1).div(one_plus_w()?)?,
        (Atom::Cauchy, true) => one_plus_w()?.log()?.neg()?,
        (Atom::InverseMultiquadric, false) => Expr::int(1).div(one_plus_w()?.sqrt()?)?,
        (Atom::InverseMultiquadric, true) => half().mul(one_plus_w()?.log()?)?.neg()?,
    })
}

/// The kernel k as a formula.
fn sum_form(t: &Term, atom: &dyn Fn(usize, bool) -> Result<Expr>) -> Result<Expr> {
    match t {
        Term::Const(n) => Ok(Expr::int(*n)),
        Term::Atom(k) => atom(*k, false),
        Term::Add(a, b) => sum_form(a, atom)?.add(sum_form(b, atom)?),
        Term::Mul(a, b) => sum_form(a, atom)?.mul(sum_form(b, atom)?),
        Term::Pow(a, n) => sum_form(a, atom)?.pow(*n),
    }
}

/// The kernel's logarithm c = log k, built from the atoms' log forms so that products become
/// sums and no exp(−‖x−y‖²) underflows before the log is taken.
fn log_form(t: &Term, atom: &dyn Fn(usize, bool) -> Result<Expr>) -> Result<Expr> {
    match t {
        Term::Const(n) if *n > 0 => Ok(Expr::constant((*n as f64).ln())),
        Term::Const(n) => {
            Err(invalid(format!("the constant {n} has no logarithm, so it cannot be used in the log modes")))
        }
        Term::Atom(k) => atom(*k, true),
        Term::Add(a, b) => log_add(log_form(a, atom)?, log_form(b, atom)?),
        Term::Mul(a, b) => log_form(a, atom)?.add(log_form(b, atom)?),
        Term::Pow(_, 0) => Ok(Expr::int(0)),
        Term::Pow(a, n) => Expr::int(i64::from(*n)).mul(log_form(a, atom)?),
    }
}

/// log(eᵃ + eᵇ) = max(a, b) + log(1 + e^−|a−b|), with max(a, b) = (a + b + |a − b|)/2: neither
/// exponential is taken of a large negative number, so far-apart points do not underflow to log 0.
fn log_add(a: Expr, b: Expr) -> Result<Expr> {
    let gap = a.clone().sub(b.clone())?.unary(UnaryOp::Abs)?;
    let max = Expr::constant(0.5).mul(a.add(b)?.add(gap.clone())?)?;
    max.add(Expr::int(1).add(gap.neg()?.exp()?)?.log()?)
}
