//! The cost of going through Rhai: a Gaussian convolution from a script against the same reduction from Rust, and a Sinkhorn loop.
//!
//! Prints one JSON line per measurement (`cargo run --release -p noyau-scripting --example overhead`):
//! 1. N = M = 1000, D = 3, γ_i = Σ_j exp(−‖x_i − y_j‖²/2)·b_j, in µs per call: `Reduce::eval` on
//!    arrays (the engine alone), `Tensor::lazy_reduce` (plus the autograd wrapper), a script that
//!    builds the LazyTensor and reduces it on every call, and a script reducing a prebuilt one.
//!    The overhead is the script's time minus the engine's.
//! 2. 100 Sinkhorn iterations at N = M = 10⁴ (D = 3, ε = 0.1, float32), f = −ε·LSE_j((g_j − C_ij)/ε)
//!    and g = −ε·LSE_i((f_i − C_ij)/ε) with C_ij = ‖x_i − y_j‖²/2, written in a script, in total
//!    seconds, next to the same loop through `Tensor::lazy_reduce` from Rust.

use noyau_engine::random::Rng;
use noyau_engine::spec::Options;
use noyau_engine::{Axis, DType, Reduce, Reduction, Tensor};
use noyau_scripting::lazy::LazyTensor;
use noyau_scripting::{register_all, Context};
use rhai::{Dynamic, Engine, Scope, AST};
use std::rc::Rc;
use std::time::Instant;

/// An engine with Noyau's API and a scope holding the data.
fn engine() -> (Engine, Scope<'static>) {
    let ctx = Context::new(Rc::new(|_| {}));
    let mut engine = Engine::new();
    engine.set_max_expr_depths(0, 0);
    register_all(&mut engine, &ctx);
    (engine, Scope::new())
}

/// Mean seconds per call of each function, the best of `batches` batches of `calls` calls. The
/// functions take turns batch by batch, so that a load that comes and goes on the machine weighs
/// on all of them alike.
fn time(calls: usize, batches: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; fs.len()];
    for f in fs.iter_mut() {
        f();
    }
    for _ in 0..batches {
        for (f, b) in fs.iter_mut().zip(&mut best) {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            *b = b.min(t.elapsed().as_secs_f64() / calls as f64);
        }
    }
    best
}

fn run(engine: &Engine, scope: &mut Scope<'static>, ast: &AST) -> Dynamic {
    engine.eval_ast_with_scope::<Dynamic>(scope, ast).expect("the benchmark script runs")
}

/// The convolution at N = M = `n`; returns nothing, prints a line per path and the overhead.
fn convolution(n: usize, calls: usize) {
    let d = 3;
    let mut rng = Rng::new(0);
    let x = Tensor::randn(&[n, d], DType::F32, &mut rng).unwrap();
    let y = Tensor::randn(&[n, d], DType::F32, &mut rng).unwrap();
    let b = Tensor::randn(&[n, 1], DType::F32, &mut rng).unwrap();
    let (engine, mut scope) = engine();
    scope.push("x", x.clone()).push("y", y.clone()).push("b", b.clone());
    let build = "(-Vi(x).sqdist(Vj(y)) * 0.5).exp() * Vj(b)";
    let full = engine.compile(format!("({build}).sum(1)")).unwrap();
    let build_only = engine.compile(build).unwrap();
    let lazy = run(&engine, &mut scope, &build_only).cast::<LazyTensor>();
    scope.push("K", lazy.clone());
    let prebuilt = engine.compile("K.sum(1)").unwrap();

    // The Rust side runs the very formula the script builds (its arguments: x, y, the number, b).
    let spec = Reduce::new(lazy.expr().clone(), None, Reduction::Sum, Axis::J).unwrap();
    let half = Tensor::from_vec(vec![0.5f32], &[1, 1]).unwrap();
    let args = [&x, &y, &half, &b];
    let arrays: Vec<_> = args.iter().map(|t| t.to_array2::<f32>().unwrap()).collect();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    let opts = Options::default();
    let check = Tensor::lazy_reduce(&spec, &args, &opts).unwrap().to_vec_f64();
    assert_eq!(check, run(&engine, &mut scope, &full).cast::<Tensor>().to_vec_f64(), "script and Rust agree");

    let paths =
        ["rust_reduce_eval", "rust_lazy_reduce", "rhai_build_and_reduce", "rhai_prebuilt_reduce", "rhai_build_only"];
    let scope = std::cell::RefCell::new(scope);
    let t = time(
        calls,
        7,
        &mut [
            &mut || drop(spec.eval(&views, &opts).unwrap()),
            &mut || drop(Tensor::lazy_reduce(&spec, &args, &opts).unwrap()),
            &mut || drop(run(&engine, &mut scope.borrow_mut(), &full)),
            &mut || drop(run(&engine, &mut scope.borrow_mut(), &prebuilt)),
            &mut || drop(run(&engine, &mut scope.borrow_mut(), &build_only)),
        ],
    );
    let us = |s: f64| (s * 1e7).round() / 10.0;
    for (path, s) in paths.iter().zip(&t) {
        println!(
            r#"{{"bench":"convolution","n":{n},"m":{n},"d":{d},"dtype":"float32","path":"{path}","us_per_call":{}}}"#,
            us(*s)
        );
    }
    println!(
        r#"{{"bench":"convolution_overhead","n":{n},"us_script_minus_engine":{},"us_prebuilt_minus_engine":{},"us_formula_building":{},"goal_us":50}}"#,
        us(t[2] - t[0]),
        us(t[3] - t[0]),
        us(t[4])
    );
}

fn sinkhorn() {
    let (n, d, eps, iters) = (10_000, 3, 0.1, 100);
    let mut rng = Rng::new(1);
    let x = Tensor::randn(&[n, d], DType::F32, &mut rng).unwrap();
    let y = Tensor::randn(&[n, d], DType::F32, &mut rng).unwrap();
    let zeros = Tensor::zeros(&[n, 1], DType::F32).unwrap();
    let (engine, mut scope) = engine();
    scope.push("x", x.clone()).push("y", y.clone()).push("g0", zeros.clone());
    // With f = −ε·a and g = −ε·b the updates read a = LSE_j(−b_j − C_ij/ε), b = LSE_i(−a_i − C_ij/ε).
    let script = format!(
        "let eps = {eps}; let C = Vi(x).sqdist(Vj(y)) * 0.5; let b = g0; let a = ();
         for it in 0..{iters} {{
             a = (-Vj(b) - C / eps).logsumexp(1);
             b = (-Vi(a) - C / eps).logsumexp(0);
         }}
         a"
    );
    let ast = engine.compile(&script).unwrap();

    // The same loop from Rust: the script's formulas, run through Tensor::lazy_reduce.
    let formula = |code: &str| {
        let mut s = scope.clone();
        engine.eval_with_scope::<Dynamic>(&mut s, code).unwrap().cast::<LazyTensor>().expr().clone()
    };
    let over_j = Reduce::new(
        formula(&format!("-Vj(g0) - Vi(x).sqdist(Vj(y)) * 0.5 / {eps}")),
        None,
        Reduction::LogSumExp,
        Axis::J,
    )
    .unwrap();
    let over_i = Reduce::new(
        formula(&format!("-Vi(g0) - Vi(x).sqdist(Vj(y)) * 0.5 / {eps}")),
        None,
        Reduction::LogSumExp,
        Axis::I,
    )
    .unwrap();
    let half = Tensor::from_vec(vec![0.5f32], &[1, 1]).unwrap();
    let epsilon = Tensor::from_vec(vec![eps as f32], &[1, 1]).unwrap();
    let opts = Options::default();
    let rust_loop = || {
        let t = Instant::now();
        let (mut a, mut b) = (zeros.clone(), zeros.clone());
        for _ in 0..iters {
            a = Tensor::lazy_reduce(&over_j, &[&b, &x, &y, &half, &epsilon], &opts).unwrap();
            b = Tensor::lazy_reduce(&over_i, &[&a, &x, &y, &half, &epsilon], &opts).unwrap();
        }
        (a, t.elapsed().as_secs_f64())
    };
    // The Rust loop runs before and after the script: their mean is fair to a load that drifts.
    let (_, rust_before) = rust_loop();
    let t = Instant::now();
    let a_script = run(&engine, &mut scope, &ast).cast::<Tensor>();
    let script_s = t.elapsed().as_secs_f64();
    let (a, rust_after) = rust_loop();
    let diff = a.to_vec_f64().iter().zip(a_script.to_vec_f64()).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    let s = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        r#"{{"bench":"sinkhorn","n":{n},"m":{n},"d":{d},"dtype":"float32","iterations":{iters},"reductions":{},"script_s":{},"rust_s_before":{},"rust_s_after":{},"max_abs_diff":{diff:.2e}}}"#,
        2 * iters,
        s(script_s),
        s(rust_before),
        s(rust_after)
    );
}

fn main() {
    // At N = M = 8 the reduction itself is a few µs, so the difference is the overhead alone.
    convolution(8, 2000);
    convolution(1000, 100);
    sinkhorn();
}
