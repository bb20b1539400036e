//! How LazyTensors look: readable variable names, `LazyTensor(formula=..., shape=(N, M, D))`, and LaTeX.

use super::{Binding, LazyTensor};
use crate::lazy::def;
use noyau_engine::print::{fmt_number, to_string_with};
use noyau_engine::{BinaryOp, Cat, Expr, Op, UnaryOp};
use rhai::{Array, Dynamic, Engine, Scope, INT};

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

/// Formulas whose printed tree would have more operations than this are described instead of
/// printed: a DAG built by `f = f + f` in a loop prints exponentially long.
const MAX_PRINTED: u64 = 20_000;

/// The formula in the formula language, variables written with `names`; too large a formula
/// (more than [`MAX_PRINTED`] operations once its shared parts are written out) is described by
/// its size instead.
pub(crate) fn formula(e: &Expr, names: &[String]) -> String {
    let (tree, distinct) = sizes(e);
    if tree > MAX_PRINTED {
        let tree = if tree == u64::MAX { "too many".to_string() } else { tree.to_string() };
        return format!("<a formula of {tree} operations ({distinct} distinct), too large to print>");
    }
    to_string_with(e, &|index, _, _| names.get(index).cloned())
}

/// The number of operations of the formula written out as a tree (saturating), and of distinct
/// ones (its DAG), without recursion.
fn sizes(e: &Expr) -> (u64, usize) {
    let order = Expr::topo_order(std::slice::from_ref(e));
    let mut tree: std::collections::HashMap<&Expr, u64> = std::collections::HashMap::with_capacity(order.len());
    for n in &order {
        let size = n.args().iter().fold(1u64, |acc, a| acc.saturating_add(tree.get(a).copied().unwrap_or(1)));
        tree.insert(n, size);
    }
    (tree.get(e).copied().unwrap_or(1), order.len())
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

    /// A LaTeX rendering of the formula (for Jupyter's text/latex), variables named `x_i`, `p`...
    pub fn latex(&self) -> String {
        latex(&self.formula, &latex_names(&self.vars, None))
    }

    /// The LaTeX rendering with the variables named as the script named them where `scope`
    /// holds them: `let sigma = Pm(0.3)` shows as σ, a tensor `x` used as `Vi(x)` as x_i.
    pub fn latex_in(&self, scope: &Scope) -> String {
        latex(&self.formula, &latex_names(&self.vars, Some(scope)))
    }
}

/// A variable's name in LaTeX, and whether it stands for a number written in the script.
pub(crate) struct LatexName {
    text: String,
    number: Option<f64>,
}

/// The LaTeX names of the bindings: the script's own names from `scope` when it holds the bound
/// tensor (as a tensor, or as a one-variable LazyTensor), else the letters of [`names`].
fn latex_names(vars: &[Binding], scope: Option<&Scope>) -> Vec<LatexName> {
    let defaults = names(vars);
    let mut taken: Vec<String> = Vec::new();
    vars.iter()
        .zip(defaults)
        .map(|(b, default)| {
            // A number the script named (`let sigma = Pm(0.3)`) shows by its name.
            if let Some(name) = scope.and_then(|s| script_name(b, s)).filter(|n| !taken.contains(n)) {
                taken.push(name.clone());
                return LatexName { text: name, number: None };
            }
            match b.number {
                Some(x) => LatexName { text: latex_number(x), number: Some(x) },
                None => LatexName { text: identifier(&default), number: None },
            }
        })
        .collect()
}

/// The name a script gave to the binding's tensor, in LaTeX: a one-variable LazyTensor's name as
/// is (`x_i`, `sigma`), or a tensor's name with its category's index (`x` as Vi is `x_i`).
fn script_name(b: &Binding, scope: &Scope) -> Option<String> {
    let mut as_tensor = None;
    for (name, _, value) in scope.iter_raw() {
        if let Some(l) = value.read_lock::<LazyTensor>() {
            let single = matches!(l.formula.op(), Op::Var { .. }) && l.vars.len() == 1;
            if single && l.vars[0].cat == b.cat && l.vars[0].source.same(&b.source) {
                return Some(identifier(name));
            }
        } else if let Some(t) = value.read_lock::<noyau_engine::Tensor>() {
            if as_tensor.is_none() && t.same(&b.source) {
                let index = match b.cat {
                    Cat::I => "_{i}",
                    Cat::J => "_{j}",
                    Cat::P => "",
                };
                as_tensor = Some(format!("{}{index}", base(name)));
            }
        }
    }
    as_tensor
}

/// A script identifier in LaTeX: a short tail after the last `_` is a subscript (`x_i`, `K_ij`),
/// Greek letter names are letters (`sigma` is σ), longer names are upright.
fn identifier(name: &str) -> String {
    match name.rsplit_once('_') {
        Some((head, tail))
            if !head.is_empty() && (1..=3).contains(&tail.len()) && tail.chars().all(char::is_alphanumeric) =>
        {
            format!("{}_{{{tail}}}", base(head))
        }
        _ => base(name),
    }
}

const GREEK: [&str; 30] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Sigma",
    "Omega",
    "Lambda",
];

/// A name without a subscript: `\sigma`, `x`, or `\mathrm{points}`.
fn base(name: &str) -> String {
    if GREEK.contains(&name) {
        format!("\\{name}")
    } else if name.chars().count() == 1 {
        name.to_string()
    } else {
        format!("\\mathrm{{{}}}", name.replace('_', "\\_"))
    }
}

/// A number as people write it: `2`, `0.18`, `-1.5`.
fn latex_number(x: f64) -> String {
    match fmt_number(x).as_str() {
        "Inf" => "\\infty".into(),
        "-Inf" => "-\\infty".into(),
        "NaN" | "-NaN" => "\\mathrm{NaN}".into(),
        s => s.strip_suffix(".0").unwrap_or(s).to_string(),
    }
}

/// Nodes rendered at most; the rest of a larger formula is shown as `\cdots`.
const MAX_NODES: usize = 400;
/// Nesting rendered at most; deeper subformulas are shown as `\cdots`.
const MAX_DEPTH: usize = 40;

/// Precedences: sums bind loosest, then products, then unary minus, then atoms; a base takes a
/// superscript only when it is a letter, a number or a bracket (`x^{2}`, never `x^{2}^{3}`).
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const ATOM: u8 = 4;
const BASE: u8 = 5;
/// Added to a needed precedence: the operand may not start with a minus either (`a - (-b)`).
const NO_SIGN: u8 = 0x80;

/// What a node's rendering is made of: text, and subformulas with the precedence they need.
enum Piece {
    Text(String),
    Node(Expr, u8),
}

fn text(s: impl Into<String>) -> Piece {
    Piece::Text(s.into())
}

/// A LaTeX rendering that reads like the formula a person writes:
/// `\exp\left(-\frac{\left\|x_{i} - y_{j}\right\|^{2}}{2 \sigma^{2}}\right)`. Top-down with an
/// explicit stack (formulas built by loops can be 10⁵ nodes deep, and the Jupyter executor's
/// stack is small), abbreviated past [`MAX_NODES`] nodes or [`MAX_DEPTH`] levels, so the work
/// and the text stay small whatever the formula's size.
pub(crate) fn latex(e: &Expr, names: &[LatexName]) -> String {
    enum Task {
        Text(String),
        Node(Expr, u8, usize),
    }
    let mut out = String::new();
    let mut stack = vec![Task::Node(e.clone(), 0, 0)];
    let mut rendered = 0;
    while let Some(task) = stack.pop() {
        let (n, need, depth) = match task {
            Task::Text(s) => {
                out += &s;
                continue;
            }
            Task::Node(n, need, depth) => (n, need, depth),
        };
        if rendered >= MAX_NODES || depth >= MAX_DEPTH {
            out += "\\cdots";
            continue;
        }
        rendered += 1;
        let (pieces, prec) = pieces(&n, names);
        let wrap = prec < (need & !NO_SIGN) || (need & NO_SIGN != 0 && prec == NEG);
        if wrap {
            stack.push(Task::Text("\\right)".into()));
        }
        for piece in pieces.into_iter().rev() {
            stack.push(match piece {
                Piece::Text(s) => Task::Text(s),
                Piece::Node(c, p) => Task::Node(c, p, depth + 1),
            });
        }
        if wrap {
            stack.push(Task::Text("\\left(".into()));
        }
    }
    out
}

/// Whether a node is a number: a constant, or a number written in the script.
fn is_number(n: &Expr, names: &[LatexName]) -> bool {
    match n.op() {
        Op::Var { index, .. } => names.get(*index).is_some_and(|v| v.number.is_some()),
        _ => n.as_const().is_some(),
    }
}

/// Whether a product's right operand would be written starting with a digit (`0.3^{2}`), so
/// that it cannot follow a number without a sign between them.
fn leading_number(n: &Expr, names: &[LatexName]) -> bool {
    let a = n.args();
    match n.op() {
        Op::Unary(UnaryOp::Square) | Op::Pow(_) | Op::Binary(BinaryOp::Powf) => is_number(&a[0], names),
        Op::Binary(BinaryOp::Mul) => is_number(&a[0], names) || is_number(&a[1], names),
        _ => is_number(n, names),
    }
}

fn is_minus(n: &Expr) -> bool {
    matches!(n.op(), Op::Unary(UnaryOp::Minus))
}

/// A node's pieces and precedence.
fn pieces(n: &Expr, names: &[LatexName]) -> (Vec<Piece>, u8) {
    let a = n.args();
    let arg = |k: usize, p: u8| Piece::Node(a[k].clone(), p);
    let norm = |inner: Vec<Piece>, power: &str| {
        let mut v = vec![text("\\left\\|")];
        v.extend(inner);
        v.push(text(format!("\\right\\|{power}")));
        v
    };
    match n.op() {
        Op::Var { index, .. } => match names.get(*index) {
            Some(v) => (vec![text(v.text.clone())], if v.number.is_some_and(|x| x < 0.0) { NEG } else { BASE }),
            None => (vec![text(format!("v_{{{index}}}"))], BASE),
        },
        Op::Const(_) | Op::IntCst(_) => {
            let c = n.as_const().unwrap_or(0.0);
            (vec![text(latex_number(c))], if c < 0.0 { NEG } else { BASE })
        }
        Op::Zero(_) => (vec![text("0")], BASE),
        Op::Binary(BinaryOp::Add) if is_minus(&a[1]) => {
            (vec![arg(0, ADD), text(" - "), Piece::Node(a[1].args()[0].clone(), MUL | NO_SIGN)], ADD)
        }
        Op::Binary(BinaryOp::Add) => (vec![arg(0, ADD), text(" + "), arg(1, MUL | NO_SIGN)], ADD),
        Op::Binary(BinaryOp::Sub) => (vec![arg(0, ADD), text(" - "), arg(1, MUL | NO_SIGN)], ADD),
        Op::Binary(BinaryOp::Mul) => {
            // Numbers go first, as people write them: 2σ², −0.5‖u‖².
            let (l, r) = if is_number(&a[1], names) && !is_number(&a[0], names) { (1, 0) } else { (0, 1) };
            if is_minus(&a[r]) && is_number(&a[l], names) {
                let inner = a[r].args()[0].clone();
                return (vec![text("-"), arg(l, BASE), text(" "), Piece::Node(inner, MUL)], NEG);
            }
            let sep = match (is_number(&a[l], names), leading_number(&a[r], names)) {
                (false, _) => " \\, ",
                (true, true) => " \\cdot ",
                (true, false) => " ",
            };
            (vec![arg(l, MUL), text(sep), arg(r, ATOM)], MUL)
        }
        Op::Binary(BinaryOp::Div) if is_minus(&a[0]) => {
            let inner = a[0].args()[0].clone();
            (vec![text("-\\frac{"), Piece::Node(inner, 0), text("}{"), arg(1, 0), text("}")], NEG)
        }
        Op::Binary(BinaryOp::Div) => (vec![text("\\frac{"), arg(0, 0), text("}{"), arg(1, 0), text("}")], ATOM),
        Op::Binary(BinaryOp::Powf) => (vec![arg(0, BASE), text("^{"), arg(1, 0), text("}")], ATOM),
        Op::Binary(b) if !b.infix().is_empty() => {
            let sym = match b {
                BinaryOp::LessEq => "\\leq",
                BinaryOp::GreaterEq => "\\geq",
                BinaryOp::NotEqual => "\\neq",
                BinaryOp::Equal => "=",
                _ => b.infix(),
            };
            (vec![text("\\left["), arg(0, 0), text(format!(" {sym} ")), arg(1, 0), text("\\right]")], BASE)
        }
        Op::Unary(UnaryOp::Minus) => (vec![text("-"), arg(0, MUL)], NEG),
        Op::Unary(UnaryOp::Exp) => (vec![text("\\exp\\left("), arg(0, 0), text("\\right)")], ATOM),
        Op::Unary(UnaryOp::Log) => (vec![text("\\log\\left("), arg(0, 0), text("\\right)")], ATOM),
        Op::Unary(UnaryOp::Sqrt) => (vec![text("\\sqrt{"), arg(0, 0), text("}")], ATOM),
        Op::Unary(UnaryOp::Rsqrt) => (vec![text("\\frac{1}{\\sqrt{"), arg(0, 0), text("}}")], ATOM),
        Op::Unary(UnaryOp::Inv) => (vec![text("\\frac{1}{"), arg(0, 0), text("}")], ATOM),
        Op::Unary(UnaryOp::Abs) => (vec![text("\\left|"), arg(0, 0), text("\\right|")], BASE),
        Op::Unary(UnaryOp::Square) => (vec![arg(0, BASE), text("^{2}")], ATOM),
        Op::Unary(u) => (vec![text(format!("{}\\left(", latex_fn(u.name()))), arg(0, 0), text("\\right)")], ATOM),
        Op::Pow(k) => (vec![arg(0, BASE), text(format!("^{{{k}}}"))], ATOM),
        // Σ_k (x − y)_k², written as the squared norm it is.
        Op::Sum if matches!(a[0].op(), Op::Unary(UnaryOp::Square)) => {
            (norm(vec![Piece::Node(a[0].args()[0].clone(), 0)], "^{2}"), ATOM)
        }
        Op::SqNorm2 => (norm(vec![arg(0, 0)], "^{2}"), ATOM),
        Op::Norm2 => (norm(vec![arg(0, 0)], ""), BASE),
        Op::SqDist => (norm(vec![arg(0, ADD), text(" - "), arg(1, MUL | NO_SIGN)], "^{2}"), ATOM),
        Op::Scalprod => {
            (vec![text("\\left\\langle "), arg(0, 0), text(", "), arg(1, 0), text(" \\right\\rangle")], BASE)
        }
        Op::Sum => (vec![text("\\textstyle\\sum "), arg(0, ATOM)], MUL),
        Op::Elem(m) => (vec![text("\\left["), arg(0, 0), text(format!("\\right]_{{{m}}}"))], ATOM),
        _ => {
            let mut v = vec![text(format!("\\operatorname{{{}}}\\left(", n.op().name()))];
            for k in 0..a.len() {
                if k > 0 {
                    v.push(text(", "));
                }
                v.push(arg(k, 0));
            }
            v.push(text("\\right)"));
            (v, ATOM)
        }
    }
}

/// The LaTeX command of an elementwise function (`\sin`), or `\operatorname` for the others.
fn latex_fn(name: &str) -> String {
    match name {
        "Sin" | "Cos" => format!("\\{}", name.to_lowercase()),
        "Asin" => "\\arcsin".into(),
        "Acos" => "\\arccos".into(),
        "Atan" => "\\arctan".into(),
        other => format!("\\operatorname{{{other}}}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> LatexName {
        LatexName { text: text.into(), number: None }
    }

    #[test]
    fn formulas_read_as_written() {
        let x = Expr::var(0, 3, Cat::I).unwrap();
        let y = Expr::var(1, 3, Cat::J).unwrap();
        let names = [name("x_{i}"), name("y_{j}"), name("\\sigma"), LatexName { text: "2".into(), number: Some(2.0) }];
        let sigma = Expr::var(2, 1, Cat::P).unwrap();
        let two = Expr::var(3, 1, Cat::P).unwrap();
        let d2 = x.clone().sub(y.clone()).unwrap().square().unwrap().sum().unwrap();
        let gauss =
            d2.clone().neg().unwrap().div(two.mul(sigma.clone().square().unwrap()).unwrap()).unwrap().exp().unwrap();
        assert_eq!(
            latex(&gauss, &names),
            "\\exp\\left(-\\frac{\\left\\|x_{i} - y_{j}\\right\\|^{2}}{2 \\sigma^{2}}\\right)"
        );
        // Precedence: parentheses only where needed; a sum's square and a negative number.
        let f = x.clone().add(y.clone()).unwrap().mul(x.clone()).unwrap().sub(Expr::constant(-1.5)).unwrap();
        assert_eq!(latex(&f, &names), "\\left(x_{i} + y_{j}\\right) \\, x_{i} - \\left(-1.5\\right)");
        let p = x.clone().sub(y.clone()).unwrap().square().unwrap();
        assert_eq!(latex(&p, &names), "\\left(x_{i} - y_{j}\\right)^{2}");
        let pp = sigma.square().unwrap().pow(3).unwrap();
        assert_eq!(latex(&pp, &names), "\\left(\\sigma^{2}\\right)^{3}");
        assert_eq!(latex(&Expr::constant(f64::INFINITY), &names), "\\infty");
    }

    #[test]
    fn identifiers_become_letters_and_subscripts() {
        assert_eq!(identifier("x_i"), "x_{i}");
        assert_eq!(identifier("sigma"), "\\sigma");
        assert_eq!(identifier("K_ij"), "K_{ij}");
        assert_eq!(identifier("points"), "\\mathrm{points}");
        assert_eq!(identifier("my_long_name"), "\\mathrm{my\\_long\\_name}");
        assert_eq!(identifier("alpha_j"), "\\alpha_{j}");
    }

    #[test]
    fn a_huge_formula_is_abbreviated_on_a_small_stack() {
        // 10⁵ nested additions, as a loop builds them, rendered on a 256 KiB stack.
        let x = Expr::var(0, 1, Cat::I).unwrap();
        let mut f = x.clone();
        for _ in 0..100_000 {
            f = f.add(x.clone()).unwrap().exp().unwrap();
        }
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || latex(&f, &[name("x_{i}")]))
            .unwrap()
            .join()
            .unwrap();
        assert!(text.len() < 20_000, "{} characters", text.len());
        assert!(text.starts_with("\\exp\\left(\\exp\\left(") && text.contains("\\cdots"), "{text}");
        // A DAG whose tree is exponential (f + f, 70 times) is cut by the node budget, and
        // described rather than printed in the formula language.
        let mut g = x;
        for _ in 0..70 {
            g = g.clone().add(g).unwrap();
        }
        let text = latex(&g, &[name("x_{i}")]);
        assert!(text.len() < 20_000 && text.contains("\\cdots"), "{} characters", text.len());
        assert_eq!(
            formula(&g, &["x_i".into()]),
            "<a formula of too many operations (71 distinct), too large to print>"
        );
    }
}
