//! Tensors in scripts: constructors, arithmetic with broadcasting, indexing, reductions, autograd, printing.
//!
//! Each submodule registers one family of functions; this one registers the type itself, its
//! printing and the session defaults (`set_dtype`, `set_device`, `seed`), and holds the helpers
//! they share: engine errors as script errors, dimension checks with messages naming the call,
//! and [`int_forms!`], which registers a function taking a shape as several ints or one array.

mod arith;
mod autograd;
mod create;
mod reduce;
mod shape;

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::{dtype_from_name, TENSOR};
use noyau_engine::spec::Backend;
use noyau_engine::Tensor;
use rhai::{Engine, ImmutableString, INT};
use std::rc::Rc;

/// Registers the tensor type and every tensor function.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    engine.register_type_with_name::<Tensor>(TENSOR);
    for name in ["to_string", "to_debug"] {
        doc(
            &format!("{name}(x: Tensor) -> string"),
            "The tensor as PyTorch prints it: its values (the first and last three along each dimension\n\
             when it has more than 1000 elements), its shape when summarised, and its dtype.",
        )
        .register_into_engine(engine, |x: Tensor| x.to_string());
    }
    register_defaults(engine, ctx);
    create::register(engine, ctx);
    arith::register(engine, ctx);
    shape::register(engine, ctx);
    reduce::register(engine, ctx);
    autograd::register(engine, ctx);
}

fn register_defaults(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    doc(
        "set_dtype(dtype: string)",
        "Sets the dtype of the tensors made from now on: \"float32\" (the default) or \"float64\".",
    )
    .register_into_engine(engine, move |name: ImmutableString| -> RhaiResult<()> {
        c.dtype.set(dtype_from_name("set_dtype", &name)?);
        Ok(())
    });
    let c = ctx.clone();
    doc("get_dtype() -> string", "The dtype of new tensors: \"float32\" or \"float64\".")
        .register_into_engine(engine, move || c.dtype.get().name().to_string());
    let c = ctx.clone();
    doc(
        "set_device(device: string)",
        "Chooses where reductions run: \"auto\" (the fastest available, the default), \"cpu\",\n\
         \"gpu\" (an error when this build or machine has none) or \"reference\" (the slow float64 oracle).",
    )
    .register_into_engine(engine, move |name: ImmutableString| -> RhaiResult<()> {
        c.backend.set(Backend::from_name(&name).map_err(|e| rt("set_device", e))?);
        Ok(())
    });
    let c = ctx.clone();
    // The variant names, lower-cased, are the names set_device accepts (backends added later included).
    doc("get_device() -> string", "Where reductions run: \"auto\", \"cpu\", \"reference\", ...")
        .register_into_engine(engine, move || format!("{:?}", c.backend.get()).to_lowercase());
    let c = ctx.clone();
    doc("seed(s: int)", "Reseeds the generator behind randn and rand: the same seed gives the same tensors.")
        .register_into_engine(engine, move |s: INT| *c.rng.borrow_mut() = noyau_engine::random::Rng::new(s as u64));
}

/// An engine result as a script result (engine messages already name the op and the shapes).
pub(crate) fn ok<T>(r: noyau_engine::Result<T>) -> RhaiResult<T> {
    r.map_err(|e| rt("", e))
}

/// `dim` checked against a tensor of `shape` (`extra` = 1 where a new dimension may be
/// inserted), so that the message names the call and the valid range: `sum(dim=2): dim must be
/// 0 or 1 (or -2 or -1) for a tensor of shape [2, 3]`.
pub(crate) fn check_dim(op: &str, dim: INT, shape: &[usize], extra: usize) -> RhaiResult<isize> {
    let n = (shape.len() + extra) as INT;
    if (-n..n).contains(&dim) {
        return Ok(dim as isize);
    }
    let call = format!("{op}(dim={dim})");
    if n == 0 {
        return Err(rt(&call, "a 0-D tensor has no dimension"));
    }
    let list = |ks: Vec<INT>| match ks.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{} or {last}", rest.iter().map(INT::to_string).collect::<Vec<_>>().join(", "))
        }
        _ => ks.iter().map(INT::to_string).collect(),
    };
    Err(rt(
        &call,
        format!(
            "dim must be {} (or {}) for a tensor of shape {shape:?}",
            list((0..n).collect()),
            list((-n..0).collect())
        ),
    ))
}

/// Registers one function under several arities: `name(shape: array)` and `name(n0)` ...
/// `name(n0, n1, n2, n3)`, each collecting its ints into a `Vec<Dynamic>` for one shared body;
/// optional leading parameters (`x: Tensor`) come first. The body is `Fn(leading..., Vec<Dynamic>)`.
macro_rules! int_forms {
    ($engine:expr, $name:expr, $what:literal, $doc:expr, [$($p:ident: $P:ty),*], $ret:literal, $body:expr) => {{
        let body = std::rc::Rc::new($body);
        let pre: String = [$(concat!(stringify!($p), ": ", stringify!($P), ", ")),*].iter().copied().collect::<Vec<&str>>().concat();
        let sig = |args: &str| format!("{}({pre}{args}) -> {}", $name, $ret);
        let b = body.clone();
        $crate::help::doc(&sig(concat!($what, ": array")), $doc)
            .register_into_engine($engine, move |$($p: $P,)* s: rhai::Array| b($($p,)* vec![rhai::Dynamic::from_array(s)]));
        let b = body.clone();
        $crate::help::doc(&sig("n0: int"), $doc)
            .register_into_engine($engine, move |$($p: $P,)* a: rhai::INT| b($($p,)* vec![a.into()]));
        let b = body.clone();
        $crate::help::doc(&sig("n0: int, n1: int"), $doc)
            .register_into_engine($engine, move |$($p: $P,)* a: rhai::INT, c: rhai::INT| b($($p,)* vec![a.into(), c.into()]));
        let b = body.clone();
        $crate::help::doc(&sig("n0: int, n1: int, n2: int"), $doc).register_into_engine(
            $engine,
            move |$($p: $P,)* a: rhai::INT, c: rhai::INT, d: rhai::INT| b($($p,)* vec![a.into(), c.into(), d.into()]),
        );
        let b = body;
        $crate::help::doc(&sig("n0: int, n1: int, n2: int, n3: int"), $doc).register_into_engine(
            $engine,
            move |$($p: $P,)* a: rhai::INT, c: rhai::INT, d: rhai::INT, e: rhai::INT| b($($p,)* vec![a.into(), c.into(), d.into(), e.into()]),
        );
    }};
}
pub(crate) use int_forms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dim_messages_list_the_valid_range() {
        assert_eq!(check_dim("sum", -2, &[2, 3], 0).unwrap(), -2);
        let e = check_dim("sum", 2, &[2, 3], 0).unwrap_err().to_string();
        assert!(e.ends_with("sum(dim=2): dim must be 0 or 1 (or -2 or -1) for a tensor of shape [2, 3]"), "{e}");
        let e = check_dim("sum", 3, &[4, 2, 3], 0).unwrap_err().to_string();
        assert!(e.contains("dim must be 0, 1 or 2 (or -3, -2 or -1)"), "{e}");
        assert!(check_dim("unsqueeze", 2, &[2, 3], 1).is_ok());
        assert!(check_dim("sum", 0, &[], 0).unwrap_err().to_string().contains("0-D"));
    }
}
