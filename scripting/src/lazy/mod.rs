//! LazyTensor: Vi/Vj/Pm, symbolic operations building formulas, and reductions evaluated by the engine.
//!
//! A [`LazyTensor`] is a formula (an engine [`Expr`]) together with the tensors its variables
//! stand for: `Var(k, d, cat)` is bound to `vars[k]`. Nothing is computed until a reduction
//! (`sum(1)`, `logsumexp(0)`, `K @ v`, ...) hands the formula and the tensors to the engine.
//!
//! Combining LazyTensors merges their bindings: the left operand keeps its indices; each tensor
//! of the right operand is looked up by identity (the same tensor object in the same category is
//! the same variable, so `x_i - x_i` has one variable and `Vi(x) - Vj(x)` two) and appended when
//! new; the right formula is then re-indexed. Indices depend only on the order in which a script
//! combines its operands, never on data or addresses, so running a line twice builds the same
//! hash-consed formula and hits the engine's cache of compiled programs.
//!
//! Numbers in formulas (`2.0 * x_i`, `x_i + 1`) become parameters bound to 1×1 tensors, as in
//! KeOps: a loop that changes a constant reuses the compiled program. At reduction time they are
//! cast to the element type of the data, so float32 data stays float32.
//!
//! The module is split by concern: `ops` (symbolic operations), `reduce` (reductions, options,
//! `@`), `solve` (conjugate gradient), `display` (names, printing, LaTeX).

mod display;
mod ops;
mod reduce;
mod solve;

pub(crate) use reduce::shaped;
pub use reduce::Overrides;
pub(crate) use solve::{conjugate_gradient, stop_from};

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::values::{as_number, to_tensor};
use noyau_engine::{Cat, DType, Error as EngineError, Expr, Op, Tensor};
use rhai::{Dynamic, Engine, FLOAT, INT};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// The name of the type in scripts and error messages.
pub const LAZY: &str = "LazyTensor";

/// Registers a function under its documented signature (`"exp(x: LazyTensor) -> LazyTensor"`)
/// and text, through [`crate::help::doc`], which `help()` and the notebook's inspection read.
macro_rules! def {
    ($engine:expr, $signature:expr, $doc:expr, $f:expr) => {
        crate::help::doc(&$signature, $doc).register_into_engine($engine, $f)
    };
}
pub(crate) use def;

/// A tensor standing for one variable of a formula.
#[derive(Clone)]
pub struct Binding {
    /// The tensor the script passed: its identity decides whether two operands share a variable.
    pub(crate) source: Tensor,
    /// The same values as the reduction expects them: N×D (Vi), M×D (Vj) or 1×D (Pm).
    pub(crate) arg: Tensor,
    pub(crate) cat: Cat,
    /// The value of a number written in the script (cast to the data's dtype when reduced).
    pub(crate) number: Option<f64>,
}

/// A symbolic N×M×D tensor: a formula over Vi, Vj and Pm variables bound to tensors.
#[derive(Clone)]
pub struct LazyTensor {
    pub(crate) formula: Expr,
    pub(crate) vars: Arc<Vec<Binding>>,
}

/// Operands brought into one binding space: the merged bindings and each operand's re-indexed formula.
pub(crate) struct Merged {
    pub vars: Arc<Vec<Binding>>,
    pub formulas: Vec<Expr>,
}

impl LazyTensor {
    fn single(binding: Binding) -> Result<LazyTensor, String> {
        let dim = binding.arg.shape()[1];
        let formula = Expr::var(0, dim, binding.cat).map_err(|_| "a variable needs at least one column".to_string())?;
        Ok(LazyTensor { formula, vars: Arc::new(vec![binding]) })
    }

    /// The variable of category `cat` bound to `t`: N×D (or a 1-D tensor of length N, read as
    /// N×1) for Vi and Vj; a 0-D, 1-D or 1×D tensor for Pm.
    pub fn variable(t: Tensor, cat: Cat) -> Result<LazyTensor, String> {
        let reshape = |s: &[isize]| t.reshape(s).map_err(|e| e.to_string());
        let arg = match (cat, t.shape()) {
            (Cat::I | Cat::J, [_, _]) | (Cat::P, [1, _]) => t.clone(),
            (Cat::I | Cat::J, &[n]) => reshape(&[n as isize, 1])?,
            (Cat::P, []) => reshape(&[1, 1])?,
            (Cat::P, &[d]) => reshape(&[1, d as isize])?,
            (Cat::P, s) => {
                return Err(format!("expected a number, a 1-D tensor of length D or a 1×D tensor, got shape {s:?}"))
            }
            (_, s) => {
                return Err(format!(
                    "expected a 2-D tensor of shape (N, D) or a 1-D tensor of length N, got shape {s:?}"
                ))
            }
        };
        LazyTensor::single(Binding { source: t, arg, cat, number: None })
    }

    /// A number as a parameter of dimension 1.
    pub fn number(x: f64) -> LazyTensor {
        let t = Tensor::scalar(x, DType::F64);
        let arg = t.reshape(&[1, 1]).expect("a scalar reshapes to 1×1");
        LazyTensor::single(Binding { source: t, arg, cat: Cat::P, number: Some(x) }).expect("dimension 1 is valid")
    }

    /// A tensor whose role is read from its shape, as KeOps' `LazyTensor(x)` does: 0-D or 1-D is
    /// a parameter; 3-D (N,1,D) is Vi, (1,M,D) Vj and (1,1,D) Pm. A 2-D tensor needs an axis.
    pub fn infer(t: Tensor) -> Result<LazyTensor, String> {
        match *t.shape() {
            [] | [_] => LazyTensor::variable(t, Cat::P),
            [_, _] => Err(format!(
                "a 2-D tensor (shape {:?}) needs an axis: Vi(x) or LazyTensor(x, 0) for an i-indexed variable, \
                 Vj(x) or LazyTensor(x, 1) for a j-indexed one",
                t.shape()
            )),
            [a, b, d] => {
                let (cat, shape) = match (a, b) {
                    (1, 1) => (Cat::P, vec![1, d as isize]),
                    (1, m) => (Cat::J, vec![m as isize, d as isize]),
                    (n, 1) => (Cat::I, vec![n as isize, d as isize]),
                    _ => {
                        return Err(format!(
                        "a 3-D tensor must have shape (N, 1, D) for Vi, (1, M, D) for Vj or (1, 1, D) for Pm, got {:?}",
                        t.shape()
                    ))
                    }
                };
                let arg = t.reshape(&shape).map_err(|e| e.to_string())?;
                LazyTensor::single(Binding { source: t, arg, cat, number: None })
            }
            ref s => Err(format!("expected a tensor of 0 to 3 dimensions, got shape {s:?}")),
        }
    }

    /// The formula, whose variable k is bound to the k-th tensor of the LazyTensor.
    pub fn expr(&self) -> &Expr {
        &self.formula
    }

    /// Rows of the i- and j-indexed variables (1 where there is none), and the formula's dimension.
    pub fn shape(&self) -> (usize, usize, usize) {
        let rows = |c: Cat| self.vars.iter().find(|b| b.cat == c).map_or(1, |b| b.arg.shape()[0]);
        (rows(Cat::I), rows(Cat::J), self.formula.dim())
    }

    /// Merges the bindings of `parts` (see the module documentation).
    pub(crate) fn merge(parts: &[&LazyTensor]) -> RhaiResult<Merged> {
        let mut vars: Arc<Vec<Binding>> = parts[0].vars.clone();
        let mut formulas = vec![parts[0].formula.clone()];
        for part in &parts[1..] {
            if Arc::ptr_eq(&part.vars, &vars) {
                formulas.push(part.formula.clone());
                continue;
            }
            let mut map = Vec::with_capacity(part.vars.len());
            for b in part.vars.iter() {
                let found = vars.iter().position(|v| v.cat == b.cat && v.source.same(&b.source));
                map.push(found.unwrap_or_else(|| {
                    Arc::make_mut(&mut vars).push(b.clone());
                    vars.len() - 1
                }));
            }
            let identity = map.iter().enumerate().all(|(k, &m)| k == m);
            let f = if identity {
                part.formula.clone()
            } else {
                reindex(&part.formula, &|index, cat| (map[index], cat)).map_err(|e| rt(LAZY, e))?
            };
            formulas.push(f);
        }
        Ok(Merged { vars, formulas })
    }

    /// Combines `parts` into `build(formulas)`; `context` writes the operation from the operands'
    /// printed formulas, for error messages only (it is not called on success).
    pub(crate) fn combine(
        parts: &[&LazyTensor],
        context: impl Fn(&[display::Text]) -> String,
        build: impl FnOnce(&[Expr]) -> Result<Expr, EngineError>,
    ) -> RhaiResult<LazyTensor> {
        let (formula, vars) = LazyTensor::combine_with(parts, context, build)?;
        Ok(LazyTensor { formula, vars })
    }

    /// [`LazyTensor::combine`] for any result built from the merged formulas, returned with the merged bindings.
    pub(crate) fn combine_with<T>(
        parts: &[&LazyTensor],
        context: impl Fn(&[display::Text]) -> String,
        build: impl FnOnce(&[Expr]) -> Result<T, EngineError>,
    ) -> RhaiResult<(T, Arc<Vec<Binding>>)> {
        let merged = LazyTensor::merge(parts)?;
        let describe = |m: &Merged| {
            let names = display::names(&m.vars);
            let texts: Vec<display::Text> = m.formulas.iter().map(|f| display::Text::new(f, &names)).collect();
            context(&texts)
        };
        if let Some(msg) = rows_mismatch(&merged.vars) {
            return Err(rt(&describe(&merged), msg));
        }
        match build(&merged.formulas) {
            Ok(t) => Ok((t, merged.vars)),
            Err(e) => Err(rt(&describe(&merged), engine_msg(&e))),
        }
    }

    /// The same formula with i and j swapped (`K.T`).
    pub fn transposed(&self) -> RhaiResult<LazyTensor> {
        let swap = |c: Cat| match c {
            Cat::I => Cat::J,
            Cat::J => Cat::I,
            Cat::P => Cat::P,
        };
        let formula = reindex(&self.formula, &|index, cat| (index, swap(cat))).map_err(|e| rt("T", e))?;
        let vars = self.vars.iter().map(|b| Binding { cat: swap(b.cat), ..b.clone() }).collect();
        Ok(LazyTensor { formula, vars: Arc::new(vars) })
    }
}

/// The formula with every variable `Var(k, d, c)` replaced by `Var(k', d, c')`, `(k', c') = map(k, c)`.
/// Nodes that do not change are kept, so that hash-consing shares them.
pub(crate) fn reindex(e: &Expr, map: &dyn Fn(usize, Cat) -> (usize, Cat)) -> Result<Expr, EngineError> {
    let mut done: HashMap<Expr, Expr> = HashMap::new();
    for node in Expr::topo_order(std::slice::from_ref(e)) {
        let new = match node.op() {
            Op::Var { index, dim, cat } => {
                let (k, c) = map(*index, *cat);
                Expr::var(k, *dim, c)?
            }
            op => {
                let args: Vec<Expr> = node.args().iter().map(|a| done[a].clone()).collect();
                if args.iter().zip(node.args()).all(|(a, b)| a == b) {
                    node.clone()
                } else {
                    Expr::new(op.clone(), args)?
                }
            }
        };
        done.insert(node, new);
    }
    Ok(done[e].clone())
}

/// The message of an engine error without the engine's op name, which the caller's context replaces.
pub(crate) fn engine_msg(e: &EngineError) -> String {
    match e {
        EngineError::DimMismatch { a, b, .. } => format!("dimensions {a} and {b} differ"),
        EngineError::InvalidOp { msg, .. } | EngineError::Reduction { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// A message when two i-indexed (or two j-indexed) tensors have different numbers of rows.
fn rows_mismatch(vars: &[Binding]) -> Option<String> {
    let names = || display::names(vars);
    for (side, cat) in [("i", Cat::I), ("j", Cat::J)] {
        let mut first: Option<usize> = None;
        for (k, b) in vars.iter().enumerate().filter(|(_, b)| b.cat == cat) {
            let rows = b.arg.shape()[0];
            match first {
                None => first = Some(k),
                Some(f) if vars[f].arg.shape()[0] != rows => {
                    let n = names();
                    return Some(format!(
                        "{} has {} rows but {} has {rows}, and both are {side}-indexed",
                        n[f],
                        vars[f].arg.shape()[0],
                        n[k]
                    ));
                }
                Some(_) => {}
            }
        }
    }
    None
}

/// A script value as a LazyTensor operand: a LazyTensor, a number (a parameter), or a tensor or
/// array whose role is read from its shape ([`LazyTensor::infer`]).
pub(crate) fn operand(d: &Dynamic, ctx: &Context, what: &str) -> RhaiResult<LazyTensor> {
    if let Some(l) = d.clone().try_cast::<LazyTensor>() {
        return Ok(l);
    }
    if let Some(x) = as_number(d) {
        return Ok(LazyTensor::number(x));
    }
    LazyTensor::infer(to_tensor(d, ctx, what)?).map_err(|e| rt(what, e))
}

/// Values that can stand on either side of a binary operation with a LazyTensor.
pub(crate) trait Operand: Clone + 'static {
    /// How the operand's type is written in error messages.
    const TYPE: &'static str;
    fn lazy(self, what: &str) -> RhaiResult<LazyTensor>;
}

impl Operand for LazyTensor {
    const TYPE: &'static str = "LazyTensor";
    fn lazy(self, _: &str) -> RhaiResult<LazyTensor> {
        Ok(self)
    }
}
impl Operand for INT {
    const TYPE: &'static str = "int";
    fn lazy(self, _: &str) -> RhaiResult<LazyTensor> {
        Ok(LazyTensor::number(self as f64))
    }
}
impl Operand for FLOAT {
    const TYPE: &'static str = "float";
    fn lazy(self, _: &str) -> RhaiResult<LazyTensor> {
        Ok(LazyTensor::number(self))
    }
}
impl Operand for Tensor {
    const TYPE: &'static str = "Tensor";
    fn lazy(self, what: &str) -> RhaiResult<LazyTensor> {
        LazyTensor::infer(self).map_err(|e| rt(what, e))
    }
}

/// Registers this module's functions.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    engine.register_type_with_name::<LazyTensor>(LAZY);
    register_constructors(engine, ctx);
    ops::register(engine, ctx);
    reduce::register(engine, ctx);
    display::register(engine);
}

fn register_constructors(engine: &mut Engine, ctx: &Rc<Context>) {
    let table: [(&str, Cat, &str, &str); 3] = [
        ("Vi", Cat::I, "Vi(x: Tensor | array) -> LazyTensor", "An i-indexed variable: x of shape (N, D), or a 1-D tensor of length N read as (N, 1).\nExample: `let x_i = Vi(x);`"),
        ("Vj", Cat::J, "Vj(y: Tensor | array) -> LazyTensor", "A j-indexed variable: y of shape (M, D), or a 1-D tensor of length M read as (M, 1).\nExample: `let y_j = Vj(y);`"),
        ("Pm", Cat::P, "Pm(p: Tensor | array | number) -> LazyTensor", "A parameter, the same for every pair: a number, a 1-D tensor of length D or a 1×D tensor.\nExample: `let s = Pm(0.5);`"),
    ];
    for (name, cat, signature, doc) in table {
        let c = ctx.clone();
        def!(engine, signature, doc, move |x: Dynamic| -> RhaiResult<LazyTensor> { make(&x, Some(cat), &c, name) });
    }
    let c = ctx.clone();
    def!(
        engine,
        "LazyTensor(x: Tensor | array | number) -> LazyTensor",
        "A LazyTensor whose role is read from the shape, as in KeOps: a number or 0-D/1-D tensor is a parameter;\na 3-D tensor of shape (N,1,D) is i-indexed, (1,M,D) j-indexed, (1,1,D) a parameter.",
        move |x: Dynamic| -> RhaiResult<LazyTensor> { make(&x, None, &c, "LazyTensor") }
    );
    let c = ctx.clone();
    def!(
        engine,
        "LazyTensor(x: Tensor | array | number, axis: int) -> LazyTensor",
        "LazyTensor(x, axis): axis 0 makes Vi(x) (i-indexed), 1 makes Vj(x) (j-indexed), 2 makes Pm(x).",
        move |x: Dynamic, axis: INT| -> RhaiResult<LazyTensor> {
            let cat = match axis {
                0 => Cat::I,
                1 => Cat::J,
                2 => Cat::P,
                _ => return Err(rt("LazyTensor", format!("axis must be 0 (Vi), 1 (Vj) or 2 (Pm), got {axis}"))),
            };
            make(&x, Some(cat), &c, "LazyTensor")
        }
    );
}

/// A LazyTensor from a script value, with a given category or (`None`) one read from the shape.
fn make(x: &Dynamic, cat: Option<Cat>, ctx: &Context, what: &str) -> RhaiResult<LazyTensor> {
    if let Some(l) = x.clone().try_cast::<LazyTensor>() {
        return match cat {
            Some(c) if !matches!(l.formula.op(), Op::Var { cat, .. } if *cat == c) => {
                Err(rt(what, "the argument is already a LazyTensor: pass the tensor itself"))
            }
            _ => Ok(l),
        };
    }
    if let (Some(v), None | Some(Cat::P)) = (as_number(x), cat) {
        return Ok(LazyTensor::number(v));
    }
    let t = to_tensor(x, ctx, what)?;
    match cat {
        Some(c) => LazyTensor::variable(t, c),
        None => LazyTensor::infer(t),
    }
    .map_err(|e| rt(what, e))
}
