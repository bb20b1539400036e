//! Shapes and elements: properties, reshape/view, transposes, indexing and slicing, cat/stack, conversions.

use super::{check_dim, int_forms, ok};
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::{dtype_from_name, ints_of, shape_to_array, tensor_to_array, to_tensor};
use noyau_engine::{DType, Tensor};
use rhai::{Array, Dynamic, Engine, ImmutableString, INT};
use std::ops::{Range, RangeInclusive};
use std::rc::Rc;

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    register_properties(engine);
    register_reshapes(engine);
    register_indexing(engine);
    register_joins(engine, ctx);
}

fn register_properties(engine: &mut Engine) {
    doc("get$shape(x: Tensor) -> array", "The shape, as an array of ints: x.shape[0] is the number of rows.")
        .register_into_engine(engine, |x: Tensor| shape_to_array(x.shape()));
    doc("get$ndim(x: Tensor) -> int", "The number of dimensions.")
        .register_into_engine(engine, |x: Tensor| x.ndim() as INT);
    doc("get$dtype(x: Tensor) -> string", "The element type: \"float32\" or \"float64\".")
        .register_into_engine(engine, |x: Tensor| x.dtype().name().to_string());
    doc("numel(x: Tensor) -> int", "The number of elements.")
        .register_into_engine(engine, |x: Tensor| x.numel() as INT);
    doc("len(x: Tensor) -> int", "The length of the first dimension (an error for a 0-D tensor).")
        .register_into_engine(engine, |x: Tensor| -> RhaiResult<INT> {
            x.shape().first().map(|&n| n as INT).ok_or_else(|| rt("len", "a 0-D tensor has no length (use .item())"))
        });
    doc("item(x: Tensor) -> float", "The value of a one-element tensor, as a float.")
        .register_into_engine(engine, |x: Tensor| ok(x.item()));
    doc("to_array(x: Tensor) -> array", "The values as nested arrays of floats (a float for a 0-D tensor).")
        .register_into_engine(engine, |x: Tensor| tensor_to_array(&x));
    doc("double(x: Tensor) -> Tensor", "The tensor as float64 (differentiable).")
        .register_into_engine(engine, |x: Tensor| x.to_dtype(DType::F64));
    doc("float(x: Tensor) -> Tensor", "The tensor as float32 (differentiable).")
        .register_into_engine(engine, |x: Tensor| x.to_dtype(DType::F32));
    doc(
        "to(x: Tensor, dtype: string) -> Tensor",
        "The tensor in the given dtype, \"float32\" or \"float64\" (differentiable).",
    )
    .register_into_engine(engine, |x: Tensor, name: ImmutableString| -> RhaiResult<Tensor> {
        Ok(x.to_dtype(dtype_from_name("to", &name)?))
    });
}

fn register_reshapes(engine: &mut Engine) {
    for name in ["reshape", "view"] {
        let text = format!(
            "The same values in a new shape, given as several ints or one array; one dimension may\n\
             be -1, inferred from the others: x.{name}(-1, 1) is a column."
        );
        int_forms!(engine, name, "shape", &text, [x: Tensor], "Tensor", move |x: Tensor, dims: Vec<Dynamic>| {
            let dims: Vec<isize> = ints_of(name, &dims)?.into_iter().map(|d| d as isize).collect();
            ok(x.reshape(&dims))
        });
    }
    doc("t(x: Tensor) -> Tensor", "The transpose of a matrix; 0-D and 1-D tensors are returned unchanged.")
        .register_into_engine(engine, |x: Tensor| ok(x.t()));
    doc("get$T(x: Tensor) -> Tensor", "The transpose of a matrix (as x.t()).")
        .register_into_engine(engine, |x: Tensor| ok(x.t()));
    doc(
        "transpose(x: Tensor, dim0: int, dim1: int) -> Tensor",
        "Dimensions dim0 and dim1 swapped (negative dims count from the end).",
    )
    .register_into_engine(engine, |x: Tensor, a: INT, b: INT| -> RhaiResult<Tensor> {
        let (a, b) = (check_dim("transpose", a, x.shape(), 0)?, check_dim("transpose", b, x.shape(), 0)?);
        ok(x.transpose(a, b))
    });
    doc("squeeze(x: Tensor, dim: int) -> Tensor", "Dimension `dim` removed; it must have size 1.")
        .register_into_engine(engine, |x: Tensor, d: INT| ok(x.squeeze(check_dim("squeeze", d, x.shape(), 0)?)));
    doc("squeeze(x: Tensor) -> Tensor", "Every dimension of size 1 removed.").register_into_engine(
        engine,
        |x: Tensor| {
            let shape: Vec<isize> = x.shape().iter().filter(|&&n| n != 1).map(|&n| n as isize).collect();
            ok(x.reshape(&shape))
        },
    );
    doc("unsqueeze(x: Tensor, dim: int) -> Tensor", "A dimension of size 1 inserted at `dim` (-1 appends one).")
        .register_into_engine(engine, |x: Tensor, d: INT| ok(x.unsqueeze(check_dim("unsqueeze", d, x.shape(), 1)?)));
}

fn register_indexing(engine: &mut Engine) {
    doc(
        "index$get$(x: Tensor, i: int) -> Tensor",
        "x[i]: element i along the first dimension, which is removed (x[-1] is the last row).",
    )
    .register_into_engine(engine, |x: Tensor, i: INT| ok(x.index(i as isize)));
    let range_doc = "x[a..b]: rows a to b (excluded, or included with a..=b) along the first dimension,\n\
                     clamped to the tensor, as x.slice(0, a, b).";
    doc("index$get$(x: Tensor, range: range) -> Tensor", range_doc)
        .register_into_engine(engine, |x: Tensor, r: Range<INT>| slice(&x, 0, r.start, r.end));
    doc("index$get$(x: Tensor, range: range=) -> Tensor", range_doc)
        .register_into_engine(engine, |x: Tensor, r: RangeInclusive<INT>| {
            slice(&x, 0, *r.start(), r.end().saturating_add(1))
        });
    doc(
        "slice(x: Tensor, dim: int, start: int, end: int) -> Tensor",
        "Elements start..end (end excluded) along `dim`; bounds may be negative and are clamped, as in Python.",
    )
    .register_into_engine(engine, |x: Tensor, d: INT, a: INT, b: INT| slice(&x, d, a, b));
    doc("slice(x: Tensor, dim: int, start: int) -> Tensor", "Elements from `start` to the end along `dim`.")
        .register_into_engine(engine, |x: Tensor, d: INT, a: INT| slice(&x, d, a, INT::MAX));
}

fn slice(x: &Tensor, dim: INT, start: INT, end: INT) -> RhaiResult<Tensor> {
    let d = check_dim("slice", dim, x.shape(), 0)?;
    let clamp = |i: INT| i.clamp(isize::MIN as INT, isize::MAX as INT) as isize;
    ok(x.slice(d, clamp(start), clamp(end)))
}

fn register_joins(engine: &mut Engine, ctx: &Rc<Context>) {
    type Join = fn(&[&Tensor], isize) -> noyau_engine::Result<Tensor>;
    let joins: [(&str, &str, Join, usize); 2] = [
        ("cat", "The tensors joined along `dim` (default 0); their shapes must agree elsewhere.", Tensor::cat, 0),
        ("stack", "The tensors, all of one shape, stacked along a new dimension `dim` (default 0).", Tensor::stack, 1),
    ];
    for (name, text, join, extra) in joins {
        let c = ctx.clone();
        let body = Rc::new(move |list: Array, dim: INT| -> RhaiResult<Tensor> {
            let tensors = list
                .iter()
                .enumerate()
                .map(|(k, d)| to_tensor(d, &c, &format!("{name}: item {k}")))
                .collect::<RhaiResult<Vec<_>>>()?;
            let first = tensors.first().ok_or_else(|| rt(name, "needs at least one tensor"))?;
            let d = check_dim(name, dim, first.shape(), extra)?;
            ok(join(&tensors.iter().collect::<Vec<_>>(), d))
        });
        let b = body.clone();
        doc(&format!("{name}(tensors: array, dim: int) -> Tensor"), text)
            .register_into_engine(engine, move |l: Array, d: INT| b(l, d));
        doc(&format!("{name}(tensors: array) -> Tensor"), text)
            .register_into_engine(engine, move |l: Array| body(l, 0));
    }
}
