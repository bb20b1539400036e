//! Rewrite rules that clean up formulas (`x*0`, `-(-x)`, `Exp(0)`, ...), written as a table of one-line patterns.
//!
//! Symbolic differentiation produces formulas such as `Exp(x)*0 + 1*(-(-y))*Zero(3)`; [`simplify`]
//! turns them into `Zero(3)`. A rule reads `rule!("name", Lhs => Rhs)` where patterns are written
//! in the formula language: `?a` matches any subformula (twice the same `?a` means the same node),
//! `#c` matches a scalar constant, `_` matches anything, `0` matches the constant 0 and `Zero(d)`,
//! other numbers match that constant, and an op's integer parameters follow its operands as in
//! the printed form (`Pow(?a, 2)`, `Extract(?a, 0, _)`). Constant folding is the one rule written
//! as code. The formula is rewritten bottom-up over the DAG, each node until no rule fires.

use crate::eval::eval_op;
use crate::expr::{Expr, Op, Param};
use std::collections::HashMap;
use std::sync::LazyLock;

/// A pattern over formulas (left-hand side) or a template building one (right-hand side).
#[derive(Debug)]
enum Pat {
    /// `_`: anything; never used on a right-hand side.
    Any,
    /// `?a` (any subformula) or `#a` (a scalar constant, when the flag is set).
    Var(&'static str, bool),
    /// A constant; on the left, `0` also matches `Zero(d)`.
    Lit(f64),
    /// An op by its formula-language name, its operands, then its integer parameters.
    Node(&'static str, Vec<Pat>),
}

/// What a rule does to a node whose op it may concern.
enum Action {
    Rewrite(Pat, Pat),
    Coded(fn(&Expr) -> Option<Expr>),
}

struct Rule {
    name: &'static str,
    action: Action,
}

impl Rule {
    /// The op name the rule looks at, or `None` for coded rules, which look at every node.
    fn head(&self) -> Option<&'static str> {
        match &self.action {
            Action::Rewrite(Pat::Node(head, _), _) => Some(*head),
            _ => None,
        }
    }
}

/// Builds the patterns of a comma-separated list, one element at a time.
macro_rules! pats {
    (@ [$($p:expr),*]) => { vec![$($p),*] };
    (@ [$($p:expr),*] ? $v:ident $(, $($t:tt)*)?) => { pats!(@ [$($p,)* Pat::Var(stringify!($v), false)] $($($t)*)?) };
    (@ [$($p:expr),*] # $v:ident $(, $($t:tt)*)?) => { pats!(@ [$($p,)* Pat::Var(stringify!($v), true)] $($($t)*)?) };
    (@ [$($p:expr),*] _ $(, $($t:tt)*)?) => { pats!(@ [$($p,)* Pat::Any] $($($t)*)?) };
    (@ [$($p:expr),*] $op:ident ($($a:tt)*) $(, $($t:tt)*)?) => {
        pats!(@ [$($p,)* Pat::Node(stringify!($op), pats!(@ [] $($a)*))] $($($t)*)?)
    };
    (@ [$($p:expr),*] $n:literal $(, $($t:tt)*)?) => { pats!(@ [$($p,)* Pat::Lit($n as f64)] $($($t)*)?) };
}

/// One table entry: `rule!("name", Op(patterns…) => template)` or `rule!("name", fn code)`.
macro_rules! rule {
    ($name:literal, fn $f:ident) => {
        Rule { name: $name, action: Action::Coded($f) }
    };
    ($name:literal, $head:ident ($($a:tt)*) => $($rhs:tt)+) => {
        Rule {
            name: $name,
            action: Action::Rewrite(Pat::Node(stringify!($head), pats!(@ [] $($a)*)), only(pats!(@ [] $($rhs)+))),
        }
    };
}

/// The single pattern of a right-hand side; a malformed one becomes `_`, which never builds anything.
fn only(mut pats: Vec<Pat>) -> Pat {
    if pats.len() == 1 { pats.pop() } else { None }.unwrap_or(Pat::Any)
}

/// The rules, tried in order at each node; the first that applies wins, then the node is tried again.
///
/// Every rule is exact for finite values, except that the ones which drop an operand (`x*0 → 0`,
/// `0/x → 0`, `x-x → 0`, `IfElse(c,a,a) → a`, zero-operand products...) ignore that the dropped
/// operand could be inf or NaN: KeOps simplifies the same way, and a derivative full of
/// `NaN*0` terms would otherwise never simplify. The constant-gathering rules reassociate
/// products, which changes the result by rounding (and, for huge constants, by overflow).
/// Cases whose operands are all constants (`Exp(0)`, `Log(1)`, `Square(0)`, `Pow(0,n)`,
/// comparisons, `Step`, `Sign`, ...) are left to `fold`, except the zero cases listed before it,
/// which hold for any dimension without computing anything.
static RULES: LazyLock<Table> = LazyLock::new(|| {
    Table::new(vec![
        rule!("mul-zero-r",      Mult(?a, 0)                 => 0),
        rule!("mul-zero-l",      Mult(0, ?a)                 => 0),
        rule!("mul-one-r",       Mult(?a, 1)                 => ?a),
        rule!("mul-one-l",       Mult(1, ?a)                 => ?a),
        rule!("mul-minus-one-r", Mult(?a, -1)                => Minus(?a)),
        rule!("mul-minus-one-l", Mult(-1, ?a)                => Minus(?a)),
        rule!("mul-neg-neg",     Mult(Minus(?a), Minus(?b))  => Mult(?a, ?b)),
        rule!("add-zero-r",      Add(?a, 0)                  => ?a),
        rule!("add-zero-l",      Add(0, ?a)                  => ?a),
        rule!("sub-zero",        Subtract(?a, 0)             => ?a),
        rule!("zero-sub",        Subtract(0, ?a)             => Minus(?a)),
        rule!("sub-self",        Subtract(?a, ?a)            => 0),
        rule!("div-one",         Divide(?a, 1)               => ?a),
        rule!("zero-div",        Divide(0, ?a)               => 0),
        rule!("neg-neg",         Minus(Minus(?a))            => ?a),
        rule!("neg-zero",        Minus(0)                    => 0),
        rule!("pow-zero",        Pow(?a, 0)                  => 1),
        rule!("pow-one",         Pow(?a, 1)                  => ?a),
        rule!("pow-two",         Pow(?a, 2)                  => Square(?a)),
        rule!("pow-minus-one",   Pow(?a, -1)                 => Inv(?a)),
        rule!("square-neg",      Square(Minus(?a))           => Square(?a)),
        rule!("abs-neg",         Abs(Minus(?a))              => Abs(?a)),
        rule!("if-same",         IfElse(_, ?a, ?a)           => ?a),
        // A reduction of a single component is that component: the dimension check keeps these to scalars.
        rule!("sum-scalar",      Sum(?a)                     => ?a),
        rule!("max-scalar",      Max(?a)                     => ?a),
        rule!("min-scalar",      Min(?a)                     => ?a),
        rule!("elem-scalar",     Elem(?a, 0)                 => ?a),
        rule!("extract-all",     Extract(?a, 0, _)           => ?a),
        rule!("sum-zero",        Sum(0)                      => 0),
        rule!("sqnorm-zero",     SqNorm2(0)                  => 0),
        rule!("norm-zero",       Norm2(0)                    => 0),
        rule!("scalprod-zero-l", Scalprod(0, _)              => 0),
        rule!("scalprod-zero-r", Scalprod(_, 0)              => 0),
        rule!("sqdist-self",     SqDist(?a, ?a)              => 0),
        rule!("sqdist-zero-r",   SqDist(?a, 0)               => SqNorm2(?a)),
        rule!("sqdist-zero-l",   SqDist(0, ?a)               => SqNorm2(?a)),
        rule!("wsqnorm-zero-w",  WeightedSqNorm(0, _)        => 0),
        rule!("wsqnorm-zero-x",  WeightedSqNorm(_, 0)        => 0),
        rule!("wsqdist-zero-w",  WeightedSqDist(0, _, _)     => 0),
        rule!("wsqdist-self",    WeightedSqDist(_, ?a, ?a)   => 0),
        rule!("elem-zero",       Elem(0, _)                  => 0),
        rule!("extract-zero",    Extract(0, _, _)            => 0),
        rule!("elemt-zero",      ElemT(0, _, _)              => 0),
        rule!("extractt-zero",   ExtractT(0, _, _)           => 0),
        rule!("concat-zero",     Concat(0, 0)                => 0),
        rule!("matvec-zero-l",   MatVecMult(0, _)            => 0),
        rule!("matvec-zero-r",   MatVecMult(_, 0)            => 0),
        rule!("vecmat-zero-l",   VecMatMult(0, _)            => 0),
        rule!("vecmat-zero-r",   VecMatMult(_, 0)            => 0),
        rule!("tensor-zero-l",   TensorProd(0, _)            => 0),
        rule!("tensor-zero-r",   TensorProd(_, 0)            => 0),
        rule!("kron-zero-l",     Kron(0, _)                  => 0),
        rule!("kron-zero-r",     Kron(_, 0)                  => 0),
        rule!("tensordot-zero-l", TensorDot(0, _)            => 0),
        rule!("tensordot-zero-r", TensorDot(_, 0)            => 0),
        rule!("fold",            fn fold),
        // Normal forms, after folding so that a product of two constants never swaps forever:
        // constants gather at the left of products, negations move out of products and into sums.
        rule!("mul-const-left",  Mult(?a, #c)                => Mult(#c, ?a)),
        rule!("mul-const-gather", Mult(#c, Mult(#d, ?a))     => Mult(Mult(#c, #d), ?a)),
        rule!("mul-const-out-l", Mult(Mult(#c, ?a), ?b)      => Mult(#c, Mult(?a, ?b))),
        rule!("mul-const-out-r", Mult(?a, Mult(#c, ?b))      => Mult(#c, Mult(?a, ?b))),
        rule!("mul-self",        Mult(?a, ?a)                => Square(?a)),
        rule!("mul-neg-l",       Mult(Minus(?a), ?b)         => Minus(Mult(?a, ?b))),
        rule!("mul-neg-r",       Mult(?a, Minus(?b))         => Minus(Mult(?a, ?b))),
        rule!("div-neg-l",       Divide(Minus(?a), ?b)       => Minus(Divide(?a, ?b))),
        rule!("div-neg-r",       Divide(?a, Minus(?b))       => Minus(Divide(?a, ?b))),
        rule!("neg-const-mul",   Minus(Mult(#c, ?a))         => Mult(Minus(#c), ?a)),
        rule!("neg-sub",         Minus(Subtract(?a, ?b))     => Subtract(?b, ?a)),
        rule!("add-self",        Add(?a, ?a)                 => Mult(2, ?a)),
        rule!("add-neg-r",       Add(?a, Minus(?b))          => Subtract(?a, ?b)),
        rule!("add-neg-l",       Add(Minus(?a), ?b)          => Subtract(?b, ?a)),
        rule!("sub-neg",         Subtract(?a, Minus(?b))     => Add(?a, ?b)),
    ])
});

/// Constant folding is skipped above this many values (operands plus result), so that folding
/// never allocates much for a result that is then not representable anyway.
const FOLD_LIMIT: usize = 1 << 12;

/// Replaces an op whose operands are all constants by its value, when that value is a scalar or all zeros.
fn fold(e: &Expr) -> Option<Expr> {
    let args = e.args();
    let constant = |a: &Expr| a.as_const().is_some() || matches!(a.op(), Op::Zero(_));
    if args.is_empty() || !args.iter().all(constant) {
        return None;
    }
    if e.dim() + args.iter().map(Expr::dim).sum::<usize>() > FOLD_LIMIT {
        return None;
    }
    let values: Vec<Vec<f64>> =
        args.iter().map(|a| a.as_const().map_or_else(|| vec![0.0; a.dim()], |c| vec![c])).collect();
    let refs: Vec<&[f64]> = values.iter().map(Vec::as_slice).collect();
    let mut out = vec![0.0; e.dim()];
    eval_op(e.op(), &refs, &mut out);
    match out.as_slice() {
        [c] => Some(Expr::constant(*c)),
        _ if out.iter().all(|&v| v == 0.0) => Expr::zero(e.dim()).ok(),
        _ => None,
    }
}

/// The rules with, for each op name, the indices of those that may apply to it, in table order.
struct Table {
    rules: Vec<Rule>,
    by_head: HashMap<&'static str, Vec<usize>>,
    headless: Vec<usize>,
}

impl Table {
    fn new(rules: Vec<Rule>) -> Table {
        let applies = |k: usize, head: &str| rules[k].head().is_none_or(|h| h == head);
        let mut by_head = HashMap::new();
        for head in rules.iter().filter_map(Rule::head) {
            by_head.entry(head).or_insert_with(|| (0..rules.len()).filter(|&k| applies(k, head)).collect());
        }
        let headless = (0..rules.len()).filter(|&k| rules[k].head().is_none()).collect();
        Table { rules, by_head, headless }
    }

    fn candidates(&self, head: &str) -> &[usize] {
        self.by_head.get(head).unwrap_or(&self.headless)
    }
}

/// The op a right-hand side names; only ops without parameters can be built from a name alone.
fn op_from_name(name: &str) -> Option<Op> {
    Op::by_name(name).filter(|op| op.syntax().params.is_empty())
}

type Bindings = Vec<(&'static str, Expr)>;

fn lookup<'b>(b: &'b Bindings, name: &str) -> Option<&'b Expr> {
    b.iter().find(|(n, _)| *n == name).map(|(_, e)| e)
}

/// Matches `p` against `e`, extending `b`; a metavariable already bound must meet the same node.
fn matches(p: &Pat, e: &Expr, b: &mut Bindings) -> bool {
    match p {
        Pat::Any => true,
        Pat::Lit(c) => {
            if *c == 0.0 {
                e.is_zero()
            } else {
                e.as_const() == Some(*c)
            }
        }
        Pat::Var(name, constant) => {
            if *constant && e.as_const().is_none() {
                return false;
            }
            match lookup(b, name) {
                Some(bound) => bound == e,
                None => {
                    b.push((*name, e.clone()));
                    true
                }
            }
        }
        Pat::Node(head, pats) => {
            // Patterns match integer parameters (`Pow(x, 2)`); shape lists are never matched.
            let params: Vec<i64> = e.op().params().iter().filter_map(Param::as_int).collect();
            let args = e.args();
            e.op().name() == *head
                && pats.len() == args.len() + params.len()
                && args.iter().zip(pats).all(|(a, p)| matches(p, a, b))
                && params.iter().zip(&pats[args.len()..]).all(|(&v, p)| match p {
                    Pat::Any => true,
                    Pat::Lit(c) => *c == v as f64,
                    _ => false,
                })
        }
    }
}

/// How deeply the right-hand side of a rule may trigger the rewriting of its own new nodes.
const MAX_DEPTH: usize = 64;
/// Rewrites allowed per node of the input, a guard against a rule cycle.
const FUEL_PER_NODE: usize = 64;

struct Simplifier<'f> {
    table: &'static Table,
    /// Each node met (input or built by a rule) to its normal form.
    memo: HashMap<Expr, Expr>,
    fuel: usize,
    fired: &'f mut dyn FnMut(&'static str),
}

impl Simplifier<'_> {
    /// Rewrites `e`, whose operands are already in normal form, until no rule applies.
    fn normalize(&mut self, e: Expr, depth: usize) -> Expr {
        if e.args().is_empty() {
            return e;
        }
        if let Some(done) = self.memo.get(&e) {
            return done.clone();
        }
        let mut current = e.clone();
        loop {
            if self.fuel == 0 || depth > MAX_DEPTH {
                // Out of budget: the result is still equivalent, only not fully simplified, so it is not remembered.
                return current;
            }
            match self.step(&current, depth) {
                Some(next) => {
                    self.fuel -= 1;
                    current = next;
                }
                None => break,
            }
        }
        self.memo.insert(current.clone(), current.clone());
        self.memo.insert(e, current.clone());
        current
    }

    /// The first rule that rewrites `e` into something else of the same dimension, applied.
    fn step(&mut self, e: &Expr, depth: usize) -> Option<Expr> {
        let table = self.table;
        for &k in table.candidates(e.op().name()) {
            let rule = &table.rules[k];
            let out = match &rule.action {
                Action::Coded(f) => f(e),
                Action::Rewrite(lhs, rhs) => {
                    let mut b = Vec::new();
                    if !matches(lhs, e, &mut b) {
                        continue;
                    }
                    self.build(rhs, &b, depth)
                }
            };
            let Some(out) = out else { continue };
            // A rule may not change the dimension, except that a scalar zero stands for a zero vector
            // (broadcast, as elementwise ops would do with it).
            let out = if out.dim() == e.dim() {
                out
            } else if out.dim() == 1 && out.is_zero() {
                match Expr::zero(e.dim()) {
                    Ok(z) => z,
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            if out != *e {
                (self.fired)(rule.name);
                return Some(out);
            }
        }
        None
    }

    /// Instantiates a right-hand side; its inner nodes are new, so they are normalized on the way.
    fn build(&mut self, p: &Pat, b: &Bindings, depth: usize) -> Option<Expr> {
        match p {
            Pat::Any => None,
            Pat::Lit(c) => Some(Expr::constant(*c)),
            Pat::Var(name, _) => lookup(b, name).cloned(),
            Pat::Node(head, pats) => {
                let mut args = Vec::with_capacity(pats.len());
                for q in pats {
                    let a = self.build(q, b, depth)?;
                    args.push(if matches!(q, Pat::Node(..)) { self.normalize(a, depth + 1) } else { a });
                }
                Expr::new(op_from_name(head)?, args).ok()
            }
        }
    }
}

/// The formula with the rewrite rules applied everywhere until none fires; same dimension and value.
pub fn simplify(e: &Expr) -> Expr {
    simplify_traced(e, &mut |_| {})
}

/// Like [`simplify`], calling `fired` with the name of each rule as it is applied.
pub fn simplify_traced(e: &Expr, fired: &mut dyn FnMut(&'static str)) -> Expr {
    // Walk the DAG children first with an explicit order: deep formulas must not recurse.
    let order = Expr::topo_order(std::slice::from_ref(e));
    let mut s = Simplifier { table: &RULES, memo: HashMap::new(), fuel: FUEL_PER_NODE * (order.len() + 16), fired };
    for node in order {
        if s.memo.contains_key(&node) {
            continue;
        }
        let args: Vec<Expr> = node.args().iter().map(|a| s.memo.get(a).unwrap_or(a).clone()).collect();
        let rebuilt = if args == node.args() {
            node.clone()
        } else {
            // The operands kept their dimensions, so this cannot fail; if it did, the node stays as it was.
            Expr::new(node.op().clone(), args).unwrap_or_else(|_| node.clone())
        };
        let out = s.normalize(rebuilt, 0);
        s.memo.insert(node, out);
    }
    s.memo.get(e).cloned().unwrap_or_else(|| e.clone())
}

/// The names of the rules, in the order they are tried.
pub fn rule_names() -> Vec<&'static str> {
    RULES.rules.iter().map(|r| r.name).collect()
}
