//! Axis ticks: "nice" positions (1, 2, 2.5, 5 × 10^k steps) and labels written as a person would.

/// The ticks of an axis: positions with their labels, and the power of ten the labels are
/// multiplied by (drawn once at the end of the axis, as matplotlib's offset text) when the
/// values are too large or too small to write plainly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ticks {
    pub marks: Vec<(f64, String)>,
    /// The labels are to be multiplied by 10 to this power.
    pub exponent: Option<i32>,
}

/// Ticks inside [lo, hi], at most about `max_count` of them.
pub fn ticks(lo: f64, hi: f64, max_count: usize) -> Ticks {
    // A range wider than f64 can hold has no meaningful ticks (and would overflow the counts below).
    if !(hi - lo).is_finite() || hi <= lo {
        return Ticks::default();
    }
    let step = nice_step((hi - lo) / max_count.max(1) as f64);
    // A tolerance of a millionth of a step keeps the end points when lo and hi are multiples of it.
    let eps = step * 1e-6;
    let first = ((lo - eps) / step).ceil() as i64;
    let last = ((hi + eps) / step).floor() as i64;
    let magnitude = lo.abs().max(hi.abs());
    let exponent = if (1e-3..1e5).contains(&magnitude) { 0 } else { magnitude.log10().floor() as i32 };
    let unit = 10f64.powi(exponent);
    let decimals = decimals(step / unit);
    let marks = (first..=last).map(|k| k as f64 * step).map(|v| (v, label(v / unit, decimals))).collect();
    Ticks { marks, exponent: (exponent != 0).then_some(exponent) }
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() { raw } else { 1.0 };
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * mag)
}

/// A number with a typographic minus.
pub fn signed(n: i32) -> String {
    n.to_string().replace('-', "\u{2212}")
}

/// Digits after the point that tell ticks `step` apart (2.5 × 10^k needs one more than its magnitude).
fn decimals(step: f64) -> usize {
    let d = (-step.log10().floor()).max(0.0) as usize;
    let extra = (step * 10f64.powi(d as i32) - 2.5).abs() < 1e-6;
    (d + extra as usize).min(12)
}

fn label(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    // "-0.0" is zero; and a typographic minus, as matplotlib writes it, since a hyphen looks too short next to digits.
    let s = if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { s.replace('-', "") } else { s };
    s.replace('-', "\u{2212}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64, n: usize) -> Vec<String> {
        ticks(lo, hi, n).marks.into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(labels(0.0, 1.0, 5), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(-1.0, 1.0, 4), ["\u{2212}1.0", "\u{2212}0.5", "0.0", "0.5", "1.0"]);
        assert_eq!(labels(0.0, 1.0, 4), ["0.00", "0.25", "0.50", "0.75", "1.00"]);
        assert_eq!(labels(0.0, 3000.0, 6), ["0", "500", "1000", "1500", "2000", "2500", "3000"]);
        assert_eq!(labels(0.0, 3e-5, 3), ["0", "1", "2", "3"]);
        assert_eq!(ticks(0.0, 3e-5, 3).exponent, Some(-5));
        assert_eq!(labels(0.0, 1e6, 5), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(ticks(0.0, 1e6, 5).exponent, Some(6));
        assert_eq!(ticks(0.0, 1.0, 5).exponent, None);
        assert!(ticks(1.0, 1.0, 5).marks.is_empty());
    }
}
