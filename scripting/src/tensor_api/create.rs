//! Tensor constructors: from arrays, filled, random, ranges, identity and grids, in the session's dtype.

use super::{int_forms, ok};
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::{as_number, dtype_from_name, shape_of, to_size, to_tensor};
use noyau_engine::{budget, DType, Tensor};
use rhai::{Array, Dynamic, Engine, ImmutableString, FLOAT, INT};
use std::rc::Rc;

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    doc(
        "tensor(data: Tensor | number | array) -> Tensor",
        "A tensor from nested arrays of numbers (rectangular), a number (0-D) or a tensor (a copy,\n\
         detached), in the session's dtype (see set_dtype): tensor([[1.0, 2.0], [3.0, 4.0]]).",
    )
    .register_into_engine(engine, move |d: Dynamic| to_tensor(&d, &c, "tensor").map(|t| t.detach()));
    let c = ctx.clone();
    doc(
        "tensor(data: Tensor | number | array, dtype: string) -> Tensor",
        "A tensor from nested arrays, a number or a tensor, in the given dtype (\"float32\" or \"float64\").",
    )
    .register_into_engine(engine, move |d: Dynamic, dtype: ImmutableString| -> RhaiResult<Tensor> {
        let dtype = dtype_from_name("tensor", &dtype)?;
        Ok(to_tensor(&d, &c, "tensor")?.detach().to_dtype(dtype))
    });

    let shape_doc =
        |what: &str| format!("{what}\nThe shape is given as several ints or one array: {{}}(2, 3) or {{}}([2, 3]).");
    type Filled = fn(&[usize], DType) -> noyau_engine::Result<Tensor>;
    let filled: [(&str, &str, Filled); 2] =
        [("zeros", "A tensor of zeros.", Tensor::zeros), ("ones", "A tensor of ones.", Tensor::ones)];
    for (name, what, make) in filled {
        let c = ctx.clone();
        let text = shape_doc(what).replace("{}", name);
        int_forms!(engine, name, "shape", &text, [], "Tensor", move |dims: Vec<Dynamic>| -> RhaiResult<Tensor> {
            ok(make(&shape_of(name, &dims)?, c.dtype.get()))
        });
    }
    let c = ctx.clone();
    let text = shape_doc("Standard normal values from the session's generator (see seed).").replace("{}", "randn");
    int_forms!(engine, "randn", "shape", &text, [], "Tensor", move |dims: Vec<Dynamic>| -> RhaiResult<Tensor> {
        ok(Tensor::randn(&shape_of("randn", &dims)?, c.dtype.get(), &mut c.rng.borrow_mut()))
    });
    let c = ctx.clone();
    let text = shape_doc("Uniform values in [0, 1) from the session's generator (see seed).").replace("{}", "rand");
    int_forms!(engine, "rand", "shape", &text, [], "Tensor", move |dims: Vec<Dynamic>| -> RhaiResult<Tensor> {
        ok(Tensor::rand(&shape_of("rand", &dims)?, c.dtype.get(), &mut c.rng.borrow_mut()))
    });

    let c = ctx.clone();
    doc("full(shape: array, value: float) -> Tensor", "A tensor of the given shape filled with `value`.")
        .register_into_engine(engine, move |shape: Array, value: Dynamic| -> RhaiResult<Tensor> {
            let v = as_number(&value)
                .ok_or_else(|| rt("full", format!("the value must be a number, got {}", value.type_name())))?;
            ok(Tensor::full(&shape_of("full", &[Dynamic::from_array(shape)])?, v, c.dtype.get()))
        });
    for (name, value) in [("zeros_like", 0.0), ("ones_like", 1.0)] {
        doc(&format!("{name}(x: Tensor) -> Tensor"), &format!("A tensor of {value}s with the shape and dtype of x."))
            .register_into_engine(engine, move |x: Tensor| ok(Tensor::full(x.shape(), value, x.dtype())));
    }

    let c = ctx.clone();
    doc(
        "linspace(start: number, end: number, steps: int) -> Tensor",
        "`steps` evenly spaced values from `start` to `end`, both included (1-D).",
    )
    .register_into_engine(engine, move |a: Dynamic, b: Dynamic, n: INT| -> RhaiResult<Tensor> {
        let (a, b) = (number("linspace", &a)?, number("linspace", &b)?);
        let n = to_size("linspace", n)?;
        ok(budget::check("linspace", n, 8))?;
        let step = if n > 1 { (b - a) / (n - 1) as f64 } else { 0.0 };
        let values: Vec<f64> = (0..n).map(|k| if k + 1 == n && n > 1 { b } else { a + step * k as f64 }).collect();
        from_values(values, &[n], c.dtype.get())
    });
    let arange_doc = "Values from `start` (0 if omitted) up to `end` excluded, every `step` (1 if omitted), as\n\
                      numpy.arange: arange(4) is [0, 1, 2, 3], arange(1, 2, 0.25) is [1, 1.25, 1.5, 1.75].";
    let c = ctx.clone();
    doc("arange(end: number) -> Tensor", arange_doc)
        .register_into_engine(engine, move |b: Dynamic| arange(0.0, number("arange", &b)?, 1.0, c.dtype.get()));
    let c = ctx.clone();
    doc("arange(start: number, end: number) -> Tensor", arange_doc)
        .register_into_engine(engine, move |a: Dynamic, b: Dynamic| {
            arange(number("arange", &a)?, number("arange", &b)?, 1.0, c.dtype.get())
        });
    let c = ctx.clone();
    doc("arange(start: number, end: number, step: number) -> Tensor", arange_doc).register_into_engine(
        engine,
        move |a: Dynamic, b: Dynamic, s: Dynamic| {
            arange(number("arange", &a)?, number("arange", &b)?, number("arange", &s)?, c.dtype.get())
        },
    );

    let c = ctx.clone();
    doc("eye(n: int) -> Tensor", "The n×n identity matrix.").register_into_engine(
        engine,
        move |n: INT| -> RhaiResult<Tensor> {
            let n = to_size("eye", n)?;
            let len = n.checked_mul(n).ok_or_else(|| rt("eye", format!("{n}×{n} is too large")))?;
            ok(budget::check("eye", len, 8))?;
            let values = (0..len).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect();
            from_values(values, &[n, n], c.dtype.get())
        },
    );
    let c = ctx.clone();
    doc(
        "meshgrid(u: Tensor | array, v: Tensor | array) -> array",
        "[X, Y] for 1-D u (length n) and v (length m), as numpy.meshgrid with 'xy' indexing: X and Y\n\
         have shape [m, n], X[i][j] = u[j] and Y[i][j] = v[i]. Differentiable.",
    )
    .register_into_engine(engine, move |u: Dynamic, v: Dynamic| -> RhaiResult<Array> {
        let (u, v) = (to_tensor(&u, &c, "meshgrid")?, to_tensor(&v, &c, "meshgrid")?);
        if u.ndim() != 1 || v.ndim() != 1 {
            return Err(rt(
                "meshgrid",
                format!("expects two 1-D tensors, got shapes {:?} and {:?}", u.shape(), v.shape()),
            ));
        }
        let shape = [v.shape()[0], u.shape()[0]];
        let x = ok(u.reshape(&[1, -1]).and_then(|r| r.broadcast_to(&shape)))?;
        let y = ok(v.reshape(&[-1, 1]).and_then(|r| r.broadcast_to(&shape)))?;
        Ok(vec![Dynamic::from(x), Dynamic::from(y)])
    });
}

/// A number argument (INT or FLOAT), or an error naming the function.
fn number(what: &str, d: &Dynamic) -> RhaiResult<f64> {
    as_number(d).ok_or_else(|| rt(what, format!("expected a number, got {}", d.type_name())))
}

fn from_values(values: Vec<f64>, shape: &[usize], dtype: DType) -> RhaiResult<Tensor> {
    Ok(ok(Tensor::from_vec(values, shape))?.to_dtype(dtype))
}

/// numpy.arange: ⌈(end − start) / step⌉ values (none if that is negative).
fn arange(start: FLOAT, end: FLOAT, step: FLOAT, dtype: DType) -> RhaiResult<Tensor> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
        return Err(rt(
            "arange",
            format!("start, end and step must be finite and step non-zero, got {start}, {end}, {step}"),
        ));
    }
    // A count past usize saturates to usize::MAX, which the budget refuses.
    let count = ((end - start) / step).ceil().max(0.0) as usize;
    ok(budget::check("arange", count, 8))?;
    let values = (0..count).map(|k| start + step * k as f64).collect::<Vec<_>>();
    let n = values.len();
    from_values(values, &[n], dtype)
}
