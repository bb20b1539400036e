//! Block-sparse reductions: KeOps' `ranges` (which blocks of pairs are kept) and the clustering helpers that build them.
//!
//! A reduction over j with ranges visits, for each cluster of output rows `ranges_i[c]`, only
//! the j-ranges `redranges_j[slices_i[c-1]..slices_i[c]]`; rows in no cluster reduce over
//! nothing (the reduction's empty value). The transposed half (`ranges_j`, `slices_j`,
//! `redranges_i`) serves reductions over i, so one value serves a reduction and the gradient
//! reductions derived from it, whichever axis they run on: this is KeOps' 6-tuple, in its order.
//!
//! The helpers follow `pykeops.torch.cluster`: [`grid_cluster`] labels points by voxel,
//! [`sort_clusters`] orders points by label, [`cluster_ranges_centroids`] gives each cluster's
//! range, centroid and weight, [`from_matrix`] turns a boolean cluster-pair matrix into ranges and
//! [`swap_axes`] exchanges the roles of i and j.

use crate::error::{Error, Result};
use crate::reduction::Axis;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis as NdAxis};
use std::collections::HashMap;
use std::ops::Range;

/// KeOps' block-sparsity description: `(ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges {
    /// Clusters of i (output rows of a reduction over j), as half-open intervals.
    pub ranges_i: Vec<Range<usize>>,
    /// For each cluster of i, the end of its j-ranges in `redranges_j` (cumulative).
    pub slices_i: Vec<usize>,
    /// The j-ranges each cluster of i is reduced over, cluster after cluster.
    pub redranges_j: Vec<Range<usize>>,
    /// Clusters of j (output rows of a reduction over i).
    pub ranges_j: Vec<Range<usize>>,
    pub slices_j: Vec<usize>,
    pub redranges_i: Vec<Range<usize>>,
}

/// One direction of [`Ranges`]: clusters of output rows, and the reduced ranges of each.
#[derive(Debug, Clone, Copy)]
pub struct BlockSparse<'a> {
    pub clusters: &'a [Range<usize>],
    pub slices: &'a [usize],
    pub reduced: &'a [Range<usize>],
}

impl<'a> BlockSparse<'a> {
    /// The reduced ranges of cluster `c`.
    pub fn reduced_of(&self, c: usize) -> &'a [Range<usize>] {
        let start = if c == 0 { 0 } else { self.slices[c - 1] };
        &self.reduced[start..self.slices[c]]
    }

    /// How many pairs are kept, out of `n_out`·`n_in`.
    pub fn pairs(&self) -> usize {
        (0..self.clusters.len())
            .map(|c| self.clusters[c].len() * self.reduced_of(c).iter().map(Range::len).sum::<usize>())
            .sum()
    }
}

impl Ranges {
    /// The half that serves a reduction over `axis`.
    pub fn for_axis(&self, axis: Axis) -> BlockSparse<'_> {
        match axis {
            Axis::J => BlockSparse { clusters: &self.ranges_i, slices: &self.slices_i, reduced: &self.redranges_j },
            Axis::I => BlockSparse { clusters: &self.ranges_j, slices: &self.slices_j, reduced: &self.redranges_i },
        }
    }

    /// Checks every range against the sizes N (of i) and M (of j): clusters within their axis,
    /// disjoint and increasing, slices cumulative and ending at the number of reduced ranges.
    pub fn check(&self, n: usize, m: usize) -> Result<()> {
        let half = |name: &str, b: BlockSparse, n_out: usize, n_in: usize| -> Result<()> {
            let bad = |msg: String| Err(invalid(format!("{name}: {msg}")));
            if b.slices.len() != b.clusters.len() {
                return bad(format!("{} clusters but {} slices", b.clusters.len(), b.slices.len()));
            }
            let mut end = 0;
            for (c, r) in b.clusters.iter().enumerate() {
                if r.start < end || r.end < r.start || r.end > n_out {
                    return bad(format!(
                        "cluster {c} is {}..{}: clusters must be increasing, disjoint and within 0..{n_out}",
                        r.start, r.end
                    ));
                }
                end = r.end;
            }
            let mut previous = 0;
            for (c, &s) in b.slices.iter().enumerate() {
                if s < previous || s > b.reduced.len() {
                    return bad(format!("slice {c} ends at {s}: slices must grow up to {}", b.reduced.len()));
                }
                previous = s;
            }
            if previous != b.reduced.len() {
                return bad(format!("the slices end at {previous} but there are {} reduced ranges", b.reduced.len()));
            }
            if let Some(r) = b.reduced.iter().find(|r| r.end < r.start || r.end > n_in) {
                return bad(format!("a reduced range {}..{} is not within 0..{n_in}", r.start, r.end));
            }
            Ok(())
        };
        half("ranges (over j)", self.for_axis(Axis::J), n, m)?;
        half("ranges (over i)", self.for_axis(Axis::I), m, n)
    }

    /// [`Ranges::check`] for a reduction over `axis` with `n_out` output rows and `n_in` reduced
    /// points, then the half that serves it.
    pub fn checked_for(&self, axis: Axis, n_out: usize, n_in: usize) -> Result<BlockSparse<'_>> {
        let (n, m) = match axis {
            Axis::J => (n_out, n_in),
            Axis::I => (n_in, n_out),
        };
        self.check(n, m)?;
        Ok(self.for_axis(axis))
    }

    /// The six arrays in KeOps' order, ranges as rows `[start, end]`.
    pub fn to_arrays(&self) -> [Array2<i64>; 6] {
        let pairs = |v: &[Range<usize>]| {
            Array2::from_shape_fn((v.len(), 2), |(k, e)| if e == 0 { v[k].start as i64 } else { v[k].end as i64 })
        };
        let column = |v: &[usize]| Array2::from_shape_fn((v.len(), 1), |(k, _)| v[k] as i64);
        [
            pairs(&self.ranges_i),
            column(&self.slices_i),
            pairs(&self.redranges_j),
            pairs(&self.ranges_j),
            column(&self.slices_j),
            pairs(&self.redranges_i),
        ]
    }

    /// Reads the six arrays of KeOps' order: ranges as rows `[start, end]`, slices as a column
    /// or a row of ends. Values must be non-negative integers.
    pub fn from_arrays(a: [ArrayView2<f64>; 6]) -> Result<Ranges> {
        let int = |x: f64, what: &str| -> Result<usize> {
            if x >= 0.0 && x.fract() == 0.0 && x < 9.0e15 {
                Ok(x as usize)
            } else {
                Err(invalid(format!("{what} must hold non-negative integers, found {x}")))
            }
        };
        let pairs = |v: &ArrayView2<f64>, what: &str| -> Result<Vec<Range<usize>>> {
            if v.ncols() != 2 && v.nrows() != 0 {
                return Err(invalid(format!("{what} must have 2 columns [start, end], it has {}", v.ncols())));
            }
            v.rows().into_iter().map(|r| Ok(int(r[0], what)?..int(r[1], what)?)).collect()
        };
        let ends = |v: &ArrayView2<f64>, what: &str| -> Result<Vec<usize>> {
            if v.ncols() != 1 && v.nrows() != 1 && !v.is_empty() {
                return Err(invalid(format!("{what} must be a vector of ends, it has shape {:?}", v.shape())));
            }
            v.iter().map(|&x| int(x, what)).collect()
        };
        Ok(Ranges {
            ranges_i: pairs(&a[0], "ranges_i")?,
            slices_i: ends(&a[1], "slices_i")?,
            redranges_j: pairs(&a[2], "redranges_j")?,
            ranges_j: pairs(&a[3], "ranges_j")?,
            slices_j: ends(&a[4], "slices_j")?,
            redranges_i: pairs(&a[5], "redranges_i")?,
        })
    }
}

fn invalid(msg: String) -> Error {
    Error::invalid("ranges", msg)
}

/// The ranges with the roles of i and j exchanged (KeOps' `swap_axes`).
pub fn swap_axes(r: &Ranges) -> Ranges {
    Ranges {
        ranges_i: r.ranges_j.clone(),
        slices_i: r.slices_j.clone(),
        redranges_j: r.redranges_i.clone(),
        ranges_j: r.ranges_i.clone(),
        slices_j: r.slices_i.clone(),
        redranges_i: r.redranges_j.clone(),
    }
}

/// Ranges from a boolean matrix `keep[ci][cj]` over clusters of i and of j (KeOps' `from_matrix`):
/// cluster pair (ci, cj) is reduced when kept. Consecutive kept clusters of j (or of i) whose
/// ranges touch are merged into one reduced range.
pub fn from_matrix(ranges_i: &[Range<usize>], ranges_j: &[Range<usize>], keep: ArrayView2<bool>) -> Result<Ranges> {
    if keep.shape() != [ranges_i.len(), ranges_j.len()] {
        return Err(invalid(format!(
            "the keep matrix has shape {:?} but there are {} clusters of i and {} of j",
            keep.shape(),
            ranges_i.len(),
            ranges_j.len()
        )));
    }
    let half = |outer: &[Range<usize>], inner: &[Range<usize>], kept: &dyn Fn(usize, usize) -> bool| {
        let mut slices = Vec::with_capacity(outer.len());
        let mut reduced: Vec<Range<usize>> = Vec::new();
        for a in 0..outer.len() {
            let first = reduced.len();
            for (b, r) in inner.iter().enumerate() {
                if !kept(a, b) {
                    continue;
                }
                let merges = reduced.len() > first && reduced.last().is_some_and(|last| last.end == r.start);
                match reduced.last_mut() {
                    Some(last) if merges => last.end = r.end,
                    _ => reduced.push(r.clone()),
                }
            }
            slices.push(reduced.len());
        }
        (slices, reduced)
    };
    let (slices_i, redranges_j) = half(ranges_i, ranges_j, &|a, b| keep[[a, b]]);
    let (slices_j, redranges_i) = half(ranges_j, ranges_i, &|a, b| keep[[b, a]]);
    Ok(Ranges {
        ranges_i: ranges_i.to_vec(),
        slices_i,
        redranges_j,
        ranges_j: ranges_j.to_vec(),
        slices_j,
        redranges_i,
    })
}

/// A label per point: the index of its voxel in a grid of cubes of side `size`, voxels numbered
/// in lexicographic order of their integer coordinates (KeOps' `grid_cluster`), so that voxels
/// adjacent along the last axis have consecutive labels and their ranges merge.
pub fn grid_cluster(x: ArrayView2<f64>, size: f64) -> Result<Array1<usize>> {
    if !(size > 0.0 && size.is_finite()) {
        return Err(invalid(format!("grid_cluster: the voxel size must be a positive number, not {size}")));
    }
    let mut voxels = Vec::with_capacity(x.nrows());
    for (k, p) in x.rows().into_iter().enumerate() {
        if p.iter().any(|v| !v.is_finite()) {
            return Err(invalid(format!("grid_cluster: point {k} has a non-finite coordinate")));
        }
        voxels.push(p.iter().map(|v| (v / size).floor() as i64).collect::<Vec<i64>>());
    }
    let mut distinct = voxels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let ids: HashMap<&[i64], usize> = distinct.iter().enumerate().map(|(k, v)| (v.as_slice(), k)).collect();
    Ok(voxels.iter().map(|v| ids[v.as_slice()]).collect())
}

/// The permutation that sorts points by label (stable), and the sorted labels (KeOps'
/// `sort_clusters` applies it to the points: `x.select(Axis(0), &order)`).
pub fn sort_clusters(labels: ArrayView1<usize>) -> (Vec<usize>, Array1<usize>) {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by_key(|&k| labels[k]);
    let sorted = order.iter().map(|&k| labels[k]).collect();
    (order, sorted)
}

/// Each cluster's range of points, centroid (one row per cluster) and total weight.
pub type Clusters = (Vec<Range<usize>>, Array2<f64>, Array1<f64>);

/// For points sorted by label: each label's range of points, centroid and total weight (KeOps'
/// `cluster_ranges_centroids`; weights default to 1). Labels run from 0 to their maximum;
/// a label with no point has an empty range, a zero centroid and a zero weight.
pub fn cluster_ranges_centroids(
    x: ArrayView2<f64>,
    labels: ArrayView1<usize>,
    weights: Option<ArrayView1<f64>>,
) -> Result<Clusters> {
    if labels.len() != x.nrows() {
        return Err(invalid(format!("{} labels for {} points", labels.len(), x.nrows())));
    }
    if let Some(w) = &weights {
        if w.len() != x.nrows() {
            return Err(invalid(format!("{} weights for {} points", w.len(), x.nrows())));
        }
    }
    if labels.iter().zip(labels.iter().skip(1)).any(|(a, b)| b < a) {
        return Err(invalid("the points must be sorted by label first (sort_clusters)".into()));
    }
    let count = labels.iter().max().map_or(0, |&m| m + 1);
    let mut ranges = vec![0..0; count];
    let mut centroids = Array2::zeros((count, x.ncols()));
    let mut mass = Array1::zeros(count);
    for (k, &l) in labels.iter().enumerate() {
        // Points of a label are contiguous (sorted): its range starts at its first point.
        if ranges[l].end == 0 {
            ranges[l] = k..k;
        }
        ranges[l].end = k + 1;
        let w = weights.as_ref().map_or(1.0, |w| w[k]);
        mass[l] += w;
        centroids.row_mut(l).scaled_add(w, &x.row(k));
    }
    for (mut c, &m) in centroids.axis_iter_mut(NdAxis(0)).zip(mass.iter()) {
        if m != 0.0 {
            c /= m;
        }
    }
    Ok((ranges, centroids, mass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn from_matrix_merges_touching_ranges_and_transposes() {
        let ri = [0..2, 2..5];
        let rj = [0..3, 3..4, 4..9];
        let keep = array![[true, true, false], [false, true, true]];
        let r = from_matrix(&ri, &rj, keep.view()).unwrap();
        assert_eq!(r.slices_i, [1, 2]);
        assert_eq!(r.redranges_j, [0..4, 3..9]);
        assert_eq!(r.slices_j, [1, 2, 3]);
        assert_eq!(r.redranges_i, [0..2, 0..5, 2..5]);
        r.check(5, 9).unwrap();
        assert_eq!(swap_axes(&swap_axes(&r)), r);
        assert_eq!(r.for_axis(Axis::J).pairs(), 2 * 4 + 3 * 6);
        assert_eq!(r.for_axis(Axis::I).pairs(), 26);
    }

    #[test]
    fn clusters_from_a_grid() {
        let x = array![[0.1, 0.1], [2.5, 0.2], [0.3, 0.9], [2.2, 0.1]];
        let labels = grid_cluster(x.view(), 1.0).unwrap();
        assert_eq!(labels.to_vec(), [0, 1, 0, 1]);
        let (order, sorted) = sort_clusters(labels.view());
        assert_eq!(order, [0, 2, 1, 3]);
        let xs = x.select(NdAxis(0), &order);
        let (ranges, centroids, mass) = cluster_ranges_centroids(xs.view(), sorted.view(), None).unwrap();
        assert_eq!(ranges, [0..2, 2..4]);
        assert_eq!(mass.to_vec(), [2.0, 2.0]);
        assert!((centroids[[0, 1]] - 0.5).abs() < 1e-12 && (centroids[[1, 0]] - 2.35).abs() < 1e-12);
        assert!(grid_cluster(x.view(), 0.0).is_err());
        assert!(cluster_ranges_centroids(x.view(), labels.view(), None).is_err(), "unsorted labels");
    }

    #[test]
    fn checks_name_the_bad_range() {
        let r = Ranges {
            ranges_i: vec![Range { start: 0, end: 3 }],
            slices_i: vec![1],
            redranges_j: vec![Range { start: 0, end: 12 }],
            ranges_j: vec![],
            slices_j: vec![],
            redranges_i: vec![],
        };
        let e = r.check(3, 10).unwrap_err().to_string();
        assert!(e.contains("0..12 is not within 0..10"), "{e}");
        let arrays = r.to_arrays().map(|a| a.mapv(|v| v as f64));
        let back = Ranges::from_arrays([0, 1, 2, 3, 4, 5].map(|k| arrays[k].view())).unwrap();
        assert_eq!(back, r);
    }
}
