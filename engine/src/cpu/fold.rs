//! Reductions on the CPU: per-row accumulators that fold one tile of formula values at a time.
//!
//! Accumulators are kept per lane, so folding a tile is a vectorised loop; lanes are combined
//! when a block of the reduced index ends (the block sum scheme) or when the row is finished.
//! `A` is the accumulation type: `T`, or f64 for float32 data with `accumulate_f64`.

use super::lanes::Lanes;
use super::program::L;
use crate::real::Real;
use crate::reduction::{Reduction, SumScheme};

/// Marks "no index yet" in index lanes.
const NONE: u32 = u32::MAX;

/// The state of one output row.
pub struct RowAcc<T, A> {
    /// Sum: per-lane partial sums (D rows, then D Kahan compensations). LSE family: E weighted
    /// sums, then (SumSoftMaxWeight) the unweighted sum.
    sums: Vec<Lanes<A>>,
    /// Block totals of `sums` rows, with their Kahan compensation.
    totals: Vec<A>,
    total_comp: Vec<A>,
    /// Max/Min: per-lane best values and their indices.
    best: Vec<Lanes<T>>,
    best_idx: Vec<Lanes<u32>>,
    /// LSE family: the running maximum of the row.
    m: T,
    /// KMin family: for each component, K best values and indices, sorted, and how many are set.
    kv: Vec<T>,
    ki: Vec<u32>,
    kn: Vec<usize>,
}

/// How a reduction folds, decided once per call.
#[derive(Clone, Copy)]
pub struct Folder {
    pub reduction: Reduction,
    pub scheme: SumScheme,
    /// Dimension of the formula.
    pub d: usize,
    /// Dimension of the weight (LSE family), 1 for plain LogSumExp.
    pub e: usize,
}

#[inline(always)]
fn to<A: Real, T: Real>(x: T) -> A {
    A::from_f64(x.as_f64())
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

impl Folder {
    fn is_extreme(&self) -> Option<bool> {
        match self.reduction {
            Reduction::Max | Reduction::ArgMax | Reduction::MaxArgMax => Some(true),
            Reduction::Min | Reduction::ArgMin | Reduction::MinArgMin => Some(false),
            _ => None,
        }
    }

    fn is_lse(&self) -> bool {
        matches!(
            self.reduction,
            Reduction::LogSumExp
                | Reduction::LogSumExpWeight
                | Reduction::MaxSumShiftExpWeight
                | Reduction::SumSoftMaxWeight
        )
    }

    /// Number of summed rows: D for Sum, E (+1 for softmax's normaliser) for the LSE family.
    fn nsums(&self) -> usize {
        match self.reduction {
            Reduction::Sum => self.d,
            Reduction::SumSoftMaxWeight => self.e + 1,
            _ if self.is_lse() => self.e,
            _ => 0,
        }
    }

    pub fn new_row<T: Real, A: Real>(&self) -> RowAcc<T, A> {
        let ns = self.nsums();
        let kahan = if self.scheme == SumScheme::Kahan { 2 } else { 1 };
        let ext = if self.is_extreme().is_some() { self.d } else { 0 };
        let k = self.reduction.k().unwrap_or(0) * self.d;
        let mut acc = RowAcc {
            sums: vec![Lanes::splat(A::zero()); ns * kahan],
            totals: vec![A::zero(); ns],
            total_comp: vec![A::zero(); ns],
            best: vec![Lanes::splat(T::zero()); ext],
            best_idx: vec![Lanes([NONE; L]); ext],
            m: T::neg_infinity(),
            kv: vec![T::infinity(); k],
            ki: vec![NONE; k],
            kn: vec![0; self.d],
        };
        self.reset(&mut acc);
        acc
    }

    /// Starts a new row.
    pub fn reset<T: Real, A: Real>(&self, acc: &mut RowAcc<T, A>) {
        acc.sums.fill(Lanes::splat(A::zero()));
        acc.totals.fill(A::zero());
        acc.total_comp.fill(A::zero());
        let init = if self.is_extreme() == Some(true) { T::neg_infinity() } else { T::infinity() };
        acc.best.fill(Lanes::splat(init));
        acc.best_idx.fill(Lanes([NONE; L]));
        acc.m = T::neg_infinity();
        acc.kv.fill(T::infinity());
        acc.ki.fill(NONE);
        acc.kn.fill(0);
    }

    /// Folds the first `len` lanes of tile values `f` (D rows) and weight `w` (E rows), the
    /// first lane being index `j0` of the reduced axis.
    #[inline(always)]
    pub fn fold_tile<T: Real, A: Real>(
        &self,
        acc: &mut RowAcc<T, A>,
        f: &[Lanes<T>],
        w: Option<&[Lanes<T>]>,
        len: usize,
        j0: usize,
    ) {
        if self.reduction == Reduction::Sum {
            self.fold_sum(acc, f, len);
        } else if let Some(greater) = self.is_extreme() {
            fold_extreme(acc, f, len, j0, greater);
        } else if self.is_lse() {
            self.fold_lse(acc, &f[0], w, len);
        } else {
            fold_kmin(acc, f, len, j0, self.reduction.k().unwrap_or(1));
        }
    }

    #[inline(always)]
    fn fold_sum<T: Real, A: Real>(&self, acc: &mut RowAcc<T, A>, f: &[Lanes<T>], len: usize) {
        let d = self.d;
        let (sums, comps) = acc.sums.split_at_mut(d);
        for (k, fk) in f.iter().enumerate() {
            let s = &mut sums[k].0;
            let v = &fk.0;
            match (self.scheme, len == L) {
                (SumScheme::Kahan, _) => {
                    let c = &mut comps[k].0;
                    for l in 0..L {
                        let x = if l < len { to::<A, T>(v[l]) } else { A::zero() };
                        let y = x - c[l];
                        let t = s[l] + y;
                        c[l] = (t - s[l]) - y;
                        s[l] = t;
                    }
                }
                (_, true) => {
                    for l in 0..L {
                        s[l] = s[l] + to::<A, T>(v[l]);
                    }
                }
                (_, false) => {
                    for l in 0..L {
                        s[l] = s[l] + if l < len { to::<A, T>(v[l]) } else { A::zero() };
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn fold_lse<T: Real, A: Real>(&self, acc: &mut RowAcc<T, A>, f: &Lanes<T>, w: Option<&[Lanes<T>]>, len: usize) {
        let v = &f.0;
        // The tile's maximum, NaN-propagating, over the valid lanes.
        let mut tm = T::neg_infinity();
        let mut nan = false;
        for l in 0..L {
            let x = if l < len { v[l] } else { T::neg_infinity() };
            nan |= x.is_nan();
            tm = if x > tm { x } else { tm };
        }
        if nan || acc.m.is_nan() {
            acc.m = T::nan();
            return;
        }
        if tm == T::neg_infinity() {
            return;
        }
        if tm > acc.m {
            // Rescale what was summed relative to the old maximum.
            let scale: A = to(if acc.m == T::neg_infinity() { T::zero() } else { (acc.m - tm).vexp() });
            for s in acc.sums.iter_mut() {
                for x in s.0.iter_mut() {
                    *x = *x * scale;
                }
            }
            for t in acc.totals.iter_mut() {
                *t = *t * scale;
            }
            acc.m = tm;
        }
        let m = acc.m;
        let mut ex = [T::zero(); L];
        for l in 0..L {
            let x = (v[l] - m).vexp();
            ex[l] = if l < len { x } else { T::zero() };
        }
        match w {
            None => {
                let s = &mut acc.sums[0].0;
                for l in 0..L {
                    s[l] = s[l] + to::<A, T>(ex[l]);
                }
            }
            Some(w) => {
                for (k, wk) in w.iter().enumerate() {
                    let s = &mut acc.sums[k].0;
                    for l in 0..L {
                        // Padded weight lanes may hold anything; ex is zero there, but 0·inf is NaN.
                        let x = if l < len { ex[l] * wk.0[l] } else { T::zero() };
                        s[l] = s[l] + to::<A, T>(x);
                    }
                }
                if self.reduction == Reduction::SumSoftMaxWeight {
                    let s = &mut acc.sums[self.e].0;
                    for l in 0..L {
                        s[l] = s[l] + to::<A, T>(ex[l]);
                    }
                }
            }
        }
    }

    /// Ends a block of the reduced index: lane sums move into the totals (block scheme only).
    #[inline(always)]
    pub fn end_block<T: Real, A: Real>(&self, acc: &mut RowAcc<T, A>) {
        if self.scheme == SumScheme::Block {
            for (k, s) in acc.sums.iter_mut().enumerate().take(acc.totals.len()) {
                acc.totals[k] = acc.totals[k] + hsum(&s.0);
                s.0 = [A::zero(); L];
            }
        }
    }

    /// Writes the row's result.
    pub fn finish<T: Real, A: Real>(&self, acc: &mut RowAcc<T, A>, out: &mut [T]) {
        let ns = acc.totals.len();
        let mut sums: Vec<A> = (0..ns)
            .map(|k| {
                let lanes = hsum(&acc.sums[k].0);
                if self.scheme == SumScheme::Kahan {
                    let comp = hsum(&acc.sums[ns + k].0);
                    acc.totals[k] + (lanes - comp)
                } else {
                    acc.totals[k] + lanes
                }
            })
            .collect();
        let idx = |i: u32| if i == NONE { -T::one() } else { T::from_f64(i as f64) };
        let d = self.d;
        match self.reduction {
            Reduction::Sum => {
                for (o, s) in out.iter_mut().zip(&sums) {
                    *o = T::from_f64(s.as_f64());
                }
            }
            Reduction::Max | Reduction::Min | Reduction::ArgMax | Reduction::ArgMin => {
                for k in 0..d {
                    let (v, i) = best_of_lanes(&acc.best[k], &acc.best_idx[k], self.is_extreme() == Some(true));
                    out[k] = if matches!(self.reduction, Reduction::Max | Reduction::Min) { v } else { idx(i) };
                }
            }
            Reduction::MaxArgMax | Reduction::MinArgMin => {
                for k in 0..d {
                    let (v, i) = best_of_lanes(&acc.best[k], &acc.best_idx[k], self.reduction == Reduction::MaxArgMax);
                    out[k] = v;
                    out[d + k] = idx(i);
                }
            }
            Reduction::KMin(kk) | Reduction::ArgKMin(kk) | Reduction::KMinArgKMin(kk) => {
                for k in 0..d {
                    for r in 0..kk {
                        let (v, i) = (acc.kv[k * kk + r], acc.ki[k * kk + r]);
                        match self.reduction {
                            Reduction::KMin(_) => out[r * d + k] = v,
                            Reduction::ArgKMin(_) => out[r * d + k] = idx(i),
                            _ => {
                                out[r * d + k] = v;
                                out[kk * d + r * d + k] = idx(i);
                            }
                        }
                    }
                }
            }
            Reduction::LogSumExp | Reduction::LogSumExpWeight => {
                for (o, s) in out.iter_mut().zip(&sums) {
                    *o = acc.m + T::from_f64(s.as_f64()).ln();
                }
            }
            Reduction::MaxSumShiftExpWeight => {
                out[0] = acc.m;
                for (o, s) in out[1..].iter_mut().zip(&sums) {
                    *o = if acc.m.is_nan() { acc.m } else { T::from_f64(s.as_f64()) };
                }
            }
            Reduction::SumSoftMaxWeight => {
                let z = sums.pop().unwrap_or(A::zero());
                for (o, s) in out.iter_mut().zip(&sums) {
                    *o = if acc.m.is_nan() { acc.m } else { T::from_f64((*s / z).as_f64()) };
                }
            }
        }
    }
}

/// Per-lane running max (or min) with the index where it was reached. NaN wins and stays;
/// on ties the earlier index stays, since a lane sees increasing indices.
#[inline(always)]
fn fold_extreme<T: Real, A>(acc: &mut RowAcc<T, A>, f: &[Lanes<T>], len: usize, j0: usize, greater: bool) {
    for (k, fk) in f.iter().enumerate() {
        let (b, bi) = (&mut acc.best[k].0, &mut acc.best_idx[k].0);
        for l in 0..L {
            let v = fk.0[l];
            let better = if greater { v > b[l] } else { v < b[l] };
            let take = l < len && (better || (v.is_nan() && !b[l].is_nan()));
            b[l] = if take { v } else { b[l] };
            bi[l] = if take { (j0 + l) as u32 } else { bi[l] };
        }
    }
}

/// Combines lanes: the best value, the smallest index among equal values, NaN first.
fn best_of_lanes<T: Real>(v: &Lanes<T>, i: &Lanes<u32>, greater: bool) -> (T, u32) {
    let mut best = (if greater { T::neg_infinity() } else { T::infinity() }, NONE);
    for l in 0..L {
        let (x, j) = (v.0[l], i.0[l]);
        if j == NONE {
            continue;
        }
        let better = if best.0.is_nan() {
            x.is_nan() && j < best.1
        } else if x.is_nan() {
            true
        } else if x == best.0 {
            j < best.1
        } else if greater {
            x > best.0
        } else {
            x < best.0
        };
        if better {
            best = (x, j);
        }
    }
    best
}

/// "a comes before b" in KMin order: NaN first, then increasing values.
#[inline(always)]
fn kmin_before<T: Real>(a: T, b: T) -> bool {
    a < b || (a.is_nan() && !b.is_nan())
}

/// Keeps, per component, the K smallest values seen so far (sorted, earlier index first on ties).
#[inline(always)]
fn fold_kmin<T: Real, A>(acc: &mut RowAcc<T, A>, f: &[Lanes<T>], len: usize, j0: usize, kk: usize) {
    for (k, fk) in f.iter().enumerate() {
        let vals = &mut acc.kv[k * kk..(k + 1) * kk];
        let idxs = &mut acc.ki[k * kk..(k + 1) * kk];
        let full = acc.kn[k] == kk;
        let thr = vals[kk - 1];
        // A vectorised test first: most tiles hold no candidate once the list is full.
        let mut any = false;
        for l in 0..L {
            any |= l < len && kmin_before(fk.0[l], thr);
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
