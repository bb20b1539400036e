//! Snapshot tests of the formula parser and printer: KeOps formulas, their printed forms, and error messages.
//!
//! Regenerate the inline snapshots after an intended change with
//! `UPDATE_EXPECT=1 cargo test -p noyau-engine --test parse_print`, then review the diff.

use expect_test::{expect, Expect};
use noyau_engine::{parse_aliases, parse_formula, print, Cat, Error, Expr, VarTable};

/// The usual aliases of the KeOps examples.
const ALIASES: &[&str] = &[
    "x = Vi(0,3)",
    "y = Vj(1,3)",
    "s = Pm(2,1)",
    "b = Vj(3,6)",
    "g = Pm(4,3)",
    "G = Pm(5,9)",
    "a = Vi(6,1)",
    "u = Vi(7,6)",
    "v = Vj(8,12)",
];

/// Parses `src`, checks that both printed forms (with aliases and with explicit variables)
/// parse back to the same node, and compares them and the dimension with the snapshot.
fn check(src: &str, expected: Expect) {
    let vars = parse_aliases(ALIASES).unwrap();
    let e = parse_formula(src, &vars).unwrap_or_else(|err| panic!("{src}: {err}"));
    let named = vars.print(&e);
    let plain = print::to_string(&e);
    assert_eq!(parse_formula(&named, &vars).unwrap(), e, "{named}");
    assert_eq!(parse_formula(&plain, &VarTable::new()).unwrap(), e, "{plain}");
    expected.assert_eq(&format!("{named}\n{plain}\ndim {}", e.dim()));
}

/// Compares the message of the error parsing `src` with these aliases gives with the snapshot.
fn check_err(aliases: &[&str], src: &str, expected: Expect) {
    let err = parse_aliases(aliases).and_then(|vars| parse_formula(src, &vars));
    expected.assert_eq(&err.expect_err(src).to_string());
}

#[test]
fn gaussian_kernel() {
    // The first example of the KeOps documentation, with its own aliases.
    let vars = parse_aliases(&["s = Pm(1)", "x = Vi(3)", "y = Vj(3)", "b = Vj(6)"]).unwrap();
    assert_eq!(vars.get("x"), Some((1, 3, Cat::I)));
    assert_eq!(vars.name_of(3), Some("b"));
    let e = parse_formula("Exp(-s*SqNorm2(x-y))*b", &vars).unwrap();
    expect!["Exp(-s * SqNorm2(x - y)) * b"].assert_eq(&vars.print(&e));
    expect!["Exp(-Pm(0,1) * SqNorm2(Vi(1,3) - Vj(2,3))) * Vj(3,6)"].assert_eq(&print::to_string(&e));
    assert_eq!(parse_formula(&print::to_string(&e), &VarTable::new()).unwrap(), e);
}

#[test]
fn keops_formulas() {
    check(
        "Exp(-SqDist(x,y)/s) * b",
        expect![[r#"
        Exp(-SqDist(x, y) / s) * b
        Exp(-SqDist(Vi(0,3), Vj(1,3)) / Pm(2,1)) * Vj(3,6)
        dim 6"#]],
    );
    check(
        "(x|y)**2",
        expect![[r#"
        Pow((x | y), 2)
        Pow((Vi(0,3) | Vj(1,3)), 2)
        dim 1"#]],
    );
    check(
        "(x | y) ** 2 * b",
        expect![[r#"
        Pow((x | y), 2) * b
        Pow((Vi(0,3) | Vj(1,3)), 2) * Vj(3,6)
        dim 6"#]],
    );
    check(
        "WeightedSqDist(g,x,y)",
        expect![[r#"
        WeightedSqDist(g, x, y)
        WeightedSqDist(Pm(4,3), Vi(0,3), Vj(1,3))
        dim 1"#]],
    );
    check(
        "WeightedSqNorm(G, x - y)",
        expect![[r#"
        WeightedSqNorm(G, x - y)
        WeightedSqNorm(Pm(5,9), Vi(0,3) - Vj(1,3))
        dim 1"#]],
    );
    check(
        "IfElse(x-1, Sin(x), Cos(x))",
        expect![[r#"
        IfElse(x - 1.0, Sin(x), Cos(x))
        IfElse(Vi(0,3) - 1.0, Sin(Vi(0,3)), Cos(Vi(0,3)))
        dim 3"#]],
    );
    check(
        "Kron(x, y, [3], [3])",
        expect![[r#"
        Kron(x, y, [3], [3])
        Kron(Vi(0,3), Vj(1,3), [3], [3])
        dim 9"#]],
    );
    check(
        "TensorDot(u, v, [2,3], [3,4], [1], [0])",
        expect![[r#"
        TensorDot(u, v, [2,3], [3,4], [1], [0])
        TensorDot(Vi(7,6), Vj(8,12), [2,3], [3,4], [1], [0])
        dim 8"#]],
    );
    check(
        "Inv(1 + SqDist(x, y))",
        expect![[r#"
        Inv(1.0 + SqDist(x, y))
        Inv(1.0 + SqDist(Vi(0,3), Vj(1,3)))
        dim 1"#]],
    );
    check(
        "Rsqrt(1 + SqDist(x,y)) * b",
        expect![[r#"
        Rsqrt(1.0 + SqDist(x, y)) * b
        Rsqrt(1.0 + SqDist(Vi(0,3), Vj(1,3))) * Vj(3,6)
        dim 6"#]],
    );
    check(
        "Exp(-Sqrt(SqDist(x,y)))",
        expect![[r#"
        Exp(-Sqrt(SqDist(x, y)))
        Exp(-Sqrt(SqDist(Vi(0,3), Vj(1,3))))
        dim 1"#]],
    );
    check(
        "Square(x) + Pow(y, 3) - Powf(x, y)",
        expect![[r#"
        Square(x) + Pow(y, 3) - Powf(x, y)
        Square(Vi(0,3)) + Pow(Vj(1,3), 3) - Powf(Vi(0,3), Vj(1,3))
        dim 3"#]],
    );
    check(
        "x**-2 + y**0.5",
        expect![[r#"
        Pow(x, -2) + Powf(y, 0.5)
        Pow(Vi(0,3), -2) + Powf(Vj(1,3), 0.5)
        dim 3"#]],
    );
    check(
        "-x**2",
        expect![[r#"
        -Pow(x, 2)
        -Pow(Vi(0,3), 2)
        dim 3"#]],
    );
    check(
        "Sum(x*y) + Max(x) - Min(y) + ArgMax(x) + ArgMin(y)",
        expect![[r#"
        Sum(x * y) + Max(x) - Min(y) + ArgMax(x) + ArgMin(y)
        Sum(Vi(0,3) * Vj(1,3)) + Max(Vi(0,3)) - Min(Vj(1,3)) + ArgMax(Vi(0,3)) + ArgMin(Vj(1,3))
        dim 1"#]],
    );
    check(
        "Norm2(x) * Normalize(y)",
        expect![[r#"
        Norm2(x) * Normalize(y)
        Norm2(Vi(0,3)) * Normalize(Vj(1,3))
        dim 3"#]],
    );
    check(
        "Elem(x, 2) * ElemT(a, 3, 1)",
        expect![[r#"
        Elem(x, 2) * ElemT(a, 3, 1)
        Elem(Vi(0,3), 2) * ElemT(Vi(6,1), 3, 1)
        dim 3"#]],
    );
    check(
        "Extract(b, 1, 3) + ExtractT(a, 2, 3)",
        expect![[r#"
        Extract(b, 1, 3) + ExtractT(a, 2, 3)
        Extract(Vj(3,6), 1, 3) + ExtractT(Vi(6,1), 2, 3)
        dim 3"#]],
    );
    check(
        "Concat(x, y) - OneHot(a, 6)",
        expect![[r#"
        Concat(x, y) - OneHot(a, 6)
        Concat(Vi(0,3), Vj(1,3)) - OneHot(Vi(6,1), 6)
        dim 6"#]],
    );
    check(
        "MatVecMult(G, x) + VecMatMult(y, G)",
        expect![[r#"
        MatVecMult(G, x) + VecMatMult(y, G)
        MatVecMult(Pm(5,9), Vi(0,3)) + VecMatMult(Vj(1,3), Pm(5,9))
        dim 3"#]],
    );
    check(
        "TensorProd(x, y) * Zero(9)",
        expect![[r#"
        TensorProd(x, y) * Zero(9)
        TensorProd(Vi(0,3), Vj(1,3)) * Zero(9)
        dim 9"#]],
    );
    check(
        "Clamp(x, -1, 1) + ClampInt(x, -2, 2) + Round(x, 3)",
        expect![[r#"
        Clamp(x, -1.0, 1.0) + ClampInt(x, -2, 2) + Round(x, 3)
        Clamp(Vi(0,3), -1.0, 1.0) + ClampInt(Vi(0,3), -2, 2) + Round(Vi(0,3), 3)
        dim 3"#]],
    );
    check(
        "Mod(x, 2.5, -0.5)",
        expect![[r#"
        Mod(x, 2.5, -0.5)
        Mod(Vi(0,3), 2.5, -0.5)
        dim 3"#]],
    );
    check(
        "Atan2(x, y) + XLogX(a) + SinXDivX(a) + Step(a) + ReLU(a) + Sign(a) + Abs(a)",
        expect![[r#"
        Atan2(x, y) + XLogX(a) + SinXDivX(a) + Step(a) + ReLU(a) + Sign(a) + Abs(a)
        Atan2(Vi(0,3), Vj(1,3)) + XLogX(Vi(6,1)) + SinXDivX(Vi(6,1)) + Step(Vi(6,1)) + ReLU(Vi(6,1)) + Sign(Vi(6,1)) + Abs(Vi(6,1))
        dim 3"#]],
    );
    check(
        "Asin(a) + Acos(a) + Atan(a) + Log(a) + Minus(a)",
        expect![[r#"
        Asin(a) + Acos(a) + Atan(a) + Log(a) + -a
        Asin(Vi(6,1)) + Acos(Vi(6,1)) + Atan(Vi(6,1)) + Log(Vi(6,1)) + -Vi(6,1)
        dim 1"#]],
    );
    check(
        "Mult(Add(x, y), Subtract(x, Divide(y, 2)))",
        expect![[r#"
        (x + y) * (x - y / 2.0)
        (Vi(0,3) + Vj(1,3)) * (Vi(0,3) - Vj(1,3) / 2.0)
        dim 3"#]],
    );
    check(
        "(x < y) + (x <= y) * (x > y) - (x >= y) / (x == y) + (x != y)",
        expect![[r#"
        (x < y) + (x <= y) * (x > y) - (x >= y) / (x == y) + (x != y)
        (Vi(0,3) < Vj(1,3)) + (Vi(0,3) <= Vj(1,3)) * (Vi(0,3) > Vj(1,3)) - (Vi(0,3) >= Vj(1,3)) / (Vi(0,3) == Vj(1,3)) + (Vi(0,3) != Vj(1,3))
        dim 3"#]],
    );
    check(
        "a < s <= a > s == a",
        expect![[r#"
        a < s <= a > s == a
        Vi(6,1) < Pm(2,1) <= Vi(6,1) > Pm(2,1) == Vi(6,1)
        dim 1"#]],
    );
    check(
        "a < (s < a)",
        expect![[r#"
        a < (s < a)
        Vi(6,1) < (Pm(2,1) < Vi(6,1))
        dim 1"#]],
    );
    check(
        "IntCst(3) * a + IntCst(-2) + 1e-3 + .5 + 2.5e10 + 1e300",
        expect![[r#"
        IntCst(3) * a + IntCst(-2) + 0.001 + 0.5 + 25000000000.0 + 1e300
        IntCst(3) * Vi(6,1) + IntCst(-2) + 0.001 + 0.5 + 25000000000.0 + 1e300
        dim 1"#]],
    );
    check(
        "-(-a) - -a - (-2) * -(2) - Inf + -Inf * NaN",
        expect![[r#"
        -(-a) - -a - -2.0 * -(2.0) - Inf + -Inf * NaN
        -(-Vi(6,1)) - -Vi(6,1) - -2.0 * -(2.0) - Inf + -Inf * NaN
        dim 1"#]],
    );
    check(
        "Var(0,3,0) + Vi(0,3) + x",
        expect![[r#"
        x + x + x
        Vi(0,3) + Vi(0,3) + Vi(0,3)
        dim 3"#]],
    );
}

#[test]
fn derivative_errors() {
    check_err(
        &["x = Vi(3)", "e = Vi(1)"],
        "Grad(SqNorm2(x), x + 1, e)",
        expect![[r#"
            column 1: Grad: can only differentiate with respect to a variable (Vi, Vj, Pm or Var), not `Vi(0,3) + 1.0`
                Grad(SqNorm2(x), x + 1, e)
                ^"#]],
    );
    check_err(
        &["x = Vi(3)", "e = Vi(2)"],
        "Grad(SqNorm2(x), x, e)",
        expect![[r#"
            column 1: Grad: the gradient input has dimension 2 but the formula has dimension 1: they must match
                Grad(SqNorm2(x), x, e)
                ^"#]],
    );
    check_err(
        &["x = Vi(3)"],
        "Laplacian(x, [1])",
        expect![[r#"
        column 14: Laplacian: expected a formula, found a list
            Laplacian(x, [1])
                         ^"#]],
    );
}

#[test]
fn error_messages() {
    let xy = &["x = Vi(3)", "y = Vj(2)"];
    check_err(
        xy,
        "Exq(x)",
        expect![[r#"
        column 1: unknown operation `Exq`
            Exq(x)
            ^"#]],
    );
    check_err(
        xy,
        "x + z",
        expect![[r#"
        column 5: unknown variable `z`: declare it in the aliases, e.g. "z = Vi(3)"
            x + z
                ^"#]],
    );
    check_err(
        xy,
        "Exp + x",
        expect![[r#"
        column 1: `Exp` is an operation: write Exp(...) to call it
            Exp + x
            ^"#]],
    );
    check_err(
        xy,
        "Exp(x, y)",
        expect![[r#"
        column 1: Exp: expects 1 argument(s), got 2
            Exp(x, y)
            ^"#]],
    );
    check_err(
        xy,
        "Pow(x)",
        expect![[r#"
        column 1: Pow: expects 2 argument(s), got 1
            Pow(x)
            ^"#]],
    );
    check_err(
        xy,
        "Pow(x, 2.5)",
        expect![[r#"
        column 8: expected an integer for the exponent
            Pow(x, 2.5)
                   ^"#]],
    );
    check_err(
        xy,
        "Elem(x, -1)",
        expect![[r#"
        column 9: the index must be an integer from 0 to 16777216, not -1
            Elem(x, -1)
                    ^"#]],
    );
    check_err(
        xy,
        "Kron(x, y, [3, 2.5], [2])",
        expect![[r#"
        column 16: expected an integer, found `2.5`
            Kron(x, y, [3, 2.5], [2])
                           ^"#]],
    );
    check_err(
        xy,
        "Kron(x, y, [3], [2",
        expect![[r#"
        column 17: unbalanced brackets: this `[` is never closed
            Kron(x, y, [3], [2
                            ^"#]],
    );
    check_err(
        xy,
        "Kron(x, y, [1073741824], [1])",
        expect![[r#"
        column 13: each entry of the first shape must be an integer from 0 to 16777216, not 1073741824
            Kron(x, y, [1073741824], [1])
                        ^"#]],
    );
    check_err(
        xy,
        "Kron(x, y, [4096,4096,4096], [1])",
        expect![[r#"
        column 12: the first shape [4096, 4096, 4096] is too large: its product exceeds 16777216
            Kron(x, y, [4096,4096,4096], [1])
                       ^"#]],
    );
    check_err(
        xy,
        "Kron(x, y, 3, [2])",
        expect![[r#"
        column 12: expected a list of integers like [2,3] for the first shape
            Kron(x, y, 3, [2])
                       ^"#]],
    );
    check_err(
        xy,
        "Exp(x - y)",
        expect![[r#"
        column 7: Subtract: dimensions 3 and 2 differ
            Exp(x - y)
                  ^"#]],
    );
    check_err(
        xy,
        "(x | y)",
        expect![[r#"
        column 4: Scalprod: dimensions 3 and 2 differ
            (x | y)
               ^"#]],
    );
    check_err(
        xy,
        "Elem(x, 3)",
        expect![[r#"
        column 1: Elem: index 3 out of range for a vector of dimension 3
            Elem(x, 3)
            ^"#]],
    );
    check_err(
        xy,
        "Exp((x + 1)",
        expect![[r#"
        column 4: unbalanced parentheses: this `(` is never closed
            Exp((x + 1)
               ^"#]],
    );
    check_err(
        xy,
        "Exp(x))",
        expect![[r#"
        column 7: unbalanced parentheses: this `)` has no matching `(`
            Exp(x))
                  ^"#]],
    );
    check_err(
        xy,
        "x y",
        expect![[r#"
        column 3: expected an operator or the end of the formula, found `y`
            x y
              ^"#]],
    );
    check_err(
        xy,
        "x + ",
        expect![[r#"
        column 5: expected a formula, found the end of the text
            x + 
                ^"#]],
    );
    check_err(
        xy,
        "Add(x, )",
        expect![[r#"
        column 8: expected a formula, found `)`
            Add(x, )
                   ^"#]],
    );
    check_err(
        xy,
        "Sum(x",
        expect![[r#"
        column 4: unbalanced parentheses: this `(` is never closed
            Sum(x
               ^"#]],
    );
    check_err(
        xy,
        "x = y",
        expect![[r#"
        column 3: `=` is not an operator: write `==` to compare
            x = y
              ^"#]],
    );
    check_err(
        xy,
        "x @ y",
        expect![[r#"
        column 3: unexpected character @
            x @ y
              ^"#]],
    );
    check_err(
        xy,
        "1e999 * x",
        expect![[r#"
        column 1: the number 1e999 is out of range (write Inf for infinity)
            1e999 * x
            ^"#]],
    );
    check_err(
        xy,
        "x ** 99999999999",
        expect![[r#"
        column 6: the exponent is too large for an integer power
            x ** 99999999999
                 ^"#]],
    );
    check_err(
        xy,
        "Vi(0, 2)",
        expect![[r#"
        column 1: this variable contradicts the alias `x` = Vi(0,3)
            Vi(0, 2)
            ^"#]],
    );
    check_err(
        xy,
        "Vi(0, 99999999)",
        expect![[r#"
        column 7: the dimension must be an integer from 0 to 16777216, not 99999999
            Vi(0, 99999999)
                  ^"#]],
    );
    check_err(
        xy,
        "TensorProd(TensorProd(Vi(5,4096), Vi(5,4096)), Vi(6,4096))",
        expect![[r#"
            column 1: TensorProd: dimension 68719476736 is too large (at most 16777216)
                TensorProd(TensorProd(Vi(5,4096), Vi(5,4096)), Vi(6,4096))
                ^"#]],
    );
    check_err(xy, "", expect!["empty formula"]);
    check_err(xy, "  \n\t ", expect!["empty formula"]);
    check_err(
        xy,
        "Exp(\n  x\n  - y\n)",
        expect![[r#"
        line 3, column 3: Subtract: dimensions 3 and 2 differ
              - y
              ^"#]],
    );
    check_err(
        xy,
        &"(".repeat(300),
        expect![[r#"
        column 257: the formula is nested more than 256 levels deep
            ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((
                                                                                                                                                                                                                                                                            ^"#]],
    );
    check_err(
        xy,
        "σ + x",
        expect![[r#"
        column 1: unknown variable `σ`: declare it in the aliases, e.g. "σ = Vi(3)"
            σ + x
            ^"#]],
    );
}

#[test]
fn alias_errors() {
    check_err(&["x = Vi(3)", "x = Vj(3)"], "x", expect!["variable `x` is declared twice"]);
    check_err(&["x = Vi(0,3)", "y = Vj(0,3)"], "x", expect!["variable `y` is declared twice"]);
    check_err(
        &["x = Vi(3)", "y == Vj(3)"],
        "x",
        expect![[r#"
        column 3: expected `=` after `y`, found `==`
            y == Vj(3)
              ^"#]],
    );
    check_err(
        &["x = Vi(3"],
        "x",
        expect![[r#"
        column 7: unbalanced parentheses: this `(` is never closed
            x = Vi(3
                  ^"#]],
    );
    check_err(
        &["x = Vk(3)"],
        "x",
        expect![[r#"
        column 5: expected Vi(..), Vj(..), Pm(..) or Var(..), found `Vk`
            x = Vk(3)
                ^"#]],
    );
    check_err(
        &[" = Vi(3)"],
        "x",
        expect![[r#"
        column 2: expected a variable name before `=`
             = Vi(3)
             ^"#]],
    );
    check_err(
        &["x = Vi(0)"],
        "x",
        expect![[r#"
        column 5: Var: dimension must be at least 1
            x = Vi(0)
                ^"#]],
    );
    check_err(
        &["x = Var(0,3,4)"],
        "x",
        expect![[r#"
        column 13: the category must be an integer from 0 to 2, not 4
            x = Var(0,3,4)
                        ^"#]],
    );
    check_err(
        &["x = Vi(1,2,3)"],
        "x",
        expect![[r#"
        column 5: Vi: expects 2 argument(s), got 3
            x = Vi(1,2,3)
                ^"#]],
    );
    check_err(
        &["x = Vi(3) + 1"],
        "x",
        expect![[r#"
        column 11: expected the end of the alias, found `+`
            x = Vi(3) + 1
                      ^"#]],
    );
    check_err(
        &["Inf = Pm(1)"],
        "x",
        expect![[r#"
        column 1: `Inf` is reserved for the constant
            Inf = Pm(1)
            ^"#]],
    );
    // An empty alias: checked by fields, as its caret line is blank.
    let Err(Error::Parse(e)) = parse_aliases(&["x = Vi(3)", ""]) else { panic!("an empty alias must not parse") };
    assert_eq!((e.message.as_str(), e.column), ("expected an alias like \"x = Vi(3)\", found the end of the text", 1));
}

#[test]
fn alias_forms() {
    let vars = parse_aliases(&["x=Vi(3)", "  y  =  Vj( 5 , 3 ) ", "s = Pm(1)", "b = Var(3,6,1)", "z = Vi(0,3)"]);
    let vars = vars.unwrap();
    let listed: Vec<_> = vars.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    expect!["x=(0, 3, I) y=(5, 3, J) s=(2, 1, P) b=(3, 6, J) z=(0, 3, I)"].assert_eq(&listed.join(" "));
    assert_eq!(vars.name_of(0), Some("x"));
    assert_eq!(vars.get("w"), None);
}

#[test]
fn deep_but_legal_nesting_parses() {
    // The deepest legal formula, parsed on a thread with Rust's default 2 MiB stack, as a
    // user's worker thread has; one level more is an error.
    let nested = |n: usize| format!("{}1.0{}", "Exp(".repeat(n), ")".repeat(n));
    let deepest = nested(noyau_engine::parse::MAX_DEPTH - 1);
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || parse_formula(&deepest, &VarTable::new()).map(|e| e.dim()));
    assert_eq!(handle.unwrap().join().unwrap().unwrap(), 1);
    assert!(parse_formula(&nested(noyau_engine::parse::MAX_DEPTH), &VarTable::new()).is_err());
    // Left-associative chains do not nest.
    let long_sum = vec!["Vi(0,1)"; 5000].join(" + ");
    assert_eq!(parse_formula(&long_sum, &VarTable::new()).unwrap().dim(), 1);
}

#[test]
fn special_constants_round_trip() {
    let vars = VarTable::new();
    for c in [0.1, -0.1, 1e-300, -5e-324, 1e15, 1e16, -123456789012345.0, f64::MAX, f64::INFINITY, f64::NAN, -f64::NAN]
    {
        for e in [Expr::constant(c), Expr::constant(c).neg().unwrap(), Expr::constant(c).neg().unwrap().neg().unwrap()]
        {
            assert_eq!(parse_formula(&print::to_string(&e), &vars).unwrap(), e, "{c:?}");
        }
    }
    for n in [i64::MIN, -1, 0, i64::MAX] {
        let e = Expr::int(n).neg().unwrap();
        assert_eq!(parse_formula(&print::to_string(&e), &vars).unwrap(), e, "{n}");
    }
}

/// KeOps' names that are formulas of other operations here parse to those formulas, and their
/// misuse is reported at the call.
#[test]
fn keops_spellings() {
    let vars = parse_aliases(ALIASES).unwrap();
    let same = |keops: &str, ours: &str| {
        let a = parse_formula(keops, &vars).unwrap_or_else(|e| panic!("{keops}: {e}"));
        let b = parse_formula(ours, &vars).unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!(a, b, "{keops} is not {ours}");
    };
    same("SqNormIso(s, x - y)", "WeightedSqNorm(s, x - y)");
    same("SqNormDiag(g, x)", "WeightedSqNorm(g, x)");
    same("SymSqNorm(G, x)", "WeightedSqNorm(G, x)");
    same("SumT(s, 3)", "(Zero(3) + 1.0) * s");
    same("IntInv(4) * x", "0.25 * x");
    same("DifferenceMatrix(x, y)", "TensorProd(x, Zero(3) + 1.0) - TensorProd(Zero(3) + 1.0, y)");
    same("LessThan(x, y)", "x < y");
    same("LessOrEqual(x, y)", "x <= y");
    same("GreaterThan(x, y)", "x > y");
    same("GreaterOrEqual(x, y)", "x >= y");
    same("Atan(x|y)", "Atan((x | y))");
    same("Exp(-x|y) * b", "Exp((-x | y)) * b");
    same("Pow(x|y, 2)", "Pow((x | y), 2)");
    check_err(
        ALIASES,
        "1 + SqNormDiag(s, x)",
        expect![[r#"
            column 5: SqNormDiag: the weight must have dimension 3 (one weight per component) for a vector of dimension 3, not 1
                1 + SqNormDiag(s, x)
                    ^"#]],
    );
    check_err(
        ALIASES,
        "SumT(x, 2)",
        expect![[r#"
        column 1: SumT: the formula must be a scalar, it has dimension 3
            SumT(x, 2)
            ^"#]],
    );
    check_err(
        ALIASES,
        "IntInv(0)",
        expect![[r#"
        column 1: IntInv: the integer must not be 0
            IntInv(0)
            ^"#]],
    );
    check_err(
        ALIASES,
        "SumT(s)",
        expect![[r#"
        column 1: SumT: expects 2 argument(s), got 1
            SumT(s)
            ^"#]],
    );
    check_err(
        ALIASES,
        "x + SqNormIso",
        expect![[r#"
        column 5: `SqNormIso` is an operation: write SqNormIso(...) to call it
            x + SqNormIso
                ^"#]],
    );
}

/// KeOps' TensorDot with a permutation: output axis k of the contraction goes to position
/// permute[k]. Here T[p,q,r] = a[p,q]·b[r] (no contraction) and permute = [2, 0, 1], so the
/// result O has shape [3, 4, 2] with O[q, r, p] = T[p, q, r].
#[test]
fn tensordot_with_a_permutation() {
    let vars = parse_aliases(&["a = Vi(6)", "b = Vj(4)"]).unwrap();
    let f = parse_formula("TensorDot(a, b, [2,3], [4], [], [], [2,0,1])", &vars).unwrap();
    assert_eq!(f.dim(), 24);
    let a: Vec<f64> = (0..6).map(|k| k as f64 + 1.0).collect();
    let b: Vec<f64> = (0..4).map(|k| 10.0 * k as f64 - 3.0).collect();
    let out = noyau_engine::reference::eval_point(&[f], &|i| if i == 0 { a.clone() } else { b.clone() }).remove(0);
    for p in 0..2 {
        for q in 0..3 {
            for r in 0..4 {
                assert_eq!(out[q * 8 + r * 2 + p], a[p * 3 + q] * b[r], "O[{q},{r},{p}]");
            }
        }
    }
    // KeOps writes the lists Ind(...) (KeOps 1) or as Python tuples (KeOps 2).
    let keops = parse_formula("TensorDot(a, b, Ind(2,3), Ind(4), Ind(), Ind(), Ind(2,0,1))", &vars).unwrap();
    assert_eq!(keops, parse_formula("TensorDot(a, b, [2,3], [4], [], [], [2,0,1])", &vars).unwrap());
    let tuples = parse_formula("TensorDot(a, b, (2, 3), (4,), (), (), (2, 0, 1))", &vars).unwrap();
    assert_eq!(tuples, keops);
    // A parenthesised number stays a formula.
    assert_eq!(parse_formula("Exp((2))", &vars).unwrap(), parse_formula("Exp(2)", &vars).unwrap());
    let identity = parse_formula("TensorDot(a, b, [2,3], [4], [], [], [0,1,2])", &vars).unwrap();
    assert_eq!(identity, parse_formula("TensorDot(a, b, [2,3], [4], [], [])", &vars).unwrap());
    check_err(
        &["a = Vi(6)", "b = Vj(4)"],
        "TensorDot(a, b, [2,3], [4], [], [], [0,0,1])",
        expect![[r#"
            column 1: TensorDot: the permutation [0, 0, 1] must order the 3 output axes 0..3
                TensorDot(a, b, [2,3], [4], [], [], [0,0,1])
                ^"#]],
    );
}
