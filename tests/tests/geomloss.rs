//! Sinkhorn divergences and kernel losses against GeomLoss's own outputs (`tests/fixtures/geomloss`).
//!
//! `make_fixtures.py` there ran `geomloss.SamplesLoss(..., backend="tensorized")` in float64 on
//! N = M = 2000 points and saved the inputs, the loss and its gradients with respect to both
//! weights and both clouds; the table below repeats its options. Values and gradients must
//! agree to 1e-4 relative (gradients in the max norm).

use noyau_engine::ot::{kernel_loss, sinkhorn, sinkhorn_divergence, KernelLoss, SinkhornOptions};
use noyau_engine::tensor::grad;
use noyau_engine::{DType, Tensor};
use std::path::PathBuf;

const TOL: f64 = 1e-4;

/// The loss of a case: Sinkhorn with its options, or a kernel loss with its blur.
enum Loss {
    Sinkhorn(SinkhornOptions),
    Kernel(KernelLoss, f64),
}

fn sinkhorn_opts(p: f64, blur: f64, scaling: f64, reach: Option<f64>, debias: bool) -> Loss {
    Loss::Sinkhorn(SinkhornOptions { p, blur, scaling, reach, debias, ..SinkhornOptions::default() })
}

/// The cases of `make_fixtures.py`, with the same options.
fn cases() -> Vec<(&'static str, Loss)> {
    vec![
        ("sinkhorn_p2_2d", sinkhorn_opts(2.0, 0.05, 0.5, None, true)),
        ("sinkhorn_p2_3d", sinkhorn_opts(2.0, 0.01, 0.9, None, true)),
        ("sinkhorn_raw", sinkhorn_opts(2.0, 0.05, 0.5, None, false)),
        ("sinkhorn_reach", sinkhorn_opts(2.0, 0.05, 0.5, Some(0.3), true)),
        ("sinkhorn_p1", sinkhorn_opts(1.0, 0.05, 0.5, None, true)),
        ("energy", Loss::Kernel(KernelLoss::Energy, 0.05)),
        ("gaussian", Loss::Kernel(KernelLoss::Gaussian, 0.1)),
        ("laplacian", Loss::Kernel(KernelLoss::Laplacian, 0.1)),
    ]
}

fn load(case: &str, name: &str) -> Tensor {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/geomloss").join(format!("{case}_{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    noyau_scripting::io::parse_npy(&bytes, DType::F64).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// ‖got − want‖∞ / ‖want‖∞.
fn rel_error(got: &Tensor, want: &Tensor) -> f64 {
    // Shapes are compared up to dimensions of size 1 (the reader gives a 0-D array shape [1]).
    let squeeze = |t: &Tensor| t.shape().iter().copied().filter(|&n| n != 1).collect::<Vec<_>>();
    assert_eq!(squeeze(got), squeeze(want));
    let (g, w) = (got.to_vec_f64(), want.to_vec_f64());
    let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    g.iter().zip(&w).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale
}

fn check(what: &str, got: &Tensor, want: &Tensor) {
    let err = rel_error(got, want);
    println!("{what}: relative error {err:.2e}");
    assert!(err <= TOL, "{what}: relative error {err:.3e} > {TOL:e}");
}

#[test]
fn values_and_gradients_match_geomloss() {
    for (case, loss) in cases() {
        let [a, x, b, y] = ["a", "x", "b", "y"].map(|k| load(case, k).requires_grad());
        let value = match &loss {
            Loss::Sinkhorn(o) => sinkhorn_divergence(&a, &x, &b, &y, o),
            Loss::Kernel(k, blur) => kernel_loss(*k, &a, &x, &b, &y, *blur, &Default::default()),
        }
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        check(&format!("{case} value"), &value, &load(case, "loss"));
        let grads = grad(&value, &[&a, &x, &b, &y], None).unwrap();
        for (k, g) in ["a", "x", "b", "y"].iter().zip(&grads) {
            check(&format!("{case} gradient wrt {k}"), g, &load(case, &format!("grad_{k}")));
        }
    }
}

#[test]
fn potentials_match_geomloss() {
    let case = "sinkhorn_p2_2d";
    let [a, x, b, y] = ["a", "x", "b", "y"].map(|k| load(case, k));
    let Loss::Sinkhorn(opts) = &cases()[0].1 else { unreachable!() };
    let p = sinkhorn(&a, &x, &b, &y, opts).unwrap();
    // GeomLoss's potentials=True returns the debiased differences.
    check("f - f_aa", &p.f.sub(p.f_aa.as_ref().unwrap()).unwrap(), &load(case, "pot_f"));
    check("g - g_bb", &p.g.sub(p.g_bb.as_ref().unwrap()).unwrap(), &load(case, "pot_g"));
}
