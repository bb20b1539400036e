//! The operations: the closed `Op` enum and its table, one row per operation with its name, arity, parameters and dimension rule.
//!
//! An operation's syntax is declared here once, beside its variant: the parser reads a call's
//! parameters from its row, the printer writes them back in the same order, the simplifier's
//! rule patterns match them, and [`Expr::new`](super::Expr::new) infers dimensions from the
//! row's rule. What an operation *does* (its value, derivative and CUDA code) stays one
//! exhaustive `match` per concern (`eval.rs`, `diff/rules.rs`, `cuda/codegen.rs`), which the
//! compiler checks against the enum; the matches generated here are exhaustive too, so a
//! variant missing from this table does not compile.
//!
//! A row reads `Variant(binders) "Name" arity [param: Kind "label", ...] => rule;` where the
//! parameters are listed in the order the formula language writes them after the operands
//! (`ElemT(f, dim, index)`), and the rule is `broadcast` (elementwise with scalar broadcasting)
//! or a block computing the output dimension from the operands' dimensions `d` and the
//! parameters (bound by reference).

use super::Cat;
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, UnaryOp};

/// The operations of the formula language. One closed enum; each concern (dimensions, printing,
/// evaluation, derivatives, code generation) is one exhaustive `match` over it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// Argument `index` of the reduction, a vector of `dim` values.
    Var {
        index: usize,
        dim: usize,
        cat: Cat,
    },
    /// A real scalar constant, stored by its bits so that `Op` is `Eq + Hash`.
    Const(u64),
    /// An integer scalar constant (`IntCst(n)`).
    IntCst(i64),
    /// The zero vector of a dimension.
    Zero(usize),
    /// Elementwise function from the unary table.
    Unary(UnaryOp),
    /// Elementwise function from the binary table, with scalar broadcasting.
    Binary(BinaryOp),
    /// x^n for an integer n.
    Pow(i32),
    /// Rounding to d decimals.
    Round(i32),
    /// Clamping to integer bounds.
    ClampInt(i64, i64),
    /// (c, a, b) ↦ a where c ≥ 0, b elsewhere.
    IfElse,
    /// (x, a, b) ↦ min(max(x, a), b).
    Clamp,
    /// (x, m, o) ↦ x − m·⌊(x − o)/m⌋.
    Mod,
    SqNorm2,
    Norm2,
    Normalize,
    /// (a, b) ↦ ‖a − b‖².
    SqDist,
    /// (a, b) ↦ ⟨a, b⟩, written `(a | b)`.
    Scalprod,
    /// (γ, x) ↦ γ‖x‖², Σ γₖxₖ² or xᵀΓx for γ of dim 1, D or D².
    WeightedSqNorm,
    /// (γ, x, y) ↦ WeightedSqNorm(γ, x − y).
    WeightedSqDist,
    /// Sum of the components.
    Sum,
    /// Largest component.
    Max,
    /// Smallest component.
    Min,
    /// Position of the largest component.
    ArgMax,
    /// Position of the smallest component.
    ArgMin,
    /// Component m.
    Elem(usize),
    /// A scalar placed at position `index` of a zero vector of dimension `dim`.
    ElemT {
        index: usize,
        dim: usize,
    },
    /// Components start..start+len.
    Extract {
        start: usize,
        len: usize,
    },
    /// A vector placed at `start` in a zero vector of dimension `dim`.
    ExtractT {
        start: usize,
        dim: usize,
    },
    Concat,
    /// The one-hot vector of dimension d of round(x).
    OneHot(usize),
    /// (A, v) ↦ A v, A of dim n·m stored row by row, v of dim m.
    MatVecMult,
    /// (v, A) ↦ vᵀA, v of dim n, A of dim n·m stored row by row.
    VecMatMult,
    /// (a, b) ↦ a ⊗ b, of dim da·db, a's index slowest.
    TensorProd,
    /// Kronecker product of tensors of shapes `a` and `b` (same number of axes), row-major.
    Kron {
        a: Vec<usize>,
        b: Vec<usize>,
    },
    /// Contraction of tensors of shapes `a` and `b` over axes `ca` of a paired with `cb` of b.
    TensorDot {
        a: Vec<usize>,
        b: Vec<usize>,
        ca: Vec<usize>,
        cb: Vec<usize>,
    },
}

/// What a parameter holds, which sets what the parser accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Any `i32` (exponents, numbers of decimals).
    I32,
    /// Any `i64` (integer constants, bounds).
    I64,
    /// An index or a dimension, from 0 to [`super::MAX_DIM`].
    Size,
    /// A bracketed list of sizes, `[2,3]`.
    List,
    /// A variable category, 0, 1 or 2.
    Cat,
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Int(i64),
    List(Vec<usize>),
}

impl Param {
    /// The integer value, for parameters that are not lists.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Param::Int(v) => Some(*v),
            Param::List(_) => None,
        }
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Int(v) => write!(f, "{v}"),
            Param::List(v) => {
                let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                write!(f, "[{}]", items.join(","))
            }
        }
    }
}

/// How an operation is written: its name, its number of formula operands, and the kind and
/// label of each parameter that follows them.
#[derive(Debug, Clone, Copy)]
pub struct Syntax {
    pub name: &'static str,
    pub arity: usize,
    pub params: &'static [(ParamKind, &'static str)],
}

/// The conversions between an enum field and a [`Param`].
trait ParamValue: Sized {
    fn to_param(&self) -> Param;
    fn from_param(p: &Param) -> Option<Self>;
}

impl ParamValue for i64 {
    fn to_param(&self) -> Param {
        Param::Int(*self)
    }
    fn from_param(p: &Param) -> Option<Self> {
        p.as_int()
    }
}

impl ParamValue for i32 {
    fn to_param(&self) -> Param {
        Param::Int(i64::from(*self))
    }
    fn from_param(p: &Param) -> Option<Self> {
        p.as_int().and_then(|v| i32::try_from(v).ok())
    }
}

impl ParamValue for usize {
    fn to_param(&self) -> Param {
        Param::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
    fn from_param(p: &Param) -> Option<Self> {
        p.as_int().and_then(|v| usize::try_from(v).ok())
    }
}

impl ParamValue for Vec<usize> {
    fn to_param(&self) -> Param {
        Param::List(self.clone())
    }
    fn from_param(p: &Param) -> Option<Self> {
        match p {
            Param::List(v) => Some(v.clone()),
            Param::Int(_) => None,
        }
    }
}

impl ParamValue for Cat {
    fn to_param(&self) -> Param {
        Param::Int(self.index() as i64)
    }
    fn from_param(p: &Param) -> Option<Self> {
        p.as_int().and_then(Cat::from_index)
    }
}

/// Generates, from the rows, `Op::syntax`, `Op::params`, `Op::with_params`, `Op::templates`,
/// `Op::is_elementwise` and the rule part of dimension inference. `Var`, `Const` and the table
/// ops `Unary`/`Binary` (whose names come from `ops.rs`) are written by hand in each match.
macro_rules! op_table {
    (
        |$d:ident, $name_id:ident|
        $( $v:ident $( ( $($tf:ident),* ) )? $( { $($sf:ident),* } )?
           $name:literal $arity:literal [ $($p:ident : $kind:ident $label:literal),* ] => $rule:tt ; )*
    ) => {
        impl Op {
            /// How the operation is written.
            pub fn syntax(&self) -> Syntax {
                match self {
                    Op::Var { .. } => Syntax {
                        name: "Var",
                        arity: 0,
                        params: &[(ParamKind::Size, "index"), (ParamKind::Size, "dimension"), (ParamKind::Cat, "category")],
                    },
                    Op::Const(_) => Syntax { name: "Const", arity: 0, params: &[] },
                    Op::Unary(u) => Syntax { name: u.name(), arity: 1, params: &[] },
                    Op::Binary(b) => Syntax { name: b.name(), arity: 2, params: &[] },
                    $( Op::$v $( ( $(op_table!(@wild $tf)),* ) )? $( { $($sf: _),* } )? => Syntax {
                        name: $name,
                        arity: $arity,
                        params: &[$((ParamKind::$kind, $label)),*],
                    }, )*
                }
            }

            /// The parameters' values, in the order the formula language writes them.
            pub fn params(&self) -> Vec<Param> {
                match self {
                    Op::Var { index, dim, cat } => vec![index.to_param(), dim.to_param(), cat.to_param()],
                    Op::Const(_) | Op::Unary(_) | Op::Binary(_) => Vec::new(),
                    $( Op::$v $( ( $($tf),* ) )? $( { $($sf),* } )? => vec![$( $p.to_param() ),*], )*
                }
            }

            /// The operation of the same kind as `self` with these parameters (in written
            /// order), or `None` when their number or kinds do not fit.
            pub fn with_params(&self, params: &[Param]) -> Option<Op> {
                let mut it = params.iter();
                let op = match self {
                    Op::Var { .. } => Op::Var {
                        index: ParamValue::from_param(it.next()?)?,
                        dim: ParamValue::from_param(it.next()?)?,
                        cat: ParamValue::from_param(it.next()?)?,
                    },
                    Op::Const(_) | Op::Unary(_) | Op::Binary(_) => self.clone(),
                    $( Op::$v $( ( $(op_table!(@wild $tf)),* ) )? $( { $($sf: _),* } )? => {
                        $( let $p = ParamValue::from_param(it.next()?)?; )*
                        Op::$v $( ( $($tf),* ) )? $( { $($sf),* } )?
                    } )*
                };
                it.next().is_none().then_some(op)
            }

            /// One operation of each kind callable by name in the formula language, with
            /// default parameters; `Unary` and `Binary` ops are in [`UnaryOp::ALL`](crate::UnaryOp::ALL)
            /// and [`BinaryOp::ALL`](crate::BinaryOp::ALL).
            pub fn templates() -> Vec<Op> {
                vec![$( Op::$v $( ( $(op_table!(@default $tf)),* ) )? $( { $($sf: Default::default()),* } )? ),*]
            }

            /// True for ops that apply componentwise with scalar broadcasting (all operands dim 1 or D).
            pub fn is_elementwise(&self) -> bool {
                match self {
                    Op::Unary(_) | Op::Binary(_) => true,
                    Op::Var { .. } | Op::Const(_) => false,
                    $( Op::$v $( ( $(op_table!(@wild $tf)),* ) )? $( { $($sf: _),* } )? => op_table!(@is_broadcast $rule), )*
                }
            }

            /// The output dimension by the row's rule, the operand count already checked.
            fn rule_dim(&self, $d: &[usize]) -> Result<usize> {
                let $name_id = self.name();
                match self {
                    Op::Var { dim, .. } => at_least_one($name_id, *dim),
                    Op::Const(_) => Ok(1),
                    Op::Unary(_) | Op::Binary(_) => broadcast($name_id, $d),
                    $( Op::$v $( ( $($tf),* ) )? $( { $($sf),* } )? => {
                        $( let _ = &$p; )*
                        op_table!(@rule $rule, $name_id, $d)
                    } )*
                }
            }
        }
    };
    (@wild $t:ident) => { _ };
    (@default $t:ident) => { Default::default() };
    (@is_broadcast broadcast) => { true };
    (@is_broadcast $block:block) => { false };
    (@rule broadcast, $name_id:ident, $d:ident) => { broadcast($name_id, $d) };
    (@rule $block:block, $name_id:ident, $d:ident) => { $block };
}

op_table! { |d, name|
    IntCst(value)          "IntCst"         0 [value: I64 "value"]                              => { Ok(1) };
    Zero(dim)              "Zero"           0 [dim: Size "dimension"]                           => { at_least_one(name, *dim) };
    Pow(n)                 "Pow"            1 [n: I32 "exponent"]                               => broadcast;
    Round(decimals)        "Round"          1 [decimals: I32 "number of decimals"]              => broadcast;
    ClampInt(lo, hi)       "ClampInt"       1 [lo: I64 "lower bound", hi: I64 "upper bound"]    => broadcast;
    IfElse                 "IfElse"         3 []                                                => broadcast;
    Clamp                  "Clamp"          3 []                                                => broadcast;
    Mod                    "Mod"            3 []                                                => broadcast;
    SqNorm2                "SqNorm2"        1 []                                                => { Ok(1) };
    Norm2                  "Norm2"          1 []                                                => { Ok(1) };
    Normalize              "Normalize"      1 []                                                => { Ok(d[0]) };
    SqDist                 "SqDist"         2 []                                                => { same(name, d[0], d[1]).map(|_| 1) };
    Scalprod               "Scalprod"       2 []                                                => { same(name, d[0], d[1]).map(|_| 1) };
    WeightedSqNorm         "WeightedSqNorm" 2 []                                                => { weight(name, d[0], d[1]) };
    WeightedSqDist         "WeightedSqDist" 3 []                                                => { same(name, d[1], d[2]).and_then(|x| weight(name, d[0], x)) };
    Sum                    "Sum"            1 []                                                => { Ok(1) };
    Max                    "Max"            1 []                                                => { Ok(1) };
    Min                    "Min"            1 []                                                => { Ok(1) };
    ArgMax                 "ArgMax"         1 []                                                => { Ok(1) };
    ArgMin                 "ArgMin"         1 []                                                => { Ok(1) };
    Elem(m)                "Elem"           1 [m: Size "index"]                                 => { elem(name, *m, d[0]) };
    ElemT { index, dim }   "ElemT"          1 [dim: Size "dimension", index: Size "index"]      => { elem_t(name, *index, *dim, d[0]) };
    Extract { start, len } "Extract"        1 [start: Size "start", len: Size "length"]         => { extract(name, *start, *len, d[0]) };
    ExtractT { start, dim } "ExtractT"      1 [start: Size "start", dim: Size "dimension"]      => { extract_t(name, *start, *dim, d[0]) };
    Concat                 "Concat"         2 []                                                => { Ok(d[0].saturating_add(d[1])) };
    OneHot(n)              "OneHot"         1 [n: Size "dimension"]                             => { same(name, d[0], 1).and_then(|_| at_least_one(name, *n)) };
    MatVecMult             "MatVecMult"     2 []                                                => { mat_vec(name, d[0], d[1]) };
    VecMatMult             "VecMatMult"     2 []                                                => { mat_vec(name, d[1], d[0]) };
    TensorProd             "TensorProd"     2 []                                                => { Ok(d[0].saturating_mul(d[1])) };
    Kron { a, b }          "Kron"           2 [a: List "first shape", b: List "second shape"]   => { kron(name, a, b, d) };
    TensorDot { a, b, ca, cb } "TensorDot"  2 [a: List "first shape", b: List "second shape",
                                               ca: List "first contracted axes", cb: List "second contracted axes"]
                                                                                                => { tensor_dot(name, [a, b, ca, cb], d) };
}

/// KeOps' names for the comparisons, which print as infix operators (`<`, `<=`, ...).
const KEOPS_COMPARISONS: &[(&str, BinaryOp)] = &[
    ("LessThan", BinaryOp::Less),
    ("LessOrEqual", BinaryOp::LessEq),
    ("GreaterThan", BinaryOp::Greater),
    ("GreaterOrEqual", BinaryOp::GreaterEq),
];

impl Op {
    /// How a call is written, operands named f, g, h and parameters by their labels:
    /// `ElemT(f, dimension, index)`.
    pub fn call_text(&self) -> String {
        let syntax = self.syntax();
        let operands = ["f", "g", "h"].iter().take(syntax.arity).map(|s| s.to_string());
        let params = syntax.params.iter().map(|(kind, label)| match kind {
            ParamKind::List => format!("[{label}]"),
            _ => label.to_string(),
        });
        format!("{}({})", syntax.name, operands.chain(params).collect::<Vec<_>>().join(", "))
    }

    /// The operation called `name` in the formula language, with default parameters.
    pub fn by_name(name: &str) -> Option<Op> {
        if let Some(u) = UnaryOp::from_name(name) {
            return Some(Op::Unary(u));
        }
        if let Some(b) = BinaryOp::from_name(name) {
            return Some(Op::Binary(b));
        }
        if let Some(&(_, b)) = KEOPS_COMPARISONS.iter().find(|(keops, _)| *keops == name) {
            return Some(Op::Binary(b));
        }
        Op::templates().into_iter().find(|op| op.name() == name)
    }
}

/// The dimension of `op(args)`, or the error a person needs to fix the formula.
pub(super) fn infer_dim(op: &Op, dims: &[usize]) -> Result<usize> {
    let arity = op.arity();
    if dims.len() != arity {
        return Err(Error::Arity { op: op.name().into(), expected: arity.to_string(), got: dims.len() });
    }
    op.rule_dim(dims)
}

/// The product of a shape, saturating: an absurd shape then fails the dimension checks.
fn product(s: &[usize]) -> usize {
    s.iter().fold(1usize, |a, &b| a.saturating_mul(b))
}

fn same(name: &str, a: usize, b: usize) -> Result<usize> {
    if a == b {
        Ok(a)
    } else {
        Err(Error::DimMismatch { op: name.into(), a, b })
    }
}

fn at_least_one(name: &str, dim: usize) -> Result<usize> {
    if dim == 0 {
        return Err(Error::invalid(name, "dimension must be at least 1"));
    }
    Ok(dim)
}

/// Elementwise: every operand of dimension 1 or of the one common dimension D.
fn broadcast(name: &str, d: &[usize]) -> Result<usize> {
    let mut out = 1;
    for &k in d {
        if k != 1 {
            if out != 1 && out != k {
                return Err(Error::DimMismatch { op: name.into(), a: out, b: k });
            }
            out = k;
        }
    }
    Ok(out)
}

/// A weight of dimension 1, D or D² for vectors of dimension D: a scalar result.
fn weight(name: &str, w: usize, x: usize) -> Result<usize> {
    if w != 1 && w != x && w != x.saturating_mul(x) {
        let msg = format!(
            "the weight has dimension {w} but the vectors have dimension {x}: it must be 1, {x} or {}",
            x.saturating_mul(x)
        );
        return Err(Error::invalid(name, msg));
    }
    Ok(1)
}

fn elem(name: &str, m: usize, d: usize) -> Result<usize> {
    if m >= d {
        return Err(Error::invalid(name, format!("index {m} out of range for a vector of dimension {d}")));
    }
    Ok(1)
}

fn elem_t(name: &str, index: usize, dim: usize, d: usize) -> Result<usize> {
    same(name, d, 1)?;
    if index >= dim {
        return Err(Error::invalid(name, format!("index {index} out of range for dimension {dim}")));
    }
    Ok(dim)
}

fn extract(name: &str, start: usize, len: usize, d: usize) -> Result<usize> {
    if len == 0 || start.saturating_add(len) > d {
        let end = start.saturating_add(len);
        return Err(Error::invalid(
            name,
            format!("components {start}..{end} out of range for a vector of dimension {d}"),
        ));
    }
    Ok(len)
}

fn extract_t(name: &str, start: usize, dim: usize, d: usize) -> Result<usize> {
    if start.saturating_add(d) > dim {
        return Err(Error::invalid(
            name,
            format!("a vector of dimension {d} at {start} does not fit in dimension {dim}"),
        ));
    }
    Ok(dim)
}

/// A matrix of `entries` entries times a vector of dimension `v` (either side): `entries / v`.
fn mat_vec(name: &str, entries: usize, v: usize) -> Result<usize> {
    if !entries.is_multiple_of(v) {
        return Err(Error::invalid(
            name,
            format!("the matrix has {entries} entries, not a multiple of the vector's dimension {v}"),
        ));
    }
    Ok(entries / v)
}

fn kron(name: &str, a: &[usize], b: &[usize], d: &[usize]) -> Result<usize> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::invalid(name, "both shapes must have the same, non-zero, number of axes"));
    }
    same(name, product(a), d[0])?;
    same(name, product(b), d[1])?;
    Ok(a.iter().zip(b).fold(1usize, |acc, (x, y)| acc.saturating_mul(x.saturating_mul(*y))))
}

fn tensor_dot(name: &str, [a, b, ca, cb]: [&Vec<usize>; 4], d: &[usize]) -> Result<usize> {
    same(name, product(a), d[0])?;
    same(name, product(b), d[1])?;
    if ca.len() != cb.len() {
        return Err(Error::invalid(name, "the contracted axes of both operands must pair up"));
    }
    for (&x, &y) in ca.iter().zip(cb) {
        if x >= a.len() || y >= b.len() || a[x] != b[y] {
            return Err(Error::invalid(name, format!("cannot contract axis {x} of {a:?} with axis {y} of {b:?}")));
        }
    }
    let distinct = |axes: &[usize]| {
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() == axes.len()
    };
    if !distinct(ca) || !distinct(cb) {
        return Err(Error::invalid(name, "an axis is contracted twice"));
    }
    let free = |shape: &[usize], axes: &[usize]| {
        product(&(0..shape.len()).filter(|k| !axes.contains(k)).map(|k| shape[k]).collect::<Vec<_>>())
    };
    Ok(free(a, ca).saturating_mul(free(b, cb)))
}
