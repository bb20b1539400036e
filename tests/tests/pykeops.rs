//! KeOps' own answers (`tests/fixtures/pykeops`, written by pykeops 2.3) for the conventions Noyau copies: reduction layouts, formula spellings, block-sparse ranges.
//!
//! `make_fixtures.py` there ran each Genred on the CPU in float64 with the same formula
//! strings as below (KeOps' spellings, index lists as Python tuples); values must agree to
//! 1e-10 relative to the largest, indices exactly.

use ndarray::{Array2, ArrayView2};
use noyau_engine::ranges::from_matrix;
use noyau_engine::{Axis, DType, Genred, Options, Reduction};
use std::path::PathBuf;
use std::sync::Arc;

const TOL: f64 = 1e-10;
const ALIASES: [&str; 3] = ["x = Vi(0, 3)", "y = Vj(1, 3)", "b = Vj(2, 2)"];

/// A fixture as N rows of its remaining dimensions flattened (KeOps' N×K×D is our N×(K·D)).
fn load(name: &str) -> Array2<f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/pykeops").join(format!("{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t = noyau_scripting::io::parse_npy(&bytes, DType::F64).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = t.shape().first().copied().unwrap_or(1);
    let flat = t.reshape(&[rows as isize, -1]).unwrap();
    flat.to_array2::<f64>().unwrap()
}

fn inputs() -> [Array2<f64>; 3] {
    ["inputs_x", "inputs_y", "inputs_b"].map(load)
}

fn run(
    formula: &str,
    weight: Option<&str>,
    reduction: Reduction,
    args: &[ArrayView2<f64>],
    opts: &Options,
) -> Array2<f64> {
    let g = match weight {
        Some(w) => Genred::weighted(formula, w, &ALIASES, reduction, Axis::J),
        None => Genred::new(formula, &ALIASES, reduction, Axis::J),
    }
    .unwrap_or_else(|e| panic!("{formula}: {e}"));
    g.eval_with(args, opts).unwrap_or_else(|e| panic!("{formula}: {e}"))
}

fn check(case: &str, got: ArrayView2<f64>, want: ArrayView2<f64>) {
    assert_eq!(got.shape(), want.shape(), "{case}: shape");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let err = got.iter().zip(want).fold(0.0f64, |m, (g, w)| m.max((g - w).abs())) / scale;
    assert!(err <= TOL, "{case}: relative error {err:.3e}\ngot  {got:?}\nwant {want:?}");
}

#[test]
fn reductions_and_spellings_match_pykeops() {
    let [x, y, b] = inputs();
    let args = [x.view(), y.view(), b.view()];
    let opts = Options::default();
    let cases: &[(&str, &str, Option<&str>, Reduction)] = &[
        ("maxsumshiftexp", "-SqDist(x, y)", None, Reduction::MaxSumShiftExpWeight),
        ("kmin_vector", "x - y", None, Reduction::KMin(3)),
        ("argkmin_vector", "x - y", None, Reduction::ArgKMin(3)),
        ("lse_weight", "-SqDist(x, y)", Some("Abs(b)"), Reduction::LogSumExpWeight),
        ("sumsoftmax", "-SqDist(x, y)", Some("b"), Reduction::SumSoftMaxWeight),
        ("sqnormdiag", "SqNormDiag(x, y)", None, Reduction::Sum),
        ("lessthan", "LessThan(x, y)", None, Reduction::Sum),
        ("sumt", "SumT(SqDist(x, y), 2) * b", None, Reduction::Sum),
        ("tensordot_permute", "TensorDot(x, b, (3,), (2,), (), (), (1, 0))", None, Reduction::Sum),
        ("atan_scalprod", "Atan(x|y)", None, Reduction::Sum),
        ("floor", "Floor(x * 2)", None, Reduction::Sum),
    ];
    for &(case, formula, weight, reduction) in cases {
        check(case, run(formula, weight, reduction, &args, &opts).view(), load(case).view());
    }
    // Min_ArgMin: pykeops returns values then indices; ours are side by side in one row.
    let got = run("x - y", None, Reduction::MinArgMin, &args, &opts);
    let want = load("min_argmin_vector");
    let want = want.into_shape_with_order((2, 40, 3)).unwrap();
    check("min_argmin_vector values", got.slice(ndarray::s![.., ..3]), want.index_axis(ndarray::Axis(0), 0));
    check("min_argmin_vector indices", got.slice(ndarray::s![.., 3..]), want.index_axis(ndarray::Axis(0), 1));
}

/// The ranges of `make_fixtures.py`: clusters of 8 points of x, of 10 of y, and its keep matrix.
#[test]
fn block_sparse_matches_pykeops() {
    let [x, y, b] = inputs();
    let c = load("inputs_c");
    let keep = load("keep").mapv(|v| v != 0.0);
    let ranges_i: Vec<_> = (0..40).step_by(8).map(|k| k..k + 8).collect();
    let ranges_j: Vec<_> = (0..50).step_by(10).map(|k| k..k + 10).collect();
    let ranges = Arc::new(from_matrix(&ranges_i, &ranges_j, keep.view()).unwrap());
    let opts = Options { ranges: Some(ranges), ..Options::default() };
    let got = run("Exp(-SqDist(x, y)) * b", None, Reduction::Sum, &[x.view(), y.view(), b.view()], &opts);
    check("block_sparse", got.view(), load("block_sparse").view());
    let over_i = Genred::new(
        "Exp(-SqDist(x, y)) * c",
        &["x = Vi(0, 3)", "y = Vj(1, 3)", "c = Vi(2, 2)"],
        Reduction::Sum,
        Axis::I,
    )
    .unwrap()
    .eval_with(&[x.view(), y.view(), c.view()], &opts)
    .unwrap();
    check("block_sparse_over_i", over_i.view(), load("block_sparse_over_i").view());
}
