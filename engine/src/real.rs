//! The floating-point types the engine computes in (f32, f64), with branch-free exp/log that LLVM vectorises.
//!
//! `f32::exp` is a libm call that no loop vectorises through, so the CPU backend uses `vexp`/`vlog`
//! here: Cody–Waite range reduction, a polynomial, and the power of two built from the bits of a
//! "magic number" addition (no float→int conversion, which blocks vectorisation). Every special
//! case (NaN, ±inf, underflow, zero, negative) is a select, so the loops stay branch-free.

use num_traits::{Float, FloatConst};
use std::fmt::{Debug, Display};

/// Element types of the engine's arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
}

impl DType {
    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
}

/// A float the engine computes in.
pub trait Real: Float + FloatConst + Debug + Display + Default + Send + Sync + 'static + std::iter::Sum {
    const DTYPE: DType;
    /// exp, vectorisable, within 2 ulp of libm on the whole range.
    fn vexp(self) -> Self;
    /// ln, vectorisable, within 2 ulp of libm for positive normal and subnormal inputs.
    fn vlog(self) -> Self;
    fn from_f64(x: f64) -> Self;
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    const DTYPE: DType = DType::F32;

    #[inline(always)]
    fn vexp(self) -> f32 {
        let x = self;
        let y = exp_core_f32(x.clamp(-104.0, 88.72));
        let y = if x < -104.0 { 0.0 } else { y };
        let y = if x > 88.72 { f32::INFINITY } else { y };
        if x.is_nan() {
            x
        } else {
            y
        }
    }

    #[inline(always)]
    fn vlog(self) -> f32 {
        let x = self;
        // Subnormals are scaled into the normal range first.
        let sub = x < f32::MIN_POSITIVE;
        let xs = if sub { x * 8388608.0 } else { x };
        let bits = xs.to_bits();
        let mut e = ((bits >> 23) & 0xff) as i32 - 126;
        e -= if sub { 23 } else { 0 };
        let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000); // in [0.5, 1)
        let small = m < std::f32::consts::FRAC_1_SQRT_2;
        let e = (e - small as i32) as f32;
        let m = if small { m + m - 1.0 } else { m - 1.0 };
        let z = m * m;
        let y = 7.037_683_6e-2f32;
        let y = y.mul_add(m, -1.151_461e-1);
        let y = y.mul_add(m, 1.167_699_9e-1);
        let y = y.mul_add(m, -1.242_014_1e-1);
        let y = y.mul_add(m, 1.424_932_3e-1);
        let y = y.mul_add(m, -1.666_805_8e-1);
        let y = y.mul_add(m, 2.000_071_4e-1);
        let y = y.mul_add(m, -2.499_999_4e-1);
        let y = y.mul_add(m, 3.333_333e-1);
        let y = y * m * z;
        let y = e.mul_add(-2.121_944_4e-4, y);
        let y = z.mul_add(-0.5, y);
        let r = e.mul_add(0.693_359_4, m + y);
        let r = if x == 0.0 { f32::NEG_INFINITY } else { r };
        let r = if x == f32::INFINITY { x } else { r };
        if x < 0.0 || x.is_nan() {
            f32::NAN
        } else {
            r
        }
    }

    #[inline(always)]
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

/// exp on [-104, 88.72], subnormal results included.
#[inline(always)]
fn exp_core_f32(xc: f32) -> f32 {
    const MAGIC: f32 = 12582912.0; // 1.5 * 2^23: adding it rounds to an integer kept in the low bits.
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    let r = n.mul_add(-0.693_359_4, xc);
    let r = n.mul_add(2.121_944_4e-4, r);
    let p = 1.987_569_1e-4f32;
    let p = p.mul_add(r, 1.398_199_9e-3);
    let p = p.mul_add(r, 8.333_452e-3);
    let p = p.mul_add(r, 4.166_579_6e-2);
    let p = p.mul_add(r, 1.666_666_5e-1);
    let p = p.mul_add(r, 5e-1);
    let p = (p * r).mul_add(r, r) + 1.0;
    // 2^k as 2^(k/2)·2^(k-k/2): both factors stay normal from subnormal results up to k = 128.
    let k1 = k >> 1;
    let k2 = k - k1;
    p * f32::from_bits((k1.wrapping_add(127) as u32) << 23) * f32::from_bits((k2.wrapping_add(127) as u32) << 23)
}

/// exp on [-746, 709.78], subnormal results included.
#[inline(always)]
fn exp_core_f64(xc: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5 * 2^52
    let t = xc * std::f64::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i64;
    let r = n.mul_add(-0.693_145_751_953_125, xc);
    let r = n.mul_add(-1.428_606_820_309_417_3e-6, r);
    // Taylor series to degree 13: |r| <= ln2/2 gives a truncation error below 2e-16.
    let mut p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^k as 2^(k/2)·2^(k-k/2): both factors stay normal from subnormal results up to k = 1024.
    let k1 = k >> 1;
    let k2 = k - k1;
    p * f64::from_bits((k1.wrapping_add(1023) as u64) << 52) * f64::from_bits((k2.wrapping_add(1023) as u64) << 52)
}

impl Real for f64 {
    const DTYPE: DType = DType::F64;

    #[inline(always)]
    fn vexp(self) -> f64 {
        let x = self;
        let y = exp_core_f64(x.clamp(-746.0, 709.78));
        let y = if x < -746.0 { 0.0 } else { y };
        let y = if x > 709.78 { f64::INFINITY } else { y };
        if x.is_nan() {
            x
        } else {
            y
        }
    }

    #[inline(always)]
    fn vlog(self) -> f64 {
        let x = self;
        let sub = x < f64::MIN_POSITIVE;
        let xs = if sub { x * 4503599627370496.0 } else { x }; // 2^52
        let bits = xs.to_bits();
        let mut e = ((bits >> 52) & 0x7ff) as i64 - 1022;
        e -= if sub { 52 } else { 0 };
        let m = f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000); // [0.5, 1)
        let small = m < std::f64::consts::FRAC_1_SQRT_2;
        let e = (e - small as i64) as f64;
        let m = if small { m + m } else { m };
        // ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: odd series to s^23.
        let s = (m - 1.0) / (m + 1.0);
        let s2 = s * s;
        let mut p = 1.0 / 23.0;
        p = p * s2 + 1.0 / 21.0;
        p = p * s2 + 1.0 / 19.0;
        p = p * s2 + 1.0 / 17.0;
        p = p * s2 + 1.0 / 15.0;
        p = p * s2 + 1.0 / 13.0;
        p = p * s2 + 1.0 / 11.0;
        p = p * s2 + 1.0 / 9.0;
        p = p * s2 + 1.0 / 7.0;
        p = p * s2 + 1.0 / 5.0;
        p = p * s2 + 1.0 / 3.0;
        p = p * s2 + 1.0;
        let r = e.mul_add(std::f64::consts::LN_2, 2.0 * s * p);
        let r = if x == 0.0 { f64::NEG_INFINITY } else { r };
        let r = if x == f64::INFINITY { x } else { r };
        if x < 0.0 || x.is_nan() {
            f64::NAN
        } else {
            r
        }
    }

    #[inline(always)]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps32(a: f32, b: f32) -> i64 {
        (a.to_bits() as i64 - b.to_bits() as i64).abs()
    }

    #[test]
    fn exp_f32_matches_libm() {
        let mut worst = 0;
        let mut x = -110.0f32;
        while x < 90.0 {
            let (a, b) = (x.vexp(), x.exp());
            if b.is_finite() && x >= -87.0 {
                worst = worst.max(ulps32(a, b));
            } else {
                assert!(a == b || (a - b).abs() <= 1e-44 + 4.0 * f32::EPSILON * b, "exp({x}) = {a}, libm {b}");
            }
            x += 0.0137;
        }
        assert!(worst <= 2, "worst ulp error {worst}");
        assert!(f32::NAN.vexp().is_nan());
        assert_eq!(f32::INFINITY.vexp(), f32::INFINITY);
        assert_eq!(f32::NEG_INFINITY.vexp(), 0.0);
    }

    #[test]
    fn exp_f64_matches_libm() {
        let mut x = -750.0f64;
        while x < 710.0 {
            let (a, b) = (x.vexp(), x.exp());
            if a == b {
                x += 0.0731;
                continue;
            }
            // Subnormal results carry fewer bits: there the error is counted in subnormal steps.
            let tol = if b < f64::MIN_POSITIVE { 4e-16 * b + 1e-323 } else { 4e-16 * b };
            assert!((a - b).abs() <= tol, "exp({x}) = {a:e}, libm {b:e}");
            x += 0.0731;
        }
        assert!(f64::NAN.vexp().is_nan());
        assert_eq!(f64::NEG_INFINITY.vexp(), 0.0);
    }

    #[test]
    fn log_matches_libm() {
        for k in -1000..1000 {
            let x = 1.37f64.powi(k / 4) * (1.0 + (k as f64).abs() * 1e-3);
            let rel = ((x.vlog() - x.ln()) / x.ln().abs().max(1e-300)).abs();
            assert!(rel < 4e-16 || (x.vlog() - x.ln()).abs() < 4e-16, "ln({x})");
            let xf = x as f32;
            if xf > 0.0 && xf.is_finite() {
                let d = (xf.vlog() - xf.ln()).abs();
                assert!(d <= 2.0 * f32::EPSILON * xf.ln().abs().max(1.0), "lnf({xf}) {} {}", xf.vlog(), xf.ln());
            }
        }
        assert_eq!(0.0f32.vlog(), f32::NEG_INFINITY);
        assert!((-1.0f32).vlog().is_nan());
        assert!((1e-40f32.vlog() - 1e-40f32.ln()).abs() < 1e-5);
        assert!((1e-310f64.vlog() - 1e-310f64.ln()).abs() < 1e-12);
    }
}
