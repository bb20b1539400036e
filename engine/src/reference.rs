//! The float64 oracle: formulas evaluated pair by pair and reduced naively. Never the fast path.
//!
//! Every backend, every gradient and every simplification is tested against this module. It is
//! written for obviousness: one pair at a time, every node of the DAG evaluated in topological
//! order, reductions over a materialised row of values.

use crate::error::Result;
use crate::eval::eval_op;
use crate::expr::{Cat, Expr, Op};
use crate::ranges::{BlockSparse, Ranges};
use crate::reduction::{Axis, Reduction};
use crate::spec::Reduce;
use ndarray::{Array2, ArrayView2};
use std::collections::HashMap;
use std::ops::Range;

/// A formula DAG flattened once into slots, then evaluated at many points.
pub struct PointEvaluator {
    order: Vec<Expr>,
    /// For each node: its slot's start in `values`, and the slots of its operands.
    slots: Vec<(usize, Vec<usize>)>,
    roots: Vec<usize>,
    values: Vec<f64>,
}

impl PointEvaluator {
    pub fn new(roots: &[Expr]) -> PointEvaluator {
        let order = Expr::topo_order(roots);
        let mut pos: HashMap<Expr, usize> = HashMap::new();
        let mut slots = Vec::with_capacity(order.len());
        let mut len = 0;
        for (k, e) in order.iter().enumerate() {
            pos.insert(e.clone(), k);
            slots.push((len, e.args().iter().map(|a| pos[a]).collect()));
            len += e.dim();
        }
        let roots = roots.iter().map(|r| pos[r]).collect();
        PointEvaluator { order, slots, roots, values: vec![0.0; len] }
    }

    /// Evaluates every root at one point; `var(index, out)` writes argument `index` into `out`.
    pub fn eval(&mut self, var: &mut dyn FnMut(usize, &mut [f64])) -> Vec<Vec<f64>> {
        for (k, e) in self.order.iter().enumerate() {
            let start = self.slots[k].0;
            let (done, rest) = self.values.split_at_mut(start);
            let out = &mut rest[..e.dim()];
            match e.op() {
                Op::Var { index, .. } => var(*index, out),
                op => {
                    let args: Vec<&[f64]> = self.slots[k]
                        .1
                        .iter()
                        .map(|&a| &done[self.slots[a].0..self.slots[a].0 + self.order[a].dim()])
                        .collect();
                    eval_op(op, &args, out);
                }
            }
        }
        self.roots
            .iter()
            .map(|&r| self.values[self.slots[r].0..self.slots[r].0 + self.order[r].dim()].to_vec())
            .collect()
    }
}

/// The reduction computed the obvious way, in float64: the oracle for every backend.
pub fn reduce(spec: &Reduce, inputs: &[ArrayView2<f64>]) -> Result<Array2<f64>> {
    reduce_sparse(spec, inputs, None)
}

/// [`reduce`] over the kept blocks of `ranges` only, when given.
pub fn reduce_sparse(spec: &Reduce, inputs: &[ArrayView2<f64>], ranges: Option<&Ranges>) -> Result<Array2<f64>> {
    let (n_out, _) = spec.sizes(inputs)?;
    reduce_rows_sparse(spec, inputs, 0..n_out, ranges)
}

/// Like [`reduce`], for a range of output rows only (to check a large problem on a sample).
pub fn reduce_rows(spec: &Reduce, inputs: &[ArrayView2<f64>], rows: Range<usize>) -> Result<Array2<f64>> {
    reduce_rows_sparse(spec, inputs, rows, None)
}

/// The points row `r` is reduced over: all, or those of the reduced ranges of its cluster.
fn reduced_points(r: usize, n_in: usize, block: Option<BlockSparse>) -> Vec<usize> {
    let Some(b) = block else { return (0..n_in).collect() };
    match b.clusters.iter().position(|c| c.contains(&r)) {
        Some(c) => b.reduced_of(c).iter().flat_map(Clone::clone).collect(),
        None => Vec::new(),
    }
}

fn reduce_rows_sparse(
    spec: &Reduce,
    inputs: &[ArrayView2<f64>],
    rows: Range<usize>,
    ranges: Option<&Ranges>,
) -> Result<Array2<f64>> {
    let (n_out, n_in) = spec.sizes(inputs)?;
    let block = ranges.map(|r| r.checked_for(spec.axis, n_out, n_in)).transpose()?;
    let mut ev = PointEvaluator::new(&spec.roots());
    let mut out = Array2::zeros((rows.len(), spec.out_dim));
    for (o, r) in rows.enumerate() {
        let points = reduced_points(r, n_in, block);
        let mut fs = Vec::with_capacity(points.len());
        let mut ws = Vec::with_capacity(if spec.weight.is_some() { points.len() } else { 0 });
        for &c in &points {
            let (i, j) = match spec.axis {
                Axis::J => (r, c),
                Axis::I => (c, r),
            };
            let mut vals = ev.eval(&mut |k, dst| {
                let row = match spec.vars[k].cat {
                    Cat::I => i,
                    Cat::J => j,
                    Cat::P => 0,
                };
                for (d, x) in dst.iter_mut().zip(inputs[k].row(row)) {
                    *d = *x;
                }
            });
            if spec.weight.is_some() {
                ws.push(vals.pop().unwrap_or_default());
            }
            fs.push(vals.swap_remove(0));
        }
        let w = spec.weight.as_ref().map(|_| ws.as_slice());
        let mut row = reduce_row(spec.reduction, &fs, w, spec.out_dim)?;
        // Indices are positions among the points reduced over: name the points themselves.
        for x in &mut row[spec.reduction.index_columns(spec.out_dim)] {
            if *x >= 0.0 {
                *x = points[*x as usize] as f64;
            }
        }
        for (d, x) in out.row_mut(o).iter_mut().zip(row) {
            *d = x;
        }
    }
    Ok(out)
}

/// Evaluates `roots` at one point: `var(index)` gives the value of argument `index`.
pub fn eval_point(roots: &[Expr], var: &dyn Fn(usize) -> Vec<f64>) -> Vec<Vec<f64>> {
    PointEvaluator::new(roots).eval(&mut |k, out| out.copy_from_slice(&var(k)))
}

/// Reduces one output row: `f[c]` and `w[c]` are the formula and weight at inner index c.
pub fn reduce_row(reduction: Reduction, f: &[Vec<f64>], w: Option<&[Vec<f64>]>, out_dim: usize) -> Result<Vec<f64>> {
    if f.is_empty() {
        let d = match reduction {
            Reduction::MaxArgMax | Reduction::MinArgMin => out_dim / 2,
            _ => out_dim,
        };
        return Ok(reduction.empty_output(d, out_dim));
    }
    let d = f[0].len();
    let m = f.len();
    let col = |k: usize| f.iter().map(move |v| v[k]);
    // For extremes: NaN wins, then the first index on ties.
    let arg_best = |k: usize, greater: bool| -> (f64, f64) {
        let mut best = (f[0][k], 0usize);
        for (c, v) in col(k).enumerate().skip(1) {
            if best.0.is_nan() {
                break;
            }
            if v.is_nan() || (greater && v > best.0) || (!greater && v < best.0) {
                best = (v, c);
            }
        }
        (best.0, best.1 as f64)
    };
    Ok(match reduction {
        Reduction::Sum => (0..d).map(|k| col(k).sum()).collect(),
        Reduction::Max => (0..d).map(|k| arg_best(k, true).0).collect(),
        Reduction::Min => (0..d).map(|k| arg_best(k, false).0).collect(),
        Reduction::ArgMax => (0..d).map(|k| arg_best(k, true).1).collect(),
        Reduction::ArgMin => (0..d).map(|k| arg_best(k, false).1).collect(),
        Reduction::MaxArgMax => {
            let b: Vec<_> = (0..d).map(|k| arg_best(k, true)).collect();
            b.iter().map(|x| x.0).chain(b.iter().map(|x| x.1)).collect()
        }
        Reduction::MinArgMin => {
            let b: Vec<_> = (0..d).map(|k| arg_best(k, false)).collect();
            b.iter().map(|x| x.0).chain(b.iter().map(|x| x.1)).collect()
        }
        Reduction::KMin(kk) | Reduction::ArgKMin(kk) | Reduction::KMinArgKMin(kk) => {
            // Stable sort by value: ties keep the smaller index first; NaN sorts first (it "wins").
            let mut vals = vec![f64::INFINITY; kk * d];
            let mut idx = vec![-1.0; kk * d];
            for k in 0..d {
                let mut pairs: Vec<(f64, usize)> = col(k).enumerate().map(|(c, v)| (v, c)).collect();
                pairs.sort_by(|a, b| match (a.0.is_nan(), b.0.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    _ => a.0.partial_cmp(&b.0).unwrap(),
                });
                for (r, &(v, c)) in pairs.iter().take(kk).enumerate() {
                    vals[r * d + k] = v;
                    idx[r * d + k] = c as f64;
                }
            }
            match reduction {
                Reduction::KMin(_) => vals,
                Reduction::ArgKMin(_) => idx,
                _ => [vals, idx].concat(),
            }
        }
        Reduction::LogSumExp
        | Reduction::LogSumExpWeight
        | Reduction::MaxSumShiftExpWeight
        | Reduction::SumSoftMaxWeight => {
            let mx = col(0).fold(f64::NEG_INFINITY, |a, b| if b.is_nan() || a.is_nan() { f64::NAN } else { a.max(b) });
            // exp(F − max), counting a value equal to the maximum as 1 even when both are +inf,
            // so that a row holding +inf reduces to +inf (−inf values count 0).
            let shift = |c: usize| {
                if mx == f64::NEG_INFINITY {
                    0.0
                } else if f[c][0] == mx {
                    1.0
                } else {
                    (f[c][0] - mx).exp()
                }
            };
            let e = w.map(|w| w[0].len()).unwrap_or(1);
            let weight = |c: usize, k: usize| w.map(|w| w[c][k]).unwrap_or(1.0);
            let s: Vec<f64> = (0..e).map(|k| (0..m).map(|c| shift(c) * weight(c, k)).sum()).collect();
            let z: f64 = (0..m).map(shift).sum();
            match reduction {
                Reduction::LogSumExp | Reduction::LogSumExpWeight => {
                    s.iter().map(|&s| if mx == f64::INFINITY && s > 0.0 { mx } else { mx + s.ln() }).collect()
                }
                Reduction::MaxSumShiftExpWeight => std::iter::once(mx).chain(s).collect(),
                _ => s.iter().map(|s| s / z).collect(),
            }
        }
    })
}
