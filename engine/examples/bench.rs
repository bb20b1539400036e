//! Benchmark of the backends: prints one JSON line of figures per run (no timing assertions).
//!
//! `cargo run --release -p noyau-engine --example bench -- --case gauss --n 100000 --dim 3 --dtype f32`
//! Cases: gauss, gauss_e3, lse, argkmin, cauchy, gauss_grad (the forward convolution and its
//! gradient with respect to x, N·M counted once), and sinkhorn: the debiased Sinkhorn divergence
//! between uniform clouds of the unit square (or cube) with GeomLoss's p = 2, blur 0.01 and
//! scaling 0.9, and its gradient with respect to x (`iterations` is the length of the ε
//! schedule; each runs four log-sum-exp reductions, so `gpairs_per_s` counts
//! 4·(iterations + 2)·N·M pairs, the two extra for the start and the extrapolation). `--m` sets M (default N), `--reps` the repetitions
//! (the fastest is reported), `--backend cpu|gpu|cuda:N|auto|reference` (default cpu; the GPU
//! needs `--features cuda`), `--save DIR` writes the inputs and the last output as
//! DIR/<case>_{x,y,b,out}.npy, so that scripts/bench_pykeops.py can time pykeops on the same
//! data and check that both answers agree. On the GPU, `seconds` includes the transfers and
//! `kernel_seconds` is the kernel alone (CUDA events).

use ndarray::{Array2, ArrayView2};
use ndarray_npy::{WritableElement, WriteNpyExt};
use noyau_engine::cpu::SimdLevel;
use noyau_engine::ot::{schedule, sinkhorn_divergence, SinkhornOptions};
use noyau_engine::random::Rng;
use noyau_engine::tensor::grad;
use noyau_engine::{Axis, Backend, DType, Genred, Options, Real, Reduction, Tensor};
use std::time::Instant;

struct Args {
    case: String,
    n: usize,
    m: Option<usize>,
    dim: usize,
    dtype: String,
    reps: usize,
    backend: Backend,
    save: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        case: "gauss".into(),
        n: 100_000,
        m: None,
        dim: 3,
        dtype: "f32".into(),
        reps: 3,
        backend: Backend::Cpu,
        save: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--case" => a.case = val()?,
            "--n" => a.n = val()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--m" => a.m = Some(val()?.parse().map_err(|e| format!("--m: {e}"))?),
            "--dim" => a.dim = val()?.parse().map_err(|e| format!("--dim: {e}"))?,
            "--dtype" => a.dtype = val()?,
            "--reps" => a.reps = val()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--backend" => a.backend = Backend::from_name(&val()?).map_err(|e| format!("--backend: {e}"))?,
            "--save" => a.save = Some(val()?.into()),
            "--help" | "-h" => return Err("usage: bench --case gauss|gauss_e3|lse|argkmin|cauchy|gauss_grad|sinkhorn --n N [--m M] [--dim D] [--dtype f32|f64] [--reps R] [--backend cpu|gpu|cuda:N|auto|reference] [--save DIR]".into()),
            f => return Err(format!("unknown flag {f}")),
        }
    }
    Ok(a)
}

/// The case as KeOps users write it: formula, aliases, reduction, and the dimension of b (0: none).
fn case(name: &str, d: usize) -> Option<(String, Vec<String>, Reduction, usize)> {
    let xy = vec![format!("x = Vi({d})"), format!("y = Vj({d})")];
    let with_b = |e: usize| [xy.clone(), vec![format!("b = Vj({e})")]].concat();
    Some(match name {
        "gauss" | "gauss_grad" => ("Exp(-SqDist(x,y))*b".into(), with_b(1), Reduction::Sum, 1),
        "gauss_e3" => ("Exp(-SqDist(x,y))*b".into(), with_b(3), Reduction::Sum, 3),
        "lse" => ("-SqDist(x,y)".into(), xy, Reduction::LogSumExp, 0),
        "argkmin" => ("SqDist(x,y)".into(), xy, Reduction::ArgKMin(10), 0),
        "cauchy" => ("b / (1 + SqDist(x,y))".into(), with_b(1), Reduction::Sum, 1),
        _ => return None,
    })
}

fn run<T: Real + WritableElement>(a: &Args) -> Result<(), String> {
    let m = a.m.unwrap_or(a.n);
    let (formula, aliases, reduction, e) = case(&a.case, a.dim).ok_or(format!("unknown case {}", a.case))?;
    let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let spec = Genred::new(&formula, &aliases, reduction, Axis::J).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(0);
    let x: Array2<T> = rng.normal_array(a.n, a.dim);
    let y: Array2<T> = rng.normal_array(m, a.dim);
    let b: Array2<T> = rng.normal_array(m, e.max(1));
    let mut inputs: Vec<ArrayView2<T>> = vec![x.view(), y.view()];
    if e > 0 {
        inputs.push(b.view());
    }
    let opts = Options { backend: resolve(a.backend, &spec), ..Options::default() };
    let with_grad = a.case == "gauss_grad";
    let run_once = || -> Result<(Array2<T>, Option<f64>), String> {
        let (out, kernel) = timed(&spec, &inputs, &opts)?;
        if with_grad {
            let eta = Array2::<T>::from_elem(out.raw_dim(), T::one());
            let g = spec.reduce().vjp(&inputs, out.view(), eta.view(), &[0], &opts).map_err(|e| e.to_string())?;
            std::hint::black_box(g);
        }
        // The kernel time covers the forward pass only, so it is not reported with the gradient.
        Ok((std::hint::black_box(out), kernel.filter(|_| !with_grad)))
    };
    let (mut out, _) = run_once()?; // warm-up: compiles and caches
    let mut best = f64::INFINITY;
    let mut best_kernel = f64::INFINITY;
    for _ in 0..a.reps.max(1) {
        let t = Instant::now();
        let kernel;
        (out, kernel) = run_once()?;
        best = best.min(t.elapsed().as_secs_f64());
        best_kernel = best_kernel.min(kernel.unwrap_or(f64::INFINITY));
    }
    if let Some(dir) = &a.save {
        let mut arrays = vec![("x", &x), ("y", &y)];
        if e > 0 {
            arrays.push(("b", &b));
        }
        arrays.push(("out", &out));
        save(dir, &a.case, &arrays)?;
    }
    let kernel = if best_kernel.is_finite() { format!(",\"kernel_seconds\":{best_kernel:.6}") } else { String::new() };
    println!(
        "{{\"case\":\"{}\",\"n\":{},\"m\":{},\"dim\":{},\"dtype\":\"{}\",\"backend\":\"{}\",\"threads\":{},\"seconds\":{:.6}{kernel},\"gpairs_per_s\":{:.4}}}",
        a.case,
        a.n,
        m,
        a.dim,
        a.dtype,
        backend_name(opts.backend),
        rayon::current_num_threads(),
        best,
        a.n as f64 * m as f64 / best / 1e9
    );
    Ok(())
}

/// Writes each array as DIR/<case>_<name>.npy (DIR created if needed).
fn save<T: WritableElement>(dir: &std::path::Path, case: &str, arrays: &[(&str, &Array2<T>)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--save {}: {e}", dir.display()))?;
    for (name, array) in arrays {
        let path = dir.join(format!("{case}_{name}.npy"));
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        array.write_npy(std::io::BufWriter::new(file)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// `Auto` resolved to the backend it runs on, so that the report names it.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
fn resolve(b: Backend, spec: &Genred) -> Backend {
    match b {
        #[cfg(feature = "cuda")]
        Backend::Auto if noyau_engine::cuda::auto_selects(spec.reduce()) => Backend::Gpu(0),
        Backend::Auto => Backend::Cpu,
        b => b,
    }
}

fn backend_name(b: Backend) -> String {
    match b {
        Backend::Gpu(k) => format!("cuda:{k}"),
        Backend::Reference => "reference".into(),
        _ => format!("cpu-{}", SimdLevel::detect().name()),
    }
}

/// One evaluation, and on the GPU the kernel's own time in seconds.
fn timed<T: Real>(spec: &Genred, inputs: &[ArrayView2<T>], opts: &Options) -> Result<(Array2<T>, Option<f64>), String> {
    #[cfg(feature = "cuda")]
    if let Backend::Gpu(device) = opts.backend {
        let (n_out, n_in) = spec.reduce().sizes(inputs).map_err(|e| e.to_string())?;
        let (out, t) = noyau_engine::cuda::reduce_timed(spec.reduce(), inputs, n_out, n_in, opts, device)
            .map_err(|e| e.to_string())?;
        return Ok((out, Some(t.kernel_ms / 1e3)));
    }
    spec.eval_with(inputs, opts).map(|out| (out, None)).map_err(|e| e.to_string())
}

/// The `sinkhorn` case: S_ε(a, b) and its gradient with respect to x, timed together.
fn run_sinkhorn(a: &Args) -> Result<(), String> {
    let dtype = match a.dtype.as_str() {
        "f32" | "float32" => DType::F32,
        "f64" | "float64" => DType::F64,
        d => return Err(format!("unknown dtype {d}: use f32 or f64")),
    };
    let m = a.m.unwrap_or(a.n);
    let err = |e: noyau_engine::Error| e.to_string();
    let mut rng = Rng::new(0);
    let x = Tensor::rand(&[a.n, a.dim], dtype, &mut rng).map_err(err)?;
    let y = Tensor::rand(&[m, a.dim], dtype, &mut rng).map_err(err)?;
    let wa = Tensor::full(&[a.n], 1.0 / a.n as f64, dtype).map_err(err)?;
    let wb = Tensor::full(&[m], 1.0 / m as f64, dtype).map_err(err)?;
    let opts = SinkhornOptions {
        blur: 0.01,
        scaling: 0.9,
        reduce: Options { backend: a.backend, ..Options::default() },
        ..SinkhornOptions::default()
    };
    let diameter = schedule::diameter(&x, &y).map_err(err)?;
    let iterations = schedule::epsilon_schedule(2.0, diameter, opts.blur, opts.scaling).map_err(err)?.len();
    let mut best = f64::INFINITY;
    let mut value = f64::NAN;
    for _ in 0..a.reps.max(1) {
        let t = Instant::now();
        let xg = x.requires_grad();
        let s = sinkhorn_divergence(&wa, &xg, &wb, &y, &opts).map_err(err)?;
        std::hint::black_box(grad(&s, &[&xg], None).map_err(err)?);
        best = best.min(t.elapsed().as_secs_f64());
        value = s.item().map_err(err)?;
    }
    let pairs = 4.0 * (iterations + 2) as f64 * a.n as f64 * m as f64;
    println!(
        "{{\"case\":\"sinkhorn\",\"n\":{},\"m\":{m},\"dim\":{},\"dtype\":\"{}\",\"backend\":\"{}\",\"threads\":{},\"p\":2,\"blur\":{},\"scaling\":{},\"iterations\":{iterations},\"value\":{value:.6e},\"seconds\":{best:.3},\"gpairs_per_s\":{:.4}}}",
        a.n,
        a.dim,
        a.dtype,
        backend_name(a.backend),
        rayon::current_num_threads(),
        opts.blur,
        opts.scaling,
        pairs / best / 1e9
    );
    Ok(())
}

fn main() {
    let res = parse_args().and_then(|a| match a.dtype.as_str() {
        _ if a.case == "sinkhorn" => run_sinkhorn(&a),
        "f32" | "float32" => run::<f32>(&a),
        "f64" | "float64" => run::<f64>(&a),
        d => Err(format!("unknown dtype {d}: use f32 or f64")),
    });
    if let Err(e) = res {
        eprintln!("bench: {e}");
        std::process::exit(2);
    }
}
