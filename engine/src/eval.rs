//! What each operation computes, on one point pair: the semantics every backend must agree with.
//!
//! `eval_op` is one exhaustive match over [`Op`]. The reference evaluator calls it in f64; the
//! CPU backend calls it for operations it has no vectorised loop for, and for the per-row values
//! it hoists out of the inner loop. Hand-computed expectations in `tests/op_semantics.rs` pin it down.

use crate::expr::Op;
use crate::real::Real;

#[inline(always)]
fn bc<T: Real>(a: &[T], k: usize) -> T {
    if a.len() == 1 {
        a[0]
    } else {
        a[k]
    }
}

/// Index of the largest (`greater = true`) or smallest component; the first one on ties, NaN wins.
fn arg_extreme<T: Real>(a: &[T], greater: bool) -> usize {
    let mut best = 0;
    for k in 1..a.len() {
        if a[best].is_nan() {
            break;
        }
        let better = if greater { a[k] > a[best] } else { a[k] < a[best] };
        if better || a[k].is_nan() {
            best = k;
        }
    }
    best
}

/// x rounded to a multiple of 1/s (`Round(x, d)` has s = 10^d). When 10^d overflows the type,
/// every value already has fewer than d decimals: x is its own rounding. When it underflows to
/// 0, the nearest multiple of 10^-d is 0 (sign and NaN kept).
pub fn round_to<T: Real>(x: T, s: T) -> T {
    if s.is_infinite() {
        return x;
    }
    if s == T::zero() {
        return x * T::zero();
    }
    // A product too large for T: x has no digit finer than 1/s to round away.
    let y = x * s;
    if y.is_infinite() {
        x
    } else {
        y.round() / s
    }
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * shape[k + 1];
    }
    s
}

/// Calls `f` with every multi-index of `shape`, last axis fastest.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut k = shape.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// Evaluates `op` on operand values `args` into `out` (of the node's dimension).
/// Variables are bound by the caller and never reach this function.
pub fn eval_op<T: Real>(op: &Op, args: &[&[T]], out: &mut [T]) {
    let zero = T::zero();
    match op {
        Op::Var { .. } => unreachable!("variables are bound by the caller"),
        Op::Const(bits) => out[0] = T::from_f64(f64::from_bits(*bits)),
        Op::IntCst(n) => out[0] = T::from_f64(*n as f64),
        Op::Zero(_) => out.fill(zero),
        Op::Unary(u) => {
            for (o, &x) in out.iter_mut().zip(args[0]) {
                *o = u.apply(x);
            }
        }
        Op::Binary(b) => {
            for (k, o) in out.iter_mut().enumerate() {
                *o = b.apply(bc(args[0], k), bc(args[1], k));
            }
        }
        Op::Pow(n) => {
            for (o, &x) in out.iter_mut().zip(args[0]) {
                *o = x.powi(*n);
            }
        }
        Op::Round(d) => {
            let s = T::from_f64(10f64.powi(*d));
            for (o, &x) in out.iter_mut().zip(args[0]) {
                *o = round_to(x, s);
            }
        }
        Op::ClampInt(a, b) => {
            let (a, b) = (T::from_f64(*a as f64), T::from_f64(*b as f64));
            for (o, &x) in out.iter_mut().zip(args[0]) {
                *o = if x < a {
                    a
                } else if x > b {
                    b
                } else {
                    x
                };
            }
        }
        Op::IfElse => {
            for (k, o) in out.iter_mut().enumerate() {
                let c = bc(args[0], k);
                *o = if c >= zero {
                    bc(args[1], k)
                } else if c.is_nan() {
                    c
                } else {
                    bc(args[2], k)
                };
            }
        }
        Op::Clamp => {
            for (k, o) in out.iter_mut().enumerate() {
                let (x, a, b) = (bc(args[0], k), bc(args[1], k), bc(args[2], k));
                *o = if x < a {
                    a
                } else if x > b {
                    b
                } else {
                    x
                };
            }
        }
        Op::Mod => {
            for (k, o) in out.iter_mut().enumerate() {
                let (x, m, off) = (bc(args[0], k), bc(args[1], k), bc(args[2], k));
                *o = x - m * ((x - off) / m).floor();
            }
        }
        Op::SqNorm2 => out[0] = args[0].iter().map(|&x| x * x).sum(),
        Op::Norm2 => out[0] = args[0].iter().map(|&x| x * x).sum::<T>().sqrt(),
        Op::Normalize => {
            let n2: T = args[0].iter().map(|&x| x * x).sum();
            let r = if n2 == zero { zero } else { n2.sqrt().recip() };
            for (o, &x) in out.iter_mut().zip(args[0]) {
                *o = x * r;
            }
        }
        Op::SqDist => out[0] = args[0].iter().zip(args[1]).map(|(&a, &b)| (a - b) * (a - b)).sum(),
        Op::Scalprod => out[0] = args[0].iter().zip(args[1]).map(|(&a, &b)| a * b).sum(),
        Op::WeightedSqNorm | Op::WeightedSqDist => {
            let g = args[0];
            let diff: Vec<T> = if let Op::WeightedSqDist = op {
                args[1].iter().zip(args[2]).map(|(&a, &b)| a - b).collect()
            } else {
                args[1].to_vec()
            };
            let n = diff.len();
            out[0] = if g.len() == 1 {
                g[0] * diff.iter().map(|&x| x * x).sum::<T>()
            } else if g.len() == n {
                diff.iter().zip(g).map(|(&x, &w)| w * x * x).sum()
            } else {
                let mut s = zero;
                for k in 0..n {
                    for l in 0..n {
                        s = s + diff[k] * g[k * n + l] * diff[l];
                    }
                }
                s
            };
        }
        Op::Sum => out[0] = args[0].iter().copied().sum(),
        Op::Max => out[0] = args[0][arg_extreme(args[0], true)],
        Op::Min => out[0] = args[0][arg_extreme(args[0], false)],
        Op::ArgMax => out[0] = T::from_f64(arg_extreme(args[0], true) as f64),
        Op::ArgMin => out[0] = T::from_f64(arg_extreme(args[0], false) as f64),
        Op::Elem(m) => out[0] = args[0][*m],
        Op::ElemT { index, .. } => {
            out.fill(zero);
            out[*index] = args[0][0];
        }
        Op::Extract { start, len } => out.copy_from_slice(&args[0][*start..start + len]),
        Op::ExtractT { start, .. } => {
            out.fill(zero);
            out[*start..start + args[0].len()].copy_from_slice(args[0]);
        }
        Op::Concat => {
            let n = args[0].len();
            out[..n].copy_from_slice(args[0]);
            out[n..].copy_from_slice(args[1]);
        }
        Op::OneHot(_) => {
            out.fill(zero);
            let r = args[0][0].round();
            if r >= zero && r.as_f64() < out.len() as f64 {
                out[r.as_f64() as usize] = T::one();
            }
        }
        Op::MatVecMult => {
            let m = args[1].len();
            for (i, o) in out.iter_mut().enumerate() {
                *o = (0..m).map(|k| args[0][i * m + k] * args[1][k]).sum();
            }
        }
        Op::VecMatMult => {
            let m = out.len();
            for (j, o) in out.iter_mut().enumerate() {
                *o = args[0].iter().enumerate().map(|(k, &v)| v * args[1][k * m + j]).sum();
            }
        }
        Op::TensorProd => {
            let nb = args[1].len();
            for (i, &a) in args[0].iter().enumerate() {
                for (j, &b) in args[1].iter().enumerate() {
                    out[i * nb + j] = a * b;
                }
            }
        }
        Op::Kron { a, b } => {
            let shape: Vec<usize> = a.iter().zip(b).map(|(x, y)| x * y).collect();
            let (sa, sb, so) = (strides(a), strides(b), strides(&shape));
            for_each_index(a, |ia| {
                let va = args[0][ia.iter().zip(&sa).map(|(i, s)| i * s).sum::<usize>()];
                for_each_index(b, |ib| {
                    let vb = args[1][ib.iter().zip(&sb).map(|(i, s)| i * s).sum::<usize>()];
                    let o: usize = (0..a.len()).map(|k| (ia[k] * b[k] + ib[k]) * so[k]).sum();
                    out[o] = va * vb;
                });
            });
        }
        Op::TensorDot { a, b, ca, cb } => {
            let (sa, sb) = (strides(a), strides(b));
            let free_a: Vec<usize> = (0..a.len()).filter(|k| !ca.contains(k)).collect();
            let free_b: Vec<usize> = (0..b.len()).filter(|k| !cb.contains(k)).collect();
            let fshape: Vec<usize> = free_a.iter().map(|&k| a[k]).chain(free_b.iter().map(|&k| b[k])).collect();
            let cshape: Vec<usize> = ca.iter().map(|&k| a[k]).collect();
            let mut o = 0;
            for_each_index(&fshape, |fi| {
                let mut base_a = 0;
                let mut base_b = 0;
                for (n, &k) in free_a.iter().enumerate() {
                    base_a += fi[n] * sa[k];
                }
                for (n, &k) in free_b.iter().enumerate() {
                    base_b += fi[free_a.len() + n] * sb[k];
                }
                let mut s = zero;
                for_each_index(&cshape, |ci| {
                    let ia: usize = ci.iter().zip(ca).map(|(i, &k)| i * sa[k]).sum();
                    let ib: usize = ci.iter().zip(cb).map(|(i, &k)| i * sb[k]).sum();
                    s = s + args[0][base_a + ia] * args[1][base_b + ib];
                });
                out[o] = s;
                o += 1;
            });
            if fshape.is_empty() {
                // A full contraction has one output, which the empty index loop above did write.
                debug_assert_eq!(o, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_to;

    #[test]
    fn rounding_to_decimals_beyond_the_type() {
        assert_eq!(round_to(1.26f64, 10.0), 1.3);
        // 10^40 overflows float32; 10^37 fits but 10^5 · 10^37 does not: x stays as it is.
        assert_eq!(round_to(0.1f32, f32::INFINITY), 0.1);
        assert_eq!(round_to(1e5f32, 1e37), 1e5);
        assert_eq!(round_to(-3.5f64, 0.0).to_bits(), (-0.0f64).to_bits());
        assert!(round_to(f64::NAN, 1e3).is_nan());
        assert_eq!(round_to(f64::INFINITY, 1e3), f64::INFINITY);
    }
}
