//! The formula IR: a closed `Op` enum and hash-consed expression nodes with inferred dimensions.
//!
//! Every [`Expr`] is interned in a global table, so two structurally equal formulas are the same
//! node: equality and hashing are pointer operations, shared subexpressions are evaluated once,
//! and a formula can key a cache. Constructors check arity and dimensions, so an `Expr` that
//! exists is always well formed.

use crate::error::{Error, Result};
use crate::ops::{BinaryOp, UnaryOp};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};

/// Which index a variable follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cat {
    /// Indexed by i (KeOps category 0): `Vi`.
    I,
    /// Indexed by j (category 1): `Vj`.
    J,
    /// A parameter, the same for every pair (category 2): `Pm`.
    P,
}

impl Cat {
    pub fn from_index(c: i64) -> Option<Cat> {
        match c {
            0 => Some(Cat::I),
            1 => Some(Cat::J),
            2 => Some(Cat::P),
            _ => None,
        }
    }
    pub fn index(self) -> usize {
        match self {
            Cat::I => 0,
            Cat::J => 1,
            Cat::P => 2,
        }
    }
    /// `Vi`, `Vj` or `Pm`.
    pub fn short(self) -> &'static str {
        match self {
            Cat::I => "Vi",
            Cat::J => "Vj",
            Cat::P => "Pm",
        }
    }
}

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

/// A node of the formula DAG.
#[derive(Debug)]
pub struct Node {
    pub op: Op,
    pub args: Vec<Expr>,
    pub dim: usize,
}

impl Drop for Node {
    /// Frees a deep chain iteratively: the default recursive drop overflows the stack on formulas
    /// built by long loops (a sum of 10⁵ terms, say).
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.args);
        while let Some(e) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(e.0) {
                stack.append(&mut node.args);
            }
        }
    }
}

/// The most operands an operation takes (`Op::arity`); backends size fixed operand arrays by it.
pub const MAX_ARITY: usize = 3;

/// The largest dimension of a node: far beyond any real formula, small enough that dimension
/// arithmetic cannot overflow.
pub const MAX_DIM: usize = 1 << 24;

/// A formula: a shared, interned, immutable node.
#[derive(Clone)]
pub struct Expr(Arc<Node>);

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Expr {}
impl Hash for Expr {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(h)
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::print::to_string(self))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::print::to_string(self))
    }
}

type InternKey = (Op, Vec<usize>);

/// The global interning table. Entries whose node died are swept when the table doubles.
/// The interned nodes, and the table size at which dead entries are swept next.
type InternTable = (HashMap<InternKey, Weak<Node>>, usize);

static INTERN: Mutex<Option<InternTable>> = Mutex::new(None);

#[allow(clippy::should_implement_trait)] // add, sub, ... return Results: see the builders below.
impl Expr {
    /// Builds (or finds) the node `op(args)`, checking arity and inferring the dimension.
    pub fn new(op: Op, args: Vec<Expr>) -> Result<Expr> {
        debug_assert!(op.arity() <= MAX_ARITY, "{} takes more operands than MAX_ARITY", op.name());
        let dim = infer_dim(&op, &args)?;
        if dim > MAX_DIM {
            return Err(Error::invalid(op.name(), format!("dimension {dim} is too large (at most {MAX_DIM})")));
        }
        let key: InternKey = (op, args.iter().map(|a| Arc::as_ptr(&a.0) as usize).collect());
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut guard = INTERN.lock().unwrap_or_else(|e| e.into_inner());
        let (map, sweep_at) = guard.get_or_insert_with(|| (HashMap::new(), 1024));
        if let Some(node) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(Expr(node));
        }
        let node = Arc::new(Node { op: key.0.clone(), args, dim });
        map.insert(key, Arc::downgrade(&node));
        if map.len() >= *sweep_at {
            map.retain(|_, w| w.strong_count() > 0);
            *sweep_at = (map.len() * 2).max(1024);
        }
        Ok(Expr(node))
    }

    pub fn op(&self) -> &Op {
        &self.0.op
    }
    pub fn args(&self) -> &[Expr] {
        &self.0.args
    }
    pub fn dim(&self) -> usize {
        self.0.dim
    }
    pub fn arg(&self, k: usize) -> &Expr {
        &self.0.args[k]
    }

    // ---- leaves ----

    pub fn var(index: usize, dim: usize, cat: Cat) -> Result<Expr> {
        Expr::new(Op::Var { index, dim, cat }, vec![])
    }
    pub fn constant(c: f64) -> Expr {
        // Normalise -0.0 to 0.0 so that "x*0" and "x*-0" meet the same rules.
        let c = if c == 0.0 { 0.0 } else { c };
        Expr::new(Op::Const(c.to_bits()), vec![]).expect("a constant is always well formed")
    }
    pub fn int(n: i64) -> Expr {
        Expr::new(Op::IntCst(n), vec![]).expect("an integer constant is always well formed")
    }
    pub fn zero(dim: usize) -> Result<Expr> {
        Expr::new(Op::Zero(dim), vec![])
    }

    /// The value of a constant leaf (`Const` or `IntCst`), if this is one.
    pub fn as_const(&self) -> Option<f64> {
        match self.op() {
            Op::Const(bits) => Some(f64::from_bits(*bits)),
            Op::IntCst(n) => Some(*n as f64),
            _ => None,
        }
    }
    /// True for the constant 0 and for `Zero(d)`.
    pub fn is_zero(&self) -> bool {
        matches!(self.op(), Op::Zero(_)) || self.as_const() == Some(0.0)
    }

    // ---- builders that read like the formula language ----
    // They are not the std::ops traits on purpose: each can fail (dimensions) and returns a Result.

    pub fn unary(self, op: UnaryOp) -> Result<Expr> {
        Expr::new(Op::Unary(op), vec![self])
    }
    pub fn binary(self, op: BinaryOp, other: Expr) -> Result<Expr> {
        Expr::new(Op::Binary(op), vec![self, other])
    }
    pub fn add(self, o: Expr) -> Result<Expr> {
        self.binary(BinaryOp::Add, o)
    }
    pub fn sub(self, o: Expr) -> Result<Expr> {
        self.binary(BinaryOp::Sub, o)
    }
    pub fn mul(self, o: Expr) -> Result<Expr> {
        self.binary(BinaryOp::Mul, o)
    }
    pub fn div(self, o: Expr) -> Result<Expr> {
        self.binary(BinaryOp::Div, o)
    }
    pub fn neg(self) -> Result<Expr> {
        self.unary(UnaryOp::Minus)
    }
    pub fn exp(self) -> Result<Expr> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(self) -> Result<Expr> {
        self.unary(UnaryOp::Log)
    }
    pub fn sqrt(self) -> Result<Expr> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn square(self) -> Result<Expr> {
        self.unary(UnaryOp::Square)
    }
    pub fn pow(self, n: i32) -> Result<Expr> {
        Expr::new(Op::Pow(n), vec![self])
    }
    pub fn sqnorm2(self) -> Result<Expr> {
        Expr::new(Op::SqNorm2, vec![self])
    }
    pub fn sqdist(self, o: Expr) -> Result<Expr> {
        Expr::new(Op::SqDist, vec![self, o])
    }
    pub fn scalprod(self, o: Expr) -> Result<Expr> {
        Expr::new(Op::Scalprod, vec![self, o])
    }
    pub fn sum(self) -> Result<Expr> {
        Expr::new(Op::Sum, vec![self])
    }
    pub fn elem(self, m: usize) -> Result<Expr> {
        Expr::new(Op::Elem(m), vec![self])
    }
    pub fn concat(self, o: Expr) -> Result<Expr> {
        Expr::new(Op::Concat, vec![self, o])
    }

    /// Every node of the DAG reachable from `roots`, each once, children before parents.
    pub fn topo_order(roots: &[Expr]) -> Vec<Expr> {
        let mut seen = std::collections::HashSet::new();
        let mut order = Vec::new();
        // An explicit stack: deep formulas (long sums built in a loop) must not overflow the call stack.
        let mut stack: Vec<(Expr, bool)> = roots.iter().rev().map(|r| (r.clone(), false)).collect();
        while let Some((e, expanded)) = stack.pop() {
            if expanded {
                order.push(e);
                continue;
            }
            if !seen.insert(e.clone()) {
                continue;
            }
            stack.push((e.clone(), true));
            for a in e.args().iter().rev() {
                if !seen.contains(a) {
                    stack.push((a.clone(), false));
                }
            }
        }
        order
    }

    /// The variables used by the formula, sorted by index, each once.
    pub fn variables(roots: &[Expr]) -> Vec<(usize, usize, Cat)> {
        let mut vars: Vec<_> = Expr::topo_order(roots)
            .iter()
            .filter_map(|e| match e.op() {
                Op::Var { index, dim, cat } => Some((*index, *dim, *cat)),
                _ => None,
            })
            .collect();
        vars.sort();
        vars.dedup();
        vars
    }
}

impl Op {
    /// The operation's name in the formula language.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Var { .. } => "Var",
            Op::Const(_) => "Const",
            Op::IntCst(_) => "IntCst",
            Op::Zero(_) => "Zero",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Pow(_) => "Pow",
            Op::Round(_) => "Round",
            Op::ClampInt(..) => "ClampInt",
            Op::IfElse => "IfElse",
            Op::Clamp => "Clamp",
            Op::Mod => "Mod",
            Op::SqNorm2 => "SqNorm2",
            Op::Norm2 => "Norm2",
            Op::Normalize => "Normalize",
            Op::SqDist => "SqDist",
            Op::Scalprod => "Scalprod",
            Op::WeightedSqNorm => "WeightedSqNorm",
            Op::WeightedSqDist => "WeightedSqDist",
            Op::Sum => "Sum",
            Op::Max => "Max",
            Op::Min => "Min",
            Op::ArgMax => "ArgMax",
            Op::ArgMin => "ArgMin",
            Op::Elem(_) => "Elem",
            Op::ElemT { .. } => "ElemT",
            Op::Extract { .. } => "Extract",
            Op::ExtractT { .. } => "ExtractT",
            Op::Concat => "Concat",
            Op::OneHot(_) => "OneHot",
            Op::MatVecMult => "MatVecMult",
            Op::VecMatMult => "VecMatMult",
            Op::TensorProd => "TensorProd",
            Op::Kron { .. } => "Kron",
            Op::TensorDot { .. } => "TensorDot",
        }
    }

    /// How many formula operands the operation takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Var { .. } | Op::Const(_) | Op::IntCst(_) | Op::Zero(_) => 0,
            Op::Unary(_)
            | Op::Pow(_)
            | Op::Round(_)
            | Op::ClampInt(..)
            | Op::SqNorm2
            | Op::Norm2
            | Op::Normalize
            | Op::Sum
            | Op::Max
            | Op::Min
            | Op::ArgMax
            | Op::ArgMin
            | Op::Elem(_)
            | Op::ElemT { .. }
            | Op::Extract { .. }
            | Op::ExtractT { .. }
            | Op::OneHot(_) => 1,
            Op::Binary(_)
            | Op::SqDist
            | Op::Scalprod
            | Op::WeightedSqNorm
            | Op::Concat
            | Op::MatVecMult
            | Op::VecMatMult
            | Op::TensorProd
            | Op::Kron { .. }
            | Op::TensorDot { .. } => 2,
            Op::IfElse | Op::Clamp | Op::Mod | Op::WeightedSqDist => 3,
        }
    }

    /// True for ops that apply componentwise with scalar broadcasting (all operands dim 1 or D).
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_)
                | Op::Binary(_)
                | Op::Pow(_)
                | Op::Round(_)
                | Op::ClampInt(..)
                | Op::IfElse
                | Op::Clamp
                | Op::Mod
        )
    }
}

/// The product of a shape, saturating: an absurd shape then fails the dimension checks.
fn product(s: &[usize]) -> usize {
    s.iter().fold(1usize, |a, &b| a.saturating_mul(b))
}

/// The dimension of `op(args)`, or the error a person needs to fix the formula.
fn infer_dim(op: &Op, args: &[Expr]) -> Result<usize> {
    let name = op.name();
    if args.len() != op.arity() {
        return Err(Error::Arity { op: name.into(), expected: op.arity().to_string(), got: args.len() });
    }
    let d: Vec<usize> = args.iter().map(Expr::dim).collect();
    let same = |a: usize, b: usize| -> Result<usize> {
        if a == b {
            Ok(a)
        } else {
            Err(Error::DimMismatch { op: name.into(), a, b })
        }
    };
    Ok(match op {
        Op::Var { dim, .. } | Op::Zero(dim) => {
            if *dim == 0 {
                return Err(Error::invalid(name, "dimension must be at least 1"));
            }
            *dim
        }
        Op::Const(_) | Op::IntCst(_) => 1,
        op if op.is_elementwise() => {
            let mut out = 1;
            for &k in &d {
                if k != 1 {
                    if out != 1 && out != k {
                        return Err(Error::DimMismatch { op: name.into(), a: out, b: k });
                    }
                    out = k;
                }
            }
            out
        }
        Op::SqNorm2 | Op::Norm2 | Op::Sum | Op::Max | Op::Min | Op::ArgMax | Op::ArgMin => 1,
        Op::Normalize => d[0],
        Op::SqDist | Op::Scalprod => {
            same(d[0], d[1])?;
            1
        }
        Op::WeightedSqNorm | Op::WeightedSqDist => {
            let x = d[1];
            if let Op::WeightedSqDist = op {
                same(d[1], d[2])?;
            }
            if d[0] != 1 && d[0] != x && d[0] != x.saturating_mul(x) {
                return Err(Error::invalid(
                    name,
                    format!(
                        "the weight has dimension {} but the vectors have dimension {x}: it must be 1, {x} or {}",
                        d[0],
                        x * x
                    ),
                ));
            }
            1
        }
        Op::Elem(m) => {
            if *m >= d[0] {
                return Err(Error::invalid(name, format!("index {m} out of range for a vector of dimension {}", d[0])));
            }
            1
        }
        Op::ElemT { index, dim } => {
            same(d[0], 1)?;
            if *index >= *dim {
                return Err(Error::invalid(name, format!("index {index} out of range for dimension {dim}")));
            }
            *dim
        }
        Op::Extract { start, len } => {
            if *len == 0 || start.saturating_add(*len) > d[0] {
                return Err(Error::invalid(
                    name,
                    format!("components {start}..{} out of range for a vector of dimension {}", start + len, d[0]),
                ));
            }
            *len
        }
        Op::ExtractT { start, dim } => {
            if start.saturating_add(d[0]) > *dim {
                return Err(Error::invalid(
                    name,
                    format!("a vector of dimension {} at {start} does not fit in dimension {dim}", d[0]),
                ));
            }
            *dim
        }
        Op::Concat => d[0].saturating_add(d[1]),
        Op::OneHot(n) => {
            same(d[0], 1)?;
            if *n == 0 {
                return Err(Error::invalid(name, "dimension must be at least 1"));
            }
            *n
        }
        Op::MatVecMult => {
            if !d[0].is_multiple_of(d[1]) {
                return Err(Error::invalid(
                    name,
                    format!("the matrix has {} entries, not a multiple of the vector's dimension {}", d[0], d[1]),
                ));
            }
            d[0] / d[1]
        }
        Op::VecMatMult => {
            if !d[1].is_multiple_of(d[0]) {
                return Err(Error::invalid(
                    name,
                    format!("the matrix has {} entries, not a multiple of the vector's dimension {}", d[1], d[0]),
                ));
            }
            d[1] / d[0]
        }
        Op::TensorProd => d[0].saturating_mul(d[1]),
        Op::Kron { a, b } => {
            if a.len() != b.len() || a.is_empty() {
                return Err(Error::invalid(name, "both shapes must have the same, non-zero, number of axes"));
            }
            same(product(a), d[0])?;
            same(product(b), d[1])?;
            a.iter().zip(b).fold(1usize, |acc, (x, y)| acc.saturating_mul(x.saturating_mul(*y)))
        }
        Op::TensorDot { a, b, ca, cb } => {
            same(product(a), d[0])?;
            same(product(b), d[1])?;
            if ca.len() != cb.len() {
                return Err(Error::invalid(name, "the contracted axes of both operands must pair up"));
            }
            for (&x, &y) in ca.iter().zip(cb) {
                if x >= a.len() || y >= b.len() || a[x] != b[y] {
                    return Err(Error::invalid(
                        name,
                        format!("cannot contract axis {x} of {a:?} with axis {y} of {b:?}"),
                    ));
                }
            }
            let mut dedup_a = ca.clone();
            dedup_a.sort();
            dedup_a.dedup();
            let mut dedup_b = cb.clone();
            dedup_b.sort();
            dedup_b.dedup();
            if dedup_a.len() != ca.len() || dedup_b.len() != cb.len() {
                return Err(Error::invalid(name, "an axis is contracted twice"));
            }
            let fa = product(&(0..a.len()).filter(|k| !ca.contains(k)).map(|k| a[k]).collect::<Vec<_>>());
            let fb = product(&(0..b.len()).filter(|k| !cb.contains(k)).map(|k| b[k]).collect::<Vec<_>>());
            fa.saturating_mul(fb)
        }
        Op::Unary(_) | Op::Binary(_) | Op::Pow(_) | Op::Round(_) | Op::ClampInt(..) => {
            unreachable!("handled above")
        }
        Op::IfElse | Op::Clamp | Op::Mod => unreachable!("elementwise, handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_consing_shares_equal_subexpressions() {
        let x = Expr::var(0, 3, Cat::I).unwrap();
        let y = Expr::var(1, 3, Cat::J).unwrap();
        let a = x.clone().sub(y.clone()).unwrap().sqnorm2().unwrap();
        let b = x.sub(y).unwrap().sqnorm2().unwrap();
        assert_eq!(a, b);
        assert_eq!(Expr::constant(-0.0), Expr::constant(0.0));
    }

    #[test]
    fn dimension_errors_name_the_op() {
        let x = Expr::var(0, 3, Cat::I).unwrap();
        let y = Expr::var(1, 2, Cat::J).unwrap();
        let e = x.clone().sub(y.clone()).unwrap_err();
        assert_eq!(e.to_string(), "Subtract: dimensions 3 and 2 differ");
        assert!(x.elem(3).is_err());
        assert_eq!(Expr::var(0, 0, Cat::I).unwrap_err().to_string(), "Var: dimension must be at least 1");
    }

    #[test]
    fn broadcasting_scalars() {
        let x = Expr::var(0, 3, Cat::I).unwrap();
        let s = Expr::var(1, 1, Cat::P).unwrap();
        assert_eq!(s.mul(x).unwrap().dim(), 3);
    }

    #[test]
    fn tensordot_dims() {
        let a = Expr::var(0, 6, Cat::I).unwrap();
        let b = Expr::var(1, 12, Cat::J).unwrap();
        let op = Op::TensorDot { a: vec![2, 3], b: vec![3, 4], ca: vec![1], cb: vec![0] };
        assert_eq!(Expr::new(op, vec![a, b]).unwrap().dim(), 8);
    }
}
