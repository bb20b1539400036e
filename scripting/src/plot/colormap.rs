//! Colours and colormaps: named colours, matplotlib's default colour cycle, and sampled colormap tables.
//!
//! Each colormap is matplotlib's, sampled at 33 evenly spaced points and interpolated linearly
//! in between (the error is below one 8-bit step of the full 256-entry tables). viridis, plasma,
//! inferno and magma are CC0 (van der Walt and Smith); coolwarm is Moreland's diverging map.

use plotters::style::{Color as _, RGBColor};

/// A colour with opacity, as plotters draws it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: f64,
}

impl Color {
    pub const BLACK: Color = Color::rgb(0x000000);
    pub const WHITE: Color = Color::rgb(0xffffff);

    /// A colour from a 0xRRGGBB literal, opaque.
    pub const fn rgb(hex: u32) -> Color {
        Color { r: (hex >> 16) as u8, g: (hex >> 8) as u8, b: hex as u8, a: 1.0 }
    }

    pub fn with_alpha(self, a: f64) -> Color {
        Color { a: a.clamp(0.0, 1.0), ..self }
    }

    pub fn to_plotters(self) -> plotters::style::RGBAColor {
        RGBColor(self.r, self.g, self.b).mix(self.a)
    }

    /// `#rrggbb`, as SVG and error messages write it.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// matplotlib's default colour cycle ("tab10"), which successive curves of one panel take in turn.
pub const CYCLE: [u32; 10] =
    [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf];

/// The colour names scripts may use, besides "C0".."C9" (the cycle) and "#rrggbb".
const NAMED: [(&str, u32); 16] = [
    ("black", 0x000000),
    ("white", 0xffffff),
    ("red", 0xd62728),
    ("blue", 0x1f77b4),
    ("green", 0x2ca02c),
    ("orange", 0xff7f0e),
    ("purple", 0x9467bd),
    ("brown", 0x8c564b),
    ("pink", 0xe377c2),
    ("gray", 0x7f7f7f),
    ("grey", 0x7f7f7f),
    ("olive", 0xbcbd22),
    ("cyan", 0x17becf),
    ("magenta", 0xff00ff),
    ("yellow", 0xffd700),
    ("navy", 0x000080),
];

/// A colour from its name, "C0".."C9", "#rrggbb" or "#rgb"; the error lists what is accepted.
pub fn parse_color(s: &str) -> Result<Color, String> {
    let lower = s.trim().to_ascii_lowercase();
    if let Some(&(_, hex)) = NAMED.iter().find(|(n, _)| *n == lower) {
        return Ok(Color::rgb(hex));
    }
    if let Some(k) = lower.strip_prefix('c').and_then(|d| d.parse::<usize>().ok()).filter(|&k| k < CYCLE.len()) {
        return Ok(Color::rgb(CYCLE[k]));
    }
    if let Some(h) = lower.strip_prefix('#').filter(|h| h.chars().all(|c| c.is_ascii_hexdigit())) {
        match h.len() {
            6 => return Ok(Color::rgb(u32::from_str_radix(h, 16).unwrap_or(0))),
            3 => {
                let v = u32::from_str_radix(h, 16).unwrap_or(0);
                let (r, g, b) = ((v >> 8) & 15, (v >> 4) & 15, v & 15);
                return Ok(Color::rgb(((r * 17) << 16) | ((g * 17) << 8) | (b * 17)));
            }
            _ => {}
        }
    }
    let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
    Err(format!(
        "unknown colour \"{s}\": use one of {}, \"C0\"..\"C9\", \"#rrggbb\" or [r, g, b] in 0..1",
        names.join(", ")
    ))
}

/// A map from [0, 1] to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colormap {
    Viridis,
    Plasma,
    Inferno,
    Magma,
    Coolwarm,
    Gray,
}

const VIRIDIS: [u32; 33] = [
    0x440154, 0x470d60, 0x48186a, 0x482374, 0x472d7b, 0x453781, 0x424086, 0x3e4989, 0x3b528b, 0x375b8d, 0x33638d,
    0x2f6b8e, 0x2c728e, 0x297a8e, 0x26828e, 0x23898e, 0x21918c, 0x1f988b, 0x1fa088, 0x22a785, 0x28ae80, 0x32b67a,
    0x3fbc73, 0x4ec36b, 0x5ec962, 0x70cf57, 0x84d44b, 0x98d83e, 0xaddc30, 0xc2df23, 0xd8e219, 0xece51b, 0xfde725,
];
const PLASMA: [u32; 33] = [
    0x0d0887, 0x220690, 0x310597, 0x3f049c, 0x4c02a1, 0x5901a5, 0x6600a7, 0x7201a8, 0x7e03a8, 0x8a09a5, 0x9511a1,
    0xa01a9c, 0xaa2395, 0xb32c8e, 0xbc3587, 0xc43e7f, 0xcc4778, 0xd35171, 0xda5a6a, 0xe06363, 0xe66c5c, 0xeb7655,
    0xf0804e, 0xf58b47, 0xf89540, 0xfba139, 0xfdac33, 0xfeb82c, 0xfdc527, 0xfcd225, 0xf8df25, 0xf4ed27, 0xf0f921,
];
const INFERNO: [u32; 33] = [
    0x000004, 0x040312, 0x0b0724, 0x150b37, 0x210c4a, 0x2f0a5b, 0x3d0965, 0x4a0c6b, 0x57106e, 0x64156e, 0x71196e,
    0x7d1e6d, 0x8a226a, 0x972766, 0xa32c61, 0xb0315b, 0xbc3754, 0xc73e4c, 0xd24644, 0xdb503b, 0xe45a31, 0xeb6628,
    0xf1731d, 0xf68013, 0xf98e09, 0xfb9d07, 0xfcac11, 0xfbbc21, 0xf9cb35, 0xf5db4c, 0xf2ea69, 0xf3f68a, 0xfcffa4,
];
const MAGMA: [u32; 33] = [
    0x000004, 0x030312, 0x0a0822, 0x130d34, 0x1d1147, 0x29115a, 0x36106b, 0x440f76, 0x51127c, 0x5d177f, 0x6a1c81,
    0x762181, 0x832681, 0x902a81, 0x9c2e7f, 0xaa337d, 0xb73779, 0xc43c75, 0xd0416f, 0xdc4869, 0xe75263, 0xef5d5e,
    0xf56b5c, 0xf9795d, 0xfc8961, 0xfd9869, 0xfea772, 0xfeb67c, 0xfec488, 0xfed395, 0xfde2a3, 0xfcf0b2, 0xfcfdbf,
];
const COOLWARM: [u32; 33] = [
    0x3b4cc0, 0x445acc, 0x4e68d8, 0x5875e1, 0x6282ea, 0x6c8ff1, 0x779af7, 0x82a6fb, 0x8db0fe, 0x98b9ff, 0xa3c2fe,
    0xaec9fc, 0xb9d0f9, 0xc3d5f4, 0xccd9ed, 0xd5dbe5, 0xdddcdc, 0xe5d8d1, 0xecd3c5, 0xf1ccb8, 0xf5c4ac, 0xf7ba9f,
    0xf7b093, 0xf6a586, 0xf4987a, 0xf08b6e, 0xeb7d62, 0xe46e56, 0xdd5f4b, 0xd44e41, 0xca3b37, 0xbe242e, 0xb40426,
];
const GRAY: [u32; 2] = [0x000000, 0xffffff];

impl Colormap {
    pub const ALL: [(&'static str, Colormap); 6] = [
        ("viridis", Colormap::Viridis),
        ("plasma", Colormap::Plasma),
        ("inferno", Colormap::Inferno),
        ("magma", Colormap::Magma),
        ("coolwarm", Colormap::Coolwarm),
        ("gray", Colormap::Gray),
    ];

    /// The colormap called `name` (case-insensitive; "grey" is "gray"); the error lists them all.
    pub fn from_name(name: &str) -> Result<Colormap, String> {
        let lower = name.to_ascii_lowercase();
        let lower = if lower == "grey" { "gray".to_string() } else { lower };
        Colormap::ALL.iter().find(|(n, _)| *n == lower).map(|&(_, c)| c).ok_or_else(|| {
            let names: Vec<&str> = Colormap::ALL.iter().map(|(n, _)| *n).collect();
            format!("unknown colormap \"{name}\": use one of {}", names.join(", "))
        })
    }

    pub fn name(self) -> &'static str {
        Colormap::ALL.iter().find(|(_, c)| *c == self).map_or("?", |(n, _)| n)
    }

    fn table(self) -> &'static [u32] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Plasma => &PLASMA,
            Colormap::Inferno => &INFERNO,
            Colormap::Magma => &MAGMA,
            Colormap::Coolwarm => &COOLWARM,
            Colormap::Gray => &GRAY,
        }
    }

    /// The colour at `t` in [0, 1], clamped: 0 and 1 give the first and last colours of
    /// matplotlib's tables (viridis #440154 → #fde725, plasma #0d0887 → #f0f921, inferno
    /// #000004 → #fcffa4, magma #000004 → #fcfdbf, coolwarm #3b4cc0 → #b40426, gray black → white).
    pub fn at(self, t: f64) -> Color {
        let table = self.table();
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let pos = t * (table.len() - 1) as f64;
        let k = (pos.floor() as usize).min(table.len() - 2);
        let f = pos - k as f64;
        let (a, b) = (Color::rgb(table[k]), Color::rgb(table[k + 1]));
        let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
        Color { r: mix(a.r, b.r), g: mix(a.g, b.g), b: mix(a.b, b.b), a: 1.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_interpolate_between_samples() {
        assert_eq!(Colormap::Viridis.at(0.0), Color::rgb(0x440154));
        assert_eq!(Colormap::Viridis.at(1.0), Color::rgb(0xfde725));
        assert_eq!(Colormap::Gray.at(0.5), Color::rgb(0x808080));
        assert_eq!(Colormap::Plasma.at(2.0), Colormap::Plasma.at(1.0));
        assert!(Colormap::from_name("jet").unwrap_err().contains("viridis, plasma"));
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("C1").unwrap(), Color::rgb(CYCLE[1]));
        assert_eq!(parse_color("#f00").unwrap(), Color::rgb(0xff0000));
        assert_eq!(parse_color("Black").unwrap(), Color::BLACK);
        assert!(parse_color("C12").unwrap_err().contains("unknown colour"));
    }
}
