//! Parsing the KeOps formula language: aliases (`"x = Vi(3)"`) into a [`VarTable`], formula strings into [`Expr`]s.
//!
//! The work is split in three: [`lexer`] turns text into tokens, [`grammar`] reads infix
//! syntax and calls, and [`calls`] maps operation names to [`Op`](crate::Op)s and checks their
//! arguments. Derivative operators (`Grad`, `Diff`, ...) all go through [`derivative_call`].
//!
//! The parser never panics and never recurses without bound: nesting beyond [`MAX_DEPTH`] and
//! dimensions beyond [`MAX_DIM`] are errors. Every error in a formula or an alias is an
//! [`Error::Parse`] with the line and column (in characters) of the offending token.

mod calls;
mod grammar;
mod lexer;

use crate::error::{Error, ParseError, Result};
use crate::expr::{Cat, Expr};
use grammar::Parser;
use lexer::{lex, Kind};

/// How deeply parentheses, calls and prefix minuses may nest. Deeper text is rejected rather
/// than risking the parser's stack (left-associative chains like `a + b + c + ...` do not nest).
pub const MAX_DEPTH: usize = 256;

/// The largest dimension (and index, and tensor shape product) the parser accepts. It keeps
/// every size computation of [`Expr::new`] far from overflow: no product of two sizes exceeds 2⁴⁸.
pub use crate::expr::MAX_DIM;

/// The variables a formula may name: each alias name with its argument index, dimension and
/// category, in declaration order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarTable {
    entries: Vec<(String, (usize, usize, Cat))>,
}

impl VarTable {
    pub fn new() -> Self {
        VarTable::default()
    }

    /// Declares `name` as argument `index` of dimension `dim` and category `cat`.
    ///
    /// Fails with [`Error::DuplicateVariable`] if the name is taken or if another alias gives
    /// the same index a different dimension or category; two names for one variable are fine.
    pub fn declare(&mut self, name: &str, index: usize, dim: usize, cat: Cat) -> Result<()> {
        // A name must read back as a name, or formulas printed with it would not parse.
        let is_name = matches!(lex(name).as_deref(), Ok([t, _]) if t.kind == Kind::Ident(name.to_string()));
        if !is_name {
            return Err(Error::Parse(ParseError::at(name, 0, format!("`{name}` is not a valid variable name"))));
        }
        if name == "Inf" || name == "NaN" {
            return Err(Error::Parse(ParseError::at(name, 0, format!("`{name}` is reserved for the constant"))));
        }
        if dim > MAX_DIM || index > MAX_DIM {
            return Err(Error::invalid("Var", format!("index and dimension must be at most {MAX_DIM}")));
        }
        Expr::var(index, dim, cat)?;
        let clash = self.entries.iter().any(|(n, v)| n == name || (v.0 == index && *v != (index, dim, cat)));
        if clash {
            return Err(Error::DuplicateVariable(name.to_string()));
        }
        self.entries.push((name.to_string(), (index, dim, cat)));
        Ok(())
    }

    /// The `(index, dim, cat)` of an alias.
    pub fn get(&self, name: &str) -> Option<(usize, usize, Cat)> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The first alias declared for argument `index`.
    pub fn name_of(&self, index: usize) -> Option<&str> {
        self.entries.iter().find(|(_, v)| v.0 == index).map(|(n, _)| n.as_str())
    }

    /// The aliases in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, (usize, usize, Cat))> {
        self.entries.iter().map(|(n, v)| (n.as_str(), *v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The formula as text with alias names for its variables (see [`crate::print::to_string_with`]);
    /// it parses back to the same formula with this table.
    pub fn print(&self, e: &Expr) -> String {
        let name = |index, dim, cat| {
            let first = self.entries.iter().find(|(_, v)| v.0 == index)?;
            (first.1 == (index, dim, cat)).then(|| first.0.clone())
        };
        crate::print::to_string_with(e, &name)
    }
}

/// Parses KeOps aliases: `"x = Vi(3)"` (argument index = position in the list), `"x = Vi(0,3)"`,
/// `"y = Vj(2)"`, `"s = Pm(1)"`, `"b = Var(3,6,1)"` (category 0 = i, 1 = j, 2 = parameter).
pub fn parse_aliases(aliases: &[&str]) -> Result<VarTable> {
    let mut table = VarTable::new();
    let no_vars = VarTable::new();
    for (position, alias) in aliases.iter().enumerate() {
        let (name, at, (index, dim, cat)) = Parser::new(alias, &no_vars, Some(position))?.alias()?;
        table.declare(&name, index, dim, cat).map_err(|e| match e {
            // A name `declare` refuses is reported in the alias, where the name starts.
            Error::Parse(_) => calls::located(alias, at, &e),
            other => other,
        })?;
    }
    Ok(table)
}

/// Parses a formula such as `"Exp(-s*SqNorm2(x-y))*b"`, naming variables by the aliases of
/// `vars` or explicitly (`Vi(0,3)`, `Var(1,3,1)`).
pub fn parse_formula(src: &str, vars: &VarTable) -> Result<Expr> {
    Parser::new(src, vars, None)?.formula()
}

/// The extension point for derivative operators: `Some` for the names it handles, with the
/// formula built from the call's (formula) arguments, `None` for any other name.
fn derivative_call(name: &str, args: Vec<Expr>) -> Option<Result<Expr>> {
    use crate::diff;
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(Error::Arity { op: name.into(), expected: n.to_string(), got: args.len() })
        }
    };
    Some(match name {
        "Grad" => arity(3).and_then(|_| diff::grad(&args[0], &args[1], &args[2])),
        "Diff" => arity(3).and_then(|_| diff::diff(&args[0], &args[1], &args[2])),
        "GradMatrix" => arity(2).and_then(|_| diff::grad_matrix(&args[0], &args[1])),
        "Divergence" => arity(2).and_then(|_| diff::divergence(&args[0], &args[1])),
        "Laplacian" => arity(2).and_then(|_| diff::laplacian(&args[0], &args[1])),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declare_checks_names_and_conflicts() {
        let mut vars = VarTable::new();
        vars.declare("σ_1", 0, 3, Cat::I).unwrap();
        vars.declare("alias_of_σ_1", 0, 3, Cat::I).unwrap();
        for bad in ["", "2x", "x y", "x+", "NaN"] {
            assert!(matches!(vars.declare(bad, 1, 1, Cat::P), Err(Error::Parse(_))), "{bad:?}");
        }
        assert_eq!(vars.declare("y", 0, 3, Cat::J), Err(Error::DuplicateVariable("y".into())));
        assert_eq!(vars.declare("σ_1", 1, 3, Cat::J), Err(Error::DuplicateVariable("σ_1".into())));
        assert!(vars.declare("z", 1, 0, Cat::J).is_err());
        assert_eq!(vars.len(), 2);
    }

    #[test]
    fn print_uses_aliases_only_where_they_match() {
        let vars = parse_aliases(&["x = Vi(0,3)"]).unwrap();
        let e = Expr::var(0, 3, Cat::I).unwrap().concat(Expr::var(0, 2, Cat::J).unwrap()).unwrap();
        assert_eq!(vars.print(&e), "Concat(x, Vj(0,2))");
    }

    #[test]
    fn derivative_calls_build_formulas_and_report_errors_at_their_column() {
        let vars = parse_aliases(&["x = Vi(3)", "e = Vi(1)", "u = Vi(3)"]).unwrap();
        for (src, dim) in [
            ("Grad(SqNorm2(x), x, e)", 3),
            ("Diff(SqNorm2(x), x, u)", 1),
            ("GradMatrix(x*x, x)", 9),
            ("Divergence(x*x, x)", 1),
            ("Laplacian(SqNorm2(x), x)", 1),
        ] {
            assert_eq!(parse_formula(src, &vars).unwrap().dim(), dim, "{src}");
        }
        let err = parse_formula("1 + Grad(SqNorm2(x), x)", &vars).unwrap_err();
        let Error::Parse(p) = err else { panic!("not a parse error") };
        assert_eq!((p.message.as_str(), p.column), ("Grad: expects 3 argument(s), got 2", 5));
    }

    #[test]
    fn every_operation_name_is_callable() {
        let names = crate::ops::UnaryOp::ALL.iter().map(|u| u.name());
        let names = names.chain(crate::ops::BinaryOp::ALL.iter().map(|b| b.name()));
        for name in names.chain(["Pow", "Kron", "TensorDot", "Vi", "Var", "IntCst", "Zero", "WeightedSqDist"]) {
            assert!(calls::is_known(name), "{name}");
        }
        assert!(!calls::is_known("Grad"));
    }
}
