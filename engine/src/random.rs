//! A small deterministic random generator (SplitMix64) for tests, benchmarks and `randn`-like helpers.

use crate::real::Real;
use ndarray::Array2;

/// SplitMix64: tiny, fast, and good enough for test data; the same seed gives the same numbers everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An n×d array of uniform values in [0, 1).
    pub fn uniform_array<T: Real>(&mut self, n: usize, d: usize) -> Array2<T> {
        Array2::from_shape_simple_fn((n, d), || T::from_f64(self.uniform()))
    }

    /// An n×d array of standard normal values.
    pub fn normal_array<T: Real>(&mut self, n: usize, d: usize) -> Array2<T> {
        Array2::from_shape_simple_fn((n, d), || T::from_f64(self.normal()))
    }
}
