//! Autograd in scripts: marking leaves, `grad(output, inputs)`, `backward()` and `.grad`, `no_grad`.

use super::ok;
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::to_tensor;
use noyau_engine::tensor::{grad_with, no_grad};
use noyau_engine::Tensor;
use rhai::{Array, Dynamic, Engine, FnPtr, NativeCallContext};
use std::rc::Rc;

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    doc(
        "requires_grad(x: Tensor) -> Tensor",
        "A new leaf with x's values whose gradients grad() and backward() compute: w = randn(3).requires_grad().",
    )
    .register_into_engine(engine, |x: Tensor| x.requires_grad());
    doc(
        "get$requires_grad(x: Tensor) -> bool",
        "Whether gradients flow to x (a marked leaf or a result computed from one).",
    )
    .register_into_engine(engine, |x: Tensor| x.is_requires_grad());
    doc("detach(x: Tensor) -> Tensor", "The same values cut from the graph: no gradient flows through it.")
        .register_into_engine(engine, |x: Tensor| x.detach());
    doc(
        "backward(loss: Tensor)",
        "Adds the gradient of this one-element tensor to the .grad of every leaf it depends on.",
    )
    .register_into_engine(engine, |x: Tensor| ok(x.backward()));
    doc("get$grad(x: Tensor) -> Tensor", "The gradient accumulated in this leaf by backward(), or () if none yet.")
        .register_into_engine(engine, |x: Tensor| x.grad().map_or(Dynamic::UNIT, Dynamic::from));
    doc("zero_grad(x: Tensor)", "Forgets the gradient accumulated by backward().")
        .register_into_engine(engine, |x: Tensor| x.zero_grad());

    let grad_doc = "The gradients of `output` with respect to each of `inputs` (tensors made with\n\
                    .requires_grad()), as an array of tensors shaped like them. `output` must have one\n\
                    element unless `grad_output` (the vector of the vector-Jacobian product, shaped like\n\
                    the output) is given. With `create_graph` true, the gradients can be differentiated again.";
    let c = ctx.clone();
    let body = Rc::new(move |out: Tensor, inputs: Array, g: Dynamic, create: bool| -> RhaiResult<Array> {
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                d.clone()
                    .try_cast::<Tensor>()
                    .ok_or_else(|| rt("grad", format!("input {k} is a {}, not a Tensor", d.type_name())))
            })
            .collect::<RhaiResult<Vec<_>>>()?;
        let g = if g.is_unit() { None } else { Some(to_tensor(&g, &c, "grad: grad_output")?) };
        let grads = ok(grad_with(&out, &inputs.iter().collect::<Vec<_>>(), g.as_ref(), create))?;
        Ok(grads.into_iter().map(Dynamic::from).collect())
    });
    let b = body.clone();
    doc("grad(output: Tensor, inputs: array) -> array", grad_doc)
        .register_into_engine(engine, move |out: Tensor, inputs: Array| b(out, inputs, Dynamic::UNIT, false));
    let b = body.clone();
    doc("grad(output: Tensor, inputs: array, grad_output: Tensor | array | number) -> array", grad_doc)
        .register_into_engine(engine, move |out: Tensor, inputs: Array, g: Dynamic| b(out, inputs, g, false));
    let b = body.clone();
    doc("grad(output: Tensor, inputs: array, grad_output: Tensor | (), create_graph: bool) -> array", grad_doc)
        .register_into_engine(engine, move |out: Tensor, inputs: Array, g: Dynamic, create: bool| {
            b(out, inputs, g, create)
        });
    doc(
        "grad(output: Tensor, input: Tensor) -> Tensor",
        "The gradient of a one-element `output` with respect to one tensor.",
    )
    .register_into_engine(engine, move |out: Tensor, x: Tensor| -> RhaiResult<Tensor> {
        let g = body(out, vec![Dynamic::from(x)], Dynamic::UNIT, false)?;
        g.into_iter()
            .next()
            .and_then(|d| d.try_cast::<Tensor>())
            .ok_or_else(|| rt("grad", "internal error: no gradient"))
    });

    doc(
        "no_grad(f: Fn) -> ?",
        "Calls f() without recording operations for autograd (faster; the results require no grad):\n\
         no_grad(|| w - 0.1 * g).",
    )
    .register_into_engine(engine, |call: NativeCallContext, f: FnPtr| -> RhaiResult<Dynamic> {
        no_grad(|| f.call_within_context(&call, ()))
    });
}
