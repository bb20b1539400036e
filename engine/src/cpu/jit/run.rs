//! Running JIT kernels: groups of rows, blocks of tiles, accumulators flushed into partial states.
//!
//! For each group of `R` rows (then the remaining rows one at a time), the row values the
//! kernel reads are broadcast to whole vectors, the accumulators set to their initial values,
//! and the kernel called once per block of `TPB` whole tiles. After a block (block sum scheme)
//! or at the end, every lane's accumulators are combined into the rows' partial states. In map
//! mode the kernel stores the formula's (and weight's) values and the interpreter's fold
//! (`interp/fold.rs`) folds them, in `A`. The last, partial tile of a slice is computed by the
//! `tail` kernel in map mode and folded the same way over its valid lanes only: every point is
//! evaluated by JIT code, so slices of the reduced axis give the same values wherever they cut.

use super::lower::{AccInit, FoldKind};
use super::{Args, Kernel, Kernels};
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
    let whole = tiles.start..tiles.end.min(job.n_in / L);
    let mut r = 0;
    while r < nrows {
        let k = if nrows - r >= job.kernels.main.rows { &job.kernels.main } else { &job.kernels.single };
        let rows = k.rows;
        let group = r..r + rows;
        fold_group::<T, A>(
            job,
            k,
            &ubufs[r * ulen..(r + rows) * ulen],
            ulen,
            whole.clone(),
            &mut states[group.start * width..group.end * width],
            cancelled,
        )?;
        r += rows;
    }
    if tiles.end > whole.end {
        // The partial tile, row by row.
        let t = whole.end;
        let folder = Folder { layout: job.layout };
        let k = &job.kernels.tail;
        let mut out = vec![Lanes::splat(T::zero()); k.out_comps];
        for r in 0..nrows {
            let uni = broadcast(k, &ubufs[r * ulen..(r + 1) * ulen], ulen);
            let mut accs = Accs::new(k);
            call(job, k, &uni, &mut accs, &mut out, t, 1);
            let mut acc: LaneAcc<T, A> = folder.new_acc();
            let (f, w) = out.split_at(k.d);
            folder.fold_tile(&mut acc, f, (!w.is_empty()).then_some(w), job.n_in - t * L, job.j0 + t * L);
            folder.flush(&mut acc, &mut states[r * width..(r + 1) * width]);
        }
    }
    Ok(())
}

/// The row values kernel `k` reads, for its rows, each broadcast to a whole vector.
fn broadcast<T: Real>(k: &Kernel, ubufs: &[T], ulen: usize) -> Vec<T> {
    let lanes = k.lanes();
    let mut uni = vec![T::zero(); k.rows * k.uni.len() * lanes];
    for r in 0..k.rows {
        for (s, &scalar) in k.uni.iter().enumerate() {
            uni[(r * k.uni.len() + s) * lanes..][..lanes].fill(ubufs[r * ulen + scalar]);
        }
    }
    uni
}

/// Calls kernel `k` on `n` whole tiles from tile `t` of the slice.
fn call<T: Real>(job: &Job<T>, k: &Kernel, uni: &[T], accs: &mut Accs, out: &mut [Lanes<T>], t: usize, n: usize) {
    let args = Args {
        inner: job.inner.tiles[t * job.inner.width..].as_ptr() as *const u8,
        ntiles: n as u64,
        uni: uni.as_ptr() as *const u8,
        acc: accs.words.as_mut_ptr() as *mut u8,
        out: out.as_mut_ptr() as *mut u8,
        callouts: &k.callouts,
    };
    debug_assert!(t + n <= job.inner.tiles.len() / job.inner.width.max(1));
    debug_assert!(k.fold != FoldKind::Map || out.len() >= n * k.rows * k.out_comps);
    // SAFETY: the tiles t..t+n exist (the data is zero-padded to whole tiles), the buffers are
    // sized as the kernel expects, and the kernel was built for an instruction set this CPU runs.
    unsafe { k.call(&args) };
}

/// Raw accumulator vectors (8-byte aligned): float lanes, or integer lanes of the same width.
struct Accs {
    words: Vec<u64>,
    /// Values per vector.
    lanes: usize,
    /// Bytes per lane: 4 (f32, i32) or 8 (f64, i64).
    size: usize,
}

impl Accs {
    fn new(k: &Kernel) -> Accs {
        let (lanes, size) = (k.lanes(), k.elem.size());
        Accs { words: vec![0; (k.accs.len() * lanes * size).div_ceil(8)], lanes, size }
    }

    fn at(&self, acc: usize, lane: usize) -> usize {
        (acc * self.lanes + lane) * self.size
    }

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

/// One group of rows over whole tiles.
fn fold_group<T: Real, A: Real>(
    job: &Job<T>,
    k: &Kernel,
    ubufs: &[T],
    ulen: usize,
    tiles: Range<usize>,
    states: &mut [f64],
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let rows = k.rows;
    let uni = broadcast(k, ubufs, ulen);
    let lowest = match T::DTYPE {
        DType::F32 => f32::MIN as f64,
        DType::F64 => f64::MIN,
    };
    let mut accs = Accs::new(k);
    accs.init(&k.accs, lowest, job.j0 + tiles.start * L);
    let width = job.layout.width();
    let folder = Folder { layout: job.layout };
    let map = k.fold == FoldKind::Map;
    let mut lane_accs: Vec<LaneAcc<T, A>> = if map { (0..rows).map(|_| folder.new_acc()).collect() } else { vec![] };
    let mut out: Vec<Lanes<T>> = vec![];
    for b in tiles.clone().step_by(TPB) {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        let n = (tiles.end - b).min(TPB);
        if map {
            out.resize(n * rows * k.out_comps, Lanes::splat(T::zero()));
        }
        call(job, k, &uni, &mut accs, &mut out, b, n);
        if map {
            for t in 0..n {
                for (r, acc) in lane_accs.iter_mut().enumerate() {
                    let vals = &out[(t * rows + r) * k.out_comps..][..k.out_comps];
                    let (f, w) = vals.split_at(k.d);
                    folder.fold_tile(acc, f, (!w.is_empty()).then_some(w), L, job.j0 + (b + t) * L);
                }
            }
            if job.block_scheme {
                for (r, acc) in lane_accs.iter_mut().enumerate() {
                    folder.end_block(acc, &mut states[r * width..(r + 1) * width]);
                }
            }
        } else if job.block_scheme && k.fold == FoldKind::Sum {
            flush(k, &accs, &job.layout, states, width);
            accs.init(&k.accs, lowest, job.j0 + (b + n) * L);
        }
    }
    if map {
        for (r, acc) in lane_accs.iter_mut().enumerate() {
            folder.flush(acc, &mut states[r * width..(r + 1) * width]);
        }
    } else if !tiles.is_empty() {
        flush(k, &accs, &job.layout, states, width);
    }
    Ok(())
}

/// Combines every lane's accumulators into the rows' states.
fn flush(k: &Kernel, accs: &Accs, layout: &StateLayout, states: &mut [f64], width: usize) {
    let (rows, subs, lanes) = (k.rows, k.subs, k.lanes());
    let per = k.fold.accs_per_copy(k.d);
    let d = k.d;
    let mut part = vec![0.0; width];
    for r in 0..rows {
        let state = &mut states[r * width..(r + 1) * width];
        for u in 0..subs {
            let base = (r * subs + u) * per;
            match k.fold {
                FoldKind::Sum => {
                    for (c, p) in part.iter_mut().enumerate().take(d) {
                        *p = (0..lanes).map(|l| accs.float(base + c, l)).sum();
                    }
                    layout.combine(state, &part);
                }
                FoldKind::Lse { sums, plain } => {
                    let n = sums + plain as usize;
                    for l in 0..lanes {
                        let m = accs.float(base, l);
                        for s in 0..n {
                            part[1 + s] = accs.float(base + 1 + s, l);
                        }
                        let empty = is_lowest(m, k) && part[1..1 + n].iter().all(|&s| s == 0.0);
                        part[0] = if empty { f64::NEG_INFINITY } else { m };
                        layout.combine(state, &part);
                    }
                }
                FoldKind::Extreme { .. } => {
                    for l in 0..lanes {
                        for c in 0..d {
                            let i = accs.int(base + d + c, l);
                            part[c] = accs.float(base + c, l);
                            part[d + c] = if i < 0 { NO_INDEX } else { i as f64 };
                        }
                        layout.combine(state, &part);
                    }
                }
                FoldKind::Map => {}
            }
        }
    }
}

/// Whether a log-sum-exp maximum still holds its initial value (the type's lowest finite value).
fn is_lowest(m: f64, k: &Kernel) -> bool {
    match k.elem {
        super::Elem::F32 => m == f32::MIN as f64,
        super::Elem::F64 => m == f64::MIN,
    }
}
