//! Lazy reductions as tape nodes: a [`Reduce`] evaluated on 2-D tensors, whose backward pass is
//! itself made of reductions, so that no N×M array exists in either direction.
//!
//! The backward pass has two forms:
//! - first order (a plain [`grad`](super::grad)): [`Reduce::vjp`] on the arrays;
//! - recorded (`grad_with(.., create_graph = true)`): the same reductions, taken from the
//!   reduction's gradient plan, run as lazy nodes on the tensors of the graph (the inputs, η,
//!   the forward output), so that gradients of gradients are again reductions. This covers every
//!   reduction whose gradient is a sum over pairs (`Sum`, `LogSumExp`, `LogSumExpWeight`,
//!   `SumSoftMaxWeight`), to any order. The gradient of the selecting reductions (`Min`, `Max`,
//!   `KMin`, their Arg forms and `Max_SumShiftExpWeight`) is available to first order only:
//!   differentiating it again is an error that says so.

use super::autograd::Backward;
use super::{is_grad_enabled, with_dtype, Elem, Tensor};
use crate::error::{Error, Result};
use crate::expr::Cat;
use crate::grad_reduce::Extra;
use crate::real::DType;
use crate::spec::{Options, Reduce};
use ndarray::{ArrayView2, Ix2};

const OP: &str = "lazy_reduce";

impl Tensor {
    /// Runs the reduction `spec` on `args` (2-D tensors: N×d for `Vi`, M×d for `Vj`, 1×d for `Pm`)
    /// as a recorded op: its gradients with respect to the arguments come from [`Reduce::vjp`].
    /// Mixed dtypes are promoted to float64. The same tensor may be passed as several arguments
    /// (x as both `Vi` and `Vj`, say): its gradients add up.
    pub fn lazy_reduce(spec: &Reduce, args: &[&Tensor], opts: &Options) -> Result<Tensor> {
        if let Some((k, a)) = args.iter().enumerate().find(|(_, a)| a.ndim() != 2) {
            let name =
                spec.vars.get(k).map_or_else(|| format!("argument {k}"), |v| format!("argument {k} ({})", v.name));
            return Err(Error::tensor(OP, format!("{name} must be a 2-D tensor, got shape {:?}", a.shape())));
        }
        let dtype = if args.iter().any(|t| t.dtype() == DType::F64) { DType::F64 } else { DType::F32 };
        let inputs: Vec<Tensor> = args.iter().map(|t| t.to_dtype(dtype)).collect();
        let data = with_dtype!(dtype, T => {
            let views = views::<T>(&inputs)?;
            T::wrap(spec.eval(&views, opts)?.into_dyn().into_shared())
        });
        let (spec, opts) = (spec.clone(), opts.clone());
        Ok(Tensor::record(data, OP, inputs, move |b| backward(&spec, &opts, b)))
    }

    /// A 2-D view of this tensor's data as `T` (standard layout not required).
    fn view2<T: Elem>(&self) -> Result<ArrayView2<'_, T>> {
        let shape = self.shape().to_vec();
        self.data()
            .get::<T>(OP)?
            .view()
            .into_dimensionality::<Ix2>()
            .map_err(|_| Error::tensor(OP, format!("expected a 2-D tensor, got shape {shape:?}")))
    }
}

fn views<T: Elem>(ts: &[Tensor]) -> Result<Vec<ArrayView2<'_, T>>> {
    ts.iter().map(|t| t.view2::<T>()).collect()
}

fn backward(spec: &Reduce, opts: &Options, b: &Backward<'_>) -> Result<Vec<Option<Tensor>>> {
    let wrt: Vec<usize> = (0..b.inputs.len()).filter(|&k| b.needs[k]).collect();
    if is_grad_enabled() {
        if let Some(grads) = recorded_backward(spec, opts, b, &wrt)? {
            return Ok(grads);
        }
    }
    let dtype = b.out.dtype();
    let grads: Vec<Tensor> = with_dtype!(dtype, T => {
        let eta = b.grad.to_dtype(dtype);
        spec.vjp(&views::<T>(b.inputs)?, b.out.view2::<T>()?, eta.view2::<T>()?, &wrt, opts)?
            .into_iter()
            .map(Tensor::from_array)
            .collect()
    });
    let mut out: Vec<Option<Tensor>> = vec![None; b.inputs.len()];
    for (k, g) in wrt.into_iter().zip(grads) {
        out[k] = Some(if is_grad_enabled() { first_order_only(spec, g, b) } else { g });
    }
    Ok(out)
}

/// A gradient computed as arrays while the backward pass is being recorded: it joins the graph
/// with a node that refuses to be differentiated, rather than silently acting as a constant.
fn first_order_only(spec: &Reduce, g: Tensor, b: &Backward<'_>) -> Tensor {
    let parents: Vec<Tensor> = b.inputs.iter().chain([b.grad, b.out]).cloned().collect();
    let name = spec.reduction.name().to_string();
    Tensor::record(g.data().clone(), "lazy_reduce_backward", parents, move |_| {
        Err(Error::tensor(
            OP,
            format!("the gradient of a {name} reduction is available to first order only: it cannot be differentiated again"),
        ))
    })
}

/// The gradients as lazy reductions of graph tensors, or `None` for the reductions whose
/// gradient goes through selected pairs (see the module documentation).
fn recorded_backward(
    spec: &Reduce,
    opts: &Options,
    b: &Backward<'_>,
    wrt: &[usize],
) -> Result<Option<Vec<Option<Tensor>>>> {
    let plan = spec.gradient_plan()?;
    if plan.select.is_some() {
        return Ok(None);
    }
    let inputs: Vec<&Tensor> = b.inputs.iter().collect();
    let aux = plan.aux.as_ref().map(|a| Tensor::lazy_reduce(a, &inputs, opts)).transpose()?;
    let eta = b.grad.to_dtype(b.out.dtype());
    let extras = plan
        .extras
        .iter()
        .map(|x| match x {
            Extra::Eta => Ok(eta.clone()),
            Extra::Out => Ok(b.out.clone()),
            Extra::Aux => aux.clone().ok_or_else(|| {
                Error::tensor(OP, "internal error: the gradient reads an auxiliary reduction it has not")
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    let args: Vec<&Tensor> = inputs.iter().copied().chain(&extras).collect();
    let mut grads: Vec<Option<Tensor>> = vec![None; b.inputs.len()];
    for &k in wrt {
        let Some(pairs) = plan.input(k)?.pairs.clone() else { continue };
        let g = Tensor::lazy_reduce(&pairs, &args, opts)?;
        // A parameter's gradient is the sum of the per-row contributions.
        grads[k] = Some(if spec.vars[k].cat == Cat::P { g.sum(0, true)? } else { g });
    }
    Ok(Some(grads))
}
