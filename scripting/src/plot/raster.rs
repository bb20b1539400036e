//! Anti-aliased coverage of strokes, discs and convex polygons, for PNG output.
//!
//! plotters fills wide lines, circles and polygons on whole pixels, which makes curves of width
//! 2 and arrow heads visibly jagged. Here each shape gives, for every pixel it touches, the
//! fraction of the pixel it covers (a distance-based box filter), and a pixel touched twice by
//! one shape keeps its larger coverage, so joints of translucent polylines are not darker.

/// Pixels (x, y) with their coverage in (0, 1].
pub type Coverage = Vec<(i32, i32, f32)>;

/// Sorts by pixel and keeps the largest coverage of each.
fn merge(mut c: Coverage) -> Coverage {
    c.sort_unstable_by_key(|&(x, y, _)| (y, x));
    c.dedup_by(|b, a| {
        let same = a.0 == b.0 && a.1 == b.1;
        if same {
            a.2 = a.2.max(b.2);
        }
        same
    });
    c
}

fn push(out: &mut Coverage, x: i32, y: i32, cov: f64) {
    if cov > 1.0 / 512.0 {
        out.push((x, y, cov.min(1.0) as f32));
    }
}

/// Distance from `p` to the segment a–b.
fn distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// The pixels of a polyline of `width` pixels with round joints; pixel (x, y) spans [x, x+1] × [y, y+1].
pub fn stroke(points: &[(f64, f64)], width: f64) -> Coverage {
    // Lines thinner than a pixel are drawn one pixel wide and fainter, which reads as thinner.
    let (r, gain) = if width < 1.0 { (0.5, width) } else { (width / 2.0, 1.0) };
    let mut out = Coverage::new();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        // Walk the major axis; across it, cover the stroke's half-width plus a pixel for the fringe.
        let steep = dy.abs() > dx.abs();
        let (a, b) = if steep { ((a.1, a.0), (b.1, b.0)) } else { (a, b) };
        let (a, b) = if a.0 <= b.0 { (a, b) } else { (b, a) };
        let slope = if b.0 > a.0 { (b.1 - a.1) / (b.0 - a.0) } else { 0.0 };
        let reach = (r + 1.0) * (1.0 + slope * slope).sqrt();
        for u in (a.0 - r - 1.0).floor() as i32..=(b.0 + r + 1.0).ceil() as i32 {
            let uc = (u as f64 + 0.5).clamp(a.0, b.0);
            let vc = a.1 + slope * (uc - a.0);
            for v in (vc - reach).floor() as i32..=(vc + reach).ceil() as i32 {
                let d = distance((u as f64 + 0.5, v as f64 + 0.5), a, b);
                let (x, y) = if steep { (v, u) } else { (u, v) };
                push(&mut out, x, y, gain * (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }
    merge(out)
}

/// The pixels of a disc of radius `r` (at least half a pixel) centred at `c`.
pub fn disc(c: (f64, f64), r: f64) -> Coverage {
    let r = r.max(0.5);
    let mut out = Coverage::new();
    for y in (c.1 - r - 1.0).floor() as i32..=(c.1 + r + 1.0).ceil() as i32 {
        for x in (c.0 - r - 1.0).floor() as i32..=(c.0 + r + 1.0).ceil() as i32 {
            let (dx, dy) = (x as f64 + 0.5 - c.0, y as f64 + 0.5 - c.1);
            push(&mut out, x, y, r + 0.5 - (dx * dx + dy * dy).sqrt());
        }
    }
    out
}

/// The pixels of a convex polygon (vertices in either order).
pub fn convex(points: &[(f64, f64)]) -> Coverage {
    let n = points.len();
    if n < 3 {
        return Coverage::new();
    }
    // Signed area decides which side of each edge is inside.
    let area: f64 = (0..n)
        .map(|k| {
            let (p, q) = (points[k], points[(k + 1) % n]);
            p.0 * q.1 - q.0 * p.1
        })
        .sum();
    let sign = if area >= 0.0 { 1.0 } else { -1.0 };
    let (x0, x1) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let mut out = Coverage::new();
    for y in (y0 - 1.0).floor() as i32..=(y1 + 1.0).ceil() as i32 {
        for x in (x0 - 1.0).floor() as i32..=(x1 + 1.0).ceil() as i32 {
            let p = (x as f64 + 0.5, y as f64 + 0.5);
            // The distance inside the nearest edge, positive inside.
            let inside = (0..n).map(|k| {
                let (a, b) = (points[k], points[(k + 1) % n]);
                let (ex, ey) = (b.0 - a.0, b.1 - a.1);
                let len = (ex * ex + ey * ey).sqrt().max(1e-12);
                sign * (ex * (p.1 - a.1) - ey * (p.0 - a.0)) / len
            });
            push(&mut out, x, y, inside.fold(f64::INFINITY, f64::min) + 0.5);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(c: &Coverage, x: i32, y: i32) -> f32 {
        c.iter().find(|p| p.0 == x && p.1 == y).map_or(0.0, |p| p.2)
    }

    #[test]
    fn shapes_cover_their_pixels() {
        // A horizontal line along pixel centres covers its row fully and nothing beside it.
        let line = stroke(&[(0.0, 5.5), (10.0, 5.5)], 1.0);
        assert_eq!(at(&line, 5, 5), 1.0);
        assert_eq!(at(&line, 5, 4), 0.0);
        // A joint is covered once.
        let bent = stroke(&[(0.0, 0.5), (5.0, 0.5), (5.0, 8.0)], 2.0);
        assert_eq!(bent.iter().filter(|p| p.0 == 5 && p.1 == 0).count(), 1);
        let d = disc((10.0, 10.0), 3.0);
        assert_eq!(at(&d, 9, 9), 1.0);
        assert_eq!(at(&d, 20, 10), 0.0);
        let tri = convex(&[(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]);
        assert_eq!(at(&tri, 2, 2), 1.0);
        assert_eq!(at(&tri, 8, 8), 0.0);
        assert_eq!(convex(&[(0.0, 0.0), (0.0, 10.0), (10.0, 0.0)]), tri);
    }
}
