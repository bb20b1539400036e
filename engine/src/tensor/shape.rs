//! Shape ops: reshape (with −1), squeeze/unsqueeze, slicing, indexing, `cat` and `stack`.
//!
//! Slicing and reshaping share their input's memory when its layout allows; the backward
//! of a slice embeds the gradient in zeros (`embed`, itself differentiable by a slice).

use super::{norm_dim, with_dtype, Elem, Tensor};
use crate::error::{Error, Result};
use crate::real::DType;
use ndarray::{Axis, IxDyn, Slice};

impl Tensor {
    /// The same values in a new shape; one dimension may be −1, inferred from the others.
    pub fn reshape(&self, shape: &[isize]) -> Result<Tensor> {
        let op = "reshape";
        let bad = || Error::tensor(op, format!("cannot reshape a tensor of shape {:?} to {shape:?}", self.shape()));
        let known = shape
            .iter()
            .filter(|&&d| d >= 0)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
            .ok_or_else(bad)?;
        let inferred = match shape.iter().filter(|&&d| d < 0).collect::<Vec<_>>()[..] {
            [] => None,
            [-1] if known > 0 && self.numel().is_multiple_of(known) => Some(self.numel() / known),
            _ => return Err(bad()),
        };
        let target: Vec<usize> =
            shape.iter().map(|&d| if d < 0 { inferred.unwrap_or(0) } else { d as usize }).collect();
        if target.iter().product::<usize>() != self.numel() {
            return Err(bad());
        }
        self.reshape_to(&target)
    }

    /// PyTorch's name for [`Tensor::reshape`] (here it never fails for layout reasons: a copy is made if needed).
    pub fn view(&self, shape: &[isize]) -> Result<Tensor> {
        self.reshape(shape)
    }

    /// Reshape to a shape with the same number of elements.
    pub(crate) fn reshape_to(&self, shape: &[usize]) -> Result<Tensor> {
        let op = "reshape";
        if shape == self.shape() {
            return Ok(self.clone());
        }
        if shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) != Some(self.numel()) {
            return Err(Error::tensor(op, format!("cannot reshape a tensor of shape {:?} to {shape:?}", self.shape())));
        }
        let data = with_dtype!(data self.data(), a => {
            let a = if a.is_standard_layout() { a.clone() } else { a.as_standard_layout().into_owned().into_shared() };
            Elem::wrap(a.into_shape_with_order(IxDyn(shape)).map_err(|e| Error::tensor(op, e.to_string()))?)
        });
        let from = self.shape().to_vec();
        Ok(Tensor::record(data, op, vec![self.clone()], move |b| Ok(vec![Some(b.grad.reshape_to(&from)?)])))
    }

    /// A dimension of size 1 inserted at `dim` (−1 appends one).
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let d = norm_dim("unsqueeze", dim, self.ndim() + 1)?;
        let mut shape = self.shape().to_vec();
        shape.insert(d, 1);
        self.reshape_to(&shape)
    }

    /// The dimension `dim` removed, which must have size 1.
    pub fn squeeze(&self, dim: isize) -> Result<Tensor> {
        let d = norm_dim("squeeze", dim, self.ndim())?;
        if self.shape()[d] != 1 {
            return Err(Error::tensor(
                "squeeze",
                format!("dimension {dim} of shape {:?} does not have size 1", self.shape()),
            ));
        }
        let mut shape = self.shape().to_vec();
        shape.remove(d);
        self.reshape_to(&shape)
    }

    /// Elements `start..end` along `dim`; bounds are clamped and may be negative, as Python slices.
    pub fn slice(&self, dim: isize, start: isize, end: isize) -> Result<Tensor> {
        let d = norm_dim("slice", dim, self.ndim())?;
        let len = self.shape()[d] as isize;
        let clamp = |i: isize| (if i < 0 { i + len } else { i }).clamp(0, len) as usize;
        let (s, e) = (clamp(start), clamp(end));
        Ok(self.slice_range(d, s, e.max(s)))
    }

    /// Elements `s..e` (in range, s ≤ e) along dimension `d`.
    fn slice_range(&self, d: usize, s: usize, e: usize) -> Tensor {
        let data =
            with_dtype!(data self.data(), a => Elem::wrap(a.clone().slice_axis_move(Axis(d), Slice::from(s..e))));
        let len = self.shape()[d];
        Tensor::record(data, "slice", vec![self.clone()], move |b| Ok(vec![Some(b.grad.embed(d, s, len))]))
    }

    /// Zeros of length `len` along `d`, with this tensor at offset `s`: the adjoint of a slice.
    fn embed(&self, d: usize, s: usize, len: usize) -> Tensor {
        let mut shape = self.shape().to_vec();
        let n = shape[d];
        shape[d] = len;
        let data = with_dtype!(data self.data(), a => {
            let mut z = ndarray::ArrayD::zeros(IxDyn(&shape));
            z.slice_axis_mut(Axis(d), Slice::from(s..s + n)).assign(a);
            Elem::wrap(z.into_shared())
        });
        Tensor::record(data, "embed", vec![self.clone()], move |b| Ok(vec![Some(b.grad.slice_range(d, s, s + n))]))
    }

    /// Element `i` along dimension 0, which is removed (`x.index(-1)` is the last row).
    pub fn index(&self, i: isize) -> Result<Tensor> {
        let op = "index";
        let Some(&len) = self.shape().first() else {
            return Err(Error::tensor(op, "a 0-D tensor cannot be indexed"));
        };
        let k = if i < 0 { i + len as isize } else { i };
        if k < 0 || k >= len as isize {
            return Err(Error::tensor(
                op,
                format!("index {i} is out of range for dimension 0 of shape {:?}", self.shape()),
            ));
        }
        self.slice_range(0, k as usize, k as usize + 1).reshape_to(&self.shape()[1..])
    }

    /// The tensors joined along `dim`; their shapes must agree elsewhere. Mixed dtypes give float64.
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let op = "cat";
        let first = tensors.first().ok_or_else(|| Error::tensor(op, "needs at least one tensor"))?;
        let d = norm_dim(op, dim, first.ndim())?;
        for (k, t) in tensors.iter().enumerate() {
            let agree = t.ndim() == first.ndim() && (0..t.ndim()).all(|i| i == d || t.shape()[i] == first.shape()[i]);
            if !agree {
                return Err(Error::tensor(
                    op,
                    format!(
                        "tensor {k} has shape {:?} but tensor 0 has shape {:?} (they may differ only in dimension {dim})",
                        t.shape(),
                        first.shape()
                    ),
                ));
            }
        }
        let dtype = if tensors.iter().any(|t| t.dtype() == DType::F64) { DType::F64 } else { DType::F32 };
        let inputs: Vec<Tensor> = tensors.iter().map(|t| t.to_dtype(dtype)).collect();
        let data = with_dtype!(dtype, T => {
            let views = inputs.iter().map(|t| Ok(t.data().get::<T>(op)?.view())).collect::<Result<Vec<_>>>()?;
            T::wrap(ndarray::concatenate(Axis(d), &views).map_err(|e| Error::tensor(op, e.to_string()))?.into_shared())
        });
        let lens: Vec<usize> = inputs.iter().map(|t| t.shape()[d]).collect();
        Ok(Tensor::record(data, op, inputs, move |b| {
            let mut start = 0;
            Ok(lens
                .iter()
                .map(|&n| {
                    start += n;
                    Some(b.grad.slice_range(d, start - n, start))
                })
                .collect())
        }))
    }

    /// The tensors, all of one shape, stacked along a new dimension `dim`.
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let op = "stack";
        let first = tensors.first().ok_or_else(|| Error::tensor(op, "needs at least one tensor"))?;
        if let Some((k, t)) = tensors.iter().enumerate().find(|(_, t)| t.shape() != first.shape()) {
            return Err(Error::tensor(
                op,
                format!("tensor {k} has shape {:?} but tensor 0 has shape {:?}", t.shape(), first.shape()),
            ));
        }
        let d = norm_dim(op, dim, first.ndim() + 1)? as isize;
        let expanded = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<Vec<_>>>()?;
        Tensor::cat(&expanded.iter().collect::<Vec<_>>(), d)
    }
}
