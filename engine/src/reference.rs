//! The float64 oracle: formulas evaluated pair by pair and reduced naively. Never the fast path.
//!
//! Every backend, every gradient and every simplification is tested against this module. It is
//! written for obviousness: one pair at a time, every node of the DAG evaluated in topological
//! order, reductions over a materialised row of values.

use crate::error::Result;
use crate::eval::eval_op;
use crate::expr::{Expr, Op};
use crate::reduction::Reduction;
use std::collections::HashMap;

/// Evaluates `roots` at one point: `var(index)` gives the value of argument `index`.
pub fn eval_point(roots: &[Expr], var: &dyn Fn(usize) -> Vec<f64>) -> Vec<Vec<f64>> {
    let order = Expr::topo_order(roots);
    let mut values: HashMap<Expr, Vec<f64>> = HashMap::with_capacity(order.len());
    for e in &order {
        let v = match e.op() {
            Op::Var { index, dim, .. } => {
                let v = var(*index);
                debug_assert_eq!(v.len(), *dim);
                v
            }
            op => {
                let args: Vec<&[f64]> = e.args().iter().map(|a| values[a].as_slice()).collect();
                let mut out = vec![0.0; e.dim()];
                eval_op(op, &args, &mut out);
                out
            }
        };
        values.insert(e.clone(), v);
    }
    roots.iter().map(|r| values[r].clone()).collect()
}

/// Reduces one output row: `f[c]` and `w[c]` are the formula and weight at inner index c.
pub fn reduce_row(reduction: Reduction, f: &[Vec<f64>], w: Option<&[Vec<f64>]>, out_dim: usize) -> Result<Vec<f64>> {
    let d = f.first().map(Vec::len).unwrap_or(0);
    if f.is_empty() {
        return Ok(reduction.empty_output(if d == 0 { out_dim } else { d }, out_dim));
    }
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
            let shift = |c: usize| if mx == f64::NEG_INFINITY { 0.0 } else { (f[c][0] - mx).exp() };
            let e = w.map(|w| w[0].len()).unwrap_or(1);
            let weight = |c: usize, k: usize| w.map(|w| w[c][k]).unwrap_or(1.0);
            let s: Vec<f64> = (0..e).map(|k| (0..m).map(|c| shift(c) * weight(c, k)).sum()).collect();
            let z: f64 = (0..m).map(shift).sum();
            match reduction {
                Reduction::LogSumExp | Reduction::LogSumExpWeight => s.iter().map(|s| mx + s.ln()).collect(),
                Reduction::MaxSumShiftExpWeight => std::iter::once(mx).chain(s).collect(),
                _ => s.iter().map(|s| s / z).collect(),
            }
        }
    })
}
