//! Weighted point clouds as the OT functions take them: checked, in one dtype, weights as a column.

use crate::error::{Error, Result};
use crate::real::DType;
use crate::tensor::Tensor;

/// One measure Σ_i a_i δ_{x_i}: weights as an N×1 column and points as N×D, both in the dtype of
/// the pair; `weight_shape` is the shape the caller gave (\[N\] or \[N, 1\]), which results
/// supported by the points (potentials) take back.
pub(crate) struct Measure {
    pub weights: Tensor,
    pub points: Tensor,
    pub weight_shape: Vec<usize>,
}

impl Measure {
    /// The log-weights, detached, with log 0 replaced by −100000 as GeomLoss does, so that a
    /// point of zero mass drops out of every log-sum-exp without producing −∞ − (−∞).
    pub fn log_weights(&self) -> Result<Tensor> {
        let logs: Vec<f64> =
            self.weights.to_vec_f64().into_iter().map(|w| if w > 0.0 { w.ln() } else { -100_000.0 }).collect();
        let n = logs.len();
        Ok(Tensor::from_vec(logs, &[n, 1])?.to_dtype(self.weights.dtype()))
    }

    /// A result with one value per point (N×1), in the shape of the weights given.
    pub fn like_weights(&self, t: &Tensor) -> Result<Tensor> {
        let shape: Vec<isize> = self.weight_shape.iter().map(|&n| n as isize).collect();
        t.reshape(&shape)
    }

    /// Checks that the measure `name` has some mass: with every weight zero each log-weight is
    /// −100000 and Sinkhorn would return a number that means nothing.
    pub fn check_mass(&self, op: &str, name: &str) -> Result<()> {
        if self.weights.to_vec_f64().iter().all(|&w| w == 0.0) {
            return Err(Error::invalid(
                op,
                format!("every weight of {name} is 0: transport needs a positive total mass on both sides"),
            ));
        }
        Ok(())
    }

    pub fn dim(&self) -> usize {
        self.points.shape()[1]
    }
}

/// Checks the two measures (a, x) and (b, y) of `op`: points N×D and M×D with the same D and at
/// least one point, weights of shape \[N\] or \[N, 1\], finite and nonnegative, and finite points.
/// Everything is converted to float64 if any input is, else float32 (differentiably).
pub(crate) fn pair(op: &str, a: &Tensor, x: &Tensor, b: &Tensor, y: &Tensor) -> Result<(Measure, Measure)> {
    let dtype = if [a, x, b, y].iter().any(|t| t.dtype() == DType::F64) { DType::F64 } else { DType::F32 };
    let ma = one(op, ("a", a), ("x", x), dtype)?;
    let mb = one(op, ("b", b), ("y", y), dtype)?;
    if ma.dim() != mb.dim() {
        return Err(Error::invalid(
            op,
            format!(
                "x has points of dimension {} but y of dimension {}: both clouds must live in the same space",
                ma.dim(),
                mb.dim()
            ),
        ));
    }
    Ok((ma, mb))
}

fn one(op: &str, (wn, w): (&str, &Tensor), (pn, p): (&str, &Tensor), dtype: DType) -> Result<Measure> {
    let [n, _] = *p.shape() else {
        return Err(Error::invalid(
            op,
            format!("{pn} must be a 2-D tensor with one row per point, got shape {:?}", p.shape()),
        ));
    };
    if n == 0 {
        return Err(Error::invalid(op, format!("{pn} has no point: a measure needs at least one")));
    }
    let weight_shape = w.shape().to_vec();
    if !matches!(weight_shape[..], [k] | [k, 1] if k == n) {
        return Err(Error::invalid(
            op,
            format!("{wn} has shape {weight_shape:?} but {pn} has {n} points: give one weight per point, as [{n}] or [{n}, 1]"),
        ));
    }
    let weights = w.to_vec_f64();
    if let Some((i, v)) = weights.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
        return Err(Error::invalid(op, format!("{wn}[{i}] = {v}: weights must be finite and nonnegative")));
    }
    if let Some(k) = p.to_vec_f64().iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(op, format!("{pn}[{}, {}] is not finite", k / p.shape()[1], k % p.shape()[1])));
    }
    Ok(Measure { weights: w.to_dtype(dtype).reshape(&[n as isize, 1])?, points: p.to_dtype(dtype), weight_shape })
}
