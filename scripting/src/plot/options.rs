//! Option maps of the plotting functions (`#{cmap: "plasma", s: 5}`): typed reads, and errors that name the function and list the known keys.

use super::colormap::{parse_color, Color, Colormap};
use crate::error::{rt, RhaiResult};
use crate::values::as_number;
use rhai::{Array, Dynamic, Map};

/// Options every plotting function takes: they decorate the panel it draws into.
pub const AXES_KEYS: [&str; 8] = ["title", "xlabel", "ylabel", "xlim", "ylim", "equal", "legend", "grid"];

/// An options map checked against the keys a function knows.
pub struct Opts {
    func: &'static str,
    map: Map,
}

impl Opts {
    /// Checks that every key of `map` is in `known` (or in `AXES_KEYS` when `axes` is set).
    pub fn new(func: &'static str, map: Map, known: &[&str], axes: bool) -> RhaiResult<Opts> {
        let all: Vec<&str> = known.iter().copied().chain(if axes { AXES_KEYS.to_vec() } else { vec![] }).collect();
        if let Some(bad) = map.keys().find(|k| !all.contains(&k.as_str())) {
            let hint = match bad.as_str() {
                "width" | "height" => {
                    " (a figure's size is set by figure(#{width, height}); a line's width is linewidth)"
                }
                "lw" => " (the line width is linewidth)",
                _ => "",
            };
            return Err(rt(func, format!("unknown option \"{bad}\"{hint}: the options are {}", all.join(", "))));
        }
        Ok(Opts { func, map })
    }

    pub fn empty(func: &'static str) -> Opts {
        Opts { func, map: Map::new() }
    }

    pub fn func(&self) -> &'static str {
        self.func
    }

    pub fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|d| !d.is_unit())
    }

    fn wrong<T>(&self, key: &str, want: &str, got: &Dynamic) -> RhaiResult<T> {
        Err(rt(self.func, format!("option \"{key}\" must be {want}, got {}", got.type_name())))
    }

    pub fn num(&self, key: &str) -> RhaiResult<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(d) => match as_number(d) {
                Some(v) if v.is_finite() => Ok(Some(v)),
                _ => self.wrong(key, "a finite number", d),
            },
        }
    }

    /// A positive number up to `max` (sizes and widths in pixels are bounded so that a typo
    /// cannot make drawing take minutes).
    pub fn positive(&self, key: &str, max: f64) -> RhaiResult<Option<f64>> {
        match self.num(key)? {
            Some(v) if v <= 0.0 || v > max => {
                Err(rt(self.func, format!("option \"{key}\" must be positive and at most {max}, got {v}")))
            }
            v => Ok(v),
        }
    }

    /// A whole number in `lo..=hi`.
    pub fn count(&self, key: &str, lo: i64, hi: i64) -> RhaiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(d) => match d.as_int() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
                Ok(v) => Err(rt(self.func, format!("option \"{key}\" must be an integer from {lo} to {hi}, got {v}"))),
                Err(_) => self.wrong(key, &format!("an integer from {lo} to {hi}"), d),
            },
        }
    }

    pub fn string(&self, key: &str) -> RhaiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(d) if d.is_string() => Ok(Some(d.to_string())),
            Some(d) => self.wrong(key, "a string", d),
        }
    }

    pub fn flag(&self, key: &str) -> RhaiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(d) => d.as_bool().map(Some).or_else(|_| self.wrong(key, "true or false", d)),
        }
    }

    /// `[lo, hi]` with lo < hi.
    pub fn range(&self, key: &str) -> RhaiResult<Option<(f64, f64)>> {
        let Some(d) = self.get(key) else { return Ok(None) };
        let v = numbers(d).filter(|v| v.len() == 2);
        match v {
            Some(v) if v[0] < v[1] && (v[1] - v[0]).is_finite() => Ok(Some((v[0], v[1]))),
            Some(v) => Err(rt(
                self.func,
                format!("option \"{key}\" must be [low, high] with low < high, got [{}, {}]", v[0], v[1]),
            )),
            None => self.wrong(key, "[low, high]", d),
        }
    }

    /// `[x0, x1, y0, y1]`, increasing in x and y.
    pub fn extent(&self, key: &str) -> RhaiResult<Option<[f64; 4]>> {
        let Some(d) = self.get(key) else { return Ok(None) };
        match numbers(d).filter(|v| v.len() == 4) {
            Some(v) if v[0] < v[1] && v[2] < v[3] && (v[1] - v[0] + v[3] - v[2]).is_finite() => {
                Ok(Some([v[0], v[1], v[2], v[3]]))
            }
            _ => Err(rt(
                self.func,
                format!("option \"{key}\" must be [x0, x1, y0, y1] with x0 < x1 and y0 < y1, got {d}"),
            )),
        }
    }

    pub fn color(&self, key: &str) -> RhaiResult<Option<Color>> {
        let Some(d) = self.get(key) else { return Ok(None) };
        if d.is_string() {
            return parse_color(&d.to_string()).map(Some).map_err(|e| rt(self.func, e));
        }
        match numbers(d).filter(|v| v.len() == 3 && v.iter().all(|x| (0.0..=1.0).contains(x))) {
            Some(v) => {
                let c = |x: f64| (x * 255.0).round() as u32;
                Ok(Some(Color::rgb((c(v[0]) << 16) | (c(v[1]) << 8) | c(v[2]))))
            }
            None => self.wrong(key, "a colour name, \"#rrggbb\" or [r, g, b] with values in 0..1", d),
        }
    }

    pub fn cmap(&self, key: &str) -> RhaiResult<Colormap> {
        match self.string(key)? {
            None => Ok(Colormap::Viridis),
            Some(name) => Colormap::from_name(&name).map_err(|e| rt(self.func, e)),
        }
    }

    /// `colorbar: true | false | "label"`: None hides the colour bar, Some("") shows it unlabelled.
    pub fn colorbar(&self) -> RhaiResult<Option<String>> {
        match self.get("colorbar") {
            None => Ok(Some(String::new())),
            Some(d) if d.is_string() => Ok(Some(d.to_string())),
            Some(d) => match d.as_bool() {
                Ok(show) => Ok(show.then(String::new)),
                Err(_) => self.wrong("colorbar", "true, false or a label", d),
            },
        }
    }
}

/// The numbers of a flat array, or None.
fn numbers(d: &Dynamic) -> Option<Vec<f64>> {
    let a = d.read_lock::<Array>()?;
    a.iter().map(as_number).collect()
}

/// Splits trailing options off a call's arguments: `f(x, y, #{...})` gives ([x, y], Some(map)).
pub fn split_options(mut args: Vec<Dynamic>) -> (Vec<Dynamic>, Option<Map>) {
    match args.last() {
        Some(d) if d.is_map() => {
            let map = args.pop().and_then(|d| d.try_cast::<Map>());
            (args, map)
        }
        _ => (args, None),
    }
}
