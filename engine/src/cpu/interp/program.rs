//! The interpreter's program: the plan's pair instructions as lane steps over tiles of `L` points.
//!
//! Row values (computed once per output row by `cpu/rows.rs`) are read from the row's buffer;
//! every pair instruction becomes a lane step, run over a tile of `L` consecutive points of the
//! reduced index, each op's loop vectorised. This is the portable engine; the JIT (`cpu/jit/`)
//! runs the same plan without a memory round trip per step where the CPU allows it.

use super::super::rows::RowLayout;
use crate::expr::Op;
use crate::ops::{BinaryOp, UnaryOp};
use crate::plan::{Instr, KernelPlan, Stage};
use std::collections::HashMap;

/// Lanes per tile: points of the reduced index processed by one pass of a step.
pub const L: usize = 64;

/// Where a lane step reads an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// Offset in the row's uniform buffer: one value per component, the same for every lane.
    U(usize),
    /// A reduced-side variable: its first component in the tile.
    In(usize),
    /// First row of the register file holding the operand (one row of `L` lanes per component).
    R(usize),
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
    /// Row values copied into register rows once per row: (row-buffer offset, dim, first row).
    pub broadcasts: Vec<(usize, usize, usize)>,
    pub lane: Vec<LStep>,
    /// Rows of `L` lanes in the register file.
    pub nrows: usize,
    /// The formula (and weight) values per tile: (source, dim). Never `Src::U`.
    pub roots: Vec<(Src, usize)>,
    /// The reduced side's variables in tile order: (argument, dimension).
    pub inner_args: Vec<(usize, usize)>,
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
    /// Compiles the pair part of a plan, reading row values from buffers laid out by `rows`.
    pub fn compile(plan: &KernelPlan, rows: &RowLayout) -> Program {
        let mut p = Program { broadcasts: vec![], lane: vec![], nrows: 0, roots: vec![], inner_args: vec![] };
        let mut broadcast_rows: HashMap<usize, usize> = HashMap::new();
        let mut broadcast = |p: &mut Program, off: usize, dim: usize| -> usize {
            *broadcast_rows.entry(off).or_insert_with(|| {
                let row = p.nrows;
                p.nrows += dim;
                p.broadcasts.push((off, dim, row));
                row
            })
        };
        // Where every value lives: row values in the row buffer, pair values in registers or
        // (variables of the reduced side) in their tiles.
        let mut loc: Vec<Option<Src>> = (0..plan.values.len())
            .map(|v| rows.offset[v].filter(|_| plan.values[v].stage != Stage::Pair).map(Src::U))
            .collect();
        for ins in plan.pair_instrs() {
            let out = ins.out();
            let dim = plan.values[out].dim;
            loc[out] = Some(match ins {
                Instr::Load { arg, .. } => {
                    // The plan loads each variable once, in the order of `KernelPlan::inner_args`.
                    let first = p.inner_args.iter().map(|&(_, d)| d).sum();
                    p.inner_args.push((*arg, dim));
                    Src::In(first)
                }
                Instr::Op { op, args, .. } => {
                    let kernel = kernel_for(op);
                    let ok = accepts_uniform(&kernel, args.len());
                    let args: Vec<(Src, usize)> = args
                        .iter()
                        .zip(ok)
                        .map(|(&a, ok)| {
                            let d = plan.values[a].dim;
                            match loc[a] {
                                Some(Src::U(off)) if !ok => (Src::R(broadcast(&mut p, off, d)), d),
                                Some(s) => (s, d),
                                None => unreachable!("the plan defines every operand before its use"),
                            }
                        })
                        .collect();
                    let row = p.nrows;
                    p.nrows += dim;
                    p.lane.push(LStep { kernel, args, out: row, dim });
                    Src::R(row)
                }
            });
        }
        let roots: Vec<usize> = std::iter::once(plan.formula).chain(plan.weight).collect();
        p.roots = roots
            .iter()
            .map(|&r| {
                let d = plan.values[r].dim;
                match loc[r] {
                    Some(Src::U(off)) => (Src::R(broadcast(&mut p, off, d)), d),
                    Some(s) => (s, d),
                    None => unreachable!("the plan defines its roots"),
                }
            })
            .collect();
        p
    }
}
