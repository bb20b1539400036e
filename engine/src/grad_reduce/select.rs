//! The dense O(N + M) steps of reduction gradients: selected indices, gathered rows, rows added into a gradient.

use crate::error::{Error, Result};
use crate::real::Real;
use ndarray::{Array2, ArrayView2};

/// The reduced-side index chosen for each output row and slot of a Min/Max-like reduction, and
/// the coefficient its gradient is scaled by. Slot s concerns component s mod `dim` of F.
pub struct Selection<T> {
    /// Slot-major: the indices of slot s are `idx[s * n_out..(s + 1) * n_out]`; −1 means none.
    idx: Vec<i64>,
    coef: Array2<T>,
    n_out: usize,
    dim: usize,
}

impl<T: Real> Selection<T> {
    /// Reads the indices of `coef.ncols()` slots from column `offset` of `indices`, checking that
    /// each is −1 or a row of the reduced side (`n_in` rows): they may come from a caller's array.
    pub fn new(indices: ArrayView2<T>, offset: usize, coef: Array2<T>, dim: usize, n_in: usize) -> Result<Self> {
        let (n_out, slots) = coef.dim();
        if indices.nrows() != n_out || indices.ncols() < offset + slots {
            return Err(Error::Data(format!(
                "the selected indices have shape {:?}, expected {n_out} rows and columns {offset}..{}",
                indices.shape(),
                offset + slots
            )));
        }
        let mut idx = Vec::with_capacity(n_out * slots);
        for s in 0..slots {
            for i in 0..n_out {
                let v = indices[[i, offset + s]].as_f64();
                if v != v.round() || v < -1.0 || v >= n_in as f64 {
                    return Err(Error::Data(format!(
                        "the selected index at row {i}, column {} is {v}: it must be −1 or an integer in 0..{n_in}",
                        offset + s
                    )));
                }
                idx.push(v as i64);
            }
        }
        Ok(Selection { idx, coef, n_out, dim })
    }

    pub fn slots(&self) -> usize {
        self.coef.ncols()
    }

    /// The selected index of each output row for slot `s`.
    pub fn indices(&self, s: usize) -> &[i64] {
        &self.idx[s * self.n_out..(s + 1) * self.n_out]
    }

    /// True when slot `s` has nothing to contribute: no row selected, or every coefficient zero.
    pub fn is_empty(&self, s: usize) -> bool {
        self.indices(s).iter().zip(self.coef.column(s)).all(|(&j, &c)| j < 0 || c == T::zero())
    }

    /// The contraction H of slot `s`: one row per output row, holding the slot's coefficient in
    /// the slot's component of F and zeros elsewhere, so that only that component's selected
    /// pair receives gradient.
    pub fn adjoint(&self, s: usize) -> Array2<T> {
        let mut h = Array2::zeros((self.n_out, self.dim));
        h.column_mut(s % self.dim).assign(&self.coef.column(s));
        h
    }
}

/// Rows `idx` of `src` (a zero row for −1), as an array with one row per index.
pub fn gather<T: Real>(src: ArrayView2<T>, idx: &[i64]) -> Array2<T> {
    let mut out = Array2::zeros((idx.len(), src.ncols()));
    for (mut row, &j) in out.outer_iter_mut().zip(idx) {
        if let Ok(j) = usize::try_from(j) {
            row.assign(&src.row(j));
        }
    }
    out
}

/// Adds row r of `part` into row `dest(r)` of `acc` (skipping rows sent nowhere), in float64 so
/// that summing many rows (a parameter's gradient, a scatter) loses no float32 precision.
pub fn add_rows<T: Real>(acc: &mut Array2<f64>, part: ArrayView2<T>, dest: impl Fn(usize) -> Option<usize>) {
    for (r, row) in part.outer_iter().enumerate() {
        if let Some(d) = dest(r) {
            for (a, &v) in acc.row_mut(d).iter_mut().zip(row) {
                *a += v.as_f64();
            }
        }
    }
}
