//! Reductions over dimensions: sum, mean, max, min, over one dimension (with `keepdim`) or over all.
//!
//! Sum and the extrema are each one op over a set of dimensions; `mean` is a sum divided by a
//! count. The gradient of max and min is shared equally by the elements that attain the
//! extremum (as PyTorch's `amax`): ties split the gradient instead of picking one of them.

use super::{checked_alloc, norm_dim, with_dtype, Arr, Elem, Tensor};
use crate::error::{Error, Result};
use ndarray::{ArrayD, Axis, IxDyn};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Sum,
    Max,
    Min,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sum => "sum",
            Kind::Max => "max",
            Kind::Min => "min",
        }
    }
}

impl Tensor {
    /// The sum over dimension `dim`, which is kept with size 1 if `keepdim`.
    pub fn sum(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let d = norm_dim("sum", dim, self.ndim())?;
        self.check_output("sum", d)?;
        Ok(self.reduce(Kind::Sum, &[d], keepdim))
    }

    /// The sum of all elements, as a 0-D tensor.
    pub fn sum_all(&self) -> Tensor {
        self.reduce(Kind::Sum, &(0..self.ndim()).collect::<Vec<_>>(), false)
    }

    /// The mean over dimension `dim` (NaN for an empty dimension).
    pub fn mean(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let d = norm_dim("mean", dim, self.ndim())?;
        self.check_output("mean", d)?;
        Ok(self.reduce(Kind::Sum, &[d], keepdim) / self.shape()[d] as f64)
    }

    pub fn mean_all(&self) -> Tensor {
        self.sum_all() / self.numel() as f64
    }

    /// The maximum over dimension `dim` (NaN if any element is NaN); an empty dimension is an error.
    pub fn max(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.extremum(Kind::Max, Some(dim), keepdim)
    }

    pub fn max_all(&self) -> Result<Tensor> {
        self.extremum(Kind::Max, None, false)
    }

    pub fn min(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.extremum(Kind::Min, Some(dim), keepdim)
    }

    pub fn min_all(&self) -> Result<Tensor> {
        self.extremum(Kind::Min, None, false)
    }

    /// A reduction of an empty tensor can have more values than its input (\[0, n\] summed over
    /// dimension 0 is n zeros): that output is checked against the memory budget first.
    fn check_output(&self, op: &str, d: usize) -> Result<()> {
        if self.numel() == 0 {
            let mut shape = self.shape().to_vec();
            shape.remove(d);
            checked_alloc(op, &shape, self.dtype())?;
        }
        Ok(())
    }

    /// Max or min over `dim`, or over all dimensions; there is no extremum of nothing.
    fn extremum(&self, kind: Kind, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
        let op = kind.name();
        let dims = match dim {
            Some(dim) => vec![norm_dim(op, dim, self.ndim())?],
            None => (0..self.ndim()).collect(),
        };
        if dims.iter().any(|&d| self.shape()[d] == 0) {
            return Err(Error::tensor(op, format!("cannot reduce an empty dimension (shape {:?})", self.shape())));
        }
        Ok(self.reduce(kind, &dims, keepdim))
    }

    /// `kind` over the distinct, in-range dimensions `dims` (non-empty ones for max and min).
    fn reduce(&self, kind: Kind, dims: &[usize], keepdim: bool) -> Tensor {
        let op = kind.name();
        let data = with_dtype!(data self.data(), a => Elem::wrap(reduce_array(a, kind, dims, keepdim)));
        let dims = dims.to_vec();
        Tensor::record(data, op, vec![self.clone()], move |b| {
            let x = &b.inputs[0];
            let mut kept = x.shape().to_vec();
            for &d in &dims {
                kept[d] = 1;
            }
            let g = b.grad.reshape_to(&kept)?;
            Ok(vec![Some(match kind {
                Kind::Sum => g.broadcast_to(x.shape())?,
                Kind::Max | Kind::Min => {
                    let hit = x.eq(&b.out.reshape_to(&kept)?)?;
                    let count = hit.reduce(Kind::Sum, &dims, true);
                    g.mul(&hit)?.div(&count)?
                }
            })])
        })
    }
}

fn reduce_array<T: Elem>(a: &Arr<T>, kind: Kind, dims: &[usize], keepdim: bool) -> Arr<T> {
    let mut sorted = dims.to_vec();
    sorted.sort_unstable();
    if a.is_empty() {
        // Nothing to fold (an extremum of nothing was refused before): the result is filled
        // directly, since folding an axis of empty lanes can take billions of steps.
        let shape: Vec<usize> = (0..a.ndim())
            .filter_map(|d| match sorted.binary_search(&d) {
                Ok(_) if keepdim => Some(1),
                Ok(_) => None,
                Err(_) => Some(a.shape()[d]),
            })
            .collect();
        return ArrayD::from_elem(IxDyn(&shape), T::zero()).into_shared();
    }
    let mut r = a.to_owned();
    // From the last dimension down, so that removing one does not shift the others.
    for &d in sorted.iter().rev() {
        r = match kind {
            Kind::Sum => r.sum_axis(Axis(d)),
            // NaN wins, as in PyTorch: `x > acc` alone would skip it.
            Kind::Max => r.fold_axis(Axis(d), T::neg_infinity(), |&acc, &x| extremum(acc, x, true)),
            Kind::Min => r.fold_axis(Axis(d), T::infinity(), |&acc, &x| extremum(acc, x, false)),
        };
        if keepdim {
            r = r.insert_axis(Axis(d));
        }
    }
    r.into_shared()
}

/// The larger (smaller) of two values, NaN winning as in PyTorch (`x > acc` alone would skip it).
fn extremum<T: Elem>(acc: T, x: T, max: bool) -> T {
    let better = if max { x > acc } else { x < acc };
    if acc.is_nan() || !(x.is_nan() || better) {
        acc
    } else {
        x
    }
}
