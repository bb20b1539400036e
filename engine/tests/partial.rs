//! Partial reductions: states over slices of the reduced axis, combined, equal the unsplit result.
//!
//! Exactly for the selecting reductions (Max/Min with their indices, the KMin family: the same
//! points are evaluated by the same code, and ties go to the smaller index whatever the order of
//! combination), within rounding for the sums and the log-sum-exp family. Also the CPU
//! backend's own slicing of the reduced axis when there are too few output rows for its
//! threads, checked against the float64 reference.

mod common;

use common::catalog::{reduction_inputs, reductions};
use ndarray::{Array2, ArrayView2};
use noyau_engine::cpu;
use noyau_engine::random::Rng;
use noyau_engine::state::Family;
use noyau_engine::{Axis, Backend, Cat, Expr, Options, Real, Reduce, Reduction, SumScheme, VarDecl};

/// F = −s·‖x − y‖² + ⟨x, y⟩, concatenated with x₁·b₀ for the componentwise reductions; the
/// weight b for the weighted ones.
fn spec(red: Reduction, axis: Axis) -> Reduce {
    let x = Expr::var(0, 3, Cat::I).unwrap();
    let y = Expr::var(1, 3, Cat::J).unwrap();
    let s = Expr::var(2, 1, Cat::P).unwrap();
    let b = Expr::var(3, 2, Cat::J).unwrap();
    let f = x.clone().sqdist(y.clone()).unwrap().neg().unwrap().mul(s).unwrap();
    let f = f.add(x.clone().scalprod(y).unwrap()).unwrap();
    let scalar = matches!(
        red,
        Reduction::LogSumExp
            | Reduction::LogSumExpWeight
            | Reduction::MaxSumShiftExpWeight
            | Reduction::SumSoftMaxWeight
    );
    let f = if scalar { f } else { f.concat(x.elem(1).unwrap().mul(b.clone().elem(0).unwrap()).unwrap()).unwrap() };
    let declared: Vec<VarDecl> = [(0, 3, Cat::I), (1, 3, Cat::J), (2, 1, Cat::P), (3, 2, Cat::J)]
        .iter()
        .map(|&(index, dim, cat)| VarDecl { name: format!("v{index}"), index, dim, cat })
        .collect();
    Reduce::with_vars(f, red.has_weight().then_some(b), red, axis, &declared).unwrap()
}

fn close(got: &Array2<f64>, want: &Array2<f64>, tol: f64) -> bool {
    let scale = want.iter().filter(|v| v.is_finite()).fold(1.0f64, |a, b| a.max(b.abs()));
    got.iter().zip(want).all(|(g, w)| {
        if w.is_finite() {
            (g - w).abs() <= tol * scale
        } else {
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan())
        }
    })
}

fn check_slices<T: Real>(tol: f64) {
    let (n, m) = (37, 1000);
    let cuts: [&[usize]; 4] = [&[500], &[0, 64, 64, 999], &[1, 2, 3, 130, 700], &[333, 666]];
    for axis in [Axis::J, Axis::I] {
        for red in reductions() {
            let spec = spec(red, axis);
            let data: Vec<Array2<T>> = reduction_inputs(&mut Rng::new(7), n, m);
            let (n, m) = if axis == Axis::I { (m, n) } else { (n, m) };
            let data: Vec<Array2<T>> = if axis == Axis::I { reduction_inputs(&mut Rng::new(7), n, m) } else { data };
            let views: Vec<ArrayView2<T>> = data.iter().map(|a| a.view()).collect();
            let (n_out, n_in) = spec.sizes(&views).unwrap();
            let opts = Options::default();
            let whole = cpu::partial(&spec, &views, n_out, 0..n_in, &opts).unwrap();
            let want = whole.finalize::<T>(spec.out_dim).mapv(|v| v.as_f64());
            for cut in cuts {
                let mut bounds = vec![0];
                bounds.extend(cut.iter().map(|&c| c.min(n_in)));
                bounds.push(n_in);
                let parts: Vec<_> =
                    bounds.windows(2).map(|w| cpu::partial(&spec, &views, n_out, w[0]..w[1], &opts).unwrap()).collect();
                for order in [false, true] {
                    let mut it: Box<dyn Iterator<Item = _>> =
                        if order { Box::new(parts.iter().rev()) } else { Box::new(parts.iter()) };
                    let mut acc = it.next().unwrap().clone();
                    for p in it {
                        acc.combine(p).unwrap();
                    }
                    let got = acc.finalize::<T>(spec.out_dim).mapv(|v| v.as_f64());
                    let what =
                        format!("{red} over {axis:?}, {} slices at {bounds:?}, reversed {order}", T::DTYPE.name());
                    match whole.layout.family() {
                        Family::Extreme { .. } | Family::KMin(_) => assert_eq!(got, want, "{what}: must be exact"),
                        _ => assert!(close(&got, &want, tol), "{what}\ngot  {got:?}\nwant {want:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn slices_combine_to_the_whole_f32() {
    check_slices::<f32>(2e-6);
}

#[test]
fn slices_combine_to_the_whole_f64() {
    check_slices::<f64>(1e-13);
}

#[test]
fn combining_mismatched_states_is_an_error() {
    let spec = spec(Reduction::Sum, Axis::J);
    let data: Vec<Array2<f64>> = reduction_inputs(&mut Rng::new(1), 4, 10);
    let views: Vec<ArrayView2<f64>> = data.iter().map(|a| a.view()).collect();
    let mut a = cpu::partial(&spec, &views, 4, 0..5, &Options::default()).unwrap();
    let b = cpu::partial(&spec_of(Reduction::ArgMin), &views, 4, 5..10, &Options::default()).unwrap();
    assert!(a.combine(&b).unwrap_err().to_string().contains("cannot combine"));
}

fn spec_of(red: Reduction) -> Reduce {
    spec(red, Axis::J)
}

/// Few output rows and a long reduced axis: the backend cuts the axis into slices for its
/// threads; the result must still be the reference's.
#[test]
fn few_rows_are_split_over_the_reduced_axis() {
    for red in reductions() {
        for scheme in [SumScheme::Block, SumScheme::Direct, SumScheme::Kahan] {
            let spec = spec(red, Axis::J);
            let data: Vec<Array2<f64>> = reduction_inputs(&mut Rng::new(11), 3, 40_000);
            let views: Vec<ArrayView2<f64>> = data.iter().map(|a| a.view()).collect();
            let opts = Options { backend: Backend::Cpu, sum_scheme: scheme, ..Options::default() };
            let got = spec.eval(&views, &opts).unwrap();
            let want = spec.eval(&views, &Options { backend: Backend::Reference, ..Options::default() }).unwrap();
            assert!(close(&got, &want, 1e-12), "{red} {scheme:?}\ngot  {got:?}\nwant {want:?}");
        }
    }
}
