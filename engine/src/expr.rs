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

mod table;
pub use table::{Op, Param, ParamKind, Syntax};

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
        let dims: Vec<usize> = args.iter().map(Expr::dim).collect();
        let dim = table::infer_dim(&op, &dims)?;
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

    /// KeOps' `TensorDot(a, b, dims_a, dims_b, axes_a, axes_b, permute)`: the contraction, its
    /// output axes (the free axes of a, then those of b) then permuted so that axis k goes to
    /// position `permute[k]` (KeOps' convention). The permutation is a gather of components.
    pub fn tensordot(self, b: Expr, shapes: [Vec<usize>; 4], permute: Option<&[usize]>) -> Result<Expr> {
        let [sa, sb, ca, cb] = shapes;
        let free: Vec<usize> = (0..sa.len())
            .filter(|k| !ca.contains(k))
            .map(|k| sa[k])
            .chain((0..sb.len()).filter(|k| !cb.contains(k)).map(|k| sb[k]))
            .collect();
        let t = Expr::new(Op::TensorDot { a: sa, b: sb, ca, cb }, vec![self, b])?;
        let Some(perm) = permute.filter(|p| !p.iter().copied().eq(0..p.len())) else { return Ok(t) };
        let mut seen = vec![false; free.len()];
        if perm.len() != free.len() || perm.iter().any(|&p| p >= free.len() || std::mem::replace(&mut seen[p], true)) {
            return Err(Error::invalid(
                "TensorDot",
                format!("the permutation {perm:?} must order the {} output axes 0..{}", free.len(), free.len()),
            ));
        }
        // Output axis perm[k] has the size of free axis k; row-major strides on both sides.
        let mut out_shape = vec![0; free.len()];
        for (k, &p) in perm.iter().enumerate() {
            out_shape[p] = free[k];
        }
        let strides = |shape: &[usize]| {
            let mut s = vec![1; shape.len()];
            for k in (0..shape.len().saturating_sub(1)).rev() {
                s[k] = s[k + 1] * shape[k + 1];
            }
            s
        };
        let (in_strides, out_strides) = (strides(&free), strides(&out_shape));
        let mut parts = (0..t.dim()).map(|q| {
            // Output index q → its multi-index → the source's flat index.
            let source: usize =
                perm.iter().enumerate().map(|(k, &p)| (q / out_strides[p] % out_shape[p]) * in_strides[k]).sum();
            t.clone().elem(source)
        });
        let first = parts.next().unwrap_or_else(|| Ok(t.clone()))?;
        parts.try_fold(first, |acc, e| acc.concat(e?))
    }

    /// The vector of 1s of dimension `d`, written `Zero(d) + 1` since the language has no "ones".
    pub fn ones(d: usize) -> Result<Expr> {
        Expr::zero(d)?.add(Expr::constant(1.0))
    }

    /// KeOps' `DifferenceMatrix(x, y)`: the vector (x_k − y_l) of dimension dim(x)·dim(y), x's
    /// index slowest, written TensorProd(x, 1) − TensorProd(1, y).
    pub fn difference_matrix(self, y: Expr) -> Result<Expr> {
        let (dx, dy) = (self.dim(), y.dim());
        Expr::new(Op::TensorProd, vec![self, Expr::ones(dy)?])?
            .sub(Expr::new(Op::TensorProd, vec![Expr::ones(dx)?, y])?)
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
        self.syntax().name
    }

    /// How many formula operands the operation takes.
    pub fn arity(&self) -> usize {
        self.syntax().arity
    }
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
