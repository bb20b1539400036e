//! The GPU backend checked without a GPU: every operation and reduction compiled to PTX by NVRTC, snapshots of the generated code, and the CPU fallback when no driver is present.
//!
//! NVRTC comes from PyPI: `export NOYAU_NVRTC_PATH="$(scripts/nvrtc.sh)"`. Without it the NVRTC
//! tests print a notice and pass, unless `NOYAU_REQUIRE_NVRTC=1`. Regenerate the snapshots with
//! `UPDATE_EXPECT=1 cargo test -p noyau-engine --features cuda --test cuda_codegen`.

#![cfg(feature = "cuda")]

mod common;
mod cuda_common;

use cuda_common::{nvrtc_ready, ops_missing_from, reduce_of, reductions, rows, var};
use expect_test::{expect, Expect};
use ndarray::Array2;
use noyau_engine::cuda::codegen::Staging;
use noyau_engine::cuda::nvrtc::{self, Target};
use noyau_engine::cuda::{self, cache};
use noyau_engine::{Axis, Backend, Cat, DType, Error, Expr, Genred, Options, Reduce, Reduction, SumScheme};
use rayon::prelude::*;

/// Compiles every case in parallel (NVRTC is thread-safe) and lists the failures with their logs.
fn compile_all(cases: Vec<(String, Reduce, DType, Options, Target)>) {
    let failures: Vec<String> = cases
        .par_iter()
        .filter_map(|(label, spec, dtype, opts, target)| {
            let code = match cuda::kernel_source(spec, *dtype, opts) {
                Ok(src) => src.code,
                Err(e) => return Some(format!("{label}: no source: {e}")),
            };
            match nvrtc::compile(&code, *target) {
                Ok(image) if !image.is_empty() => None,
                Ok(_) => Some(format!("{label}: empty PTX")),
                Err(e) => Some(format!("{label}: {e}")),
            }
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} kernels failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

fn opts(scheme: SumScheme, accumulate_f64: bool) -> Options {
    Options { sum_scheme: scheme, accumulate_f64, ..Options::default() }
}

#[test]
fn the_catalogue_covers_every_operation() {
    let roots: Vec<Expr> = rows().into_iter().map(|r| r.f).collect();
    let missing = ops_missing_from(&roots);
    assert!(missing.is_empty(), "operations without a row: {missing:?}");
}

/// Each row in float32 over j and in float64 over i, so that each variable is on both sides.
#[test]
fn every_operation_compiles_to_ptx() {
    if !nvrtc_ready("every_operation_compiles_to_ptx") {
        return;
    }
    let mut cases = Vec::new();
    for r in rows() {
        for (dtype, axis) in [(DType::F32, Axis::J), (DType::F64, Axis::I)] {
            let label = format!("{} ({}, axis {axis:?})", r.label, dtype.name());
            cases.push((label, reduce_of(&r.f, Reduction::Sum, axis), dtype, Options::default(), Target::Ptx(80)));
        }
    }
    compile_all(cases);
}

/// The gradient of each row with respect to x: the formulas that the differentiation rules emit.
#[test]
fn every_gradient_compiles_to_ptx() {
    if !nvrtc_ready("every_gradient_compiles_to_ptx") {
        return;
    }
    let cases = rows()
        .into_iter()
        .map(|r| {
            let e = Expr::var(10, r.f.dim(), Cat::I).unwrap();
            let g = noyau_engine::diff::grad(&r.f, &var(0), &e).unwrap();
            (
                format!("grad of {}", r.label),
                reduce_of(&g, Reduction::Sum, Axis::J),
                DType::F32,
                Options::default(),
                Target::Ptx(80),
            )
        })
        .collect();
    compile_all(cases);
}

#[test]
fn every_reduction_compiles_to_ptx() {
    if !nvrtc_ready("every_reduction_compiles_to_ptx") {
        return;
    }
    // F = -|x - y|²·a + ⟨x, y⟩, and a second component for the componentwise reductions.
    let (x, y, a) = (var(0), var(1), var(2));
    let f = x
        .clone()
        .sqdist(y.clone())
        .unwrap()
        .neg()
        .unwrap()
        .mul(a)
        .unwrap()
        .add(x.clone().scalprod(y).unwrap())
        .unwrap();
    let f2 = f.clone().concat(x.elem(1).unwrap()).unwrap();
    let mut cases = Vec::new();
    for red in reductions() {
        for dtype in [DType::F32, DType::F64] {
            for (arch, axis) in [(80, Axis::J), (90, Axis::I)] {
                let spec = reduce_of(if cuda_common::needs_scalar(red) { &f } else { &f2 }, red, axis);
                let label = format!("{red} ({}, compute_{arch}, axis {axis:?})", dtype.name());
                cases.push((label, spec, dtype, Options::default(), Target::Ptx(arch)));
            }
        }
    }
    for red in [Reduction::Sum, Reduction::LogSumExpWeight, Reduction::SumSoftMaxWeight] {
        for scheme in [SumScheme::Direct, SumScheme::Kahan] {
            for acc in [false, true] {
                let label = format!("{red} ({scheme:?}, f64 accumulation {acc})");
                let spec = reduce_of(if cuda_common::needs_scalar(red) { &f } else { &f2 }, red, Axis::J);
                cases.push((label, spec, DType::F32, opts(scheme, acc), Target::Ptx(90)));
            }
        }
    }
    compile_all(cases);
}

/// Dimensions that overflow the 1D scheme's tile (chunked) and even a single point (global).
#[test]
fn large_dimensions_use_the_chunked_scheme_and_compile() {
    let case = |d: usize| {
        let x = Expr::var(0, d, Cat::I).unwrap();
        let y = Expr::var(1, d, Cat::J).unwrap();
        let f = x.clone().sqdist(y.clone()).unwrap().neg().unwrap().exp().unwrap().mul(y.clone()).unwrap();
        Reduce::new(f, None, Reduction::Sum, Axis::J).unwrap()
    };
    let staging = |d: usize, dtype| cuda::kernel_source(&case(d), dtype, &Options::default()).unwrap().layout.staging;
    assert_eq!(staging(16, DType::F32), Staging::PerThread);
    assert_eq!(staging(100, DType::F32), Staging::Chunked);
    assert_eq!(staging(40, DType::F64), Staging::Chunked);
    assert_eq!(staging(7000, DType::F64), Staging::Global);
    if !nvrtc_ready("large_dimensions_use_the_chunked_scheme_and_compile") {
        return;
    }
    let cases = [(100, DType::F32), (40, DType::F64), (7000, DType::F64)]
        .into_iter()
        .map(|(d, dtype)| {
            (format!("dimension {d}, {}", dtype.name()), case(d), dtype, Options::default(), Target::Ptx(80))
        })
        .collect();
    compile_all(cases);
}

/// What a device gets: machine code for its architecture (an ELF image), or PTX for the newest
/// architecture NVRTC knows below a newer GPU's.
#[test]
fn device_targets_are_cubin_or_ptx() {
    if !nvrtc_ready("device_targets_are_cubin_or_ptx") {
        return;
    }
    let nv = nvrtc::load().unwrap();
    assert_eq!(nv.target_for(90).unwrap(), Target::Cubin(90));
    assert!(matches!(nv.target_for(999).unwrap(), Target::Ptx(a) if a < 999 && nv.archs.contains(&a)));
    assert!(nv.target_for(10).is_err());
    let g =
        Genred::new("Exp(-SqDist(x,y))*b", &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], Reduction::Sum, Axis::J).unwrap();
    let code = cuda::kernel_source(g.reduce(), DType::F32, &Options::default()).unwrap().code;
    let cubin = nvrtc::compile(&code, Target::Cubin(90)).unwrap();
    assert_eq!(&cubin[..4], b"\x7fELF");
}

#[test]
fn compile_errors_carry_the_log_and_the_source() {
    if !nvrtc_ready("compile_errors_carry_the_log_and_the_source") {
        return;
    }
    let code = "extern \"C\" __global__ void k() { undeclared_name = 1; }";
    match nvrtc::compile(code, Target::Ptx(80)) {
        Err(Error::Cuda { msg, log, generated }) => {
            assert!(msg.contains("compute_80"), "{msg}");
            assert!(log.contains("undeclared_name"), "{log}");
            assert_eq!(generated, code);
        }
        other => panic!("expected a CUDA compile error, got {other:?}"),
    }
}

#[test]
fn compiled_kernels_are_cached_on_disk_next_to_their_source() {
    if !nvrtc_ready("compiled_kernels_are_cached_on_disk_next_to_their_source") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("noyau-cuda-cache-test-{}", std::process::id()));
    let g =
        Genred::new("Exp(-SqDist(x,y) * 0.123456789)", &["x = Vi(2)", "y = Vj(2)"], Reduction::Max, Axis::J).unwrap();
    let code = cuda::kernel_source(g.reduce(), DType::F32, &Options::default()).unwrap().code;
    let image = cache::compiled_in(Some(&dir), &code, Target::Ptx(80)).unwrap();
    let files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let source = files.iter().find(|f| f.ends_with(".cu")).expect("the source is kept");
    let ptx = files.iter().find(|f| f.ends_with(".compute_80.ptx")).expect("the PTX is kept");
    assert_eq!(source.trim_end_matches(".cu"), ptx.trim_end_matches(".compute_80.ptx"));
    assert_eq!(std::fs::read_to_string(dir.join(source)).unwrap(), code);
    assert_eq!(std::fs::read(dir.join(ptx)).unwrap(), *image);
    let _ = std::fs::remove_dir_all(&dir);
}

fn snapshot(formula: &str, weight: Option<&str>, aliases: &[&str], red: Reduction, dtype: DType, expect: Expect) {
    let g = match weight {
        Some(w) => Genred::weighted(formula, w, aliases, red, Axis::J),
        None => Genred::new(formula, aliases, red, Axis::J),
    }
    .unwrap();
    expect.assert_eq(&cuda::kernel_source(g.reduce(), dtype, &Options::default()).unwrap().generated);
}

#[test]
fn generated_code_snapshots() {
    snapshot(
        "Exp(-s * SqDist(x, y)) * b",
        None,
        &["s = Pm(1)", "x = Vi(3)", "y = Vj(3)", "b = Vj(2)"],
        Reduction::Sum,
        DType::F32,
        expect![[r#"
            // ---- configuration
            // Sum over j of Exp(-Pm(0,1) * SqDist(Vi(1,3), Vj(2,3))) * Vj(3,2), float32.
            typedef float T;
            typedef float ACC;  // sums accumulate in this type
            constexpr int DIM = 2;  // dimension of the formula
            constexpr int WDIM = 1;  // dimension of the weight (1 without one)
            constexpr int OUT_DIM = 2;  // columns of the output
            constexpr int SUM_SCHEME = SCHEME_BLOCK;
            constexpr int STAGE = 5;  // values of the reduced side staged per point
            constexpr int BLOCK = 192;  // threads per block, one per output row
            constexpr int TILE = 192;  // points of the reduced side per tile
            // ---- tables
            // ---- @params
            const T* __restrict__ arg0,
            const T* __restrict__ arg1,
            const T* __restrict__ arg2,
            const T* __restrict__ arg3,
            // ---- @row
            const T* pm0 = arg0;
            const T minus_1 = (-pm0[0]);
            const T* vi1 = arg1 + (size_t)r * 3;
            // ---- @stage
            noyau_copy<3>(arg2 + (size_t)j * 3, slot + 0);
            noyau_copy<2>(arg3 + (size_t)j * 2, slot + 3);
            // ---- @pair
            const T* vj2 = slot + 0;
            const T sqdist_2 = noyau_sqdist<3>(vi1, vj2);
            const T mult_3 = (minus_1*sqdist_2);
            const T exp_4 = exp(mult_3);
            const T* vj3 = slot + 3;
            T mult_5[2];
            #pragma unroll
            for (int k = 0; k < 2; ++k) mult_5[k] = (exp_4*vj3[k]);
            const T* f = mult_5;
            const T* w = nullptr;
            // ---- @finish
        "#]],
    );
    snapshot(
        "-SqDist(x, y) / 2",
        None,
        &["x = Vi(3)", "y = Vj(3)"],
        Reduction::LogSumExp,
        DType::F64,
        expect![[r#"
            // ---- configuration
            // LogSumExp over j of -SqDist(Vi(0,3), Vj(1,3)) / 2.0, float64.
            typedef double T;
            typedef double ACC;  // sums accumulate in this type
            constexpr int DIM = 1;  // dimension of the formula
            constexpr int WDIM = 1;  // dimension of the weight (1 without one)
            constexpr int OUT_DIM = 1;  // columns of the output
            constexpr int SUM_SCHEME = SCHEME_BLOCK;
            constexpr int STAGE = 3;  // values of the reduced side staged per point
            constexpr int BLOCK = 192;  // threads per block, one per output row
            constexpr int TILE = 192;  // points of the reduced side per tile
            constexpr int LSE_MODE = LSE_PLAIN;
            // ---- tables
            // ---- @params
            const T* __restrict__ arg0,
            const T* __restrict__ arg1,
            // ---- @row
            const T* vi0 = arg0 + (size_t)r * 3;
            const T const_1 = (T)2.0;
            // ---- @stage
            noyau_copy<3>(arg1 + (size_t)j * 3, slot + 0);
            // ---- @pair
            const T* vj1 = slot + 0;
            const T sqdist_2 = noyau_sqdist<3>(vi0, vj1);
            const T minus_3 = (-sqdist_2);
            const T divide_4 = (minus_3/const_1);
            const T* f = &divide_4;
            const T* w = nullptr;
            // ---- @finish
        "#]],
    );
    snapshot(
        "SqDist(x, y)",
        None,
        &["x = Vi(2)", "y = Vj(2)"],
        Reduction::ArgKMin(5),
        DType::F32,
        expect![[r#"
            // ---- configuration
            // ArgKMin(K=5) over j of SqDist(Vi(0,2), Vj(1,2)), float32.
            typedef float T;
            typedef float ACC;  // sums accumulate in this type
            constexpr int DIM = 1;  // dimension of the formula
            constexpr int WDIM = 1;  // dimension of the weight (1 without one)
            constexpr int OUT_DIM = 5;  // columns of the output
            constexpr int SUM_SCHEME = SCHEME_BLOCK;
            constexpr int STAGE = 2;  // values of the reduced side staged per point
            constexpr int BLOCK = 192;  // threads per block, one per output row
            constexpr int TILE = 192;  // points of the reduced side per tile
            constexpr int K = 5;
            constexpr int OUTPUT = OUT_INDICES;
            // ---- tables
            // ---- @params
            const T* __restrict__ arg0,
            const T* __restrict__ arg1,
            // ---- @row
            const T* vi0 = arg0 + (size_t)r * 2;
            // ---- @stage
            noyau_copy<2>(arg1 + (size_t)j * 2, slot + 0);
            // ---- @pair
            const T* vj1 = slot + 0;
            const T sqdist_1 = noyau_sqdist<2>(vi0, vj1);
            const T* f = &sqdist_1;
            const T* w = nullptr;
            // ---- @finish
        "#]],
    );
    snapshot(
        "(Normalize(MatVecMult(A, x - y)) | u)",
        Some("Concat(Sin(x), u)"),
        &["A = Pm(6)", "x = Vi(3)", "y = Vj(3)", "u = Vj(2)"],
        Reduction::SumSoftMaxWeight,
        DType::F32,
        expect![[r#"
            // ---- configuration
            // SumSoftMaxWeight over j of (Normalize(MatVecMult(Pm(0,6), Vi(1,3) - Vj(2,3))) | Vj(3,2)) with weight Concat(Sin(Vi(1,3)), Vj(3,2)), float32.
            typedef float T;
            typedef float ACC;  // sums accumulate in this type
            constexpr int DIM = 1;  // dimension of the formula
            constexpr int WDIM = 5;  // dimension of the weight (1 without one)
            constexpr int OUT_DIM = 5;  // columns of the output
            constexpr int SUM_SCHEME = SCHEME_BLOCK;
            constexpr int STAGE = 5;  // values of the reduced side staged per point
            constexpr int BLOCK = 192;  // threads per block, one per output row
            constexpr int TILE = 192;  // points of the reduced side per tile
            constexpr int LSE_MODE = LSE_SOFTMAX;
            // ---- tables
            // ---- @params
            const T* __restrict__ arg0,
            const T* __restrict__ arg1,
            const T* __restrict__ arg2,
            const T* __restrict__ arg3,
            // ---- @row
            const T* pm0 = arg0;
            const T* vi1 = arg1 + (size_t)r * 3;
            T sin_1[3];
            #pragma unroll
            for (int k = 0; k < 3; ++k) sin_1[k] = sin(vi1[k]);
            // ---- @stage
            noyau_copy<3>(arg2 + (size_t)j * 3, slot + 0);
            noyau_copy<2>(arg3 + (size_t)j * 2, slot + 3);
            // ---- @pair
            const T* vj2 = slot + 0;
            T subtract_2[3];
            #pragma unroll
            for (int k = 0; k < 3; ++k) subtract_2[k] = (vi1[k]-vj2[k]);
            T matvecmult_3[2];
            noyau_mat_vec_mult<2, 3>(pm0, subtract_2, matvecmult_3);
            T normalize_4[2];
            noyau_normalize<2>(matvecmult_3, normalize_4);
            const T* vj3 = slot + 3;
            const T scalprod_5 = noyau_scalprod<2>(normalize_4, vj3);
            T concat_6[5];
            noyau_concat<3, 2>(sin_1, vj3, concat_6);
            const T* f = &scalprod_5;
            const T* w = concat_6;
            // ---- @finish
        "#]],
    );
    snapshot(
        "TensorDot(M, z, [2,3], [3], [1], [0])",
        None,
        &["M = Pm(6)", "z = Vj(3)"],
        Reduction::Max,
        DType::F64,
        expect![[r#"
            // ---- configuration
            // Max over j of TensorDot(Pm(0,6), Vj(1,3), [2,3], [3], [1], [0]), float64.
            typedef double T;
            typedef double ACC;  // sums accumulate in this type
            constexpr int DIM = 2;  // dimension of the formula
            constexpr int WDIM = 1;  // dimension of the weight (1 without one)
            constexpr int OUT_DIM = 2;  // columns of the output
            constexpr int SUM_SCHEME = SCHEME_BLOCK;
            constexpr int STAGE = 3;  // values of the reduced side staged per point
            constexpr int BLOCK = 192;  // threads per block, one per output row
            constexpr int TILE = 192;  // points of the reduced side per tile
            constexpr bool GREATER = true;
            constexpr int OUTPUT = OUT_VALUES;
            // ---- tables
            __constant__ int tensordot_1_base_a[2] = {0, 3};
            __constant__ int tensordot_1_base_b[2] = {0, 0};
            __constant__ int tensordot_1_off_a[3] = {0, 1, 2};
            __constant__ int tensordot_1_off_b[3] = {0, 1, 2};
            // ---- @params
            const T* __restrict__ arg0,
            const T* __restrict__ arg1,
            // ---- @row
            const T* pm0 = arg0;
            // ---- @stage
            noyau_copy<3>(arg1 + (size_t)j * 3, slot + 0);
            // ---- @pair
            const T* vj1 = slot + 0;
            T tensordot_1[2];
            noyau_tensor_dot<2, 3>(pm0, vj1, tensordot_1_base_a, tensordot_1_base_b, tensordot_1_off_a, tensordot_1_off_b, tensordot_1);
            const T* f = tensordot_1;
            const T* w = nullptr;
            // ---- @finish
        "#]],
    );
}

/// On a machine without a CUDA driver (CI), `Auto` computes on the CPU and `Gpu` says what is missing.
#[test]
fn without_a_driver_auto_runs_on_the_cpu_and_gpu_is_an_error() {
    if cuda::device::device_count().is_ok() {
        cuda_common::notice(
            "SKIPPED without_a_driver_auto_runs_on_the_cpu_and_gpu_is_an_error: this machine has a CUDA device",
        );
        return;
    }
    let g =
        Genred::new("Exp(-SqDist(x,y))*b", &["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], Reduction::Sum, Axis::J).unwrap();
    let x = Array2::from_shape_fn((5, 3), |(i, k)| (i + k) as f32 * 0.1);
    let y = Array2::from_shape_fn((7, 3), |(j, k)| (j * k) as f32 * 0.05);
    let b = Array2::from_shape_fn((7, 1), |(j, _)| j as f32);
    let inputs = [x.view(), y.view(), b.view()];
    let with = |backend| Options { backend, ..Options::default() };
    let auto = g.eval_with(&inputs, &with(Backend::Auto)).unwrap();
    let cpu = g.eval_with(&inputs, &with(Backend::Cpu)).unwrap();
    assert_eq!(auto, cpu);
    for backend in [Backend::Gpu(0), Backend::Gpu(1)] {
        let err = g.eval_with(&inputs, &with(backend)).unwrap_err().to_string();
        assert!(err.starts_with("backend gpu: no CUDA device: "), "{err}");
        assert!(err.contains("driver"), "the message names the missing piece: {err}");
    }
    assert!(cuda::available(0).is_err());
    assert!(!cuda::auto_selects(g.reduce()));
}

#[test]
fn backend_names_pick_a_device() {
    assert_eq!(Backend::from_name("gpu").unwrap(), Backend::Gpu(0));
    assert_eq!(Backend::from_name("cuda").unwrap(), Backend::Gpu(0));
    assert_eq!(Backend::from_name("cuda:1").unwrap(), Backend::Gpu(1));
    assert_eq!(Backend::from_name("gpu:2").unwrap(), Backend::Gpu(2));
    assert_eq!(Backend::from_name("auto").unwrap(), Backend::Auto);
    let err = Backend::from_name("cuda:x").unwrap_err().to_string();
    assert_eq!(err, "backend cuda:x: unknown backend: use auto, cpu, gpu, cuda:N (KeOps' CPU and GPU_1D also)");
}

/// A K·D beyond what a thread keeps is refused on the GPU, and `Auto` leaves it to the CPU.
#[test]
fn oversized_kmin_lists_are_refused() {
    let g = Genred::new("x - y", &["x = Vi(64)", "y = Vj(64)"], Reduction::KMin(100), Axis::J).unwrap();
    let err = cuda::kernel_source(g.reduce(), DType::F32, &Options::default()).unwrap_err().to_string();
    assert!(err.contains("K·D = 6400"), "{err}");
    assert!(!cuda::auto_selects(g.reduce()));
}
