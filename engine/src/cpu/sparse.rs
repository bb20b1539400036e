//! Block-sparse reductions on the CPU: each cluster of output rows folded over its reduced ranges only (KeOps' `ranges`), clusters in parallel.
//!
//! A cluster is a sub-problem of the partial-reduction API: its rows are a slice of the
//! output-side arguments, and the points of its reduced ranges are gathered into one contiguous
//! copy of the reduced-side arguments (a view when there is one range), folded in one call of
//! [`super::partial_on`] and finalized; index outputs, positions in that gathered list, are then
//! mapped back to the points. One call per cluster keeps the fixed cost of a call (thread
//! dispatch, transposition) per cluster rather than per range. Rows in no cluster, and clusters
//! without a point to reduce over, get the reduction's empty value.

use super::{empty_output, partial_on, Engine, SimdLevel};
use crate::error::{Error, Result};
use crate::ranges::Ranges;
use crate::real::Real;
use crate::spec::{Options, Reduce};
use ndarray::{concatenate, s, Array2, ArrayView2, Axis as NdAxis};
use rayon::prelude::*;
use std::ops::Range;

/// The reduction of `spec` over the kept blocks of `ranges` (`n_out` output rows, `n_in` reduced points).
#[allow(clippy::too_many_arguments)] // reduce_on's arguments and the ranges
pub fn reduce<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    ranges: &Ranges,
    level: SimdLevel,
    engine: Engine,
) -> Result<Array2<T>> {
    let block = ranges.checked_for(spec.axis, n_out, n_in)?;
    let clusters: Vec<Option<(usize, Array2<T>)>> = (0..block.clusters.len())
        .into_par_iter()
        .map(|c| cluster(spec, inputs, block.clusters[c].clone(), block.reduced_of(c), opts, level, engine))
        .collect::<Result<_>>()?;
    let mut out = empty_output(spec, n_out)?;
    for (start, part) in clusters.into_iter().flatten() {
        out.slice_mut(s![start..start + part.nrows(), ..]).assign(&part);
    }
    Ok(out)
}

/// The output rows `rows` reduced over the points of `reduced`, or `None` when there is none.
fn cluster<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    rows: Range<usize>,
    reduced: &[Range<usize>],
    opts: &Options,
    level: SimdLevel,
    engine: Engine,
) -> Result<Option<(usize, Array2<T>)>> {
    let reduced: Vec<Range<usize>> = reduced.iter().filter(|r| !r.is_empty()).cloned().collect();
    let total: usize = reduced.iter().map(Range::len).sum();
    if rows.is_empty() || total == 0 {
        return Ok(None);
    }
    let (outer, inner) = (spec.axis.outer(), spec.axis.inner());
    // One range is a slice of the arguments, its indices absolute; several are gathered.
    let (gathered, span) = match reduced.as_slice() {
        [one] => (None, one.clone()),
        _ => {
            let copies: Vec<Option<Array2<T>>> = inputs
                .iter()
                .zip(&spec.vars)
                .map(|(a, v)| {
                    if v.cat != inner {
                        return Ok(None);
                    }
                    let parts: Vec<ArrayView2<T>> = reduced.iter().map(|r| a.slice(s![r.clone(), ..])).collect();
                    concatenate(NdAxis(0), &parts).map(Some).map_err(|e| Error::Data(e.to_string()))
                })
                .collect::<Result<_>>()?;
            (Some(copies), 0..total)
        }
    };
    let sub: Vec<ArrayView2<T>> = inputs
        .iter()
        .zip(&spec.vars)
        .enumerate()
        .map(|(k, (a, v))| match (&gathered, v.cat) {
            (_, cat) if cat == outer => a.slice(s![rows.clone(), ..]),
            (Some(copies), cat) if cat == inner => copies[k].as_ref().map_or(a.view(), |c| c.view()),
            _ => a.view(),
        })
        .collect();
    let mut out = partial_on(spec, &sub, rows.len(), span, opts, level, engine)?.finalize::<T>(spec.out_dim);
    if gathered.is_some() {
        // Positions in the gathered points name the points themselves.
        let points: Vec<usize> = reduced.iter().flat_map(Clone::clone).collect();
        let columns = spec.reduction.index_columns(spec.out_dim);
        for mut row in out.rows_mut() {
            for x in row.slice_mut(s![columns.clone()]) {
                if *x >= T::zero() {
                    *x = T::from_f64(points[x.as_f64() as usize] as f64);
                }
            }
        }
    }
    Ok(Some((rows.start, out)))
}
