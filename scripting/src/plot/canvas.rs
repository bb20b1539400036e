//! A thin drawing layer over a plotters `DrawingArea`: pixel-space shapes clipped to a rectangle, and text placed by its visible extent.
//!
//! In PNG output, strokes, discs, polygons and text are anti-aliased here (`raster`, `text`);
//! SVG output gets plotters' elements and leaves anti-aliasing to the viewer. Text is placed by
//! its visible extent (cap height, descenders) so labels line up the same in PNG and SVG.

use super::colormap::Color;
use super::raster::{self, Coverage};
use super::text;
use plotters::coord::Shift;
use plotters::prelude::{Circle, DrawingArea, DrawingBackend, PathElement, Polygon, Rectangle};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontTransform, IntoFont, ShapeStyle, TextStyle};

/// The font family every text uses: the bundled DejaVu Sans is registered under this name, and
/// SVG viewers fall back to their own sans-serif.
pub const FAMILY: &str = "sans-serif";

/// Result of drawing: plotters' errors are turned into messages.
pub type Drawn = Result<(), String>;

/// A rectangle in pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x && p.0 <= self.right() && p.1 >= self.y && p.1 <= self.bottom()
    }
}

/// Where a text's anchor lies on it vertically (in its own frame, for rotated text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VAlign {
    /// The top of capital letters.
    Top,
    /// The middle of capital letters (tick labels beside a tick).
    Middle,
    /// The bottom of descenders.
    Bottom,
}

pub struct Canvas<'a, DB: DrawingBackend> {
    pub area: &'a DrawingArea<DB, Shift>,
    /// True for SVG output, whose text metrics differ and which gets images instead of cells.
    pub vector: bool,
}

fn failed(e: impl std::fmt::Display) -> String {
    format!("drawing failed: {e}")
}

fn style(color: Color, width: f64, filled: bool) -> ShapeStyle {
    ShapeStyle { color: color.to_plotters(), filled, stroke_width: width.round().max(1.0) as u32 }
}

fn px(p: (f64, f64)) -> (i32, i32) {
    (p.0.round() as i32, p.1.round() as i32)
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    /// The width of `s` in pixels at `em` pixels per em.
    pub fn text_width(&self, s: &str, em: f64) -> f64 {
        text::width(s, em)
    }

    /// Draws `s` at `em` pixels per em with its anchor at `(x, y)`; `vertical` turns it a quarter
    /// to read upwards (y labels).
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &self,
        s: &str,
        (x, y): (f64, f64),
        em: f64,
        h: HPos,
        v: VAlign,
        vertical: bool,
        color: Color,
    ) -> Drawn {
        if s.is_empty() {
            return Ok(());
        }
        // Offsets in the text's own frame: along the baseline, and down from the anchor to the baseline.
        let along = match h {
            HPos::Left => 0.0,
            HPos::Center => -text::width(s, em) / 2.0,
            HPos::Right => -text::width(s, em),
        };
        let down = match v {
            VAlign::Top => text::CAP_HEIGHT * em,
            VAlign::Middle => text::CAP_HEIGHT * em / 2.0,
            VAlign::Bottom => -text::DESCENT * em,
        };
        if self.vector {
            // plotters writes <text> with dy = 0.76em (baseline below y) and lets the viewer anchor it horizontally.
            let shift = down - 0.76 * em;
            let (ax, ay) = if vertical { (x + shift, y) } else { (x, y + shift) };
            let transform = if vertical { FontTransform::Rotate270 } else { FontTransform::None };
            let color = color.to_plotters();
            let font: TextStyle = (FAMILY, em * 1.24).into_font().into();
            let style = font.pos(Pos::new(h, VPos::Top)).transform(transform).color(&color);
            return self.area.draw_text(s, &style, px((ax, ay))).map_err(failed);
        }
        if !vertical {
            return self.pixels(text::rasterize(s, em, (x + along, y + down)), color);
        }
        // Rotating the glyphs' pixels a quarter turn keeps them exact: text point (a, d) goes to (X + d, Y - a).
        let (ox, oy) = ((x + down).round() as i32, (y - along).round() as i32);
        let turned = text::rasterize(s, em, (0.0, 0.0)).into_iter().map(|(a, d, c)| (ox + d, oy - a - 1, c));
        self.pixels(turned.collect(), color)
    }

    pub fn rect(&self, r: Rect, color: Color, filled: bool) -> Drawn {
        let (a, b) = (px((r.x, r.y)), px((r.right(), r.bottom())));
        self.area.draw(&Rectangle::new([a, b], style(color, 1.0, filled))).map_err(failed)
    }

    /// Blends anti-aliased coverage into a bitmap.
    fn pixels(&self, coverage: Coverage, color: Color) -> Drawn {
        for (x, y, cov) in coverage {
            let c = color.with_alpha(color.a * cov as f64).to_plotters();
            self.area.draw_pixel((x, y), &c).map_err(failed)?;
        }
        Ok(())
    }

    /// A filled disc.
    pub fn disc(&self, c: (f64, f64), radius: f64, color: Color) -> Drawn {
        if self.vector {
            let r = radius.round().max(1.0) as i32;
            return self.area.draw(&Circle::new(px(c), r, style(color, 1.0, true))).map_err(failed);
        }
        self.pixels(raster::disc(c, radius), color)
    }

    /// A filled convex polygon (arrow heads).
    pub fn polygon(&self, points: &[(f64, f64)], color: Color) -> Drawn {
        if self.vector {
            let pts: Vec<(i32, i32)> = points.iter().map(|&p| px(p)).collect();
            return self.area.draw(&Polygon::new(pts, style(color, 1.0, true))).map_err(failed);
        }
        self.pixels(raster::convex(points), color)
    }

    /// A polyline, cut where it leaves `clip` (and at non-finite points).
    pub fn polyline(&self, points: &[(f64, f64)], clip: &Rect, color: Color, width: f64) -> Drawn {
        for mut run in clip_polyline(points, clip) {
            if self.vector {
                let pts: Vec<(i32, i32)> = run.iter().map(|&p| px(p)).collect();
                self.area.draw(&PathElement::new(pts, style(color, width, false))).map_err(failed)?;
                continue;
            }
            // Horizontal and vertical lines (ticks, grid) of odd width are put on pixel centres
            // so that they stay crisp instead of spreading over two half-covered pixels.
            if run.len() == 2 && width.round() as i64 % 2 == 1 {
                for axis in [0, 1] {
                    let (a, b) = (coord(run[0], axis), coord(run[1], axis));
                    if a == b {
                        let snapped = a.floor() + 0.5;
                        run.iter_mut().for_each(|p| set_coord(p, axis, snapped));
                    }
                }
            }
            self.pixels(raster::stroke(&run, width), color)?;
        }
        Ok(())
    }
}

fn coord(p: (f64, f64), axis: usize) -> f64 {
    if axis == 0 {
        p.0
    } else {
        p.1
    }
}

fn set_coord(p: &mut (f64, f64), axis: usize, v: f64) {
    if axis == 0 {
        p.0 = v
    } else {
        p.1 = v
    }
}

/// The parts of a polyline inside `clip`: each segment is clipped (Liang–Barsky) and consecutive
/// visible pieces are joined, so a curve inside the box stays one path (one SVG element).
pub fn clip_polyline(points: &[(f64, f64)], clip: &Rect) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for w in points.windows(2) {
        match clip_segment(w[0], w[1], clip) {
            Some((a, b)) => {
                let joined = open && runs.last().and_then(|r| r.last()).is_some_and(|&l| l == a);
                if !joined {
                    runs.push(vec![a]);
                }
                if let Some(r) = runs.last_mut() {
                    r.push(b);
                }
                // The run goes on only if this segment ended inside, unclipped.
                open = b == w[1];
            }
            None => open = false,
        }
    }
    runs
}

/// The part of segment a–b inside `r`, if any.
pub fn clip_segment(a: (f64, f64), b: (f64, f64), r: &Rect) -> Option<((f64, f64), (f64, f64))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - r.x), (dx, r.right() - a.0), (-dy, a.1 - r.y), (dy, r.bottom() - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * dx, a.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polylines_are_cut_at_the_box() {
        let r = Rect { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        let inside = clip_polyline(&[(1.0, 1.0), (2.0, 2.0), (3.0, 1.0)], &r);
        assert_eq!(inside, vec![vec![(1.0, 1.0), (2.0, 2.0), (3.0, 1.0)]]);
        let out_and_back = clip_polyline(&[(5.0, 5.0), (15.0, 5.0), (5.0, 6.0)], &r);
        assert_eq!(out_and_back.len(), 2);
        assert_eq!(out_and_back[0], vec![(5.0, 5.0), (10.0, 5.0)]);
        assert!(clip_segment((20.0, 0.0), (30.0, 5.0), &r).is_none());
        assert!(clip_polyline(&[(1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0)], &r).len() == 1);
    }
}
