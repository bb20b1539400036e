//! `K.solve(b, alpha)`: conjugate gradient on (αI + K) a = b, K applied by a lazy reduction per iteration.
//!
//! K must be symmetric and αI + K positive definite (a kernel matrix K(x_i, x_j) with α > 0, say):
//! that is the user's promise, as in KeOps; a breakdown (a direction of non-positive curvature)
//! stops the iteration with an error. The columns of an M×E right-hand side are solved together,
//! as one vector of the block-diagonal system. The iteration runs in float64 whatever the data's
//! type; the reductions run in the data's type. The result is not differentiable (it is computed
//! outside the autograd tape).

use super::reduce::{arguments, data_dtype, prepare, Overrides};
use super::{def, LazyTensor};
use crate::context::{Context, Event};
use crate::error::{rt, RhaiResult};
use crate::values::{as_number, to_tensor};
use ndarray::Array2;
use noyau_engine::tensor::no_grad;
use noyau_engine::{Axis, Cat, Reduction, Tensor};
use rhai::{Dynamic, Engine, Map};
use std::rc::Rc;

const CONTEXT: &str = "solve";

/// When the iteration stops.
pub(crate) struct Stop {
    /// Relative tolerance on the residual: ‖b − (αI + K)a‖ ≤ tol·‖b‖.
    pub tol: f64,
    pub max_iter: usize,
}

const DEFAULT_STOP: Stop = Stop { tol: 1e-6, max_iter: 1000 };

/// The stopping rule of an options map: tol (or KeOps' eps) and max_iter.
pub(crate) fn stop_from(map: &Map, context: &str) -> RhaiResult<Stop> {
    let mut s = DEFAULT_STOP;
    if let Some(v) = map.get("tol").or_else(|| map.get("eps")) {
        s.tol = as_number(v).filter(|t| *t > 0.0).ok_or_else(|| rt(context, "tol (eps) must be a positive number"))?;
    }
    if let Some(v) = map.get("max_iter") {
        s.max_iter = v
            .as_int()
            .ok()
            .and_then(|k| usize::try_from(k).ok())
            .ok_or_else(|| rt(context, "max_iter must be a non-negative integer"))?;
    }
    Ok(s)
}

fn solve(
    k: &LazyTensor,
    b: &Dynamic,
    alpha: &Dynamic,
    stop: &Stop,
    over: &Overrides,
    ctx: &Context,
) -> RhaiResult<Tensor> {
    let alpha = as_number(alpha).ok_or_else(|| rt(CONTEXT, "alpha must be a number"))?;
    // KeOps writes the right-hand side as a LazyTensor variable too: K.solve(Vi(b), alpha).
    let b = match b.clone().try_cast::<LazyTensor>() {
        Some(lt) => match lt.formula.op() {
            noyau_engine::Op::Var { index, .. } => lt.vars[*index].source.clone(),
            _ => return Err(rt(CONTEXT, "b must be a tensor or a variable Vi(b), not a formula")),
        },
        None => to_tensor(b, ctx, CONTEXT)?,
    };
    let (n, m, d) = k.shape();
    if d != 1 {
        return Err(rt(CONTEXT, format!("K must have dimension 1 to act as a matrix, it has dimension {d}")));
    }
    if n != m {
        return Err(rt(CONTEXT, format!("K must be square to be inverted, it is {n}×{m}")));
    }
    let b2 = match *b.shape() {
        [rows] => b.reshape(&[rows as isize, 1]),
        [_, _] => Ok(b.clone()),
        ref s => return Err(rt(CONTEXT, format!("b must be a vector of length N or an N×E matrix, got shape {s:?}"))),
    }
    .map_err(|e| rt(CONTEXT, e))?;
    if b2.shape()[0] != n {
        return Err(rt(CONTEXT, format!("b has {} rows but K is {n}×{n}", b2.shape()[0])));
    }
    // K p as a reduction whose last argument is the direction p, replaced at every iteration.
    let p_j = LazyTensor::variable(b2.clone(), Cat::J).map_err(|e| rt(CONTEXT, e))?;
    let kp = LazyTensor::combine(&[k, &p_j], |_| CONTEXT.to_string(), |f| f[0].clone().mul(f[1].clone()))?;
    let mut prepared = prepare(&kp, None, Reduction::Sum, Axis::J, ctx, CONTEXT)?;
    let slot = kp
        .vars
        .iter()
        .position(|v| v.source.same(&b2))
        .ok_or_else(|| rt(CONTEXT, "internal error: lost the direction"))?;
    let dtype = data_dtype(arguments(&k.vars, ctx).iter().chain([&b2]), ctx);
    let opts = over.options(ctx);
    let rhs = b2.to_array2::<f64>().map_err(|e| rt(CONTEXT, e))?;
    let mut apply = |p: &Array2<f64>| -> RhaiResult<Array2<f64>> {
        prepared.args[slot] = Tensor::from(p.clone()).to_dtype(dtype);
        let kp = no_grad(|| prepared.run(&opts, CONTEXT))?;
        Ok(kp.to_array2::<f64>().map_err(|e| rt(CONTEXT, e))? + alpha * p)
    };
    let (a, residual, converged) = conjugate_gradient(&mut apply, &rhs, stop, CONTEXT)?;
    if !converged {
        ctx.emit(Event::Stderr(format!(
            "warning: solve: the conjugate gradient did not converge in {} iterations (relative residual {residual:.1e} > tol {:.1e})",
            stop.max_iter, stop.tol
        )));
    }
    let a = Tensor::from(a).to_dtype(dtype);
    if b.ndim() == 1 {
        a.reshape(&[-1]).map_err(|e| rt(CONTEXT, e))
    } else {
        Ok(a)
    }
}

/// Solves A a = b for a symmetric positive definite A given by `apply`; returns a, the final
/// relative residual and whether it is below the tolerance.
pub(crate) fn conjugate_gradient(
    apply: &mut dyn FnMut(&Array2<f64>) -> RhaiResult<Array2<f64>>,
    b: &Array2<f64>,
    stop: &Stop,
    context: &str,
) -> RhaiResult<(Array2<f64>, f64, bool)> {
    let dot = |u: &Array2<f64>, v: &Array2<f64>| (u * v).sum();
    let norm_b = dot(b, b).sqrt();
    let mut a = Array2::<f64>::zeros(b.raw_dim());
    if norm_b == 0.0 {
        return Ok((a, 0.0, true));
    }
    let mut r = b.clone();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    for _ in 0..stop.max_iter {
        if rr.sqrt() <= stop.tol * norm_b {
            return Ok((a, rr.sqrt() / norm_b, true));
        }
        let ap = apply(&p)?;
        let curvature = dot(&p, &ap);
        if curvature.is_nan() || curvature <= 0.0 {
            return Err(rt(context, "αI + K is not positive definite (is K symmetric, α large enough?)"));
        }
        let step = rr / curvature;
        a.scaled_add(step, &p);
        r.scaled_add(-step, &ap);
        let rr_next = dot(&r, &r);
        p = &r + &(&p * (rr_next / rr));
        rr = rr_next;
    }
    let residual = rr.sqrt() / norm_b;
    Ok((a, residual, residual <= stop.tol))
}

pub(super) fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let doc = "K.solve(b, alpha): a such that (alpha·I + K) a = b, by conjugate gradient (K symmetric).\n\
               Options: K.solve(b, alpha, #{tol: 1e-6, max_iter: 1000, backend: .., dtype_acc: .., sum_scheme: ..}).\n\
               Prints a warning if it does not converge. The result is not differentiable.";
    let c = ctx.clone();
    def!(
        engine,
        "solve(K: LazyTensor, b: Tensor | array | LazyTensor, alpha: number) -> Tensor",
        doc,
        move |k: LazyTensor, b: Dynamic, alpha: Dynamic| {
            solve(&k, &b, &alpha, &DEFAULT_STOP, &Overrides::default(), &c)
        }
    );
    let c = ctx.clone();
    let signature = "solve(K: LazyTensor, b: Tensor | array | LazyTensor, alpha: number, options: map) -> Tensor";
    def!(engine, signature, doc, move |k: LazyTensor, b: Dynamic, alpha: Dynamic, map: Map| {
        let over = Overrides::parse(&map, CONTEXT, &["tol", "eps", "max_iter"])?;
        solve(&k, &b, &alpha, &stop_from(&map, CONTEXT)?, &over, &c)
    });
}
