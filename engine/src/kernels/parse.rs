//! The grammar of kernel names: atoms on pairs of single-letter variables, integers, `+`, `*`, `**k`, parentheses.

use super::{Atom, Kernel, Term, ATOMS};
use crate::error::{Error, ParseError, Result};

/// The kernel named `name`: its term, its atoms (with their pair's index) and its pairs of variables.
pub(super) fn parse(name: &str) -> Result<Kernel> {
    let mut p = Parser { src: name, chars: name.chars().collect(), pos: 0, atoms: Vec::new(), pairs: Vec::new() };
    let term = p.sum()?;
    p.skip_spaces();
    if p.pos < p.chars.len() {
        return Err(p.error(format!("unexpected `{}`", p.chars[p.pos])));
    }
    Ok(Kernel { name: name.to_string(), term, atoms: p.atoms, pairs: p.pairs })
}

/// A recursive-descent parser: sum := product ('+' product)*, product := power ('*' power)*,
/// power := primary ('**' integer)?, primary := integer | '(' sum ')' | atom '(' letter ',' letter ')'.
struct Parser<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
    atoms: Vec<(Atom, usize)>,
    pairs: Vec<(char, char)>,
}

/// How deep parentheses may nest: deeper names are errors rather than stack overflows.
const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn error(&self, msg: impl Into<String>) -> Error {
        Error::Parse(ParseError::at(self.src, self.pos, msg))
    }
    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }
    fn peek(&mut self, s: &str) -> bool {
        self.skip_spaces();
        s.chars().enumerate().all(|(k, c)| self.chars.get(self.pos + k) == Some(&c))
    }
    fn eat(&mut self, s: &str) -> bool {
        let found = self.peek(s);
        if found {
            self.pos += s.chars().count();
        }
        found
    }
    fn expect(&mut self, s: &str) -> Result<()> {
        if self.eat(s) {
            Ok(())
        } else {
            let got = self.chars.get(self.pos).map_or("the end".to_string(), |c| format!("`{c}`"));
            Err(self.error(format!("expected `{s}`, got {got}")))
        }
    }
    fn sum(&mut self) -> Result<Term> {
        self.sum_at(0)
    }
    fn sum_at(&mut self, depth: usize) -> Result<Term> {
        let mut t = self.product(depth)?;
        while self.eat("+") {
            t = Term::Add(Box::new(t), Box::new(self.product(depth)?));
        }
        Ok(t)
    }
    fn product(&mut self, depth: usize) -> Result<Term> {
        let mut t = self.power(depth)?;
        while !self.peek("**") && self.eat("*") {
            t = Term::Mul(Box::new(t), Box::new(self.power(depth)?));
        }
        Ok(t)
    }
    fn power(&mut self, depth: usize) -> Result<Term> {
        let t = self.primary(depth)?;
        if !self.eat("**") {
            return Ok(t);
        }
        self.skip_spaces();
        let start = self.pos;
        match self.integer() {
            Some(n) => i32::try_from(n)
                .map(|n| Term::Pow(Box::new(t), n))
                .map_err(|_| Error::Parse(ParseError::at(self.src, start, format!("exponent {n} is too large")))),
            None => Err(self.error("expected a non-negative integer exponent after `**`")),
        }
    }
    /// A run of digits, or None (and nothing consumed) if there is none or it overflows.
    fn integer(&mut self) -> Option<i64> {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        let n = digits.parse().ok();
        if n.is_none() {
            self.pos = start;
        }
        n
    }
    fn primary(&mut self, depth: usize) -> Result<Term> {
        self.skip_spaces();
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("parentheses nested deeper than {MAX_DEPTH}")));
        }
        if self.eat("(") {
            let t = self.sum_at(depth + 1)?;
            self.expect(")")?;
            return Ok(t);
        }
        if let Some(n) = self.integer() {
            return Ok(Term::Const(n));
        }
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        if word.is_empty() {
            let got = self.chars.get(self.pos).map_or("the end".to_string(), |c| format!("`{c}`"));
            return Err(self.error(format!("expected a kernel, an integer or `(`, got {got}")));
        }
        let Some(&(_, atom)) = ATOMS.iter().find(|(n, _)| *n == word) else {
            let names: Vec<&str> = ATOMS.iter().map(|(n, _)| *n).collect();
            return Err(Error::Parse(ParseError::at(
                self.src,
                start,
                format!("unknown kernel `{word}`: the kernels are {}", names.join(", ")),
            )));
        };
        self.expect("(")?;
        let a = self.letter()?;
        self.expect(",")?;
        let b = self.letter()?;
        self.expect(")")?;
        let pair = self.pair(a, b, start)?;
        self.atoms.push((atom, pair));
        Ok(Term::Atom(self.atoms.len() - 1))
    }
    /// One variable name: a single letter, as KeOps requires.
    fn letter(&mut self) -> Result<char> {
        self.skip_spaces();
        match self.chars.get(self.pos) {
            Some(&c)
                if c.is_ascii_alphabetic() && !self.chars.get(self.pos + 1).is_some_and(|d| d.is_alphanumeric()) =>
            {
                self.pos += 1;
                Ok(c)
            }
            _ => Err(self.error("expected a variable name of a single letter, e.g. gaussian(x,y)")),
        }
    }
    /// The index of the pair (a, b), a new one if neither letter was seen; pairs may not overlap.
    fn pair(&mut self, a: char, b: char, at: usize) -> Result<usize> {
        if let Some(k) = self.pairs.iter().position(|&p| p == (a, b)) {
            return Ok(k);
        }
        let used = |c: char| self.pairs.iter().any(|&(p, q)| p == c || q == c);
        if a == b || used(a) || used(b) {
            return Err(Error::Parse(ParseError::at(
                self.src,
                at,
                format!("the pair ({a},{b}) overlaps another pair: pairs of variables must be distinct letters, used together only"),
            )));
        }
        self.pairs.push((a, b));
        Ok(self.pairs.len() - 1)
    }
}
