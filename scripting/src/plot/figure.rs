//! The figure model: a grid of `Axes` (subplots), each holding items (scatter, lines, segments, arrows, heatmaps).
//!
//! Nothing here draws: `render` turns a `Figure` into pixels or SVG. Coordinates are data
//! coordinates; sizes (marker radius, line width) are pixels.

use super::colormap::{Color, Colormap, CYCLE};
use std::fmt;

/// A point in data coordinates.
pub type Point = [f64; 2];

/// A whole picture: `nrows × ncols` panels filled row by row, and an optional overall title.
#[derive(Debug, Clone)]
pub struct Figure {
    pub width: u32,
    pub height: u32,
    pub nrows: usize,
    pub ncols: usize,
    pub title: Option<String>,
    pub axes: Vec<Axes>,
    /// The panel that the plotting methods draw into (0-based).
    pub current: usize,
}

/// One panel: its items and decorations.
#[derive(Debug, Clone, Default)]
pub struct Axes {
    pub title: Option<String>,
    pub xlabel: Option<String>,
    pub ylabel: Option<String>,
    pub xlim: Option<(f64, f64)>,
    pub ylim: Option<(f64, f64)>,
    /// Equal scales on both axes; None decides from the items (point clouds, images, arrows: yes).
    pub equal: Option<bool>,
    /// None shows the legend when an item has a label.
    pub legend: Option<bool>,
    pub grid: bool,
    /// The y axis points down (row 0 of an image at the top), as `imshow(origin="upper")`.
    pub y_down: bool,
    pub items: Vec<Item>,
    /// How many items took their colour from the cycle (explicit colours do not advance it, as in matplotlib).
    pub cycled: usize,
}

/// Values mapped to colours through a colormap over [vmin, vmax].
#[derive(Debug, Clone, PartialEq)]
pub struct ColorScale {
    pub cmap: Colormap,
    pub vmin: f64,
    pub vmax: f64,
    /// The colour bar: None hides it, Some("") shows it without a label.
    pub colorbar: Option<String>,
}

impl ColorScale {
    /// A scale over the finite range of `values` unless given; a constant range is widened so colours stay defined.
    pub fn new(cmap: Colormap, values: &[f64], vmin: Option<f64>, vmax: Option<f64>, colorbar: Option<String>) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (mut vmin, mut vmax) = (
            vmin.unwrap_or(if lo.is_finite() { lo } else { 0.0 }),
            vmax.unwrap_or(if hi.is_finite() { hi } else { 1.0 }),
        );
        if vmax <= vmin {
            let d = if vmin == 0.0 { 0.5 } else { vmin.abs() * 0.05 };
            (vmin, vmax) = (vmin - d, vmin + d);
        }
        ColorScale { cmap, vmin, vmax, colorbar }
    }

    /// The colour of `v`; NaN is transparent, so missing values show the background as in matplotlib.
    pub fn color(&self, v: f64) -> Color {
        if v.is_nan() {
            return Color::WHITE.with_alpha(0.0);
        }
        self.cmap.at((v - self.vmin) / (self.vmax - self.vmin))
    }
}

/// How scatter markers are coloured.
#[derive(Debug, Clone, PartialEq)]
pub enum Paint {
    Solid(Color),
    /// One value per point (`c`), through a colour scale.
    Mapped(Vec<f64>, ColorScale),
}

/// A 2-D array shown as coloured cells over `extent` = [x0, x1, y0, y1].
///
/// Row i covers y from y0 + i·dy to y0 + (i+1)·dy and column j likewise in x, so that
/// `z[i][j] = f(x_j, y_i)` on a grid looks like f: row 0 is at the bottom, as matplotlib's
/// `imshow(origin="lower")`. (`origin: "upper"` turns the panel's y axis downwards instead.)
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values.
    pub z: Vec<f64>,
    pub extent: [f64; 4],
    pub scale: ColorScale,
}

impl Heatmap {
    pub fn value(&self, i: usize, j: usize) -> f64 {
        self.z[i * self.cols + j]
    }
}

/// Something drawn in a panel.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Scatter {
        points: Vec<Point>,
        paint: Paint,
        radius: f64,
        alpha: f64,
        label: Option<String>,
        cloud: bool,
    },
    /// Polylines sharing a style (one curve, or several trajectories).
    Lines {
        curves: Vec<Vec<Point>>,
        color: Color,
        width: f64,
        label: Option<String>,
        cloud: bool,
    },
    /// Straight segments a → b, each with its own opacity (transport plans).
    Segments {
        segments: Vec<(Point, Point, f64)>,
        color: Color,
        width: f64,
        label: Option<String>,
    },
    /// Arrows from each point along its vector times `scale`.
    Quiver {
        points: Vec<Point>,
        vectors: Vec<Point>,
        scale: f64,
        color: Color,
        width: f64,
        label: Option<String>,
    },
    Heatmap(Heatmap),
}

impl Item {
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Scatter { .. } => "scatter",
            Item::Lines { .. } => "plot",
            Item::Segments { .. } => "segments",
            Item::Quiver { .. } => "quiver",
            Item::Heatmap(_) => "heatmap",
        }
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            Item::Scatter { label, .. }
            | Item::Lines { label, .. }
            | Item::Segments { label, .. }
            | Item::Quiver { label, .. } => label.as_deref(),
            Item::Heatmap(_) => None,
        }
    }

    /// Whether the item is geometry in the plane, whose shape an unequal scale would distort.
    fn is_geometry(&self) -> bool {
        match self {
            Item::Scatter { cloud, .. } | Item::Lines { cloud, .. } => *cloud,
            Item::Segments { .. } | Item::Quiver { .. } | Item::Heatmap(_) => true,
        }
    }

    pub fn scale(&self) -> Option<&ColorScale> {
        match self {
            Item::Scatter { paint: Paint::Mapped(_, s), .. } => Some(s),
            Item::Heatmap(h) => Some(&h.scale),
            _ => None,
        }
    }

    /// The finite data points the item covers, for automatic limits.
    fn extremes(&self, visit: &mut dyn FnMut(Point)) {
        match self {
            Item::Scatter { points, .. } => points.iter().for_each(|&p| visit(p)),
            Item::Lines { curves, .. } => curves.iter().flatten().for_each(|&p| visit(p)),
            Item::Segments { segments, .. } => segments.iter().for_each(|&(a, b, _)| {
                visit(a);
                visit(b)
            }),
            Item::Quiver { points, vectors, scale, .. } => points.iter().zip(vectors).for_each(|(&p, &v)| {
                visit(p);
                visit([p[0] + scale * v[0], p[1] + scale * v[1]])
            }),
            Item::Heatmap(h) => {
                visit([h.extent[0], h.extent[2]]);
                visit([h.extent[1], h.extent[3]]);
            }
        }
    }
}

/// A data range [lo, hi] with hi > lo.
pub type Range = (f64, f64);

impl Axes {
    /// The colour scale of the colour bar: the first item's that shows one.
    pub fn colorbar(&self) -> Option<&ColorScale> {
        self.items.iter().filter_map(Item::scale).find(|s| s.colorbar.is_some())
    }

    pub fn equal_aspect(&self) -> bool {
        self.equal.unwrap_or_else(|| !self.items.is_empty() && self.items.iter().all(Item::is_geometry))
    }

    pub fn show_legend(&self) -> bool {
        self.legend.unwrap_or_else(|| self.items.iter().any(|i| i.label().is_some()))
    }

    pub fn has_image(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item::Heatmap(_)))
    }

    /// The colour an item takes when none is given: the next of matplotlib's cycle, per panel.
    pub fn next_color(&mut self) -> Color {
        self.cycled += 1;
        Color::rgb(CYCLE[(self.cycled - 1) % CYCLE.len()])
    }

    /// The x and y ranges shown: the limits set, else the items' extent with a 5% margin
    /// (none beside images, which fill their extent as in matplotlib).
    pub fn limits(&self) -> (Range, Range) {
        let mut data = [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY];
        let mut image = data;
        for item in &self.items {
            let target = if matches!(item, Item::Heatmap(_)) { &mut image } else { &mut data };
            item.extremes(&mut |p| {
                if p[0].is_finite() && p[1].is_finite() {
                    *target = [target[0].min(p[0]), target[1].max(p[0]), target[2].min(p[1]), target[3].max(p[1])];
                }
            });
        }
        let pad = |lo: f64, hi: f64, ilo: f64, ihi: f64| -> Range {
            let (lo, hi) = if lo <= hi {
                let m = if hi > lo {
                    0.05 * (hi - lo)
                } else if lo == 0.0 {
                    0.5
                } else {
                    0.05 * lo.abs()
                };
                (lo - m, hi + m)
            } else {
                (f64::INFINITY, f64::NEG_INFINITY)
            };
            let (lo, hi) = (lo.min(ilo), hi.max(ihi));
            if lo < hi {
                (lo, hi)
            } else if lo.is_finite() {
                (lo - 0.5, lo + 0.5)
            } else {
                (0.0, 1.0)
            }
        };
        let x = self.xlim.unwrap_or_else(|| pad(data[0], data[1], image[0], image[1]));
        let y = self.ylim.unwrap_or_else(|| pad(data[2], data[3], image[2], image[3]));
        (x, y)
    }
}

/// The largest figure side in pixels, which keeps a typo from allocating gigabytes.
pub const MAX_SIDE: u32 = 6000;

impl Figure {
    /// An empty figure of `nrows × ncols` panels; sizes are checked by the caller's options.
    pub fn new(nrows: usize, ncols: usize, width: u32, height: u32) -> Figure {
        let axes = vec![Axes::default(); nrows * ncols];
        Figure { width, height, nrows, ncols, title: None, axes, current: 0 }
    }

    /// The default size for a grid: about matplotlib's 6.4 × 4.8 in at 100 dpi per panel, capped.
    pub fn default_size(nrows: usize, ncols: usize) -> (u32, u32) {
        let w = (560 * ncols as u32).clamp(640, 1800);
        let h = (460 * nrows as u32).clamp(480, 1400);
        (w, h)
    }

    pub fn ax(&mut self) -> &mut Axes {
        let k = self.current.min(self.axes.len() - 1);
        &mut self.axes[k]
    }

    /// Makes panel `k` (0-based) the current one.
    pub fn select(&mut self, k: i64) -> Result<(), String> {
        let n = self.axes.len();
        if k < 0 || k as usize >= n {
            return Err(format!(
                "there is no panel {k}: this figure has {n} ({} × {}), numbered 0 to {}",
                self.nrows,
                self.ncols,
                n - 1
            ));
        }
        self.current = k as usize;
        Ok(())
    }
}

/// The plain-text summary shown beside the picture: `<Figure 1200×500, 2 panels: scatter | scatter+colorbar>`.
impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let panels: Vec<String> = self
            .axes
            .iter()
            .map(|ax| {
                let mut kinds: Vec<&str> = ax.items.iter().map(Item::kind).collect();
                kinds.dedup();
                let mut s = if kinds.is_empty() { "empty".to_string() } else { kinds.join("+") };
                if ax.colorbar().is_some() {
                    s.push_str("+colorbar");
                }
                s
            })
            .collect();
        let title = self.title.as_ref().map(|t| format!(" \"{t}\"")).unwrap_or_default();
        let n = self.axes.len();
        write!(
            f,
            "<Figure{title} {}×{}, {n} panel{}: {}>",
            self.width,
            self.height,
            if n == 1 { "" } else { "s" },
            panels.join(" | ")
        )
    }
}
