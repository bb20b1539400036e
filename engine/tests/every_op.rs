//! Every operation of the catalogue through the CPU backend, against the float64 oracle.
//!
//! Each row of `common/catalog.rs` is bound to a Sum over j and over i, at sizes around the tile
//! width (64 lanes) and the output block (32 rows), in float32 and float64, at every SIMD level
//! this CPU runs, and compared with the reference backend on the same inputs (float32 data
//! converted to float64). All rows run at D = 3; the rows not tied to fixed shapes also run at
//! D = 1 and at a D drawn in 2..=7. A Max reduction exercises the other fold path, and a NaN in
//! the j-variables checks that both backends agree on how every op propagates it.
//!
//! Data are drawn by a seeded generator: set `NOYAU_TEST_SEED` to explore other draws (the seed
//! is printed with any failure). Rows whose float32 value could legitimately differ from the
//! oracle's near a jump are drawn on a grid where it cannot (see `Row::grid`), so every
//! comparison here is held to the same tolerance.

use ndarray::{Array2, ArrayView2};
use noyau_engine::cpu::{self, Engine, SimdLevel};
use noyau_engine::{Axis, Backend, Cat, Expr, Options, Real, Reduce, Reduction, UnaryOp, VarDecl};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod common;
use common::catalog::{assert_covers_every_op, rows, Pool, Rng, Row, FIXED_D, GRID_STEP};

/// (N, M): empty sides, a single pair, and sizes around the 64-lane tile and 32-row block.
const SIZES: [(usize, usize); 7] = [(0, 3), (3, 0), (1, 1), (5, 63), (7, 64), (9, 65), (4, 130)];

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

fn seed() -> u64 {
    std::env::var("NOYAU_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(2024)
}

/// A row at a dimension, with what a failure must name.
struct Case<'a> {
    row: &'a Row,
    pool: Pool,
}

impl Case<'_> {
    /// `formula` reduced, every pool variable declared so that the input list is the same for
    /// every row (and the sizes are N and M even where x or y is unused).
    fn spec(&self, formula: &Expr, reduction: Reduction, axis: Axis) -> Reduce {
        let declared: Vec<VarDecl> = (0..Pool::LEN)
            .map(|index| {
                let (dim, cat) = self.pool.decl(index);
                VarDecl { name: format!("v{index}"), index, dim, cat }
            })
            .collect();
        Reduce::with_vars(formula.clone(), None, reduction, axis, &declared).unwrap()
    }

    /// Values for every pool variable: N rows for i-variables, M for j-variables, one for
    /// parameters, in the row's range, on its grid if it has one.
    fn draw(&self, (n, m): (usize, usize), rng: &mut Rng) -> Vec<Array2<f64>> {
        let (lo, hi) = (self.row.lo, self.row.hi);
        // The grid's points in [lo, hi] are first·step ..= last·step.
        let (first, last) = ((lo / GRID_STEP).ceil() as i64, (hi / GRID_STEP).floor() as i64);
        let mut value = || match self.row.grid {
            Some(_) => (first + rng.int(0, (last - first) as usize) as i64) as f64 * GRID_STEP,
            None => rng.uniform(lo, hi),
        };
        (0..Pool::LEN)
            .map(|index| {
                let (dim, cat) = self.pool.decl(index);
                let rows = match cat {
                    Cat::I => n,
                    Cat::J => m,
                    Cat::P => 1,
                };
                Array2::from_shape_simple_fn((rows, dim), &mut value)
            })
            .collect()
    }
}

/// One comparison of the backends: a row, a reduction, an axis and the sizes (N, M).
struct Check<'a> {
    case: &'a Case<'a>,
    red: Reduction,
    axis: Axis,
    size: (usize, usize),
}

impl Check<'_> {
    fn context(&self, dtype: &str, level: SimdLevel) -> String {
        let Check { case, red, axis, size: (n, m) } = self;
        let (label, d) = (&case.row.label, case.pool.d);
        let (level, seed) = (level.name(), seed());
        format!("{label} [D = {d}], {red} over {axis:?}, (N, M) = ({n}, {m}), {dtype}, {level}, seed {seed}")
    }

    /// Runs the reference on float64 copies of `data` in `T`, and the CPU backend on `data` in
    /// `T` at every SIMD level of `levels`, pushing each mismatch to `failures`. Returns the
    /// reference.
    fn run<T: Real>(
        &self,
        data: &[Array2<f64>],
        levels: &[SimdLevel],
        tol: f64,
        failures: &mut Vec<String>,
    ) -> Array2<f64> {
        let spec = self.case.spec(&self.case.row.f, self.red, self.axis);
        let typed: Vec<Array2<T>> = data.iter().map(|a| a.mapv(T::from_f64)).collect();
        let views: Vec<ArrayView2<T>> = typed.iter().map(|a| a.view()).collect();
        // The oracle sees exactly the values the CPU backend sees.
        let exact: Vec<Array2<f64>> = typed.iter().map(|a| a.mapv(|v| v.as_f64())).collect();
        let exact_views: Vec<ArrayView2<f64>> = exact.iter().map(|a| a.view()).collect();
        let oracle = |spec: &Reduce| {
            spec.eval(&exact_views, &Options { backend: Backend::Reference, ..Options::default() }).unwrap()
        };
        let want = oracle(&spec);
        // A sum is only as accurate as the sum of the magnitudes of its terms allows: that, not
        // the (possibly cancelled) result, is the scale of its error. Likewise a formula is
        // evaluated from data and intermediates of order 1 (the table's ranges), so a term that
        // cancels to nearly zero still carries an error of order 1 times the precision: hence
        // the floor.
        let scale = match self.red {
            Reduction::Sum => {
                let magnitude = self.case.row.f.clone().unary(UnaryOp::Abs).unwrap();
                largest(&oracle(&self.case.spec(&magnitude, Reduction::Sum, self.axis)))
            }
            _ => largest(&want),
        }
        .max(1.0);
        let (n_out, n_in) = spec.sizes(&views).unwrap();
        for (&level, engine) in levels.iter().flat_map(|l| [(l, Engine::Auto), (l, Engine::Interpreter)]) {
            let what = || format!("{} {engine:?}", self.context(T::DTYPE.name(), level));
            let opts = Options::default();
            match catch_unwind(AssertUnwindSafe(|| cpu::reduce_on(&spec, &views, n_out, n_in, &opts, level, engine))) {
                Ok(Ok(got)) => {
                    let got = got.mapv(|v| v.as_f64());
                    failures.extend(mismatch(&got, &want, tol * scale).map(|m| format!("{}: {m}", what())));
                }
                Ok(Err(e)) => failures.push(format!("{}: error {e}", what())),
                Err(_) => failures.push(format!("{}: panicked", what())),
            }
        }
        want
    }
}

/// The largest finite magnitude in `a`.
fn largest(a: &Array2<f64>) -> f64 {
    a.iter().filter(|v| v.is_finite()).fold(0.0f64, |s, v| s.max(v.abs()))
}

/// The first element of `got` farther than `tol` from `want`; NaN must meet NaN and infinities
/// must be equal.
fn mismatch(got: &Array2<f64>, want: &Array2<f64>, tol: f64) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    got.indexed_iter().zip(want).find_map(|(((r, c), &g), &w)| {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol
        };
        (!ok).then(|| format!("output [{r}, {c}] is {g}, the reference gives {w} (tolerance {tol:e})"))
    })
}

fn report(failures: &[String]) {
    let shown = failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n");
    assert!(failures.is_empty(), "{} mismatch(es), the first {}:\n{shown}", failures.len(), failures.len().min(40));
}

/// Every row at dimension `d`: the Sum over both axes, at every size of `SIZES` and one drawn,
/// in both precisions, at every SIMD level.
fn sums_at(d: usize, rng: &mut Rng) -> Vec<String> {
    let levels = SimdLevel::available();
    let mut failures = Vec::new();
    for row in &rows(d) {
        let case = Case { row, pool: Pool { d } };
        let drawn = (rng.int(0, 12), rng.int(0, 200));
        for size in SIZES.into_iter().chain([drawn]) {
            for axis in [Axis::J, Axis::I] {
                let check = Check { case: &case, red: Reduction::Sum, axis, size };
                check.run::<f64>(&case.draw(size, rng), &levels, TOL_F64, &mut failures);
                check.run::<f32>(&case.draw(size, rng), &levels, TOL_F32, &mut failures);
            }
        }
    }
    failures
}

#[test]
fn the_catalogue_covers_every_operation() {
    assert_covers_every_op(&rows(FIXED_D));
}

#[test]
fn every_row_at_d3() {
    report(&sums_at(FIXED_D, &mut Rng::new(seed())));
}

#[test]
fn generic_rows_at_d1() {
    report(&sums_at(1, &mut Rng::new(seed() ^ 1)));
}

#[test]
fn generic_rows_at_a_drawn_d() {
    let mut rng = Rng::new(seed() ^ 2);
    let d = [2, 4, 5, 6, 7][rng.int(0, 4)];
    report(&sums_at(d, &mut rng));
}

/// The componentwise Max, whose fold keeps per-lane maxima and their indices instead of sums,
/// at one size spanning three tiles (a partial one last) and, over i, five output blocks.
#[test]
fn max_reduction_of_every_row() {
    let mut rng = Rng::new(seed() ^ 3);
    let levels = SimdLevel::available();
    let mut failures = Vec::new();
    for d in [FIXED_D, 1, 5] {
        for row in &rows(d) {
            let case = Case { row, pool: Pool { d } };
            let size = (9, 130);
            for axis in [Axis::J, Axis::I] {
                let check = Check { case: &case, red: Reduction::Max, axis, size };
                check.run::<f64>(&case.draw(size, &mut rng), &levels, TOL_F64, &mut failures);
            }
        }
    }
    report(&failures);
}

/// A NaN in every j-variable at one point j0, through every row: both backends must agree on
/// where it goes (some ops, like comparisons, absorb it), and for rows that propagate it the
/// Sum over j is NaN in every output row, the Sum over i only in row j0.
#[test]
fn nan_in_a_j_variable() {
    const PROPAGATING: [&str; 10] = [
        "Add(x, y)",
        "SqDist",
        "Scalprod",
        "Normalize",
        "WeightedSqDist, weight of dimension 9",
        "Sum",
        "Max",
        "IfElse vector",
        "Mod vector modulus",
        "TensorDot full",
    ];
    let (size, j0) = ((5, 130), 70);
    let pool = Pool { d: FIXED_D };
    let levels = SimdLevel::available();
    let mut rng = Rng::new(seed() ^ 4);
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in &rows(FIXED_D) {
        let case = Case { row, pool };
        let mut data = case.draw(size, &mut rng);
        for (index, values) in data.iter_mut().enumerate() {
            if pool.decl(index).1 == Cat::J {
                values.row_mut(j0).fill(f64::NAN);
            }
        }
        for axis in [Axis::J, Axis::I] {
            let check = Check { case: &case, red: Reduction::Sum, axis, size };
            let want = check.run::<f64>(&data, &levels, TOL_F64, &mut failures);
            check.run::<f32>(&data, &levels, TOL_F32, &mut failures);
            if PROPAGATING.contains(&row.label.as_str()) {
                for (r, out) in want.outer_iter().enumerate() {
                    let reached = axis == Axis::J || r == j0;
                    let nan = out.iter().any(|v| v.is_nan());
                    assert_eq!(nan, reached, "{}, Sum over {axis:?}: output row {r} is {out}", row.label);
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * PROPAGATING.len(), "a row named in PROPAGATING is not in the catalogue");
    report(&failures);
}
