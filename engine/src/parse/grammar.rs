//! The grammar of the formula language: a recursive-descent parser over the lexer's tokens.
//!
//! From loosest to tightest: comparisons `< <= > >= == !=`, then `+ -`, then `* /` (all
//! left-associative, with the printer's precedences), then prefix `-`, then `**` (right-
//! associative, so `-x**2` is `-(x**2)` and `x**-2` is allowed), then atoms: numbers, `Inf`,
//! `NaN`, alias names, calls `Name(args)` and parentheses, `(a | b)` being the scalar product.

use super::calls::{self, located, Arg, ArgValue, Reader};
use super::lexer::{lex, Kind, Token};
use super::{derivative_call, VarTable, MAX_DEPTH, MAX_DIM};
use crate::error::{Error, ParseError, Result};
use crate::expr::{Cat, Expr, Op};
use crate::ops::{BinaryOp, UnaryOp};
use crate::print::infix_precedence;

/// Errors are boxed inside the parser: a small `Result` keeps each frame of the recursion small,
/// which bounds the stack a formula nested [`MAX_DEPTH`] deep needs (unoptimised builds give
/// every temporary its own stack slot).
type Parsed<T> = std::result::Result<T, Box<Error>>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    /// The `End` token, returned by `peek` past the last token so that lookahead never fails.
    end: Token,
    at: usize,
    vars: &'a VarTable,
    /// How many `unary` calls are open: every nesting of the grammar goes through one.
    depth: usize,
    /// In an alias, its position in the list: `Vi(3)` then means `Vi(position, 3)`.
    alias_position: Option<usize>,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, vars: &'a VarTable, alias_position: Option<usize>) -> Result<Self> {
        let tokens = lex(src)?;
        let end = Token { kind: Kind::End, pos: src.chars().count() };
        Ok(Parser { src, tokens, end, at: 0, vars, depth: 0, alias_position })
    }

    /// A whole formula.
    pub fn formula(&mut self) -> Result<Expr> {
        if self.peek().kind == Kind::End {
            return Err(Error::EmptyFormula);
        }
        let e = self.expr().map_err(|e| *e)?;
        self.expect_end("an operator or the end of the formula").map_err(|e| *e)?;
        Ok(e)
    }

    /// A whole alias, `name = Vi(3)`: its name, the name's offset, and the variable.
    pub fn alias(&mut self) -> Result<(String, usize, (usize, usize, Cat))> {
        let usage = "expected an alias like \"x = Vi(3)\"";
        let first = self.bump();
        let name = match first.kind {
            Kind::Ident(name) => name,
            Kind::Assign => return Err(*self.error(first.pos, "expected a variable name before `=`")),
            other => return Err(*self.error(first.pos, format!("{usage}, found {}", other.describe()))),
        };
        let eq = self.bump();
        if eq.kind != Kind::Assign {
            return Err(*self.error(eq.pos, format!("expected `=` after `{name}`, found {}", eq.kind.describe())));
        }
        let value = self.bump();
        let expected = "expected Vi(..), Vj(..), Pm(..) or Var(..)";
        let e = match value.kind {
            Kind::Ident(call) if calls::is_variable_call(&call) && self.peek().kind == Kind::LParen => {
                self.call(&call, value.pos).map_err(|e| *e)?
            }
            other => return Err(*self.error(value.pos, format!("{expected}, found {}", other.describe()))),
        };
        self.expect_end("the end of the alias").map_err(|e| *e)?;
        match e.op() {
            Op::Var { index, dim, cat } => Ok((name, first.pos, (*index, *dim, *cat))),
            _ => Err(*self.error(value.pos, expected)),
        }
    }

    // ---- tokens ----

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.tokens.get(self.at + ahead).unwrap_or(&self.end)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        self.at = (self.at + 1).min(self.tokens.len());
        t
    }

    fn error(&self, pos: usize, msg: impl Into<String>) -> Box<Error> {
        Box::new(Error::Parse(ParseError::at(self.src, pos, msg)))
    }

    /// Fails unless all the text was read; `expected` says what could have come instead.
    fn expect_end(&mut self, expected: &str) -> Parsed<()> {
        let t = self.peek();
        match t.kind {
            Kind::End => Ok(()),
            Kind::RParen => Err(self.error(t.pos, "unbalanced parentheses: this `)` has no matching `(`")),
            Kind::Assign => Err(self.error(t.pos, "`=` is not an operator: write `==` to compare")),
            ref other => Err(self.error(t.pos, format!("expected {expected}, found {}", other.describe()))),
        }
    }

    /// Consumes the `)` or `]` closing the bracket opened at `open`.
    fn close(&mut self, open: usize, closing: Kind) -> Parsed<()> {
        let t = self.bump();
        if t.kind == closing {
            return Ok(());
        }
        let (bracket, kind) = if closing == Kind::RParen { ("(", "parentheses") } else { ("[", "brackets") };
        Err(match t.kind {
            Kind::End => self.error(open, format!("unbalanced {kind}: this `{bracket}` is never closed")),
            other => self.error(t.pos, format!("expected {}, found {}", closing.describe(), other.describe())),
        })
    }

    // ---- building nodes ----

    /// Builds `op(args)`, reporting a dimension or range error at `pos`, the operator or call
    /// that caused it.
    fn build(&self, pos: usize, op: Op, args: Vec<Expr>) -> Parsed<Expr> {
        let e = Expr::new(op, args).map_err(|err| located(self.src, pos, &err))?;
        if e.dim() > MAX_DIM {
            let msg = format!("{}: dimension {} exceeds the limit of {MAX_DIM}", e.op().name(), e.dim());
            return Err(self.error(pos, msg));
        }
        Ok(e)
    }

    // ---- the grammar, loosest first ----

    fn expr(&mut self) -> Parsed<Expr> {
        self.binary(0)
    }

    /// Left-associative infix operators of precedence at least `min`.
    fn binary(&mut self, min: u8) -> Parsed<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek();
            let Some((op, prec)) = infix_op(&t.kind).filter(|&(_, p)| p >= min) else { return Ok(lhs) };
            let pos = t.pos;
            self.bump();
            let rhs = self.binary(prec + 1)?;
            lhs = self.build(pos, Op::Binary(op), vec![lhs, rhs])?;
        }
    }

    fn unary(&mut self) -> Parsed<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let msg = format!("the formula is nested more than {MAX_DEPTH} levels deep");
            return Err(self.error(self.peek().pos, msg));
        }
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Parsed<Expr> {
        let t = self.peek();
        if t.kind != Kind::Minus {
            return self.power();
        }
        let pos = t.pos;
        // `-2.5` is the constant -2.5 (as the printer writes it), unless a power follows:
        // `-2**2` is `-(2**2)`.
        if self.peek_at(2).kind != Kind::StarStar {
            if let Some(value) = self.literal(1) {
                let value = value?;
                self.bump();
                self.bump();
                return Ok(Expr::constant(-value));
            }
        }
        self.bump();
        let operand = self.unary()?;
        self.build(pos, Op::Unary(UnaryOp::Minus), vec![operand])
    }

    /// An atom, possibly raised to a power: `x**2` is `Pow(x, 2)`, any other exponent `Powf`.
    fn power(&mut self) -> Parsed<Expr> {
        let base = self.primary()?;
        let t = self.peek();
        if t.kind != Kind::StarStar {
            return Ok(base);
        }
        let pos = t.pos;
        self.bump();
        let start = self.at;
        let exponent = self.unary()?;
        match self.int_literal(start, self.at) {
            Some(n) => match i32::try_from(n) {
                Ok(n) => self.build(pos, Op::Pow(n), vec![base]),
                Err(_) => Err(self.error(self.token_pos(start), "the exponent is too large for an integer power")),
            },
            None => self.build(pos, Op::Binary(BinaryOp::Powf), vec![base, exponent]),
        }
    }

    /// An atom. The recursive cases (parentheses, calls) and the leaves are separate functions
    /// so that each level of nesting keeps only a small frame on the stack.
    fn primary(&mut self) -> Parsed<Expr> {
        match &self.peek().kind {
            Kind::LParen => self.parenthesised(),
            Kind::Ident(name) if self.peek_at(1).kind == Kind::LParen => {
                let (name, pos) = (name.clone(), self.peek().pos);
                self.bump();
                self.call(&name, pos)
            }
            _ => self.leaf(),
        }
    }

    /// `(f)` or the scalar product `(a | b)`.
    fn parenthesised(&mut self) -> Parsed<Expr> {
        let open = self.bump().pos;
        let inner = self.expr()?;
        if self.peek().kind != Kind::Bar {
            self.close(open, Kind::RParen)?;
            return Ok(inner);
        }
        let bar = self.bump().pos;
        let rhs = self.expr()?;
        self.close(open, Kind::RParen)?;
        self.build(bar, Op::Scalprod, vec![inner, rhs])
    }

    /// A number, `Inf`, `NaN` or an alias name.
    fn leaf(&mut self) -> Parsed<Expr> {
        if let Some(value) = self.literal(0) {
            let value = value?;
            self.bump();
            return Ok(Expr::constant(value));
        }
        let t = self.bump();
        match t.kind {
            Kind::Ident(name) => self.named_variable(&name, t.pos),
            other => Err(self.error(t.pos, format!("expected a formula, found {}", other.describe()))),
        }
    }

    /// The value of the number literal (or `Inf`, `NaN`) `ahead` tokens on, if there is one there.
    fn literal(&self, ahead: usize) -> Option<Parsed<f64>> {
        let t = self.peek_at(ahead);
        match &t.kind {
            Kind::Number { text, .. } => Some(match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(self.error(t.pos, format!("the number {text} is out of range (write Inf for infinity)"))),
            }),
            // `Inf(` would be a call, to an operation that does not exist: leave it to `call`.
            Kind::Ident(name) if self.peek_at(ahead + 1).kind != Kind::LParen => match name.as_str() {
                "Inf" => Some(Ok(f64::INFINITY)),
                "NaN" => Some(Ok(f64::NAN)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value of tokens `start..end` if they are exactly an integer literal, `7` or `-7`.
    fn int_literal(&self, start: usize, end: usize) -> Option<i128> {
        match self.tokens.get(start..end)? {
            [Token { kind: Kind::Number { text, int: true }, .. }] => Some(int_value(text, false)),
            [Token { kind: Kind::Minus, .. }, Token { kind: Kind::Number { text, int: true }, .. }] => {
                Some(int_value(text, true))
            }
            _ => None,
        }
    }

    fn token_pos(&self, index: usize) -> usize {
        self.tokens.get(index).unwrap_or(&self.end).pos
    }

    fn named_variable(&self, name: &str, pos: usize) -> Parsed<Expr> {
        match self.vars.get(name) {
            Some((index, dim, cat)) => Ok(Expr::var(index, dim, cat).map_err(|e| located(self.src, pos, &e))?),
            None if calls::is_known(name) => {
                Err(self.error(pos, format!("`{name}` is an operation: write {name}(...) to call it")))
            }
            None => Err(located(self.src, pos, &Error::UnknownVariable(name.to_string())).into()),
        }
    }

    /// `name(args)`, the name at `pos` already read and `(` next.
    fn call(&mut self, name: &str, pos: usize) -> Parsed<Expr> {
        let open = self.bump().pos;
        let mut args = Vec::new();
        if self.peek().kind != Kind::RParen {
            loop {
                args.push(self.arg()?);
                if self.peek().kind != Kind::Comma {
                    break;
                }
                self.bump();
            }
        }
        self.close(open, Kind::RParen)?;
        self.resolve(name, pos, args)
    }

    /// One call argument: a bracketed integer list, or a formula.
    fn arg(&mut self) -> Parsed<Arg> {
        let t = self.peek();
        let pos = t.pos;
        if t.kind == Kind::LBracket {
            return Ok(Arg { pos, value: ArgValue::List(self.list(Kind::RBracket)?) });
        }
        // KeOps writes index lists `Ind(2,3)` (KeOps 1) or as Python tuples `(2, 3)`, `(3,)`, `()`.
        if matches!(&t.kind, Kind::Ident(name) if name == "Ind") && self.peek_at(1).kind == Kind::LParen {
            self.bump();
            return Ok(Arg { pos, value: ArgValue::List(self.list(Kind::RParen)?) });
        }
        if t.kind == Kind::LParen && self.tuple_ahead() {
            return Ok(Arg { pos, value: ArgValue::List(self.list(Kind::RParen)?) });
        }
        let start = self.at;
        let expr = self.expr()?;
        if self.peek().kind == Kind::Bar {
            // KeOps reads `Atan(x|y)` as `Atan((x|y))`: a call's parentheses also close a scalar product.
            let bar = self.bump().pos;
            let rhs = self.expr()?;
            let expr = self.build(bar, Op::Scalprod, vec![expr, rhs])?;
            return Ok(Arg { pos, value: ArgValue::Formula { expr, int: None } });
        }
        Ok(Arg { pos, value: ArgValue::Formula { expr, int: self.int_literal(start, self.at) } })
    }

    /// True when a Python tuple of integers starts here: `()`, or integers separated by commas
    /// with at least one comma (`(3)` is the number 3, in Python as here).
    fn tuple_ahead(&self) -> bool {
        let mut k = 1;
        let mut commas = 0;
        loop {
            if self.peek_at(k).kind == Kind::Minus {
                k += 1;
            }
            match &self.peek_at(k).kind {
                Kind::Number { int: true, .. } => k += 1,
                Kind::RParen => return k == 1 || commas > 0,
                _ => return false,
            }
            match self.peek_at(k).kind {
                Kind::Comma => {
                    commas += 1;
                    k += 1;
                    if self.peek_at(k).kind == Kind::RParen {
                        return true;
                    }
                }
                Kind::RParen => return commas > 0,
                _ => return false,
            }
        }
    }

    /// `[2, 3]`, `[]`, `[-1]` (the sign is checked by the operation), or the inside of KeOps'
    /// `Ind(2, 3)`: `close` is the bracket that ends it.
    fn list(&mut self, close: Kind) -> Parsed<Vec<(i128, usize)>> {
        let open = self.bump().pos;
        let mut items = Vec::new();
        // An unclosed list is reported by `close`, at its opening bracket.
        while self.peek().kind != close && self.peek().kind != Kind::End {
            let pos = self.peek().pos;
            let negative = self.peek().kind == Kind::Minus;
            if negative {
                self.bump();
            }
            match self.bump().kind {
                Kind::Number { text, int: true } => items.push((int_value(&text, negative), pos)),
                other => return Err(self.error(pos, format!("expected an integer, found {}", other.describe()))),
            }
            if self.peek().kind != Kind::Comma {
                break;
            }
            self.bump();
        }
        self.close(open, close)?;
        Ok(items)
    }

    /// Builds the call `name(args)`: a variable, an operation, or a derivative.
    fn resolve(&self, name: &str, pos: usize, args: Vec<Arg>) -> Parsed<Expr> {
        let mut reader = Reader::new(self.src, &args);
        // KeOps spellings first: one of them (TensorDot with a permutation) shares its name with an operation.
        if let Some(build) = calls::compound(name, &mut reader) {
            let operands = reader.finish(name, pos)?;
            return Ok(build(operands).map_err(|e| located(self.src, pos, &e))?);
        }
        let op =
            calls::variable(name, &mut reader, self.alias_position).or_else(|| calls::operation(name, &mut reader));
        if let Some(op) = op {
            let operands = reader.finish(name, pos)?;
            let e = self.build(pos, op, operands)?;
            self.check_alias(&e, pos)?;
            return Ok(e);
        }
        let mut formulas = Vec::new();
        let mut list_at = None;
        for arg in args {
            match arg.value {
                ArgValue::Formula { expr, .. } => formulas.push(expr),
                ArgValue::List(_) => list_at = list_at.or(Some(arg.pos)),
            }
        }
        match (derivative_call(name, formulas), list_at) {
            (None, _) => Err(located(self.src, pos, &Error::UnknownOp(name.to_string())).into()),
            (Some(_), Some(at)) => Err(self.error(at, format!("{name}: expected a formula, found a list"))),
            (Some(result), None) => Ok(result.map_err(|e| located(self.src, pos, &e))?),
        }
    }

    /// Rejects an explicit variable that contradicts an alias for the same argument, e.g.
    /// `Vi(0,2)` when `x = Vi(0,3)` is declared: the reduction could not give both.
    fn check_alias(&self, e: &Expr, pos: usize) -> Parsed<()> {
        let Op::Var { index, dim, cat } = *e.op() else { return Ok(()) };
        match self.vars.iter().find(|(_, v)| v.0 == index) {
            Some((alias, v)) if v != (index, dim, cat) => {
                let decl = format!("{}({},{})", v.2.short(), v.0, v.1);
                Err(self.error(pos, format!("this variable contradicts the alias `{alias}` = {decl}")))
            }
            _ => Ok(()),
        }
    }
}

/// The binary operator and precedence of an infix token, from the op table's spellings.
fn infix_op(kind: &Kind) -> Option<(BinaryOp, u8)> {
    let symbol = kind.symbol()?;
    let op = BinaryOp::ALL.iter().copied().find(|op| op.infix() == symbol)?;
    Some((op, infix_precedence(op)?))
}

/// The value of an integer literal's digits, saturated to the `i128` range so that an
/// overflowing literal still reads as too large rather than as some other number.
fn int_value(digits: &str, negative: bool) -> i128 {
    let v = digits.parse::<i128>().unwrap_or(i128::MAX);
    if negative {
        -v
    } else {
        v
    }
}
