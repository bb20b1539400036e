//! Dense n-dimensional tensors with reverse-mode autograd: the PyTorch-like layer under scripts and notebooks.
//!
//! A [`Tensor`] is an `Arc` around its data (an ndarray `ArcArray` of f32 or f64, the dtype
//! chosen at run time) and, when it was computed from tensors that require gradients, the
//! autograd node that produced it: the op's inputs and a backward closure. Nodes form a DAG
//! (the "tape" is implicit in the `Arc`s); [`grad`] walks it from an output in reverse
//! topological order. Backward closures are written with tensor ops, so gradients are
//! themselves differentiable ([`grad_with`] with `create_graph`).
//!
//! [`Tensor::lazy_reduce`] puts a symbolic reduction (a [`crate::Reduce`]) on the same tape: its
//! forward and backward passes are reductions, never an N×M array (see `lazy.rs` for the
//! orders of differentiation it supports).
//!
//! Conventions:
//! - Every op that can fail returns `Result` with an [`Error::Tensor`] naming the op and the
//!   shapes; nothing reachable from input panics. Operator overloads (`-t`, `&t * 2.0`, ...)
//!   exist only for the ops that cannot fail: unary minus and tensor–scalar arithmetic.
//! - Mixed dtypes are promoted to float64, for every op (matmul included, unlike PyTorch, which
//!   refuses there): the float32 operand goes through a differentiable cast, so its gradient
//!   comes back as float32.
//! - Dimensions are `isize` where PyTorch accepts negative ones (`-1` is the last).
//!
//! Generic code is written once over [`Elem`] (f32, f64) and reached through the one
//! dispatch macro, `with_dtype!`.

mod autograd;
mod broadcast;
mod display;
mod lazy;
mod linalg;
mod ops;
mod reduce;
mod shape;
mod storage;

pub use autograd::{grad, grad_with, is_grad_enabled, no_grad};
pub use storage::Elem;
pub(crate) use storage::{Arr, Data};

use crate::error::{Error, Result};
use crate::random::Rng;
use crate::real::{DType, Real};
use autograd::Node;
use ndarray::{Array2, ArrayD, IxDyn};
use std::sync::{Arc, Mutex};

/// The one place where a run-time dtype becomes a compile-time type: runs `$body` with the type
/// alias `$T` set to the element type of `$dtype`, or (second form) with `$a` bound to the
/// typed array of a `Data`.
macro_rules! with_dtype {
    (data $data:expr, $a:ident => $body:expr) => {
        match $data {
            $crate::tensor::Data::F32($a) => $body,
            $crate::tensor::Data::F64($a) => $body,
        }
    };
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::real::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::real::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

/// An n-dimensional array of f32 or f64 that records the operations applied to it for reverse-mode autodiff.
///
/// ```
/// use noyau_engine::tensor::{grad, Tensor};
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap().requires_grad();
/// let y = x.mul(&x).unwrap().sum_all();
/// let g = grad(&y, &[&x], None).unwrap();
/// assert_eq!(g[0].to_vec_f64(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) data: Data,
    /// A leaf marked by `requires_grad()`, or the output of a recorded op.
    pub(crate) requires_grad: bool,
    pub(crate) node: Option<Node>,
    /// Where [`Tensor::backward`] accumulates this leaf's gradient.
    pub(crate) grad: Mutex<Option<Tensor>>,
}

impl Tensor {
    pub(crate) fn from_data(data: Data) -> Tensor {
        Tensor(Arc::new(Inner { data, requires_grad: false, node: None, grad: Mutex::new(None) }))
    }

    pub(crate) fn data(&self) -> &Data {
        &self.0.data
    }

    pub(crate) fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }

    /// Wraps an ndarray array (any dimensionality; f32 or f64).
    pub fn from_array<T: Elem, D: ndarray::Dimension>(a: ndarray::Array<T, D>) -> Tensor {
        Tensor::from_data(T::wrap(a.into_dyn().into_shared()))
    }

    /// A tensor from row-major values and a shape.
    pub fn from_vec<T: Elem>(values: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let len = checked_len("from_vec", shape)?;
        if len != values.len() {
            return Err(Error::tensor(
                "from_vec",
                format!("{} values cannot have shape {shape:?} ({len} values)", values.len()),
            ));
        }
        ArrayD::from_shape_vec(IxDyn(shape), values)
            .map(Tensor::from_array)
            .map_err(|e| Error::tensor("from_vec", e.to_string()))
    }

    /// A 0-dimensional tensor.
    pub fn scalar(value: f64, dtype: DType) -> Tensor {
        with_dtype!(dtype, T => Tensor::from_array(ndarray::arr0(T::from_f64(value))))
    }

    /// A tensor of the given shape filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        Tensor::filled("full", shape, value, dtype)
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::filled("zeros", shape, 0.0, dtype)
    }

    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::filled("ones", shape, 1.0, dtype)
    }

    /// A tensor filled with `value`, errors naming `op` (the function the caller called).
    fn filled(op: &str, shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        checked_alloc(op, shape, dtype)?;
        Ok(with_dtype!(dtype, T => Tensor::from_array(ArrayD::from_elem(IxDyn(shape), T::from_f64(value)))))
    }

    /// Zeros of this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        with_dtype!(self.dtype(), T => Tensor::from_array(ArrayD::<T>::zeros(IxDyn(self.shape()))))
    }

    /// Standard normal values drawn from `rng` (the same seed gives the same tensor everywhere).
    pub fn randn(shape: &[usize], dtype: DType, rng: &mut Rng) -> Result<Tensor> {
        Tensor::generate("randn", shape, dtype, || rng.normal())
    }

    /// Uniform values in [0, 1) drawn from `rng`.
    pub fn rand(shape: &[usize], dtype: DType, rng: &mut Rng) -> Result<Tensor> {
        Tensor::generate("rand", shape, dtype, || rng.uniform())
    }

    fn generate(op: &str, shape: &[usize], dtype: DType, mut f: impl FnMut() -> f64) -> Result<Tensor> {
        checked_alloc(op, shape, dtype)?;
        Ok(with_dtype!(dtype, T => Tensor::from_array(ArrayD::from_shape_simple_fn(IxDyn(shape), || T::from_f64(f())))))
    }

    pub fn shape(&self) -> &[usize] {
        self.data().shape()
    }

    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    pub fn dtype(&self) -> DType {
        self.data().dtype()
    }

    /// True when both are the same tensor object (clones of one handle), not merely equal values.
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether gradients flow to this tensor (a marked leaf or the result of a recorded op).
    pub fn is_requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The name of the op that produced this tensor, if it was recorded (`None` for leaves).
    pub fn grad_fn(&self) -> Option<&'static str> {
        self.node().map(|n| n.op)
    }

    /// A new leaf sharing these values, whose gradients [`grad`] can ask for.
    pub fn requires_grad(&self) -> Tensor {
        Tensor(Arc::new(Inner { data: self.data().clone(), requires_grad: true, node: None, grad: Mutex::new(None) }))
    }

    /// The same values cut from the graph: a leaf that does not require gradients.
    pub fn detach(&self) -> Tensor {
        Tensor::from_data(self.data().clone())
    }

    /// The values as float64, whatever the dtype.
    pub fn to_f64_array(&self) -> ArrayD<f64> {
        with_dtype!(data self.data(), a => a.mapv(|x| x.as_f64()))
    }

    /// The values as float64, in row-major order.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.to_f64_array().iter().copied().collect()
    }

    /// The values of a 2-D tensor, converted to `T`; for other shapes an error.
    pub fn to_array2<T: Elem>(&self) -> Result<Array2<T>> {
        let a = with_dtype!(data self.data(), a => a.mapv(|x| T::from_f64(x.as_f64())));
        a.into_dimensionality()
            .map_err(|_| Error::tensor("to_array2", format!("expected a 2-D tensor, got shape {:?}", self.shape())))
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f64> {
        match self.to_vec_f64()[..] {
            [x] => Ok(x),
            _ => Err(Error::tensor(
                "item",
                format!("only one-element tensors have an item, got shape {:?}", self.shape()),
            )),
        }
    }

    /// Converts to `dtype` (differentiable: the gradient is cast back).
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        let from = self.dtype();
        Tensor::record(self.data().cast(dtype), "to_dtype", vec![self.clone()], move |b| {
            Ok(vec![Some(b.grad.to_dtype(from))])
        })
    }
}

impl From<ArrayD<f64>> for Tensor {
    fn from(a: ArrayD<f64>) -> Tensor {
        Tensor::from_array(a)
    }
}

impl From<ArrayD<f32>> for Tensor {
    fn from(a: ArrayD<f32>) -> Tensor {
        Tensor::from_array(a)
    }
}

impl From<Array2<f64>> for Tensor {
    fn from(a: Array2<f64>) -> Tensor {
        Tensor::from_array(a)
    }
}

impl From<Array2<f32>> for Tensor {
    fn from(a: Array2<f32>) -> Tensor {
        Tensor::from_array(a)
    }
}

/// The number of elements of a shape, or an error if it overflows (ndarray would panic).
pub(crate) fn checked_len(op: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| Error::tensor(op, format!("shape {shape:?} has too many elements")))
}

/// The number of values of a new tensor of `shape` in `dtype`, checked against the memory
/// budget before anything is allocated.
pub(crate) fn checked_alloc(op: &str, shape: &[usize], dtype: DType) -> Result<usize> {
    let len = checked_len(op, shape)?;
    crate::budget::check(op, len, dtype.bytes())?;
    Ok(len)
}

/// A possibly negative dimension index resolved against `ndim` dimensions.
pub(crate) fn norm_dim(op: &str, dim: isize, ndim: usize) -> Result<usize> {
    let d = if dim < 0 { dim + ndim as isize } else { dim };
    if d < 0 || d >= ndim as isize {
        return Err(Error::tensor(
            op,
            format!("dimension {dim} is out of range for a tensor with {ndim} dimension(s)"),
        ));
    }
    Ok(d as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn tensors_are_send_sync_and_cheap_to_clone() {
        assert_send_sync::<Tensor>();
        let t = Tensor::zeros(&[1000], DType::F32).unwrap();
        let u = t.clone().requires_grad();
        match (t.data(), u.data()) {
            (Data::F32(a), Data::F32(b)) => assert_eq!(a.as_ptr(), b.as_ptr()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn constructors_check_shapes() {
        assert!(Tensor::from_vec(vec![1.0f64, 2.0], &[3]).is_err());
        assert!(Tensor::zeros(&[usize::MAX, 2], DType::F64).is_err());
        assert_eq!(Tensor::scalar(2.5, DType::F32).item().unwrap(), 2.5);
        assert!(Tensor::ones(&[2], DType::F64).unwrap().item().is_err());
        let r = Tensor::randn(&[3, 2], DType::F32, &mut Rng::new(1)).unwrap();
        assert_eq!((r.shape(), r.dtype()), (&[3usize, 2][..], DType::F32));
        assert_eq!(r.to_vec_f64(), Tensor::randn(&[3, 2], DType::F32, &mut Rng::new(1)).unwrap().to_vec_f64());
    }
}
