//! Axis ticks: "nice" positions (1, 2, 2.5, 5 × 10^k steps) and labels written as a person would.

/// Tick positions inside [lo, hi], at most about `max_count` of them, and their labels.
pub fn ticks(lo: f64, hi: f64, max_count: usize) -> Vec<(f64, String)> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let step = nice_step((hi - lo) / max_count.max(1) as f64);
    // A tolerance of a millionth of a step keeps the end points when lo and hi are multiples of it.
    let eps = step * 1e-6;
    let first = ((lo - eps) / step).ceil() as i64;
    let last = ((hi + eps) / step).floor() as i64;
    let fmt = Format::for_step(step, lo.abs().max(hi.abs()));
    (first..=last).map(|k| k as f64 * step).map(|v| (v, fmt.label(v))).collect()
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() { raw } else { 1.0 };
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * mag)
}

/// How the labels of one axis are written: fixed decimals, or a mantissa and exponent for very
/// large or small magnitudes (all labels of an axis share one style so they line up).
struct Format {
    decimals: usize,
    scientific: bool,
}

impl Format {
    fn for_step(step: f64, magnitude: f64) -> Format {
        let scientific = magnitude >= 1e5 || (magnitude > 0.0 && magnitude < 1e-3);
        if scientific {
            // Enough mantissa digits to tell neighbouring ticks apart.
            let digits = (magnitude.log10().floor() - step.log10().floor()).max(0.0) as usize;
            return Format { decimals: digits.min(6), scientific };
        }
        let mut decimals = (-step.log10().floor()).max(0.0) as usize;
        // Steps of 2.5 × 10^k need one more digit than their magnitude suggests.
        if (step / 10f64.powi(-(decimals as i32)) - 2.5).abs() < 1e-6 {
            decimals += 1;
        }
        Format { decimals: decimals.min(12), scientific }
    }

    fn label(&self, v: f64) -> String {
        let s = if self.scientific && v != 0.0 {
            let s = format!("{:.*e}", self.decimals, v);
            // Rust writes 1.5e-5; a person expects the same, without "e0" for plain numbers.
            s.strip_suffix("e0").map_or(s.clone(), str::to_string)
        } else {
            format!("{:.*}", self.decimals, v)
        };
        let s = if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { s.replace('-', "") } else { s };
        // Typographic minus, as matplotlib writes it: a hyphen looks too short next to digits.
        s.replace('-', "\u{2212}")
    }
}

/// A number as a short label (colour bar limits, figure summaries): 4 significant digits.
pub fn short(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        let s = format!("{v:.4}");
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
        s.replace('-', "\u{2212}")
    } else {
        format!("{v:.3e}").replace('-', "\u{2212}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64, n: usize) -> Vec<String> {
        ticks(lo, hi, n).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(labels(0.0, 1.0, 5), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(-1.0, 1.0, 4), ["\u{2212}1.0", "\u{2212}0.5", "0.0", "0.5", "1.0"]);
        assert_eq!(labels(0.0, 1.0, 4), ["0.00", "0.25", "0.50", "0.75", "1.00"]);
        assert_eq!(labels(0.0, 3000.0, 6), ["0", "500", "1000", "1500", "2000", "2500", "3000"]);
        assert_eq!(labels(0.0, 3e-5, 3), ["0", "1e\u{2212}5", "2e\u{2212}5", "3e\u{2212}5"]);
        assert!(ticks(1.0, 1.0, 5).is_empty());
    }
}
