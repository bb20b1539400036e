//! Reductions: sum, mean, max, min and the Euclidean norm, over all elements or one dimension.

use super::{check_dim, ok};
use crate::context::Context;
use crate::error::RhaiResult;
use crate::help::doc;
use noyau_engine::Tensor;
use rhai::{Engine, INT};
use std::rc::Rc;

type All = fn(&Tensor) -> noyau_engine::Result<Tensor>;
type AlongDim = fn(&Tensor, isize, bool) -> noyau_engine::Result<Tensor>;

fn norm_all(x: &Tensor) -> noyau_engine::Result<Tensor> {
    Ok(x.square().sum_all().sqrt())
}

fn norm_dim(x: &Tensor, d: isize, keepdim: bool) -> noyau_engine::Result<Tensor> {
    Ok(x.square().sum(d, keepdim)?.sqrt())
}

pub fn register(engine: &mut Engine, _ctx: &Rc<Context>) {
    let reductions: [(&str, &str, All, AlongDim); 5] = [
        ("sum", "The sum", |x| Ok(x.sum_all()), Tensor::sum),
        ("mean", "The mean", |x| Ok(x.mean_all()), Tensor::mean),
        (
            "max",
            "The maximum (NaN if any element is NaN; the gradient is shared by ties)",
            Tensor::max_all,
            Tensor::max,
        ),
        (
            "min",
            "The minimum (NaN if any element is NaN; the gradient is shared by ties)",
            Tensor::min_all,
            Tensor::min,
        ),
        ("norm", "The Euclidean norm", norm_all, norm_dim),
    ];
    for (name, what, all, along) in reductions {
        doc(
            &format!("{name}(x: Tensor) -> Tensor"),
            &format!("{what} of all elements, as a 0-D tensor (.item() gives a float)."),
        )
        .register_into_engine(engine, move |x: Tensor| ok(all(&x)));
        let dim_doc = format!(
            "{what} over dimension `dim` (negative counts from the end), which is removed,\n\
             or kept with size 1 if `keepdim` is true."
        );
        let body = move |x: Tensor, dim: INT, keepdim: bool| -> RhaiResult<Tensor> {
            ok(along(&x, check_dim(name, dim, x.shape(), 0)?, keepdim))
        };
        doc(&format!("{name}(x: Tensor, dim: int) -> Tensor"), &dim_doc)
            .register_into_engine(engine, move |x: Tensor, dim: INT| body(x, dim, false));
        doc(&format!("{name}(x: Tensor, dim: int, keepdim: bool) -> Tensor"), &dim_doc)
            .register_into_engine(engine, body);
    }
}
