//! kernel_product's kernels: every atom, combinations, gamma shapes and modes against dense float64 loops, and errors.

use ndarray::{Array2, ArrayView2};
use noyau_engine::kernels::{Atom, Gamma, Kernel, Mode};
use noyau_engine::random::Rng;
use noyau_engine::{Error, Options};

const N: usize = 7;
const M: usize = 9;

/// The shapes a gamma can take, as (name, dimension for points of dimension d, per point).
fn gamma_shapes(d: usize) -> [(&'static str, usize, bool); 6] {
    [
        ("scalar", 1, false),
        ("diagonal", d, false),
        ("full", d * d, false),
        ("scalar per point", 1, true),
        ("diagonal per point", d, true),
        ("full per point", d * d, true),
    ]
}

/// Values of a gamma of dimension 1, d or d² (positive, symmetric positive definite when full),
/// with one row, or one row per j-point.
fn gamma_values(rng: &mut Rng, dim: usize, d: usize, rows: usize) -> Array2<f64> {
    let values: Vec<f64> = (0..rows).flat_map(|_| one_gamma(rng, dim, d)).collect();
    Array2::from_shape_vec((rows, dim), values).expect("rows × dim values")
}

fn one_gamma(rng: &mut Rng, dim: usize, d: usize) -> Vec<f64> {
    if dim == d * d && d > 1 {
        // A Aᵀ/d + I/2 is symmetric positive definite, as a metric must be.
        let a: Vec<f64> = (0..d * d).map(|_| rng.normal()).collect();
        (0..d * d)
            .map(|k| {
                let (r, c) = (k / d, k % d);
                (0..d).map(|m| a[r * d + m] * a[c * d + m]).sum::<f64>() / d as f64 + if r == c { 0.5 } else { 0.0 }
            })
            .collect()
    } else {
        (0..dim).map(|_| 0.2 + rng.uniform()).collect()
    }
}

/// ⟨x−y, G(x−y)⟩ for G of dimension 1, d or d².
fn weighted(g: ArrayView2<f64>, row: usize, x: &[f64], y: &[f64]) -> f64 {
    let d = x.len();
    let z: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let g = g.row(row);
    match g.len() {
        1 => g[0] * z.iter().map(|v| v * v).sum::<f64>(),
        n if n == d => z.iter().zip(g.iter()).map(|(v, w)| w * v * v).sum(),
        _ => (0..d).map(|r| (0..d).map(|c| z[r] * g[r * d + c] * z[c]).sum::<f64>()).sum(),
    }
}

fn atom_value(atom: Atom, g: Option<&Array2<f64>>, j: usize, x: &[f64], y: &[f64]) -> f64 {
    let w = || {
        let g = g.expect("a gamma");
        weighted(g.view(), if g.nrows() == 1 { 0 } else { j }, x, y)
    };
    match atom {
        Atom::Linear => x.iter().zip(y).map(|(a, b)| a * b).sum(),
        Atom::Distance => w().sqrt(),
        Atom::Gaussian => (-w()).exp(),
        Atom::Laplacian => (-w().sqrt()).exp(),
        Atom::Cauchy => 1.0 / (1.0 + w()),
        Atom::InverseMultiquadric => 1.0 / (1.0 + w()).sqrt(),
    }
}

/// One problem: points per pair, gammas per atom, signal and scalings.
struct Data {
    xs: Vec<Array2<f64>>,
    ys: Vec<Array2<f64>>,
    gammas: Vec<Option<Array2<f64>>>,
    b: Array2<f64>,
    a_log: Array2<f64>,
    b_log: Array2<f64>,
}

/// Random data for `kernel`, every atom's gamma of shape `shape` (index into `gamma_shapes`).
fn data(kernel: &Kernel, dims: &[usize], shape: usize, seed: u64, e: usize) -> Data {
    let mut rng = Rng::new(seed);
    let xs = dims.iter().map(|&d| rng.normal_array::<f64>(N, d)).collect();
    let ys = dims.iter().map(|&d| rng.normal_array::<f64>(M, d)).collect();
    let gammas = kernel
        .atoms()
        .iter()
        .map(|&(atom, pair)| {
            let d = dims[pair];
            let (_, dim, per_point) = gamma_shapes(d)[shape];
            atom.has_gamma().then(|| gamma_values(&mut rng, dim, d, if per_point { M } else { 1 }))
        })
        .collect();
    let b = rng.normal_array::<f64>(M, e);
    let a_log = rng.normal_array::<f64>(N, 1);
    let b_log = rng.normal_array::<f64>(M, 1);
    Data { xs, ys, gammas, b, a_log, b_log }
}

/// What kernel_product computes, by dense loops; `combine` evaluates the kernel from its atoms' values.
fn dense(kernel: &Kernel, combine: &dyn Fn(&[f64]) -> f64, mode: Mode, d: &Data) -> Array2<f64> {
    Array2::from_shape_fn((N, d.b.ncols()), |(i, e)| {
        let mut total = 0.0;
        for j in 0..M {
            let values: Vec<f64> = kernel
                .atoms()
                .iter()
                .zip(&d.gammas)
                .map(|(&(atom, p), g)| {
                    let (x, y) = (d.xs[p].row(i).to_vec(), d.ys[p].row(j).to_vec());
                    atom_value(atom, g.as_ref(), j, &x, &y)
                })
                .collect();
            let k = combine(&values);
            let scale = if mode.is_scaled() { (d.a_log[[i, 0]] + d.b_log[[j, 0]]).exp() } else { 1.0 };
            total += match mode {
                Mode::Sum | Mode::LogScaled => k * scale * d.b[[j, e]],
                Mode::Lse | Mode::LogScaledLse => k * scale * d.b[[j, e]].exp(),
            };
        }
        if matches!(mode, Mode::Lse | Mode::LogScaledLse) {
            total.ln()
        } else {
            total
        }
    })
}

/// kernel_product through the engine, with the arguments in the documented order.
fn run(kernel: &Kernel, mode: Mode, d: &Data) -> Result<Array2<f64>, Error> {
    let dims: Vec<usize> = d.xs.iter().map(|x| x.ncols()).collect();
    let shapes: Vec<Option<Gamma>> =
        d.gammas.iter().map(|g| g.as_ref().map(|g| Gamma { dim: g.ncols(), per_point: g.nrows() == M })).collect();
    let spec = kernel.reduce(mode, &dims, &shapes, d.b.ncols())?;
    let mut inputs: Vec<ArrayView2<f64>> = Vec::new();
    for (x, y) in d.xs.iter().zip(&d.ys) {
        inputs.extend([x.view(), y.view()]);
    }
    inputs.extend(d.gammas.iter().flatten().map(|g| g.view()));
    inputs.push(d.b.view());
    if mode.is_scaled() {
        inputs.extend([d.a_log.view(), d.b_log.view()]);
    }
    spec.eval(&inputs, &Options::default())
}

fn assert_close(got: &Array2<f64>, want: &Array2<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()), "{what}: got {g}, want {w}\n{got}\n{want}");
    }
}

const MODES: [Mode; 4] = [Mode::Sum, Mode::Lse, Mode::LogScaled, Mode::LogScaledLse];

fn check(name: &str, combine: &dyn Fn(&[f64]) -> f64, dims: &[usize], modes: &[Mode], shapes: &[usize]) {
    let kernel = Kernel::parse(name).expect("parses");
    for &mode in modes {
        for &shape in shapes {
            // A log-sum-exp reduces a scalar, so the signal has one column there and two elsewhere.
            let e = if matches!(mode, Mode::Lse | Mode::LogScaledLse) { 1 } else { 2 };
            let d = data(&kernel, dims, shape, 3 + shape as u64, e);
            let what = format!("{name}, {mode:?}, gamma {}", gamma_shapes(dims[0])[shape].0);
            let got = run(&kernel, mode, &d).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_close(&got, &dense(&kernel, combine, mode, &d), &what);
        }
    }
}

#[test]
fn every_atom_in_every_mode_it_supports() {
    let atoms = ["distance", "gaussian", "laplacian", "cauchy", "inverse_multiquadric"];
    for name in atoms {
        check(&format!("{name}(x,y)"), &|a| a[0], &[3], &MODES, &[0, 4]);
    }
    check("linear(x,y)", &|a| a[0], &[3], &[Mode::Sum], &[0]);
}

#[test]
fn every_gamma_shape_in_every_mode() {
    check("gaussian(x,y)", &|a| a[0], &[3], &MODES, &[0, 1, 2, 3, 4, 5]);
    check("cauchy(x,y)", &|a| a[0], &[2], &[Mode::Sum], &[0, 1, 2, 3, 4, 5]);
}

#[test]
fn combinations_of_atoms() {
    check("gaussian(x,y) * linear(u,v)**2", &|a| a[0] * a[1].powi(2), &[3, 2], &[Mode::Sum], &[0, 2, 4]);
    let three = |a: &[f64]| a[0] + a[1] * (1.0 + a[2].powi(2));
    check("cauchy(x,y) + gaussian(x,y) * (1 + cauchy(u,v)**2)", &three, &[3, 2], &MODES, &[0, 1, 5]);
    check("2*laplacian(x, y)**3 + 3", &|a| 2.0 * a[0].powi(3) + 3.0, &[2], &MODES, &[2]);
    check("(gaussian(x,y))**0 + distance(x,y)", &|a| 1.0 + a[1], &[2], &[Mode::Sum, Mode::Lse], &[0]);
}

#[test]
fn sums_in_the_log_modes_do_not_underflow() {
    // With a gamma of 10⁴ every exp(−⟨x−y, G(x−y)⟩) is 0 in float64, but its log is not.
    let kernel = Kernel::parse("gaussian(x,y) + gaussian(x,y)").expect("parses");
    let single = Kernel::parse("gaussian(x,y)").expect("parses");
    let mut d = data(&kernel, &[3], 0, 9, 1);
    d.gammas = vec![Some(Array2::from_elem((1, 1), 1e4)); 2];
    let both = run(&kernel, Mode::Lse, &d).expect("runs");
    d.gammas.truncate(1);
    let one = run(&single, Mode::Lse, &d).expect("runs");
    assert!(one.iter().all(|v| v.is_finite() && *v < -100.0), "{one}");
    assert_close(&both, &(one + std::f64::consts::LN_2), "log(2k) = log 2 + log k");
}

#[test]
fn names_pairs_and_atoms() {
    let k = Kernel::parse("cauchy(x,y) + gaussian(x,y) * (1 + cauchy(u,v)**2)").expect("parses");
    assert_eq!(k.pairs(), &[('x', 'y'), ('u', 'v')]);
    assert_eq!(k.atoms(), &[(Atom::Cauchy, 0), (Atom::Gaussian, 0), (Atom::Cauchy, 1)]);
    let spec = k.reduce(Mode::LogScaled, &[3, 2], &[Some(Gamma { dim: 1, per_point: false }); 3], 4).expect("builds");
    let names: Vec<&str> = spec.vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["x", "y", "u", "v", "gamma0", "gamma1", "gamma2", "b", "a_log", "b_log"]);
    assert_eq!(spec.out_dim, 4);
}

fn message(r: Result<impl std::fmt::Debug, Error>) -> String {
    r.expect_err("an error").to_string()
}

#[test]
fn errors_say_what_and_where() {
    let unknown = message(Kernel::parse("gaussian(x,y) + gausian(u,v)"));
    assert!(unknown.contains("unknown kernel `gausian`") && unknown.contains("column 17"), "{unknown}");
    let syntax = message(Kernel::parse("gaussian(x,y) +* 2"));
    assert!(syntax.contains("column 16"), "{syntax}");
    for (bad, what) in [
        ("gaussian(x,y", "expected `)`"),
        ("gaussian(x,yy)", "single letter"),
        ("gaussian(x,y) + cauchy(y,z)", "overlaps"),
        ("gaussian(x,y) ** -1", "non-negative integer exponent"),
        ("gaussian(x,y) ** 99999999999", "too large"),
        ("gaussian(x,y) 2", "unexpected `2`"),
        ("", "expected a kernel"),
    ] {
        let m = message(Kernel::parse(bad));
        assert!(m.contains(what), "{bad}: {m}");
    }
    let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    assert!(message(Kernel::parse(&deep)).contains("nested deeper"));

    let g = |dim| Some(Gamma { dim, per_point: false });
    let k = Kernel::parse("gaussian(x,y)").expect("parses");
    let wrong = message(k.reduce(Mode::Sum, &[3], &[g(4)], 1));
    assert!(wrong.contains("dimension 4: expected 1 (scalar), 3 (diagonal) or 9"), "{wrong}");
    assert!(message(k.reduce(Mode::Sum, &[3], &[None], 1)).contains("missing"));
    assert!(message(k.reduce(Mode::Sum, &[3], &[g(1), g(1)], 1)).contains("got 2 gamma(s)"));
    assert!(message(k.reduce(Mode::Sum, &[3, 3], &[g(1)], 1)).contains("1 pair(s)"));
    let linear = Kernel::parse("linear(x,y)").expect("parses");
    assert!(message(linear.reduce(Mode::Lse, &[3], &[None], 1)).contains("no log form"));
    assert!(message(linear.reduce(Mode::Sum, &[3], &[g(1)], 1)).contains("linear takes no parameter"));
    let zero = Kernel::parse("0 * gaussian(x,y)").expect("parses");
    assert!(message(zero.reduce(Mode::Lse, &[3], &[g(1)], 1)).contains("no logarithm"));
    assert!(message(k.reduce(Mode::Lse, &[3], &[g(1)], 2)).contains("one column"));
    assert!(message(Mode::from_name("log")).contains("the modes are sum, lse, log_scaled, log_scaled_lse"));
}
