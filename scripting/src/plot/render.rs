//! Draws a `Figure` on a plotters drawing area: panel layout, axes with ticks, the items, colour bars and legends.
//!
//! Layout is computed from the texts' measured widths, so tick labels, axis labels and colour
//! bar scales are never cut, and tick counts follow the space available. Sizes are in pixels,
//! matching matplotlib's defaults at 100 dpi (10 pt tick labels, 12 pt titles).

use super::canvas::{Canvas, Drawn, Rect, VAlign};
use super::colormap::Color;
use super::figure::{Axes, ColorScale, Figure, Heatmap, Item, Paint, Range};
use super::ticks::{signed, ticks, Ticks};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::HPos;

/// Text sizes in pixels per em.
const SUPTITLE: f64 = 19.0;
const TITLE: f64 = 17.0;
const LABEL: f64 = 15.0;
const TICK: f64 = 14.0;
const TICK_LEN: f64 = 5.0;
const PAD: f64 = 6.0;
/// Width of the colour bar and its gap from the panel.
const BAR: f64 = 18.0;
const BAR_GAP: f64 = 16.0;
const FRAME: Color = Color::BLACK;
const GRID: Color = Color::rgb(0xd9d9d9);

/// A heatmap that SVG output shows as an embedded image: `render` draws a placeholder rectangle
/// of colour `marker`, which `output` replaces by the image clipped to `clip`.
pub struct ImageSlot {
    pub marker: Color,
    pub clip: Rect,
    pub place: Rect,
    pub png: Vec<u8>,
}

/// Draws the whole figure; SVG output gets back the heatmap images to embed.
pub fn draw<DB: DrawingBackend>(fig: &Figure, c: &Canvas<DB>) -> Result<Vec<ImageSlot>, String> {
    c.area.fill(&plotters::style::WHITE).map_err(|e| format!("drawing failed: {e}"))?;
    let (w, h) = (fig.width as f64, fig.height as f64);
    let mut top = 0.0;
    if let Some(t) = &fig.title {
        let lines = wrap(c, t, SUPTITLE, w - 4.0 * PAD);
        for (k, line) in lines.iter().enumerate() {
            let y = 2.0 * PAD + k as f64 * LINE * SUPTITLE;
            c.text(line, (w / 2.0, y), SUPTITLE, HPos::Center, VAlign::Top, false, Color::BLACK)?;
        }
        top = 3.0 * PAD + SUPTITLE + (lines.len() - 1) as f64 * LINE * SUPTITLE;
    }
    let (pw, ph) = (w / fig.ncols as f64, (h - top) / fig.nrows as f64);
    let mut slots = Vec::new();
    for (k, ax) in fig.axes.iter().enumerate() {
        let (row, col) = ((k / fig.ncols) as f64, (k % fig.ncols) as f64);
        let panel = Rect { x: col * pw, y: top + row * ph, w: pw, h: ph };
        draw_axes(c, ax, panel, &mut slots)?;
    }
    Ok(slots)
}

/// Line spacing of wrapped titles, in ems.
const LINE: f64 = 1.3;

/// `s` cut at spaces into lines no wider than `width` (a single word longer than that stays whole).
fn wrap<DB: DrawingBackend>(c: &Canvas<DB>, s: &str, em: f64, width: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split(' ') {
        match lines.last_mut() {
            Some(line) if c.text_width(&format!("{line} {word}"), em) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Where a panel's parts go, for given limits.
struct Layout {
    panel: Rect,
    /// The panel title, wrapped to the panel's width, and the space between it and the plot.
    title: Vec<String>,
    title_gap: f64,
    plot: Rect,
    x: Range,
    y: Range,
    xticks: Ticks,
    yticks: Ticks,
    bar_ticks: Ticks,
    y_down: bool,
}

impl Layout {
    fn to_px(&self, p: [f64; 2]) -> (f64, f64) {
        let fx = (p[0] - self.x.0) / (self.x.1 - self.x.0);
        let fy = (p[1] - self.y.0) / (self.y.1 - self.y.0);
        let py = if self.y_down { self.plot.y + fy * self.plot.h } else { self.plot.bottom() - fy * self.plot.h };
        (self.plot.x + fx * self.plot.w, py)
    }
}

fn widest<DB: DrawingBackend>(c: &Canvas<DB>, t: &Ticks, size: f64) -> f64 {
    t.marks.iter().map(|(_, s)| c.text_width(s, size)).fold(0.0, f64::max)
}

/// The most x ticks whose labels fit side by side in `width` with room between them.
fn fitting_xticks<DB: DrawingBackend>(c: &Canvas<DB>, x: Range, width: f64) -> Ticks {
    let mut n = ((width / 50.0) as usize).clamp(2, 12);
    loop {
        let t = ticks(x.0, x.1, n);
        let needed: f64 = t.marks.iter().map(|(_, s)| c.text_width(s, TICK) + 2.0 * TICK).sum();
        if needed <= width || n <= 2 {
            return t;
        }
        n -= 1;
    }
}

/// How many ticks a vertical axis of `len` pixels gets at most: about one per 40 pixels.
fn tick_count(len: f64) -> usize {
    ((len / 40.0) as usize).clamp(2, 12)
}

fn layout<DB: DrawingBackend>(c: &Canvas<DB>, ax: &Axes, panel: Rect, x: Range, y: Range) -> Layout {
    // A power of ten shared by tick labels depends only on the range's magnitude; it needs a line
    // above the panel (y, colour bar) or below it (x, beside the x label).
    let scaled = |r: Range| ticks(r.0, r.1, 2).exponent.is_some();
    let above = scaled(y) || ax.colorbar().is_some_and(|s| scaled((s.vmin, s.vmax)));
    let title = ax.title.as_ref().map_or(Vec::new(), |t| wrap(c, t, TITLE, panel.w - 2.0 * PAD));
    let title_h = TITLE + (title.len().max(1) - 1) as f64 * LINE * TITLE;
    // The y axis's power of ten gets its own line under the title.
    let title_gap = 2.0 * PAD + if above { TICK + PAD } else { 0.0 };
    let top = PAD
        + if !title.is_empty() {
            title_h + title_gap
        } else if above {
            TICK + 2.0 * PAD
        } else {
            2.0 * PAD
        };
    let below = if ax.xlabel.is_some() || scaled(x) { LABEL + PAD } else { 0.0 };
    let bottom = TICK_LEN + 2.0 * PAD + TICK + below + PAD;
    let plot_h = (panel.h - top - bottom).max(10.0);
    let yticks = ticks(y.0, y.1, tick_count(plot_h));
    let bar_ticks = ax.colorbar().map_or(Ticks::default(), |s| ticks(s.vmin, s.vmax, tick_count(plot_h)));
    let left =
        2.0 * PAD + if ax.ylabel.is_some() { LABEL + PAD } else { 0.0 } + widest(c, &yticks, TICK) + PAD + TICK_LEN;
    let right = match ax.colorbar() {
        Some(s) => {
            let label = if s.colorbar.as_deref().is_some_and(|l| !l.is_empty()) { LABEL + 2.0 * PAD } else { 0.0 };
            BAR_GAP + BAR + TICK_LEN + PAD + widest(c, &bar_ticks, TICK) + label + 2.0 * PAD
        }
        // Room for half of the last x tick label, which is centred on the right edge.
        None => 3.0 * PAD + TICK,
    };
    let plot_w = (panel.w - left - right).max(10.0);
    let plot = Rect { x: panel.x + left, y: panel.y + top, w: plot_w, h: plot_h };
    let xticks = fitting_xticks(c, x, plot_w);
    Layout { panel, title, title_gap, plot, x, y, xticks, yticks, bar_ticks, y_down: ax.y_down }
}

/// The layout with equal scales if asked: panels keep their box and widen one range (as
/// `axis("equal")`), unless that range is fixed (an image's extent, limits set by the script):
/// then the box shrinks instead (as `imshow`).
fn fitted_layout<DB: DrawingBackend>(c: &Canvas<DB>, ax: &Axes, panel: Rect) -> Layout {
    let (x, y) = ax.limits();
    let mut l = layout(c, ax, panel, x, y);
    if !ax.equal_aspect() {
        return l;
    }
    let (xl, yl) = (x.1 - x.0, y.1 - y.0);
    let widen_x = xl / l.plot.w < yl / l.plot.h;
    let fixed = ax.has_image() || if widen_x { ax.xlim.is_some() } else { ax.ylim.is_some() };
    if fixed {
        let (p, aspect) = (l.plot, xl / yl);
        if p.w / p.h > aspect {
            let w = p.h * aspect;
            l.plot = Rect { x: p.x + (p.w - w) / 2.0, w, ..p };
        } else {
            let h = p.w / aspect;
            l.plot = Rect { y: p.y + (p.h - h) / 2.0, h, ..p };
        }
        l.xticks = fitting_xticks(c, x, l.plot.w);
        l.yticks = ticks(y.0, y.1, tick_count(l.plot.h));
        l.bar_ticks = ax.colorbar().map_or(Ticks::default(), |s| ticks(s.vmin, s.vmax, tick_count(l.plot.h)));
        return l;
    }
    // Twice, because widening y may widen its tick labels and so narrow the box.
    for _ in 0..2 {
        let unit = (xl / l.plot.w).max(yl / l.plot.h);
        let (cx, cy) = ((x.0 + x.1) / 2.0, (y.0 + y.1) / 2.0);
        let (hx, hy) = (unit * l.plot.w / 2.0, unit * l.plot.h / 2.0);
        l = layout(c, ax, panel, (cx - hx, cx + hx), (cy - hy, cy + hy));
    }
    l
}

fn draw_axes<DB: DrawingBackend>(c: &Canvas<DB>, ax: &Axes, panel: Rect, slots: &mut Vec<ImageSlot>) -> Drawn {
    let l = fitted_layout(c, ax, panel);
    let p = l.plot;
    if ax.grid {
        for (v, _) in &l.xticks.marks {
            let x = l.to_px([*v, l.y.0]).0;
            c.polyline(&[(x, p.y), (x, p.bottom())], &p, GRID, 1.0)?;
        }
        for (v, _) in &l.yticks.marks {
            let y = l.to_px([l.x.0, *v]).1;
            c.polyline(&[(p.x, y), (p.right(), y)], &p, GRID, 1.0)?;
        }
    }
    for item in ax.items.iter().filter(|i| matches!(i, Item::Heatmap(_))) {
        if let Item::Heatmap(h) = item {
            draw_heatmap(c, &l, h, slots)?;
        }
    }
    for item in ax.items.iter().filter(|i| !matches!(i, Item::Heatmap(_))) {
        draw_item(c, &l, item)?;
    }
    draw_frame(c, ax, &l)?;
    if let Some(scale) = ax.colorbar() {
        draw_colorbar(c, &l, scale)?;
    }
    if ax.show_legend() {
        draw_legend(c, ax, &l)?;
    }
    Ok(())
}

fn draw_frame<DB: DrawingBackend>(c: &Canvas<DB>, ax: &Axes, l: &Layout) -> Drawn {
    let p = l.plot;
    let outer = Rect { x: p.x - TICK_LEN - 1.0, y: p.y - 1.0, w: p.w + TICK_LEN + 2.0, h: p.h + TICK_LEN + 2.0 };
    for (v, s) in &l.xticks.marks {
        let x = l.to_px([*v, l.y.0]).0;
        c.polyline(&[(x, p.bottom()), (x, p.bottom() + TICK_LEN)], &outer, FRAME, 1.0)?;
        c.text(s, (x, p.bottom() + TICK_LEN + PAD), TICK, HPos::Center, VAlign::Top, false, FRAME)?;
    }
    for (v, s) in &l.yticks.marks {
        let y = l.to_px([l.x.0, *v]).1;
        c.polyline(&[(p.x - TICK_LEN, y), (p.x, y)], &outer, FRAME, 1.0)?;
        c.text(s, (p.x - TICK_LEN - PAD, y), TICK, HPos::Right, VAlign::Middle, false, FRAME)?;
    }
    c.rect(p, FRAME, false)?;
    // Powers of ten shared by the tick labels: under the x axis's right end, above the y axis.
    if let Some(e) = l.xticks.exponent {
        let y = p.bottom() + TICK_LEN + 2.0 * PAD + TICK + PAD;
        power_of_ten(c, e, (p.right(), y + 0.4 * TICK), true)?;
    }
    if let Some(e) = l.yticks.exponent {
        power_of_ten(c, e, (p.x, p.y - PAD), false)?;
    }
    // Centred on the plot, but kept inside the panel when long.
    for (k, line) in l.title.iter().enumerate() {
        let half = c.text_width(line, TITLE) / 2.0;
        let x = (p.x + p.w / 2.0).min(l.panel.right() - PAD - half).max(l.panel.x + PAD + half);
        let y = p.y - l.title_gap - (l.title.len() - 1 - k) as f64 * LINE * TITLE;
        c.text(line, (x, y), TITLE, HPos::Center, VAlign::Bottom, false, FRAME)?;
    }
    if let Some(s) = &ax.xlabel {
        let y = p.bottom() + TICK_LEN + 2.0 * PAD + TICK + PAD;
        c.text(s, (p.x + p.w / 2.0, y), LABEL, HPos::Center, VAlign::Top, false, FRAME)?;
    }
    if let Some(s) = &ax.ylabel {
        let x = p.x - TICK_LEN - 2.0 * PAD - widest(c, &l.yticks, TICK);
        c.text(s, (x, p.y + p.h / 2.0), LABEL, HPos::Center, VAlign::Bottom, true, FRAME)?;
    }
    Ok(())
}

/// "×10" with a raised exponent, its baseline at `y`, starting at `x` (or ending there with `right`).
/// Superscript characters would be too small to read at tick label size.
fn power_of_ten<DB: DrawingBackend>(c: &Canvas<DB>, e: i32, (x, y): (f64, f64), right: bool) -> Drawn {
    let (base, exp, small) = ("×10", signed(e), 0.75 * TICK);
    let w = c.text_width(base, TICK) + c.text_width(&exp, small);
    let x = if right { x - w } else { x };
    // Anchors are the cap tops: the base's sits a cap height above the baseline, the exponent's higher.
    let cap = super::text::CAP_HEIGHT;
    c.text(base, (x, y - cap * TICK), TICK, HPos::Left, VAlign::Top, false, FRAME)?;
    let xe = x + c.text_width(base, TICK) + 1.0;
    c.text(&exp, (xe, y - cap * TICK - 0.4 * small), small, HPos::Left, VAlign::Top, false, FRAME)
}

fn draw_item<DB: DrawingBackend>(c: &Canvas<DB>, l: &Layout, item: &Item) -> Drawn {
    let clip = &l.plot;
    match item {
        Item::Scatter { points, paint, radius, alpha, .. } => {
            for (k, &pt) in points.iter().enumerate() {
                let q = l.to_px(pt);
                if !clip.contains(q) {
                    continue;
                }
                let color = match paint {
                    Paint::Solid(col) => *col,
                    Paint::Mapped(values, scale) => scale.color(values[k]),
                };
                c.disc(q, *radius, color.with_alpha(*alpha))?;
            }
        }
        Item::Lines { curves, color, width, .. } => {
            for curve in curves {
                let pts: Vec<(f64, f64)> = curve.iter().map(|&p| l.to_px(p)).collect();
                c.polyline(&pts, clip, *color, *width)?;
            }
        }
        Item::Segments { segments, color, width, .. } => {
            for &(a, b, alpha) in segments.iter().filter(|s| s.2 > 0.0) {
                c.polyline(&[l.to_px(a), l.to_px(b)], clip, color.with_alpha(color.a * alpha), *width)?;
            }
        }
        Item::Quiver { points, vectors, scale, color, width, .. } => {
            for (&p, &v) in points.iter().zip(vectors) {
                let (a, b) = (l.to_px(p), l.to_px([p[0] + scale * v[0], p[1] + scale * v[1]]));
                draw_arrow(c, a, b, clip, *color, *width)?;
            }
        }
        Item::Heatmap(_) => {}
    }
    Ok(())
}

/// An arrow a → b: a shaft and a filled head, the head shrinking for short arrows.
fn draw_arrow<DB: DrawingBackend>(
    c: &Canvas<DB>,
    a: (f64, f64),
    b: (f64, f64),
    clip: &Rect,
    color: Color,
    width: f64,
) -> Drawn {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    // Arrows shorter than half a pixel (or with non-finite ends) have no direction to show.
    if len.is_nan() || len <= 0.5 {
        return Ok(());
    }
    let head = (3.0 * width + 6.0).min(0.4 * len);
    let (ux, uy) = (dx / len, dy / len);
    let base = (b.0 - head * ux, b.1 - head * uy);
    c.polyline(&[a, base], clip, color, width)?;
    if clip.contains(b) && clip.contains(base) {
        let half = 0.45 * head;
        let wing = |s: f64| (base.0 - s * half * uy, base.1 + s * half * ux);
        c.polygon(&[b, wing(1.0), wing(-1.0)], color)?;
    }
    Ok(())
}

/// The pixel rectangle of cell (i, j) of a heatmap.
fn cell(l: &Layout, h: &Heatmap, i: usize, j: usize) -> Rect {
    let [x0, x1, y0, y1] = h.extent;
    let fx = |j: usize| x0 + (x1 - x0) * j as f64 / h.cols as f64;
    let fy = |i: usize| y0 + (y1 - y0) * i as f64 / h.rows as f64;
    let (a, b) = (l.to_px([fx(j), fy(i)]), l.to_px([fx(j + 1), fy(i + 1)]));
    Rect { x: a.0.min(b.0), y: a.1.min(b.1), w: (b.0 - a.0).abs(), h: (b.1 - a.1).abs() }
}

fn intersect(a: &Rect, b: &Rect) -> Option<Rect> {
    let (x0, y0) = (a.x.max(b.x), a.y.max(b.y));
    let (x1, y1) = (a.right().min(b.right()), a.bottom().min(b.bottom()));
    (x1 > x0 && y1 > y0).then_some(Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 })
}

fn draw_heatmap<DB: DrawingBackend>(c: &Canvas<DB>, l: &Layout, h: &Heatmap, slots: &mut Vec<ImageSlot>) -> Drawn {
    let [x0, x1, y0, y1] = h.extent;
    let (a, b) = (l.to_px([x0, y1]), l.to_px([x1, y0]));
    let place = Rect { x: a.0.min(b.0), y: a.1.min(b.1), w: (b.0 - a.0).abs(), h: (b.1 - a.1).abs() };
    let Some(visible) = intersect(&place, &l.plot) else { return Ok(()) };
    if c.vector {
        // One embedded image instead of rows × cols rectangles keeps SVG files small and seamless.
        // The image's top row is the last row of z, unless the y axis points down.
        let row = |r: usize| if l.y_down { r } else { h.rows - 1 - r };
        let rgb: Vec<u8> = (0..h.rows)
            .flat_map(|r| (0..h.cols).map(move |j| (row(r), j)))
            .flat_map(|(i, j)| {
                let col = h.scale.color(h.value(i, j));
                [col.r, col.g, col.b]
            })
            .collect();
        let png = super::output::encode_png(&rgb, h.cols as u32, h.rows as u32)?;
        let marker = Color::rgb(0x0f0e00 + slots.len() as u32);
        c.rect(visible, marker, true)?;
        slots.push(ImageSlot { marker, clip: visible, place, png });
        return Ok(());
    }
    for i in 0..h.rows {
        for j in 0..h.cols {
            if let Some(px) = intersect(&cell(l, h, i, j), &l.plot) {
                c.rect(px, h.scale.color(h.value(i, j)), true)?;
            }
        }
    }
    Ok(())
}

fn draw_colorbar<DB: DrawingBackend>(c: &Canvas<DB>, l: &Layout, s: &ColorScale) -> Drawn {
    let p = l.plot;
    let bar = Rect { x: p.right() + BAR_GAP, y: p.y, w: BAR, h: p.h };
    // Bands of at most 2 px (fewer in SVG) look continuous and keep SVG small.
    let bands = (bar.h / if c.vector { 4.0 } else { 1.0 }).ceil().max(1.0) as usize;
    for k in 0..bands {
        let (y0, y1) = (bar.y + bar.h * k as f64 / bands as f64, bar.y + bar.h * (k + 1) as f64 / bands as f64);
        let t = 1.0 - (k as f64 + 0.5) / bands as f64;
        c.rect(Rect { y: y0, h: y1 - y0, ..bar }, s.cmap.at(t), true)?;
    }
    c.rect(bar, FRAME, false)?;
    let clip = Rect { w: bar.w + TICK_LEN + 1.0, ..bar };
    for (v, label) in &l.bar_ticks.marks {
        let y = bar.bottom() - (v - s.vmin) / (s.vmax - s.vmin) * bar.h;
        c.polyline(&[(bar.right(), y), (bar.right() + TICK_LEN, y)], &clip, FRAME, 1.0)?;
        c.text(label, (bar.right() + TICK_LEN + PAD, y), TICK, HPos::Left, VAlign::Middle, false, FRAME)?;
    }
    if let Some(e) = l.bar_ticks.exponent {
        power_of_ten(c, e, (bar.x, bar.y - PAD), false)?;
    }
    if let Some(label) = s.colorbar.as_deref().filter(|l| !l.is_empty()) {
        let x = bar.right() + TICK_LEN + 2.0 * PAD + widest(c, &l.bar_ticks, TICK) + PAD;
        // Read upwards like the y label, its top towards the scale.
        c.text(label, (x, bar.y + bar.h / 2.0), LABEL, HPos::Center, VAlign::Top, true, FRAME)?;
    }
    Ok(())
}

/// How many of the panel's data points fall inside `r` (pixels): the legend goes where it hides fewest.
fn hidden_points(ax: &Axes, l: &Layout, r: &Rect) -> usize {
    let mut n = 0;
    let mut count = |p: [f64; 2]| n += r.contains(l.to_px(p)) as usize;
    for item in &ax.items {
        match item {
            Item::Scatter { points, .. } | Item::Quiver { points, .. } => points.iter().for_each(|&p| count(p)),
            Item::Lines { curves, .. } => curves.iter().flatten().for_each(|&p| count(p)),
            Item::Segments { segments, .. } => segments.iter().for_each(|&(a, b, _)| {
                [a, b, [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]].into_iter().for_each(&mut count)
            }),
            Item::Heatmap(_) => {}
        }
    }
    n
}

/// The legend: a swatch and the label of each labelled item, in the corner where it hides the
/// fewest data points (upper right first, as matplotlib's "best").
fn draw_legend<DB: DrawingBackend>(c: &Canvas<DB>, ax: &Axes, l: &Layout) -> Drawn {
    let entries: Vec<(&Item, &str)> = ax.items.iter().filter_map(|i| i.label().map(|s| (i, s))).collect();
    if entries.is_empty() {
        return Ok(());
    }
    let (p, size, swatch, line_h) = (l.plot, TICK, 28.0, TICK * 1.35);
    let text_w = entries.iter().map(|(_, s)| c.text_width(s, size)).fold(0.0, f64::max);
    let w = PAD + swatch + PAD + text_w + 2.0 * PAD;
    let h = entries.len() as f64 * line_h + PAD;
    let (left, right) = (p.x + 2.0 * PAD, p.right() - w - 2.0 * PAD);
    let (top, bottom) = (p.y + 2.0 * PAD, p.bottom() - h - 2.0 * PAD);
    let corners = [(right, top), (left, top), (left, bottom), (right, bottom)];
    let boxes = corners.map(|(x, y)| Rect { x, y, w, h });
    let bx = boxes.into_iter().min_by_key(|b| hidden_points(ax, l, b)).unwrap_or(boxes[0]);
    c.rect(bx, Color::WHITE.with_alpha(0.85), true)?;
    c.rect(bx, Color::rgb(0xcccccc), false)?;
    for (k, (item, label)) in entries.iter().enumerate() {
        let y = bx.y + PAD / 2.0 + (k as f64 + 0.5) * line_h;
        let (x0, x1) = (bx.x + PAD, bx.x + PAD + swatch);
        match item {
            Item::Scatter { paint, radius, .. } => {
                let color = match paint {
                    Paint::Solid(col) => *col,
                    Paint::Mapped(_, s) => s.cmap.at(0.5),
                };
                c.disc(((x0 + x1) / 2.0, y), radius.max(3.0), color)?;
            }
            Item::Lines { color, width, .. } | Item::Segments { color, width, .. } => {
                c.polyline(&[(x0, y), (x1, y)], &bx, color.with_alpha(1.0), *width)?;
            }
            Item::Quiver { color, width, .. } => draw_arrow(c, (x0, y), (x1, y), &bx, *color, *width)?,
            Item::Heatmap(_) => {}
        }
        c.text(label, (x1 + PAD, y), size, HPos::Left, VAlign::Middle, false, FRAME)?;
    }
    Ok(())
}
