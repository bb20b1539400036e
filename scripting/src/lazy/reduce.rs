//! Reductions of LazyTensors (sum, logsumexp, min, Kmin, ...), their options map, and `K @ v`.
//!
//! Every reduction goes through [`prepare`] (one binding space, declared arguments named as in
//! printing, numbers cast to the data's dtype) and `Tensor::lazy_reduce`, so its result is on the
//! autograd tape: `grad(H, [q, p])` differentiates through it with reductions, never N×M arrays.

use super::display::names;
use super::ops::apply1;
use super::{def, engine_msg, Binding, LazyTensor};
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::values::to_tensor;
use noyau_engine::spec::{Backend, Options};
use noyau_engine::{Axis, Cat, DType, Expr, Op, Reduce, Reduction, SumScheme, Tensor, VarDecl};
use rhai::{Dynamic, Engine, Map, INT};
use std::rc::Rc;
use std::sync::Arc;

/// Reduction options from a script's map (`#{backend: "cpu", dtype_acc: "float64", sum_scheme: "kahan"}`),
/// applied over the session's options when the reduction runs.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    backend: Option<Backend>,
    sum_scheme: Option<SumScheme>,
    accumulate_f64: Option<bool>,
    ranges: Option<Arc<noyau_engine::ranges::Ranges>>,
}

/// The keys [`Overrides::parse`] reads (KeOps' option names).
const OPTION_KEYS: [&str; 7] =
    ["backend", "device_id", "dtype_acc", "sum_scheme", "use_double_acc", "enable_chunks", "ranges"];

impl Overrides {
    /// Reads the reduction options of `map`. Keys in `extra` are left to the caller; any other key
    /// is an error listing the valid ones.
    pub fn parse(map: &Map, context: &str, extra: &[&str]) -> RhaiResult<Overrides> {
        let mut o = Overrides::default();
        let mut device = None;
        for (key, value) in map {
            let text = || {
                value.clone().into_immutable_string().map_err(|_| rt(context, format!("option {key} must be a string")))
            };
            match key.as_str() {
                "backend" => o.backend = Some(Backend::from_name(&text()?).map_err(|e| rt(context, e))?),
                "sum_scheme" => o.sum_scheme = Some(SumScheme::from_name(&text()?).map_err(|e| rt(context, e))?),
                "dtype_acc" => {
                    o.accumulate_f64 = Some(match text()?.as_str() {
                        "float64" => true,
                        "float32" | "auto" => false,
                        other => {
                            return Err(rt(context, format!("dtype_acc must be auto, float32 or float64, got {other}")))
                        }
                    })
                }
                "use_double_acc" => {
                    o.accumulate_f64 =
                        Some(value.as_bool().map_err(|_| rt(context, "option use_double_acc must be true or false"))?)
                }
                "device_id" => {
                    let id = value.as_int().ok().and_then(|k| usize::try_from(k).ok());
                    device = Some(id.ok_or_else(|| rt(context, "option device_id must be a GPU number: 0, 1, ..."))?);
                }
                // KeOps splits large vector dimensions into chunks when asked; both backends here
                // handle any dimension without it, so the option is accepted and changes nothing.
                "enable_chunks" => {
                    value.as_bool().map_err(|_| rt(context, "option enable_chunks must be true or false"))?;
                }
                "ranges" => o.ranges = Some(crate::ranges_api::from_script(value, context)?),
                k if extra.contains(&k) => {}
                k => {
                    let valid: Vec<&str> = OPTION_KEYS.iter().chain(extra).copied().collect();
                    return Err(rt(context, format!("unknown option `{k}`: the options are {}", valid.join(", "))));
                }
            }
        }
        if let Some(k) = device {
            // device_id picks the GPU of a GPU backend, as in KeOps (`backend: "GPU", device_id: 1`).
            o.backend = match o.backend {
                None | Some(Backend::Auto | Backend::Gpu(_)) => {
                    Some(Backend::from_name(&format!("cuda:{k}")).map_err(|e| rt(context, e))?)
                }
                Some(_) => {
                    return Err(rt(context, format!("option device_id = {k} names a GPU, not the backend chosen")))
                }
            };
        }
        Ok(o)
    }

    /// The session's options (backend, cancel flag) with these overrides.
    pub fn options(&self, ctx: &Context) -> Options {
        let mut o = ctx.options();
        if let Some(b) = self.backend {
            o.backend = b;
        }
        if let Some(s) = self.sum_scheme {
            o.sum_scheme = s;
        }
        if let Some(a) = self.accumulate_f64 {
            o.accumulate_f64 = a;
        }
        if let Some(r) = &self.ranges {
            o.ranges = Some(r.clone());
        }
        o
    }
}

/// The element type reductions run in: float64 if a data tensor is, float32 if any data tensor
/// exists, else the session's default. Numbers written in the script never decide it.
pub(crate) fn data_dtype<'a>(data: impl Iterator<Item = &'a Tensor>, ctx: &Context) -> DType {
    let mut dtype = None;
    for t in data {
        if t.dtype() == DType::F64 {
            return DType::F64;
        }
        dtype = Some(t.dtype());
    }
    dtype.unwrap_or(ctx.dtype.get())
}

/// A reduction ready to run: the spec and its argument tensors.
pub(super) struct Prepared {
    pub spec: Reduce,
    pub args: Vec<Tensor>,
}

impl Prepared {
    pub fn run(&self, opts: &Options, context: &str) -> RhaiResult<Tensor> {
        let refs: Vec<&Tensor> = self.args.iter().collect();
        Tensor::lazy_reduce(&self.spec, &refs, opts).map_err(|e| rt(context, engine_msg(&e)))
    }
}

/// Binds `lt` (and a weight formula) to a reduction over `axis`. Every binding is declared, so
/// variables that a derivative eliminated still count (and still set N or M).
pub(super) fn prepare(
    lt: &LazyTensor,
    weight: Option<&LazyTensor>,
    reduction: Reduction,
    axis: Axis,
    ctx: &Context,
    context: &str,
) -> RhaiResult<Prepared> {
    let ((formula, weight), vars) = match weight {
        None => ((lt.formula.clone(), None), lt.vars.clone()),
        Some(w) => LazyTensor::combine_with(
            &[lt, w],
            |t| format!("{context} with weight {}", t[1]),
            |f| Ok((f[0].clone(), Some(f[1].clone()))),
        )?,
    };
    let decls: Vec<VarDecl> = names(&vars)
        .into_iter()
        .zip(vars.iter())
        .enumerate()
        .map(|(index, (name, b))| VarDecl { name, index, dim: b.arg.shape()[1], cat: b.cat })
        .collect();
    let spec = Reduce::with_vars(formula, weight, reduction, axis, &decls).map_err(|e| rt(context, engine_msg(&e)))?;
    Ok(Prepared { spec, args: arguments(&vars, ctx) })
}

/// The argument tensors of the bindings, numbers cast to the data's element type.
pub(super) fn arguments(vars: &[Binding], ctx: &Context) -> Vec<Tensor> {
    let dtype = data_dtype(vars.iter().filter(|b| b.number.is_none()).map(|b| &b.arg), ctx);
    vars.iter().map(|b| if b.number.is_some() { b.arg.to_dtype(dtype) } else { b.arg.clone() }).collect()
}

/// The reductions of the table; `Vector` ones are also the lazy vector operation for dim = -1.
#[derive(Clone, Copy)]
enum Kind {
    Vector(Reduction, fn(Expr) -> Result<Expr, noyau_engine::Error>),
    Plain(Reduction),
    K(fn(usize) -> Reduction),
}

const REDUCTIONS: &[(&str, Kind, &str)] = &[
    ("sum", Kind::Vector(Reduction::Sum, |x| x.sum()), "x.sum(dim): Σ over i (dim 0) or j (dim 1), a tensor; x.sum(-1) or x.sum(): the sum of the components, a LazyTensor."),
    ("min", Kind::Vector(Reduction::Min, |x| Expr::new(Op::Min, vec![x])), "x.min(dim): the minimum over i (dim 0) or j (dim 1); x.min(-1): the smallest component, a LazyTensor."),
    ("max", Kind::Vector(Reduction::Max, |x| Expr::new(Op::Max, vec![x])), "x.max(dim): the maximum over i (dim 0) or j (dim 1); x.max(-1): the largest component, a LazyTensor."),
    ("argmin", Kind::Vector(Reduction::ArgMin, |x| Expr::new(Op::ArgMin, vec![x])), "x.argmin(dim): the index of the minimum over i or j (as floats); x.argmin(-1): the position of the smallest component."),
    ("argmax", Kind::Vector(Reduction::ArgMax, |x| Expr::new(Op::ArgMax, vec![x])), "x.argmax(dim): the index of the maximum over i or j (as floats); x.argmax(-1): the position of the largest component."),
    ("logsumexp", Kind::Plain(Reduction::LogSumExp), "x.logsumexp(dim): log Σ exp over i (dim 0) or j (dim 1), in one stable pass; x of dimension 1."),
    ("sum_reduction", Kind::Plain(Reduction::Sum), "x.sum_reduction(dim): the Sum reduction over i (dim 0) or j (dim 1)."),
    ("min_reduction", Kind::Plain(Reduction::Min), "x.min_reduction(dim): the Min reduction over i (dim 0) or j (dim 1)."),
    ("max_reduction", Kind::Plain(Reduction::Max), "x.max_reduction(dim): the Max reduction over i (dim 0) or j (dim 1)."),
    ("logsumexp_reduction", Kind::Plain(Reduction::LogSumExp), "x.logsumexp_reduction(dim): the LogSumExp reduction over i (dim 0) or j (dim 1)."),
    ("argmin_reduction", Kind::Plain(Reduction::ArgMin), "x.argmin_reduction(dim): the ArgMin reduction over i (dim 0) or j (dim 1)."),
    ("argmax_reduction", Kind::Plain(Reduction::ArgMax), "x.argmax_reduction(dim): the ArgMax reduction over i (dim 0) or j (dim 1)."),
    ("min_argmin_reduction", Kind::Plain(Reduction::MinArgMin), "x.min_argmin_reduction(dim): [values, indices] of the minimum over i (dim 0) or j (dim 1)."),
    ("max_argmax_reduction", Kind::Plain(Reduction::MaxArgMax), "x.max_argmax_reduction(dim): [values, indices] of the maximum over i (dim 0) or j (dim 1)."),
    ("min_argmin", Kind::Plain(Reduction::MinArgMin), "x.min_argmin(dim): [values, indices] of the minimum over i (dim 0) or j (dim 1)."),
    ("max_argmax", Kind::Plain(Reduction::MaxArgMax), "x.max_argmax(dim): [values, indices] of the maximum over i (dim 0) or j (dim 1)."),
    ("Kmin", Kind::K(Reduction::KMin), "x.Kmin(K, dim): the K smallest values over i (dim 0) or j (dim 1), in increasing order (N×K·D, k-major)."),
    ("argKmin", Kind::K(Reduction::ArgKMin), "x.argKmin(K, dim): the indices (as floats) of the K smallest values over i (dim 0) or j (dim 1)."),
    ("Kmin_argKmin", Kind::K(Reduction::KMinArgKMin), "x.Kmin_argKmin(K, dim): [values, indices] of the K smallest values over i (dim 0) or j (dim 1)."),
    ("Kmin_reduction", Kind::K(Reduction::KMin), "x.Kmin_reduction(K, dim): the KMin reduction over i (dim 0) or j (dim 1)."),
    ("argKmin_reduction", Kind::K(Reduction::ArgKMin), "x.argKmin_reduction(K, dim): the ArgKMin reduction over i (dim 0) or j (dim 1)."),
    ("Kmin_argKmin_reduction", Kind::K(Reduction::KMinArgKMin), "x.Kmin_argKmin_reduction(K, dim): [values, indices] of the K smallest values over i (dim 0) or j (dim 1)."),
];

/// The axis of a reduction, or the error a person needs (`vector`: -1 is also accepted, elsewhere).
fn axis(dim: INT, vector: bool, context: &str) -> RhaiResult<Axis> {
    Axis::from_index(dim).map_err(|_| {
        let hint =
            if vector { "; -1 (or 2) gives the operation along the vector dimension (a LazyTensor)" } else { "" };
        rt(context, format!("dim must be 0 (reduce over i) or 1 (reduce over j){hint}"))
    })
}

/// Runs a reduction and shapes its result: one tensor, or [values, indices] for the paired reductions.
fn reduce(
    lt: &LazyTensor,
    weight: Option<&LazyTensor>,
    reduction: Reduction,
    axis: Axis,
    opts: &Options,
    ctx: &Context,
    context: &str,
) -> RhaiResult<Dynamic> {
    let out = prepare(lt, weight, reduction, axis, ctx, context)?.run(opts, context)?;
    shaped(out, reduction, lt.formula.dim(), context)
}

/// A reduction's result as scripts see it, from LazyTensor methods and Genred alike, as pykeops
/// returns it: [values, indices] for the paired reductions (Min_ArgMin, Max_ArgMax,
/// KMin_ArgKMin), and for the K-reductions of a formula of dimension D > 1, N×K×D tensors.
pub(crate) fn shaped(out: Tensor, reduction: Reduction, dim: usize, context: &str) -> RhaiResult<Dynamic> {
    let k_shaped = |t: Tensor| -> RhaiResult<Dynamic> {
        match reduction.k() {
            // The engine's K-lists are k-major (the r-th best of component c at r·D + c): N×K×D.
            Some(k) if dim > 1 => {
                t.reshape(&[-1, k as isize, dim as isize]).map(Dynamic::from).map_err(|e| rt(context, e))
            }
            _ => Ok(Dynamic::from(t)),
        }
    };
    if !is_paired(reduction) {
        return k_shaped(out);
    }
    let half = (out.shape()[1] / 2) as isize;
    let part = |a: isize, b: isize| out.slice(1, a, b).map_err(|e| rt(context, e)).and_then(k_shaped);
    Ok(Dynamic::from_array(vec![part(0, half)?, part(half, 2 * half)?]))
}

/// The session's options, with those of the script's map if it gave one.
fn options(map: Option<&Map>, context: &str, ctx: &Context) -> RhaiResult<Options> {
    match map {
        None => Ok(ctx.options()),
        Some(m) => Ok(Overrides::parse(m, context, &[])?.options(ctx)),
    }
}

/// Registers `name(args..)` and `name(args.., options)`, documented as `$head) -> $ret` and
/// `$head, options: map) -> $ret`; the body gets the map, if any.
macro_rules! with_options {
    ($engine:expr, $ctx:expr, $head:expr, $ret:expr, $doc:expr, |$($arg:ident : $ty:ty),*| $body:expr) => {{
        let (head, ret) = ($head, $ret);
        let c = $ctx.clone();
        def!($engine, format!("{head}) -> {ret}"), $doc, move |$($arg: $ty),*| -> RhaiResult<Dynamic> {
            ($body)(None, &*c)
        });
        let c = $ctx.clone();
        def!($engine, format!("{head}, options: map) -> {ret}"), $doc, move |$($arg: $ty,)* map: Map| -> RhaiResult<Dynamic> {
            ($body)(Some(&map), &*c)
        });
    }};
}

/// What a reduction returns in scripts: [values, indices] for the paired ones, else a tensor.
fn returns(r: Reduction) -> &'static str {
    if is_paired(r) {
        "array"
    } else {
        "Tensor"
    }
}

fn is_paired(r: Reduction) -> bool {
    matches!(r, Reduction::MinArgMin | Reduction::MaxArgMax | Reduction::KMinArgKMin(_))
}

pub(super) fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    for &(name, kind, doc) in REDUCTIONS {
        match kind {
            Kind::Vector(r, vector) => {
                def!(engine, format!("{name}(x: LazyTensor) -> LazyTensor"), doc, move |x: LazyTensor| {
                    apply1(&x, |t| format!("{t}.{name}(-1)"), vector)
                });
                let head = format!("{name}(x: LazyTensor, dim: int");
                with_options!(engine, ctx, head, "Tensor | LazyTensor", doc, |x: LazyTensor, dim: INT| {
                    |map: Option<&Map>, ctx: &Context| {
                        let context = format!("{name}(dim={dim})");
                        let opts = options(map, &context, ctx)?;
                        // A LazyTensor is N×M×D to KeOps: dim 2, like -1, is the vector dimension.
                        if dim == -1 || dim == 2 {
                            return apply1(&x, |t| format!("{t}.{name}(-1)"), vector).map(Dynamic::from);
                        }
                        reduce(&x, None, r, axis(dim, true, &context)?, &opts, ctx, &context)
                    }
                });
            }
            Kind::Plain(r) => {
                let head = format!("{name}(x: LazyTensor, dim: int");
                with_options!(engine, ctx, head, returns(r), doc, |x: LazyTensor, dim: INT| {
                    |map: Option<&Map>, ctx: &Context| {
                        let context = format!("{name}(dim={dim})");
                        let opts = options(map, &context, ctx)?;
                        reduce(&x, None, r, axis(dim, false, &context)?, &opts, ctx, &context)
                    }
                });
            }
            Kind::K(r) => {
                let head = format!("{name}(x: LazyTensor, K: int, dim: int");
                with_options!(engine, ctx, head, returns(r(1)), doc, |x: LazyTensor, k: INT, dim: INT| {
                    |map: Option<&Map>, ctx: &Context| {
                        let context = format!("{name}(K={k}, dim={dim})");
                        let opts = options(map, &context, ctx)?;
                        let k = usize::try_from(k)
                            .ok()
                            .filter(|&k| k > 0)
                            .ok_or_else(|| rt(&context, "K must be a positive integer"))?;
                        reduce(&x, None, r(k), axis(dim, false, &context)?, &opts, ctx, &context)
                    }
                });
            }
        }
    }
    register_weighted(engine, ctx);
    register_matmul(engine, ctx);
    super::solve::register(engine, ctx);
}

fn register_weighted(engine: &mut Engine, ctx: &Rc<Context>) {
    let doc = "x.logsumexp(dim, w): log Σ exp(x)·w over i (dim 0) or j (dim 1), w a LazyTensor (LogSumExpWeight).";
    let head = "logsumexp(x: LazyTensor, dim: int, weight: LazyTensor";
    with_options!(engine, ctx, head, "Tensor", doc, |x: LazyTensor, dim: INT, w: LazyTensor| {
        |map: Option<&Map>, ctx: &Context| {
            let context = format!("logsumexp(dim={dim}, weight)");
            let opts = options(map, &context, ctx)?;
            reduce(&x, Some(&w), Reduction::LogSumExpWeight, axis(dim, false, &context)?, &opts, ctx, &context)
        }
    });
    let doc = "x.sumsoftmaxweight(w, dim): Σ exp(x)·w / Σ exp(x) over i (dim 0) or j (dim 1), w a LazyTensor.";
    let head = "sumsoftmaxweight(x: LazyTensor, weight: LazyTensor, dim: int";
    with_options!(engine, ctx, head, "Tensor", doc, |x: LazyTensor, w: LazyTensor, dim: INT| {
        |map: Option<&Map>, ctx: &Context| {
            let context = format!("sumsoftmaxweight(weight, dim={dim})");
            let opts = options(map, &context, ctx)?;
            reduce(&x, Some(&w), Reduction::SumSoftMaxWeight, axis(dim, false, &context)?, &opts, ctx, &context)
        }
    });
}

/// Σ_j K_ij v_j: `v` is M×E (the result N×E) or of length M (the result of length N).
fn matmul(k: &LazyTensor, v: &Dynamic, opts: &Options, ctx: &Context) -> RhaiResult<Tensor> {
    let context = "K @ v";
    let t = to_tensor(v, ctx, context)?;
    if k.formula.dim() != 1 {
        return Err(rt(
            context,
            format!("K must have dimension 1 to act as a matrix, it has dimension {}", k.formula.dim()),
        ));
    }
    if t.ndim() == 0 || t.ndim() > 2 {
        return Err(rt(context, format!("v must be a vector of length M or an M×E matrix, got shape {:?}", t.shape())));
    }
    let v_j = LazyTensor::variable(t.clone(), Cat::J).map_err(|e| rt(context, e))?;
    let kv = LazyTensor::combine(&[k, &v_j], |_| context.to_string(), |f| f[0].clone().mul(f[1].clone()))?;
    let out = prepare(&kv, None, Reduction::Sum, Axis::J, ctx, context)?.run(opts, context)?;
    if t.ndim() == 1 {
        out.reshape(&[-1]).map_err(|e| rt(context, e))
    } else {
        Ok(out)
    }
}

fn register_matmul(engine: &mut Engine, ctx: &Rc<Context>) {
    // The tensor API registers `@` too; registering an operator twice is harmless.
    let _ = engine.register_custom_operator("@", 180);
    let doc = "K @ v or K.matmul(v): Σ_j K_ij v_j, a tensor (N×E for v of shape M×E, length N for v of length M).";
    for name in ["@", "matmul"] {
        let c = ctx.clone();
        let signature = format!("{name}(K: LazyTensor, v: Tensor | array) -> Tensor");
        def!(engine, signature, doc, move |k: LazyTensor, v: Dynamic| matmul(&k, &v, &c.options(), &c));
    }
    let c = ctx.clone();
    def!(
        engine,
        "matmul(K: LazyTensor, v: Tensor | array, options: map) -> Tensor",
        doc,
        move |k: LazyTensor, v: Dynamic, map: Map| {
            matmul(&k, &v, &Overrides::parse(&map, "matmul", &[])?.options(&c), &c)
        }
    );
}
