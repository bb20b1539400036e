//! Conversions between Rhai values and tensors: numbers, nested arrays and `Tensor`s as function arguments.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use noyau_engine::{DType, Tensor};
use rhai::{Array, Dynamic, Engine, Scope, INT};

/// The name of the tensor type in scripts and error messages.
pub const TENSOR: &str = "Tensor";

/// A number (INT or FLOAT) as f64, or None.
pub fn as_number(d: &Dynamic) -> Option<f64> {
    d.as_float().ok().or_else(|| d.as_int().ok().map(|i| i as f64))
}

/// A tensor from a `Tensor`, a number (a 0-dimensional tensor) or a nested array of numbers,
/// in the session's default dtype for the last two.
pub fn to_tensor(d: &Dynamic, ctx: &Context, what: &str) -> RhaiResult<Tensor> {
    if let Some(t) = d.clone().try_cast::<Tensor>() {
        return Ok(t);
    }
    if let Some(x) = as_number(d) {
        return Ok(Tensor::scalar(x, ctx.dtype.get()));
    }
    if d.is_array() {
        return array_to_tensor(&d.clone().cast::<Array>(), ctx.dtype.get()).map_err(|e| rt(what, e));
    }
    Err(rt(what, format!("expected a tensor, a number or an array of numbers, got {}", d.type_name())))
}

/// A tensor from nested arrays: every level must be rectangular and the leaves numbers.
pub fn array_to_tensor(a: &Array, dtype: DType) -> Result<Tensor, String> {
    let mut shape = Vec::new();
    let mut values = Vec::new();
    flatten(&Dynamic::from_array(a.clone()), 0, &mut shape, &mut values)?;
    let t = Tensor::from_vec(values, &shape).map_err(|e| e.to_string())?;
    Ok(t.to_dtype(dtype))
}

fn flatten(d: &Dynamic, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> Result<(), String> {
    if let Some(x) = as_number(d) {
        if depth != shape.len() {
            return Err(format!("a number where a list was expected at depth {depth}: the array is not rectangular"));
        }
        out.push(x);
        return Ok(());
    }
    let Some(a) = d.read_lock::<Array>() else {
        return Err(format!("arrays must hold numbers, found {}", d.type_name()));
    };
    if depth == shape.len() {
        if out.is_empty() || depth == 0 {
            shape.push(a.len());
        } else {
            return Err(format!("a list where a number was expected at depth {depth}: the array is not rectangular"));
        }
    } else if shape[depth] != a.len() {
        return Err(format!(
            "rows of different lengths ({} and {}): the array is not rectangular",
            shape[depth],
            a.len()
        ));
    }
    for x in a.iter() {
        flatten(x, depth + 1, shape, out)?;
    }
    Ok(())
}

/// A tensor as nested Rhai arrays of FLOATs (`.to_array()`).
pub fn tensor_to_array(t: &Tensor) -> Dynamic {
    fn build(values: &[f64], shape: &[usize]) -> Dynamic {
        match shape.split_first() {
            None => Dynamic::from_float(values[0]),
            Some((&n, rest)) => {
                let step = rest.iter().product::<usize>();
                let items: Array = (0..n).map(|k| build(&values[k * step..(k + 1) * step], rest)).collect();
                Dynamic::from_array(items)
            }
        }
    }
    build(&t.to_vec_f64(), t.shape())
}

/// A dtype from its script name (`"float32"`, `"float64"`, and the short forms `"f32"`, `"f64"`).
pub fn dtype_from_name(what: &str, name: &str) -> RhaiResult<DType> {
    match name {
        "float32" | "f32" => Ok(DType::F32),
        "float64" | "f64" | "double" => Ok(DType::F64),
        _ => Err(rt(what, format!("unknown dtype \"{name}\": use \"float32\" or \"float64\""))),
    }
}

/// A size (a non-negative INT) as usize.
pub fn to_size(what: &str, n: INT) -> RhaiResult<usize> {
    usize::try_from(n).map_err(|_| rt(what, format!("sizes must be non-negative, got {n}")))
}

/// The integers of an array (a shape, a list of dims), checked one by one.
pub fn int_list(what: &str, a: &[Dynamic]) -> RhaiResult<Vec<INT>> {
    a.iter()
        .map(|d| {
            d.as_int().map_err(|_| rt(what, format!("expected an array of integers, found a {} in it", d.type_name())))
        })
        .collect()
}

/// Integers given as several INTs or as one array of INTs (`reshape(x, 2, -1)`, `reshape(x, [2, -1])`).
pub fn ints_of(what: &str, dims: &[Dynamic]) -> RhaiResult<Vec<INT>> {
    match dims {
        [d] if d.is_array() => int_list(what, &d.read_lock::<Array>().map(|a| a.clone()).unwrap_or_default()),
        _ => int_list(what, dims),
    }
}

/// A shape given as several INTs or as one array of INTs (`zeros(2, 3)`, `zeros([2, 3])`).
pub fn shape_of(what: &str, dims: &[Dynamic]) -> RhaiResult<Vec<usize>> {
    ints_of(what, dims)?.into_iter().map(|n| to_size(what, n)).collect()
}

/// A shape as a Rhai array of INTs (`.shape`).
pub fn shape_to_array(shape: &[usize]) -> Array {
    shape.iter().map(|&n| Dynamic::from_int(n as INT)).collect()
}

/// How a notebook or the REPL shows a cell's value: None for unit, else its `to_debug` text
/// (the registered one for tensors and other custom types, Rhai's for the rest: strings quoted).
pub fn display_value(engine: &Engine, v: &Dynamic) -> Option<String> {
    if v.is_unit() {
        return None;
    }
    // Registered functions can only be called from a script, so a one-call script does it.
    let mut scope = Scope::new();
    scope.push_dynamic("value", v.clone());
    Some(engine.eval_with_scope::<String>(&mut scope, "to_debug(value)").unwrap_or_else(|_| v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::terminal_sink;

    #[test]
    fn nested_arrays_round_trip() {
        let ctx = Context::new(terminal_sink());
        let a: Array = vec![
            Dynamic::from_array(vec![Dynamic::from_float(1.0), Dynamic::from_int(2)]),
            Dynamic::from_array(vec![Dynamic::from_float(3.0), Dynamic::from_float(4.5)]),
        ];
        let t = to_tensor(&Dynamic::from_array(a), &ctx, "tensor").unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.dtype(), DType::F32);
        assert_eq!(tensor_to_array(&t).to_string(), "[[1.0, 2.0], [3.0, 4.5]]");
        let ragged: Array = vec![Dynamic::from_array(vec![Dynamic::from_float(1.0)]), Dynamic::from_float(2.0)];
        assert!(to_tensor(&Dynamic::from_array(ragged), &ctx, "tensor")
            .unwrap_err()
            .to_string()
            .contains("rectangular"));
    }
}
