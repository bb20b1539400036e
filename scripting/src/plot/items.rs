//! From script arguments to figure items: shape checks on tensors and arrays, and each kind's options.

use super::figure::{Axes, ColorScale, Heatmap, Item, Paint, Point};
use super::options::Opts;
use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::values::to_tensor;
use rhai::Dynamic;

/// The kinds of plots, each a Rhai function and a `Figure` method of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scatter,
    Plot,
    Quiver,
    Segments,
    Heatmap,
}

impl Kind {
    /// The options of the kind, besides the panel's (`AXES_KEYS`).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Scatter => &["c", "cmap", "vmin", "vmax", "colorbar", "s", "color", "alpha", "label"],
            Kind::Plot => &["color", "linewidth", "alpha", "label"],
            Kind::Quiver => &["color", "scale", "linewidth", "alpha", "label"],
            Kind::Segments => &["color", "alpha", "linewidth", "label"],
            Kind::Heatmap => &["extent", "cmap", "vmin", "vmax", "colorbar", "origin"],
        }
    }

    /// How many data arguments the kind takes (before the options map).
    fn arities(self) -> &'static [usize] {
        match self {
            Kind::Scatter | Kind::Plot => &[1, 2],
            Kind::Quiver | Kind::Segments => &[2],
            Kind::Heatmap => &[1],
        }
    }

    /// The accepted calls, for error messages.
    pub fn usage(self, name: &str) -> String {
        let forms = match self {
            Kind::Scatter => "(x) with x an N×2 tensor of points, or (x, y) with two vectors",
            Kind::Plot => "(y) with a vector, (x, y) with two vectors, (points) with an N×2 tensor, or (paths) with a T×N×2 tensor (N curves of T points)",
            Kind::Quiver => "(x, v) with x the N×2 base points and v the N×2 vectors",
            Kind::Segments => "(a, b) with two N×2 tensors (segments a_k → b_k), or with an N×M matrix as option alpha (every a_i → b_j)",
            Kind::Heatmap => "(z) with z a 2-D tensor (rows × columns)",
        };
        format!("use {name}{forms}, optionally followed by an options map")
    }
}

/// A tensor argument's shape and values.
struct Data {
    shape: Vec<usize>,
    values: Vec<f64>,
}

fn data(d: &Dynamic, ctx: &Context, func: &str) -> RhaiResult<Data> {
    let t = to_tensor(d, ctx, func)?;
    Ok(Data { shape: t.shape().to_vec(), values: t.to_vec_f64() })
}

fn shape_text(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "))
}

impl Data {
    /// The values of a vector: a tensor with at most one dimension longer than 1 (N, N×1 or 1×N).
    fn vector(self, func: &str, what: &str) -> RhaiResult<Vec<f64>> {
        if self.shape.iter().filter(|&&n| n != 1).count() > 1 {
            return Err(rt(
                func,
                format!("{what} must be a vector (shape [N] or [N, 1]), got shape {}", shape_text(&self.shape)),
            ));
        }
        Ok(self.values)
    }

    /// The rows of an N×2 tensor.
    fn points(self, func: &str, what: &str) -> RhaiResult<Vec<Point>> {
        if self.shape.len() != 2 || self.shape[1] != 2 {
            return Err(rt(
                func,
                format!("{what} must be an N×2 tensor of points, got shape {}", shape_text(&self.shape)),
            ));
        }
        Ok(self.values.chunks(2).map(|p| [p[0], p[1]]).collect())
    }
}

fn same_len(func: &str, (a, n): (&str, usize), (b, m): (&str, usize)) -> RhaiResult<()> {
    if n == m {
        Ok(())
    } else {
        Err(rt(func, format!("{a} has {n} entries but {b} has {m}")))
    }
}

/// Adds the item described by `args` and `opts` to `ax`, then applies the panel options.
pub fn add(ax: &mut Axes, kind: Kind, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<()> {
    let func = opts.func();
    if !kind.arities().contains(&args.len()) {
        return Err(rt(func, kind.usage(func)));
    }
    let item = match kind {
        Kind::Scatter => scatter(ax, args, opts, ctx)?,
        Kind::Plot => plot(ax, args, opts, ctx)?,
        Kind::Quiver => quiver(ax, args, opts, ctx)?,
        Kind::Segments => segments(ax, args, opts, ctx)?,
        Kind::Heatmap => heatmap(ax, args, opts, ctx)?,
    };
    ax.items.push(item);
    apply_axes_options(ax, opts)
}

/// The panel options any plotting call may carry.
pub fn apply_axes_options(ax: &mut Axes, opts: &Opts) -> RhaiResult<()> {
    if let Some(s) = opts.string("title")? {
        ax.title = Some(s);
    }
    if let Some(s) = opts.string("xlabel")? {
        ax.xlabel = Some(s);
    }
    if let Some(s) = opts.string("ylabel")? {
        ax.ylabel = Some(s);
    }
    ax.xlim = opts.range("xlim")?.or(ax.xlim);
    ax.ylim = opts.range("ylim")?.or(ax.ylim);
    ax.equal = opts.flag("equal")?.or(ax.equal);
    ax.legend = opts.flag("legend")?.or(ax.legend);
    ax.grid = opts.flag("grid")?.unwrap_or(ax.grid);
    Ok(())
}

/// A colour scale for `values` from the options cmap, vmin, vmax and colorbar.
fn color_scale(opts: &Opts, values: &[f64]) -> RhaiResult<ColorScale> {
    let (vmin, vmax) = (opts.num("vmin")?, opts.num("vmax")?);
    if let (Some(a), Some(b)) = (vmin, vmax) {
        if a >= b {
            return Err(rt(opts.func(), format!("vmin ({a}) must be below vmax ({b})")));
        }
    }
    Ok(ColorScale::new(opts.cmap("cmap")?, values, vmin, vmax, opts.colorbar()?))
}

/// The points of `(x)` (an N×2 cloud) or `(x, y)` (two vectors), and whether they are a cloud.
fn xy(args: &[Dynamic], ctx: &Context, func: &str) -> RhaiResult<(Vec<Point>, bool)> {
    if let [x, y] = args {
        let (x, y) = (data(x, ctx, func)?.vector(func, "x")?, data(y, ctx, func)?.vector(func, "y")?);
        same_len(func, ("x", x.len()), ("y", y.len()))?;
        return Ok((x.into_iter().zip(y).map(|(a, b)| [a, b]).collect(), false));
    }
    Ok((data(&args[0], ctx, func)?.points(func, "x")?, true))
}

fn scatter(ax: &mut Axes, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<Item> {
    let func = opts.func();
    let (points, cloud) = xy(args, ctx, func)?;
    let color = opts.color("color")?;
    let paint = match opts.get("c") {
        Some(c) => {
            if color.is_some() {
                return Err(rt(func, "give c (values mapped through cmap) or color (one colour), not both"));
            }
            let values = data(c, ctx, func)?.vector(func, "c")?;
            same_len(func, ("c", values.len()), ("the points", points.len()))?;
            let scale = color_scale(opts, &values)?;
            Paint::Mapped(values, scale)
        }
        None => {
            if let Some(k) = ["cmap", "vmin", "vmax"].iter().find(|k| opts.get(k).is_some()) {
                return Err(rt(func, format!("option \"{k}\" needs values to map: give them as c")));
            }
            Paint::Solid(color.unwrap_or_else(|| ax.next_color()))
        }
    };
    // s is the marker's area in square points, as in matplotlib (at 100 dpi).
    let s = opts.positive("s", 10000.0)?.unwrap_or(20.0);
    let radius = s.sqrt() / 2.0 * 100.0 / 72.0;
    let alpha = opts.num("alpha")?.unwrap_or(1.0).clamp(0.0, 1.0);
    Ok(Item::Scatter { points, paint, radius, alpha, label: opts.string("label")?, cloud })
}

fn line_style(ax: &mut Axes, opts: &Opts, width: f64) -> RhaiResult<(super::colormap::Color, f64)> {
    let color = opts.color("color")?.unwrap_or_else(|| ax.next_color());
    let alpha = opts.num("alpha")?.unwrap_or(1.0).clamp(0.0, 1.0);
    Ok((color.with_alpha(alpha), opts.positive("linewidth", 50.0)?.unwrap_or(width)))
}

fn plot(ax: &mut Axes, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<Item> {
    let func = opts.func();
    let (curves, cloud) = if args.len() == 2 {
        let (points, cloud) = xy(args, ctx, func)?;
        (vec![points], cloud)
    } else {
        let d = data(&args[0], ctx, func)?;
        match d.shape[..] {
            [_] => (vec![d.values.iter().enumerate().map(|(k, &y)| [k as f64, y]).collect()], false),
            [_, 2] => (vec![d.points(func, "the points")?], true),
            [t, n, 2] => {
                let curve =
                    |k: usize| (0..t).map(|s| [d.values[(s * n + k) * 2], d.values[(s * n + k) * 2 + 1]]).collect();
                ((0..n).map(curve).collect(), true)
            }
            _ => return Err(rt(func, format!("got shape {}: {}", shape_text(&d.shape), Kind::Plot.usage(func)))),
        }
    };
    let (color, width) = line_style(ax, opts, 2.0)?;
    Ok(Item::Lines { curves, color, width, label: opts.string("label")?, cloud })
}

fn quiver(ax: &mut Axes, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<Item> {
    let func = opts.func();
    let points = data(&args[0], ctx, func)?.points(func, "x")?;
    let vectors = data(&args[1], ctx, func)?.points(func, "v")?;
    same_len(func, ("x", points.len()), ("v", vectors.len()))?;
    let (color, width) = line_style(ax, opts, 1.0)?;
    let scale = opts.positive("scale", f64::MAX)?.unwrap_or(1.0);
    Ok(Item::Quiver { points, vectors, scale, color, width, label: opts.string("label")? })
}

fn segments(ax: &mut Axes, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<Item> {
    let func = opts.func();
    let a = data(&args[0], ctx, func)?.points(func, "a")?;
    let b = data(&args[1], ctx, func)?.points(func, "b")?;
    let color = opts.color("color")?.unwrap_or_else(|| ax.next_color());
    let width = opts.positive("linewidth", 50.0)?.unwrap_or(1.0);
    let alpha = match opts.get("alpha") {
        None => None,
        Some(d) if d.is_float() || d.is_int() => {
            Some(Data { shape: vec![], values: vec![opts.num("alpha")?.unwrap_or(1.0)] })
        }
        Some(d) => Some(data(d, ctx, func)?),
    };
    let segments: Vec<(Point, Point, f64)> = match alpha {
        // A transport plan: every a_i → b_j, with opacity alpha[i][j] / max(alpha).
        Some(Data { shape, values }) if shape.len() == 2 && shape[1] > 1 => {
            if shape != [a.len(), b.len()] {
                let expected = shape_text(&[a.len(), b.len()]);
                return Err(rt(
                    func,
                    format!("a matrix alpha must be {expected} (a's points × b's points), got {}", shape_text(&shape)),
                ));
            }
            let max = values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
            let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
            // Segments fainter than one 8-bit step would not show; skipping them keeps plans of N×M pairs fast.
            let pairs = (0..a.len()).flat_map(|i| (0..b.len()).map(move |j| (i, j)));
            pairs.map(|(i, j)| (a[i], b[j], values[i * b.len() + j] * scale)).filter(|s| s.2 >= 1.0 / 255.0).collect()
        }
        other => {
            same_len(func, ("a", a.len()), ("b", b.len()))?;
            let per: Vec<f64> = match other {
                None => vec![1.0; a.len()],
                Some(d) if d.values.len() == 1 => vec![d.values[0]; a.len()],
                Some(d) => {
                    let v = d.vector(func, "alpha")?;
                    same_len(func, ("alpha", v.len()), ("a", a.len()))?;
                    v
                }
            };
            a.into_iter().zip(b).zip(per).map(|((p, q), t)| (p, q, t.clamp(0.0, 1.0))).collect()
        }
    };
    Ok(Item::Segments { segments, color, width, label: opts.string("label")? })
}

fn heatmap(ax: &mut Axes, args: &[Dynamic], opts: &Opts, ctx: &Context) -> RhaiResult<Item> {
    let func = opts.func();
    let d = data(&args[0], ctx, func)?;
    let &[rows, cols] = &d.shape[..] else {
        return Err(rt(func, format!("z must be a 2-D tensor (rows × columns), got shape {}; reshape a grid's values first, e.g. z.reshape([100, 100])", shape_text(&d.shape))));
    };
    if rows == 0 || cols == 0 {
        return Err(rt(func, "z is empty"));
    }
    match opts.string("origin")?.as_deref() {
        None => {}
        Some("lower") => ax.y_down = false,
        Some("upper") => ax.y_down = true,
        Some(o) => {
            return Err(rt(
                func,
                format!("origin must be \"lower\" (row 0 at the bottom) or \"upper\" (row 0 at the top), got \"{o}\""),
            ))
        }
    }
    // As matplotlib: without an extent, cell centres sit on integer coordinates.
    let extent = opts.extent("extent")?.unwrap_or([-0.5, cols as f64 - 0.5, -0.5, rows as f64 - 0.5]);
    let scale = color_scale(opts, &d.values)?;
    Ok(Item::Heatmap(Heatmap { rows, cols, z: d.values, extent, scale }))
}
