//! What tensors store: shared ndarray arrays of f32 or f64, and the `Elem` trait that generic tensor code is written over.
//!
//! This module is private, so `Data` and the methods of `Elem` cannot be named outside the
//! crate: `Elem` is a public bound (`Tensor::from_array::<T: Elem>`) that only f32 and f64 satisfy.

use super::with_dtype;
use crate::error::{Error, Result};
use crate::real::{DType, Real};
use ndarray::{ArcArray, IxDyn, LinalgScalar, ScalarOperand};

/// The arrays tensors hold: shared (copy on write), so that clones, detaches and views are cheap.
pub type Arr<T> = ArcArray<T, IxDyn>;

/// A tensor's values in one of the two dtypes.
#[derive(Clone)]
pub enum Data {
    F32(Arr<f32>),
    F64(Arr<f64>),
}

/// The element types of tensors: what generic tensor code is written over.
pub trait Elem: Real + LinalgScalar + ScalarOperand {
    fn wrap(a: Arr<Self>) -> Data;
    fn typed(d: &Data) -> Option<&Arr<Self>>;
}

impl Elem for f32 {
    fn wrap(a: Arr<f32>) -> Data {
        Data::F32(a)
    }
    fn typed(d: &Data) -> Option<&Arr<f32>> {
        match d {
            Data::F32(a) => Some(a),
            Data::F64(_) => None,
        }
    }
}

impl Elem for f64 {
    fn wrap(a: Arr<f64>) -> Data {
        Data::F64(a)
    }
    fn typed(d: &Data) -> Option<&Arr<f64>> {
        match d {
            Data::F64(a) => Some(a),
            Data::F32(_) => None,
        }
    }
}

impl Data {
    pub(crate) fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
        }
    }

    pub(crate) fn shape(&self) -> &[usize] {
        with_dtype!(data self, a => a.shape())
    }

    /// The typed array, or an internal error if the dtype is not `T` (callers promote first).
    pub(crate) fn get<T: Elem>(&self, op: &str) -> Result<&Arr<T>> {
        T::typed(self).ok_or_else(|| {
            Error::tensor(op, format!("internal error: expected {} data, got {}", T::DTYPE.name(), self.dtype().name()))
        })
    }

    pub(crate) fn cast(&self, dtype: DType) -> Data {
        with_dtype!(dtype, T => with_dtype!(data self, a => T::wrap(a.mapv(|x| T::from_f64(x.as_f64())).into_shared())))
    }
}
