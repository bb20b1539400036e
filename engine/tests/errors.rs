//! Every mistake a caller can make gets an `Err` whose message names the problem (snapshots).
//!
//! Regenerate the expected texts with `UPDATE_EXPECT=1 cargo test -p noyau-engine --test errors`.
//! (A wrong dtype cannot happen through the Rust API: the element type is checked by the compiler.)

use expect_test::{expect, Expect};
use ndarray::Array2;
use noyau_engine::{Axis, Genred, Reduction};

const ALIASES: &[&str] = &["s = Pm(1)", "x = Vi(3)", "y = Vj(3)", "b = Vj(2)"];

fn genred_err(formula: &str, aliases: &[&str], reduction: Reduction, expect: Expect) {
    let err = Genred::new(formula, aliases, reduction, Axis::J).unwrap_err();
    expect.assert_eq(&err.to_string());
}

fn eval_err(reduction: Reduction, arrays: &[Array2<f32>], expect: Expect) {
    let g = Genred::new("Exp(-s*SqDist(x,y))*b", ALIASES, reduction, Axis::J).unwrap();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    expect.assert_eq(&g.eval(&views).unwrap_err().to_string());
}

fn zeros(n: usize, d: usize) -> Array2<f32> {
    Array2::zeros((n, d))
}

#[test]
fn formula_errors() {
    genred_err(
        "Exp(-s*Exq(x-y))*b",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 8: unknown operation `Exq`
            Exp(-s*Exq(x-y))*b
                   ^"#]],
    );
    genred_err(
        "SqDist(x)",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 1: SqDist: expects 2 argument(s), got 1
            SqDist(x)
            ^"#]],
    );
    genred_err(
        "Exp(-SqDist(x, b))",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 6: SqDist: dimensions 3 and 2 differ
            Exp(-SqDist(x, b))
                 ^"#]],
    );
    genred_err(
        "x - b",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 3: Subtract: dimensions 3 and 2 differ
            x - b
              ^"#]],
    );
    genred_err(
        "Exp(-SqDist(x, z))",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 16: unknown variable `z`: declare it in the aliases, e.g. "z = Vi(3)"
            Exp(-SqDist(x, z))
                           ^"#]],
    );
    genred_err("x", &["x = Vi(3)", "x = Vj(3)"], Reduction::Sum, expect!["variable `x` is declared twice"]);
    genred_err("", ALIASES, Reduction::Sum, expect!["empty formula"]);
    genred_err(
        "Exp(x",
        ALIASES,
        Reduction::Sum,
        expect![[r#"
        column 4: unbalanced parentheses: this `(` is never closed
            Exp(x
               ^"#]],
    );
}

#[test]
fn reduction_errors() {
    genred_err("SqDist(x,y)", ALIASES, Reduction::KMin(0), expect!["KMin: K must be at least 1"]);
    genred_err(
        "SqDist(x,y)",
        ALIASES,
        Reduction::ArgKMin(1 << 20),
        expect!["ArgKMin: K = 1048576 is absurdly large (at most 65536)"],
    );
    genred_err(
        "x",
        ALIASES,
        Reduction::LogSumExp,
        expect!["LogSumExp: the formula must have dimension 1, it has dimension 3"],
    );
    genred_err(
        "SqDist(x,y)",
        ALIASES,
        Reduction::SumSoftMaxWeight,
        expect!["SumSoftMaxWeight: needs a weight formula"],
    );
    expect!["axis: axis must be 0 (reduce over i) or 1 (reduce over j), got 2"]
        .assert_eq(&noyau_engine::Axis::from_index(2).unwrap_err().to_string());
    expect!["Sums: unknown reduction: use Sum, Max, Min, ArgMax, ArgMin, Max_ArgMax, Min_ArgMin, KMin, ArgKMin, KMin_ArgKMin, LogSumExp, LogSumExpWeight, Max_SumShiftExp(Weight) or SumSoftMaxWeight"]
        .assert_eq(&Reduction::from_name("Sums", None).unwrap_err().to_string());
}

#[test]
fn argument_errors() {
    let ok = || vec![zeros(1, 1), zeros(10, 3), zeros(20, 3), zeros(20, 2)];
    eval_err(
        Reduction::Sum,
        &ok()[..3],
        expect!["expected 4 input array(s), got 3 (the arguments are s = Pm(1), x = Vi(3), y = Vj(3), b = Vj(2))"],
    );
    let mut a = ok();
    a[3] = zeros(20, 3);
    eval_err(
        Reduction::Sum,
        &a,
        expect!["variable b is declared Vj(2) but got an array of shape [20, 3]: it needs 2 column(s)"],
    );
    let mut a = ok();
    a[3] = zeros(19, 2);
    eval_err(
        Reduction::Sum,
        &a,
        expect!["variable b is declared Vj(2) but got an array of shape [19, 2]: y has 20 rows and both are j-indexed"],
    );
    let mut a = ok();
    a[0] = zeros(2, 1);
    eval_err(
        Reduction::Sum,
        &a,
        expect![
            "variable s is declared Pm(1) but got an array of shape [2, 1]: a parameter is one row of shape [1, 1]"
        ],
    );
    let g = Genred::new("SqDist(x,y)", ALIASES, Reduction::KMin(30), Axis::J).unwrap();
    let a = ok();
    let err = g.eval(&a.iter().map(|a| a.view()).collect::<Vec<_>>()).unwrap_err();
    expect!["KMin: K = 30 is larger than the number of points reduced over (20)"].assert_eq(&err.to_string());
}
