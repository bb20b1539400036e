//! Property tests of the parser: no input makes it panic, and every formula prints to text that parses back to itself.

use noyau_engine::{parse_aliases, parse_formula, print, BinaryOp, Expr, Op, UnaryOp, VarTable};
use proptest::prelude::*;

/// The variables of the generated formulas, as aliases; each index has one dimension and
/// category, as a reduction's arguments do.
const ALIASES: &[&str] = &["x = Vi(0,3)", "y = Vj(1,3)", "s = Pm(2,1)", "a = Vi(3,1)", "G = Vj(4,9)", "p = Pm(5,3)"];

/// Pieces of formula text, valid and not, that random inputs are assembled from.
const TOKENS: &[&str] = &[
    "Exp",
    "SqNorm2",
    "Pow",
    "Kron",
    "TensorDot",
    "Elem",
    "ElemT",
    "Extract",
    "IntCst",
    "Zero",
    "Grad",
    "Vi",
    "Var",
    "Inf",
    "NaN",
    "x",
    "y",
    "s",
    "z",
    "Vi(0,3)",
    "Vj(1,2)",
    "(",
    ")",
    "[",
    "]",
    ",",
    "|",
    "+",
    "-",
    "*",
    "**",
    "/",
    "<",
    "<=",
    "==",
    "!=",
    "=",
    "2",
    "-1",
    "0.5",
    ".5e3",
    "1e999",
    "99999999999999999999999",
    "\0",
    "é",
    "\n",
    " ",
];

fn vars() -> VarTable {
    parse_aliases(ALIASES).unwrap()
}

/// Text built from formula tokens, so that much of it gets deep into the grammar.
fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

/// Constants of every kind the printer must keep exactly; NaN only with its standard payload.
fn constant() -> impl Strategy<Value = Expr> {
    use prop::num::f64::{INFINITE, NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO | INFINITE).prop_map(Expr::constant),
        Just(Expr::constant(f64::NAN)),
        Just(Expr::constant(-f64::NAN)),
        (-5i32..5).prop_map(|n| Expr::constant(n.into())),
        any::<i64>().prop_map(Expr::int),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let vars = vars();
    let pool: Vec<Expr> = vars.iter().map(|(_, (i, d, c))| Expr::var(i, d, c).unwrap()).collect();
    prop_oneof![prop::sample::select(pool), constant(), (1usize..4).prop_map(|d| Expr::zero(d).unwrap())]
}

/// An operation chosen by `kind` over operands `args`, with parameters derived from `seed` and
/// the operands' dimensions; the first operand when the combination is not well formed.
fn node(kind: usize, args: Vec<Expr>, seed: usize) -> Expr {
    let (da, db) = (args[0].dim(), args[1].dim());
    let small = (seed % 7) as i32 - 3;
    let (op, arity) = match kind {
        0 => (Op::Unary(UnaryOp::ALL[seed % UnaryOp::ALL.len()]), 1),
        1 => (Op::Binary(BinaryOp::ALL[seed % BinaryOp::ALL.len()]), 2),
        2 => (Op::Pow(small), 1),
        3 => (Op::Round(small), 1),
        4 => (Op::ClampInt(small.into(), 3), 1),
        5 => (Op::IfElse, 3),
        6 => (Op::Clamp, 3),
        7 => (Op::Mod, 3),
        8 => (
            [Op::SqNorm2, Op::Norm2, Op::Normalize, Op::Sum, Op::Max, Op::Min, Op::ArgMax, Op::ArgMin][seed % 8]
                .clone(),
            1,
        ),
        9 => ([Op::SqDist, Op::Scalprod, Op::WeightedSqNorm, Op::Concat][seed % 4].clone(), 2),
        10 => (Op::WeightedSqDist, 3),
        11 => (Op::Elem(seed % da), 1),
        12 => (Op::ElemT { index: seed % 3, dim: 3 }, 1),
        13 => (Op::Extract { start: seed % da, len: 1 }, 1),
        14 => (Op::ExtractT { start: seed % 3, dim: da + 2 }, 1),
        15 => (Op::OneHot(1 + seed % 4), 1),
        16 => ([Op::MatVecMult, Op::VecMatMult, Op::TensorProd][seed % 3].clone(), 2),
        17 => (Op::Kron { a: vec![da], b: vec![db] }, 2),
        _ => {
            let axes = if da == db { vec![0] } else { vec![] };
            (Op::TensorDot { a: vec![da], b: vec![db], ca: axes.clone(), cb: axes }, 2)
        }
    };
    let first = args[0].clone();
    Expr::new(op, args.into_iter().take(arity).collect()).ok().filter(|e| e.dim() <= 100).unwrap_or(first)
}

/// Well-formed formulas over every operation, a few levels deep.
fn formula() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 64, 3, |inner| {
        (0usize..19, prop::collection::vec(inner, 3), any::<usize>()).prop_map(|(k, args, seed)| node(k, args, seed))
    })
}

/// Checks that `e` prints, with and without aliases, to text that parses back to `e` itself.
fn assert_round_trip(e: &Expr, vars: &VarTable) -> Result<(), TestCaseError> {
    let plain = print::to_string(e);
    prop_assert_eq!(
        &parse_formula(&plain, &VarTable::new()).map_err(|err| err.to_string()),
        &Ok(e.clone()),
        "{}",
        plain
    );
    let named = vars.print(e);
    prop_assert_eq!(&parse_formula(&named, vars).map_err(|err| err.to_string()), &Ok(e.clone()), "{}", named);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        let _ = parse_formula(&src, &vars());
        let _ = parse_aliases(&[&src]);
    }

    #[test]
    fn token_soup_never_panics_and_what_parses_round_trips(src in token_soup(), alias in token_soup()) {
        let vars = vars();
        if let Ok(e) = parse_formula(&src, &vars) {
            assert_round_trip(&e, &vars)?;
        }
        let _ = parse_aliases(&["x = Vi(3)", &alias]);
        let _ = parse_aliases(&[&format!("w = {alias}")]);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(open in prop::sample::select(&["(", "-", "Exp(", "x**", "(x|", "Pow("][..]), n in 200usize..3000) {
        let src = format!("{}x", open.repeat(n));
        let _ = parse_formula(&src, &vars());
    }

    #[test]
    fn edited_formulas_never_panic_and_what_parses_round_trips(
        e in formula(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3, prop::sample::select(TOKENS)), 1..4),
    ) {
        // Small edits of valid text reach the error paths deep inside calls and lists.
        let mut chars: Vec<char> = print::to_string(&e).chars().collect();
        for (at, len, token) in edits {
            let at = at.index(chars.len() + 1);
            let end = (at + len).min(chars.len());
            chars.splice(at..end, token.chars());
        }
        let src: String = chars.into_iter().collect();
        let vars = vars();
        if let Ok(e) = parse_formula(&src, &vars) {
            assert_round_trip(&e, &vars)?;
        }
    }

    #[test]
    fn formulas_round_trip(e in formula()) {
        assert_round_trip(&e, &vars())?;
    }
}
