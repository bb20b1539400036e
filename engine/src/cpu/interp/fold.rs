//! Reductions in the interpreter: per-lane accumulators that fold one tile at a time, flushed into partial states.
//!
//! Accumulators are kept per lane, so folding a tile is a vectorised loop. `flush` combines the
//! lanes into the row's partial state (`state.rs`, in f64) and resets them: at the end of each
//! block of the reduced index for the block sum scheme, and at the end of the slice otherwise.
//! `A` is the accumulation type of sums: `T`, or f64 for float32 data with `accumulate_f64`.

use super::lanes::Lanes;
use super::program::L;
use crate::real::Real;
use crate::state::{Family, StateLayout, NO_INDEX};

/// Marks "no index yet" in index lanes.
const NONE: u32 = u32::MAX;

/// The lanes of one output row.
pub struct LaneAcc<T, A> {
    /// Sum: D rows of sums, then (Kahan) D rows of compensations. LSE family: its sums over
    /// the current block of the reduced index.
    sums: Vec<Lanes<A>>,
    /// LSE family with the block scheme: the sums of the finished blocks (relative to `m`).
    totals: Vec<Lanes<A>>,
    /// LSE family: the running maximum of each lane (`T::min_value()` until a value comes).
    m: Lanes<T>,
    /// Max/Min: per-lane best values and their indices.
    best: Vec<Lanes<T>>,
    best_idx: Vec<Lanes<u32>>,
    /// KMin family: for each component, K best values and indices, sorted, and how many are set.
    kv: Vec<T>,
    ki: Vec<u32>,
    kn: Vec<usize>,
}

/// How a reduction folds, decided once per call.
#[derive(Clone, Copy)]
pub struct Folder {
    pub layout: StateLayout,
}

#[inline(always)]
fn to<A: Real, T: Real>(x: T) -> A {
    A::from_f64(x.as_f64())
}

impl Folder {
    fn lane_sums(&self) -> usize {
        match self.layout.family() {
            Family::Sum => self.layout.d * if self.layout.kahan { 2 } else { 1 },
            Family::Lse { sums, plain } => sums + plain as usize,
            _ => 0,
        }
    }

    pub fn new_acc<T: Real, A: Real>(&self) -> LaneAcc<T, A> {
        let d = self.layout.d;
        let (ext, k) = match self.layout.family() {
            Family::Extreme { .. } => (d, 0),
            Family::KMin(k) => (0, k),
            _ => (0, 0),
        };
        let mut acc = LaneAcc {
            sums: vec![Lanes::splat(A::zero()); self.lane_sums()],
            totals: vec![
                Lanes::splat(A::zero());
                if matches!(self.layout.family(), Family::Lse { .. }) { self.lane_sums() } else { 0 }
            ],
            m: Lanes::splat(T::min_value()),
            best: vec![Lanes::splat(T::zero()); ext],
            best_idx: vec![Lanes([NONE; L]); ext],
            kv: vec![T::infinity(); k * d],
            ki: vec![NONE; k * d],
            kn: vec![0; if k > 0 { d } else { 0 }],
        };
        self.reset(&mut acc);
        acc
    }

    fn reset<T: Real, A: Real>(&self, acc: &mut LaneAcc<T, A>) {
        acc.sums.fill(Lanes::splat(A::zero()));
        acc.totals.fill(Lanes::splat(A::zero()));
        acc.m = Lanes::splat(T::min_value());
        let init = match self.layout.family() {
            Family::Extreme { greater: true } => T::neg_infinity(),
            _ => T::infinity(),
        };
        acc.best.fill(Lanes::splat(init));
        acc.best_idx.fill(Lanes([NONE; L]));
        acc.kv.fill(T::infinity());
        acc.ki.fill(NONE);
        acc.kn.fill(0);
    }

    /// Folds the first `len` lanes of tile values `f` (D rows) and weight `w` (E rows), the
    /// first lane being index `j0` of the reduced axis.
    #[inline(always)]
    pub fn fold_tile<T: Real, A: Real>(
        &self,
        acc: &mut LaneAcc<T, A>,
        f: &[Lanes<T>],
        w: Option<&[Lanes<T>]>,
        len: usize,
        j0: usize,
    ) {
        match self.layout.family() {
            Family::Sum => self.fold_sum(acc, f, len),
            Family::Extreme { greater } => fold_extreme(acc, f, len, j0, greater),
            Family::Lse { sums, plain } => fold_lse(acc, &f[0], w, len, sums, plain),
            Family::KMin(k) => fold_kmin(acc, f, len, j0, k),
        }
    }

    #[inline(always)]
    fn fold_sum<T: Real, A: Real>(&self, acc: &mut LaneAcc<T, A>, f: &[Lanes<T>], len: usize) {
        let d = self.layout.d;
        let (sums, comps) = acc.sums.split_at_mut(d);
        for (k, fk) in f.iter().enumerate() {
            let s = &mut sums[k].0;
            let v = &fk.0;
            match (self.layout.kahan, len == L) {
                (true, _) => {
                    let c = &mut comps[k].0;
                    for l in 0..L {
                        let x = if l < len { to::<A, T>(v[l]) } else { A::zero() };
                        let y = x - c[l];
                        let t = s[l] + y;
                        // Past an infinite sum there is nothing to compensate (inf − inf is NaN).
                        c[l] = if t.is_finite() { (t - s[l]) - y } else { A::zero() };
                        s[l] = t;
                    }
                }
                (false, true) => {
                    for l in 0..L {
                        s[l] = s[l] + to::<A, T>(v[l]);
                    }
                }
                (false, false) => {
                    for l in 0..L {
                        s[l] = s[l] + if l < len { to::<A, T>(v[l]) } else { A::zero() };
                    }
                }
            }
        }
    }

    /// Ends a block of the reduced index (block sum scheme): sums leave the lanes, for the
    /// state (Sum) or for the lanes' totals (log-sum-exp family).
    pub fn end_block<T: Real, A: Real>(&self, acc: &mut LaneAcc<T, A>, state: &mut [f64]) {
        match self.layout.family() {
            Family::Sum => self.flush(acc, state),
            Family::Lse { .. } => {
                for (t, s) in acc.totals.iter_mut().zip(acc.sums.iter_mut()) {
                    for l in 0..L {
                        t.0[l] = t.0[l] + s.0[l];
                    }
                    *s = Lanes::splat(A::zero());
                }
            }
            _ => {}
        }
    }

    /// Combines the lanes into the row's partial state and resets them. Inlined, so that it is
    /// compiled for the caller's instruction set (the log-sum-exp family's exponentials).
    #[inline(always)]
    pub fn flush<T: Real, A: Real>(&self, acc: &mut LaneAcc<T, A>, state: &mut [f64]) {
        let layout = &self.layout;
        let d = layout.d;
        match layout.family() {
            Family::Sum => {
                // The lanes of a component summed as a balanced tree, then added to the state.
                let mut part = vec![0.0; layout.width()];
                for k in 0..d {
                    part[k] = hsum(&acc.sums[k].0).as_f64();
                    if layout.kahan {
                        part[d + k] = hsum(&acc.sums[d + k].0).as_f64();
                    }
                }
                layout.combine(state, &part);
            }
            Family::Extreme { .. } => {
                let mut part = vec![0.0; 2 * d];
                for l in 0..L {
                    for k in 0..d {
                        let i = acc.best_idx[k].0[l];
                        part[k] = acc.best[k].0[l].as_f64();
                        part[d + k] = if i == NONE { NO_INDEX } else { i as f64 };
                    }
                    layout.combine(state, &part);
                }
            }
            Family::KMin(kk) => {
                let mut part = vec![0.0; 2 * kk * d];
                for k in 0..d {
                    for r in 0..kk {
                        let (v, i) = (acc.kv[k * kk + r], acc.ki[k * kk + r]);
                        part[k * kk + r] = v.as_f64();
                        part[kk * d + k * kk + r] = if i == NONE { NO_INDEX } else { i as f64 };
                    }
                }
                layout.combine(state, &part);
            }
            Family::Lse { .. } => {
                let n = acc.sums.len();
                let mut sums = vec![0.0; n * L];
                let mut m = [0.0; L];
                for l in 0..L {
                    let mut zero = true;
                    for k in 0..n {
                        let s = (acc.totals[k].0[l] + acc.sums[k].0[l]).as_f64();
                        sums[k * L + l] = s;
                        zero &= s == 0.0;
                    }
                    // A lane that met no value (or only −inf) still holds its initial maximum.
                    let ml = acc.m.0[l];
                    m[l] = if ml == T::min_value() && zero { f64::NEG_INFINITY } else { ml.as_f64() };
                }
                let mut part = vec![0.0; 1 + n];
                layout.lse_of_lanes::<T>(&m, &sums, &mut part);
                layout.combine(state, &part);
            }
        }
        self.reset(acc);
    }
}

/// Sum of a row of lanes, as a balanced tree (more accurate than a running sum).
#[inline(always)]
fn hsum<A: Real>(v: &[A; L]) -> A {
    let mut buf = *v;
    let mut n = L;
    while n > 1 {
        n /= 2;
        for l in 0..n {
            buf[l] = buf[l] + buf[l + n];
        }
    }
    buf[0]
}

/// Per-lane running max (or min) with the index where it was reached. NaN wins and stays; on
/// ties the earlier index stays, since a lane sees increasing indices; the first value met is
/// always taken, so that a row of infinities still has an index.
#[inline(always)]
fn fold_extreme<T: Real, A>(acc: &mut LaneAcc<T, A>, f: &[Lanes<T>], len: usize, j0: usize, greater: bool) {
    for (k, fk) in f.iter().enumerate() {
        let (b, bi) = (&mut acc.best[k].0, &mut acc.best_idx[k].0);
        for l in 0..L {
            let v = fk.0[l];
            let better = if greater { v > b[l] } else { v < b[l] };
            let take = l < len && (better || (v.is_nan() && !b[l].is_nan()) || bi[l] == NONE);
            b[l] = if take { v } else { b[l] };
            bi[l] = if take { (j0 + l) as u32 } else { bi[l] };
        }
    }
}

/// One-pass log-sum-exp per lane, with one exponential per value: with d = F − m,
/// exp(−|d|) is the new term's weight when F ≤ m and the rescaling of the old sums when F > m
/// (then F is the new maximum and its own term is 1).
#[inline(always)]
fn fold_lse<T: Real, A: Real>(
    acc: &mut LaneAcc<T, A>,
    f: &Lanes<T>,
    w: Option<&[Lanes<T>]>,
    len: usize,
    sums: usize,
    plain: bool,
) {
    let mut t = [A::zero(); L];
    let mut up = [false; L];
    let m = &mut acc.m.0;
    for l in 0..L {
        let valid = l < len;
        let v = f.0[l];
        // Equal values (two +inf included) differ by 0, not by inf − inf.
        let d = if v == m[l] { T::zero() } else { v - m[l] };
        let e = (-d.abs()).vexp();
        let greater = valid && v > m[l];
        t[l] = if valid { to::<A, T>(e) } else { A::zero() };
        up[l] = greater;
        m[l] = if greater { v } else { m[l] };
    }
    // Finished blocks' sums are relative to the old maximum too.
    for tk in acc.totals.iter_mut() {
        for l in 0..L {
            tk.0[l] = if up[l] { tk.0[l] * t[l] } else { tk.0[l] };
        }
    }
    for k in 0..sums {
        let s = &mut acc.sums[k].0;
        for l in 0..L {
            // Padded weight lanes may hold anything: t is 0 there, but 0·inf is NaN.
            let wk = match w {
                Some(w) if l < len => to::<A, T>(w[k].0[l]),
                Some(_) => A::zero(),
                None => A::one(),
            };
            s[l] = if up[l] { s[l] * t[l] + wk } else { s[l] + t[l] * wk };
        }
    }
    if plain {
        let s = &mut acc.sums[sums].0;
        for l in 0..L {
            s[l] = if up[l] { s[l] * t[l] + A::one() } else { s[l] + t[l] };
        }
    }
}

/// "a comes before b" in KMin order: NaN first, then increasing values.
#[inline(always)]
fn kmin_before<T: Real>(a: T, b: T) -> bool {
    a < b || (a.is_nan() && !b.is_nan())
}

/// Keeps, per component, the K smallest values seen so far (sorted, earlier index first on ties).
#[inline(always)]
fn fold_kmin<T: Real, A>(acc: &mut LaneAcc<T, A>, f: &[Lanes<T>], len: usize, j0: usize, kk: usize) {
    for (k, fk) in f.iter().enumerate() {
        let vals = &mut acc.kv[k * kk..(k + 1) * kk];
        let idxs = &mut acc.ki[k * kk..(k + 1) * kk];
        let full = acc.kn[k] == kk;
        let thr = vals[kk - 1];
        // A vectorised test first: most tiles hold no candidate once the list is full. Written
        // without short-circuits (`&`, `|` on bools) so that it stays one vector loop in every
        // instruction set it is compiled for (with `&&`, the AVX-512 build kept it scalar).
        let thr_nan = thr.is_nan();
        let mut any = false;
        for l in 0..L {
            let v = fk.0[l];
            any |= (l < len) & ((v < thr) | (v.is_nan() & !thr_nan));
        }
        if full && !any {
            continue;
        }
        for l in 0..len {
            let v = fk.0[l];
            let n = acc.kn[k];
            if n == kk && !kmin_before(v, vals[kk - 1]) {
                continue;
            }
            // Insert after every value not greater than v, so ties keep index order.
            let mut p = n.min(kk - 1);
            while p > 0 && kmin_before(v, vals[p - 1]) {
                if p < kk {
                    vals[p] = vals[p - 1];
                    idxs[p] = idxs[p - 1];
                }
                p -= 1;
            }
            vals[p] = v;
            idxs[p] = (j0 + l) as u32;
            acc.kn[k] = (n + 1).min(kk);
        }
    }
}
