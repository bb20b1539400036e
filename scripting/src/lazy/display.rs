//! How LazyTensors look: readable variable names, `LazyTensor(formula=..., shape=(N, M, D))`, and LaTeX.

use super::{Binding, LazyTensor};
use crate::lazy::def;
use noyau_engine::print::{fmt_number, to_string_with};
use noyau_engine::{BinaryOp, Cat, Expr, Op, UnaryOp};
use rhai::{Array, Dynamic, Engine, INT};
use std::collections::HashMap;

/// Letters given to the variables of each category, in order of appearance.
const LETTERS: [(Cat, &[&str], &str); 3] = [
    (Cat::I, &["x", "u", "a", "c", "e", "g"], "_i"),
    (Cat::J, &["y", "v", "b", "d", "f", "h"], "_j"),
    (Cat::P, &["p", "q", "r", "s", "t", "w"], ""),
];

/// A name per binding: `x_i`, `u_i`, ... for i-variables, `y_j`, `v_j`, ... for j-variables,
/// `p`, `q`, ... for parameters, and its value for a number written in the script.
pub(crate) fn names(vars: &[Binding]) -> Vec<String> {
    let mut seen = [0usize; 3];
    vars.iter()
        .map(|b| {
            if let Some(x) = b.number {
                let s = fmt_number(x);
                return if x < 0.0 { format!("({s})") } else { s };
            }
            let (_, letters, suffix) =
                LETTERS.iter().find(|(c, _, _)| *c == b.cat).expect("every category has letters");
            let k = &mut seen[b.cat.index()];
            let name = match letters.get(*k) {
                Some(l) => format!("{l}{suffix}"),
                None => format!("{}{}{suffix}", letters[0], *k),
            };
            *k += 1;
            name
        })
        .collect()
}

/// The formula in the formula language, variables written with `names`.
pub(crate) fn formula(e: &Expr, names: &[String]) -> String {
    to_string_with(e, &|index, _, _| names.get(index).cloned())
}

/// A formula cut to a length that fits in an error message.
pub(crate) fn short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX - 3).collect::<String>())
    }
}

/// A formula as an operand in an error message, shortened: `raw` as is, `atom` parenthesised
/// when its root is an infix operation or a minus (so that `(a + b) * c` reads right).
pub struct Text {
    pub raw: String,
    pub atom: String,
}

impl Text {
    pub(crate) fn new(e: &Expr, names: &[String]) -> Text {
        let raw = short(&formula(e, names));
        let compound = match e.op() {
            Op::Binary(b) => !b.infix().is_empty(),
            Op::Unary(UnaryOp::Minus) => true,
            _ => e.as_const().is_some_and(|c| c < 0.0),
        };
        let atom = if compound { format!("({raw})") } else { raw.clone() };
        Text { raw, atom }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl LazyTensor {
    /// The formula as the operand of an operation in an error message.
    pub(crate) fn operand_text(&self) -> String {
        Text::new(&self.formula, &names(&self.vars)).atom
    }

    /// The formula with readable variable names.
    pub fn formula_text(&self) -> String {
        formula(&self.formula, &names(&self.vars))
    }

    /// `LazyTensor(formula=..., shape=(N, M, D))`.
    pub fn describe(&self) -> String {
        let (n, m, d) = self.shape();
        format!("LazyTensor(formula={}, shape=({n}, {m}, {d}))", self.formula_text())
    }

    /// A LaTeX rendering of the formula (for Jupyter's text/latex).
    pub fn latex(&self) -> String {
        latex(&self.formula, &names(&self.vars))
    }
}

/// Formulas deeper than this are shown as text rather than nested LaTeX, which nobody could read.
const MAX_LATEX_DEPTH: usize = 64;

/// A LaTeX rendering, bottom-up over the DAG (no recursion: formulas built in loops can be deep).
pub(crate) fn latex(e: &Expr, names: &[String]) -> String {
    let order = Expr::topo_order(std::slice::from_ref(e));
    let mut done: HashMap<Expr, (String, u8, usize)> = HashMap::new();
    for n in order {
        let a: Vec<&(String, u8, usize)> = n.args().iter().map(|x| &done[x]).collect();
        let depth = 1 + a.iter().map(|x| x.2).max().unwrap_or(0);
        if depth > MAX_LATEX_DEPTH {
            return format!("\\texttt{{{}}}", formula(e, names).replace('_', "\\_"));
        }
        let (text, prec) = node_latex(&n, &a, names);
        done.insert(n, (text, prec, depth));
    }
    done.remove(e).map(|x| x.0).unwrap_or_default()
}

/// Precedences: sums bind loosest, then products, then unary minus, then atoms.
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const ATOM: u8 = 4;

fn node_latex(n: &Expr, a: &[&(String, u8, usize)], names: &[String]) -> (String, u8) {
    // An operand at least as tight as `p`, parenthesised otherwise.
    let at = |k: usize, p: u8| if a[k].1 >= p { a[k].0.clone() } else { format!("\\left({}\\right)", a[k].0) };
    let call = |name: &str| {
        let args: Vec<&str> = a.iter().map(|x| x.0.as_str()).collect();
        (format!("\\operatorname{{{name}}}\\left({}\\right)", args.join(", ")), ATOM)
    };
    match n.op() {
        Op::Var { index, .. } => {
            let s = names.get(*index).cloned().unwrap_or_else(|| format!("v_{{{index}}}"));
            (s.replace("_i", "_{i}").replace("_j", "_{j}"), ATOM)
        }
        Op::Const(_) | Op::IntCst(_) => {
            let c = n.as_const().unwrap_or(0.0);
            (fmt_number(c), if c < 0.0 { NEG } else { ATOM })
        }
        Op::Zero(_) => ("0".into(), ATOM),
        Op::Binary(BinaryOp::Add) => (format!("{} + {}", at(0, ADD), at(1, ADD)), ADD),
        Op::Binary(BinaryOp::Sub) => (format!("{} - {}", at(0, ADD), at(1, MUL)), ADD),
        Op::Binary(BinaryOp::Mul) => (format!("{} \\, {}", at(0, MUL), at(1, NEG)), MUL),
        Op::Binary(BinaryOp::Div) => (format!("\\frac{{{}}}{{{}}}", a[0].0, a[1].0), ATOM),
        Op::Binary(BinaryOp::Powf) => (format!("{}^{{{}}}", at(0, ATOM), a[1].0), ATOM),
        Op::Binary(b) if !b.infix().is_empty() => {
            let sym = match b {
                BinaryOp::LessEq => "\\leq",
                BinaryOp::GreaterEq => "\\geq",
                BinaryOp::NotEqual => "\\neq",
                BinaryOp::Equal => "=",
                _ => b.infix(),
            };
            (format!("\\left[{} {sym} {}\\right]", a[0].0, a[1].0), ATOM)
        }
        Op::Unary(UnaryOp::Minus) => (format!("-{}", at(0, ATOM.min(NEG + 1))), NEG),
        Op::Unary(UnaryOp::Exp) => (format!("e^{{{}}}", a[0].0), ATOM),
        Op::Unary(UnaryOp::Log) => (format!("\\log {}", at(0, ATOM)), MUL),
        Op::Unary(UnaryOp::Sqrt) => (format!("\\sqrt{{{}}}", a[0].0), ATOM),
        Op::Unary(UnaryOp::Rsqrt) => (format!("\\frac{{1}}{{\\sqrt{{{}}}}}", a[0].0), ATOM),
        Op::Unary(UnaryOp::Inv) => (format!("\\frac{{1}}{{{}}}", a[0].0), ATOM),
        Op::Unary(UnaryOp::Abs) => (format!("\\left|{}\\right|", a[0].0), ATOM),
        Op::Unary(UnaryOp::Square) => (format!("{}^{{2}}", at(0, ATOM)), ATOM),
        Op::Unary(u) => (format!("\\{} {}", latex_fn(u.name()), at(0, ATOM)), MUL),
        Op::Pow(k) => (format!("{}^{{{k}}}", at(0, ATOM)), ATOM),
        Op::SqNorm2 => (format!("\\left\\|{}\\right\\|^{{2}}", a[0].0), ATOM),
        Op::Norm2 => (format!("\\left\\|{}\\right\\|", a[0].0), ATOM),
        Op::SqDist => (format!("\\left\\|{} - {}\\right\\|^{{2}}", a[0].0, a[1].0), ATOM),
        Op::Scalprod => (format!("\\langle {}, {} \\rangle", a[0].0, a[1].0), ATOM),
        Op::Sum => (format!("\\textstyle\\sum {}", at(0, ATOM)), MUL),
        Op::Elem(m) => (format!("{}_{{[{m}]}}", at(0, ATOM)), ATOM),
        _ => call(n.op().name()),
    }
}

/// The LaTeX command of an elementwise function (`\sin`), or `operatorname` for the others.
fn latex_fn(name: &str) -> String {
    match name {
        "Sin" | "Cos" => name.to_lowercase(),
        "Asin" => "arcsin".into(),
        "Acos" => "arccos".into(),
        "Atan" => "arctan".into(),
        other => format!("operatorname{{{other}}}"),
    }
}

pub(super) fn register(engine: &mut Engine) {
    def!(
        engine,
        "to_string(x: LazyTensor) -> string",
        "The LazyTensor's formula and shape (N, M, D).",
        |x: &mut LazyTensor| x.describe()
    );
    def!(
        engine,
        "to_debug(x: LazyTensor) -> string",
        "The LazyTensor's formula and shape (N, M, D).",
        |x: &mut LazyTensor| x.describe()
    );
    def!(
        engine,
        "formula(x: LazyTensor) -> string",
        "The formula, with variables named x_i, y_j, p... and numbers shown by value.",
        |x: &mut LazyTensor| { x.formula_text() }
    );
    def!(engine, "latex(x: LazyTensor) -> string", "A LaTeX rendering of the formula.", |x: &mut LazyTensor| x.latex());
    def!(
        engine,
        "get$shape(x: LazyTensor) -> array",
        "[N, M, D]: rows of the i- and j-indexed variables (1 if none) and the formula's dimension.",
        |x: &mut LazyTensor| -> Array {
            let (n, m, d) = x.shape();
            [n, m, d].iter().map(|&k| Dynamic::from_int(k as INT)).collect()
        }
    );
    def!(
        engine,
        "get$ndim(x: LazyTensor) -> int",
        "D, the dimension of the formula (KeOps' `ndim`).",
        |x: &mut LazyTensor| x.formula.dim() as INT
    );
}
