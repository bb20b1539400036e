//! The CPU backend: rayon over blocks of output rows, tiles of the reduced index, SIMD chosen at run time.
//!
//! Loop nest, per block of `OB` output rows (one rayon task):
//! for each block of `TPB` tiles of the reduced index, for each row, for each tile: run the
//! lane program, fold the values into the row's accumulators; at the end of a tile block,
//! lane sums move into the row totals (the block sum scheme). The tiles of a tile block stay in
//! L1 while every row of the row block visits them. Memory is O(N + M).
//!
//! The whole nest is one generic function compiled three times: for AVX-512, for AVX2+FMA and
//! for the x86-64 baseline, the first that the CPU supports being used.

// Lane loops index fixed-size arrays by position on purpose: that is the form LLVM vectorises.
#![allow(clippy::needless_range_loop)]

pub mod fold;
pub mod lanes;
pub mod program;

use crate::error::{Error, Result};
use crate::expr::Cat;
use crate::genred::{Options, Reduce};
use crate::real::{DType, Real};
use fold::Folder;
use lanes::{InnerData, Lanes, TileCtx};
use ndarray::{Array2, ArrayView2};
use program::{Program, UStep, L};
use rayon::prelude::*;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

/// Output rows per rayon task.
const OB: usize = 32;
/// Tiles per block of the reduced index (the block sum scheme's block is TPB·L points).
const TPB: usize = 16;

/// The instruction sets the CPU backend is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    Portable,
    Avx2,
    Avx512,
}

impl SimdLevel {
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2+fma",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The best level this CPU supports; `NOYAU_SIMD=portable|avx2|avx512` caps it.
    pub fn detect() -> SimdLevel {
        static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let best = detect_cpu();
            let cap = match std::env::var("NOYAU_SIMD").as_deref() {
                Ok("portable") => SimdLevel::Portable,
                Ok("avx2") => SimdLevel::Avx2,
                _ => SimdLevel::Avx512,
            };
            if (cap as u8) < (best as u8) {
                cap
            } else {
                best
            }
        })
    }

    /// The levels this CPU can run, for tests that compare them.
    pub fn available() -> Vec<SimdLevel> {
        let best = detect_cpu();
        [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|l| *l as u8 <= best as u8)
            .collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_cpu() -> SimdLevel {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("fma")
    {
        SimdLevel::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        SimdLevel::Avx2
    } else {
        SimdLevel::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_cpu() -> SimdLevel {
    SimdLevel::Portable
}

/// What every task of one call shares.
struct Shared<'a, T> {
    prog: &'a Program,
    folder: Folder,
    inputs: &'a [ArrayView2<'a, T>],
    inner: Vec<InnerData<T>>,
    n_in: usize,
    out_dim: usize,
    outer_cat: Cat,
}

/// Runs a checked reduction on the CPU (`n_out` output rows, `n_in` reduced points).
pub fn reduce<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
) -> Result<Array2<T>> {
    reduce_with(spec, inputs, n_out, n_in, opts, SimdLevel::detect())
}

/// [`reduce`] at a given SIMD level (which the CPU must support: see [`SimdLevel::available`]).
pub fn reduce_with<T: Real>(
    spec: &Reduce,
    inputs: &[ArrayView2<T>],
    n_out: usize,
    n_in: usize,
    opts: &Options,
    level: SimdLevel,
) -> Result<Array2<T>> {
    if level as u8 > detect_cpu() as u8 {
        return Err(Error::Backend { backend: "cpu".into(), msg: format!("this CPU cannot run {}", level.name()) });
    }
    let prog = program::cached(spec);
    let out_dim = spec.out_dim;
    let d = spec.formula.dim();
    let folder = Folder {
        reduction: spec.reduction,
        scheme: opts.sum_scheme,
        d,
        e: spec.weight.as_ref().map(|w| w.dim()).unwrap_or(1),
    };
    let mut out = vec![T::zero(); n_out * out_dim];
    if n_in == 0 {
        let empty = spec.reduction.empty_output(d, out_dim);
        for row in out.chunks_mut(out_dim.max(1)) {
            for (o, v) in row.iter_mut().zip(&empty) {
                *o = T::from_f64(*v);
            }
        }
        return Array2::from_shape_vec((n_out, out_dim), out).map_err(|e| Error::Data(e.to_string()));
    }
    let shared = Shared {
        inner: prog.inner_args.iter().map(|&(arg, dim)| transpose(inputs[arg], dim, n_in)).collect(),
        prog: &prog,
        folder,
        inputs,
        n_in,
        out_dim,
        outer_cat: spec.axis.outer(),
    };
    let f64_acc = opts.accumulate_f64 && T::DTYPE == DType::F32;
    let cancel = opts.cancel.clone();
    let cancelled = || cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    let progress = crate::progress::Reporter::new(opts.progress.as_ref(), "reduction", n_out as u64);
    if out_dim > 0 {
        let result = out.par_chunks_mut(OB * out_dim).enumerate().try_for_each(|(b, chunk)| -> Result<()> {
            if cancelled() {
                return Err(Error::Interrupted);
            }
            let row0 = b * OB;
            // SAFETY: `level` was checked against the running CPU above.
            unsafe {
                match (level, f64_acc) {
                    (SimdLevel::Avx512, false) => block_avx512::<T, T>(&shared, row0, chunk, &cancelled),
                    (SimdLevel::Avx512, true) => block_avx512::<T, f64>(&shared, row0, chunk, &cancelled),
                    (SimdLevel::Avx2, false) => block_avx2::<T, T>(&shared, row0, chunk, &cancelled),
                    (SimdLevel::Avx2, true) => block_avx2::<T, f64>(&shared, row0, chunk, &cancelled),
                    (SimdLevel::Portable, false) => block::<T, T>(&shared, row0, chunk, &cancelled),
                    (SimdLevel::Portable, true) => block::<T, f64>(&shared, row0, chunk, &cancelled),
                }
            }?;
            progress.advance((chunk.len() / out_dim) as u64);
            Ok(())
        });
        progress.finish();
        result?;
    }
    Array2::from_shape_vec((n_out, out_dim), out).map_err(|e| Error::Data(e.to_string()))
}

/// Transposes a reduced-over variable into tiles of `L` lanes, zero-padded.
fn transpose<T: Real>(a: ArrayView2<T>, dim: usize, n: usize) -> InnerData<T> {
    let ntiles = n.div_ceil(L);
    let mut tiles = vec![Lanes::splat(T::zero()); ntiles * dim];
    for (j, row) in a.outer_iter().enumerate() {
        let (t, l) = (j / L, j % L);
        for (k, &x) in row.iter().enumerate() {
            tiles[t * dim + k].0[l] = x;
        }
    }
    InnerData { dim, tiles }
}

/// Computes the uniform buffer of output row `r`.
fn eval_uniform<T: Real>(s: &Shared<T>, r: usize, ubuf: &mut [T]) {
    for step in &s.prog.uniform {
        match step {
            UStep::Load { arg, cat, out, dim } => {
                let row = if *cat == s.outer_cat { r } else { 0 };
                for k in 0..*dim {
                    ubuf[out + k] = s.inputs[*arg][[row, k]];
                }
            }
            UStep::Eval { op, args, out, dim } => {
                // Operands are always allocated before their node, so they lie before `out`.
                let (done, rest) = ubuf.split_at_mut(*out);
                let a: Vec<&[T]> = args.iter().map(|&(o, d)| &done[o..o + d]).collect();
                crate::eval::eval_op(op, &a, &mut rest[..*dim]);
            }
        }
    }
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))]
unsafe fn block_avx512<T: Real, A: Real>(
    s: &Shared<T>,
    row0: usize,
    out: &mut [T],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    block::<T, A>(s, row0, out, cancelled)
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn block_avx2<T: Real, A: Real>(
    s: &Shared<T>,
    row0: usize,
    out: &mut [T],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    block::<T, A>(s, row0, out, cancelled)
}

/// One block of output rows; inlined into each SIMD entry point.
#[inline(always)]
fn block<T: Real, A: Real>(s: &Shared<T>, row0: usize, out: &mut [T], cancelled: &dyn Fn() -> bool) -> Result<()> {
    let prog = s.prog;
    let nrows = out.len() / s.out_dim;
    let mut ubuf = vec![T::zero(); nrows * prog.ulen];
    for r in 0..nrows {
        eval_uniform(s, row0 + r, &mut ubuf[r * prog.ulen..(r + 1) * prog.ulen]);
    }
    let mut regs = vec![Lanes::splat(T::zero()); prog.nrows];
    let mut scratch = Vec::new();
    let mut accs: Vec<_> = (0..nrows).map(|_| s.folder.new_row::<T, A>()).collect();
    let ntiles = s.n_in.div_ceil(L);
    for tb in (0..ntiles).step_by(TPB) {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        for (r, acc) in accs.iter_mut().enumerate() {
            let ubuf = &ubuf[r * prog.ulen..(r + 1) * prog.ulen];
            let mut ctx = TileCtx { regs: &mut regs, ubuf, inner: &s.inner, scratch: &mut scratch };
            ctx.broadcast(prog);
            for t in tb..(tb + TPB).min(ntiles) {
                ctx.run_tile(prog, t);
                let len = (s.n_in - t * L).min(L);
                let f = ctx.root(prog.roots[0], t);
                let w = prog.roots.get(1).map(|&w| ctx.root(w, t));
                s.folder.fold_tile(acc, f, w, len, t * L);
            }
            s.folder.end_block(acc);
        }
    }
    for (r, acc) in accs.iter_mut().enumerate() {
        let row = &mut out[r * s.out_dim..(r + 1) * s.out_dim];
        s.folder.finish(acc, row);
        if let Some((off, dim)) = prog.post_scale {
            let u = &ubuf[r * prog.ulen + off..r * prog.ulen + off + dim];
            for (k, o) in row.iter_mut().enumerate() {
                *o = *o * u[if dim == 1 { 0 } else { k }];
            }
        }
    }
    Ok(())
}
