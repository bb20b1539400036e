//! Benchmark of block-sparse reductions: a Gaussian convolution of clustered points, dense against pruned by ranges, printed as one JSON line.
//!
//! `cargo run --release -p noyau-engine --example block_sparse -- --n 100000`
//! The points (N = M, 3-D, float32) are drawn around `--blobs` centres uniform in the unit cube
//! (standard deviation `--spread`); the kernel is exp(−‖x−y‖²/(2σ²))·b with σ = `--sigma`. The
//! points are clustered on a grid of voxels of side `--voxel`, sorted by cluster, and a pair of
//! clusters is kept when their centroids are closer than the cut-off plus both radii (the largest
//! distance of a point to its centroid): every pair of points closer than the cut-off is then
//! reduced, and the cut-off is where the kernel falls below 1e-7, so both results agree to
//! float32 accuracy (`max_rel_err`, against the largest output). `dense_s` and `sparse_s` time
//! the reductions alone (best of `--reps`); `cluster_s` times the clustering and the ranges.

use ndarray::{Array1, Array2, Axis as NdAxis};
use noyau_engine::random::Rng;
use noyau_engine::ranges::{cluster_ranges_centroids, from_matrix, grid_cluster, sort_clusters, Ranges};
use noyau_engine::{Axis, Genred, Options, Reduction};
use std::sync::Arc;
use std::time::Instant;

struct Args {
    n: usize,
    blobs: usize,
    spread: f64,
    sigma: f64,
    voxel: f64,
    reps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { n: 100_000, blobs: 100, spread: 0.02, sigma: 0.02, voxel: 0.05, reps: 3 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--n" => a.n = v.parse().map_err(|e| format!("--n: {e}"))?,
            "--blobs" => a.blobs = v.parse().map_err(|e| format!("--blobs: {e}"))?,
            "--spread" => a.spread = num(v)?,
            "--sigma" => a.sigma = num(v)?,
            "--voxel" => a.voxel = num(v)?,
            "--reps" => a.reps = v.parse().map_err(|e| format!("--reps: {e}"))?,
            f => return Err(format!("unknown flag {f} (--n, --blobs, --spread, --sigma, --voxel, --reps)")),
        }
    }
    Ok(a)
}

/// N points around `blobs` centres, in float64 (cast when reduced).
fn clustered(n: usize, blobs: usize, spread: f64, rng: &mut Rng) -> Array2<f64> {
    let centres = Array2::from_shape_fn((blobs.max(1), 3), |_| rng.uniform());
    let normal: Array2<f64> = rng.normal_array(n, 3);
    Array2::from_shape_fn((n, 3), |(i, k)| centres[[i % centres.nrows(), k]] + spread * normal[[i, k]])
}

/// A cluster per voxel: the order that sorts the points by cluster, each cluster's range in that
/// order, its centroid and its radius (the largest distance of its points to the centroid).
struct Clusters {
    order: Vec<usize>,
    ranges: Vec<std::ops::Range<usize>>,
    centroids: Array2<f64>,
    radii: Array1<f64>,
}

fn clusters(x: &Array2<f64>, voxel: f64) -> Result<Clusters, String> {
    let err = |e: noyau_engine::Error| e.to_string();
    let labels = grid_cluster(x.view(), voxel).map_err(err)?;
    let (order, sorted) = sort_clusters(labels.view());
    let xs = x.select(NdAxis(0), &order);
    let (ranges, centroids, _) = cluster_ranges_centroids(xs.view(), sorted.view(), None).map_err(err)?;
    let radii = Array1::from_shape_fn(ranges.len(), |c| {
        ranges[c].clone().map(|k| dist(xs.row(k), centroids.row(c))).fold(0.0, f64::max)
    });
    Ok(Clusters { order, ranges, centroids, radii })
}

fn dist(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("block_sparse: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let a = parse_args()?;
    let err = |e: noyau_engine::Error| e.to_string();
    let mut rng = Rng::new(7);
    let (x, y) = (clustered(a.n, a.blobs, a.spread, &mut rng), clustered(a.n, a.blobs, a.spread, &mut rng));
    let b: Array2<f64> = rng.normal_array(a.n, 1);
    let g = 1.0 / (2.0 * a.sigma * a.sigma);
    // exp(−g r²) = 1e-7 at the cut-off r.
    let cutoff = (16.118 / g).sqrt();

    let t = Instant::now();
    let (ci, cj) = (clusters(&x, a.voxel)?, clusters(&y, a.voxel)?);
    let keep = Array2::from_shape_fn((ci.ranges.len(), cj.ranges.len()), |(p, q)| {
        dist(ci.centroids.row(p), cj.centroids.row(q)) <= cutoff + ci.radii[p] + cj.radii[q]
    });
    let ranges: Ranges = from_matrix(&ci.ranges, &cj.ranges, keep.view()).map_err(err)?;
    let cluster_s = t.elapsed().as_secs_f64();
    let kept = ranges.for_axis(Axis::J).pairs() as f64 / (a.n as f64 * a.n as f64);

    let conv = Genred::new(
        &format!("Exp(-SqDist(x,y)*{g:?})*b"),
        &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
        Reduction::Sum,
        Axis::J,
    )
    .map_err(err)?;
    let cast = |a: &Array2<f64>, order: &[usize]| a.select(NdAxis(0), order).mapv(|v| v as f32);
    let (xs32, ys32, bs32) = (cast(&x, &ci.order), cast(&y, &cj.order), cast(&b, &cj.order));
    let inputs = [xs32.view(), ys32.view(), bs32.view()];
    let dense_opts = Options::default();
    let sparse_opts = Options { ranges: Some(Arc::new(ranges)), ..Options::default() };
    let best = |opts: &Options| -> Result<(Array2<f32>, f64), String> {
        let mut out = conv.eval_with(&inputs, opts).map_err(err)?; // warm-up: compiles
        let mut best = f64::INFINITY;
        for _ in 0..a.reps.max(1) {
            let t = Instant::now();
            out = conv.eval_with(&inputs, opts).map_err(err)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok((out, best))
    };
    let (dense, dense_s) = best(&dense_opts)?;
    let (sparse, sparse_s) = best(&sparse_opts)?;
    let scale = dense.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let max_err = dense.iter().zip(&sparse).fold(0.0f64, |m, (d, s)| m.max((*d as f64 - *s as f64).abs()));
    println!(
        "{{\"case\":\"gauss_block_sparse\",\"n\":{},\"m\":{},\"dim\":3,\"dtype\":\"f32\",\"blobs\":{},\"sigma\":{},\"voxel\":{},\"clusters_i\":{},\"clusters_j\":{},\"kept_pairs\":{kept:.4},\"cluster_s\":{cluster_s:.3},\"dense_s\":{dense_s:.3},\"sparse_s\":{sparse_s:.3},\"speedup\":{:.2},\"max_rel_err\":{:.2e}}}",
        a.n,
        a.n,
        a.blobs,
        a.sigma,
        a.voxel,
        ci.ranges.len(),
        cj.ranges.len(),
        dense_s / sparse_s,
        max_err / scale.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
