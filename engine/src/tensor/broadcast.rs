//! NumPy broadcasting: the shape rule, `broadcast_to`, its adjoint `sum_to`, and the one elementwise zip.
//!
//! Every binary op goes through [`zip_map`], which checks shapes before asking ndarray to
//! broadcast (ndarray panics on a bad broadcast); every backward pass of a broadcasting op
//! goes through [`Tensor::sum_to`], which sums the gradient over the dimensions that were
//! stretched.

use super::{checked_alloc, with_dtype, Arr, Data, Elem, Tensor};
use crate::error::{Error, Result};
use ndarray::{Axis, IxDyn, Zip};

/// The shape two operands broadcast to: shapes are aligned on the right, and a dimension of 1
/// stretches to match the other.
pub(crate) fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], k: usize| if k + s.len() >= n { s[k + s.len() - n] } else { 1 };
    (0..n)
        .map(|k| match (at(a, k), at(b, k)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(Error::tensor(op, format!("shapes {a:?} and {b:?} cannot be broadcast together"))),
        })
        .collect()
}

/// `f` applied to the elements of `a` and `b` broadcast to `shape` (which the caller got from [`broadcast_shapes`]).
pub(crate) fn zip_map<T: Elem>(
    op: &str,
    a: &Arr<T>,
    b: &Arr<T>,
    shape: &[usize],
    f: impl Fn(T, T) -> T,
) -> Result<Arr<T>> {
    let bad = || Error::tensor(op, format!("shapes {:?} and {:?} cannot be broadcast together", a.shape(), b.shape()));
    let av = a.broadcast(IxDyn(shape)).ok_or_else(bad)?;
    let bv = b.broadcast(IxDyn(shape)).ok_or_else(bad)?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)).into_shared())
}

impl Tensor {
    /// This tensor stretched to `shape` by broadcasting (differentiable: the gradient is summed back).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let op = "broadcast_to";
        if broadcast_shapes(op, self.shape(), shape)? != shape {
            return Err(Error::tensor(op, format!("shape {:?} cannot be broadcast to {shape:?}", self.shape())));
        }
        if self.shape() == shape {
            return Ok(self.clone());
        }
        checked_alloc(op, shape, self.dtype())?;
        let data = with_dtype!(self.dtype(), T => {
            let a = self.data().get::<T>(op)?;
            let v = a.broadcast(IxDyn(shape)).ok_or_else(|| Error::tensor(op, "internal error: broadcast refused"))?;
            T::wrap(v.to_owned().into_shared())
        });
        let from = self.shape().to_vec();
        Ok(Tensor::record(data, op, vec![self.clone()], move |b| Ok(vec![Some(b.grad.sum_to(&from)?)])))
    }

    /// The sum of this tensor over the dimensions that broadcasting `shape` to this tensor's shape
    /// would stretch: the adjoint of [`Tensor::broadcast_to`], used by every backward pass.
    pub(crate) fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        let op = "sum_to";
        if self.shape() == shape {
            return Ok(self.clone());
        }
        if broadcast_shapes(op, shape, self.shape())? != self.shape() {
            return Err(Error::tensor(op, format!("shape {:?} cannot be summed to {shape:?}", self.shape())));
        }
        let data = with_dtype!(self.dtype(), T => T::wrap(sum_to_array(self.data().get::<T>(op)?, shape)));
        let from = self.shape().to_vec();
        Ok(Tensor::record(data, op, vec![self.clone()], move |b| Ok(vec![Some(b.grad.broadcast_to(&from)?)])))
    }
}

fn sum_to_array<T: Elem>(a: &Arr<T>, shape: &[usize]) -> Arr<T> {
    let mut r = a.to_owned();
    for _ in shape.len()..a.ndim() {
        r = r.sum_axis(Axis(0));
    }
    for (k, &s) in shape.iter().enumerate() {
        if s == 1 && r.shape()[k] != 1 {
            r = r.sum_axis(Axis(k)).insert_axis(Axis(k));
        }
    }
    r.into_shared()
}

/// Used by ops that need both operands in one dtype: float32 meets float64 as float64.
pub(crate) fn promote(a: &Tensor, b: &Tensor) -> (Tensor, Tensor) {
    match (a.data(), b.data()) {
        (Data::F32(_), Data::F64(_)) | (Data::F64(_), Data::F32(_)) => {
            (a.to_dtype(crate::real::DType::F64), b.to_dtype(crate::real::DType::F64))
        }
        _ => (a.clone(), b.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(broadcast_shapes("add", &[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert_eq!(broadcast_shapes("add", &[], &[5]).unwrap(), vec![5]);
        assert_eq!(broadcast_shapes("add", &[0], &[1]).unwrap(), vec![0]);
        assert_eq!(
            broadcast_shapes("add", &[2, 3], &[4]).unwrap_err().to_string(),
            "add: shapes [2, 3] and [4] cannot be broadcast together"
        );
    }
}
