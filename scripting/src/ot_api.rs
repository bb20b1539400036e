//! Optimal transport in scripts: `samples_loss` (GeomLoss's `SamplesLoss`), `sinkhorn_divergence` and `sinkhorn`.
//!
//! Thin wrappers around [`noyau_engine::ot`]: they read the options map (GeomLoss's keyword
//! arguments, plus the reduction options `backend`, `dtype_acc`, ...), turn script values into
//! tensors and return tensors on the autograd tape, so that `grad` differentiates them.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::lazy::{def, Overrides};
use crate::values::{as_number, to_tensor};
use noyau_engine::ot::{kernel_loss, sinkhorn, sinkhorn_divergence, KernelLoss, SinkhornOptions};
use noyau_engine::Tensor;
use rhai::{Dynamic, Engine, ImmutableString, Map};
use std::rc::Rc;

/// The options of the Sinkhorn loss, besides the reduction options.
const SINKHORN_KEYS: [&str; 6] = ["p", "blur", "scaling", "reach", "debias", "diameter"];

/// The Sinkhorn options of `map` (unknown keys are errors naming the valid ones).
fn sinkhorn_options(map: &Map, call: &str, ctx: &Context) -> RhaiResult<SinkhornOptions> {
    let over = Overrides::parse(map, call, &SINKHORN_KEYS)?;
    let mut o = SinkhornOptions { reduce: over.options(ctx), ..SinkhornOptions::default() };
    let number = |key: &str, v: &Dynamic| {
        as_number(v).ok_or_else(|| rt(call, format!("option {key} must be a number, got {}", v.type_name())))
    };
    // `()` means "none" for the options that GeomLoss leaves at None by default.
    let optional = |key: &str, v: &Dynamic| if v.is_unit() { Ok(None) } else { number(key, v).map(Some) };
    for (key, v) in map {
        match key.as_str() {
            "p" => o.p = number("p", v)?,
            "blur" => o.blur = number("blur", v)?,
            "scaling" => o.scaling = number("scaling", v)?,
            "reach" => o.reach = optional("reach", v)?,
            "diameter" => o.diameter = optional("diameter", v)?,
            "debias" => {
                o.debias = v
                    .as_bool()
                    .map_err(|_| rt(call, format!("option debias must be true or false, got {}", v.type_name())))?
            }
            _ => {} // a reduction option, read by `Overrides`
        }
    }
    Ok(o)
}

/// The blur and reduction options of a kernel loss; the Sinkhorn-only keys are errors that say so.
fn kernel_options(kind: KernelLoss, map: &Map, call: &str, ctx: &Context) -> RhaiResult<(f64, noyau_engine::Options)> {
    if let Some(k) = map.keys().find(|k| k.as_str() != "blur" && SINKHORN_KEYS.contains(&k.as_str())) {
        return Err(rt(
            call,
            format!("option {k} belongs to the sinkhorn loss; the {} loss takes blur only", kind.name()),
        ));
    }
    let over = Overrides::parse(map, call, &["blur"])?;
    let blur = match map.get("blur") {
        Some(v) => {
            as_number(v).ok_or_else(|| rt(call, format!("option blur must be a number, got {}", v.type_name())))?
        }
        None => SinkhornOptions::default().blur,
    };
    Ok((blur, over.options(ctx)))
}

/// The four inputs as tensors.
fn measures(a: &Dynamic, x: &Dynamic, b: &Dynamic, y: &Dynamic, call: &str, ctx: &Context) -> RhaiResult<[Tensor; 4]> {
    Ok([to_tensor(a, ctx, call)?, to_tensor(x, ctx, call)?, to_tensor(b, ctx, call)?, to_tensor(y, ctx, call)?])
}

/// Uniform weights 1/N for the points `x` (N×D), in their dtype.
fn uniform(x: &Dynamic, call: &str, ctx: &Context) -> RhaiResult<(Dynamic, Dynamic)> {
    let t = to_tensor(x, ctx, call)?;
    let n = *t
        .shape()
        .first()
        .filter(|&&n| n > 0)
        .ok_or_else(|| rt(call, format!("the points must be a non-empty N×D tensor, got shape {:?}", t.shape())))?;
    let w = Tensor::full(&[n], 1.0 / n as f64, t.dtype()).map_err(|e| rt(call, e))?;
    Ok((Dynamic::from(w), Dynamic::from(t)))
}

/// `samples_loss(name, a, x, b, y, options)`.
fn loss(
    name: &str,
    a: &Dynamic,
    x: &Dynamic,
    b: &Dynamic,
    y: &Dynamic,
    options: &Map,
    ctx: &Context,
) -> RhaiResult<Tensor> {
    let call = "samples_loss";
    let [a, x, b, y] = measures(a, x, b, y, call, ctx)?;
    if name == "sinkhorn" {
        let o = sinkhorn_options(options, call, ctx)?;
        return sinkhorn_divergence(&a, &x, &b, &y, &o).map_err(|e| rt(call, e));
    }
    let kind = KernelLoss::from_name(name).map_err(|_| {
        rt(call, format!("unknown loss `{name}`: the losses are sinkhorn, energy, gaussian and laplacian"))
    })?;
    let (blur, opts) = kernel_options(kind, options, call, ctx)?;
    kernel_loss(kind, &a, &x, &b, &y, blur, &opts).map_err(|e| rt(call, e))
}

fn divergence(a: &Dynamic, x: &Dynamic, b: &Dynamic, y: &Dynamic, options: &Map, ctx: &Context) -> RhaiResult<Tensor> {
    let call = "sinkhorn_divergence";
    let [a, x, b, y] = measures(a, x, b, y, call, ctx)?;
    sinkhorn_divergence(&a, &x, &b, &y, &sinkhorn_options(options, call, ctx)?).map_err(|e| rt(call, e))
}

/// The potentials as a map: f and g, and f_aa and g_bb when debiased.
fn potentials(a: &Dynamic, x: &Dynamic, b: &Dynamic, y: &Dynamic, options: &Map, ctx: &Context) -> RhaiResult<Map> {
    let call = "sinkhorn";
    let [a, x, b, y] = measures(a, x, b, y, call, ctx)?;
    let p = sinkhorn(&a, &x, &b, &y, &sinkhorn_options(options, call, ctx)?).map_err(|e| rt(call, e))?;
    let mut m = Map::new();
    m.insert("f".into(), Dynamic::from(p.f));
    m.insert("g".into(), Dynamic::from(p.g));
    for (key, t) in [("f_aa", p.f_aa), ("g_bb", p.g_bb)] {
        if let Some(t) = t {
            m.insert(key.into(), Dynamic::from(t));
        }
    }
    Ok(m)
}

const OPTIONS_DOC: &str =
    "Options (GeomLoss's defaults): p (1 or 2: the cost ‖x−y‖ᵖ/p, default 2), blur (ε = blurᵖ, default 0.05),\n\
    scaling (the ratio of the ε-scaling schedule, in (0,1), default 0.5), reach (() for balanced transport, else\n\
    unbalanced with ρ = reachᵖ), debias (default true), diameter (() to take the clouds' bounding box), and the\n\
    reduction options backend, dtype_acc, sum_scheme.";

/// Registers `samples_loss`, `sinkhorn_divergence` and `sinkhorn`.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let doc = format!(
        "GeomLoss's SamplesLoss(name, ...)(a, x, b, y): a loss between the measures Σ a_i δ(x_i) and Σ b_j δ(y_j), as a\n\
         scalar tensor that grad() differentiates with respect to weights and points. a: [N] or [N, 1] nonnegative weights,\n\
         x: N×D points (likewise b, y); without a and b the weights are uniform (1/N, 1/M).\n\
         name: \"sinkhorn\" (the debiased Sinkhorn divergence, see sinkhorn_divergence), or the kernel norms\n\
         ½‖a−b‖²_k with k(x,y) = −‖x−y‖ (\"energy\"), exp(−‖x−y‖²/2σ²) (\"gaussian\"), exp(−‖x−y‖/σ) (\"laplacian\"), σ = blur.\n\
         Kernel losses take blur (default 0.05) and the reduction options. {OPTIONS_DOC}"
    );
    let c = ctx.clone();
    def!(
        engine,
        "samples_loss(name: string, x: Tensor, y: Tensor) -> Tensor",
        &doc,
        move |n: ImmutableString, x: Dynamic, y: Dynamic| {
            let ((a, x), (b, y)) = (uniform(&x, "samples_loss", &c)?, uniform(&y, "samples_loss", &c)?);
            loss(&n, &a, &x, &b, &y, &Map::new(), &c)
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "samples_loss(name: string, x: Tensor, y: Tensor, options: map) -> Tensor",
        &doc,
        move |n: ImmutableString, x: Dynamic, y: Dynamic, o: Map| {
            let ((a, x), (b, y)) = (uniform(&x, "samples_loss", &c)?, uniform(&y, "samples_loss", &c)?);
            loss(&n, &a, &x, &b, &y, &o, &c)
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "samples_loss(name: string, a: Tensor, x: Tensor, b: Tensor, y: Tensor) -> Tensor",
        &doc,
        move |n: ImmutableString, a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic| loss(
            &n,
            &a,
            &x,
            &b,
            &y,
            &Map::new(),
            &c
        )
    );
    let c = ctx.clone();
    def!(
        engine,
        "samples_loss(name: string, a: Tensor, x: Tensor, b: Tensor, y: Tensor, options: map) -> Tensor",
        &doc,
        move |n: ImmutableString, a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic, o: Map| loss(
            &n, &a, &x, &b, &y, &o, &c
        )
    );

    let doc = format!(
        "The debiased Sinkhorn divergence S_ε(a,b) = OT_ε(a,b) − ½OT_ε(a,a) − ½OT_ε(b,b) between Σ a_i δ(x_i) and\n\
         Σ b_j δ(y_j) (with debias: false, the entropic cost OT_ε(a,b)), computed as GeomLoss does: log-domain\n\
         Sinkhorn iterations with ε-scaling and symmetric updates, never an N×M matrix. A scalar tensor; grad()\n\
         gives the gradients of the final iteration (envelope theorem), with respect to weights and points.\n{OPTIONS_DOC}"
    );
    let c = ctx.clone();
    def!(
        engine,
        "sinkhorn_divergence(a: Tensor, x: Tensor, b: Tensor, y: Tensor) -> Tensor",
        &doc,
        move |a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic| divergence(&a, &x, &b, &y, &Map::new(), &c)
    );
    let c = ctx.clone();
    def!(
        engine,
        "sinkhorn_divergence(a: Tensor, x: Tensor, b: Tensor, y: Tensor, options: map) -> Tensor",
        &doc,
        move |a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic, o: Map| divergence(&a, &x, &b, &y, &o, &c)
    );

    let doc = format!(
        "The dual potentials of the Sinkhorn problem between Σ a_i δ(x_i) and Σ b_j δ(y_j), as a map: f (on the x_i)\n\
         and g (on the y_j) for OT_ε(a,b), and when debiased f_aa (on the x_i) for OT_ε(a,a) and g_bb (on the y_j)\n\
         for OT_ε(b,b). Each is shaped like the weights of its cloud. GeomLoss's potentials=True gives f − f_aa and\n\
         g − g_bb (f and g without debiasing); balanced, the divergence is sum(a·(f − f_aa)) + sum(b·(g − g_bb)).\n{OPTIONS_DOC}"
    );
    let c = ctx.clone();
    def!(
        engine,
        "sinkhorn(a: Tensor, x: Tensor, b: Tensor, y: Tensor) -> map",
        &doc,
        move |a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic| { potentials(&a, &x, &b, &y, &Map::new(), &c) }
    );
    let c = ctx.clone();
    def!(
        engine,
        "sinkhorn(a: Tensor, x: Tensor, b: Tensor, y: Tensor, options: map) -> map",
        &doc,
        move |a: Dynamic, x: Dynamic, b: Dynamic, y: Dynamic, o: Map| potentials(&a, &x, &b, &y, &o, &c)
    );
}
