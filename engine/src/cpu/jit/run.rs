//! Running JIT kernels: groups of rows, blocks of tiles, accumulators flushed into partial states.
//!
//! For each group of `R` rows (then the remaining rows one at a time), the row values the
//! kernel reads are broadcast to whole vectors, the accumulators set to their initial values,
//! and the kernel called once per block of `TPB` whole tiles; a slice's last, partial tile is
//! folded by the group's masked kernel, which continues from the same accumulators and skips
//! the padding lanes. After a block (block sum scheme) or at the end, every lane's accumulators
//! are combined into the rows' partial states. In map mode the kernel stores the formula's (and
//! weight's) values, the partial tile included (its padding is zeros, safe to compute), and the
//! interpreter's fold (`interp/fold.rs`) folds their valid lanes, in `A`. Every point is
//! evaluated by JIT code, so slices of the reduced axis give the same values wherever they cut.
//!
//! Everything here is `#[inline(always)]`: `cpu/mod.rs` calls [`fold_rows`] from functions
//! compiled for the kernels' instruction set, so that the Rust folds and flushes (exponentials
//! of `Real::vexp`, fused multiply-adds) are vector code there rather than calls to software FMA.

use super::lower::{AccInit, FoldKind};
use super::{Args, Group, Kernel, Kernels};
use crate::cpu::interp::fold::{Folder, LaneAcc};
use crate::cpu::interp::lanes::{InnerData, Lanes};
use crate::cpu::interp::program::L;
use crate::cpu::interp::TPB;
use crate::error::{Error, Result};
use crate::real::{DType, Real};
use crate::state::{StateLayout, NO_INDEX};
use std::ops::Range;

/// What the rows of one call share.
pub struct Job<'a, T> {
    pub kernels: &'a Kernels,
    pub layout: StateLayout,
    pub inner: &'a InnerData<T>,
    /// Points in the slice (its last tile may be partial).
    pub n_in: usize,
    /// The absolute index of the slice's first point.
    pub j0: usize,
    pub block_scheme: bool,
}

/// Folds rows (row buffers `ubufs`, `ulen` scalars each) over the tiles `tiles` of the slice
/// into their states; `A` accumulates the sums that Rust folds.
#[inline(always)]
pub fn fold_rows<T: Real, A: Real>(
    job: &Job<T>,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let width = job.layout.width();
    let nrows = states.len() / width.max(1);
    let mut scratch = Scratch::default();
    let mut r = 0;
    while r < nrows {
        let g = if nrows - r >= job.kernels.main.whole.rows { &job.kernels.main } else { &job.kernels.single };
        let rows = g.whole.rows;
        fold_group::<T, A>(
            job,
            g,
            &ubufs[r * ulen..(r + rows) * ulen],
            ulen,
            tiles.clone(),
            &mut states[r * width..(r + rows) * width],
            &mut scratch,
            cancelled,
        )?;
        r += rows;
    }
    Ok(())
}

/// Buffers that the groups of one call reuse.
struct Scratch<T, A> {
    /// Broadcast row values.
    uni: Vec<T>,
    /// Accumulator vectors.
    accs: Vec<u64>,
    /// Map mode: the stored values, and each row's lanes.
    out: Vec<Lanes<T>>,
    lane_accs: Vec<LaneAcc<T, A>>,
    flush: FlushBufs,
}

impl<T, A> Default for Scratch<T, A> {
    fn default() -> Self {
        Scratch { uni: vec![], accs: vec![], out: vec![], lane_accs: vec![], flush: FlushBufs::default() }
    }
}

/// What a flush gathers: one state, and the lanes of a log-sum-exp row.
#[derive(Default)]
struct FlushBufs {
    part: Vec<f64>,
    m: Vec<f64>,
    sums: Vec<f64>,
}

/// The row values kernel `k` reads, for its rows, each broadcast to a whole vector.
#[inline(always)]
fn broadcast<T: Real>(k: &Kernel, ubufs: &[T], ulen: usize, uni: &mut Vec<T>) {
    let lanes = k.lanes();
    uni.clear();
    uni.reserve(k.rows * k.uni.len() * lanes);
    for r in 0..k.rows {
        for &scalar in &k.uni {
            let x = ubufs[r * ulen + scalar];
            uni.extend(std::iter::repeat_n(x, lanes));
        }
    }
}

/// Calls kernel `k` on `n` tiles from tile `t` of the slice; `out` is the map output, or the
/// validity of the lanes of a masked kernel's one tile.
#[inline(always)]
fn call<T: Real>(job: &Job<T>, k: &Kernel, uni: &[T], accs: &mut [u64], out: *mut u8, t: usize, n: usize) {
    let args = Args {
        inner: job.inner.tiles[t * job.inner.width..].as_ptr() as *const u8,
        ntiles: n as u64,
        uni: uni.as_ptr() as *const u8,
        acc: accs.as_mut_ptr() as *mut u8,
        out,
        callouts: &k.callouts,
    };
    debug_assert!(t + n <= job.inner.tiles.len() / job.inner.width.max(1));
    debug_assert!(!k.masked || n == 1);
    // SAFETY: the tiles t..t+n exist (the data is zero-padded to whole tiles), the buffers are
    // sized as the kernel expects (checked by the callers), and the kernel was built for an
    // instruction set this CPU runs.
    unsafe { k.call(&args) };
}

/// Raw accumulator vectors (8-byte aligned words): float lanes, or integer lanes of the same width.
struct Accs<'a> {
    words: &'a mut [u64],
    /// Values per vector.
    lanes: usize,
    /// Bytes per lane: 4 (f32, i32) or 8 (f64, i64).
    size: usize,
}

impl Accs<'_> {
    /// The accumulators of kernel `k` in `words`, resized for them.
    #[inline(always)]
    fn of<'a>(k: &Kernel, words: &'a mut Vec<u64>) -> Accs<'a> {
        let (lanes, size) = (k.lanes(), k.elem.size());
        words.resize((k.accs.len() * lanes * size).div_ceil(8), 0);
        Accs { words, lanes, size }
    }

    #[inline(always)]
    fn at(&self, acc: usize, lane: usize) -> usize {
        (acc * self.lanes + lane) * self.size
    }

    #[inline(always)]
    fn set_float(&mut self, acc: usize, lane: usize, x: f64) {
        let at = self.at(acc, lane);
        let p = self.words.as_mut_ptr() as *mut u8;
        // SAFETY: `at` is within the buffer (acc < accs, lane < lanes); unaligned writes.
        unsafe {
            match self.size {
                4 => (p.add(at) as *mut f32).write_unaligned(x as f32),
                _ => (p.add(at) as *mut f64).write_unaligned(x),
            }
        }
    }

    #[inline(always)]
    fn set_int(&mut self, acc: usize, lane: usize, x: i64) {
        let at = self.at(acc, lane);
        let p = self.words.as_mut_ptr() as *mut u8;
        // SAFETY: as in `set_float`.
        unsafe {
            match self.size {
                4 => (p.add(at) as *mut i32).write_unaligned(x as i32),
                _ => (p.add(at) as *mut i64).write_unaligned(x),
            }
        }
    }

    #[inline(always)]
    fn float(&self, acc: usize, lane: usize) -> f64 {
        let at = self.at(acc, lane);
        let p = self.words.as_ptr() as *const u8;
        // SAFETY: as in `set_float`.
        unsafe {
            match self.size {
                4 => (p.add(at) as *const f32).read_unaligned() as f64,
                _ => (p.add(at) as *const f64).read_unaligned(),
            }
        }
    }

    #[inline(always)]
    fn int(&self, acc: usize, lane: usize) -> i64 {
        let at = self.at(acc, lane);
        let p = self.words.as_ptr() as *const u8;
        // SAFETY: as in `set_float`.
        unsafe {
            match self.size {
                4 => (p.add(at) as *const i32).read_unaligned() as i64,
                _ => (p.add(at) as *const i64).read_unaligned(),
            }
        }
    }

    /// Sets every accumulator to its initial value; lane indices start at `j`.
    #[inline(always)]
    fn init(&mut self, inits: &[AccInit], lowest: f64, j: usize) {
        for (a, init) in inits.iter().enumerate() {
            for l in 0..self.lanes {
                match init {
                    AccInit::Zero => self.set_float(a, l, 0.0),
                    AccInit::Lowest => self.set_float(a, l, lowest),
                    AccInit::Inf => self.set_float(a, l, f64::INFINITY),
                    AccInit::NegInf => self.set_float(a, l, f64::NEG_INFINITY),
                    AccInit::NoIndex => self.set_int(a, l, -1),
                    AccInit::LaneIndex => self.set_int(a, l, (j + l) as i64),
                }
            }
        }
    }
}

/// One group of rows over the tiles `tiles` of the slice.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fold_group<T: Real, A: Real>(
    job: &Job<T>,
    g: &Group,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    s: &mut Scratch<T, A>,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let k = &g.whole;
    let rows = k.rows;
    // Tiles from `whole` on are partial: only the slice's last one can be.
    let whole = tiles.end.min(job.n_in / L);
    let width = job.layout.width();
    let folder = Folder { layout: job.layout };
    broadcast(k, ubufs, ulen, &mut s.uni);
    if k.fold == FoldKind::Map {
        s.lane_accs.truncate(rows);
        while s.lane_accs.len() < rows {
            s.lane_accs.push(folder.new_acc());
        }
        for b in tiles.clone().step_by(TPB) {
            if cancelled() {
                return Err(Error::Interrupted);
            }
            let n = (tiles.end - b).min(TPB);
            s.out.resize(n * rows * k.out_comps, Lanes::splat(T::zero()));
            call(job, k, &s.uni, &mut s.accs, s.out.as_mut_ptr() as *mut u8, b, n);
            for t in 0..n {
                let len = (job.n_in - (b + t) * L).min(L);
                for (r, acc) in s.lane_accs.iter_mut().enumerate() {
                    let vals = &s.out[(t * rows + r) * k.out_comps..][..k.out_comps];
                    let (f, w) = vals.split_at(k.d);
                    folder.fold_tile(acc, f, (!w.is_empty()).then_some(w), len, job.j0 + (b + t) * L);
                }
            }
            if job.block_scheme {
                for (r, acc) in s.lane_accs.iter_mut().enumerate() {
                    folder.end_block(acc, &mut states[r * width..(r + 1) * width]);
                }
            }
        }
        for (r, acc) in s.lane_accs.iter_mut().enumerate() {
            folder.flush(acc, &mut states[r * width..(r + 1) * width]);
        }
        return Ok(());
    }
    let lowest = match T::DTYPE {
        DType::F32 => f32::MIN as f64,
        DType::F64 => f64::MIN,
    };
    // The block sum scheme moves the sums out of the lanes after every block.
    let per_block = job.block_scheme && k.fold == FoldKind::Sum;
    let mut accs = Accs::of(k, &mut s.accs);
    accs.init(&k.accs, lowest, job.j0 + tiles.start * L);
    // Which lanes of the partial tile are points (as floats: 1 or 0).
    let mut valid = Lanes::splat(T::zero());
    for (l, v) in valid.0.iter_mut().enumerate() {
        if whole * L + l < job.n_in {
            *v = T::one();
        }
    }
    for b in tiles.clone().step_by(TPB) {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        let end = (b + TPB).min(tiles.end);
        if end.min(whole) > b {
            call(job, k, &s.uni, accs.words, std::ptr::null_mut(), b, end.min(whole) - b);
        }
        if end > whole {
            let last = g.last.as_ref().expect("kernels folding in registers come with a masked kernel");
            call(job, last, &s.uni, accs.words, valid.0.as_mut_ptr() as *mut u8, whole, 1);
        }
        if per_block {
            flush(k, &accs, &job.layout, states, &mut s.flush);
            accs.init(&k.accs, lowest, job.j0 + end * L);
        }
    }
    if !per_block && !tiles.is_empty() {
        flush(k, &accs, &job.layout, states, &mut s.flush);
    }
    Ok(())
}

/// Combines every lane's accumulators into the rows' states.
#[inline(always)]
fn flush(k: &Kernel, accs: &Accs, layout: &StateLayout, states: &mut [f64], b: &mut FlushBufs) {
    let (rows, subs, lanes) = (k.rows, k.subs, k.lanes());
    let per = k.fold.accs_per_copy(k.d);
    let (d, width) = (k.d, layout.width());
    b.part.resize(width, 0.0);
    for r in 0..rows {
        let state = &mut states[r * width..(r + 1) * width];
        match k.fold {
            FoldKind::Sum => {
                for u in 0..subs {
                    let base = (r * subs + u) * per;
                    for (c, p) in b.part.iter_mut().enumerate().take(d) {
                        *p = (0..lanes).map(|l| accs.float(base + c, l)).sum();
                    }
                    layout.combine(state, &b.part);
                }
            }
            FoldKind::Lse { sums, plain } => {
                // The row's lanes over every vector of the tile, merged at once.
                let n = sums + plain as usize;
                let all = subs * lanes;
                b.m.resize(all, 0.0);
                b.sums.resize(n * all, 0.0);
                for u in 0..subs {
                    let base = (r * subs + u) * per;
                    for l in 0..lanes {
                        let i = u * lanes + l;
                        let m = accs.float(base, l);
                        let mut zero = true;
                        for s in 0..n {
                            let x = accs.float(base + 1 + s, l);
                            b.sums[s * all + i] = x;
                            zero &= x == 0.0;
                        }
                        // A lane that met no value (or only −inf) still holds its initial maximum.
                        b.m[i] = if is_lowest(m, k) && zero { f64::NEG_INFINITY } else { m };
                    }
                }
                layout.lse_of_lanes(&b.m, &b.sums, &mut b.part);
                layout.combine(state, &b.part);
            }
            FoldKind::Extreme { .. } => {
                for u in 0..subs {
                    let base = (r * subs + u) * per;
                    for l in 0..lanes {
                        for c in 0..d {
                            let i = accs.int(base + d + c, l);
                            b.part[c] = accs.float(base + c, l);
                            b.part[d + c] = if i < 0 { NO_INDEX } else { i as f64 };
                        }
                        layout.combine(state, &b.part);
                    }
                }
            }
            FoldKind::Map => {}
        }
    }
}

/// Whether a log-sum-exp maximum still holds its initial value (the type's lowest finite value).
#[inline(always)]
fn is_lowest(m: f64, k: &Kernel) -> bool {
    match k.elem {
        super::Elem::F32 => m == f32::MIN as f64,
        super::Elem::F64 => m == f64::MIN,
    }
}
