//! The LDDMM Hamiltonian H(q, p) = ½ Σᵢⱼ exp(−‖qᵢ − qⱼ‖²/s²)⟨pᵢ, pⱼ⟩ and its gradients, in O(N) memory.
//!
//! `cargo run --release -p noyau-engine --example hamiltonian -- --n 100000 --dim 3`
//! prints one JSON line: H, the norms of ∂H/∂q and ∂H/∂p, a float64 check of a few gradient
//! rows, the seconds of the forward and backward passes, and the process's peak resident memory
//! (`VmHWM`). An N×N float32 kernel matrix would take 4N² bytes (40 GB at N = 10⁵); the peak
//! here stays a few times the size of the point clouds.

use ndarray::{Array2, ArrayView2};
use noyau_engine::random::Rng;
use noyau_engine::{Axis, Cat, Expr, Options, Reduce, Reduction};
use std::time::Instant;

fn parse_args() -> Result<(usize, usize), String> {
    let (mut n, mut dim) = (100_000, 3);
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--n" => n = val.parse().map_err(|e| format!("--n: {e}"))?,
            "--dim" => dim = val.parse().map_err(|e| format!("--dim: {e}"))?,
            f => return Err(format!("unknown flag {f}; usage: hamiltonian [--n N] [--dim D]")),
        }
    }
    Ok((n, dim))
}

/// Peak resident set size of this process in MiB, from `VmHWM` in /proc/self/status (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Σᵢⱼ exp(−‖qᵢ − qⱼ‖²/s²)⟨pᵢ, pⱼ⟩ per row i, with q and p each passed as a Vi and a Vj argument.
fn hamiltonian_rows(dim: usize, s2: f64) -> noyau_engine::Result<Reduce> {
    let qi = Expr::var(0, dim, Cat::I)?;
    let qj = Expr::var(1, dim, Cat::J)?;
    let pi = Expr::var(2, dim, Cat::I)?;
    let pj = Expr::var(3, dim, Cat::J)?;
    let k = qi.sqdist(qj)?.neg()?.div(Expr::constant(s2))?.exp()?;
    Reduce::new(k.mul(pi.scalprod(pj)?)?, None, Reduction::Sum, Axis::J)
}

/// The largest relative error, over a few rows, of the gradients against float64 closed forms:
/// ∂H/∂pᵢ = Σⱼ kᵢⱼ pⱼ and ∂H/∂qᵢ = −(2/s²) Σⱼ kᵢⱼ ⟨pᵢ, pⱼ⟩ (qᵢ − qⱼ).
fn check_rows(q: ArrayView2<f32>, p: ArrayView2<f32>, dq: &Array2<f32>, dp: &Array2<f32>, s2: f64) -> f64 {
    let (n, d) = q.dim();
    let mut worst = 0f64;
    for i in [0, n / 2, n - 1] {
        let (mut wq, mut wp) = (vec![0f64; d], vec![0f64; d]);
        for j in 0..n {
            let diff: Vec<f64> = (0..d).map(|c| q[[i, c]] as f64 - q[[j, c]] as f64).collect();
            let k = (-diff.iter().map(|v| v * v).sum::<f64>() / s2).exp();
            let pp: f64 = (0..d).map(|c| p[[i, c]] as f64 * p[[j, c]] as f64).sum();
            for c in 0..d {
                wp[c] += k * p[[j, c]] as f64;
                wq[c] -= 2.0 / s2 * k * pp * diff[c];
            }
        }
        for (got, want) in [(dq.row(i), &wq), (dp.row(i), &wp)] {
            let scale = want.iter().fold(1e-12f64, |a, b| a.max(b.abs()));
            for (g, w) in got.iter().zip(want) {
                worst = worst.max((*g as f64 - w).abs() / scale);
            }
        }
    }
    worst
}

fn main() -> Result<(), String> {
    let (n, dim) = parse_args()?;
    if n == 0 {
        return Err("--n must be at least 1".into());
    }
    let s2 = 0.25;
    let spec = hamiltonian_rows(dim, s2).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(42);
    // Points spread so that each has a few hundred neighbours within the kernel's width.
    let q: Array2<f32> = rng.normal_array(n, dim);
    let p: Array2<f32> = rng.normal_array(n, dim);
    let inputs = [q.view(), q.view(), p.view(), p.view()];
    let opts = Options::default();
    let t = Instant::now();
    let rows = spec.eval(&inputs, &opts).map_err(|e| e.to_string())?;
    let h = 0.5 * rows.iter().map(|v| *v as f64).sum::<f64>();
    let forward_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // ∂H/∂rowsᵢ = ½; q and p each get the gradients of their Vi and Vj arguments.
    let eta = Array2::from_elem((n, 1), 0.5f32);
    let g = spec.vjp(&inputs, rows.view(), eta.view(), &[0, 1, 2, 3], &opts).map_err(|e| e.to_string())?;
    let (dq, dp) = (&g[0] + &g[1], &g[2] + &g[3]);
    let backward_s = t.elapsed().as_secs_f64();
    let norm = |a: &Array2<f32>| a.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let check = check_rows(q.view(), p.view(), &dq, &dp, s2);
    let rss = peak_rss_mib().map_or("null".into(), |m| format!("{m:.1}"));
    println!(
        "{{\"n\":{n},\"dim\":{dim},\"dtype\":\"f32\",\"threads\":{},\"H\":{h:.6e},\"norm_dH_dq\":{:.6e},\"norm_dH_dp\":{:.6e},\
         \"max_rel_err_sampled_rows\":{check:.2e},\"forward_s\":{forward_s:.3},\"backward_s\":{backward_s:.3},\
         \"peak_rss_mib\":{rss},\"dense_nxn_f32_mib\":{:.0}}}",
        rayon::current_num_threads(),
        norm(&dq),
        norm(&dp),
        4.0 * (n as f64).powi(2) / (1024.0 * 1024.0)
    );
    Ok(())
}
