//! The row part of a plan on the CPU: every value that is the same for a whole output row, computed once per row.
//!
//! Values of stage Param and Row get a slot in a per-row buffer of scalars (`offset[v]`); a row's
//! buffer is filled by running the plan's row instructions with `eval_op`. The pair engines
//! read those slots (the interpreter directly, the JIT after broadcasting them to full vectors).

use crate::eval::eval_op;
use crate::expr::Cat;
use crate::plan::{Instr, KernelPlan, Stage, ValueId};
use crate::real::Real;
use ndarray::ArrayView2;

/// Where each row value lives in a row's buffer.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// For every value of the plan: its offset in the row buffer (`None` for pair values).
    pub offset: Vec<Option<usize>>,
    /// Scalars per row.
    pub len: usize,
}

impl RowLayout {
    pub fn new(plan: &KernelPlan) -> RowLayout {
        let mut offset = vec![None; plan.values.len()];
        let mut len = 0;
        for ins in plan.row_instrs() {
            let v = ins.out();
            offset[v] = Some(len);
            len += plan.values[v].dim;
        }
        RowLayout { offset, len }
    }

    /// The slice of a row buffer holding value `v` (a row or param value).
    pub fn slot<'a, T>(&self, plan: &KernelPlan, buf: &'a [T], v: ValueId) -> Option<&'a [T]> {
        let off = self.offset[v]?;
        Some(&buf[off..off + plan.values[v].dim])
    }

    /// Fills `buf` (of `len` scalars) for output row `r`: the outer side's variables are read
    /// at row `r`, parameters at row 0.
    pub fn fill<T: Real>(&self, plan: &KernelPlan, inputs: &[ArrayView2<T>], outer: Cat, r: usize, buf: &mut [T]) {
        for ins in plan.row_instrs() {
            let out = ins.out();
            let (off, dim) = (self.offset[out].unwrap_or(0), plan.values[out].dim);
            match ins {
                Instr::Load { arg, cat, .. } => {
                    let row = if *cat == outer { r } else { 0 };
                    for k in 0..dim {
                        buf[off + k] = inputs[*arg][[row, k]];
                    }
                }
                Instr::Op { op, args, .. } => {
                    // Operands are always placed before their node, so they lie before `off`.
                    let (done, rest) = buf.split_at_mut(off);
                    let mut slices: [&[T]; crate::expr::MAX_ARITY] = [&[]; crate::expr::MAX_ARITY];
                    for (s, &a) in slices.iter_mut().zip(args) {
                        let o = self.offset[a].unwrap_or(0);
                        *s = &done[o..o + plan.values[a].dim];
                    }
                    eval_op(op, &slices[..args.len()], &mut rest[..dim]);
                }
            }
        }
    }

    /// True when value `v` is computed per row (not per pair).
    pub fn is_row(&self, plan: &KernelPlan, v: ValueId) -> bool {
        plan.values[v].stage != Stage::Pair
    }
}
