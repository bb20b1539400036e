//! Compiles a formula DAG into the CPU backend's program: per-row (uniform) steps and per-tile (lane) steps.
//!
//! A node that depends on no reduced-over variable has the same value for a whole output row, so
//! it is computed once per row ("uniform"), in scalar code. Every other node becomes a lane step,
//! run over a tile of `L` consecutive points of the reduced index, each op's loop vectorised.
//! Before compiling, a few algebraic identities fuse common patterns into single steps (a squared
//! distance written `SqNorm2(x - y)` or `Sum((x - y)**2)` becomes one `SqDist` loop).

use crate::expr::{Cat, Expr, Op};
use crate::genred::Reduce;
use crate::ops::{BinaryOp, UnaryOp};
use crate::reduction::{Axis, Reduction};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Lanes per tile: points of the reduced index processed by one pass of a step.
pub const L: usize = 64;

/// Where a lane step reads an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// Offset in the row's uniform buffer: one value per component, the same for every lane.
    U(usize),
    /// A reduced-over variable, read from its transposed tile.
    In(usize),
    /// First row of the register file holding the operand (one row of `L` lanes per component).
    R(usize),
}

/// A step computed once per output row.
#[derive(Debug, Clone)]
pub enum UStep {
    /// Copies argument `arg`'s row (or the parameter) into the buffer at `out`.
    Load { arg: usize, cat: Cat, out: usize, dim: usize },
    /// Evaluates `op` on earlier buffer slices `(offset, dim)`.
    Eval { op: Op, args: Vec<(usize, usize)>, out: usize, dim: usize },
}

/// The loop a lane step runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    Unary(UnaryOp),
    Binary(BinaryOp),
    Pow(i32),
    SqDist,
    Scalprod,
    SqNorm2,
    Norm2,
    Sum,
    /// Rows start..start+len of the operand (Elem, Extract).
    Slice {
        start: usize,
    },
    /// The operand placed at `start` in zero rows (ElemT, ExtractT).
    Place {
        start: usize,
    },
    Concat,
    IfElse,
    Clamp,
    /// Any other op: evaluated lane by lane through `eval_op`.
    Generic(Op),
}

/// A step computed per tile.
#[derive(Debug, Clone)]
pub struct LStep {
    pub kernel: Kernel,
    /// Operands with their dimensions.
    pub args: Vec<(Src, usize)>,
    /// First register row of the result.
    pub out: usize,
    pub dim: usize,
}

/// A compiled reduction, independent of the element type.
#[derive(Debug)]
pub struct Program {
    pub uniform: Vec<UStep>,
    /// Length of a row's uniform buffer.
    pub ulen: usize,
    /// Uniform values copied into register rows once per row: (offset, dim, first row).
    pub broadcasts: Vec<(usize, usize, usize)>,
    pub lane: Vec<LStep>,
    /// Rows of `L` lanes in the register file.
    pub nrows: usize,
    /// The formula (and weight) values per tile: (source, dim). Never `Src::U`.
    pub roots: Vec<(Src, usize)>,
    /// For each inner slot, the argument it reads and its dimension.
    pub inner_args: Vec<(usize, usize)>,
    /// For a Sum whose formula had per-row factors: the uniform (offset, dim) of their product,
    /// by which each finished row is multiplied (Σ_j u_i·L_ij = u_i·Σ_j L_ij).
    pub post_scale: Option<(usize, usize)>,
}

/// Splits a product into the factors that depend on the reduced index and those that do not
/// (a leading minus counts as a factor -1).
fn split_factors(e: &Expr, lane_dep: &dyn Fn(&Expr) -> bool, uniform: &mut Vec<Expr>, lane: &mut Vec<Expr>) {
    match e.op() {
        Op::Binary(BinaryOp::Mul) => {
            split_factors(e.arg(0), lane_dep, uniform, lane);
            split_factors(e.arg(1), lane_dep, uniform, lane);
        }
        Op::Unary(UnaryOp::Minus) => {
            uniform.push(Expr::constant(-1.0));
            split_factors(e.arg(0), lane_dep, uniform, lane);
        }
        _ if lane_dep(e) => lane.push(e.clone()),
        _ => uniform.push(e.clone()),
    }
}

fn product(factors: Vec<Expr>) -> Option<Expr> {
    factors.into_iter().try_fold(None, |acc: Option<Expr>, f| match acc {
        None => Some(Some(f)),
        Some(a) => a.mul(f).ok().map(Some),
    })?
}

/// For a Sum, rewrites F = u·L (u the per-row factors) as the lane part L and the factor u,
/// when both exist and L keeps F's dimension; otherwise leaves F alone.
fn hoist_row_factors(f: &Expr, inner: Cat) -> (Expr, Option<Expr>) {
    let vars_inner = |e: &Expr| Expr::variables(std::slice::from_ref(e)).iter().any(|v| v.2 == inner);
    let (mut uniform, mut lane) = (Vec::new(), Vec::new());
    split_factors(f, &vars_inner, &mut uniform, &mut lane);
    if uniform.is_empty() || lane.is_empty() {
        return (f.clone(), None);
    }
    match (product(lane), product(uniform)) {
        (Some(l), Some(u)) if l.dim() == f.dim() && (u.dim() == 1 || u.dim() == f.dim()) => (l, Some(u)),
        _ => (f.clone(), None),
    }
}

/// Rewrites that turn common spellings into the fused kernels. Each preserves the value exactly
/// in real arithmetic (floating-point rounding may differ in the last bits).
fn fuse(e: &Expr, memo: &mut HashMap<Expr, Expr>) -> Expr {
    if let Some(f) = memo.get(e) {
        return f.clone();
    }
    let args: Vec<Expr> = e.args().iter().map(|a| fuse(a, memo)).collect();
    let is_sub = |x: &Expr| matches!(x.op(), Op::Binary(BinaryOp::Sub)) && x.arg(0).dim() == x.arg(1).dim();
    let squared_sub = |x: &Expr| -> Option<Expr> {
        match x.op() {
            Op::Unary(UnaryOp::Square) | Op::Pow(2) if is_sub(x.arg(0)) => Some(x.arg(0).clone()),
            _ => None,
        }
    };
    let fused = match e.op() {
        Op::SqNorm2 if is_sub(&args[0]) => args[0].arg(0).clone().sqdist(args[0].arg(1).clone()).ok(),
        Op::Sum => match squared_sub(&args[0]) {
            Some(d) => d.arg(0).clone().sqdist(d.arg(1).clone()).ok(),
            None if matches!(args[0].op(), Op::Binary(BinaryOp::Mul))
                && args[0].arg(0).dim() == args[0].arg(1).dim() =>
            {
                args[0].arg(0).clone().scalprod(args[0].arg(1).clone()).ok()
            }
            None => None,
        },
        _ => None,
    };
    let out = match fused {
        Some(f) => f,
        None if args.iter().zip(e.args()).all(|(a, b)| a == b) => e.clone(),
        // Rebuilding with fused operands keeps dimensions, so it cannot fail.
        None => Expr::new(e.op().clone(), args).unwrap_or_else(|_| e.clone()),
    };
    memo.insert(e.clone(), out.clone());
    out
}

/// Which lane positions of a kernel accept a uniform operand without broadcasting it.
fn accepts_uniform(k: &Kernel, arity: usize) -> Vec<bool> {
    match k {
        Kernel::Binary(_) | Kernel::SqDist | Kernel::Scalprod => vec![true; arity],
        _ => vec![false; arity],
    }
}

fn kernel_for(op: &Op) -> Kernel {
    match op {
        Op::Unary(u) => Kernel::Unary(*u),
        Op::Binary(b) => Kernel::Binary(*b),
        Op::Pow(n) => Kernel::Pow(*n),
        Op::SqDist => Kernel::SqDist,
        Op::Scalprod => Kernel::Scalprod,
        Op::SqNorm2 => Kernel::SqNorm2,
        Op::Norm2 => Kernel::Norm2,
        Op::Sum => Kernel::Sum,
        Op::Elem(m) => Kernel::Slice { start: *m },
        Op::Extract { start, .. } => Kernel::Slice { start: *start },
        Op::ElemT { index, .. } => Kernel::Place { start: *index },
        Op::ExtractT { start, .. } => Kernel::Place { start: *start },
        Op::Concat => Kernel::Concat,
        Op::IfElse => Kernel::IfElse,
        Op::Clamp => Kernel::Clamp,
        op => Kernel::Generic(op.clone()),
    }
}

impl Program {
    /// Compiles the formula and weight of a reduction.
    pub fn compile(spec: &Reduce) -> Program {
        let mut memo = HashMap::new();
        let mut roots: Vec<Expr> = spec.roots().iter().map(|r| fuse(r, &mut memo)).collect();
        let inner_cat = spec.axis.inner();
        let mut scale = None;
        if spec.reduction == Reduction::Sum {
            let (lane, u) = hoist_row_factors(&roots[0], inner_cat);
            roots[0] = lane;
            scale = u;
        }
        let all: Vec<Expr> = roots.iter().cloned().chain(scale.clone()).collect();
        let order = Expr::topo_order(&all);
        let mut lane_dep: HashMap<Expr, bool> = HashMap::new();
        let mut loc: HashMap<Expr, Src> = HashMap::new();
        let mut p = Program {
            uniform: vec![],
            ulen: 0,
            broadcasts: vec![],
            lane: vec![],
            nrows: 0,
            roots: vec![],
            inner_args: vec![],
            post_scale: None,
        };
        let mut broadcast_rows: HashMap<usize, usize> = HashMap::new();
        let mut broadcast = |p: &mut Program, off: usize, dim: usize| -> usize {
            *broadcast_rows.entry(off).or_insert_with(|| {
                let row = p.nrows;
                p.nrows += dim;
                p.broadcasts.push((off, dim, row));
                row
            })
        };
        for e in &order {
            let dep = match e.op() {
                Op::Var { cat, .. } => *cat == inner_cat,
                _ => e.args().iter().any(|a| lane_dep[a]),
            };
            lane_dep.insert(e.clone(), dep);
            let src = match (e.op(), dep) {
                (Op::Var { index, dim, .. }, true) => {
                    let slot = p.inner_args.iter().position(|&(a, _)| a == *index).unwrap_or_else(|| {
                        p.inner_args.push((*index, *dim));
                        p.inner_args.len() - 1
                    });
                    Src::In(slot)
                }
                (op, false) => {
                    let out = p.ulen;
                    p.ulen += e.dim();
                    p.uniform.push(match op {
                        Op::Var { index, cat, dim } => UStep::Load { arg: *index, cat: *cat, out, dim: *dim },
                        op => UStep::Eval {
                            op: op.clone(),
                            args: e
                                .args()
                                .iter()
                                .map(|a| match loc[a] {
                                    Src::U(off) => (off, a.dim()),
                                    _ => unreachable!("operands of a uniform node are uniform"),
                                })
                                .collect(),
                            out,
                            dim: e.dim(),
                        },
                    });
                    Src::U(out)
                }
                (op, true) => {
                    let kernel = kernel_for(op);
                    let ok = accepts_uniform(&kernel, e.args().len());
                    let args: Vec<(Src, usize)> = e
                        .args()
                        .iter()
                        .zip(ok)
                        .map(|(a, ok)| match loc[a] {
                            Src::U(off) if !ok => (Src::R(broadcast(&mut p, off, a.dim())), a.dim()),
                            s => (s, a.dim()),
                        })
                        .collect();
                    let out = p.nrows;
                    p.nrows += e.dim();
                    p.lane.push(LStep { kernel, args, out, dim: e.dim() });
                    Src::R(out)
                }
            };
            loc.insert(e.clone(), src);
        }
        p.post_scale = scale.map(|u| match loc[&u] {
            Src::U(off) => (off, u.dim()),
            _ => unreachable!("the hoisted factors depend on no reduced-over variable"),
        });
        p.roots = roots
            .iter()
            .map(|r| match loc[r] {
                Src::U(off) => (Src::R(broadcast(&mut p, off, r.dim())), r.dim()),
                s => (s, r.dim()),
            })
            .collect();
        p
    }
}

type CacheKey = (Vec<Expr>, Reduction, Axis);

static CACHE: Mutex<Option<HashMap<CacheKey, Arc<Program>>>> = Mutex::new(None);

/// The compiled program of a reduction, compiled on first use and cached by formula, weight,
/// reduction and axis (the program serves every element type).
pub fn cached(spec: &Reduce) -> Arc<Program> {
    let key: CacheKey = (spec.roots(), spec.reduction, spec.axis);
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(p) = map.get(&key) {
        return p.clone();
    }
    // A bounded cache: a script generating endless distinct formulas must not grow memory forever.
    if map.len() >= 4096 {
        map.clear();
    }
    let p = Arc::new(Program::compile(spec));
    map.insert(key, p.clone());
    p
}
