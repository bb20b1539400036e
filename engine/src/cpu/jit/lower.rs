//! From a kernel plan to the JIT's vector code: the pair instructions and the fold of one loop iteration.
//!
//! An iteration handles one tile of `U` vectors of the reduced side for `R` output rows at once
//! (register blocking): every pair instruction is expanded for each (row, vector) copy that
//! needs it — a value that depends on no row value is the same for every row and is computed
//! once per vector. Row values are memory operands (broadcast slots), the reduced side's
//! variables are memory operands in the tile, constants come from the pool. Operations without
//! vector code here become call-outs, computed lane by lane in Rust by `eval_op`.

use super::math;
use super::vir::{Acc, Bin, Code, Dst, Inst, MaskOp, Pred, RoundMode, Src, Un};
use super::{Elem, Isa, Pool};
use crate::cpu::rows::RowLayout;
use crate::expr::Op;
use crate::ops::{BinaryOp, UnaryOp};
use crate::plan::{Instr, KernelPlan, Stage, ValueId};
use crate::state::Family;
use std::collections::HashMap;

/// How the formula's values leave an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldKind {
    /// Lane sums, one set per row and vector of the tile.
    Sum,
    /// Per-lane running maximum and sums (log-sum-exp family): `sums` weighted ones, then a plain one.
    Lse { sums: usize, plain: bool },
    /// Per-lane best value and index (Max or Min family).
    Extreme { greater: bool },
    /// The formula's (and weight's) values are stored for Rust to fold: the KMin family, the
    /// sums that Rust accumulates (Kahan, float64 accumulation), and accumulators that do not
    /// fit in the registers.
    Map,
}

impl FoldKind {
    pub fn of(family: Family) -> FoldKind {
        match family {
            Family::Sum => FoldKind::Sum,
            Family::Lse { sums, plain } => FoldKind::Lse { sums, plain },
            Family::Extreme { greater } => FoldKind::Extreme { greater },
            Family::KMin(_) => FoldKind::Map,
        }
    }

    /// Copies of a row's accumulators in a kernel of `subs` vectors per iteration: one per
    /// vector, except for the log-sum-exp family, whose vectors fold one after the other into
    /// one running maximum and sums per row. Its fold is long (an exponential) but its chain
    /// through the accumulators short (a comparison, a blend, a fused multiply-add), so sharing
    /// costs no speed, frees registers for more rows per iteration, and leaves a quarter of the
    /// lanes to merge (each with an exponential) when the accumulators are flushed.
    pub fn copies(self, subs: usize) -> usize {
        match self {
            FoldKind::Lse { .. } => 1,
            _ => subs,
        }
    }

    /// Accumulators per copy for a formula of dimension d.
    pub fn accs_per_copy(self, d: usize) -> usize {
        match self {
            FoldKind::Sum => d,
            FoldKind::Lse { sums, plain } => 1 + sums + plain as usize,
            FoldKind::Extreme { .. } => 2 * d,
            FoldKind::Map => 0,
        }
    }
}

/// The initial value of an accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccInit {
    Zero,
    /// The most negative finite value (a log-sum-exp maximum before any value).
    Lowest,
    Inf,
    NegInf,
    /// Integer lanes −1 (an index not set yet).
    NoIndex,
    /// Integer lanes i0, i0 + 1, ...: the index of each lane of the first vector of the tile.
    LaneIndex,
}

/// A kernel's vector code and what running it needs.
#[derive(Debug)]
pub struct Lowered {
    pub code: Code,
    pub fold: FoldKind,
    pub rows: usize,
    pub subs: usize,
    /// Folds only the lanes that [`Src::Valid`] marks (a slice's last, partial tile).
    pub masked: bool,
    /// How to initialise each accumulator.
    pub accs: Vec<AccInit>,
    /// Broadcast slots: slot k holds scalar `uni[k]` of a row's buffer.
    pub uni: Vec<usize>,
    /// Components of the reduced side in a tile (Σ of the dimensions of `inner_args`).
    pub inner_width: usize,
    pub inner_args: Vec<(usize, usize)>,
    /// Ops computed by call-outs, by index: the op, its operands' dimensions, its dimension.
    pub callouts: Vec<CallOutOp>,
    /// The formula's dimension.
    pub d: usize,
    /// Components stored per row in map mode: the formula's, then the weight's.
    pub out_comps: usize,
}

/// An op computed lane by lane in Rust: the op, its operands' dimensions and its own.
pub type CallOutOp = (Op, Vec<usize>, usize);

/// Unsupported by the JIT for this plan (the interpreter runs it).
#[derive(Debug)]
pub struct Unsupported(pub String);

struct Lower<'a> {
    plan: &'a KernelPlan,
    rows_layout: &'a RowLayout,
    elem: Elem,
    isa: Isa,
    rows: usize,
    subs: usize,
    masked: bool,
    c: Code,
    pool: &'a mut Pool,
    uni: Vec<usize>,
    uni_index: HashMap<usize, u32>,
    inner_base: HashMap<usize, usize>,
    /// Components of pair values, per (value, row, sub).
    vals: HashMap<(ValueId, usize, usize), Vec<Src>>,
    /// Pair values that depend on a row value (computed per row, else once per vector).
    row_dep: Vec<bool>,
    callouts: Vec<CallOutOp>,
}

/// What a kernel is generated for: element type, instruction set, register blocking (`rows`
/// output rows × `subs` vectors per iteration), fold, and whether the fold skips the lanes that
/// hold padding (`masked`: the kernel of a slice's last, partial tile, folding in registers).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub elem: Elem,
    pub isa: Isa,
    pub rows: usize,
    pub subs: usize,
    pub fold: FoldKind,
    pub masked: bool,
}

/// Lowers a plan for a shape. `pool` collects the constants.
pub fn lower(
    plan: &KernelPlan,
    rows_layout: &RowLayout,
    shape: Shape,
    pool: &mut Pool,
) -> Result<Lowered, Unsupported> {
    let Shape { elem, isa, rows, subs, fold, masked } = shape;
    if masked && fold == FoldKind::Map {
        // Rust folds map mode's values over the valid lanes only: there is nothing to mask.
        return Err(Unsupported("a masked kernel in map mode".into()));
    }
    let inner_args = plan.inner_args();
    let mut inner_base = HashMap::new();
    let mut w = 0;
    for &(arg, dim) in &inner_args {
        inner_base.insert(arg, w);
        w += dim;
    }
    let mut row_dep = vec![false; plan.values.len()];
    for ins in &plan.instrs {
        let out = ins.out();
        row_dep[out] = match ins {
            Instr::Load { .. } => plan.values[out].stage == Stage::Row,
            Instr::Op { args, .. } => plan.values[out].stage == Stage::Row || args.iter().any(|&a| row_dep[a]),
        };
    }
    let mut l = Lower {
        plan,
        rows_layout,
        elem,
        isa,
        rows,
        subs,
        masked,
        c: Code::default(),
        pool,
        uni: vec![],
        uni_index: HashMap::new(),
        inner_base,
        vals: HashMap::new(),
        row_dep,
        callouts: vec![],
    };
    for ins in plan.pair_instrs() {
        let out = ins.out();
        let per_row = l.row_dep[out];
        for r in 0..if per_row { rows } else { 1 } {
            for u in 0..subs {
                let comps = match ins {
                    Instr::Load { arg, .. } => {
                        let base = l.inner_base[arg];
                        (0..plan.values[out].dim)
                            .map(|k| Src::Inner { comp: (base + k) as u32, sub: u as u32 })
                            .collect()
                    }
                    Instr::Op { op, args, .. } => {
                        let operands: Vec<Vec<Src>> = args.iter().map(|&a| l.operand(a, r, u)).collect();
                        l.op(op, &operands, plan.values[out].dim)?
                    }
                };
                l.vals.insert((out, r, u), comps);
            }
        }
    }
    let d = plan.formula_dim();
    let out_comps = d + plan.weight.map_or(0, |w| plan.values[w].dim);
    let accs = l.fold(fold, d)?;
    Ok(Lowered {
        code: l.c,
        fold,
        rows,
        subs,
        masked,
        accs,
        uni: l.uni,
        inner_width: w,
        inner_args,
        callouts: l.callouts,
        d,
        out_comps,
    })
}

impl Lower<'_> {
    /// The components of value `v` for copy (r, u).
    fn operand(&mut self, v: ValueId, r: usize, u: usize) -> Vec<Src> {
        let val = self.plan.values[v];
        if val.stage != Stage::Pair {
            let off = self.rows_layout.offset[v].unwrap_or(0);
            // Parameters are the same in every row's buffer: row 0's slots serve all rows.
            let row = if val.stage == Stage::Param { 0 } else { r };
            return (0..val.dim).map(|k| self.uni_slot(row, off + k)).collect();
        }
        let r = if self.row_dep[v] { r } else { 0 };
        self.vals[&(v, r, u)].clone()
    }

    fn uni_slot(&mut self, row: usize, scalar: usize) -> Src {
        let next = self.uni.len() as u32;
        let slot = *self.uni_index.entry(scalar).or_insert(next);
        if slot == next {
            self.uni.push(scalar);
        }
        Src::Uni { row: row as u32, slot }
    }

    fn f(&mut self, x: f64) -> Src {
        self.pool.f(x)
    }

    /// The vector code of `op` on operands given by components; returns the result's.
    fn op(&mut self, op: &Op, a: &[Vec<Src>], dim: usize) -> Result<Vec<Src>, Unsupported> {
        let at = |v: &Vec<Src>, k: usize| if v.len() == 1 { v[0] } else { v[k] };
        let mut out = Vec::with_capacity(dim);
        match op {
            Op::Var { .. } => return Err(Unsupported("a variable inside an operation".into())),
            Op::Const(bits) => out.push(self.f(f64::from_bits(*bits))),
            Op::IntCst(n) => out.push(self.f(*n as f64)),
            Op::Zero(d) => out.extend((0..*d).map(|_| self.pool.f(0.0))),
            Op::Unary(u) => {
                for k in 0..dim {
                    let y = match self.unary(*u, at(&a[0], k)) {
                        Some(y) => y,
                        None => return Ok(self.callout(op, a, dim)),
                    };
                    out.push(y);
                }
            }
            Op::Binary(b) => {
                for k in 0..dim {
                    let (x, y) = (at(&a[0], k), at(&a[1], k));
                    let z = match self.binary(*b, x, y) {
                        Some(z) => z,
                        None => return Ok(self.callout(op, a, dim)),
                    };
                    out.push(z);
                }
            }
            Op::Pow(n) => {
                for &x in &a[0] {
                    out.push(self.powi(x, *n));
                }
            }
            Op::ClampInt(lo, hi) => {
                let (lo, hi) = (self.f(*lo as f64), self.f(*hi as f64));
                for &x in &a[0] {
                    out.push(self.clamp(x, lo, hi));
                }
            }
            Op::Clamp => {
                for k in 0..dim {
                    out.push(self.clamp(at(&a[0], k), at(&a[1], k), at(&a[2], k)));
                }
            }
            Op::IfElse => {
                for k in 0..dim {
                    let (cnd, t, f) = (at(&a[0], k), at(&a[1], k), at(&a[2], k));
                    // c ≥ 0 ? t : (c NaN ? c : f)
                    let zero = self.f(0.0);
                    let ge = self.c.cmp(Pred::Ge, cnd, zero);
                    let nan = self.c.cmp(Pred::Unord, cnd, cnd);
                    let e = self.c.blend(nan, cnd, f);
                    out.push(self.c.blend(ge, t, e));
                }
            }
            Op::Mod => {
                for k in 0..dim {
                    let (x, m, o) = (at(&a[0], k), at(&a[1], k), at(&a[2], k));
                    let xo = self.c.bin(Bin::Sub, x, o);
                    let q = self.c.bin(Bin::Div, xo, m);
                    let fl = self.c.un(Un::Round(RoundMode::Floor), q);
                    let mf = self.c.bin(Bin::Mul, m, fl);
                    out.push(self.c.bin(Bin::Sub, x, mf));
                }
            }
            Op::SqNorm2 | Op::Norm2 => {
                let s = self.dot(&a[0], &a[0]);
                out.push(if matches!(op, Op::Norm2) { self.c.un(Un::Sqrt, s) } else { s });
            }
            Op::SqDist => {
                let d: Vec<Src> = (0..a[0].len()).map(|k| self.c.bin(Bin::Sub, a[0][k], a[1][k])).collect();
                out.push(self.dot(&d, &d));
            }
            Op::Scalprod => out.push(self.dot(&a[0], &a[1])),
            Op::Sum => {
                let mut s = a[0][0];
                for &x in &a[0][1..] {
                    s = self.c.bin(Bin::Add, s, x);
                }
                out.push(s);
            }
            Op::Normalize => {
                let n2 = self.dot(&a[0], &a[0]);
                let zero = self.f(0.0);
                let one = self.f(1.0);
                let is0 = self.c.cmp(Pred::Eq, n2, zero);
                let n = self.c.un(Un::Sqrt, n2);
                let inv = self.c.bin(Bin::Div, one, n);
                let r = self.c.blend(is0, zero, inv);
                for &x in &a[0] {
                    out.push(self.c.bin(Bin::Mul, x, r));
                }
            }
            Op::WeightedSqNorm | Op::WeightedSqDist => {
                let x: Vec<Src> = if let Op::WeightedSqDist = op {
                    (0..a[1].len()).map(|k| self.c.bin(Bin::Sub, a[1][k], a[2][k])).collect()
                } else {
                    a[1].clone()
                };
                let (g, n) = (&a[0], x.len());
                let s = if g.len() == 1 {
                    let s = self.dot(&x, &x);
                    self.c.bin(Bin::Mul, g[0], s)
                } else if g.len() == n {
                    let wx: Vec<Src> = (0..n).map(|k| self.c.bin(Bin::Mul, g[k], x[k])).collect();
                    self.dot(&wx, &x)
                } else {
                    // xᵀ Γ x = Σ_k x_k (Σ_l Γ_kl x_l).
                    let rows: Vec<Src> = (0..n)
                        .map(|k| {
                            let row: Vec<Src> = (0..n).map(|l| g[k * n + l]).collect();
                            self.dot(&row, &x)
                        })
                        .collect();
                    self.dot(&x, &rows)
                };
                out.push(s);
            }
            Op::Elem(m) => out.push(a[0][*m]),
            Op::Extract { start, len } => out.extend_from_slice(&a[0][*start..start + len]),
            Op::ElemT { index, dim: n } | Op::ExtractT { start: index, dim: n } => {
                for k in 0..*n {
                    let x = if k >= *index && k < index + a[0].len() { a[0][k - index] } else { self.f(0.0) };
                    out.push(x);
                }
            }
            Op::Concat => {
                out.extend_from_slice(&a[0]);
                out.extend_from_slice(&a[1]);
            }
            Op::MatVecMult => {
                let m = a[1].len();
                for i in 0..dim {
                    let row: Vec<Src> = a[0][i * m..(i + 1) * m].to_vec();
                    out.push(self.dot(&row, &a[1]));
                }
            }
            Op::VecMatMult => {
                for j in 0..dim {
                    let col: Vec<Src> = (0..a[0].len()).map(|k| a[1][k * dim + j]).collect();
                    out.push(self.dot(&a[0], &col));
                }
            }
            Op::TensorProd => {
                for &x in &a[0] {
                    for &y in &a[1] {
                        out.push(self.c.bin(Bin::Mul, x, y));
                    }
                }
            }
            // Round, Max, Min, ArgMax, ArgMin, OneHot, Kron, TensorDot and any new operation:
            // the evaluator's code, called per lane. Vector code above is an optimisation.
            _ => return Ok(self.callout(op, a, dim)),
        }
        debug_assert_eq!(out.len(), dim, "{}", op.name());
        Ok(out)
    }

    /// Σ a_k·b_k (as `eval.rs`'s sums, with fused multiply-adds).
    fn dot(&mut self, a: &[Src], b: &[Src]) -> Src {
        let mut s = self.c.bin(Bin::Mul, a[0], b[0]);
        for k in 1..a.len() {
            s = self.c.fma(a[k], b[k], s);
        }
        s
    }

    /// x < lo ? lo : (x > hi ? hi : x), NaN kept; the lower bound wins when lo > hi.
    fn clamp(&mut self, x: Src, lo: Src, hi: Src) -> Src {
        let above = self.c.cmp(Pred::Gt, x, hi);
        let y = self.c.blend(above, hi, x);
        let below = self.c.cmp(Pred::Lt, x, lo);
        self.c.blend(below, lo, y)
    }

    /// xⁿ by binary powering, the algorithm of compiler-rt's `__powisf2` that Rust's `powi` uses.
    fn powi(&mut self, x: Src, n: i32) -> Src {
        let mut m = n.unsigned_abs();
        let mut base = x;
        let mut r: Option<Src> = None;
        loop {
            if m & 1 == 1 {
                r = Some(match r {
                    None => base,
                    Some(r) => self.c.bin(Bin::Mul, r, base),
                });
            }
            m /= 2;
            if m == 0 {
                break;
            }
            base = self.c.bin(Bin::Mul, base, base);
        }
        let r = r.unwrap_or_else(|| self.f(1.0));
        if n < 0 {
            let one = self.f(1.0);
            self.c.bin(Bin::Div, one, r)
        } else {
            r
        }
    }

    fn unary(&mut self, u: UnaryOp, x: Src) -> Option<Src> {
        let (elem, isa) = (self.elem, self.isa);
        let sign = self.pool.bits(elem.sign_bit());
        Some(match u {
            UnaryOp::Minus => self.c.bin(Bin::Xor, x, sign),
            UnaryOp::Abs => self.c.bin(Bin::AndNot, sign, x),
            UnaryOp::Square => self.c.bin(Bin::Mul, x, x),
            UnaryOp::Inv => {
                let one = self.f(1.0);
                self.c.bin(Bin::Div, one, x)
            }
            UnaryOp::Sqrt => self.c.un(Un::Sqrt, x),
            UnaryOp::Rsqrt => {
                let zero = self.f(0.0);
                let one = self.f(1.0);
                let is0 = self.c.cmp(Pred::Eq, x, zero);
                let s = self.c.un(Un::Sqrt, x);
                let r = self.c.bin(Bin::Div, one, s);
                self.c.blend(is0, zero, r)
            }
            UnaryOp::Exp => math::exp(&mut self.c, self.pool, elem, isa, x),
            UnaryOp::Log => math::log(&mut self.c, self.pool, elem, isa, x),
            UnaryOp::XLogX => {
                let l = math::log(&mut self.c, self.pool, elem, isa, x);
                let p = self.c.bin(Bin::Mul, x, l);
                let zero = self.f(0.0);
                let is0 = self.c.cmp(Pred::Eq, x, zero);
                self.c.blend(is0, zero, p)
            }
            UnaryOp::Sign => {
                // x > 0 ? 1 : (x < 0 ? −1 : x·0)
                let zero = self.f(0.0);
                let pos = self.c.cmp(Pred::Gt, x, zero);
                let neg = self.c.cmp(Pred::Lt, x, zero);
                let x0 = self.c.bin(Bin::Mul, x, zero);
                let m1 = self.f(-1.0);
                let one = self.f(1.0);
                let y = self.c.blend(neg, m1, x0);
                self.c.blend(pos, one, y)
            }
            UnaryOp::Step => {
                // x < 0 ? 0 : (NaN ? x : 1)
                let zero = self.f(0.0);
                let one = self.f(1.0);
                let neg = self.c.cmp(Pred::Lt, x, zero);
                let nan = self.c.cmp(Pred::Unord, x, x);
                let y = self.c.blend(nan, x, one);
                self.c.blend(neg, zero, y)
            }
            UnaryOp::ReLU => {
                let zero = self.f(0.0);
                let neg = self.c.cmp(Pred::Lt, x, zero);
                self.c.blend(neg, zero, x)
            }
            // Vector code is an optimisation: the other functions (the trigonometric ones, and
            // any new row of the table) are computed lane by lane by the table's CPU code.
            _ => return None,
        })
    }

    fn binary(&mut self, b: BinaryOp, x: Src, y: Src) -> Option<Src> {
        let cmp = |p: Pred| Some(p);
        let pred = match b {
            BinaryOp::Add => return Some(self.c.bin(Bin::Add, x, y)),
            BinaryOp::Sub => return Some(self.c.bin(Bin::Sub, x, y)),
            BinaryOp::Mul => return Some(self.c.bin(Bin::Mul, x, y)),
            BinaryOp::Div => return Some(self.c.bin(Bin::Div, x, y)),
            BinaryOp::Less => cmp(Pred::Lt),
            BinaryOp::LessEq => cmp(Pred::Le),
            BinaryOp::Greater => cmp(Pred::Gt),
            BinaryOp::GreaterEq => cmp(Pred::Ge),
            BinaryOp::Equal => cmp(Pred::Eq),
            BinaryOp::NotEqual => cmp(Pred::Neq),
            // Powf, Atan2 and any new row of the table: lane by lane (see `unary`).
            _ => None,
        }?;
        let m = self.c.cmp(pred, x, y);
        let (one, zero) = (self.f(1.0), self.f(0.0));
        Some(self.c.blend(m, one, zero))
    }

    /// `op` computed lane by lane in Rust.
    fn callout(&mut self, op: &Op, a: &[Vec<Src>], dim: usize) -> Vec<Src> {
        let entry: CallOutOp = (op.clone(), a.iter().map(Vec::len).collect(), dim);
        let index = match self.callouts.iter().position(|o| *o == entry) {
            Some(i) => i,
            None => {
                self.callouts.push(entry);
                self.callouts.len() - 1
            }
        } as u32;
        let outs: Vec<_> = (0..dim).map(|_| self.c.vreg()).collect();
        let ins = a.iter().flatten().copied().collect();
        self.c.insts.push(Inst::CallOut { op: index, ins, outs: outs.clone() });
        outs.into_iter().map(Src::V).collect()
    }

    /// The fold of every copy's formula (and weight) values; returns the accumulators' initial values.
    fn fold(&mut self, fold: FoldKind, d: usize) -> Result<Vec<AccInit>, Unsupported> {
        let per = fold.accs_per_copy(d);
        let mut accs = Vec::new();
        let copies = fold.copies(self.subs);
        let acc = |r: usize, u: usize, k: usize| Acc(((r * copies + u % copies) * per + k) as u32);
        for r in 0..self.rows {
            for u in 0..self.subs {
                let f = self.operand(self.plan.formula, r, u);
                let w = self.plan.weight.map(|w| self.operand(w, r, u));
                // Padding lanes hold values of zero-filled points: anything, NaN included.
                let valid = self.masked.then(|| {
                    let zero = self.f(0.0);
                    self.c.cmp(Pred::Gt, Src::Valid { sub: u as u32 }, zero)
                });
                match fold {
                    FoldKind::Sum => {
                        for (k, &x) in f.iter().enumerate() {
                            let a = acc(r, u, k);
                            let x = match valid {
                                Some(vm) => {
                                    let zero = self.f(0.0);
                                    self.c.blend(vm, x, zero)
                                }
                                None => x,
                            };
                            self.c.insts.push(Inst::Bin { op: Bin::Add, dst: Dst::A(a), a: Src::A(a), b: x });
                            accs.push(AccInit::Zero);
                        }
                    }
                    FoldKind::Lse { sums, plain } => {
                        let m = acc(r, u, 0);
                        // A padding lane folds −inf, which adds nothing, with a zero weight.
                        let v = match valid {
                            Some(vm) => {
                                let ninf = self.f(f64::NEG_INFINITY);
                                self.c.blend(vm, f[0], ninf)
                            }
                            None => f[0],
                        };
                        // d = v − m, but 0 when equal (two +inf); t = exp(−|d|).
                        let neq = self.c.cmp(Pred::Neq, v, Src::A(m));
                        let diff = self.c.bin(Bin::Sub, v, Src::A(m));
                        let zero = self.f(0.0);
                        let dd = self.c.blend(neq, diff, zero);
                        let sign = self.pool.bits(self.elem.sign_bit());
                        let nd = self.c.bin(Bin::Or, dd, sign);
                        // Unweighted, every term is at most 1 and a lane's total holds its
                        // maximum's own term, 1: a term below the smallest normal number lies
                        // far below the total's last bit, and is left out rather than computed
                        // subnormal.
                        let t = if w.is_none() && sums == 1 && !plain {
                            math::exp_nonpositive_normal(&mut self.c, self.pool, self.elem, self.isa, nd)
                        } else {
                            math::exp(&mut self.c, self.pool, self.elem, self.isa, nd)
                        };
                        let up = self.c.cmp(Pred::Gt, v, Src::A(m));
                        if u < copies {
                            accs.push(AccInit::Lowest);
                        }
                        for k in 0..sums + plain as usize {
                            let s = acc(r, u, 1 + k);
                            let wk = match (&w, k < sums, valid) {
                                (Some(w), true, Some(vm)) => {
                                    let zero = self.f(0.0);
                                    self.c.blend(vm, w[k], zero)
                                }
                                (Some(w), true, None) => w[k],
                                _ => self.f(1.0),
                            };
                            // F > m: s·t + w (rescaled, the new term is 1·w); else s + t·w.
                            let grown = self.c.fma(Src::A(s), t, wk);
                            let added = self.c.fma(t, wk, Src::A(s));
                            self.c.insts.push(Inst::Blend { dst: Dst::A(s), m: up, t: grown, f: added });
                            if u < copies {
                                accs.push(AccInit::Zero);
                            }
                        }
                        self.c.insts.push(Inst::Blend { dst: Dst::A(m), m: up, t: v, f: Src::A(m) });
                    }
                    FoldKind::Extreme { greater } => {
                        let lane = Acc((self.rows * copies * per) as u32);
                        let idx = if u == 0 {
                            Src::A(lane)
                        } else {
                            let off = self.pool.int((u * self.elem.lanes(self.isa)) as i64);
                            self.c.int(super::vir::Int::Add, Src::A(lane), off)
                        };
                        let none = self.pool.int(-1);
                        for (k, &v) in f.iter().enumerate() {
                            let (b, bi) = (acc(r, u, k), acc(r, u, d + k));
                            let better = self.c.cmp(if greater { Pred::Gt } else { Pred::Lt }, v, Src::A(b));
                            let vnan = self.c.cmp(Pred::Unord, v, v);
                            let bnum = self.c.cmp(Pred::Ord, Src::A(b), Src::A(b));
                            let unset = self.c.cmp(Pred::IntEq, Src::A(bi), none);
                            let nan_wins = self.c.mask(MaskOp::And, vnan, bnum);
                            let take = self.c.mask(MaskOp::Or, better, nan_wins);
                            let take = self.c.mask(MaskOp::Or, take, unset);
                            let take = match valid {
                                Some(vm) => self.c.mask(MaskOp::And, take, vm),
                                None => take,
                            };
                            self.c.insts.push(Inst::Blend { dst: Dst::A(b), m: take, t: v, f: Src::A(b) });
                            self.c.insts.push(Inst::Blend { dst: Dst::A(bi), m: take, t: idx, f: Src::A(bi) });
                        }
                        for _ in 0..d {
                            accs.push(if greater { AccInit::NegInf } else { AccInit::Inf });
                        }
                        for _ in 0..d {
                            accs.push(AccInit::NoIndex);
                        }
                    }
                    FoldKind::Map => {
                        for (k, &x) in f.iter().chain(w.iter().flatten()).enumerate() {
                            self.c.insts.push(Inst::Store { src: x, row: r as u32, comp: k as u32, sub: u as u32 });
                        }
                    }
                }
            }
        }
        if let FoldKind::Extreme { .. } = fold {
            // The lane indices move on by a tile each iteration.
            let lane = Acc(accs.len() as u32);
            let step = self.pool.int((self.subs * self.elem.lanes(self.isa)) as i64);
            self.c.insts.push(Inst::Int { op: super::vir::Int::Add, dst: Dst::A(lane), a: Src::A(lane), b: step });
            accs.push(AccInit::LaneIndex);
        }
        Ok(accs)
    }
}
