//! Genred in scripts: a reduction from a formula string and aliases, called on tensors.
//!
//! `Genred(formula, aliases, reduction, axis)` returns a function pointer: scripts call it with
//! `conv.call(s, x, y, b)` (any number of arguments) or `conv.call([s, x, y, b])`. Arguments are
//! checked against their declarations before anything runs, and the reduction is a node of the
//! autograd tape like every LazyTensor reduction.

use crate::context::Context;
use crate::context::Event;
use crate::error::{rt, RhaiResult};
use crate::lazy::{conjugate_gradient, def, shaped, stop_from, Overrides};
use crate::values::{as_number, to_tensor};
use noyau_engine::spec::VarDecl;
use noyau_engine::tensor::no_grad;
use noyau_engine::{Axis, Cat, DType, Genred, Reduction, Tensor};
use rhai::{Array, Dynamic, Engine, FnPtr, ImmutableString, Map, NativeCallContext, INT};
use std::rc::Rc;

const CONTEXT: &str = "Genred";

/// The reduction named by `name`, which may carry K (`"ArgKMin(10)"`), with K also possibly in the
/// options and a weight formula turning LogSumExp into LogSumExpWeight.
fn reduction(name: &str, k: Option<INT>, weighted: bool) -> RhaiResult<Reduction> {
    let (base, inline_k) = match name.trim().split_once('(') {
        Some((base, rest)) => {
            let digits = rest.strip_suffix(')').map(str::trim).unwrap_or("");
            let k: INT = digits
                .parse()
                .map_err(|_| rt(CONTEXT, format!("cannot read K in `{name}`: write e.g. \"ArgKMin(10)\"")))?;
            (base.trim(), Some(k))
        }
        None => (name.trim(), None),
    };
    let k = match (inline_k, k) {
        (Some(a), Some(b)) if a != b => {
            return Err(rt(CONTEXT, format!("K is {a} in `{name}` but {b} in the options")))
        }
        (a, b) => a.or(b),
    };
    let k = k
        .map(|k| {
            usize::try_from(k)
                .ok()
                .filter(|&k| k > 0)
                .ok_or_else(|| rt(CONTEXT, format!("K must be a positive integer, got {k}")))
        })
        .transpose()?;
    let base = if base == "LogSumExp" && weighted { "LogSumExpWeight" } else { base };
    match Reduction::from_name(base, k) {
        Ok(r) => Ok(r),
        Err(_) if k.is_none() && Reduction::from_name(base, Some(1)).is_ok() => {
            Err(rt(CONTEXT, format!("{base} needs K: write \"{base}(10)\" or pass #{{K: 10}}")))
        }
        Err(e) => Err(rt(CONTEXT, e)),
    }
}

/// Builds the Genred; the options map may hold K, formula2 (the weight) and reduction options.
fn build(formula: &str, aliases: &Array, name: &str, axis: INT, map: &Map, ctx: &Rc<Context>) -> RhaiResult<FnPtr> {
    let over = Overrides::parse(map, CONTEXT, &["K", "formula2"])?;
    let k = map.get("K").map(|v| v.as_int().map_err(|_| rt(CONTEXT, "K must be an integer"))).transpose()?;
    let weight = map
        .get("formula2")
        .map(|v| v.clone().into_immutable_string().map_err(|_| rt(CONTEXT, "formula2 must be a string")))
        .transpose()?;
    let aliases: Vec<String> = aliases
        .iter()
        .map(|a| a.clone().into_string().map_err(|_| rt(CONTEXT, "aliases must be strings such as \"x = Vi(3)\"")))
        .collect::<RhaiResult<_>>()?;
    let alias_refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let reduction = reduction(name, k, weight.is_some())?;
    let axis = Axis::from_index(axis)
        .map_err(|_| rt(CONTEXT, format!("axis must be 0 (reduce over i) or 1 (reduce over j), got {axis}")))?;
    let genred = match &weight {
        Some(w) => Genred::weighted(formula, w, &alias_refs, reduction, axis),
        None => Genred::new(formula, &alias_refs, reduction, axis),
    }
    .map_err(|e| rt(CONTEXT, e))?;
    let c = ctx.clone();
    #[allow(deprecated)] // FnPtr::from_fn is marked volatile, not deprecated: it is the variadic native call we need.
    let f = FnPtr::from_fn(CONTEXT, move |_: NativeCallContext, args: &mut [&mut Dynamic]| {
        let args: Vec<Dynamic> = match args {
            [one] if one.is_array() => one.clone().cast::<Array>(),
            _ => args.iter().map(|a| (**a).clone()).collect(),
        };
        call(&genred, &over, &args, &c)
    })?;
    Ok(f)
}

/// Runs the reduction on script values given in argument order: a tensor, or [values, indices]
/// for the paired reductions.
fn call(genred: &Genred, over: &Overrides, args: &[Dynamic], ctx: &Context) -> RhaiResult<Dynamic> {
    let args = arguments(genred, args, ctx, CONTEXT)?;
    let refs: Vec<&Tensor> = args.iter().collect();
    let out = Tensor::lazy_reduce(genred.reduce(), &refs, &over.options(ctx)).map_err(|e| rt(CONTEXT, e))?;
    shaped(out, genred.reduce().reduction, genred.reduce().formula.dim(), CONTEXT)
}

/// Script values as the argument tensors of `genred`, in argument order, checked against their
/// declarations; numbers take the data's element type, so that float32 data is reduced in float32.
fn arguments(genred: &Genred, args: &[Dynamic], ctx: &Context, context: &str) -> RhaiResult<Vec<Tensor>> {
    let vars = &genred.reduce().vars;
    if args.len() != vars.len() {
        let decls: Vec<String> = vars.iter().map(|v| format!("{} = {}", v.name, v.declaration())).collect();
        return Err(rt(
            context,
            format!("expected {} argument(s) ({}), got {}", vars.len(), decls.join(", "), args.len()),
        ));
    }
    let mut tensors = Vec::with_capacity(args.len());
    for (v, a) in vars.iter().zip(args) {
        tensors.push((argument(v, a, ctx)?, as_number(a).is_some()));
    }
    check_rows(vars, &tensors)?;
    let data: Vec<&Tensor> = tensors.iter().filter(|t| !t.1).map(|t| &t.0).collect();
    let dtype = if data.iter().any(|t| t.dtype() == DType::F64) {
        DType::F64
    } else {
        data.first().map_or(ctx.dtype.get(), |t| t.dtype())
    };
    Ok(tensors.into_iter().map(|(t, number)| if number { t.to_dtype(dtype) } else { t }).collect())
}

/// KeOps' `KernelSolve(formula, aliases, varinvalias, axis)`: a callable solving (αI + K) a = b
/// for a, where K is the linear operator a ↦ Σ formula(…, a) of the reduction and b is passed in
/// place of the alias `varinvalias`, by conjugate gradient (K symmetric, αI + K positive definite).
fn build_solve(formula: &str, aliases: &Array, varinv: &str, axis: INT, ctx: &Rc<Context>) -> RhaiResult<FnPtr> {
    const WHAT: &str = "KernelSolve";
    let aliases: Vec<String> = aliases
        .iter()
        .map(|a| a.clone().into_string().map_err(|_| rt(WHAT, "aliases must be strings such as \"x = Vi(3)\"")))
        .collect::<RhaiResult<_>>()?;
    let alias_refs: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let axis = Axis::from_index(axis)
        .map_err(|_| rt(WHAT, format!("axis must be 0 (reduce over i) or 1 (reduce over j), got {axis}")))?;
    let genred = Genred::new(formula, &alias_refs, Reduction::Sum, axis).map_err(|e| rt(WHAT, e))?;
    let vars = &genred.reduce().vars;
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    let slot = vars
        .iter()
        .position(|v| v.name == varinv)
        .ok_or_else(|| rt(WHAT, format!("varinvalias `{varinv}` is not one of the aliases {names:?}")))?;
    let unknown = &vars[slot];
    if unknown.cat != axis.inner() || unknown.dim != genred.reduce().out_dim {
        return Err(rt(
            WHAT,
            format!(
                "the unknown `{varinv}` = {} must be indexed by the reduced side and have the formula's dimension {}: \
                 the formula maps it to a vector of its own shape",
                unknown.declaration(),
                genred.reduce().out_dim
            ),
        ));
    }
    let c = ctx.clone();
    #[allow(deprecated)] // FnPtr::from_fn is marked volatile, not deprecated: it is the variadic native call we need.
    let f = FnPtr::from_fn(WHAT, move |_: NativeCallContext, args: &mut [&mut Dynamic]| {
        let mut args: Vec<Dynamic> = args.iter().map(|a| (**a).clone()).collect();
        let options = match args.last() {
            Some(last) if last.is_map() => args.pop().map(|m| m.cast::<Map>()).unwrap_or_default(),
            _ => Map::new(),
        };
        kernel_solve(&genred, slot, &args, &options, &c).map(Dynamic::from)
    })?;
    Ok(f)
}

fn kernel_solve(genred: &Genred, slot: usize, args: &[Dynamic], options: &Map, ctx: &Context) -> RhaiResult<Tensor> {
    const WHAT: &str = "KernelSolve";
    let alpha = options
        .get("alpha")
        .and_then(as_number)
        .ok_or_else(|| rt(WHAT, "alpha is needed: Kinv.call(x, y, b, #{alpha: 0.1})"))?;
    let stop = stop_from(options, WHAT)?;
    let over = Overrides::parse(options, WHAT, &["alpha", "tol", "eps", "max_iter"])?;
    let mut tensors = arguments(genred, args, ctx, WHAT)?;
    let refs: Vec<&Tensor> = tensors.iter().collect();
    let rows = |cat: Cat| genred.reduce().vars.iter().zip(&refs).find(|(v, _)| v.cat == cat).map(|(_, t)| t.shape()[0]);
    if let (Some(n), Some(m)) = (rows(Cat::I), rows(Cat::J)) {
        if n != m {
            return Err(rt(WHAT, format!("the kernel must be square to be inverted: N = {n} but M = {m}")));
        }
    }
    let dtype = tensors[slot].dtype();
    let rhs = tensors[slot].to_array2::<f64>().map_err(|e| rt(WHAT, e))?;
    let opts = over.options(ctx);
    let mut apply = |p: &ndarray::Array2<f64>| -> RhaiResult<ndarray::Array2<f64>> {
        tensors[slot] = Tensor::from(p.clone()).to_dtype(dtype);
        let refs: Vec<&Tensor> = tensors.iter().collect();
        let kp = no_grad(|| Tensor::lazy_reduce(genred.reduce(), &refs, &opts)).map_err(|e| rt(WHAT, e))?;
        Ok(kp.to_array2::<f64>().map_err(|e| rt(WHAT, e))? + alpha * p)
    };
    let (a, residual, converged) = conjugate_gradient(&mut apply, &rhs, &stop, WHAT)?;
    if !converged {
        ctx.emit(Event::Stderr(format!(
            "warning: KernelSolve: the conjugate gradient did not converge in {} iterations (relative residual {residual:.1e} > tol {:.1e})",
            stop.max_iter, stop.tol
        )));
    }
    Ok(Tensor::from(a).to_dtype(dtype))
}

/// One argument as the 2-D tensor its declaration asks for; numbers and 1-D tensors are accepted
/// for parameters, and 1-D tensors for variables of dimension 1.
fn argument(v: &VarDecl, a: &Dynamic, ctx: &Context) -> RhaiResult<Tensor> {
    let t = to_tensor(a, ctx, CONTEXT)?;
    let target: Option<[isize; 2]> = match (v.cat, t.shape()) {
        (Cat::P, []) if v.dim == 1 => Some([1, 1]),
        (Cat::P, &[d]) if d == v.dim => Some([1, d as isize]),
        (Cat::P, &[1, d]) if d == v.dim => None,
        (Cat::I | Cat::J, &[n]) if v.dim == 1 => Some([n as isize, 1]),
        (Cat::I | Cat::J, &[_, d]) if d == v.dim => None,
        (_, shape) => {
            let hint = match v.cat {
                Cat::P => format!("a parameter is a number, a vector of length {0} or a 1×{0} tensor", v.dim),
                _ => format!("it needs {} column(s)", v.dim),
            };
            return Err(rt(
                CONTEXT,
                format!(
                    "variable {} is declared {} but got a tensor of shape {shape:?}: {hint}",
                    v.name,
                    v.declaration()
                ),
            ));
        }
    };
    match target {
        Some(s) => t.reshape(&s).map_err(|e| rt(CONTEXT, e)),
        None => Ok(t),
    }
}

/// All i-indexed arguments must have the same number of rows, and all j-indexed ones.
fn check_rows(vars: &[VarDecl], tensors: &[(Tensor, bool)]) -> RhaiResult<()> {
    for cat in [Cat::I, Cat::J] {
        let mut first: Option<(&VarDecl, usize)> = None;
        for (v, (t, _)) in vars.iter().zip(tensors).filter(|(v, _)| v.cat == cat) {
            let rows = t.shape()[0];
            match first {
                None => first = Some((v, rows)),
                Some((f, n)) if n != rows => {
                    let side = if cat == Cat::I { "i" } else { "j" };
                    return Err(rt(
                        CONTEXT,
                        format!("variable {} is declared {} but got {rows} rows while {} has {n}, and both are {side}-indexed", v.name, v.declaration(), f.name),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Registers this module's functions.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let doc = "Genred(formula, aliases, reduction, axis): a reduction of a formula string, as in KeOps.\n\
               aliases: [\"s = Pm(1)\", \"x = Vi(3)\", ...]; reduction: \"Sum\", \"LogSumExp\", \"ArgKMin(10)\", ...;\n\
               axis 0 reduces over i, 1 over j. Options map: K, formula2 (the weight), backend, dtype_acc, sum_scheme.\n\
               Call it with g.call(s, x, y, b) or g.call([s, x, y, b]); the result is a tensor.";
    let c = ctx.clone();
    def!(
        engine,
        "KernelSolve(formula: string, aliases: array, varinvalias: string, axis: int) -> Fn",
        "KeOps' KernelSolve: Kinv = KernelSolve(\"Exp(-g*SqDist(x,y))*b\", [\"x = Vi(3)\", \"y = Vj(3)\", \"b = Vj(2)\", \"g = Pm(1)\"], \"b\", 1)\n\
         then a = Kinv.call(x, x, rhs, g, #{alpha: 0.1}) solves (alpha·I + K) a = rhs, K the operator b ↦ Σ_j formula,\n\
         by conjugate gradient (K symmetric). Options: alpha (needed), tol (or KeOps' eps, default 1e-6), max_iter, and\n\
         the reduction options. Prints a warning if it does not converge; the result is not differentiable.",
        move |f: ImmutableString, aliases: Array, varinv: ImmutableString, axis: INT| build_solve(&f, &aliases, &varinv, axis, &c)
    );
    let c = ctx.clone();
    let signature = "Genred(formula: string, aliases: array, reduction: string, axis: int, options: map) -> Fn";
    def!(engine, signature, doc, move |f: ImmutableString, aliases: Array, r: ImmutableString, axis: INT, map: Map| {
        build(&f, &aliases, &r, axis, &map, &c)
    });
    let c = ctx.clone();
    let signature = "Genred(formula: string, aliases: array, reduction: string, axis: int) -> Fn";
    def!(engine, signature, doc, move |f: ImmutableString, aliases: Array, r: ImmutableString, axis: INT| {
        build(&f, &aliases, &r, axis, &Map::new(), &c)
    });
    let c = ctx.clone();
    def!(
        engine,
        "Genred(formula: string, aliases: array) -> Fn",
        doc,
        move |f: ImmutableString, aliases: Array| build(&f, &aliases, "Sum", 0, &Map::new(), &c)
    );
}
