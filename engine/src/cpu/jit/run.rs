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
use super::{Args, Elem, Group, Kernel, Kernels};
use crate::cpu::interp::fold::{Folder, LaneAcc};
use crate::cpu::interp::lanes::{InnerData, Lanes};
use crate::cpu::interp::program::L;
use crate::cpu::interp::TPB;
use crate::error::{Error, Result};
use crate::real::Real;
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
    /// Log-sum-exp under the block scheme: each lane's sums over the finished blocks, relative
    /// to its maximum at the end of the last one (`mprev`).
    totals: Vec<T>,
    mprev: Vec<T>,
    flush: FlushBufs,
}

impl<T, A> Default for Scratch<T, A> {
    fn default() -> Self {
        Scratch {
            uni: vec![],
            accs: vec![],
            out: vec![],
            lane_accs: vec![],
            totals: vec![],
            mprev: vec![],
            flush: FlushBufs::default(),
        }
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
    uni.resize(k.rows * k.uni.len() * lanes, T::zero());
    for (i, v) in uni.chunks_exact_mut(lanes).enumerate() {
        let (r, slot) = (i / k.uni.len(), i % k.uni.len());
        v.fill(ubufs[r * ulen + k.uni[slot]]);
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

/// The accumulators' initial vectors, with lane indices starting at 0, as 8-byte words: what
/// a kernel's accumulators are reset to (by a copy) before each group of rows.
pub fn initial_accumulators(inits: &[AccInit], elem: Elem, lanes: usize) -> Vec<u64> {
    let mut bytes = Vec::with_capacity(inits.len() * lanes * elem.size());
    for init in inits {
        for l in 0..lanes {
            let float = match init {
                AccInit::Zero => Some(0.0),
                AccInit::Lowest => Some(match elem {
                    Elem::F32 => f32::MIN as f64,
                    Elem::F64 => f64::MIN,
                }),
                AccInit::Inf => Some(f64::INFINITY),
                AccInit::NegInf => Some(f64::NEG_INFINITY),
                AccInit::NoIndex | AccInit::LaneIndex => None,
            };
            let int = if *init == AccInit::NoIndex { -1 } else { l as i64 };
            match (elem, float) {
                (Elem::F32, Some(x)) => bytes.extend((x as f32).to_le_bytes()),
                (Elem::F64, Some(x)) => bytes.extend(x.to_le_bytes()),
                (Elem::F32, None) => bytes.extend((int as i32).to_le_bytes()),
                (Elem::F64, None) => bytes.extend(int.to_le_bytes()),
            }
        }
    }
    bytes
        .chunks(8)
        .map(|c| {
            let mut w = [0; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

/// A kernel's accumulator vectors (8-byte words): lanes of `T`, or integer lanes of the same
/// width (indices).
struct Accs<'a, T> {
    words: &'a mut [u64],
    lanes: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T: Real> Accs<'_, T> {
    /// The accumulators of kernel `k` in `words`, set to their initial values with lane indices
    /// starting at `j`.
    #[inline(always)]
    fn new<'a>(k: &Kernel, words: &'a mut Vec<u64>, j: usize) -> Accs<'a, T> {
        debug_assert_eq!(k.elem.size(), std::mem::size_of::<T>());
        words.resize(k.acc_init.len(), 0);
        let mut accs = Accs { words, lanes: k.lanes(), _t: std::marker::PhantomData };
        accs.reset(k, j);
        accs
    }

    /// Back to the initial values, lane indices starting at `j`.
    #[inline(always)]
    fn reset(&mut self, k: &Kernel, j: usize) {
        self.words.copy_from_slice(&k.acc_init);
        if j == 0 {
            return;
        }
        for (a, init) in k.accs.iter().enumerate() {
            if *init != AccInit::LaneIndex {
                continue;
            }
            for l in 0..self.lanes {
                let at = (a * self.lanes + l) * std::mem::size_of::<T>();
                let p = self.words.as_mut_ptr() as *mut u8;
                // SAFETY: `at` is within the buffer (a < accs, l < lanes); the lanes are 32- or
                // 64-bit integers as T is f32 or f64. Indices wrap as the kernel's lanes do.
                unsafe {
                    match std::mem::size_of::<T>() {
                        4 => {
                            let q = p.add(at) as *mut i32;
                            q.write_unaligned(q.read_unaligned().wrapping_add(j as i32));
                        }
                        _ => {
                            let q = p.add(at) as *mut i64;
                            q.write_unaligned(q.read_unaligned().wrapping_add(j as i64));
                        }
                    }
                }
            }
        }
    }

    /// The lanes of accumulator `a` as values.
    #[inline(always)]
    fn vals(&self, a: usize) -> &[T] {
        let n = self.words.len() * 8 / std::mem::size_of::<T>();
        // SAFETY: the words hold n values of T (f32 or f64, whose alignment 8-byte words meet).
        let all = unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const T, n) };
        &all[a * self.lanes..(a + 1) * self.lanes]
    }

    #[inline(always)]
    fn vals_mut(&mut self, a: usize) -> &mut [T] {
        let n = self.words.len() * 8 / std::mem::size_of::<T>();
        // SAFETY: as in `vals`.
        let all = unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut T, n) };
        &mut all[a * self.lanes..(a + 1) * self.lanes]
    }

    /// Lane `l` of accumulator `a` as an index (integer lanes as wide as T).
    #[inline(always)]
    fn index(&self, a: usize, l: usize) -> i64 {
        let at = (a * self.lanes + l) * std::mem::size_of::<T>();
        let p = self.words.as_ptr() as *const u8;
        // SAFETY: as in `reset`.
        unsafe {
            match std::mem::size_of::<T>() {
                4 => (p.add(at) as *const i32).read_unaligned() as i64,
                _ => (p.add(at) as *const i64).read_unaligned(),
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
                    let (w, j) = ((!w.is_empty()).then_some(w), job.j0 + (b + t) * L);
                    // A whole tile folds with the constant length, which the loops vectorise on.
                    if len == L {
                        folder.fold_tile(acc, f, w, L, j);
                    } else {
                        folder.fold_tile(acc, f, w, len, j);
                    }
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
    // The block sum scheme moves sums out of the lanes after every block: a Sum's into the
    // states, a log-sum-exp's into running totals of its lanes (`rebase_lse`).
    let per_block = job.block_scheme && k.fold == FoldKind::Sum;
    // (A slice of one block needs no totals.)
    let rebase = match k.fold {
        FoldKind::Lse { sums, plain } if job.block_scheme && tiles.len() > TPB => Some(sums + plain as usize),
        _ => None,
    };
    if let Some(n) = rebase {
        s.totals.resize(rows * n * k.lanes(), T::zero());
        s.totals.fill(T::zero());
        s.mprev.resize(rows * k.lanes(), T::zero());
        s.mprev.fill(T::min_value());
    }
    let mut accs = Accs::<T>::new(k, &mut s.accs, job.j0 + tiles.start * L);
    for b in tiles.clone().step_by(TPB) {
        if cancelled() {
            return Err(Error::Interrupted);
        }
        let end = (b + TPB).min(tiles.end);
        if end.min(whole) > b {
            call(job, k, &s.uni, accs.words, std::ptr::null_mut(), b, end.min(whole) - b);
        }
        if end > whole {
            // Which lanes of the partial tile are points (as floats: 1 or 0).
            let mut valid = Lanes::splat(T::zero());
            for (l, v) in valid.0.iter_mut().enumerate() {
                if whole * L + l < job.n_in {
                    *v = T::one();
                }
            }
            let last = g.last.as_ref().expect("kernels folding in registers come with a masked kernel");
            call(job, last, &s.uni, accs.words, valid.0.as_mut_ptr() as *mut u8, whole, 1);
        }
        if per_block {
            flush(k, &accs, &job.layout, states, &mut s.flush);
            if end < tiles.end {
                accs.reset(k, job.j0 + end * L);
            }
        }
        if let Some(n) = rebase {
            rebase_lse(k, &mut accs, n, &mut s.totals, &mut s.mprev);
        }
    }
    if let Some(n) = rebase {
        // The totals go back into the lanes' sums, relative to the same maxima, to be flushed.
        let lanes = k.lanes();
        for r in 0..rows {
            for j in 0..n {
                accs.vals_mut(r * (1 + n) + 1 + j).copy_from_slice(&s.totals[(r * n + j) * lanes..][..lanes]);
            }
        }
    }
    if !per_block && !tiles.is_empty() {
        flush(k, &accs, &job.layout, states, &mut s.flush);
    }
    Ok(())
}

/// The end of a block of the log-sum-exp family under the block sum scheme (a kernel with
/// `n` sums and one copy of the accumulators per row): each lane's sums move into its totals,
/// rescaled from the previous block's maximum to the current one, and restart from 0 with the
/// maximum kept. So the kernel's f32 sums never run over more than a block of points, as the
/// interpreter's (`interp/fold.rs`), at the cost of one vector exponential per row and block.
#[inline(always)]
fn rebase_lse<T: Real>(k: &Kernel, accs: &mut Accs<T>, n: usize, totals: &mut [T], mprev: &mut [T]) {
    const MAX_LANES: usize = 16;
    let lanes = k.lanes();
    debug_assert!(lanes <= MAX_LANES && k.fold.copies(k.subs) == 1);
    for r in 0..k.rows {
        let base = r * (1 + n);
        let mut scale = [T::zero(); MAX_LANES];
        let mp = &mut mprev[r * lanes..(r + 1) * lanes];
        for ((e, p), &m) in scale.iter_mut().zip(mp.iter_mut()).zip(accs.vals(base)) {
            // exp(m_prev − m), 1 when the maximum did not move (also at ±inf or still unset).
            let x = (*p - m).vexp();
            *e = if *p == m { T::one() } else { x };
            *p = m;
        }
        for j in 0..n {
            let tot = &mut totals[(r * n + j) * lanes..][..lanes];
            for ((t, s), &e) in tot.iter_mut().zip(accs.vals_mut(base + 1 + j)).zip(&scale) {
                *t = *t * e + *s;
                *s = T::zero();
            }
        }
    }
}

/// Combines every lane's accumulators into the rows' states.
#[inline(always)]
fn flush<T: Real>(k: &Kernel, accs: &Accs<T>, layout: &StateLayout, states: &mut [f64], b: &mut FlushBufs) {
    let (rows, subs, lanes) = (k.rows, k.subs, k.lanes());
    let per = k.fold.accs_per_copy(k.d);
    let (d, width) = (k.d, layout.width());
    b.part.resize(width, 0.0);
    for r in 0..rows {
        let state = &mut states[r * width..(r + 1) * width];
        match k.fold {
            FoldKind::Sum => {
                // Each component's lanes over every vector, summed in f64 in eight running sums
                // (a loop that vectorises without reassociating).
                for c in 0..d {
                    let mut acc = [0.0; 8];
                    for u in 0..subs {
                        let vals = accs.vals((r * subs + u) * per + c);
                        let mut chunks = vals.chunks_exact(8);
                        for ch in &mut chunks {
                            for i in 0..8 {
                                acc[i] += ch[i].as_f64();
                            }
                        }
                        for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
                            *a += x.as_f64();
                        }
                    }
                    b.part[c] = acc.iter().sum();
                }
                layout.combine(state, &b.part);
            }
            FoldKind::Lse { sums, plain } => {
                // The row's lanes over every copy of its accumulators, merged at once.
                let n = sums + plain as usize;
                let copies = k.fold.copies(subs);
                let all = copies * lanes;
                b.m.resize(all, 0.0);
                b.sums.resize(n * all, 0.0);
                for u in 0..copies {
                    let base = (r * copies + u) * per;
                    for s in 0..n {
                        let to = &mut b.sums[s * all + u * lanes..][..lanes];
                        for (x, &v) in to.iter_mut().zip(accs.vals(base + 1 + s)) {
                            *x = v.as_f64();
                        }
                    }
                    for (l, &m) in accs.vals(base).iter().enumerate() {
                        let i = u * lanes + l;
                        // A lane that met no value (or only −inf) still holds its initial maximum.
                        let empty = m == T::min_value() && (0..n).all(|s| b.sums[s * all + i] == 0.0);
                        b.m[i] = if empty { f64::NEG_INFINITY } else { m.as_f64() };
                    }
                }
                layout.lse_of_lanes::<T>(&b.m, &b.sums, &mut b.part);
                layout.combine(state, &b.part);
            }
            FoldKind::Extreme { .. } => {
                for u in 0..subs {
                    let base = (r * subs + u) * per;
                    for l in 0..lanes {
                        for c in 0..d {
                            let i = accs.index(base + d + c, l);
                            b.part[c] = accs.vals(base + c)[l].as_f64();
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
