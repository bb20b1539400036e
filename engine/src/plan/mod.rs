//! The one lowering of a reduction into a backend-neutral kernel plan, which every backend consumes.
//!
//! A [`KernelPlan`] is a straight-line program over values (vectors of a fixed dimension), in
//! evaluation order, each value tagged with the [`Stage`] at which it changes: once per call
//! (parameters and constants), once per output row (the outer side's variables and what depends
//! only on them), or once per pair. A backend computes the row part once per output row and runs
//! the pair part for every pair, folding the formula (and weight) values into the reduction's
//! state; `state.rs` defines that state's init, combine and finalize. Neither the CPU backend
//! nor the CUDA code generator walks the formula DAG: both read this plan.
//!
//! Lowering applies the rewrites of `rewrite.rs` (fused distances; for a Sum, per-row factors
//! moved out of the pair part into `post_scale`), then orders the DAG with an explicit stack.
//! Plans are cached by formula, weight, reduction and axis.

pub mod rewrite;

use crate::expr::{Cat, Expr, Op};
use crate::reduction::{Axis, Reduction};
use crate::spec::Reduce;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An index into [`KernelPlan::values`].
pub type ValueId = usize;

/// When a value changes, from the rarest to the most frequent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Once per call: constants, parameters and what depends only on them.
    Param,
    /// Once per output row: the outer side's variables and what depends on them (not on the reduced side).
    Row,
    /// Once per pair: what depends on a variable of the reduced side.
    Pair,
}

/// A value of the plan: a vector of `dim` components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    pub dim: usize,
    pub stage: Stage,
}

/// One step of the plan; each defines one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Instr {
    /// `out` is argument `arg` of the reduction: a parameter, the output row's point (outer
    /// side) or the pair's point on the reduced side.
    Load { out: ValueId, arg: usize, cat: Cat },
    /// `out = op(args)`, with the semantics of `eval::eval_op`.
    Op { out: ValueId, op: Op, args: Vec<ValueId> },
}

impl Instr {
    pub fn out(&self) -> ValueId {
        match self {
            Instr::Load { out, .. } | Instr::Op { out, .. } => *out,
        }
    }
}

/// A reduction lowered for the backends.
#[derive(Debug, Clone)]
pub struct KernelPlan {
    pub reduction: Reduction,
    pub axis: Axis,
    pub values: Vec<Value>,
    /// Every instruction in evaluation order: those of stages Param and Row first
    /// (`instrs[..pair_start]`), then the Pair ones.
    pub instrs: Vec<Instr>,
    pub pair_start: usize,
    /// The formula's value (of any stage: a formula that does not depend on the reduced side
    /// is a row value that every pair of the row folds).
    pub formula: ValueId,
    /// The weight formula of the log-sum-exp reductions that take one.
    pub weight: Option<ValueId>,
    /// For a Sum lowered as u·Σ L: the row value u multiplying each finished row (a scalar or
    /// of the formula's dimension); `formula` is then L.
    pub post_scale: Option<ValueId>,
}

impl KernelPlan {
    /// Lowers a reduction (its formula, weight, reduction and axis).
    pub fn lower(spec: &Reduce) -> KernelPlan {
        let mut roots = rewrite::fuse(&spec.roots());
        let inner = spec.axis.inner();
        let mut post_scale = None;
        if spec.reduction == Reduction::Sum {
            let (lane, u) = rewrite::hoist_row_factors(&roots[0], inner);
            roots[0] = lane;
            post_scale = u;
        }
        let all: Vec<Expr> = roots.iter().cloned().chain(post_scale.clone()).collect();
        let order = Expr::topo_order(&all);
        let mut stage_of: HashMap<&Expr, Stage> = HashMap::with_capacity(order.len());
        for e in &order {
            let stage = match e.op() {
                Op::Var { cat, .. } if *cat == inner => Stage::Pair,
                Op::Var { cat: Cat::P, .. } => Stage::Param,
                Op::Var { .. } => Stage::Row,
                _ => e.args().iter().map(|a| stage_of[a]).max().unwrap_or(Stage::Param),
            };
            stage_of.insert(e, stage);
        }
        // A stable partition keeps the order topological: nothing of an earlier stage depends
        // on a later one.
        let (early, pair): (Vec<&Expr>, Vec<&Expr>) = order.iter().partition(|e| stage_of[e] != Stage::Pair);
        let mut id: HashMap<&Expr, ValueId> = HashMap::with_capacity(order.len());
        let mut values = Vec::with_capacity(order.len());
        let mut instrs = Vec::with_capacity(order.len());
        for e in early.iter().chain(&pair) {
            let out = values.len();
            values.push(Value { dim: e.dim(), stage: stage_of[e] });
            instrs.push(match e.op() {
                Op::Var { index, cat, .. } => Instr::Load { out, arg: *index, cat: *cat },
                op => Instr::Op { out, op: op.clone(), args: e.args().iter().map(|a| id[a]).collect() },
            });
            id.insert(e, out);
        }
        KernelPlan {
            reduction: spec.reduction,
            axis: spec.axis,
            values,
            instrs,
            pair_start: early.len(),
            formula: id[&roots[0]],
            weight: roots.get(1).map(|w| id[w]),
            post_scale: post_scale.as_ref().map(|u| id[u]),
        }
    }

    /// The instructions computed once per output row (and per call): stages Param and Row.
    pub fn row_instrs(&self) -> &[Instr] {
        &self.instrs[..self.pair_start]
    }

    /// The instructions computed for every pair.
    pub fn pair_instrs(&self) -> &[Instr] {
        &self.instrs[self.pair_start..]
    }

    /// The arguments read on the reduced side, (argument, dimension) in order of first use.
    pub fn inner_args(&self) -> Vec<(usize, usize)> {
        self.pair_instrs()
            .iter()
            .filter_map(|i| match i {
                Instr::Load { out, arg, .. } => Some((*arg, self.values[*out].dim)),
                Instr::Op { .. } => None,
            })
            .collect()
    }

    pub fn formula_dim(&self) -> usize {
        self.values[self.formula].dim
    }

    /// The weight's dimension, 1 without a weight.
    pub fn weight_dim(&self) -> usize {
        self.weight.map_or(1, |w| self.values[w].dim)
    }

    /// A readable listing, one instruction per line (`v3 = SqDist(v0, v2)  [pair, dim 1]`):
    /// what snapshot tests and debugging read.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for ins in &self.instrs {
            let out = ins.out();
            let v = self.values[out];
            let what = match ins {
                Instr::Load { arg, cat, .. } => format!("{}(arg {arg})", cat.short()),
                Instr::Op { op, args, .. } => {
                    let args: Vec<String> = args.iter().map(|a| format!("v{a}")).collect();
                    format!("{}({})", op_label(op), args.join(", "))
                }
            };
            let stage = match v.stage {
                Stage::Param => "param",
                Stage::Row => "row",
                Stage::Pair => "pair",
            };
            s.push_str(&format!("v{out} = {what}  [{stage}, dim {}]\n", v.dim));
        }
        s.push_str(&format!("fold {} over {:?}: formula v{}", self.reduction, self.axis, self.formula));
        if let Some(w) = self.weight {
            s.push_str(&format!(", weight v{w}"));
        }
        if let Some(u) = self.post_scale {
            s.push_str(&format!(", then times v{u}"));
        }
        s.push('\n');
        s
    }
}

/// An op with its parameters, for listings.
fn op_label(op: &Op) -> String {
    match op {
        Op::Const(bits) => format!("Const {}", f64::from_bits(*bits)),
        Op::IntCst(n) => format!("IntCst {n}"),
        Op::Pow(n) => format!("Pow {n}"),
        Op::Round(d) => format!("Round {d}"),
        Op::Elem(m) => format!("Elem {m}"),
        Op::Extract { start, len } => format!("Extract {start}..{}", start + len),
        op => op.name().to_string(),
    }
}

type CacheKey = (Vec<Expr>, Reduction, Axis);

/// The plan of a reduction, lowered on first use and cached (bounded, so that a script making
/// endless distinct formulas does not grow memory forever).
pub fn cached(spec: &Reduce) -> Arc<KernelPlan> {
    static CACHE: Mutex<Option<HashMap<CacheKey, Arc<KernelPlan>>>> = Mutex::new(None);
    let key: CacheKey = (spec.roots(), spec.reduction, spec.axis);
    if let Some(p) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(&key)) {
        return p.clone();
    }
    // Lowering runs outside the lock: a 10⁵-node formula must not stall other threads' lookups.
    let plan = Arc::new(KernelPlan::lower(spec));
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= 4096 {
        map.clear();
    }
    map.insert(key, plan.clone());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Genred;

    fn plan(formula: &str, reduction: Reduction) -> String {
        let aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"];
        let g = Genred::new(formula, &aliases, reduction, Axis::J).unwrap();
        KernelPlan::lower(g.reduce()).listing()
    }

    #[test]
    fn gaussian_convolution() {
        expect_test::expect![[r#"
            v0 = Pm(arg 3)  [param, dim 1]
            v1 = Minus(v0)  [param, dim 1]
            v2 = Vi(arg 0)  [row, dim 3]
            v3 = Vj(arg 1)  [pair, dim 3]
            v4 = SqDist(v2, v3)  [pair, dim 1]
            v5 = Mult(v1, v4)  [pair, dim 1]
            v6 = Exp(v5)  [pair, dim 1]
            v7 = Vj(arg 2)  [pair, dim 1]
            v8 = Mult(v6, v7)  [pair, dim 1]
            fold Sum over J: formula v8
        "#]]
        .assert_eq(&plan("Exp(-s*SqNorm2(x-y))*b", Reduction::Sum));
    }

    #[test]
    fn row_factors_and_log_sum_exp() {
        expect_test::expect![[r#"
            v0 = Vi(arg 0)  [row, dim 3]
            v1 = Pm(arg 3)  [param, dim 1]
            v2 = Vj(arg 1)  [pair, dim 3]
            v3 = Scalprod(v0, v2)  [pair, dim 1]
            v4 = Vj(arg 2)  [pair, dim 1]
            v5 = Mult(v3, v4)  [pair, dim 1]
            fold Sum over J: formula v5, then times v1
        "#]]
        .assert_eq(&plan("s*Sum(x*y)*b", Reduction::Sum));
        expect_test::expect![[r#"
            v0 = Vi(arg 0)  [row, dim 3]
            v1 = Vj(arg 1)  [pair, dim 3]
            v2 = SqDist(v0, v1)  [pair, dim 1]
            v3 = Minus(v2)  [pair, dim 1]
            fold LogSumExp over J: formula v3
        "#]]
        .assert_eq(&plan("-SqDist(x,y)", Reduction::LogSumExp));
    }

    #[test]
    fn a_formula_of_one_side_is_a_row_value() {
        let p = {
            let g = Genred::new("Exp(x)", &["x = Vi(3)", "y = Vj(3)"], Reduction::Sum, Axis::J).unwrap();
            KernelPlan::lower(g.reduce())
        };
        assert_eq!(p.pair_start, p.instrs.len());
        assert_eq!(p.values[p.formula].stage, Stage::Row);
    }
}
