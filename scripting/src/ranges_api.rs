//! Block-sparse reductions in scripts: KeOps' clustering helpers, and `ranges` as the six tensors of KeOps' tuple.
//!
//! Labels, ranges and slices are tensors of whole numbers (float64), as scripts hold every
//! number in a tensor; ranges are C×2 tensors of `[start, end)` rows, slices 1-D tensors of
//! ends. A `ranges` value is the array `[ranges_i, slices_i, redranges_j, ranges_j, slices_j,
//! redranges_i]` that `from_matrix` returns, passed as the `ranges` option of a reduction.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::lazy::def;
use crate::values::to_tensor;
use ndarray::{Array1, Array2, ArrayView2, Axis as NdAxis, Ix2};
use noyau_engine::ranges::{self, Ranges};
use noyau_engine::Tensor;
use rhai::{Array, Dynamic, Engine, FLOAT};
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

/// A tensor's values as a 2-D float64 array (a 1-D tensor as one column).
fn matrix(t: &Tensor, what: &str) -> RhaiResult<Array2<f64>> {
    let a = t.to_f64_array();
    match a.ndim() {
        1 => Ok(a.insert_axis(NdAxis(1)).into_dimensionality::<Ix2>().map_err(|e| rt(what, e.to_string()))?),
        2 => a.into_dimensionality::<Ix2>().map_err(|e| rt(what, e.to_string())),
        n => Err(rt(what, format!("expected a 1-D or 2-D tensor, got {n} dimensions"))),
    }
}

/// Whole non-negative numbers, as indices.
fn indices(t: &Tensor, what: &str) -> RhaiResult<Vec<usize>> {
    t.to_f64_array()
        .iter()
        .map(|&v| {
            (v >= 0.0 && v.fract() == 0.0 && v < 9.0e15)
                .then_some(v as usize)
                .ok_or_else(|| rt(what, format!("labels must be whole numbers ≥ 0, found {v}")))
        })
        .collect()
}

/// C×2 `[start, end)` rows as ranges.
fn range_rows(t: &Tensor, what: &str) -> RhaiResult<Vec<Range<usize>>> {
    let m = matrix(t, what)?;
    if m.ncols() != 2 {
        return Err(rt(what, format!("ranges must be a C×2 tensor of [start, end) rows, got shape {:?}", t.shape())));
    }
    let flat = indices(&Tensor::from_array(m.clone()), what)?;
    Ok(flat.chunks(2).map(|p| p[0]..p[1]).collect())
}

fn tensor_of(a: Array2<i64>) -> Tensor {
    Tensor::from_array(a.mapv(|v| v as f64))
}

/// The six tensors of a [`Ranges`], slices as 1-D tensors.
fn to_script(r: &Ranges) -> Array {
    r.to_arrays()
        .into_iter()
        .enumerate()
        .map(|(k, a)| {
            let t = tensor_of(a);
            // Slices (positions 1 and 4) are vectors of ends, as in KeOps.
            if k % 3 == 1 {
                Dynamic::from(t.reshape(&[-1]).unwrap_or(t))
            } else {
                Dynamic::from(t)
            }
        })
        .collect()
}

/// Reads the array of six tensors a script passes as `ranges`.
pub(crate) fn from_script(v: &Dynamic, what: &str) -> RhaiResult<Arc<Ranges>> {
    let parts = v.clone().into_array().map_err(|_| {
        rt(what, "ranges must be the array [ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i] (see from_matrix)")
    })?;
    if parts.len() != 6 {
        return Err(rt(what, format!("ranges must hold 6 tensors (KeOps' tuple), got {}", parts.len())));
    }
    let tensor = |p: &Dynamic| {
        p.clone().try_cast::<Tensor>().ok_or_else(|| rt(what, "each of the 6 parts of ranges must be a tensor"))
    };
    let arrays: Vec<Array2<f64>> = parts.iter().map(|p| matrix(&tensor(p)?, what)).collect::<RhaiResult<_>>()?;
    let views: [ArrayView2<f64>; 6] = std::array::from_fn(|k| arrays[k].view());
    Ranges::from_arrays(views).map(Arc::new).map_err(|e| rt(what, e))
}

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    def!(
        engine,
        "grid_cluster(x: Tensor, size: float) -> Tensor",
        "KeOps' grid_cluster: a label per point of x (N×D), the index of its voxel in a grid of cubes of side size,\n\
         voxels numbered in lexicographic order (0, 1, ...). Sort the points by label with sort_clusters.",
        move |x: Dynamic, size: FLOAT| -> RhaiResult<Tensor> {
            let x = matrix(&to_tensor(&x, &c, "grid_cluster")?, "grid_cluster")?;
            let labels = ranges::grid_cluster(x.view(), size).map_err(|e| rt("grid_cluster", e))?;
            Ok(Tensor::from_array(labels.mapv(|l| l as f64)))
        }
    );
    let c = ctx.clone();
    def!(
        engine,
        "sort_clusters(x: Tensor, labels: Tensor) -> array",
        "KeOps' sort_clusters: [x sorted by label, the sorted labels]. Sort every array of the same points with the\n\
         same labels (y and its weights b, say), so that they stay aligned.",
        move |x: Dynamic, labels: Dynamic| -> RhaiResult<Array> {
            let x = matrix(&to_tensor(&x, &c, "sort_clusters")?, "sort_clusters")?;
            let labels = Array1::from(indices(&to_tensor(&labels, &c, "sort_clusters")?, "sort_clusters")?);
            if labels.len() != x.nrows() {
                return Err(rt("sort_clusters", format!("{} labels for {} points", labels.len(), x.nrows())));
            }
            let (order, sorted) = ranges::sort_clusters(labels.view());
            Ok(vec![
                Dynamic::from(Tensor::from_array(x.select(NdAxis(0), &order))),
                Dynamic::from(Tensor::from_array(sorted.mapv(|l| l as f64))),
            ])
        }
    );
    for weighted in [false, true] {
        let c = ctx.clone();
        let signature = if weighted {
            "cluster_ranges_centroids(x: Tensor, labels: Tensor, weights: Tensor) -> array"
        } else {
            "cluster_ranges_centroids(x: Tensor, labels: Tensor) -> array"
        };
        let run = move |x: &Dynamic, labels: &Dynamic, w: Option<&Dynamic>| -> RhaiResult<Array> {
            let what = "cluster_ranges_centroids";
            let x = matrix(&to_tensor(x, &c, what)?, what)?;
            let labels = Array1::from(indices(&to_tensor(labels, &c, what)?, what)?);
            let w = w.map(|w| to_tensor(w, &c, what).map(|t| Array1::from_iter(t.to_f64_array()))).transpose()?;
            let (r, centroids, mass) =
                ranges::cluster_ranges_centroids(x.view(), labels.view(), w.as_ref().map(|w| w.view()))
                    .map_err(|e| rt(what, e))?;
            let rows =
                Array2::from_shape_fn((r.len(), 2), |(k, e)| if e == 0 { r[k].start as f64 } else { r[k].end as f64 });
            Ok(vec![
                Dynamic::from(Tensor::from_array(rows)),
                Dynamic::from(Tensor::from_array(centroids)),
                Dynamic::from(Tensor::from_array(mass)),
            ])
        };
        let doc =
            "KeOps' cluster_ranges_centroids, for points sorted by label: [ranges (C×2 rows [start, end)), centroids\n\
                   (C×D, weighted means), weights (C, their sums; 1 per point by default)].";
        if weighted {
            def!(engine, signature, doc, move |x: Dynamic, l: Dynamic, w: Dynamic| run(&x, &l, Some(&w)));
        } else {
            def!(engine, signature, doc, move |x: Dynamic, l: Dynamic| run(&x, &l, None));
        }
    }
    let c = ctx.clone();
    def!(
        engine,
        "from_matrix(ranges_i: Tensor, ranges_j: Tensor, keep: Tensor) -> array",
        "KeOps' from_matrix: the ranges of a block-sparse reduction from the clusters' ranges (C×2 each) and keep, a\n\
         Ci×Cj tensor whose non-zero entries are the cluster pairs to reduce (e.g. centroid distance below a cut-off).\n\
         Pass the result as the ranges option: F.sum(1, #{ranges: r}); gradients use the same ranges.",
        move |ri: Dynamic, rj: Dynamic, keep: Dynamic| -> RhaiResult<Array> {
            let what = "from_matrix";
            let ri = range_rows(&to_tensor(&ri, &c, what)?, what)?;
            let rj = range_rows(&to_tensor(&rj, &c, what)?, what)?;
            let keep = matrix(&to_tensor(&keep, &c, what)?, what)?.mapv(|v| v != 0.0);
            let r = ranges::from_matrix(&ri, &rj, keep.view()).map_err(|e| rt(what, e))?;
            Ok(to_script(&r))
        }
    );
    def!(
        engine,
        "swap_axes(ranges: array) -> array",
        "KeOps' swap_axes: the ranges with the roles of i and j exchanged.",
        move |r: Dynamic| -> RhaiResult<Array> { Ok(to_script(&ranges::swap_axes(&*from_script(&r, "swap_axes")?))) }
    );
}
