//! Reverse-mode autodiff over tensors: recorded nodes, `grad`, the no-grad switch, and an iterative drop.
//!
//! Each recorded op stores its inputs and a backward closure in the output tensor. The closure
//! receives the inputs, the output and the output's gradient (so it never needs to capture a
//! tensor, which would make reference cycles or keep memory alive) and returns one optional
//! gradient per input, shaped like that input. [`grad`] sorts the nodes reachable from the
//! output, keeps those on a path to a requested input, and runs their closures from the output
//! down, summing the gradients that reach a tensor from several consumers.

use super::{Data, Inner, Tensor};
use crate::error::{Error, Result};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a backward closure sees.
pub(crate) struct Backward<'a> {
    pub inputs: &'a [Tensor],
    pub out: &'a Tensor,
    /// The gradient of the output, of the output's shape and dtype.
    pub grad: &'a Tensor,
    /// Which inputs need a gradient (the closure may skip the others, returning `None`).
    pub needs: &'a [bool],
}

pub(crate) type BackwardFn = dyn Fn(&Backward<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync;

/// How a recorded tensor was computed.
pub(crate) struct Node {
    pub op: &'static str,
    pub inputs: Vec<Tensor>,
    pub backward: Box<BackwardFn>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record nodes (false inside [`no_grad`] and during a `grad` without `create_graph`).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the recording switch when dropped, so that an early return or a panic cannot leave it off.
struct GradMode(bool);

impl GradMode {
    fn set(enabled: bool) -> GradMode {
        GradMode(GRAD_ENABLED.with(|g| g.replace(enabled)))
    }
}

impl Drop for GradMode {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.0));
    }
}

/// Runs `f` without recording: the tensors it computes do not require gradients.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _mode = GradMode::set(false);
    f()
}

impl Tensor {
    /// The output of an op: a node is recorded when recording is on and some input requires gradients.
    pub(crate) fn record(
        data: Data,
        op: &'static str,
        inputs: Vec<Tensor>,
        backward: impl Fn(&Backward<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        if !is_grad_enabled() || !inputs.iter().any(|t| t.is_requires_grad()) {
            return Tensor::from_data(data);
        }
        let node = Node { op, inputs, backward: Box::new(backward) };
        Tensor(Arc::new(Inner { data, requires_grad: true, node: Some(node), grad: Mutex::new(None) }))
    }

    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// PyTorch's `loss.backward()`: adds the gradient of this one-element tensor to the
    /// [`Tensor::grad`] of every leaf it depends on that requires gradients.
    pub fn backward(&self) -> Result<()> {
        let leaves: Vec<Tensor> = topological_order(self).into_iter().filter(|t| t.node().is_none()).collect();
        let refs: Vec<&Tensor> = leaves.iter().collect();
        let grads = grad(self, &refs, None)?;
        for (leaf, g) in leaves.iter().zip(grads) {
            let mut slot = leaf.0.grad.lock().unwrap_or_else(|e| e.into_inner());
            *slot = Some(match slot.take() {
                Some(acc) => no_grad(|| acc.add(&g))?,
                None => g,
            });
        }
        Ok(())
    }

    /// The gradient accumulated by [`Tensor::backward`], if any.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The gradients of `output` with respect to `inputs`, as tensors shaped like the inputs.
///
/// `output` must have one element unless `grad_output` (the vector η of the vector-Jacobian
/// product ηᵀ ∂output/∂input, of the output's shape) is given. An input that the output does
/// not depend on gets zeros; an input that does not require gradients is an error. The results
/// are not differentiable; see [`grad_with`].
pub fn grad(output: &Tensor, inputs: &[&Tensor], grad_output: Option<&Tensor>) -> Result<Vec<Tensor>> {
    grad_with(output, inputs, grad_output, false)
}

/// [`grad`], and with `create_graph` the backward pass is itself recorded, so the gradients can
/// be differentiated again (Hessian-vector products, gradients of gradient norms, ...).
pub fn grad_with(
    output: &Tensor,
    inputs: &[&Tensor],
    grad_output: Option<&Tensor>,
    create_graph: bool,
) -> Result<Vec<Tensor>> {
    for (k, t) in inputs.iter().enumerate() {
        if !t.is_requires_grad() {
            return Err(Error::tensor(
                "grad",
                format!("input {k} (shape {:?}) does not require grad: make it with .requires_grad()", t.shape()),
            ));
        }
    }
    let seed = match grad_output {
        None if output.numel() == 1 => Tensor::full(output.shape(), 1.0, output.dtype())?,
        None => {
            return Err(Error::tensor(
                "grad",
                format!("the output has shape {:?}: without grad_output it must have a single element", output.shape()),
            ))
        }
        Some(g) if g.shape() == output.shape() => g.to_dtype(output.dtype()),
        Some(g) => {
            return Err(Error::tensor(
                "grad",
                format!("grad_output has shape {:?} but the output has shape {:?}", g.shape(), output.shape()),
            ))
        }
    };
    let _mode = GradMode::set(create_graph);
    let order = topological_order(output);
    let wanted: HashMap<usize, ()> = inputs.iter().map(|t| (t.key(), ())).collect();
    // A tensor is needed if it is requested or one of its node's inputs is needed; inputs come first in `order`.
    let mut needed: HashMap<usize, bool> = HashMap::new();
    for t in &order {
        let via_inputs =
            t.node().is_some_and(|n| n.inputs.iter().any(|i| needed.get(&i.key()).copied().unwrap_or(false)));
        needed.insert(t.key(), via_inputs || wanted.contains_key(&t.key()));
    }
    let mut grads: HashMap<usize, Tensor> = HashMap::new();
    grads.insert(output.key(), seed);
    for t in order.iter().rev() {
        let Some(node) = t.node() else { continue };
        if !needed[&t.key()] {
            continue;
        }
        // Requested tensors keep their gradient; the others are done once their node has run.
        let g = if wanted.contains_key(&t.key()) { grads.get(&t.key()).cloned() } else { grads.remove(&t.key()) };
        let Some(g) = g else { continue };
        let needs: Vec<bool> = node.inputs.iter().map(|i| needed.get(&i.key()).copied().unwrap_or(false)).collect();
        let back = Backward { inputs: &node.inputs, out: t, grad: &g, needs: &needs };
        let input_grads = (node.backward)(&back)?;
        for ((input, gi), need) in node.inputs.iter().zip(input_grads).zip(&needs) {
            let Some(gi) = gi.filter(|_| *need) else { continue };
            if gi.shape() != input.shape() {
                return Err(Error::tensor(
                    node.op,
                    format!(
                        "internal error: gradient of shape {:?} for an input of shape {:?}",
                        gi.shape(),
                        input.shape()
                    ),
                ));
            }
            let total = match grads.remove(&input.key()) {
                Some(acc) => acc.add(&gi)?,
                None => gi,
            };
            grads.insert(input.key(), total);
        }
    }
    inputs
        .iter()
        .map(|t| Ok(grads.get(&t.key()).cloned().unwrap_or_else(|| t.zeros_like()).to_dtype(t.dtype())))
        .collect()
}

/// The tensors that require gradients reachable from `output`, each after all of its inputs
/// (an explicit stack: graphs of long loops are deeper than the call stack).
fn topological_order(output: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen: HashMap<usize, ()> = HashMap::new();
    let mut stack: Vec<(Tensor, bool)> = vec![(output.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !t.is_requires_grad() || seen.insert(t.key(), ()).is_some() {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(node) = t.node() {
            for i in node.inputs.iter().rev() {
                if !seen.contains_key(&i.key()) {
                    stack.push((i.clone(), false));
                }
            }
        }
    }
    order
}

impl Drop for Inner {
    /// Dropping the last tensor of a long chain would recurse once per op; the chain is unlinked
    /// with an explicit stack instead.
    fn drop(&mut self) {
        let mut stack: Vec<Node> = self.node.take().into_iter().collect();
        while let Some(mut node) = stack.pop() {
            // The closure holds no tensors, by construction; the inputs are the only links.
            for input in node.inputs.drain(..) {
                if let Ok(mut inner) = Arc::try_unwrap(input.0) {
                    stack.extend(inner.node.take());
                }
            }
        }
    }
}
