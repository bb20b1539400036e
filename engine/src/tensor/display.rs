//! Printing tensors as PyTorch does: `tensor([[1.0000, 2.0000], ...], dtype=float32)`, summarised when big.
//!
//! One number format is chosen for all the values shown (integers as `1.`, fixed point with
//! four decimals, or scientific notation when magnitudes differ by more than 1000), every
//! value is padded to the same width, rows wrap at 80 columns, and tensors of more than 1000
//! elements show only their first and last three entries along each dimension, followed by
//! their shape.

use super::{with_dtype, Elem, Tensor};
use ndarray::{ArrayViewD, Axis};
use std::fmt;

/// Tensors with more elements than this are summarised.
const THRESHOLD: usize = 1000;
/// Entries shown at each end of a summarised dimension.
const EDGE: usize = 3;
const LINE_WIDTH: usize = 80;

/// How the shown values are written.
struct Format {
    int_mode: bool,
    sci: bool,
    width: usize,
}

impl Format {
    fn new(values: &[f64]) -> Format {
        let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let int_mode = finite.iter().all(|x| x.fract() == 0.0);
        let nonzero: Vec<f64> = finite.iter().map(|x| x.abs()).filter(|&x| x > 0.0).collect();
        let (lo, hi) = nonzero.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let sci = !nonzero.is_empty() && (hi > 1e8 || (!int_mode && (hi / lo > 1000.0 || lo < 1e-4)));
        let mut f = Format { int_mode, sci, width: 0 };
        f.width = values.iter().map(|&x| f.raw(x).len()).max().unwrap_or(0);
        f
    }

    fn raw(&self, x: f64) -> String {
        if !x.is_finite() {
            return if x.is_nan() {
                "nan".into()
            } else if x > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            };
        }
        if self.sci {
            // Rust writes 1.0000e5; PyTorch (and C) write 1.0000e+05.
            let s = format!("{x:.4e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
            format!("{mantissa}e{sign}{digits:0>2}")
        } else if self.int_mode {
            format!("{x:.0}.")
        } else {
            format!("{x:.4}")
        }
    }

    fn pad(&self, x: f64) -> String {
        format!("{:>w$}", self.raw(x), w = self.width)
    }
}

/// The indices shown along a dimension of length `len`; `None` stands for the elided middle.
fn shown(len: usize, summarise: bool) -> Vec<Option<usize>> {
    if summarise && len > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((len - EDGE..len).map(Some)).collect()
    } else {
        (0..len).map(Some).collect()
    }
}

/// Calls `f` on every value that will be shown, to choose the format.
fn visit<T: Elem>(a: &ArrayViewD<T>, summarise: bool, f: &mut impl FnMut(f64)) {
    if a.ndim() == 0 {
        a.iter().for_each(|x| f(x.as_f64()));
        return;
    }
    for i in shown(a.shape()[0], summarise).into_iter().flatten() {
        visit(&a.index_axis(Axis(0), i), summarise, f);
    }
}

/// Writes `a` as nested brackets; `indent` is the column of its opening bracket.
fn render<T: Elem>(a: &ArrayViewD<T>, fmt: &Format, summarise: bool, indent: usize, out: &mut String) {
    if a.ndim() == 0 {
        out.push_str(&a.iter().next().map_or(String::new(), |x| fmt.raw(x.as_f64())));
        return;
    }
    let idx = shown(a.shape()[0], summarise);
    out.push('[');
    if a.ndim() == 1 {
        let items: Vec<String> =
            idx.iter().map(|i| i.map_or(" ...".to_string(), |i| fmt.pad(a[[i]].as_f64()))).collect();
        let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (fmt.width + 2)).max(1);
        let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
        out.push_str(&lines.join(&format!(",\n{}", " ".repeat(indent + 1))));
    } else {
        let sep = format!(",{}{}", "\n".repeat(a.ndim() - 1), " ".repeat(indent + 1));
        for (k, i) in idx.iter().enumerate() {
            if k > 0 {
                out.push_str(&sep);
            }
            match i {
                Some(i) => render(&a.index_axis(Axis(0), *i), fmt, summarise, indent + 1, out),
                None => out.push_str("..."),
            }
        }
    }
    out.push(']');
}

/// The nested brackets of a non-empty array.
fn body<T: Elem>(a: &ArrayViewD<T>, summarise: bool) -> String {
    let mut values = Vec::new();
    visit(a, summarise, &mut |x| values.push(x));
    let mut out = String::new();
    render(a, &Format::new(&values), summarise, "tensor(".len(), &mut out);
    out
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarise = self.numel() > THRESHOLD;
        // An empty tensor has no values to show, whatever its shape (which follows).
        let body = if self.numel() == 0 {
            "[]".to_string()
        } else {
            with_dtype!(data self.data(), a => body(&a.view(), summarise))
        };
        write!(f, "tensor({body}")?;
        if summarise || self.numel() == 0 {
            write!(f, ", shape={:?}", self.shape())?;
        }
        write!(f, ", dtype={}", self.dtype().name())?;
        match self.grad_fn() {
            Some(op) => write!(f, ", grad_fn=<{op}>")?,
            None if self.is_requires_grad() => write!(f, ", requires_grad=true")?,
            None => {}
        }
        write!(f, ")")
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
