//! Symbolic operations on LazyTensors: arithmetic and comparisons, elementwise and vector functions, indexing, derivatives.
//!
//! Operations are data: a table per arity, each row a name, how it is written in error messages
//! and how it builds the formula. One generic function registers each table, for every
//! combination of operand types Rhai dispatches on (LazyTensor, INT, FLOAT, Tensor).

use super::display::Text;
use super::{def, operand, LazyTensor, Operand};
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use noyau_engine::{diff, BinaryOp, Error as EngineError, Expr, Op, Tensor, UnaryOp};
use rhai::{Array, Dynamic, Engine, FLOAT, INT};
use std::rc::Rc;

type EResult<T> = Result<T, EngineError>;
type Build1 = fn(Expr) -> EResult<Expr>;
type Build2 = fn(Expr, Expr) -> EResult<Expr>;
type Build3 = fn(Expr, Expr, Expr) -> EResult<Expr>;

/// How an operation is written in error messages: `a + b`, `a.sqdist(b)` or `-a`.
#[derive(Clone, Copy)]
enum Style {
    Infix,
    Method,
    Prefix,
}

impl Style {
    fn write(self, name: &str, operands: &[Text]) -> String {
        match self {
            Style::Infix => format!("{} {name} {}", operands[0].atom, operands[1].atom),
            Style::Method => {
                let args: Vec<&str> = operands[1..].iter().map(|t| t.raw.as_str()).collect();
                format!("{}.{name}({})", operands[0].atom, args.join(", "))
            }
            Style::Prefix => format!("{name}{}", operands[0].atom),
        }
    }
}

fn op1(op: Op, x: Expr) -> EResult<Expr> {
    Expr::new(op, vec![x])
}

const UNARY: &[(&str, Style, Build1, &str)] = &[
    ("-", Style::Prefix, |x| x.neg(), "Elementwise opposite: -x."),
    ("+", Style::Prefix, Ok, "The LazyTensor itself: +x."),
    ("abs", Style::Method, |x| x.unary(UnaryOp::Abs), "Elementwise absolute value."),
    ("exp", Style::Method, |x| x.exp(), "Elementwise exponential."),
    ("log", Style::Method, |x| x.log(), "Elementwise natural logarithm."),
    ("xlogx", Style::Method, |x| x.unary(UnaryOp::XLogX), "Elementwise x·log(x), 0 at 0."),
    ("sin", Style::Method, |x| x.unary(UnaryOp::Sin), "Elementwise sine."),
    ("cos", Style::Method, |x| x.unary(UnaryOp::Cos), "Elementwise cosine."),
    ("sinxdivx", Style::Method, |x| x.unary(UnaryOp::SinXDivX), "Elementwise sin(x)/x, 1 at 0."),
    ("asin", Style::Method, |x| x.unary(UnaryOp::Asin), "Elementwise arcsine."),
    ("acos", Style::Method, |x| x.unary(UnaryOp::Acos), "Elementwise arccosine."),
    ("atan", Style::Method, |x| x.unary(UnaryOp::Atan), "Elementwise arctangent."),
    ("sqrt", Style::Method, |x| x.sqrt(), "Elementwise square root."),
    ("rsqrt", Style::Method, |x| x.unary(UnaryOp::Rsqrt), "Elementwise 1/sqrt(x), 0 at 0."),
    ("inv", Style::Method, |x| x.unary(UnaryOp::Inv), "Elementwise 1/x."),
    ("square", Style::Method, |x| x.square(), "Elementwise square (x ** 2)."),
    ("sign", Style::Method, |x| x.unary(UnaryOp::Sign), "Elementwise sign: -1, 0 or 1."),
    ("step", Style::Method, |x| x.unary(UnaryOp::Step), "Elementwise step: 0 for x < 0, 1 otherwise."),
    ("relu", Style::Method, |x| x.unary(UnaryOp::ReLU), "Elementwise positive part max(x, 0)."),
    ("floor", Style::Method, |x| x.unary(UnaryOp::Floor), "Elementwise floor: the largest integer ≤ x."),
    (
        "sinc",
        Style::Method,
        |x| x.mul(Expr::constant(std::f64::consts::PI))?.unary(UnaryOp::SinXDivX),
        "Normalised sinc: sin(πx)/(πx), 1 at 0 (as KeOps and torch.sinc).",
    ),
    ("sqnorm2", Style::Method, |x| x.sqnorm2(), "Squared Euclidean norm along the last dimension (dimension 1)."),
    ("norm2", Style::Method, |x| op1(Op::Norm2, x), "Euclidean norm along the last dimension (dimension 1)."),
    ("normalize", Style::Method, |x| op1(Op::Normalize, x), "x divided by its Euclidean norm."),
];

const BINARY: &[(&str, Style, Build2, &str)] = &[
    (
        "+",
        Style::Infix,
        |a, b| a.add(b),
        "Elementwise sum; a dimension-1 operand broadcasts. Numbers become parameters.",
    ),
    ("-", Style::Infix, |a, b| a.sub(b), "Elementwise difference; a dimension-1 operand broadcasts."),
    ("*", Style::Infix, |a, b| a.mul(b), "Elementwise product; a dimension-1 operand broadcasts."),
    ("/", Style::Infix, |a, b| a.div(b), "Elementwise quotient; a dimension-1 operand broadcasts."),
    ("|", Style::Infix, |a, b| a.scalprod(b), "Scalar product (x | y) of vectors of the same dimension."),
    (
        "**",
        Style::Infix,
        |a, b| a.binary(BinaryOp::Powf, b),
        "Power: x ** 2 is Square, ** 0.5 Sqrt, ** -0.5 Rsqrt, an integer Pow, other exponents Powf.",
    ),
    ("power", Style::Method, |a, b| a.binary(BinaryOp::Powf, b), "x.power(p) is x ** p."),
    ("<", Style::Infix, |a, b| a.binary(BinaryOp::Less, b), "Elementwise comparison: 1 where true, 0 elsewhere."),
    ("<=", Style::Infix, |a, b| a.binary(BinaryOp::LessEq, b), "Elementwise comparison: 1 where true, 0 elsewhere."),
    (">", Style::Infix, |a, b| a.binary(BinaryOp::Greater, b), "Elementwise comparison: 1 where true, 0 elsewhere."),
    (">=", Style::Infix, |a, b| a.binary(BinaryOp::GreaterEq, b), "Elementwise comparison: 1 where true, 0 elsewhere."),
    (
        "==",
        Style::Infix,
        |a, b| a.binary(BinaryOp::Equal, b),
        "Elementwise comparison: 1 where equal, 0 elsewhere (a LazyTensor, not a bool).",
    ),
    (
        "!=",
        Style::Infix,
        |a, b| a.binary(BinaryOp::NotEqual, b),
        "Elementwise comparison: 1 where different, 0 elsewhere.",
    ),
    ("atan2", Style::Method, |a, b| a.binary(BinaryOp::Atan2, b), "y.atan2(x): elementwise atan2(y, x)."),
    ("sqdist", Style::Method, |a, b| a.sqdist(b), "Squared Euclidean distance ‖x − y‖² (dimension 1)."),
    (
        "weightedsqnorm",
        Style::Method,
        |x, s| Expr::new(Op::WeightedSqNorm, vec![s, x]),
        "x.weightedsqnorm(s): s‖x‖², Σ s_k x_k² or xᵀSx for s of dimension 1, D or D² (KeOps' WeightedSqNorm(s, x)).",
    ),
    (
        "difference_matrix",
        Style::Method,
        Expr::difference_matrix,
        "x.difference_matrix(y): the vector (x_k − y_l) of dimension dim(x)·dim(y), x's index slowest.",
    ),
    ("concat", Style::Method, |a, b| a.concat(b), "Concatenation along the last dimension."),
    (
        "concatenate",
        Style::Method,
        |a, b| a.concat(b),
        "x.concatenate(y): concatenation along the last dimension (KeOps' name; also concatenate([x, y, ...])).",
    ),
    (
        "matvecmult",
        Style::Method,
        |a, v| Expr::new(Op::MatVecMult, vec![a, v]),
        "A.matvecmult(v): A v, A of dimension n·m stored row by row, v of dimension m.",
    ),
    (
        "vecmatmult",
        Style::Method,
        |v, a| Expr::new(Op::VecMatMult, vec![v, a]),
        "v.vecmatmult(A): vᵀA, v of dimension n, A of dimension n·m stored row by row.",
    ),
    (
        "tensorprod",
        Style::Method,
        |a, b| Expr::new(Op::TensorProd, vec![a, b]),
        "Tensor product a ⊗ b, of dimension dim(a)·dim(b), a's index slowest.",
    ),
];

/// An operand of a ternary operation or a derivative: a LazyTensor, a number or a tensor read by its shape.
const ANY: &str = "LazyTensor | number | Tensor";

const TERNARY: &[(&str, [&str; 2], Build3, &str)] = &[
    (
        "clamp",
        ["low", "high"],
        |x, a, b| Expr::new(Op::Clamp, vec![x, a, b]),
        "x.clamp(a, b): min(max(x, a), b) elementwise (ClampInt for two integers).",
    ),
    (
        "ifelse",
        ["a", "b"],
        |x, a, b| Expr::new(Op::IfElse, vec![x, a, b]),
        "x.ifelse(a, b): a where x ≥ 0, b elsewhere.",
    ),
    (
        "mod",
        ["modulus", "offset"],
        |x, m, o| Expr::new(Op::Mod, vec![x, m, o]),
        "x.mod(m, offset): x − m·⌊(x − offset)/m⌋ (offset 0 if omitted).",
    ),
    (
        "weightedsqdist",
        ["y", "s"],
        |x, y, s| Expr::new(Op::WeightedSqNorm, vec![s, x.sub(y)?]),
        "x.weightedsqdist(y, s) is (x − y).weightedsqnorm(s).",
    ),
];

/// Applies `build` to one LazyTensor, with `context` naming the operation in errors.
pub(super) fn apply1(
    x: &LazyTensor,
    context: impl Fn(&str) -> String,
    build: impl FnOnce(Expr) -> EResult<Expr>,
) -> RhaiResult<LazyTensor> {
    LazyTensor::combine(&[x], |t| context(&t[0].atom), |f| build(f[0].clone()))
}

/// Registers `name(a: A, b: B)`.
fn binary<A: Operand, B: Operand>(engine: &mut Engine, name: &'static str, style: Style, build: Build2, doc: &str) {
    let signature = format!("{name}(a: {}, b: {}) -> LazyTensor", A::TYPE, B::TYPE);
    def!(engine, signature, doc, move |a: A, b: B| -> RhaiResult<LazyTensor> {
        let what = || format!("{} {name} {}", A::TYPE, B::TYPE);
        let (a, b) = (a.lazy(&what())?, b.lazy(&what())?);
        LazyTensor::combine(&[&a, &b], |t| style.write(name, t), |f| build(f[0].clone(), f[1].clone()))
    });
}

pub(super) fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    for &(name, style, build, doc) in UNARY {
        def!(engine, format!("{name}(x: LazyTensor) -> LazyTensor"), doc, move |x: LazyTensor| {
            LazyTensor::combine(&[&x], |t| style.write(name, t), |f| build(f[0].clone()))
        });
    }
    let c = ctx.clone();
    def!(
        engine,
        "concatenate(parts: array) -> LazyTensor",
        "concatenate([x, y, ...]): the LazyTensors (or numbers, tensors) side by side along the last dimension, as KeOps' concatenate.",
        move |parts: rhai::Array| -> RhaiResult<LazyTensor> {
            let mut it = parts.into_iter();
            let first = it.next().ok_or_else(|| rt("concatenate", "needs at least one part"))?;
            let mut acc = operand(&first, &c, "concatenate")?;
            for p in it {
                let next = operand(&p, &c, "concatenate")?;
                acc = LazyTensor::combine(&[&acc, &next], |t| Style::Method.write("concatenate", t), |f| {
                    f[0].clone().concat(f[1].clone())
                })?;
            }
            Ok(acc)
        }
    );
    for &(name, style, build, doc) in BINARY {
        binary::<LazyTensor, LazyTensor>(engine, name, style, build, doc);
        binary::<LazyTensor, INT>(engine, name, style, build, doc);
        binary::<LazyTensor, FLOAT>(engine, name, style, build, doc);
        binary::<LazyTensor, Tensor>(engine, name, style, build, doc);
        binary::<INT, LazyTensor>(engine, name, style, build, doc);
        binary::<FLOAT, LazyTensor>(engine, name, style, build, doc);
        binary::<Tensor, LazyTensor>(engine, name, style, build, doc);
    }
    for &(name, [a, b], build, doc) in TERNARY {
        let c = ctx.clone();
        let signature = format!("{name}(x: LazyTensor, {a}: {ANY}, {b}: {ANY}) -> LazyTensor");
        def!(engine, signature, doc, move |x: LazyTensor, a: Dynamic, b: Dynamic| -> RhaiResult<LazyTensor> {
            let what = format!("{name}(..)");
            let (a, b) = (operand(&a, &c, &what)?, operand(&b, &c, &what)?);
            LazyTensor::combine(
                &[&x, &a, &b],
                |t| Style::Method.write(name, t),
                |f| build(f[0].clone(), f[1].clone(), f[2].clone()),
            )
        });
    }
    register_exponents(engine);
    register_parametrised(engine, ctx);
    register_derivatives(engine, ctx);
}

/// `x ** n` with a number exponent: a dedicated op where one exists, as KeOps does.
fn register_exponents(engine: &mut Engine) {
    fn pow_int(x: &LazyTensor, n: INT, name: &str) -> RhaiResult<LazyTensor> {
        let context = |t: &str| format!("{t} {name} {n}");
        let n = i32::try_from(n).map_err(|_| rt(&context(&x.operand_text()), "the exponent is too large"))?;
        apply1(x, context, |f| if n == 2 { f.square() } else { f.pow(n) })
    }
    fn pow_float(x: &LazyTensor, p: FLOAT, name: &str) -> RhaiResult<LazyTensor> {
        let context = |t: &str| format!("{t} {name} {p}");
        match p {
            0.5 => apply1(x, context, |f| f.sqrt()),
            -0.5 => apply1(x, context, |f| f.unary(UnaryOp::Rsqrt)),
            // An integral exponent is Pow, whose derivative needs no logarithm (so negative x work).
            _ if p.fract() == 0.0 && p.abs() < 1e9 => pow_int(x, p as INT, name),
            _ => LazyTensor::combine(
                &[x, &LazyTensor::number(p)],
                |t| Style::Infix.write(name, t),
                |f| f[0].clone().binary(BinaryOp::Powf, f[1].clone()),
            ),
        }
    }
    for name in ["**", "power"] {
        let doc = "x ** n: Square for 2, Pow(n) for integers, Sqrt for 0.5, Rsqrt for -0.5, Powf otherwise.";
        def!(engine, format!("{name}(x: LazyTensor, n: int) -> LazyTensor"), doc, move |x: LazyTensor, n: INT| {
            pow_int(&x, n, name)
        });
        def!(engine, format!("{name}(x: LazyTensor, p: float) -> LazyTensor"), doc, move |x: LazyTensor, p: FLOAT| {
            pow_float(&x, p, name)
        });
    }
}

/// A script integer as a count or an index, or an error naming the operation.
fn size(k: INT, what: &str, context: &str) -> RhaiResult<usize> {
    usize::try_from(k).map_err(|_| rt(context, format!("{what} must be a non-negative integer, got {k}")))
}

/// A possibly negative index (−1 is the last component) into a vector of dimension `d`.
fn index(k: INT, d: usize, context: &str) -> RhaiResult<usize> {
    let j = if k < 0 { k + d as INT } else { k };
    if j < 0 || j >= d as INT {
        return Err(rt(context, format!("index {k} is out of range for dimension {d}")));
    }
    Ok(j as usize)
}

/// An array of non-negative integers (the shapes and axes of `keops_kron` and `keops_tensordot`).
fn sizes(a: &Array, context: &str) -> RhaiResult<Vec<usize>> {
    a.iter()
        .map(|v| v.as_int().ok().and_then(|k| usize::try_from(k).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| rt(context, "shapes and axes must be arrays of non-negative integers"))
}

fn register_parametrised(engine: &mut Engine, ctx: &Rc<Context>) {
    def!(
        engine,
        "round(x: LazyTensor, decimals: int) -> LazyTensor",
        "x.round(d): elementwise rounding to d decimals (0 if omitted).",
        |x: LazyTensor, d: INT| {
            let context = |t: &str| format!("{t}.round({d})");
            let d = i32::try_from(d).map_err(|_| rt(&context(&x.operand_text()), "too many decimals"))?;
            apply1(&x, context, |f| Expr::new(Op::Round(d), vec![f]))
        }
    );
    def!(
        engine,
        "round(x: LazyTensor) -> LazyTensor",
        "x.round(): elementwise rounding to integers.",
        |x: LazyTensor| { apply1(&x, |t| format!("{t}.round()"), |f| Expr::new(Op::Round(0), vec![f])) }
    );
    def!(
        engine,
        "clamp(x: LazyTensor, low: int, high: int) -> LazyTensor",
        "x.clamp(a, b) with integer bounds: KeOps' ClampInt.",
        |x: LazyTensor, a: INT, b: INT| {
            apply1(&x, |t| format!("{t}.clamp({a}, {b})"), |f| Expr::new(Op::ClampInt(a, b), vec![f]))
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "mod(x: LazyTensor, modulus: LazyTensor | number | Tensor) -> LazyTensor",
        "x.mod(m): x − m·⌊x/m⌋ elementwise.",
        move |x: LazyTensor, m: Dynamic| -> RhaiResult<LazyTensor> {
            let m = operand(&m, &c, "mod")?;
            let zero = LazyTensor::number(0.0);
            LazyTensor::combine(
                &[&x, &m, &zero],
                |t| Style::Method.write("mod", &t[..2]),
                |f| Expr::new(Op::Mod, f.to_vec()),
            )
        }
    );
    def!(
        engine,
        "one_hot(x: LazyTensor, dim: int) -> LazyTensor",
        "x.one_hot(D): the one-hot vector of dimension D of round(x) (x of dimension 1).",
        |x: LazyTensor, d: INT| {
            let context = |t: &str| format!("{t}.one_hot({d})");
            let n = size(d, "D", &context(&x.operand_text()))?;
            if x.formula.dim() != 1 {
                let msg =
                    format!("the one-hot encoding is of a scalar, this formula has dimension {}", x.formula.dim());
                return Err(rt(&context(&x.operand_text()), msg));
            }
            apply1(&x, context, |f| Expr::new(Op::OneHot(n), vec![f]))
        }
    );
    let elem = |x: LazyTensor, k: INT| -> RhaiResult<LazyTensor> {
        let context = |t: &str| format!("{t}[{k}]");
        let m = index(k, x.formula.dim(), &context(&x.operand_text()))?;
        apply1(&x, context, |f| f.elem(m))
    };
    def!(engine, "elem(x: LazyTensor, k: int) -> LazyTensor", "x.elem(k) or x[k]: component k (−1 is the last).", elem);
    let index_doc = "x[k]: component k (−1 the last); x[a..b] or x[a..=b]: components a to b (extract).";
    def!(engine, "index$get$(x: LazyTensor, k: int) -> LazyTensor", index_doc, move |x: &mut LazyTensor, k: INT| elem(
        x.clone(),
        k
    ));
    let extract = |x: &LazyTensor, start: INT, len: INT| -> RhaiResult<LazyTensor> {
        let context = |t: &str| format!("{t}.extract({start}, {len})");
        let text = context(&x.operand_text());
        let (s, n) = (size(start, "the start", &text)?, size(len, "the length", &text)?);
        apply1(x, context, |f| Expr::new(Op::Extract { start: s, len: n }, vec![f]))
    };
    def!(
        engine,
        "extract(x: LazyTensor, start: int, len: int) -> LazyTensor",
        "x.extract(start, len): components start..start+len (x[start..start+len]).",
        move |x: LazyTensor, s: INT, n: INT| { extract(&x, s, n) }
    );
    def!(
        engine,
        "index$get$(x: LazyTensor, r: range) -> LazyTensor",
        index_doc,
        move |x: &mut LazyTensor, r: std::ops::Range<INT>| extract(x, r.start, r.end.saturating_sub(r.start))
    );
    def!(
        engine,
        "index$get$(x: LazyTensor, r: range=) -> LazyTensor",
        index_doc,
        move |x: &mut LazyTensor, r: std::ops::RangeInclusive<INT>| {
            extract(x, *r.start(), r.end().saturating_sub(*r.start()).saturating_add(1))
        }
    );
    def!(
        engine,
        "norm(x: LazyTensor, dim: int) -> LazyTensor",
        "x.norm(-1): the Euclidean norm along the last dimension (norm2).",
        |x: LazyTensor, dim: INT| {
            let context = |t: &str| format!("{t}.norm({dim})");
            if dim != -1 {
                return Err(rt(
                    &context(&x.operand_text()),
                    "LazyTensors have norms along their last dimension only: use norm(-1)",
                ));
            }
            apply1(&x, context, |f| op1(Op::Norm2, f))
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "keops_kron(x: LazyTensor, y: LazyTensor | number | Tensor, dims_x: array, dims_y: array) -> LazyTensor",
        "x.keops_kron(y, dims_x, dims_y): Kronecker product of x and y seen as tensors of shapes dims_x and dims_y.",
        move |x: LazyTensor, y: Dynamic, a: Array, b: Array| -> RhaiResult<LazyTensor> {
            let y = operand(&y, &c, "keops_kron")?;
            let (a, b) = (sizes(&a, "keops_kron")?, sizes(&b, "keops_kron")?);
            LazyTensor::combine(
                &[&x, &y],
                |t| Style::Method.write("keops_kron", t),
                |f| Expr::new(Op::Kron { a, b }, f.to_vec()),
            )
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "keops_tensordot(x: LazyTensor, y: LazyTensor | number | Tensor, dims_x: array, dims_y: array, axes_x: array, axes_y: array) -> LazyTensor",
        "x.keops_tensordot(y, dims_x, dims_y, axes_x, axes_y): contraction of x and y (tensors of shapes dims_x, dims_y) over the paired axes.",
        move |x: LazyTensor, y: Dynamic, a: Array, b: Array, ca: Array, cb: Array| -> RhaiResult<LazyTensor> {
            tensordot(&x, &y, [a, b, ca, cb], None, &c)
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "keops_tensordot(x: LazyTensor, y: LazyTensor | number | Tensor, dims_x: array, dims_y: array, axes_x: array, axes_y: array, permute: array) -> LazyTensor",
        "x.keops_tensordot(y, dims_x, dims_y, axes_x, axes_y, permute): the contraction, its output axes (free axes of x, then of y) moved so that axis k goes to position permute[k], as in KeOps.",
        move |x: LazyTensor, y: Dynamic, a: Array, b: Array, ca: Array, cb: Array, p: Array| -> RhaiResult<LazyTensor> {
            tensordot(&x, &y, [a, b, ca, cb], Some(p), &c)
        }
    );
    def!(engine, "t(K: LazyTensor) -> LazyTensor", "K.t() or K.T: the transpose, i and j swapped.", |x: LazyTensor| x
        .transposed());
    def!(engine, "get$T(K: LazyTensor) -> LazyTensor", "K.T: the transpose, i and j swapped.", |x: &mut LazyTensor| x
        .transposed());
}

/// `x.keops_tensordot(y, shapes.., permute)`, for both of its signatures.
fn tensordot(
    x: &LazyTensor,
    y: &Dynamic,
    shapes: [Array; 4],
    permute: Option<Array>,
    c: &Rc<Context>,
) -> RhaiResult<LazyTensor> {
    let what = "keops_tensordot";
    let y = operand(y, c, what)?;
    let [a, b, ca, cb] = shapes;
    let shapes = [sizes(&a, what)?, sizes(&b, what)?, sizes(&ca, what)?, sizes(&cb, what)?];
    let permute = permute.map(|p| sizes(&p, what)).transpose()?;
    LazyTensor::combine(
        &[x, &y],
        |t| Style::Method.write(what, t),
        |f| f[0].clone().tensordot(f[1].clone(), shapes, permute.as_deref()),
    )
}

/// The symbolic derivatives; `v` must be a variable made by Vi, Vj or Pm.
/// The operands are F, v and (for grad and diff) e.
type Derive = fn(&[Expr]) -> EResult<Expr>;

const DERIVATIVES: &[(&str, Option<&str>, Derive, &str)] = &[
    ("grad", Some("e"), |f| diff::grad(&f[0], &f[1], &f[2]), "F.grad(v, e): the gradient of F with respect to the variable v, contracted with e (KeOps' Grad(F, v, e)), of dimension dim(v)."),
    ("diff", Some("dv"), |f| diff::diff(&f[0], &f[1], &f[2]), "F.diff(v, dv): the derivative of F with respect to the variable v in the direction dv (KeOps' Diff)."),
    ("laplacian", None, |f| diff::laplacian(&f[0], &f[1]), "F.laplacian(v): Σ_k ∂²F/∂v_k² of a scalar F with respect to the variable v."),
    ("divergence", None, |f| diff::divergence(&f[0], &f[1]), "F.divergence(v): Σ_k ∂F_k/∂v_k, F and v of the same dimension."),
    ("grad_matrix", None, |f| diff::grad_matrix(&f[0], &f[1]), "F.grad_matrix(v): the Jacobian ∂F_k/∂v_l, row by row, of dimension dim(F)·dim(v)."),
];

fn register_derivatives(engine: &mut Engine, ctx: &Rc<Context>) {
    fn derive(name: &str, build: Derive, parts: &[&LazyTensor]) -> RhaiResult<LazyTensor> {
        if !matches!(parts[1].formula.op(), Op::Var { .. }) {
            let msg = format!(
                "can only differentiate with respect to a variable made by Vi, Vj or Pm, not {}",
                super::display::short(&parts[1].formula_text())
            );
            return Err(rt(&format!("{}.{name}(..)", parts[0].operand_text()), msg));
        }
        LazyTensor::combine(parts, |t| Style::Method.write(name, t), build)
    }
    for &(name, e, build, doc) in DERIVATIVES {
        if let Some(e) = e {
            let c = ctx.clone();
            let signature = format!("{name}(F: LazyTensor, v: LazyTensor, {e}: {ANY}) -> LazyTensor");
            def!(engine, signature, doc, move |f: LazyTensor, v: LazyTensor, e: Dynamic| -> RhaiResult<LazyTensor> {
                let e = operand(&e, &c, name)?;
                derive(name, build, &[&f, &v, &e])
            });
        } else {
            let signature = format!("{name}(F: LazyTensor, v: LazyTensor) -> LazyTensor");
            def!(engine, signature, doc, move |f: LazyTensor, v: LazyTensor| derive(name, build, &[&f, &v]));
        }
    }
}
