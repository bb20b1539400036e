//! Vector code for exp and log: the algorithms of `real.rs`, written as JIT instructions.
//!
//! exp: x clamped (NaN kept), x = n·ln2 + r with n = round(x/ln2), exp(r) by a polynomial, then
//! scaled by 2ⁿ — with `vscalef` on AVX-512 (exact for subnormal results and overflow), or by
//! building 2^(n/2) twice from the exponent bits on AVX2. log: x = 2ᵉ·m, m in [√½, √2), the
//! polynomial of `real.rs` in m − 1 (f32) or in atanh form (f64); zero, negative, infinite and
//! NaN inputs are selected at the end. Results agree with `real.rs` within an ulp or two.

use super::vir::{Bin, Code, Int, MaskOp, Pred, RoundMode, Src, Un};
use super::{Elem, Isa, Pool};

/// exp(x).
pub fn exp(c: &mut Code, pool: &mut Pool, elem: Elem, isa: Isa, x: Src) -> Src {
    let (lo, hi) = match elem {
        // Past these bounds the result is 0 or inf anyway; inside, 2ⁿ stays representable.
        Elem::F32 => (-104.0, 89.0),
        Elem::F64 => (-746.0, 710.0),
    };
    // max/min return their second operand when either is NaN: x goes second to keep a NaN.
    let x = c.bin(Bin::Max, pool.f(lo), x);
    let x = c.bin(Bin::Min, pool.f(hi), x);
    exp_core(c, pool, elem, isa, x)
}

/// exp(x) for x ≤ 0 (NaN kept), except that it is 0 where exp(x) would be below the smallest
/// normal number. x86 computes each subnormal result or operand through a microcode assist,
/// about a hundred cycles, so a fold that meets many of them (the far pairs of a Sinkhorn
/// iteration at a small ε) runs several times slower; callers use this only where such a term
/// lies far below the last bit of what it is added to (a sum that holds a term 1).
pub fn exp_nonpositive_normal(c: &mut Code, pool: &mut Pool, elem: Elem, isa: Isa, x: Src) -> Src {
    let cut = match elem {
        // Above ln(smallest normal) (−87.34 and −708.40), so that exp(cut) is normal.
        Elem::F32 => -87.0,
        Elem::F64 => -708.0,
    };
    let tiny = c.cmp(Pred::Lt, x, pool.f(cut));
    let x = c.bin(Bin::Max, pool.f(cut), x);
    let e = exp_core(c, pool, elem, isa, x);
    c.blend(tiny, pool.f(0.0), e)
}

/// exp(x) for x within the clamping bounds of [`exp`].
fn exp_core(c: &mut Code, pool: &mut Pool, elem: Elem, isa: Isa, x: Src) -> Src {
    if isa == Isa::Avx512 {
        let t = c.bin(Bin::Mul, x, pool.f(std::f64::consts::LOG2_E));
        let n = c.un(Un::Round(RoundMode::Nearest), t);
        let r = reduce(c, pool, elem, x, n);
        let p = poly(c, pool, elem, r);
        return c.bin(Bin::Scalef, p, n);
    }
    // AVX2: n = round(x/ln2) through the magic-number addition, which also leaves n in the low
    // bits of t.
    let magic = pool.f(magic(elem));
    let t = c.fma(x, pool.f(std::f64::consts::LOG2_E), magic);
    let n = c.bin(Bin::Sub, t, magic);
    let r = reduce(c, pool, elem, x, n);
    let p = poly(c, pool, elem, r);
    let k = c.int(Int::Sub, t, magic);
    // 2^k as 2^(k/2)·2^(k − k/2): both factors stay normal from subnormal results up to overflow.
    let (bias, shift) = match elem {
        Elem::F32 => (127, 23),
        Elem::F64 => (1023, 52),
    };
    let k1 = half(c, pool, elem, k);
    let k2 = c.int(Int::Sub, k, k1);
    let e1 = c.int(Int::Add, k1, pool.int(bias));
    let e2 = c.int(Int::Add, k2, pool.int(bias));
    let f1 = c.un(Un::Shl(shift), e1);
    let f2 = c.un(Un::Shl(shift), e2);
    let y = c.bin(Bin::Mul, p, f1);
    c.bin(Bin::Mul, y, f2)
}

/// ⌊k/2⌋ of integer lanes: an arithmetic shift, which AVX2 lacks for 64-bit lanes, so it is
/// done through the float value there (k fits a double exactly).
fn half(c: &mut Code, pool: &mut Pool, elem: Elem, k: Src) -> Src {
    match elem {
        Elem::F32 => c.un(Un::Sar(1), k),
        Elem::F64 => {
            // k is also n (an exact integer in float), so ⌊n/2⌋ as a float, back to bits by the
            // magic-number addition.
            let magic = pool.f(magic(elem));
            let kf = c.int(Int::Add, k, magic);
            let nf = c.bin(Bin::Sub, kf, magic);
            let h = c.bin(Bin::Mul, nf, pool.f(0.5));
            let h = c.un(Un::Round(RoundMode::Floor), h);
            let hb = c.bin(Bin::Add, h, magic);
            c.int(Int::Sub, hb, magic)
        }
    }
}

/// 1.5·2^(mantissa bits): adding it rounds to an integer kept in the low bits.
fn magic(elem: Elem) -> f64 {
    match elem {
        Elem::F32 => 12582912.0,
        Elem::F64 => 6755399441055744.0,
    }
}

/// r = x − n·ln2 in two parts (Cody–Waite), as `real.rs`.
fn reduce(c: &mut Code, pool: &mut Pool, elem: Elem, x: Src, n: Src) -> Src {
    match elem {
        Elem::F32 => {
            let r = c.fnma(n, pool.f(0.693_359_4), x);
            c.fma(n, pool.f(2.121_944_4e-4), r)
        }
        Elem::F64 => {
            let r = c.fnma(n, pool.f(0.693_145_751_953_125), x);
            c.fnma(n, pool.f(1.428_606_820_309_417_3e-6), r)
        }
    }
}

/// exp(r) for |r| ≤ ln2/2, as `real.rs`.
fn poly(c: &mut Code, pool: &mut Pool, elem: Elem, r: Src) -> Src {
    match elem {
        Elem::F32 => {
            let mut p = c.fma(pool.f(1.987_569_1e-4), r, pool.f(1.398_199_9e-3));
            for k in [8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5e-1] {
                p = c.fma(p, r, pool.f(k));
            }
            let pr = c.bin(Bin::Mul, p, r);
            let p = c.fma(pr, r, r);
            c.bin(Bin::Add, p, pool.f(1.0))
        }
        Elem::F64 => {
            // Taylor series to degree 13, Horner.
            let mut fact = 6227020800.0;
            let mut p = pool.f(1.0 / fact);
            for k in (0..13).rev() {
                fact /= (k + 1) as f64;
                p = c.fma(p, r, pool.f(1.0 / fact));
            }
            p
        }
    }
}

/// ln(x).
pub fn log(c: &mut Code, pool: &mut Pool, elem: Elem, isa: Isa, x: Src) -> Src {
    let (e, m) = match isa {
        Isa::Avx512 => {
            // getexp/getmant handle subnormals: x = 2ᵉ·m with m in [1, 2); then m in [√½, √2).
            let e = c.un(Un::GetExp, x);
            let m = c.un(Un::GetMant, x);
            let big = c.cmp(Pred::Gt, m, pool.f(std::f64::consts::SQRT_2));
            let half = c.bin(Bin::Mul, m, pool.f(0.5));
            let m = c.blend(big, half, m);
            let e1 = c.bin(Bin::Add, e, pool.f(1.0));
            let e = c.blend(big, e1, e);
            (e, m)
        }
        Isa::Avx2 => {
            // The exponent bits, with subnormals first scaled into the normal range.
            let (tiny, scale, bits, bias, mant, one_half) = match elem {
                Elem::F32 => (f32::MIN_POSITIVE as f64, 8388608.0, 23u8, 127.0, 0x007f_ffffu64, 0x3f80_0000u64),
                Elem::F64 => {
                    (f64::MIN_POSITIVE, 4503599627370496.0, 52u8, 1023.0, 0x000f_ffff_ffff_ffff, 0x3ff0_0000_0000_0000)
                }
            };
            let sub = c.cmp(Pred::Lt, x, pool.f(tiny));
            let xs = c.bin(Bin::Mul, x, pool.f(scale));
            let xs = c.blend(sub, xs, x);
            // m in [1, 2): the mantissa bits with the exponent of 1.
            let mb = c.bin(Bin::And, xs, pool.bits(mant));
            let m = c.bin(Bin::Or, mb, pool.bits(one_half));
            // e: the biased exponent as an integer, converted; minus the bias and the scaling.
            let eb = c.un(Un::Shr(bits), xs);
            let ef = int_to_float(c, pool, elem, eb);
            let e = c.bin(Bin::Sub, ef, pool.f(bias));
            let adj = c.bin(Bin::Sub, e, pool.f(bits as f64));
            let e = c.blend(sub, adj, e);
            let big = c.cmp(Pred::Gt, m, pool.f(std::f64::consts::SQRT_2));
            let half = c.bin(Bin::Mul, m, pool.f(0.5));
            let m = c.blend(big, half, m);
            let e1 = c.bin(Bin::Add, e, pool.f(1.0));
            let e = c.blend(big, e1, e);
            (e, m)
        }
    };
    let r = match elem {
        Elem::F32 => {
            // cephes' logf on f = m − 1, as `real.rs`.
            let f = c.bin(Bin::Sub, m, pool.f(1.0));
            let z = c.bin(Bin::Mul, f, f);
            let mut y = c.fma(pool.f(7.037_683_6e-2), f, pool.f(-1.151_461e-1));
            for k in [
                1.167_699_9e-1,
                -1.242_014_1e-1,
                1.424_932_3e-1,
                -1.666_805_8e-1,
                2.000_071_4e-1,
                -2.499_999_4e-1,
                3.333_333e-1,
            ] {
                y = c.fma(y, f, pool.f(k));
            }
            let yf = c.bin(Bin::Mul, y, f);
            let y = c.bin(Bin::Mul, yf, z);
            let y = c.fma(e, pool.f(-2.121_944_4e-4), y);
            let y = c.fnma(z, pool.f(0.5), y);
            let fy = c.bin(Bin::Add, f, y);
            c.fma(e, pool.f(0.693_359_4), fy)
        }
        Elem::F64 => {
            // ln m = 2 atanh(s), s = (m − 1)/(m + 1), odd series to s²³, as `real.rs`.
            let num = c.bin(Bin::Sub, m, pool.f(1.0));
            let den = c.bin(Bin::Add, m, pool.f(1.0));
            let s = c.bin(Bin::Div, num, den);
            let s2 = c.bin(Bin::Mul, s, s);
            let mut p = c.fma(pool.f(1.0 / 23.0), s2, pool.f(1.0 / 21.0));
            for k in (1..=9).rev() {
                p = c.fma(p, s2, pool.f(1.0 / (2 * k + 1) as f64));
            }
            p = c.fma(p, s2, pool.f(1.0));
            let s2p = c.bin(Bin::Mul, s, p);
            let two = c.bin(Bin::Add, s2p, s2p);
            c.fma(e, pool.f(std::f64::consts::LN_2), two)
        }
    };
    // Special inputs: log 0 = −inf, log(+inf) = +inf, log of a negative number or NaN = NaN.
    let zero = c.cmp(Pred::Eq, x, pool.f(0.0));
    let r = c.blend(zero, pool.f(f64::NEG_INFINITY), r);
    let inf = c.cmp(Pred::Eq, x, pool.f(f64::INFINITY));
    let r = c.blend(inf, x, r);
    let neg = c.cmp(Pred::Lt, x, pool.f(0.0));
    let nan = c.cmp(Pred::Unord, x, x);
    let bad = c.mask(MaskOp::Or, neg, nan);
    c.blend(bad, pool.f(f64::NAN), r)
}

/// Integer lanes (non-negative, below 2⁵¹) to floats: directly for 32-bit lanes, through the
/// magic-number addition for 64-bit ones (AVX2 has no such conversion).
fn int_to_float(c: &mut Code, pool: &mut Pool, elem: Elem, i: Src) -> Src {
    match elem {
        Elem::F32 => c.un(Un::IntToFloat, i),
        Elem::F64 => {
            let magic = pool.f(magic(elem));
            let b = c.int(Int::Add, i, magic);
            c.bin(Bin::Sub, b, magic)
        }
    }
}
