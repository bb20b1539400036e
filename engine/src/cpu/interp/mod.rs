//! The tile interpreter: the portable pair engine, running a plan's pair instructions step by step over tiles of 64 points.
//!
//! Per block of output rows: for each block of `TPB` tiles of the reduced index, for each row,
//! for each tile, run the lane program and fold the values into the row's lane accumulators;
//! the tiles of a tile block stay in L1 while every row of the row block visits them. At the
//! end of a tile block the block sum scheme moves lane sums into the partial state; at the end
//! of the slice every lane is flushed into it. Each step is one vectorised loop over 64 lanes
//! that reads and writes L1 (the JIT avoids those round trips where the CPU allows it).

// Lane loops index fixed-size arrays by position on purpose: that is the form LLVM vectorises.
#![allow(clippy::needless_range_loop)]

pub mod fold;
pub mod lanes;
pub mod program;

use crate::error::{Error, Result};
use crate::real::Real;
use fold::Folder;
use lanes::{InnerData, Lanes, TileCtx};
use ndarray::ArrayView2;
use program::{Program, L};
use std::ops::Range;

/// Tiles per block of the reduced index (the block sum scheme's block is TPB·L points).
pub const TPB: usize = 16;

/// Transposes rows `range` of the reduced side's variables (`args`: (argument, dimension), in
/// tile order) into tiles of `L` lanes, zero-padded.
pub fn transpose<T: Real>(inputs: &[ArrayView2<T>], args: &[(usize, usize)], range: Range<usize>) -> InnerData<T> {
    let width: usize = args.iter().map(|&(_, d)| d).sum();
    let ntiles = range.len().div_ceil(L);
    let mut tiles = vec![Lanes::splat(T::zero()); ntiles * width];
    let mut first = 0;
    for &(arg, dim) in args {
        for (j, row) in inputs[arg].outer_iter().skip(range.start).take(range.len()).enumerate() {
            let (t, l) = (j / L, j % L);
            for (k, &x) in row.iter().enumerate() {
                tiles[t * width + first + k].0[l] = x;
            }
        }
        first += dim;
    }
    InnerData { width, tiles }
}

/// What the rows of one call share.
pub struct Job<'a, T> {
    pub prog: &'a Program,
    pub folder: Folder,
    /// The reduced side's variables, transposed for the slice `j0 .. j0 + n_in`.
    pub inner: &'a InnerData<T>,
    pub n_in: usize,
    pub j0: usize,
    /// Move sums out of the lanes at the end of every tile block.
    pub block_scheme: bool,
}

/// Folds rows (their row buffers `ubufs`, `ulen` scalars each) over the tiles `tiles` of the
/// job's slice into their partial states (`states`, one state after the other).
#[inline(always)]
pub fn fold_rows<T: Real, A: Real>(
    job: &Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let prog = job.prog;
    let width = job.folder.layout.width();
    let nrows = states.len() / width.max(1);
    let mut regs = vec![Lanes::splat(T::zero()); prog.nrows];
    let mut scratch = Vec::new();
    let mut accs: Vec<_> = (0..nrows).map(|_| job.folder.new_acc::<T, A>()).collect();
    for tb in tiles.clone().step_by(TPB) {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        for (r, acc) in accs.iter_mut().enumerate() {
            let ubuf = &ubufs[r * ulen..(r + 1) * ulen];
            let mut ctx = TileCtx { regs: &mut regs, ubuf, inner: job.inner, scratch: &mut scratch };
            ctx.broadcast(prog);
            for t in tb..(tb + TPB).min(tiles.end) {
                ctx.run_tile(prog, t);
                let len = (job.n_in - t * L).min(L);
                let f = ctx.root(prog.roots[0], t);
                let w = prog.roots.get(1).map(|&w| ctx.root(w, t));
                job.folder.fold_tile(acc, f, w, len, job.j0 + t * L);
            }
            if job.block_scheme {
                job.folder.end_block(acc, &mut states[r * width..(r + 1) * width]);
            }
        }
    }
    for (r, acc) in accs.iter_mut().enumerate() {
        job.folder.flush(acc, &mut states[r * width..(r + 1) * width]);
    }
    Ok(())
}
