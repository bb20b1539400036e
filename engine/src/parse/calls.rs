//! What a call means: operation names to [`Op`]s, and the reader that checks a call's arguments.
//!
//! A call's arguments are parsed before its name is looked up, each into an [`Arg`]: a formula
//! (remembering whether it was written as a bare integer, as `Pow(x, 2)` needs) or a bracketed
//! integer list (as `Kron(a, b, [2,2], [3,3])` needs). The code that builds an operation then
//! reads them in order through a [`Reader`].

use super::MAX_DIM;
use crate::error::{Error, ParseError, Result};
use crate::expr::{Cat, Expr, Op, Param, ParamKind};

/// One argument of a call, with the character offset where it starts.
pub(crate) struct Arg {
    pub pos: usize,
    pub value: ArgValue,
}

pub(crate) enum ArgValue {
    /// A formula; `int` holds its value when it is an integer literal such as `2` or `-3`
    /// (saturated to the `i128` range, so that out-of-range values are still reported as such).
    Formula { expr: Expr, int: Option<i128> },
    /// A bracketed list of integers, each with its offset.
    List(Vec<(i128, usize)>),
}

/// Re-anchors an error raised while building a node (a dimension mismatch, an index out of
/// range) as a parse error at `pos`, keeping its message.
pub(crate) fn located(src: &str, pos: usize, err: &Error) -> Error {
    let message = match err {
        Error::Parse(inner) => inner.message.clone(),
        other => other.to_string(),
    };
    Error::Parse(ParseError::at(src, pos, message))
}

/// Reads a call's arguments in the order the operation's syntax lists them.
///
/// Reading never stops at the first problem: a missing argument reads as a default and the
/// first wrong one is remembered, so that [`Reader::finish`] can report a wrong argument count
/// with the full expected count (`Pow: expects 2 argument(s), got 1`) before anything else.
pub(crate) struct Reader<'a> {
    src: &'a str,
    args: &'a [Arg],
    read: usize,
    operands: Vec<Expr>,
    error: Option<Error>,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str, args: &'a [Arg]) -> Self {
        Reader { src, args, read: 0, operands: Vec::new(), error: None }
    }

    /// The formula operands read, or the first problem with the call's arguments.
    pub fn finish(self, name: &str, call_pos: usize) -> Result<Vec<Expr>> {
        if self.read != self.args.len() {
            let arity = Error::Arity { op: name.to_string(), expected: self.read.to_string(), got: self.args.len() };
            return Err(located(self.src, call_pos, &arity));
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.operands),
        }
    }

    /// How many arguments are left to read.
    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.read)
    }

    fn next(&mut self) -> Option<&'a Arg> {
        let arg = self.args.get(self.read);
        self.read += 1;
        arg
    }

    fn fail(&mut self, pos: usize, msg: String) {
        if self.error.is_none() {
            self.error = Some(Error::Parse(ParseError::at(self.src, pos, msg)));
        }
    }

    /// Reads `n` formula operands.
    pub fn operands(&mut self, n: usize) {
        for _ in 0..n {
            match self.next() {
                Some(Arg { value: ArgValue::Formula { expr, .. }, .. }) => self.operands.push(expr.clone()),
                Some(Arg { pos, value: ArgValue::List(_) }) => {
                    self.fail(*pos, "expected a formula, found a list".to_string())
                }
                None => {}
            }
        }
    }

    /// Checks that `value` (written at `pos`) lies in `lo..=hi`; `subject` names it in the message.
    fn in_range(&mut self, (value, pos): (i128, usize), subject: &str, lo: i128, hi: i128) -> Option<i128> {
        if (lo..=hi).contains(&value) {
            return Some(value);
        }
        let shown = if value == i128::MAX { "this large".to_string() } else { value.to_string() };
        self.fail(pos, format!("{subject} must be an integer from {lo} to {hi}, not {shown}"));
        None
    }

    /// Reads an integer literal in `lo..=hi`, as a `T` that holds that whole range.
    fn int<T: TryFrom<i128> + Default>(&mut self, what: &str, lo: i128, hi: i128) -> T {
        let literal = match self.next() {
            Some(Arg { pos, value: ArgValue::Formula { int: Some(v), .. } }) => (*v, *pos),
            Some(arg) => {
                self.fail(arg.pos, format!("expected an integer for the {what}"));
                return T::default();
            }
            None => return T::default(),
        };
        self.in_range(literal, &format!("the {what}"), lo, hi).and_then(|v| T::try_from(v).ok()).unwrap_or_default()
    }

    pub fn i32(&mut self, what: &str) -> i32 {
        self.int(what, i32::MIN.into(), i32::MAX.into())
    }

    pub fn i64(&mut self, what: &str) -> i64 {
        self.int(what, i64::MIN.into(), i64::MAX.into())
    }

    /// Reads an index or a dimension, bounded by [`MAX_DIM`] so that no dimension arithmetic overflows.
    pub fn size(&mut self, what: &str) -> usize {
        self.int(what, 0, MAX_DIM as i128)
    }

    /// Reads a parameter of the given kind; `label` names it in messages.
    pub fn param(&mut self, kind: ParamKind, label: &str) -> Param {
        match kind {
            ParamKind::I32 => Param::Int(self.i32(label).into()),
            ParamKind::I64 => Param::Int(self.i64(label)),
            ParamKind::Size => Param::Int(self.size(label) as i64),
            ParamKind::Cat => Param::Int(self.cat().index() as i64),
            ParamKind::List => Param::List(self.list(label)),
        }
    }

    pub fn cat(&mut self) -> Cat {
        let c: i64 = self.int("category", 0, 2);
        Cat::from_index(c).unwrap_or(Cat::I)
    }

    /// Reads a bracketed tensor shape or axis list, e.g. `[2,3]`, whose product stays within
    /// [`MAX_DIM`] so that the shape arithmetic of [`Expr::new`] cannot overflow.
    pub fn list(&mut self, what: &str) -> Vec<usize> {
        let (items, pos) = match self.next() {
            Some(Arg { pos, value: ArgValue::List(items) }) => (items, *pos),
            Some(arg) => {
                self.fail(arg.pos, format!("expected a list of integers like [2,3] for the {what}"));
                return Vec::new();
            }
            None => return Vec::new(),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut product: usize = 1;
        for &item in items {
            let Some(v) = self.in_range(item, &format!("each entry of the {what}"), 0, MAX_DIM as i128) else {
                return Vec::new();
            };
            let v = usize::try_from(v).unwrap_or_default();
            product = product.saturating_mul(v.max(1));
            out.push(v);
        }
        if product > MAX_DIM {
            self.fail(pos, format!("the {what} {out:?} is too large: its product exceeds {MAX_DIM}"));
        }
        out
    }
}

/// The category a variable call names: `Vi`, `Vj` or `Pm`, or `None` inside for `Var`, which
/// takes its category as an argument.
fn variable_kind(name: &str) -> Option<Option<Cat>> {
    if name == "Var" {
        return Some(None);
    }
    [Cat::I, Cat::J, Cat::P].into_iter().find(|c| c.short() == name).map(Some)
}

/// True for `Vi`, `Vj`, `Pm` and `Var`.
pub(crate) fn is_variable_call(name: &str) -> bool {
    variable_kind(name).is_some()
}

/// True for every name [`operation`] or [`variable`] knows.
pub(crate) fn is_known(name: &str) -> bool {
    is_variable_call(name) || Op::by_name(name).is_some() || is_compound(name)
}

/// `Vi(k,d)`, `Vj(k,d)`, `Pm(k,d)`, `Var(k,d,cat)`. In an alias (`position` given), the index
/// may be left out and is then the alias's position in the list: `x = Vi(3)`.
pub(crate) fn variable(name: &str, r: &mut Reader, position: Option<usize>) -> Option<Op> {
    let cat = variable_kind(name)?;
    let with_index = if cat.is_some() { 2 } else { 3 };
    let index = match position {
        Some(k) if r.remaining() + 1 == with_index => k,
        _ => r.size("index"),
    };
    let dim = r.size("dimension");
    let cat = cat.unwrap_or_else(|| r.cat());
    Some(Op::Var { index, dim, cat })
}

/// The operation a call names, its operands then its parameters read from `r` in the order
/// its row of the operation table lists them (the order KeOps writes them).
pub(crate) fn operation(name: &str, r: &mut Reader) -> Option<Op> {
    let template = Op::by_name(name)?;
    let syntax = template.syntax();
    r.operands(syntax.arity);
    let params: Vec<Param> = syntax.params.iter().map(|&(kind, label)| r.param(kind, label)).collect();
    // A parameter that failed to read is a default value and an error kept by the reader, which
    // `Reader::finish` reports; the template then stands in for the operation.
    Some(template.with_params(&params).unwrap_or(template))
}

/// A KeOps spelling whose formula is built from other operations, once its arguments are read.
pub(crate) type Compound = Box<dyn FnOnce(Vec<Expr>) -> Result<Expr>>;

/// KeOps' names that are formulas of other operations here (the evaluation, derivative and
/// CUDA code of those serve them): `SqNormIso(s, x)`, `SqNormDiag(s, x)` and `SymSqNorm(A, x)`
/// are `WeightedSqNorm` with a weight of dimension 1, D and D²; `SumT(f, d)` repeats a scalar d
/// times; `IntInv(n)` is the constant 1/n; `DifferenceMatrix(x, y)` is (x_k − y_l).
pub(crate) fn compound(name: &str, r: &mut Reader) -> Option<Compound> {
    let weighted = |op: &'static str, what: &'static str, expected: fn(usize) -> usize| -> Compound {
        Box::new(move |a: Vec<Expr>| {
            let (s, x) = (a[0].clone(), a[1].clone());
            let want = expected(x.dim());
            if s.dim() != want {
                let msg = format!(
                    "the weight must have dimension {want} ({what}) for a vector of dimension {}, not {}",
                    x.dim(),
                    s.dim()
                );
                return Err(Error::invalid(op, msg));
            }
            Expr::new(Op::WeightedSqNorm, vec![s, x])
        })
    };
    Some(match name {
        // KeOps' seven-argument form: the contraction with its output axes permuted.
        "TensorDot" if r.remaining() == 7 => {
            r.operands(2);
            let shapes = [
                r.list("first shape"),
                r.list("second shape"),
                r.list("first contracted axes"),
                r.list("second contracted axes"),
            ];
            let permute = r.list("permutation");
            Box::new(move |a: Vec<Expr>| a[0].clone().tensordot(a[1].clone(), shapes, Some(&permute)))
        }
        "SqNormIso" => {
            r.operands(2);
            weighted("SqNormIso", "a scalar", |_| 1)
        }
        "SqNormDiag" => {
            r.operands(2);
            weighted("SqNormDiag", "one weight per component", |d| d)
        }
        "SymSqNorm" => {
            r.operands(2);
            weighted("SymSqNorm", "a D×D matrix", |d| d.saturating_mul(d))
        }
        "SumT" => {
            r.operands(1);
            let d = r.size("dimension");
            Box::new(move |a: Vec<Expr>| {
                if a[0].dim() != 1 {
                    let msg = format!("the formula must be a scalar, it has dimension {}", a[0].dim());
                    return Err(Error::invalid("SumT", msg));
                }
                Expr::ones(d)?.mul(a[0].clone())
            })
        }
        "IntInv" => {
            let n: i64 = r.i64("integer");
            Box::new(move |_| {
                if n == 0 {
                    return Err(Error::invalid("IntInv", "the integer must not be 0"));
                }
                Ok(Expr::constant(1.0 / n as f64))
            })
        }
        "DifferenceMatrix" => {
            r.operands(2);
            Box::new(|a: Vec<Expr>| a[0].clone().difference_matrix(a[1].clone()))
        }
        _ => return None,
    })
}

/// True for the names [`compound`] builds (asked of [`compound`] itself, so the names are listed once).
pub(crate) fn is_compound(name: &str) -> bool {
    compound(name, &mut Reader::new("", &[])).is_some()
}
