//! Partial reductions: the state of a reduction over a slice of the reduced axis, and how two states combine.
//!
//! Every reduction is four pieces: init (the state of an empty slice), fold (one more pair),
//! combine (the states of two slices into the state of their union) and finalize (the output
//! row). Backends fold in their own way — the CPU per SIMD lane, the GPU per thread — but they
//! all bring their states to the layout defined here, row by row, in float64 (exact for f32
//! values, for f64 values, and for indices below 2⁵³). The CPU backend combines lanes and
//! slices with [`StateLayout::combine`], which is what lets it split the reduced axis over its
//! threads; the GPU's 2-D scheme and distributed runs exchange these rows.
//!
//! Layouts, per output row (d: the formula's dimension, e: the weight's, K: the K of KMin):
//! - Sum: the d sums, then (Kahan scheme) their d compensations;
//! - Max/Min family: the d best values, then their d indices (−1: nothing seen yet);
//! - KMin family: for each component, its K best values in order, then the same for indices;
//! - log-sum-exp family: the running maximum m, then the sums Σ exp(F − m)·G (e of them, or one
//!   for plain LogSumExp), then, for SumSoftMaxWeight and Max_SumShiftExpWeight, Σ exp(F − m).
//!   A value F = +inf makes m = +inf and counts exp(F − m) as 1 (the limit), so that a row
//!   holding +inf reduces to +inf; F = −inf adds nothing; a NaN value makes the sums NaN.

use crate::reduction::{Reduction, SumScheme};

/// Marks an index slot that holds no point yet.
pub const NO_INDEX: f64 = -1.0;

/// The layout of one reduction's states, and the operations on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLayout {
    pub reduction: Reduction,
    /// Dimension of the formula.
    pub d: usize,
    /// Dimension of the weight formula (1 when there is none).
    pub e: usize,
    /// Sums carry a compensation term (the Kahan scheme).
    pub kahan: bool,
}

/// Which family a reduction's state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Sum,
    /// Max (`greater`) or Min.
    Extreme {
        greater: bool,
    },
    KMin(usize),
    /// The log-sum-exp family: `sums` weighted sums, then a plain one when `plain` is set.
    Lse {
        sums: usize,
        plain: bool,
    },
}

impl StateLayout {
    pub fn new(reduction: Reduction, d: usize, e: usize, scheme: SumScheme) -> StateLayout {
        StateLayout { reduction, d, e: e.max(1), kahan: scheme == SumScheme::Kahan && reduction == Reduction::Sum }
    }

    pub fn family(&self) -> Family {
        match self.reduction {
            Reduction::Sum => Family::Sum,
            Reduction::Max | Reduction::ArgMax | Reduction::MaxArgMax => Family::Extreme { greater: true },
            Reduction::Min | Reduction::ArgMin | Reduction::MinArgMin => Family::Extreme { greater: false },
            Reduction::KMin(k) | Reduction::ArgKMin(k) | Reduction::KMinArgKMin(k) => Family::KMin(k),
            Reduction::LogSumExp => Family::Lse { sums: 1, plain: false },
            Reduction::LogSumExpWeight => Family::Lse { sums: self.e, plain: false },
            Reduction::MaxSumShiftExpWeight | Reduction::SumSoftMaxWeight => Family::Lse { sums: self.e, plain: true },
        }
    }

    /// Values per row of state.
    pub fn width(&self) -> usize {
        match self.family() {
            Family::Sum => self.d * if self.kahan { 2 } else { 1 },
            Family::Extreme { .. } => 2 * self.d,
            Family::KMin(k) => 2 * k * self.d,
            Family::Lse { sums, plain } => 1 + sums + plain as usize,
        }
    }

    /// The state of an empty slice.
    pub fn init(&self, s: &mut [f64]) {
        match self.family() {
            Family::Sum => s.fill(0.0),
            Family::Extreme { greater } => {
                s[..self.d].fill(if greater { f64::NEG_INFINITY } else { f64::INFINITY });
                s[self.d..].fill(NO_INDEX);
            }
            Family::KMin(k) => {
                s[..k * self.d].fill(f64::INFINITY);
                s[k * self.d..].fill(NO_INDEX);
            }
            Family::Lse { .. } => {
                s.fill(0.0);
                s[0] = f64::NEG_INFINITY;
            }
        }
    }

    /// Folds one pair, at index `j` of the reduced axis, into a state: the plain definition,
    /// which backends must agree with (tests fold with it).
    pub fn fold(&self, s: &mut [f64], f: &[f64], w: Option<&[f64]>, j: usize) {
        let mut one = vec![0.0; self.width()];
        self.init(&mut one);
        match self.family() {
            Family::Sum => one[..self.d].copy_from_slice(f),
            Family::Extreme { .. } => {
                one[..self.d].copy_from_slice(f);
                one[self.d..].fill(j as f64);
            }
            Family::KMin(k) => {
                for c in 0..self.d {
                    one[c * k] = f[c];
                    one[k * self.d + c * k] = j as f64;
                }
            }
            Family::Lse { sums, plain } => {
                one[0] = f[0];
                // exp(F − m) with m = F is 1, also for F = +inf; −inf adds nothing (as exp(−inf)
                // would), and a NaN F gives NaN sums.
                let shift = match f[0] {
                    x if x.is_nan() => f64::NAN,
                    f64::NEG_INFINITY => 0.0,
                    _ => 1.0,
                };
                for k in 0..sums {
                    one[1 + k] = shift * w.map_or(1.0, |w| w[k]);
                }
                if plain {
                    one[1 + sums] = shift;
                }
            }
        }
        self.combine(s, &one);
    }

    /// `acc` becomes the state of the union of its slice and `other`'s. Commutative: ties are
    /// broken by index, not by order of arrival.
    pub fn combine(&self, acc: &mut [f64], other: &[f64]) {
        let d = self.d;
        match self.family() {
            Family::Sum if self.kahan => {
                // Add other's compensated total into acc's Kahan sum.
                for c in 0..d {
                    let y = (other[c] - other[d + c]) - acc[d + c];
                    let t = acc[c] + y;
                    // Past an infinite total there is nothing to compensate (inf − inf is NaN).
                    acc[d + c] = if t.is_finite() { (t - acc[c]) - y } else { 0.0 };
                    acc[c] = t;
                }
            }
            Family::Sum => {
                for c in 0..d {
                    acc[c] += other[c];
                }
            }
            Family::Extreme { greater } => {
                for c in 0..d {
                    if extreme_before((other[c], other[d + c]), (acc[c], acc[d + c]), greater) {
                        acc[c] = other[c];
                        acc[d + c] = other[d + c];
                    }
                }
            }
            Family::KMin(k) => {
                for c in 0..d {
                    let (va, ia) = (c * k, k * d + c * k);
                    let mine: Vec<(f64, f64)> = (0..k).map(|r| (acc[va + r], acc[ia + r])).collect();
                    let theirs: Vec<(f64, f64)> = (0..k).map(|r| (other[va + r], other[ia + r])).collect();
                    let (mut p, mut q) = (0, 0);
                    for r in 0..k {
                        let take_mine = q >= k || (p < k && !kmin_before(theirs[q], mine[p]));
                        let (v, i) = if take_mine {
                            p += 1;
                            mine[p - 1]
                        } else {
                            q += 1;
                            theirs[q - 1]
                        };
                        acc[va + r] = v;
                        acc[ia + r] = i;
                    }
                }
            }
            Family::Lse { .. } => {
                let (ma, mb) = (acc[0], other[0]);
                if ma.is_nan() || mb.is_nan() {
                    acc[0] = f64::NAN;
                    acc[1..].fill(f64::NAN);
                    return;
                }
                let m = ma.max(mb);
                // exp(mᵢ − m), with exp(±inf − ±inf) = 1 when mᵢ is the maximum, and 0 without
                // a call for an empty state's −inf.
                let scale = |mi: f64| {
                    if mi == m {
                        1.0
                    } else if mi == f64::NEG_INFINITY {
                        0.0
                    } else {
                        (mi - m).exp()
                    }
                };
                let (sa, sb) = (scale(ma), scale(mb));
                for (a, b) in acc[1..].iter_mut().zip(&other[1..]) {
                    *a = *a * sa + *b * sb;
                }
                acc[0] = m;
            }
        }
    }

    /// The log-sum-exp family's state of many lanes at once, into `out`: lane l has the running
    /// maximum `m[l]` (−inf when it saw nothing) and the sums `sums[k·lanes + l]`, values of a
    /// fold in precision `T`. It is what combining the lanes one by one gives, up to rounding,
    /// with the lanes rescaled to their common maximum in one vectorised pass (one `T::vexp`
    /// per lane) rather than one scalar f64 `exp` per combine: the rescaling factors are
    /// computed in `T`, whose rounding the lanes' sums carry already, and summed in f64.
    /// Inlined, so that the caller's instruction set (FMA) computes it.
    #[inline(always)]
    pub fn lse_of_lanes<T: crate::real::Real>(&self, m: &[f64], sums: &[f64], out: &mut [f64]) {
        const CHUNK: usize = 64;
        let lanes = m.len();
        debug_assert!(matches!(self.family(), Family::Lse { .. }));
        debug_assert_eq!(sums.len(), (self.width() - 1) * lanes);
        // The maximum and whether a NaN is there, in eight running lanes (a loop that vectorises).
        let mut top8 = [f64::NEG_INFINITY; 8];
        let mut nan8 = [false; 8];
        let mut chunks = m.chunks_exact(8);
        for ch in &mut chunks {
            for i in 0..8 {
                top8[i] = if ch[i] > top8[i] { ch[i] } else { top8[i] };
                nan8[i] |= ch[i].is_nan();
            }
        }
        for (i, &x) in chunks.remainder().iter().enumerate() {
            top8[i] = if x > top8[i] { x } else { top8[i] };
            nan8[i] |= x.is_nan();
        }
        let top = top8.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        if nan8.iter().any(|&n| n) {
            out.fill(f64::NAN);
            return;
        }
        out[0] = top;
        out[1..].fill(0.0);
        let mut scale = [0.0; CHUNK];
        for c0 in (0..lanes).step_by(CHUNK) {
            let n = (lanes - c0).min(CHUNK);
            // exp(mₗ − top), 1 for the lanes at the maximum (also when it is ±inf).
            for (s, &ml) in scale[..n].iter_mut().zip(&m[c0..c0 + n]) {
                let e = T::from_f64(ml - top).vexp().as_f64();
                *s = if ml == top { 1.0 } else { e };
            }
            for (k, o) in out[1..].iter_mut().enumerate() {
                let row = &sums[k * lanes + c0..k * lanes + c0 + n];
                // Eight running sums, so that the loop vectorises without reassociating.
                let mut acc = [0.0; 8];
                let (whole, rest) = row.split_at(n / 8 * 8);
                for (ch, sc) in whole.chunks_exact(8).zip(scale[..n].chunks_exact(8)) {
                    for i in 0..8 {
                        acc[i] += ch[i] * sc[i];
                    }
                }
                for (i, (&x, &sc)) in rest.iter().zip(&scale[n / 8 * 8..n]).enumerate() {
                    acc[i] += x * sc;
                }
                *o += acc.iter().sum::<f64>();
            }
        }
    }

    /// The output row of a state (of `Reduction::output_dim` values).
    pub fn finalize(&self, s: &[f64], out: &mut [f64]) {
        let d = self.d;
        match (self.family(), self.reduction) {
            (Family::Sum, _) => {
                for c in 0..d {
                    out[c] = if self.kahan && s[d + c] != 0.0 { s[c] - s[d + c] } else { s[c] };
                }
            }
            (Family::Extreme { .. }, Reduction::Max | Reduction::Min) => out.copy_from_slice(&s[..d]),
            (Family::Extreme { .. }, Reduction::ArgMax | Reduction::ArgMin) => out.copy_from_slice(&s[d..]),
            (Family::Extreme { .. }, _) => out.copy_from_slice(s),
            (Family::KMin(k), r) => {
                // The output is k-major: the r-th best of component c at r·d + c.
                for c in 0..d {
                    for rank in 0..k {
                        let (v, i) = (s[c * k + rank], s[k * d + c * k + rank]);
                        match r {
                            Reduction::KMin(_) => out[rank * d + c] = v,
                            Reduction::ArgKMin(_) => out[rank * d + c] = i,
                            _ => {
                                out[rank * d + c] = v;
                                out[k * d + rank * d + c] = i;
                            }
                        }
                    }
                }
            }
            (Family::Lse { sums, .. }, r) => {
                let m = s[0];
                let z = s[1 + sums..].first().copied().unwrap_or(0.0);
                match r {
                    Reduction::LogSumExp | Reduction::LogSumExpWeight => {
                        for k in 0..sums {
                            out[k] = if m == f64::INFINITY && s[1 + k] > 0.0 { m } else { m + s[1 + k].ln() };
                        }
                    }
                    Reduction::MaxSumShiftExpWeight => {
                        out[0] = if z.is_nan() { f64::NAN } else { m };
                        out[1..].copy_from_slice(&s[1..1 + sums]);
                    }
                    _ => {
                        for k in 0..sums {
                            out[k] = s[1 + k] / z;
                        }
                    }
                }
            }
        }
    }
}

/// The partial states of a reduction for a range of output rows: what a slice of the reduced
/// axis contributes, ready to be combined with other slices' and finalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    pub layout: StateLayout,
    pub rows: usize,
    /// `rows` states of `layout.width()` values, row after row.
    pub data: Vec<f64>,
}

impl Partial {
    /// The states of empty slices.
    pub fn empty(layout: StateLayout, rows: usize) -> Partial {
        let w = layout.width();
        let mut data = vec![0.0; rows * w];
        for s in data.chunks_mut(w.max(1)) {
            layout.init(s);
        }
        Partial { layout, rows, data }
    }

    /// Adds the slice of `other` (same rows, same reduction) to this one's.
    pub fn combine(&mut self, other: &Partial) -> crate::error::Result<()> {
        if self.layout != other.layout || self.rows != other.rows {
            return Err(crate::error::Error::Reduction {
                reduction: self.layout.reduction.name().into(),
                msg: format!(
                    "cannot combine partial states of {} rows of {:?} with {} rows of {:?}",
                    self.rows, self.layout, other.rows, other.layout
                ),
            });
        }
        let w = self.layout.width();
        if w > 0 {
            for (a, b) in self.data.chunks_mut(w).zip(other.data.chunks(w)) {
                self.layout.combine(a, b);
            }
        }
        Ok(())
    }

    /// The output rows, `rows × out_dim`.
    pub fn finalize<T: crate::real::Real>(&self, out_dim: usize) -> ndarray::Array2<T> {
        let w = self.layout.width();
        let mut row = vec![0.0; out_dim];
        let mut out = ndarray::Array2::from_elem((self.rows, out_dim), T::zero());
        for r in 0..self.rows {
            self.layout.finalize(&self.data[r * w..(r + 1) * w], &mut row);
            for (o, &v) in out.row_mut(r).iter_mut().zip(&row) {
                *o = T::from_f64(v);
            }
        }
        out
    }
}

/// Whether (value, index) `a` beats `b` for Max (`greater`) or Min: an unset slot loses, a NaN
/// wins, and equal values (or two NaNs) go to the smaller index.
pub fn extreme_before(a: (f64, f64), b: (f64, f64), greater: bool) -> bool {
    if a.1 == NO_INDEX {
        return false;
    }
    if b.1 == NO_INDEX {
        return true;
    }
    match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => a.1 < b.1,
        (true, false) => true,
        (false, true) => false,
        _ if a.0 == b.0 => a.1 < b.1,
        _ => (a.0 > b.0) == greater,
    }
}

/// KMin order of (value, index) pairs: NaN first, then increasing values, ties by index, and
/// unset slots last.
pub fn kmin_before(a: (f64, f64), b: (f64, f64)) -> bool {
    extreme_before(a, b, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold_all(l: &StateLayout, values: &[f64], range: std::ops::Range<usize>) -> Vec<f64> {
        let mut s = vec![0.0; l.width()];
        l.init(&mut s);
        for j in range {
            l.fold(&mut s, &values[j..j + 1], None, j);
        }
        s
    }

    fn out(l: &StateLayout, s: &[f64], dim: usize) -> Vec<f64> {
        let mut o = vec![0.0; dim];
        l.finalize(s, &mut o);
        o
    }

    #[test]
    fn split_and_combined_equals_whole() {
        let v = [3.0, -1.0, 2.0, -1.0, f64::INFINITY, 0.5, 7.0, -1.0];
        for (r, dim) in [
            (Reduction::Sum, 1),
            (Reduction::MinArgMin, 2),
            (Reduction::MaxArgMax, 2),
            (Reduction::KMinArgKMin(3), 6),
            (Reduction::LogSumExp, 1),
        ] {
            let l = StateLayout::new(r, 1, 1, SumScheme::Kahan);
            let whole = fold_all(&l, &v, 0..v.len());
            for cut in 0..=v.len() {
                // Both orders of combination give the same state: combine is commutative.
                let (mut a, b) = (fold_all(&l, &v, 0..cut), fold_all(&l, &v, cut..v.len()));
                let mut b2 = b.clone();
                l.combine(&mut a, &b);
                l.combine(&mut b2, &fold_all(&l, &v, 0..cut));
                assert_eq!(out(&l, &a, dim), out(&l, &whole, dim), "{r} cut at {cut}");
                assert_eq!(out(&l, &b2, dim), out(&l, &whole, dim), "{r} cut at {cut}, swapped");
            }
        }
    }

    #[test]
    fn ties_infinities_and_nan() {
        let min = StateLayout::new(Reduction::MinArgMin, 1, 1, SumScheme::Block);
        let s = fold_all(&min, &[1.0, -1.0, -1.0], 0..3);
        assert_eq!(out(&min, &s, 2), vec![-1.0, 1.0]);
        // A row that is +inf everywhere still has an argmin: its first point.
        let s = fold_all(&min, &[f64::INFINITY; 3], 0..3);
        assert_eq!(out(&min, &s, 2), vec![f64::INFINITY, 0.0]);
        let s = fold_all(&min, &[1.0, f64::NAN, f64::NAN], 0..3);
        assert!(out(&min, &s, 2)[0].is_nan());
        assert_eq!(out(&min, &s, 2)[1], 1.0);
        let lse = StateLayout::new(Reduction::LogSumExp, 1, 1, SumScheme::Block);
        assert_eq!(out(&lse, &fold_all(&lse, &[0.0, f64::INFINITY, 1.0], 0..3), 1), vec![f64::INFINITY]);
        assert_eq!(out(&lse, &fold_all(&lse, &[f64::NEG_INFINITY; 2], 0..2), 1), vec![f64::NEG_INFINITY]);
        assert!(out(&lse, &fold_all(&lse, &[0.0, f64::NAN], 0..2), 1)[0].is_nan());
        let two = out(&lse, &fold_all(&lse, &[0.0, 0.0], 0..2), 1)[0];
        assert!((two - 2f64.ln()).abs() < 1e-15);
    }
}
