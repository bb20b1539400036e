//! Figures to bytes: PNG (plotters' bitmap backend, encoded by the `png` crate), SVG, base64, files.
//!
//! Text uses DejaVu Sans, compiled in and registered with plotters once, so rendering needs no
//! system font, fontconfig or font files at run time.

use super::canvas::{Canvas, FAMILY};
use super::figure::{Figure, MAX_SIDE};
use super::render::{draw, ImageSlot};
use plotters::backend::RGBPixel;
use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// Registers the bundled font with plotters (which measures SVG text with it) the first time a figure is drawn.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, super::text::FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".to_string())
    }
}

fn check_size(fig: &Figure) -> Result<(), String> {
    let ok = |v: u32| (50..=MAX_SIDE).contains(&v);
    if ok(fig.width) && ok(fig.height) {
        Ok(())
    } else {
        Err(format!("a figure is 50 to {MAX_SIDE} pixels wide and high, not {}×{}", fig.width, fig.height))
    }
}

/// The figure's pixels: RGB, 3 bytes each, row by row from the top (`fig.width × fig.height`).
pub fn to_rgb(fig: &Figure) -> Result<Vec<u8>, String> {
    ensure_font()?;
    check_size(fig)?;
    let (w, h) = (fig.width, fig.height);
    let mut rgb = vec![255u8; 3 * w as usize * h as usize];
    {
        let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut rgb, (w, h))
            .map_err(|e| format!("drawing failed: {e}"))?;
        let area = backend.into_drawing_area();
        draw(fig, &Canvas { area: &area, vector: false })?;
        area.present().map_err(|e| format!("drawing failed: {e}"))?;
    }
    Ok(rgb)
}

/// The figure as a PNG file's bytes.
pub fn to_png(fig: &Figure) -> Result<Vec<u8>, String> {
    encode_png(&to_rgb(fig)?, fig.width, fig.height)
}

/// The figure as an SVG document.
pub fn to_svg(fig: &Figure) -> Result<String, String> {
    ensure_font()?;
    check_size(fig)?;
    let mut svg = String::new();
    let slots = {
        let area = SVGBackend::with_string(&mut svg, (fig.width, fig.height)).into_drawing_area();
        let slots = draw(fig, &Canvas { area: &area, vector: true })?;
        area.present().map_err(|e| format!("drawing failed: {e}"))?;
        slots
    };
    for slot in &slots {
        svg = embed_image(&svg, slot)?;
    }
    // Every rectangle (frames, colour bar bands, legend boxes) is axis-aligned on whole pixels:
    // crisp edges keep 1-pixel frames from blurring over two pixels in viewers.
    if let Some(k) = svg.find('>') {
        svg.insert_str(k + 1, "\n<style>rect { shape-rendering: crispEdges; }</style>");
    }
    Ok(svg)
}

/// Replaces a heatmap's placeholder rectangle by a nested `<svg>` (which clips to the visible
/// part) holding the heatmap as a pixelated PNG image.
fn embed_image(svg: &str, slot: &ImageSlot) -> Result<String, String> {
    // The placeholder is the rectangle filled with the marker colour (a circle of a user's
    // colour that happened to match would not be a <rect>).
    let hex = slot.marker.hex();
    let placeholder = [hex.to_uppercase(), hex].iter().find_map(|h| {
        let needle = format!("fill=\"{h}\"");
        svg.match_indices(&needle).find_map(|(k, _)| {
            let start = svg[..k].rfind('<')?;
            let end = k + svg[k..].find("/>")? + 2;
            svg[start..].starts_with("<rect").then_some((start, end))
        })
    });
    let Some((start, end)) = placeholder else {
        return Err("drawing failed: the SVG heatmap placeholder is missing".to_string());
    };
    let (c, p) = (slot.clip, slot.place);
    let image = format!(
        "<svg x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\"><image x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" \
         preserveAspectRatio=\"none\" style=\"image-rendering:pixelated;image-rendering:crisp-edges\" href=\"data:image/png;base64,{}\"/></svg>",
        c.x,
        c.y,
        c.w,
        c.h,
        p.x - c.x,
        p.y - c.y,
        p.w,
        p.h,
        base64(&slot.png)
    );
    Ok(format!("{}{}{}", &svg[..start], image, &svg[end..]))
}

/// RGB pixels (3 bytes each, row by row from the top) as a PNG file.
pub fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let fail = |e: png::EncodingError| format!("PNG encoding failed: {e}");
    let mut writer = enc.write_header().map_err(fail)?;
    writer.write_image_data(rgb).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Standard base64 with padding, as data URLs and Jupyter's image/png bundles want it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Writes the figure to `path`, as SVG for a `.svg` name and PNG for `.png`; missing folders are created.
pub fn save(fig: &Figure, path: &Path) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("png") => to_png(fig)?,
        Some("svg") => to_svg(fig)?.into_bytes(),
        _ => return Err(format!("{}: the file name must end in .png or .svg", path.display())),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")];
        for (raw, enc) in cases {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }
}
