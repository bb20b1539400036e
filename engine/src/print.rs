//! Prints formulas in the formula language, so that the text parses back to the same node.

use crate::expr::{Cat, Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};

/// Precedence levels of the infix syntax, loosest first.
const P_CMP: u8 = 1;
const P_ADD: u8 = 2;
const P_MUL: u8 = 3;
const P_NEG: u8 = 4;
const P_POW: u8 = 5;
const P_ATOM: u8 = 6;

/// The formula as text, variables written `Vi(k,d)`, `Vj(k,d)`, `Pm(k,d)`.
pub fn to_string(e: &Expr) -> String {
    to_string_with(e, &|_, _, _| None)
}

/// The formula as text, with variable names chosen by `name(index, dim, cat)` where it returns one.
pub fn to_string_with(e: &Expr, name: &dyn Fn(usize, usize, Cat) -> Option<String>) -> String {
    let mut s = String::new();
    write(e, name, &mut s);
    s
}

fn prec(e: &Expr) -> u8 {
    match e.op() {
        Op::Binary(b) if matches!(b, BinaryOp::Add | BinaryOp::Sub) => P_ADD,
        Op::Binary(b) if matches!(b, BinaryOp::Mul | BinaryOp::Div) => P_MUL,
        Op::Binary(b) if b.is_comparison() => P_CMP,
        Op::Unary(UnaryOp::Minus) => P_NEG,
        Op::Const(bits) if f64::from_bits(*bits) < 0.0 => P_NEG,
        Op::IntCst(n) if *n < 0 => P_NEG,
        _ => P_ATOM,
    }
}

fn write_operand(e: &Expr, min: u8, name: &dyn Fn(usize, usize, Cat) -> Option<String>, s: &mut String) {
    if prec(e) < min {
        s.push('(');
        write(e, name, s);
        s.push(')');
    } else {
        write(e, name, s);
    }
}

/// A float printed so that it parses back to the same bits.
pub fn fmt_number(c: f64) -> String {
    if c.is_finite() && c == c.trunc() && c.abs() < 1e15 {
        format!("{c:.1}")
    } else if c.is_nan() {
        "NaN".to_string()
    } else if c.is_infinite() {
        if c > 0.0 { "Inf".to_string() } else { "-Inf".to_string() }
    } else {
        format!("{c:?}")
    }
}

fn join(v: &[usize]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

fn write(e: &Expr, name: &dyn Fn(usize, usize, Cat) -> Option<String>, s: &mut String) {
    let args = e.args();
    let call = |params: String, s: &mut String| {
        s.push_str(e.op().name());
        s.push('(');
        for (k, a) in args.iter().enumerate() {
            if k > 0 {
                s.push_str(", ");
            }
            write(a, name, s);
        }
        if !params.is_empty() {
            s.push_str(", ");
            s.push_str(&params);
        }
        s.push(')');
    };
    match e.op() {
        Op::Var { index, dim, cat } => match name(*index, *dim, *cat) {
            Some(n) => s.push_str(&n),
            None => s.push_str(&format!("{}({index},{dim})", cat.short())),
        },
        Op::Const(bits) => s.push_str(&fmt_number(f64::from_bits(*bits))),
        Op::IntCst(n) => s.push_str(&format!("IntCst({n})")),
        Op::Zero(d) => s.push_str(&format!("Zero({d})")),
        Op::Unary(UnaryOp::Minus) => {
            s.push('-');
            write_operand(&args[0], P_POW, name, s);
        }
        Op::Binary(b) if !b.infix().is_empty() => {
            let p = prec(e);
            write_operand(&args[0], p, name, s);
            s.push_str(&format!(" {} ", b.infix()));
            // Left-associative: the right operand needs parentheses at equal precedence.
            write_operand(&args[1], p + 1, name, s);
        }
        Op::Scalprod => {
            s.push('(');
            write(&args[0], name, s);
            s.push_str(" | ");
            write(&args[1], name, s);
            s.push(')');
        }
        Op::Pow(n) => call(n.to_string(), s),
        Op::Round(d) => call(d.to_string(), s),
        Op::ClampInt(a, b) => call(format!("{a}, {b}"), s),
        Op::Elem(m) => call(m.to_string(), s),
        Op::ElemT { index, dim } => call(format!("{dim}, {index}"), s),
        Op::Extract { start, len } => call(format!("{start}, {len}"), s),
        Op::ExtractT { start, dim } => call(format!("{start}, {dim}"), s),
        Op::OneHot(d) => call(d.to_string(), s),
        Op::Kron { a, b } => call(format!("[{}], [{}]", join(a), join(b)), s),
        Op::TensorDot { a, b, ca, cb } => {
            call(format!("[{}], [{}], [{}], [{}]", join(a), join(b), join(ca), join(cb)), s)
        }
        Op::Unary(_)
        | Op::Binary(_)
        | Op::IfElse
        | Op::Clamp
        | Op::Mod
        | Op::SqNorm2
        | Op::Norm2
        | Op::Normalize
        | Op::SqDist
        | Op::WeightedSqNorm
        | Op::WeightedSqDist
        | Op::Sum
        | Op::Max
        | Op::Min
        | Op::ArgMax
        | Op::ArgMin
        | Op::Concat
        | Op::MatVecMult
        | Op::VecMatMult
        | Op::TensorProd => call(String::new(), s),
    }
}
