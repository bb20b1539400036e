//! The course's first computation (seed 000): Gaussian kernel density f_i = Σ_j exp(-‖x_i − y_j‖²/2σ²),
//! N = M = 3000, d = 2, σ = 0.3, computed with Genred and checked against the float64 reference.
//!
//! `cargo run --release -p noyau-engine --example convolution` (add `-- 100000` for a larger N = M).

use ndarray::{Array2, ArrayView2};
use noyau_engine::random::Rng;
use noyau_engine::{Axis, Backend, Genred, Options, Reduction};
use std::time::Instant;

fn main() -> Result<(), noyau_engine::Error> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3000);
    let sigma = 0.3f32;
    let mut rng = Rng::new(0);
    let x: Array2<f32> = rng.normal_array(n, 2);
    let y: Array2<f32> = rng.normal_array(n, 2);
    let s = Array2::from_elem((1, 1), 1.0 / (2.0 * sigma * sigma));
    let conv =
        Genred::new("Exp(-s * SqDist(x, y))", &["s = Pm(1)", "x = Vi(2)", "y = Vj(2)"], Reduction::Sum, Axis::J)?;
    println!("formula: {}", conv.formula());

    let inputs: [ArrayView2<f32>; 3] = [s.view(), x.view(), y.view()];
    let t = Instant::now();
    let f = conv.eval(&inputs)?;
    let secs = t.elapsed().as_secs_f64();
    println!("N = M = {n}: f computed in {:.2} ms ({:.3} G pairs/s)", secs * 1e3, (n * n) as f64 / secs / 1e9);
    println!("f[0..5] = {:?}", f.column(0).iter().take(5).collect::<Vec<_>>());

    // The oracle on the first rows: float64, pair by pair.
    let rows = n.min(200);
    let x64 = x.slice(ndarray::s![..rows, ..]).mapv(f64::from);
    let (s64, y64) = (s.mapv(f64::from), y.mapv(f64::from));
    let reference = conv.eval_with(
        &[s64.view(), x64.view(), y64.view()],
        &Options { backend: Backend::Reference, ..Default::default() },
    )?;
    let worst =
        (0..rows).map(|i| ((f[[i, 0]] as f64 - reference[[i, 0]]) / reference[[i, 0]]).abs()).fold(0.0, f64::max);
    println!("largest relative difference to the float64 reference on {rows} rows: {worst:.2e}");
    if worst > 1e-5 {
        eprintln!("error: the result differs from the reference by more than 1e-5");
        std::process::exit(1);
    }
    Ok(())
}
