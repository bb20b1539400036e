//! CUDA C for a kernel plan: one statement per plan value with a named temporary, in the plan's row and pair code.
//!
//! The generator reads the backend-neutral [`KernelPlan`] (`plan/mod.rs`), as the CPU backend
//! does, and never the formula DAG: a value of stage Param or Row is computed once per thread,
//! before the loop over the reduced index (the `@row` code); a Pair value for every pair (the
//! `@pair` code). A Sum lowered as u·Σ L scales each finished row by u (the `@finish` code).
//! Elementwise operations are written from the op tables' CUDA spellings (`UnaryOp::cuda`,
//! `BinaryOp::cuda`, and [`elementwise`] for the others); vector operations call the helpers of
//! `kernels/common.cuh`, which mirror `eval.rs`. A node of dimension 1 is a `T`, a larger one
//! an array `T name[D]`; variables are pointers to their D values.

use crate::error::{Error, Result};
use crate::expr::{Cat, Op};
use crate::plan::{Instr, KernelPlan, Stage, ValueId};
use std::collections::HashMap;

/// Loops over at most this many components are unrolled (the `NOYAU_UNROLL` of common.cuh).
const UNROLL_MAX: usize = 64;

/// How the formula reads the variables of the reduced side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Staging {
    /// Each thread copies one point into its slot of the shared tile (`map_reduce_1d.cu`).
    PerThread,
    /// The block copies the tile in coalesced chunks (`map_reduce_1d_chunked.cu`).
    Chunked,
    /// Nothing is staged: the formula reads global memory (`map_reduce_1d_chunked.cu`, STAGE = 0).
    Global,
}

/// The generated code of a kernel, one line per entry, to be spliced into a template.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// `const T* __restrict__ argN,` for each variable, in argument order.
    pub params: Vec<String>,
    pub row: Vec<String>,
    pub stage: Vec<String>,
    pub pair: Vec<String>,
    /// Statements on the finished output row `o` (a Sum's row factor).
    pub finish: Vec<String>,
    /// Index tables of Kron and TensorDot nodes, at file scope.
    pub tables: Vec<String>,
    /// The arguments passed to the kernel after `n_out` and `n_in`, in order.
    pub args: Vec<usize>,
}

/// The variables of the reduced side (index, dimension), in argument order: what a tile holds.
pub fn staged_vars(plan: &KernelPlan) -> Vec<(usize, usize)> {
    let mut vars = plan.inner_args();
    vars.sort_unstable();
    vars
}

/// How a node's value is referred to in the generated code.
#[derive(Debug, Clone)]
enum Val {
    /// A variable: a pointer to its values.
    Ptr(String),
    /// A node of dimension 1.
    Scalar(String),
    /// A node of dimension > 1.
    Array(String),
}

impl Val {
    /// Component `k` (a C expression).
    fn at(&self, k: &str) -> String {
        match self {
            Val::Ptr(p) | Val::Array(p) => format!("{p}[{k}]"),
            Val::Scalar(s) => s.clone(),
        }
    }
    /// A `const T*` to the values.
    fn ptr(&self) -> String {
        match self {
            Val::Ptr(p) | Val::Array(p) => p.clone(),
            Val::Scalar(s) => format!("&{s}"),
        }
    }
}

/// What one node turns into.
enum Stmt {
    /// A variable's pointer, given by its initialiser.
    Pointer(String),
    /// A C expression of the node's single value.
    Value(String),
    /// An expression template with `{0}`, `{1}`, `{2}` for the operands' components.
    Elementwise(String),
    /// A helper that writes the node's components through its last (pointer) argument.
    Fill { helper: String, args: Vec<String> },
    /// The zero vector.
    Zeros,
}

/// A C literal of type T for a constant, exact for every f64 (NaN and infinities included).
pub fn literal(c: f64) -> String {
    if c.is_nan() {
        "noyau_nan()".into()
    } else if c.is_infinite() {
        if c > 0.0 {
            "noyau_inf()".into()
        } else {
            "(-noyau_inf())".into()
        }
    } else if c.is_sign_negative() {
        format!("(T)({c:?})")
    } else {
        format!("(T){c:?}")
    }
}

/// The CUDA expression template of an elementwise op, `{0}`.. being its operands' components
/// and `T` the element type; `None` for the other ops. Semantics as in `eval.rs`.
pub fn elementwise(op: &Op) -> Option<String> {
    Some(match op {
        Op::Unary(u) => u.cuda().to_string(),
        Op::Binary(b) => b.cuda().to_string(),
        Op::Pow(n) => format!("noyau_powi({{0}}, {n})"),
        Op::Round(d) => format!("noyau_round_to({{0}}, {})", literal(10f64.powi(*d))),
        Op::ClampInt(a, b) => {
            let (a, b) = (literal(*a as f64), literal(*b as f64));
            format!("({{0}} < {a} ? {a} : ({{0}} > {b} ? {b} : {{0}}))")
        }
        Op::IfElse => "({0} >= (T)0 ? {1} : (isnan({0}) ? {0} : {2}))".into(),
        Op::Clamp => "({0} < {1} ? {1} : ({0} > {2} ? {2} : {0}))".into(),
        Op::Mod => "({0} - {1} * floor(({0} - {2}) / {1}))".into(),
        _ => return None,
    })
}

/// Replaces `{0}`, `{1}`, ... in `template` by `operands`.
fn fill(template: &str, operands: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(p) = rest.find('{') {
        out.push_str(&rest[..p]);
        let tail = &rest[p + 1..];
        let digits =
            tail.find('}').map(|q| &tail[..q]).filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        match digits.and_then(|d| d.parse::<usize>().ok().map(|k| (d.len(), k))) {
            Some((len, k)) if k < operands.len() => {
                out.push_str(&operands[k]);
                rest = &tail[len + 1..];
            }
            _ => {
                out.push('{');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every multi-index of `shape`, last axis fastest (one empty index for an empty shape).
fn multi_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut all = vec![vec![]];
    for &n in shape {
        all =
            all.into_iter().flat_map(|idx: Vec<usize>| (0..n).map(move |k| [idx.clone(), vec![k]].concat())).collect();
    }
    all
}

/// Row-major offset of a multi-index.
fn offset(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (i, n)| acc * n + i)
}

/// The generator's state: how the values already written are referred to, and the code so far.
struct Gen<'a> {
    plan: &'a KernelPlan,
    vals: Vec<Option<Val>>,
    body: Body,
    count: usize,
}

impl Gen<'_> {
    fn val(&self, v: ValueId) -> Result<&Val> {
        self.vals[v].as_ref().ok_or_else(|| internal(format!("value v{v} used before it was generated")))
    }
    fn ptr(&self, v: ValueId) -> Result<String> {
        Ok(self.val(v)?.ptr())
    }
    fn dim(&self, v: ValueId) -> usize {
        self.plan.values[v].dim
    }
    /// Component `k` of an operand, broadcasting dimension-1 operands.
    fn comp(&self, v: ValueId, k: &str) -> Result<String> {
        Ok(if self.dim(v) == 1 { self.val(v)?.at("0") } else { self.val(v)?.at(k) })
    }

    /// A `__constant__` index table, named after its node; returns the name.
    fn table(&mut self, node: &str, what: &str, values: &[usize]) -> String {
        let name = format!("{node}_{what}");
        let list: Vec<String> = values.iter().map(usize::to_string).collect();
        self.body.tables.push(format!("__constant__ int {name}[{}] = {{{}}};", values.len(), list.join(", ")));
        name
    }

    /// Where a loaded argument's values are: a parameter, the output row's point, or the pair's
    /// point on the reduced side (staged in shared memory or read from global memory).
    fn load(&self, out: ValueId, arg: usize, cat: Cat, staging: Staging, offsets: &HashMap<usize, usize>) -> String {
        let dim = self.dim(out);
        match (cat, self.plan.values[out].stage, staging, offsets.get(&arg)) {
            (Cat::P, ..) => format!("arg{arg}"),
            (_, Stage::Pair, Staging::PerThread | Staging::Chunked, Some(off)) => format!("slot + {off}"),
            (_, Stage::Pair, ..) => format!("arg{arg} + (size_t)j * {dim}"),
            _ => format!("arg{arg} + (size_t)r * {dim}"),
        }
    }

    /// The statement of `out = op(args)` (named `name`), its operands being generated already.
    fn statement(&mut self, out: ValueId, op: &Op, args: &[ValueId], name: &str) -> Result<Stmt> {
        let dim = |k: usize| self.plan.values[args[k]].dim;
        let ptrs: Vec<String> = args.iter().map(|&a| self.ptr(a)).collect::<Result<_>>()?;
        let d = self.dim(out);
        Ok(match op {
            Op::Var { .. } => return Err(internal("a variable as an operation".into())),
            Op::Const(bits) => Stmt::Value(literal(f64::from_bits(*bits))),
            Op::IntCst(n) => Stmt::Value(literal(*n as f64)),
            Op::Zero(_) if d == 1 => Stmt::Value("(T)0".into()),
            Op::Zero(_) => Stmt::Zeros,
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Pow(_)
            | Op::Round(_)
            | Op::ClampInt(..)
            | Op::IfElse
            | Op::Clamp
            | Op::Mod => {
                Stmt::Elementwise(elementwise(op).ok_or_else(|| internal(format!("{} is not elementwise", op.name())))?)
            }
            Op::SqNorm2 => Stmt::Value(format!("noyau_sqnorm2<{}>({})", dim(0), ptrs[0])),
            Op::Norm2 => Stmt::Value(format!("sqrt(noyau_sqnorm2<{}>({}))", dim(0), ptrs[0])),
            Op::Normalize => Stmt::Fill { helper: format!("noyau_normalize<{d}>"), args: vec![ptrs[0].clone()] },
            Op::SqDist => Stmt::Value(format!("noyau_sqdist<{}>({}, {})", dim(0), ptrs[0], ptrs[1])),
            Op::Scalprod => Stmt::Value(format!("noyau_scalprod<{}>({}, {})", dim(0), ptrs[0], ptrs[1])),
            Op::WeightedSqNorm => {
                Stmt::Value(format!("noyau_weighted_sqnorm<{}, {}>({}, {})", dim(0), dim(1), ptrs[0], ptrs[1]))
            }
            Op::WeightedSqDist => Stmt::Value(format!(
                "noyau_weighted_sqdist<{}, {}>({}, {}, {})",
                dim(0),
                dim(1),
                ptrs[0],
                ptrs[1],
                ptrs[2]
            )),
            Op::Sum => Stmt::Value(format!("noyau_sum<{}>({})", dim(0), ptrs[0])),
            Op::Max | Op::Min => {
                Stmt::Value(format!("noyau_extreme<{}, {}>({}).value", dim(0), matches!(op, Op::Max), ptrs[0]))
            }
            Op::ArgMax | Op::ArgMin => {
                Stmt::Value(format!("(T)noyau_extreme<{}, {}>({}).index", dim(0), matches!(op, Op::ArgMax), ptrs[0]))
            }
            Op::Elem(m) => Stmt::Value(self.val(args[0])?.at(&m.to_string())),
            Op::ElemT { index, dim: n } => {
                Stmt::Fill { helper: format!("noyau_place<1, {n}>"), args: vec![ptrs[0].clone(), index.to_string()] }
            }
            Op::Extract { start, len: 1 } => Stmt::Value(self.val(args[0])?.at(&start.to_string())),
            Op::Extract { start, len } => {
                Stmt::Fill { helper: format!("noyau_copy<{len}>"), args: vec![format!("{} + {start}", ptrs[0])] }
            }
            Op::ExtractT { start, dim: n } => Stmt::Fill {
                helper: format!("noyau_place<{}, {n}>", dim(0)),
                args: vec![ptrs[0].clone(), start.to_string()],
            },
            Op::Concat => Stmt::Fill { helper: format!("noyau_concat<{}, {}>", dim(0), dim(1)), args: ptrs },
            Op::OneHot(n) => Stmt::Fill { helper: format!("noyau_one_hot<{n}>"), args: vec![self.comp(args[0], "0")?] },
            Op::MatVecMult => Stmt::Fill { helper: format!("noyau_mat_vec_mult<{d}, {}>", dim(1)), args: ptrs },
            Op::VecMatMult => Stmt::Fill { helper: format!("noyau_vec_mat_mult<{}, {d}>", dim(0)), args: ptrs },
            Op::TensorProd => Stmt::Fill { helper: format!("noyau_tensor_prod<{}, {}>", dim(0), dim(1)), args: ptrs },
            Op::Kron { a, b } => {
                let mut ia = vec![0; d];
                let mut ib = vec![0; d];
                let out_shape: Vec<usize> = a.iter().zip(b).map(|(x, y)| x * y).collect();
                for xa in multi_indices(a) {
                    for xb in multi_indices(b) {
                        let xo: Vec<usize> = (0..a.len()).map(|k| xa[k] * b[k] + xb[k]).collect();
                        let o = offset(&xo, &out_shape);
                        ia[o] = offset(&xa, a);
                        ib[o] = offset(&xb, b);
                    }
                }
                let (ta, tb) = (self.table(name, "a", &ia), self.table(name, "b", &ib));
                Stmt::Fill {
                    helper: format!("noyau_gather_product<{d}>"),
                    args: vec![ptrs[0].clone(), ptrs[1].clone(), ta, tb],
                }
            }
            Op::TensorDot { a, b, ca, cb } => {
                let free_a: Vec<usize> = (0..a.len()).filter(|k| !ca.contains(k)).collect();
                let free_b: Vec<usize> = (0..b.len()).filter(|k| !cb.contains(k)).collect();
                let free_shape: Vec<usize> = free_a.iter().map(|&k| a[k]).chain(free_b.iter().map(|&k| b[k])).collect();
                let contracted: Vec<usize> = ca.iter().map(|&k| a[k]).collect();
                // Offset of the component of a (or b) where the given axes take the given values.
                let at = |shape: &[usize], axes: &[usize], values: &[usize]| {
                    let mut idx = vec![0; shape.len()];
                    for (&k, &v) in axes.iter().zip(values) {
                        idx[k] = v;
                    }
                    offset(&idx, shape)
                };
                let (mut base_a, mut base_b, mut off_a, mut off_b) = (vec![], vec![], vec![], vec![]);
                for fi in multi_indices(&free_shape) {
                    base_a.push(at(a, &free_a, &fi[..free_a.len()]));
                    base_b.push(at(b, &free_b, &fi[free_a.len()..]));
                }
                for ci in multi_indices(&contracted) {
                    off_a.push(at(a, ca, &ci));
                    off_b.push(at(b, cb, &ci));
                }
                let nc = off_a.len();
                let args = vec![
                    ptrs[0].clone(),
                    ptrs[1].clone(),
                    self.table(name, "base_a", &base_a),
                    self.table(name, "base_b", &base_b),
                    self.table(name, "off_a", &off_a),
                    self.table(name, "off_b", &off_b),
                ];
                Stmt::Fill { helper: format!("noyau_tensor_dot<{d}, {nc}>"), args }
            }
        })
    }

    /// Writes one instruction of the plan into the row or the pair code.
    fn instr(&mut self, ins: &Instr, staging: Staging, offsets: &HashMap<usize, usize>) -> Result<()> {
        let out = ins.out();
        let d = self.dim(out);
        let (name, stmt) = match ins {
            Instr::Load { arg, cat, .. } => (
                format!("{}{arg}", cat.short().to_ascii_lowercase()),
                Stmt::Pointer(self.load(out, *arg, *cat, staging, offsets)),
            ),
            Instr::Op { op, args, .. } => {
                self.count += 1;
                let name = format!("{}_{}", op.name().to_ascii_lowercase(), self.count);
                let stmt = self.statement(out, op, args, &name)?;
                (name, stmt)
            }
        };
        let operands = match ins {
            Instr::Op { args, .. } => args.as_slice(),
            Instr::Load { .. } => &[],
        };
        let mut lines = Vec::new();
        let val = match stmt {
            Stmt::Pointer(init) => {
                lines.push(format!("const T* {name} = {init};"));
                Val::Ptr(name)
            }
            Stmt::Value(expr) => {
                lines.push(format!("const T {name} = {expr};"));
                Val::Scalar(name)
            }
            Stmt::Zeros => {
                lines.push(format!("T {name}[{d}] = {{}};"));
                Val::Array(name)
            }
            Stmt::Elementwise(template) if d == 1 => {
                let ops: Vec<String> = operands.iter().map(|&a| self.comp(a, "0")).collect::<Result<_>>()?;
                lines.push(format!("const T {name} = {};", fill(&template, &ops)));
                Val::Scalar(name)
            }
            Stmt::Elementwise(template) => {
                let ops: Vec<String> = operands.iter().map(|&a| self.comp(a, "k")).collect::<Result<_>>()?;
                lines.push(format!("T {name}[{d}];"));
                if d <= UNROLL_MAX {
                    lines.push("#pragma unroll".into());
                }
                lines.push(format!("for (int k = 0; k < {d}; ++k) {name}[k] = {};", fill(&template, &ops)));
                Val::Array(name)
            }
            Stmt::Fill { helper, mut args } => {
                let val = if d == 1 { Val::Scalar(name.clone()) } else { Val::Array(name.clone()) };
                lines.push(if d == 1 { format!("T {name};") } else { format!("T {name}[{d}];") });
                args.push(val.ptr());
                lines.push(format!("{helper}({});", args.join(", ")));
                val
            }
        };
        let code = if self.plan.values[out].stage == Stage::Pair { &mut self.body.pair } else { &mut self.body.row };
        code.extend(lines);
        self.vals[out] = Some(val);
        Ok(())
    }
}

fn internal(msg: String) -> Error {
    Error::Backend { backend: "gpu".into(), msg: format!("internal error in the CUDA code generator: {msg}") }
}

/// Generates the code of a kernel plan for a staging mode: its row and pair instructions, the
/// pointers `f` and `w` the accumulator folds, and, for a Sum lowered as u·Σ L, the scaling of
/// the finished row `o` by u.
pub fn generate(plan: &KernelPlan, staging: Staging) -> Result<Body> {
    let staged = staged_vars(plan);
    let mut offsets = HashMap::new();
    let mut stage_width = 0;
    let mut body = Body::default();
    for &(index, dim) in &staged {
        offsets.insert(index, stage_width);
        body.stage.push(match staging {
            Staging::PerThread => format!("noyau_copy<{dim}>(arg{index} + (size_t)j * {dim}, slot + {stage_width});"),
            Staging::Chunked => format!("noyau_stage_chunk<{dim}, {stage_width}>(arg{index}, tile0, len, tile);"),
            Staging::Global => continue,
        });
        stage_width += dim;
    }
    let mut args: Vec<usize> = plan
        .instrs
        .iter()
        .filter_map(|i| match i {
            Instr::Load { arg, .. } => Some(*arg),
            Instr::Op { .. } => None,
        })
        .collect();
    args.sort_unstable();
    for &index in &args {
        body.params.push(format!("const T* __restrict__ arg{index},"));
    }
    body.args = args;
    let mut g = Gen { plan, vals: vec![None; plan.values.len()], body, count: 0 };
    for ins in &plan.instrs {
        g.instr(ins, staging, &offsets)?;
    }
    let f = g.ptr(plan.formula)?;
    let w = match plan.weight {
        Some(w) => g.ptr(w)?,
        None => "nullptr".into(),
    };
    g.body.pair.push(format!("const T* f = {f};"));
    g.body.pair.push(format!("const T* w = {w};"));
    if let Some(u) = plan.post_scale {
        let d = plan.formula_dim();
        let factor = g.comp(u, "k")?;
        if d <= UNROLL_MAX {
            g.body.finish.push("#pragma unroll".into());
        }
        g.body.finish.push(format!("for (int k = 0; k < {d}; ++k) o[k] *= {factor};"));
    }
    Ok(g.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_operands_only() {
        assert_eq!(fill("({0}+{1})", &["a".into(), "b[k]".into()]), "(a+b[k])");
        assert_eq!(fill("T x[3] = {};", &[]), "T x[3] = {};");
        assert_eq!(fill("{0}{5}", &["a".into()]), "a{5}");
    }

    #[test]
    fn literals_are_exact() {
        assert_eq!(literal(0.5), "(T)0.5");
        assert_eq!(literal(-2.0), "(T)(-2.0)");
        assert_eq!(literal(1e-7), "(T)1e-7");
        assert_eq!(literal(f64::NEG_INFINITY), "(-noyau_inf())");
        assert_eq!(literal(f64::NAN), "noyau_nan()");
    }

    #[test]
    fn kron_and_tensordot_tables() {
        assert_eq!(multi_indices(&[2, 2]), vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
        assert_eq!(multi_indices(&[]), vec![Vec::<usize>::new()]);
        assert_eq!(offset(&[1, 2], &[2, 3]), 5);
    }
}
