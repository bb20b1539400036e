//! The lane kernels: each program step run over a tile of `L` points, one vectorisable loop per op.
//!
//! A value of dimension D occupies D consecutive register rows of `L` lanes, so every component
//! is a contiguous array and elementwise ops are plain loops over fixed-size arrays, which LLVM
//! vectorises (the functions are `#[inline(always)]` so that they are compiled inside the
//! `#[target_feature]` entry points of `mod.rs`).

use super::program::{Kernel, LStep, Program, Src, L};
use crate::eval::eval_op;
use crate::expr::MAX_ARITY;
use crate::real::Real;

/// One component of `L` lanes, aligned for full-width vector loads.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Lanes<T>(pub [T; L]);

impl<T: Real> Lanes<T> {
    pub fn splat(x: T) -> Self {
        Lanes([x; L])
    }
}

/// The lanes of consecutive rows as one flat slice.
#[inline(always)]
pub fn flat<T>(rows: &[Lanes<T>]) -> &[T] {
    // Lanes<T> is repr(C) over [T; L] with no padding (L·size_of::<T>() is a multiple of 64).
    unsafe { std::slice::from_raw_parts(rows.as_ptr() as *const T, rows.len() * L) }
}

#[inline(always)]
pub fn flat_mut<T>(rows: &mut [Lanes<T>]) -> &mut [T] {
    unsafe { std::slice::from_raw_parts_mut(rows.as_mut_ptr() as *mut T, rows.len() * L) }
}

/// The reduced side's variables of one call, transposed into tiles of `L` points: tile t holds
/// every component of every variable, `tiles[t * width + k]` being component k (counted over
/// the variables in the plan's order). Lanes past the last point are zero. The JIT reads the
/// same layout.
pub struct InnerData<T> {
    pub width: usize,
    pub tiles: Vec<Lanes<T>>,
}

/// An operand of a step, resolved for the current tile.
enum Arg<'a, T> {
    U(&'a [T]),
    L(&'a [Lanes<T>]),
}

/// Everything a tile needs: the register file, the row's uniform buffer and the inner tiles.
pub struct TileCtx<'a, T> {
    pub regs: &'a mut [Lanes<T>],
    pub ubuf: &'a [T],
    pub inner: &'a InnerData<T>,
    /// Per-lane operands and result of `Generic` steps, allocated once per block of rows.
    pub scratch: &'a mut Vec<T>,
}

impl<T: Real> TileCtx<'_, T> {
    /// Copies the row's uniform values that lane steps read as lanes into their register rows.
    #[inline(always)]
    pub fn broadcast(&mut self, prog: &Program) {
        for &(off, dim, row) in &prog.broadcasts {
            for k in 0..dim {
                self.regs[row + k] = Lanes::splat(self.ubuf[off + k]);
            }
        }
    }

    /// The rows of a source, for tile `t`. Safe to hold while writing a step's output because a
    /// step's output rows are never any of its operands' rows (each node has rows of its own).
    #[inline(always)]
    fn rows(&self, src: Src, dim: usize, t: usize) -> &[Lanes<T>] {
        match src {
            Src::R(r) => unsafe { std::slice::from_raw_parts(self.regs.as_ptr().add(r), dim) },
            Src::In(k) => &self.inner.tiles[t * self.inner.width + k..][..dim],
            Src::U(_) => unreachable!("uniform operands are resolved by `arg`"),
        }
    }

    #[inline(always)]
    fn arg(&self, a: (Src, usize), t: usize) -> Arg<'_, T> {
        match a.0 {
            Src::U(off) => Arg::U(&self.ubuf[off..off + a.1]),
            s => Arg::L(self.rows(s, a.1, t)),
        }
    }

    /// The values of a root for tile `t`.
    #[inline(always)]
    pub fn root(&self, root: (Src, usize), t: usize) -> &[Lanes<T>] {
        self.rows(root.0, root.1, t)
    }

    /// Runs every lane step of the program on tile `t`.
    #[inline(always)]
    pub fn run_tile(&mut self, prog: &Program, t: usize) {
        // The scratch leaves `self` for the duration, so that steps can read `self` while using it.
        let mut scratch = std::mem::take(self.scratch);
        for step in &prog.lane {
            // The output rows are disjoint from every operand (see `rows`), so the operands can
            // be read through shared slices while the output is written.
            let out: &mut [Lanes<T>] =
                unsafe { std::slice::from_raw_parts_mut(self.regs.as_mut_ptr().add(step.out), step.dim) };
            self.run_step(step, t, out, &mut scratch);
        }
        *self.scratch = scratch;
    }

    #[inline(always)]
    fn run_step(&self, step: &LStep, t: usize, out: &mut [Lanes<T>], scratch: &mut Vec<T>) {
        let a = |k: usize| self.arg(step.args[k], t);
        let lanes = |k: usize| match self.arg(step.args[k], t) {
            Arg::L(x) => x,
            Arg::U(_) => unreachable!("the compiler broadcasts uniform operands of this kernel"),
        };
        match &step.kernel {
            Kernel::Unary(u) => u.map_slice(flat(lanes(0)), flat_mut(out)),
            Kernel::Binary(b) => match (a(0), a(1)) {
                (Arg::L(x), Arg::L(y)) if x.len() == y.len() => b.map_slices(flat(x), flat(y), flat_mut(out)),
                (Arg::L(x), Arg::L(y)) => {
                    for (k, o) in out.iter_mut().enumerate() {
                        let xk = &x[if x.len() == 1 { 0 } else { k }];
                        let yk = &y[if y.len() == 1 { 0 } else { k }];
                        b.map_slices(&xk.0, &yk.0, &mut o.0);
                    }
                }
                (Arg::L(x), Arg::U(y)) => {
                    for (k, o) in out.iter_mut().enumerate() {
                        let xk = &x[if x.len() == 1 { 0 } else { k }];
                        b.map_slice_scalar(&xk.0, y[if y.len() == 1 { 0 } else { k }], &mut o.0);
                    }
                }
                (Arg::U(x), Arg::L(y)) => {
                    for (k, o) in out.iter_mut().enumerate() {
                        let yk = &y[if y.len() == 1 { 0 } else { k }];
                        b.map_scalar_slice(x[if x.len() == 1 { 0 } else { k }], &yk.0, &mut o.0);
                    }
                }
                (Arg::U(_), Arg::U(_)) => unreachable!("a node with two uniform operands is uniform"),
            },
            Kernel::Pow(n) => pow_lanes(flat(lanes(0)), *n, flat_mut(out)),
            Kernel::SqDist => pair_sum(a(0), a(1), &mut out[0], |x, y| (x - y) * (x - y)),
            Kernel::Scalprod => pair_sum(a(0), a(1), &mut out[0], |x, y| x * y),
            Kernel::SqNorm2 | Kernel::Norm2 | Kernel::Sum => {
                let x = lanes(0);
                let o = &mut out[0].0;
                *o = [T::zero(); L];
                for xk in x {
                    for l in 0..L {
                        o[l] = o[l] + if let Kernel::Sum = step.kernel { xk.0[l] } else { xk.0[l] * xk.0[l] };
                    }
                }
                if let Kernel::Norm2 = step.kernel {
                    for v in o.iter_mut() {
                        *v = v.sqrt();
                    }
                }
            }
            Kernel::Slice { start } => out.copy_from_slice(&lanes(0)[*start..start + step.dim]),
            Kernel::Place { start } => {
                let x = lanes(0);
                out.fill(Lanes::splat(T::zero()));
                out[*start..start + x.len()].copy_from_slice(x);
            }
            Kernel::Concat => {
                let (x, y) = (lanes(0), lanes(1));
                out[..x.len()].copy_from_slice(x);
                out[x.len()..].copy_from_slice(y);
            }
            Kernel::IfElse | Kernel::Clamp => {
                let (c, x, y) = (lanes(0), lanes(1), lanes(2));
                let pick = |v: &[Lanes<T>], k: usize| if v.len() == 1 { 0 } else { k };
                for (k, o) in out.iter_mut().enumerate() {
                    let (ck, xk, yk) = (&c[pick(c, k)].0, &x[pick(x, k)].0, &y[pick(y, k)].0);
                    if let Kernel::IfElse = step.kernel {
                        for l in 0..L {
                            o.0[l] = if ck[l] >= T::zero() {
                                xk[l]
                            } else if ck[l].is_nan() {
                                ck[l]
                            } else {
                                yk[l]
                            };
                        }
                    } else {
                        for l in 0..L {
                            let v = ck[l];
                            o.0[l] = if v < xk[l] {
                                xk[l]
                            } else if v > yk[l] {
                                yk[l]
                            } else {
                                v
                            };
                        }
                    }
                }
            }
            Kernel::Generic(op) => self.generic(op, step, t, out, scratch),
        }
    }

    /// Evaluates an op without a vectorised kernel lane by lane, through `eval_op`. Ops have at
    /// most `MAX_ARITY` operands, so their slices live in fixed arrays: nothing is allocated per tile.
    fn generic(&self, op: &crate::expr::Op, step: &LStep, t: usize, out: &mut [Lanes<T>], scratch: &mut Vec<T>) {
        let n = step.args.len();
        let mut args: [&[Lanes<T>]; MAX_ARITY] = [&[]; MAX_ARITY];
        for (k, a) in args.iter_mut().enumerate().take(n) {
            *a = match self.arg(step.args[k], t) {
                Arg::L(x) => x,
                Arg::U(_) => unreachable!("the compiler broadcasts uniform operands of generic steps"),
            };
        }
        let total: usize = args[..n].iter().map(|a| a.len()).sum();
        scratch.resize(total + step.dim, T::zero());
        let (ins, res) = scratch.split_at_mut(total);
        for l in 0..L {
            let mut off = 0;
            for a in &args[..n] {
                for (k, row) in a.iter().enumerate() {
                    ins[off + k] = row.0[l];
                }
                off += a.len();
            }
            let mut slices: [&[T]; MAX_ARITY] = [&[]; MAX_ARITY];
            let mut off = 0;
            for (s, a) in slices.iter_mut().zip(&args[..n]) {
                *s = &ins[off..off + a.len()];
                off += a.len();
            }
            eval_op(op, &slices[..n], res);
            for (k, o) in out.iter_mut().enumerate() {
                o.0[l] = res[k];
            }
        }
    }
}

/// Σ_k f(x_k, y_k) over components, for lanes or a uniform operand on either side.
#[inline(always)]
fn pair_sum<T: Real>(x: Arg<'_, T>, y: Arg<'_, T>, out: &mut Lanes<T>, f: impl Fn(T, T) -> T) {
    let o = &mut out.0;
    *o = [T::zero(); L];
    match (x, y) {
        (Arg::L(x), Arg::L(y)) => {
            for (xk, yk) in x.iter().zip(y) {
                for l in 0..L {
                    o[l] = o[l] + f(xk.0[l], yk.0[l]);
                }
            }
        }
        (Arg::U(u), Arg::L(v)) | (Arg::L(v), Arg::U(u)) => {
            // Both kernels using this are symmetric in their operands.
            for (&uk, vk) in u.iter().zip(v) {
                for l in 0..L {
                    o[l] = o[l] + f(uk, vk.0[l]);
                }
            }
        }
        (Arg::U(_), Arg::U(_)) => unreachable!("a node with two uniform operands is uniform"),
    }
}

/// x^n: direct loops for the common small exponents, else repeated squaring, one vectorised
/// pass per bit of |n|.
#[inline(always)]
fn pow_lanes<T: Real>(x: &[T], n: i32, out: &mut [T]) {
    match n {
        0 => return out.fill(T::one()),
        1 => return out.copy_from_slice(x),
        2 => return out.iter_mut().zip(x).for_each(|(o, &v)| *o = v * v),
        3 => return out.iter_mut().zip(x).for_each(|(o, &v)| *o = v * v * v),
        -1 => return out.iter_mut().zip(x).for_each(|(o, &v)| *o = v.recip()),
        -2 => return out.iter_mut().zip(x).for_each(|(o, &v)| *o = (v * v).recip()),
        _ => {}
    }
    out.fill(T::one());
    let mut base: Vec<T> = x.to_vec();
    let mut e = n.unsigned_abs();
    while e > 0 {
        if e & 1 == 1 {
            for (o, &b) in out.iter_mut().zip(&base) {
                *o = *o * b;
            }
        }
        e >>= 1;
        if e > 0 {
            for b in base.iter_mut() {
                *b = *b * *b;
            }
        }
    }
    if n < 0 {
        for o in out.iter_mut() {
            *o = o.recip();
        }
    }
}
