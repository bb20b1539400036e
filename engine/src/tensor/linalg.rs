//! Matrix products (`matmul` in PyTorch's 1-D, 2-D and batched forms, `dot`) and transposes.
//!
//! All the forms of `matmul` reduce to one batched product of ≥2-D tensors, whose backward is
//! two batched products; 1-D operands are given a unit dimension before and have it removed
//! after, by differentiable reshapes.

use super::broadcast::{broadcast_shapes, promote};
use super::{checked_alloc, norm_dim, with_dtype, Arr, Elem, Tensor};
use crate::error::{Error, Result};
use ndarray::{linalg::general_mat_mul, Array3, Axis, Ix3, IxDyn};

impl Tensor {
    /// The matrix product, as `torch.matmul`: 1-D·1-D is a dot product, a 1-D left (right)
    /// operand is a row (column) vector whose unit dimension is removed from the result, and
    /// ≥3-D operands are stacks of matrices whose batch dimensions broadcast.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = promote(self, other);
        match (a.ndim(), b.ndim()) {
            (0, _) | (_, 0) => Err(Error::tensor(
                "matmul",
                format!("both operands need at least one dimension, got shapes {:?} and {:?}", a.shape(), b.shape()),
            )),
            (1, 1) => a.dot(&b),
            (1, _) => a.unsqueeze(0)?.batched_matmul(&b)?.squeeze(-2),
            (_, 1) => a.batched_matmul(&b.unsqueeze(-1)?)?.squeeze(-1),
            _ => a.batched_matmul(&b),
        }
    }

    /// The dot product of two 1-D tensors of the same length.
    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || other.shape() != self.shape() {
            return Err(Error::tensor(
                "dot",
                format!(
                    "expects two 1-D tensors of the same length, got shapes {:?} and {:?}",
                    self.shape(),
                    other.shape()
                ),
            ));
        }
        Ok(self.mul(other)?.sum_all())
    }

    /// `(..., m, k) × (..., k, n) → (..., m, n)` with broadcast batch dimensions.
    fn batched_matmul(&self, other: &Tensor) -> Result<Tensor> {
        let op = "matmul";
        let (sa, sb) = (self.shape(), other.shape());
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        if k != k2 {
            return Err(Error::tensor(
                op,
                format!("shapes {sa:?} and {sb:?} do not match: {k} column(s) against {k2} row(s)"),
            ));
        }
        let batch = broadcast_shapes(op, &sa[..sa.len() - 2], &sb[..sb.len() - 2]).map_err(|_| {
            Error::tensor(op, format!("the batch dimensions of shapes {sa:?} and {sb:?} cannot be broadcast together"))
        })?;
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        checked_alloc(op, &out_shape, self.dtype())?;
        let data = with_dtype!(self.dtype(), T => {
            let (x, y) = (self.data().get::<T>(op)?, other.data().get::<T>(op)?);
            T::wrap(matmul_arrays(x, y, &batch, (m, k, n))?)
        });
        Ok(Tensor::record(data, op, vec![self.clone(), other.clone()], |bw| {
            let (a, b, g) = (&bw.inputs[0], &bw.inputs[1], bw.grad);
            let ga = bw.needs[0].then(|| g.batched_matmul(&b.mt()?)?.sum_to(a.shape())).transpose()?;
            let gb = bw.needs[1].then(|| a.mt()?.batched_matmul(g)?.sum_to(b.shape())).transpose()?;
            Ok(vec![ga, gb])
        }))
    }

    /// The last two dimensions swapped.
    fn mt(&self) -> Result<Tensor> {
        self.transpose(-2, -1)
    }

    /// Dimensions `d0` and `d1` swapped (a view: no data is copied).
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let op = "transpose";
        let (a, b) = (norm_dim(op, d0, self.ndim())?, norm_dim(op, d1, self.ndim())?);
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        let data = with_dtype!(data self.data(), x => Elem::wrap(x.clone().permuted_axes(IxDyn(&perm))));
        Ok(Tensor::record(data, op, vec![self.clone()], move |bw| Ok(vec![Some(bw.grad.transpose(d0, d1)?)])))
    }

    /// The transpose of a matrix; 0-D and 1-D tensors are returned as they are (as in PyTorch).
    pub fn t(&self) -> Result<Tensor> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            _ => Err(Error::tensor(
                "t",
                format!("expects a tensor with at most 2 dimensions, got shape {:?}", self.shape()),
            )),
        }
    }
}

/// The batched product of arrays already checked to be `batch × (m, k)` and `batch × (k, n)` up to broadcasting.
fn matmul_arrays<T: Elem>(x: &Arr<T>, y: &Arr<T>, batch: &[usize], (m, k, n): (usize, usize, usize)) -> Result<Arr<T>> {
    let bad = |e: ndarray::ShapeError| Error::tensor("matmul", format!("internal error: {e}"));
    let nb: usize = batch.iter().product();
    // Each operand is materialised as a contiguous stack of nb matrices (broadcast batches repeated).
    let stack = |a: &Arr<T>, r: usize, c: usize| -> Result<Array3<T>> {
        let mut shape = batch.to_vec();
        shape.extend([r, c]);
        let v = a
            .broadcast(IxDyn(&shape))
            .ok_or_else(|| Error::tensor("matmul", "internal error: batch broadcast refused"))?;
        v.as_standard_layout().into_owned().into_shape_with_order((nb, r, c)).map_err(bad)
    };
    let (xs, ys) = (stack(x, m, k)?, stack(y, k, n)?);
    let mut out = Array3::<T>::zeros((nb, m, n));
    for (i, mut o) in out.axis_iter_mut(Axis(0)).enumerate() {
        general_mat_mul(T::one(), &xs.index_axis(Axis(0), i), &ys.index_axis(Axis(0), i), T::zero(), &mut o);
    }
    let mut shape = batch.to_vec();
    shape.extend([m, n]);
    let out: ndarray::Array<T, Ix3> = out;
    Ok(out.into_shape_with_order(IxDyn(&shape)).map_err(bad)?.into_shared())
}
