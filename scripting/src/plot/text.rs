//! Text measured and rasterized with the bundled font directly through ab_glyph.
//!
//! plotters' ab_glyph text drops each glyph's left side bearing (so "sin(x)" reads "sin( x)")
//! and snaps glyphs to whole pixels; here glyphs are placed at their exact, kerned positions.
//! SVG output still writes `<text>` elements through plotters, with these same metrics.

use super::raster::Coverage;
use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use std::sync::OnceLock;

/// DejaVu Sans reduced to Latin, Greek, punctuation, arrows and mathematical operators (see fonts/README.md).
pub static FONT_BYTES: &[u8] = include_bytes!("fonts/DejaVuSans-subset.ttf");

/// Capital letters' height and descenders' depth in DejaVu Sans, in ems, for placing text by its visible extent.
pub const CAP_HEIGHT: f64 = 0.729;
pub const DESCENT: f64 = 0.236;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok()).as_ref()
}

/// Glyphs with their pen positions along the baseline, the total advance, and the scale.
type Layout = (Vec<(GlyphId, f32)>, f32, PxScale);

/// The glyphs of `s` at `em` pixels per em.
fn layout(s: &str, em: f64) -> Option<Layout> {
    let f = font()?;
    // ab_glyph scales by the line height (ascent - descent), not by the em.
    let scale = PxScale::from(em as f32 * f.height_unscaled() / f.units_per_em()?);
    let scaled = f.as_scaled(scale);
    let mut caret = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(s.len());
    for ch in s.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        glyphs.push((id, caret));
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    Some((glyphs, caret, scale))
}

/// The advance width of `s` in pixels at `em` pixels per em.
pub fn width(s: &str, em: f64) -> f64 {
    layout(s, em).map_or(0.55 * em * s.chars().count() as f64, |(_, w, _)| w as f64)
}

/// The pixels of `s` drawn with its baseline starting at `origin` (sub-pixel positions kept).
pub fn rasterize(s: &str, em: f64, origin: (f64, f64)) -> Coverage {
    let (Some(f), Some((glyphs, _, scale))) = (font(), layout(s, em)) else { return Coverage::new() };
    let mut out = Coverage::new();
    for (id, x) in glyphs {
        let glyph = id.with_scale_and_position(scale, point(origin.0 as f32 + x, origin.1 as f32));
        if let Some(outlined) = f.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|x, y, c| {
                if c > 1.0 / 512.0 {
                    out.push((b.min.x as i32 + x as i32, b.min.y as i32 + y as i32, c.min(1.0)));
                }
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_measured_and_drawn() {
        assert!(font().is_some(), "the bundled font parses");
        let w = width("Densité", 14.0);
        assert!(w > 40.0 && w < 70.0, "{w}");
        assert!(width("σ²", 14.0) > 10.0);
        // Glyphs lie above the baseline (y = 20), within the cap height plus accents.
        let px = rasterize("E", 20.0, (0.0, 20.0));
        assert!(!px.is_empty());
        assert!(px.iter().all(|&(_, y, _)| (5..20).contains(&y)), "{px:?}");
    }
}
