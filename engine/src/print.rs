//! Prints formulas in the formula language, so that the text parses back to the same node.
//!
//! `parse::parse_formula(&to_string(&e), &VarTable::new())` returns `e` itself (the same
//! hash-consed node) for every formula of dimension at most `parse::MAX_DIM` and nesting depth
//! at most `parse::MAX_DEPTH`; the parser reads infix operators with the precedences below.

use crate::expr::{Cat, Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};
use std::borrow::Cow;

/// Precedence levels of the infix syntax, loosest first.
pub(crate) const P_CMP: u8 = 1;
pub(crate) const P_ADD: u8 = 2;
pub(crate) const P_MUL: u8 = 3;
/// Prefix minus, which also covers negative number literals: `-2.0` reads as one constant.
const P_NEG: u8 = 4;
/// `**`, which binds tighter than prefix minus (`-x**2` is `-(x**2)`). The printer writes
/// powers as calls, so this level only tells which operands of a minus need parentheses.
const P_POW: u8 = 5;
const P_ATOM: u8 = 6;

/// The precedence of an infix binary op, `None` for the ones written as calls (`Powf`, `Atan2`).
pub(crate) fn infix_precedence(op: BinaryOp) -> Option<u8> {
    if op.infix().is_empty() {
        None
    } else if op.is_comparison() {
        Some(P_CMP)
    } else if matches!(op, BinaryOp::Add | BinaryOp::Sub) {
        Some(P_ADD)
    } else {
        Some(P_MUL)
    }
}

/// The formula as text, variables written `Vi(k,d)`, `Vj(k,d)`, `Pm(k,d)`.
pub fn to_string(e: &Expr) -> String {
    to_string_with(e, &|_, _, _| None)
}

/// The formula as text, with variable names chosen by `name(index, dim, cat)` where it returns
/// one (`VarTable::print` passes the aliases this way).
pub fn to_string_with(e: &Expr, name: &dyn Fn(usize, usize, Cat) -> Option<String>) -> String {
    let mut s = String::new();
    // An explicit stack rather than recursion: a formula built in a loop (a sum of thousands
    // of terms) must print without overflowing the call stack.
    let mut stack = vec![Piece::Node(e, 0)];
    while let Some(piece) = stack.pop() {
        match piece {
            Piece::Text(t) => s.push_str(&t),
            Piece::Node(e, min) => {
                let mut parts = layout(e, name);
                if prec(e) < min {
                    parts.insert(0, Piece::Text("(".into()));
                    parts.push(Piece::Text(")".into()));
                }
                stack.extend(parts.into_iter().rev());
            }
        }
    }
    s
}

/// A float printed so that it parses back to the same bits (a NaN keeps its sign, not its payload).
pub fn fmt_number(c: f64) -> String {
    if c.is_finite() && c == c.trunc() && c.abs() < 1e15 {
        format!("{c:.1}")
    } else if c.is_nan() {
        if c.is_sign_negative() { "-NaN" } else { "NaN" }.to_string()
    } else if c.is_infinite() {
        if c > 0.0 { "Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{c:?}")
    }
}

/// A piece of output: literal text, or a node to print, parenthesised if its precedence is below the bound.
enum Piece<'e> {
    Text(Cow<'static, str>),
    Node(&'e Expr, u8),
}

fn prec(e: &Expr) -> u8 {
    match e.op() {
        Op::Binary(b) => infix_precedence(*b).unwrap_or(P_ATOM),
        Op::Unary(UnaryOp::Minus) => P_NEG,
        Op::Const(bits) if f64::from_bits(*bits).is_sign_negative() => P_NEG,
        _ => P_ATOM,
    }
}

/// `Name(operands..., params)`.
fn call<'e>(e: &'e Expr, params: String) -> Vec<Piece<'e>> {
    let mut parts = vec![Piece::Text(format!("{}(", e.op().name()).into())];
    for (k, a) in e.args().iter().enumerate() {
        if k > 0 {
            parts.push(Piece::Text(", ".into()));
        }
        parts.push(Piece::Node(a, 0));
    }
    if !params.is_empty() {
        if !e.args().is_empty() {
            parts.push(Piece::Text(", ".into()));
        }
        parts.push(Piece::Text(params.into()));
    }
    parts.push(Piece::Text(")".into()));
    parts
}

/// The pieces of one node, its operands left as nodes.
fn layout<'e>(e: &'e Expr, name: &dyn Fn(usize, usize, Cat) -> Option<String>) -> Vec<Piece<'e>> {
    let args = e.args();
    let text = |t: String| vec![Piece::Text(t.into())];
    match e.op() {
        Op::Var { index, dim, cat } => {
            text(name(*index, *dim, *cat).unwrap_or_else(|| format!("{}({index},{dim})", cat.short())))
        }
        Op::Const(bits) => text(fmt_number(f64::from_bits(*bits))),
        Op::Unary(UnaryOp::Minus) => {
            // A minus before a number literal would read as a negative constant: `-(2.0)` keeps
            // the operation, `-2.0` is the constant.
            let min = if matches!(args[0].op(), Op::Const(_)) { P_ATOM + 1 } else { P_POW };
            vec![Piece::Text("-".into()), Piece::Node(&args[0], min)]
        }
        Op::Binary(b) if infix_precedence(*b).is_some() => {
            let p = prec(e);
            // Left-associative: the right operand needs parentheses at equal precedence.
            vec![Piece::Node(&args[0], p), Piece::Text(format!(" {} ", b.infix()).into()), Piece::Node(&args[1], p + 1)]
        }
        Op::Scalprod => vec![
            Piece::Text("(".into()),
            Piece::Node(&args[0], 0),
            Piece::Text(" | ".into()),
            Piece::Node(&args[1], 0),
            Piece::Text(")".into()),
        ],
        // Every other operation is a call: operands, then its parameters as its row of the
        // operation table lists them.
        op => {
            let params: Vec<String> = op.params().iter().map(|p| p.to_string()).collect();
            call(e, params.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sums_print_without_recursion() {
        let x = Expr::var(0, 1, Cat::I).unwrap();
        let mut sum = x.clone();
        for _ in 0..100_000 {
            sum = sum.add(x.clone()).unwrap();
        }
        let text = to_string(&sum);
        assert_eq!(text.len(), "Vi(0,1)".len() * 100_001 + " + ".len() * 100_000);
        // Dropping a chain this deep is recursive in `Arc`'s destructor, so leak it here:
        // the printer is what this test is about.
        std::mem::forget(sum);
    }

    #[test]
    fn numbers_keep_their_bits() {
        assert_eq!(fmt_number(3.0), "3.0");
        assert_eq!(fmt_number(-0.5), "-0.5");
        assert_eq!(fmt_number(1e16), "1e16");
        assert_eq!(fmt_number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(fmt_number(-f64::NAN), "-NaN");
    }
}
