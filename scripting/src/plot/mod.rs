//! Plots for scripts and notebooks: scatter plots, curves, heatmaps, arrows and segments, in PNG and SVG, with a bundled font.
//!
//! `figure.rs` is the model (a `Figure` of `Axes` holding items), `render.rs` draws it through
//! `canvas.rs` on a plotters drawing area, `output.rs` makes PNG, SVG and base64, and `api.rs`
//! with `items.rs` and `options.rs` is the Rhai side. The rendering knows nothing of Rhai.

pub mod api;
pub mod canvas;
pub mod colormap;
pub mod figure;
pub mod items;
pub mod options;
pub mod output;
pub mod raster;
pub mod render;
pub mod text;
pub mod ticks;

pub use api::register;
pub use colormap::{Color, Colormap};
pub use figure::{Axes, Figure, Item};
pub use output::{base64, save, to_png, to_rgb, to_svg};
