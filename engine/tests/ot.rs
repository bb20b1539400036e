//! The OT module's contract beyond the GeomLoss fixtures (`tests/tests/geomloss.rs`): errors
//! for bad inputs, weight shapes, zero weights, float32, and the potentials' shapes.

use noyau_engine::ot::{kernel_loss, sinkhorn, sinkhorn_divergence, KernelLoss, SinkhornOptions};
use noyau_engine::random::Rng;
use noyau_engine::{DType, Tensor};

fn cloud(n: usize, d: usize, seed: u64) -> Tensor {
    Tensor::rand(&[n, d], DType::F64, &mut Rng::new(seed)).unwrap()
}

fn uniform(n: usize) -> Tensor {
    Tensor::full(&[n], 1.0 / n as f64, DType::F64).unwrap()
}

fn opts() -> SinkhornOptions {
    SinkhornOptions { blur: 0.1, scaling: 0.7, ..SinkhornOptions::default() }
}

fn error_of(r: noyau_engine::Result<Tensor>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_inputs_are_errors_that_say_what_is_wrong() {
    let (x, y) = (cloud(10, 2, 1), cloud(8, 2, 2));
    let (a, b) = (uniform(10), uniform(8));
    let with = |o: SinkhornOptions| error_of(sinkhorn_divergence(&a, &x, &b, &y, &o));
    let cases = [
        (with(SinkhornOptions { p: 3.0, ..opts() }), "p = 3"),
        (with(SinkhornOptions { blur: 0.0, ..opts() }), "blur = 0"),
        (with(SinkhornOptions { blur: f64::NAN, ..opts() }), "blur = NaN"),
        (with(SinkhornOptions { scaling: 1.0, ..opts() }), "strictly between 0 and 1"),
        (with(SinkhornOptions { reach: Some(-1.0), ..opts() }), "reach = -1"),
        (with(SinkhornOptions { diameter: Some(0.0), ..opts() }), "diameter = 0"),
        (error_of(sinkhorn_divergence(&a, &x, &b, &cloud(8, 3, 3), &opts())), "dimension 2 but y of dimension 3"),
        (error_of(sinkhorn_divergence(&uniform(9), &x, &b, &y, &opts())), "a has shape [9] but x has 10 points"),
        (error_of(sinkhorn_divergence(&a, &x.reshape(&[20]).unwrap(), &b, &y, &opts())), "x must be a 2-D tensor"),
        (error_of(sinkhorn_divergence(&a, &x, &(&b - 0.2), &y, &opts())), "b[0] = -0.075"),
        (error_of(sinkhorn_divergence(&(&a * 0.0), &x, &b, &y, &opts())), "every weight of a is 0"),
        (with(SinkhornOptions { scaling: 0.9999999999, ..opts() }), "take a smaller scaling"),
        (error_of(kernel_loss(KernelLoss::Gaussian, &a, &x, &b, &y, -1.0, &Default::default())), "blur = -1"),
        (
            error_of(kernel_loss(KernelLoss::Energy, &a, &x, &b, &cloud(0, 2, 4), 1.0, &Default::default())),
            "y has no point",
        ),
    ];
    for (msg, words) in cases {
        assert!(msg.contains(words), "{msg:?} should contain {words:?}");
    }
    assert!(KernelLoss::from_name("gausian").unwrap_err().to_string().contains("energy, gaussian and laplacian"));
}

#[test]
fn weight_shapes_zero_weights_and_float32() {
    let (x, y) = (cloud(40, 3, 5), cloud(30, 3, 6));
    let (a, b) = (uniform(40), uniform(30));
    let s = sinkhorn_divergence(&a, &x, &b, &y, &opts()).unwrap().item().unwrap();
    // Weights as columns give the same value, and potentials take the weights' shape.
    let col = |t: &Tensor| t.reshape(&[-1, 1]).unwrap();
    let s_col = sinkhorn_divergence(&col(&a), &x, &col(&b), &y, &opts()).unwrap().item().unwrap();
    assert!((s - s_col).abs() <= 1e-15 * s.abs());
    let p = sinkhorn(&col(&a), &x, &b, &y, &opts()).unwrap();
    assert_eq!((p.f.shape(), p.g.shape()), (&[40usize, 1][..], &[30usize][..]));
    assert_eq!(p.f_aa.unwrap().shape(), &[40, 1]);
    // A point of zero weight does not count: the same as the cloud without it. (Only the
    // diameter, which sees every point, could differ: it is fixed here.)
    let fixed = SinkhornOptions { diameter: Some(2.0), ..opts() };
    let extra = Tensor::cat(&[&x, &cloud(1, 3, 7)], 0).unwrap();
    let a0 = Tensor::cat(&[&a, &Tensor::zeros(&[1], DType::F64).unwrap()], 0).unwrap();
    let s0 = sinkhorn_divergence(&a0, &extra, &b, &y, &fixed).unwrap().item().unwrap();
    let s1 = sinkhorn_divergence(&a, &x, &b, &y, &fixed).unwrap().item().unwrap();
    assert!((s0 - s1).abs() <= 1e-12 * s1.abs(), "{s0} vs {s1}");
    // float32 in, float32 out, close to float64.
    let f32s = |t: &Tensor| t.to_dtype(DType::F32);
    let s32 = sinkhorn_divergence(&f32s(&a), &f32s(&x), &f32s(&b), &f32s(&y), &opts()).unwrap();
    assert_eq!(s32.dtype(), DType::F32);
    assert!((s32.item().unwrap() - s).abs() <= 1e-4 * s.abs());
    // The divergence of a measure with itself vanishes, for both costs, balanced or not.
    for o in [opts(), SinkhornOptions { p: 1.0, ..opts() }, SinkhornOptions { reach: Some(0.5), ..opts() }] {
        let zero = sinkhorn_divergence(&a, &x, &a, &x, &o).unwrap().item().unwrap();
        assert!(zero.abs() < 1e-12, "{zero}");
    }
}
