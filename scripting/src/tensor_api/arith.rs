//! Arithmetic: binary operators with broadcasting (tensors, numbers and arrays on either side), unary functions, matmul.
//!
//! Every binary op is one [`Bin`] registered by one helper, [`register_binary`], under its symbol
//! and its method name for each pair of operand types. A number operand takes the tensor's dtype
//! (so `x * 2` stays float32), and an array operand becomes a tensor of that dtype.

use super::ok;
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::array_to_tensor;
use noyau_engine::Tensor;
use rhai::{Array, Engine, FLOAT, INT};
use std::rc::Rc;

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Matmul,
}

impl Bin {
    /// Symbol, method name, and documentation.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Bin::Add => ("+", "add", "Elementwise a + b, with NumPy broadcasting."),
            Bin::Sub => ("-", "sub", "Elementwise a - b, with NumPy broadcasting."),
            Bin::Mul => ("*", "mul", "Elementwise a * b, with NumPy broadcasting."),
            Bin::Div => ("/", "div", "Elementwise a / b, with NumPy broadcasting."),
            Bin::Pow => ("**", "pow", "Elementwise a ** b, with NumPy broadcasting."),
            Bin::Lt => ("<", "lt", "1 where a < b and 0 elsewhere (broadcast; no gradient)."),
            Bin::Le => ("<=", "le", "1 where a <= b and 0 elsewhere (broadcast; no gradient)."),
            Bin::Gt => (">", "gt", "1 where a > b and 0 elsewhere (broadcast; no gradient)."),
            Bin::Ge => (">=", "ge", "1 where a >= b and 0 elsewhere (broadcast; no gradient)."),
            Bin::Eq => ("==", "eq", "1 where a == b and 0 elsewhere (broadcast; no gradient): a tensor, not a bool."),
            Bin::Ne => ("!=", "ne", "1 where a != b and 0 elsewhere (broadcast; no gradient): a tensor, not a bool."),
            Bin::Matmul => (
                "@",
                "matmul",
                "The matrix product, as torch.matmul: 1-D @ 1-D is a dot product, a 1-D operand is a row\n\
                 (left) or column (right) vector, and ≥3-D operands are batches of matrices that broadcast.",
            ),
        }
    }

    fn tensors(self, a: &Tensor, b: &Tensor) -> RhaiResult<Tensor> {
        ok(match self {
            Bin::Add => a.add(b),
            Bin::Sub => a.sub(b),
            Bin::Mul => a.mul(b),
            Bin::Div => a.div(b),
            Bin::Pow => a.pow(b),
            Bin::Lt => a.lt(b),
            Bin::Le => a.le(b),
            Bin::Gt => a.gt(b),
            Bin::Ge => a.ge(b),
            Bin::Eq => a.eq(b),
            Bin::Ne => a.ne(b),
            Bin::Matmul => a.matmul(b),
        })
    }

    /// `t op s` (or `s op t` when `left`), through the engine's tensor–scalar ops where they exist.
    fn with_number(self, t: &Tensor, s: f64, left: bool) -> RhaiResult<Tensor> {
        Ok(match (self, left) {
            (Bin::Add, _) => t + s,
            (Bin::Sub, false) => t - s,
            (Bin::Sub, true) => s - t,
            (Bin::Mul, _) => t * s,
            (Bin::Div, false) => t / s,
            (Bin::Div, true) => s / t,
            (Bin::Pow, false) => t.pow_scalar(s),
            (_, false) => return self.tensors(t, &Tensor::scalar(s, t.dtype())),
            (_, true) => return self.tensors(&Tensor::scalar(s, t.dtype()), t),
        })
    }
}

/// An operand of a binary op as a script passes it.
enum Arg {
    T(Tensor),
    N(f64),
    A(Array),
}

/// The operand types binary ops are registered for, with their names in signatures.
trait Operand: Clone + 'static {
    const TYPE: &'static str;
    fn arg(self) -> Arg;
}

impl Operand for Tensor {
    const TYPE: &'static str = "Tensor";
    fn arg(self) -> Arg {
        Arg::T(self)
    }
}

impl Operand for INT {
    const TYPE: &'static str = "int";
    fn arg(self) -> Arg {
        Arg::N(self as f64)
    }
}

impl Operand for FLOAT {
    const TYPE: &'static str = "float";
    fn arg(self) -> Arg {
        Arg::N(self)
    }
}

impl Operand for Array {
    const TYPE: &'static str = "array";
    fn arg(self) -> Arg {
        Arg::A(self)
    }
}

fn apply(op: Bin, a: Arg, b: Arg) -> RhaiResult<Tensor> {
    let method = op.names().1;
    let array = |a: &Array, like: &Tensor| array_to_tensor(a, like.dtype()).map_err(|e| rt(method, e));
    match (a, b) {
        (Arg::T(x), Arg::T(y)) => op.tensors(&x, &y),
        (Arg::T(x), Arg::N(s)) => op.with_number(&x, s, false),
        (Arg::N(s), Arg::T(y)) => op.with_number(&y, s, true),
        (Arg::T(x), Arg::A(a)) => op.tensors(&x, &array(&a, &x)?),
        (Arg::A(a), Arg::T(y)) => op.tensors(&array(&a, &y)?, &y),
        _ => Err(rt(method, "needs a tensor operand")),
    }
}

fn register_pair<A: Operand, B: Operand>(engine: &mut Engine, op: Bin, name: &str) {
    doc(&format!("{name}(a: {}, b: {}) -> Tensor", A::TYPE, B::TYPE), op.names().2)
        .register_into_engine(engine, move |a: A, b: B| apply(op, a.arg(), b.arg()));
}

/// Registers `op` under its symbol and method name for every pair of operand types
/// (tensor–tensor, tensor–number both ways, tensor–array both ways; matmul takes no numbers).
fn register_binary(engine: &mut Engine, op: Bin) {
    let (symbol, method, _) = op.names();
    for name in [symbol, method] {
        register_pair::<Tensor, Tensor>(engine, op, name);
        register_pair::<Tensor, Array>(engine, op, name);
        register_pair::<Array, Tensor>(engine, op, name);
        if !matches!(op, Bin::Matmul) {
            register_pair::<Tensor, INT>(engine, op, name);
            register_pair::<Tensor, FLOAT>(engine, op, name);
            register_pair::<INT, Tensor>(engine, op, name);
            register_pair::<FLOAT, Tensor>(engine, op, name);
        }
    }
}

pub fn register(engine: &mut Engine, _ctx: &Rc<Context>) {
    // Python's precedence: `@` binds like `*`.
    if let Err(e) = engine.register_custom_operator("@", 180) {
        debug_assert!(false, "@ cannot be a custom operator: {e}");
    }
    use Bin::*;
    for op in [Add, Sub, Mul, Div, Pow, Lt, Le, Gt, Ge, Eq, Ne, Matmul] {
        register_binary(engine, op);
    }

    let log_doc = "Elementwise natural logarithm, as PyTorch's log (NaN below 0, -inf at 0); on a float,\n\
                   Rhai's log is base 10 and ln is natural.";
    type Unary = (&'static str, &'static str, fn(&Tensor) -> Tensor);
    let unary: [Unary; 10] = [
        ("-", "Elementwise negation.", |x| -x),
        ("neg", "Elementwise negation.", |x| -x),
        ("exp", "Elementwise exponential.", Tensor::exp),
        ("log", log_doc, Tensor::log),
        ("ln", log_doc, Tensor::log),
        ("sqrt", "Elementwise square root.", Tensor::sqrt),
        ("sin", "Elementwise sine (radians).", Tensor::sin),
        ("cos", "Elementwise cosine (radians).", Tensor::cos),
        ("abs", "Elementwise absolute value.", Tensor::abs),
        ("square", "Elementwise x * x.", Tensor::square),
    ];
    for (name, text, f) in unary {
        doc(&format!("{name}(x: Tensor) -> Tensor"), text).register_into_engine(engine, move |x: Tensor| f(&x));
    }
    doc("sign(x: Tensor) -> Tensor", "Elementwise -1, 0 or 1 (NaN stays NaN); no gradient.")
        .register_into_engine(engine, |x: Tensor| x.sign());
    doc("dot(a: Tensor, b: Tensor) -> Tensor", "The dot product of two 1-D tensors of the same length (a 0-D tensor).")
        .register_into_engine(engine, |a: Tensor, b: Tensor| ok(a.dot(&b)));
}
