//! kernel_product in scripts: KeOps' kernel names (`Kernel("gaussian(x,y) * linear(u,v)**2")`) applied to tensors.
//!
//! `kernel_product(#{id: k, gamma: [g1, g2]}, [x, u], [y, v], b, #{mode: "sum"})` builds the
//! reduction of [`noyau_engine::kernels`] and runs it through `Tensor::lazy_reduce`, so the result
//! is on the autograd tape: `grad` differentiates it with respect to points, signal and gammas.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::lazy::{def, Overrides};
use crate::values::{as_number, to_tensor};
use noyau_engine::kernels::{Gamma, Kernel, Mode};
use noyau_engine::{DType, Tensor};
use rhai::{Array, Dynamic, Engine, ImmutableString, Map};
use std::rc::Rc;

const CONTEXT: &str = "kernel_product";

/// A script value as a tensor with rows: 1-D tensors of length n are read as n×1.
fn matrix(d: &Dynamic, what: &str, ctx: &Context) -> RhaiResult<Tensor> {
    let t = to_tensor(d, ctx, CONTEXT)?;
    match *t.shape() {
        [n] => t.reshape(&[n as isize, 1]).map_err(|e| rt(CONTEXT, e)),
        [_, _] => Ok(t),
        ref s => Err(rt(CONTEXT, format!("{what} must be a 2-D tensor (one row per point), got shape {s:?}"))),
    }
}

/// The features of one side: a tensor for a kernel with one pair, or an array of one tensor per pair.
fn features(d: &Dynamic, pairs: usize, side: &str, ctx: &Context) -> RhaiResult<Vec<Tensor>> {
    let items: Vec<Dynamic> = if d.is_array() && d.clone().cast::<Array>().iter().all(|v| v.is::<Tensor>()) {
        d.clone().cast::<Array>().to_vec()
    } else {
        vec![d.clone()]
    };
    if items.len() != pairs {
        return Err(rt(
            CONTEXT,
            format!("the kernel has {pairs} pair(s) of variables but {side} holds {} tensor(s)", items.len()),
        ));
    }
    items.iter().enumerate().map(|(k, v)| matrix(v, &format!("{side}[{k}]"), ctx)).collect()
}

/// One atom's gamma: `()` (for `linear`), a number, a vector (uniform, of dimension 1, D or D·D),
/// a 1×g tensor (uniform) or an m×g tensor (one row per j-point).
fn gamma(d: &Dynamic, k: usize, m: usize, ctx: &Context) -> RhaiResult<Option<(Tensor, Gamma, bool)>> {
    if d.is_unit() {
        return Ok(None);
    }
    let t = to_tensor(d, ctx, CONTEXT)?;
    let uniform = |t: Tensor, dim: usize| -> RhaiResult<(Tensor, Gamma)> {
        Ok((t.reshape(&[1, dim as isize]).map_err(|e| rt(CONTEXT, e))?, Gamma { dim, per_point: false }))
    };
    let (t, g) = match *t.shape() {
        [] => uniform(t, 1)?,
        [g] => uniform(t, g)?,
        [1, g] => uniform(t, g)?,
        [r, g] if r == m => (t, Gamma { dim: g, per_point: true }),
        ref s => {
            return Err(rt(
                CONTEXT,
                format!(
                "gamma {k} has shape {s:?}: give a number, a vector, a 1×g tensor or one row per y point ({m} rows)"
            ),
            ))
        }
    };
    Ok(Some((t, g, as_number(d).is_some())))
}

/// The gammas of `params`, one per atomic formula; a kernel with one formula may take it bare.
fn gammas(params: &Map, kernel: &Kernel, m: usize, ctx: &Context) -> RhaiResult<Vec<Option<(Tensor, Gamma, bool)>>> {
    let atoms = kernel.atoms().len();
    let value = params.get("gamma").cloned().unwrap_or(Dynamic::UNIT);
    let list: Vec<Dynamic> = match value.clone().try_cast::<Array>() {
        Some(a) if atoms > 1 || a.len() == 1 => a.to_vec(),
        // An array of numbers for a one-formula kernel is that formula's diagonal or full gamma.
        _ if atoms == 1 => vec![value],
        _ if value.is_unit() => vec![Dynamic::UNIT; atoms],
        _ => {
            return Err(rt(
                CONTEXT,
                format!("{} has {atoms} atomic formulas: give gamma as an array of {atoms}", kernel.name()),
            ))
        }
    };
    if list.len() != atoms {
        return Err(rt(
            CONTEXT,
            format!(
                "{} has {atoms} atomic formula(s) but gamma holds {}: give one per formula, () for linear",
                kernel.name(),
                list.len()
            ),
        ));
    }
    list.iter().enumerate().map(|(k, g)| gamma(g, k, m, ctx)).collect()
}

/// Runs kernel_product: `scales` are (a_log, b_log) for the log-scaled modes.
fn product(
    params: &Map,
    x: &Dynamic,
    y: &Dynamic,
    b: &Dynamic,
    scales: Option<(&Dynamic, &Dynamic)>,
    options: &Map,
    ctx: &Context,
) -> RhaiResult<Tensor> {
    let over = Overrides::parse(options, CONTEXT, &["mode"])?;
    let mode_name = match options.get("mode") {
        Some(m) => m.clone().into_string().map_err(|_| rt(CONTEXT, "mode must be a string"))?,
        None => "sum".to_string(),
    };
    let mode = Mode::from_name(&mode_name).map_err(|e| rt(CONTEXT, e))?;
    let id = params
        .get("id")
        .ok_or_else(|| rt(CONTEXT, "params needs an id: #{id: Kernel(\"gaussian(x,y)\"), gamma: ...}"))?;
    let kernel = match id.clone().try_cast::<Kernel>() {
        Some(k) => k,
        None => {
            let name = id.clone().into_string().map_err(|_| rt(CONTEXT, "id must be a Kernel or a kernel name"))?;
            Kernel::parse(&name).map_err(|e| rt(CONTEXT, e))?
        }
    };
    let pairs = kernel.pairs().len();
    let xs = features(x, pairs, "x", ctx)?;
    let ys = features(y, pairs, "y", ctx)?;
    let m = ys[0].shape()[0];
    let gs = gammas(params, &kernel, m, ctx)?;
    let b = matrix(b, "b", ctx)?;
    let scales = match (mode.is_scaled(), scales) {
        (true, Some((a, bl))) => Some((matrix(a, "a_log", ctx)?, matrix(bl, "b_log", ctx)?)),
        (false, None) => None,
        (true, None) => {
            return Err(rt(
                CONTEXT,
                format!(
                    "mode {mode_name} needs a_log and b_log: kernel_product(params, x, y, b, a_log, b_log, options)"
                ),
            ))
        }
        (false, Some(_)) => {
            return Err(rt(CONTEXT, format!("a_log and b_log are only used by the log_scaled modes, not {mode_name}")))
        }
    };
    let dims: Vec<usize> = xs.iter().map(|t| t.shape()[1]).collect();
    let shapes: Vec<Option<Gamma>> = gs.iter().map(|g| g.as_ref().map(|g| g.1)).collect();
    let spec = kernel.reduce(mode, &dims, &shapes, b.shape()[1]).map_err(|e| rt(CONTEXT, e))?;
    // Numbers take the points' element type, so that float32 data is reduced in float32.
    let dtype = if xs.iter().chain(&ys).any(|t| t.dtype() == DType::F64) { DType::F64 } else { xs[0].dtype() };
    let mut args: Vec<Tensor> = Vec::new();
    for (x, y) in xs.into_iter().zip(ys) {
        args.extend([x, y]);
    }
    args.extend(gs.into_iter().flatten().map(|(t, _, number)| if number { t.to_dtype(dtype) } else { t }));
    args.push(b);
    args.extend(scales.into_iter().flat_map(|(a, b)| [a, b]));
    let refs: Vec<&Tensor> = args.iter().collect();
    Tensor::lazy_reduce(&spec, &refs, &over.options(ctx)).map_err(|e| rt(CONTEXT, e))
}

/// Registers `Kernel` and `kernel_product`.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    engine.register_type_with_name::<Kernel>("Kernel");
    def!(
        engine,
        "Kernel(name: string) -> Kernel",
        "A kernel for kernel_product, named from atomic kernels on pairs of single-letter variables, combined with\n\
         integer constants, +, * and **k: Kernel(\"gaussian(x,y) * linear(u,v)**2\").\n\
         Atoms: linear ⟨x,y⟩, distance √⟨x−y,G(x−y)⟩, gaussian exp(−⟨x−y,G(x−y)⟩), laplacian exp(−√⟨x−y,G(x−y)⟩),\n\
         cauchy 1/(1+⟨x−y,G(x−y)⟩), inverse_multiquadric 1/√(1+⟨x−y,G(x−y)⟩).",
        |name: ImmutableString| Kernel::parse(&name).map_err(|e| rt("Kernel", e))
    );
    for name in ["to_string", "to_debug"] {
        def!(
            engine,
            format!("{name}(k: Kernel) -> string"),
            "The kernel's name, as given to Kernel().",
            |k: &mut Kernel| { format!("Kernel(\"{}\")", k.name()) }
        );
    }
    let doc = "kernel_product(params, x, y, b, options): Σ_j k(x_i, y_j) b_j (or its log-domain forms), as KeOps.\n\
               params: #{id: Kernel(...), gamma: [G for each atomic formula, () for linear]}; a G is a number, a vector of\n\
               dimension D (diagonal) or D·D (full, row-major), or a tensor with one row per y point (varying with j).\n\
               x, y: a tensor per pair of variables ([x, u], [y, v]). options: mode (\"sum\", \"lse\", \"log_scaled\",\n\
               \"log_scaled_lse\"; the last two take a_log (N×1) and b_log (M×1) before the options), backend, dtype_acc.\n\
               lse: log Σ_j exp(log k + b_j), with b of one column. The result can be differentiated with grad().";
    let c = ctx.clone();
    def!(
        engine,
        "kernel_product(params: map, x: Tensor | array, y: Tensor | array, b: Tensor) -> Tensor",
        doc,
        move |p: Map, x: Dynamic, y: Dynamic, b: Dynamic| { product(&p, &x, &y, &b, None, &Map::new(), &c) }
    );
    let c = ctx.clone();
    def!(
        engine,
        "kernel_product(params: map, x: Tensor | array, y: Tensor | array, b: Tensor, options: map) -> Tensor",
        doc,
        move |p: Map, x: Dynamic, y: Dynamic, b: Dynamic, o: Map| product(&p, &x, &y, &b, None, &o, &c)
    );
    let c = ctx.clone();
    def!(
        engine,
        "kernel_product(params: map, x: Tensor | array, y: Tensor | array, b: Tensor, a_log: Tensor, b_log: Tensor, options: map) -> Tensor",
        doc,
        move |p: Map, x: Dynamic, y: Dynamic, b: Dynamic, a: Dynamic, bl: Dynamic, o: Map| {
            product(&p, &x, &y, &b, Some((&a, &bl)), &o, &c)
        }
    );
}
