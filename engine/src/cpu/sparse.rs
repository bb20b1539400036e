//! Block-sparse reductions on the CPU: each cluster of output rows folded over its reduced ranges only (KeOps' `ranges`), clusters in parallel.
//!
//! This is the partial-reduction API composed: a cluster's rows are a slice of the output-side
//! arguments, each of its reduced ranges a slice of the reduced axis ([`super::partial_on`],
//! indices absolute), and the partial states of the ranges are combined before finalizing.
//! Rows in no cluster, and clusters without a range, get the reduction's empty value.

use super::{empty_output, partial_on, state_layout, Engine, SimdLevel};
use crate::error::Result;
use crate::ranges::Ranges;
use crate::real::Real;
use crate::reduction::Axis;
use crate::spec::{Options, Reduce};
use crate::state::Partial;
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

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
    let (n, m) = match spec.axis {
        Axis::J => (n_out, n_in),
        Axis::I => (n_in, n_out),
    };
    ranges.check(n, m)?;
    let block = ranges.for_axis(spec.axis);
    let layout = state_layout(spec, opts.sum_scheme);
    let outer = spec.axis.outer();
    let clusters: Vec<Option<(usize, Array2<T>)>> = (0..block.clusters.len())
        .into_par_iter()
        .map(|c| -> Result<_> {
            let rows = block.clusters[c].clone();
            if rows.is_empty() || block.reduced_of(c).iter().all(|r| r.is_empty()) {
                return Ok(None);
            }
            let sub: Vec<ArrayView2<T>> = inputs
                .iter()
                .zip(&spec.vars)
                .map(|(a, v)| if v.cat == outer { a.slice(s![rows.clone(), ..]) } else { a.view() })
                .collect();
            let mut acc = Partial::empty(layout, rows.len());
            for r in block.reduced_of(c) {
                acc.combine(&partial_on(spec, &sub, rows.len(), r.clone(), opts, level, engine)?)?;
            }
            Ok(Some((rows.start, acc.finalize::<T>(spec.out_dim))))
        })
        .collect::<Result<_>>()?;
    let mut out = empty_output(spec, n_out)?;
    for (start, part) in clusters.into_iter().flatten() {
        out.slice_mut(s![start..start + part.nrows(), ..]).assign(&part);
    }
    Ok(out)
}
