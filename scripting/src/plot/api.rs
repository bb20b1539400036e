//! The plotting functions of scripts: `figure`, `scatter`, `plot`, `heatmap`/`imshow`, `quiver`, `segments`, `show`, and `Figure` methods.
//!
//! As in matplotlib: a plotting function called alone returns a new one-panel `Figure`; called
//! as a method (`fig.scatter(x)`) it draws into the figure's current panel, chosen with
//! `fig.subplot(k)` (1-based, as `plt.subplot`) or `fig.axes(k)` (0-based, as `fig.axes[k]`).

use super::figure::Figure;
use super::items::{add, Kind};
use super::options::{split_options, Opts};
use super::output;
use crate::context::{Context, Event};
use crate::error::{rt, RhaiResult};
use crate::values::as_number;
use rhai::{Dynamic, Engine, FuncRegistration, Map};
use std::rc::Rc;

/// Registers the plotting functions and the `Figure` type.
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    engine.register_type_with_name::<Figure>("Figure");
    for name in ["to_string", "to_debug"] {
        crate::help::doc(
            &format!("{name}(fig: Figure) -> string"),
            "A one-line summary of the figure: its size and what each panel holds.",
        )
        .register_into_engine(engine, |f: &mut Figure| f.to_string());
    }
    register_figure(engine);
    for (name, kind, doc) in KINDS {
        register_kind(engine, ctx, name, kind, doc);
    }
    register_methods(engine);
    register_output(engine, ctx);
}

const KINDS: [(&str, Kind, &str); 6] = [
    ("scatter", Kind::Scatter, "/// Scatter plot of an N×2 tensor x (or of vectors x, y).\n/// Options: c (values coloured through cmap, with a colour bar), cmap (viridis, plasma, inferno, magma, coolwarm, gray), vmin, vmax, colorbar (false or a label), s (marker area in pt², 20), color, alpha, label, and the panel options title, xlabel, ylabel, xlim, ylim, equal, legend, grid.\n/// Alone it returns a new 640×480 Figure (figure(#{width, height}) sets another size); as fig.scatter(...) it draws into the current panel."),
    ("plot", Kind::Plot, "/// Curves: plot(x, y) with two vectors, plot(y), plot(points) with an N×2 tensor, or plot(paths) with a T×N×2 tensor (N trajectories of T steps, or the lines of a deformed grid).\n/// Options: color, linewidth (pixels, 2), alpha, label, and the panel options."),
    ("heatmap", Kind::Heatmap, "/// A 2-D tensor z (rows × columns) as coloured cells, with a colour bar.\n/// Row i covers y_i, so that z[i][j] = f(x_j, y_i) on a grid looks like f: row 0 is at the bottom (as imshow(origin=\"lower\")); origin: \"upper\" turns the y axis downwards to put it at the top.\n/// Options: extent [x0, x1, y0, y1] (default: cell centres on integers), cmap, vmin, vmax, colorbar (false or a label), origin, and the panel options."),
    ("imshow", Kind::Heatmap, "/// Same as heatmap: row 0 at the bottom unless origin: \"upper\" (matplotlib's imshow puts it at the top by default)."),
    ("quiver", Kind::Quiver, "/// Arrows from the points x (N×2) along the vectors v (N×2), drawn as x → x + scale·v in data units.\n/// Options: color, scale (1), linewidth (1), alpha, label, and the panel options."),
    ("segments", Kind::Segments, "/// Segments a_k → b_k between two N×2 tensors, e.g. matched points.\n/// With alpha an N×M matrix (a transport plan), draws every a_i → b_j with opacity alpha[i][j] / max(alpha).\n/// Options: color, alpha (a number, one per segment, or a plan), linewidth (1), label, and the panel options."),
];

fn new_figure_from(ctx: &Context, name: &'static str, kind: Kind, args: Vec<Dynamic>) -> RhaiResult<Figure> {
    let (w, h) = Figure::default_size(1, 1);
    let mut fig = Figure::new(1, 1, w, h);
    add_to(ctx, &mut fig, name, kind, args)?;
    Ok(fig)
}

fn add_to(ctx: &Context, fig: &mut Figure, name: &'static str, kind: Kind, args: Vec<Dynamic>) -> RhaiResult<()> {
    let (args, map) = split_options(args);
    let opts = match map {
        Some(m) => Opts::new(name, m, kind.keys(), true)?,
        None => Opts::empty(name),
    };
    add(fig.ax(), kind, &args, &opts, ctx)
}

/// A registration with its doc comment and readable parameters, the last being the return
/// type (`help()` and the kernel's completion show them).
fn reg(name: &str, doc: &str, params: &[&str]) -> FuncRegistration {
    FuncRegistration::new(name).with_comments([doc]).with_params_info(params)
}

/// The parameters of a kind's calls, the options map last.
fn params(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Scatter | Kind::Plot => &["x: Tensor", "y: Tensor", "options: Map"],
        Kind::Quiver => &["x: Tensor", "v: Tensor", "options: Map"],
        Kind::Segments => &["a: Tensor", "b: Tensor", "options: Map"],
        Kind::Heatmap => &["z: Tensor", "options: Map"],
    }
}

/// `name(...)` returning a new figure and `fig.name(...)` drawing into it, for each accepted
/// number of arguments (the data, then optionally the options).
fn register_kind(engine: &mut Engine, ctx: &Rc<Context>, name: &'static str, kind: Kind, doc: &'static str) {
    let names = params(kind);
    let fewest = if matches!(kind, Kind::Quiver | Kind::Segments) { 2 } else { 1 };
    for n in fewest..=names.len() {
        let free: Vec<&str> = names[..n].iter().copied().chain(["Figure"]).collect();
        let method: Vec<&str> =
            ["fig: &mut Figure"].into_iter().chain(names[..n].iter().copied()).chain(["()"]).collect();
        let (c, m) = (ctx.clone(), ctx.clone());
        let (free, method) = (reg(name, doc, &free), reg(name, doc, &method));
        match n {
            1 => {
                free.register_into_engine(engine, move |a: Dynamic| new_figure_from(&c, name, kind, vec![a]));
                method
                    .register_into_engine(engine, move |f: &mut Figure, a: Dynamic| add_to(&m, f, name, kind, vec![a]));
            }
            2 => {
                free.register_into_engine(engine, move |a: Dynamic, b: Dynamic| {
                    new_figure_from(&c, name, kind, vec![a, b])
                });
                method.register_into_engine(engine, move |f: &mut Figure, a: Dynamic, b: Dynamic| {
                    add_to(&m, f, name, kind, vec![a, b])
                });
            }
            _ => {
                free.register_into_engine(engine, move |a: Dynamic, b: Dynamic, d: Dynamic| {
                    new_figure_from(&c, name, kind, vec![a, b, d])
                });
                method.register_into_engine(engine, move |f: &mut Figure, a: Dynamic, b: Dynamic, d: Dynamic| {
                    add_to(&m, f, name, kind, vec![a, b, d])
                });
            }
        }
    }
}

fn figure_from(map: Map) -> RhaiResult<Figure> {
    let opts = Opts::new("figure", map, &["nrows", "ncols", "width", "height", "title"], false)?;
    let nrows = opts.count("nrows", 1, 10)?.unwrap_or(1) as usize;
    let ncols = opts.count("ncols", 1, 10)?.unwrap_or(1) as usize;
    let (w, h) = Figure::default_size(nrows, ncols);
    let max = super::figure::MAX_SIDE as i64;
    let width = opts.count("width", 50, max)?.map_or(w, |v| v as u32);
    let height = opts.count("height", 50, max)?.map_or(h, |v| v as u32);
    let mut fig = Figure::new(nrows, ncols, width, height);
    fig.title = opts.string("title")?;
    Ok(fig)
}

fn register_figure(engine: &mut Engine) {
    let doc = "/// A new, empty figure: figure() or figure(#{nrows, ncols, width, height, title}).\n/// Panels are filled with fig.subplot(k) (1-based) or fig.axes(k) (0-based), then fig.scatter(...), fig.heatmap(...), ...\n/// Default size: 560×460 pixels per panel (at least 640×480).";
    reg("figure", doc, &["options: Map", "Figure"]).register_into_engine(engine, figure_from);
    reg("figure", doc, &["Figure"]).register_into_engine(engine, || figure_from(Map::new()));
}

fn text_arg(func: &str, d: &Dynamic) -> RhaiResult<String> {
    if d.is_string() {
        Ok(d.to_string())
    } else {
        Err(rt(func, format!("expected a string, got {}", d.type_name())))
    }
}

fn limits(func: &str, a: &Dynamic, b: &Dynamic) -> RhaiResult<(f64, f64)> {
    match (as_number(a), as_number(b)) {
        (Some(a), Some(b)) if a < b && a.is_finite() && b.is_finite() => Ok((a, b)),
        (Some(a), Some(b)) => Err(rt(func, format!("the limits must be finite with low < high, got {a} and {b}"))),
        _ => Err(rt(func, format!("expected two numbers, got {} and {}", a.type_name(), b.type_name()))),
    }
}

fn panel_method(
    engine: &mut Engine,
    name: &'static str,
    doc: &'static str,
    f: fn(&mut Figure, &Dynamic) -> RhaiResult<()>,
) {
    reg(name, doc, &["fig: &mut Figure", "text: String", "()"])
        .register_into_engine(engine, move |fig: &mut Figure, d: Dynamic| f(fig, &d));
}

fn flag_method(engine: &mut Engine, name: &'static str, doc: &'static str, set: fn(&mut Figure, bool)) {
    reg(name, doc, &["fig: &mut Figure", "()"]).register_into_engine(engine, move |fig: &mut Figure| set(fig, true));
    reg(name, doc, &["fig: &mut Figure", "on: bool", "()"])
        .register_into_engine(engine, move |fig: &mut Figure, on: bool| set(fig, on));
}

fn register_methods(engine: &mut Engine) {
    reg(
        "subplot",
        "/// Makes panel k current, numbered from 1 row by row as plt.subplot(nrows, ncols, k).",
        &["fig: &mut Figure", "k: i64", "()"],
    )
    .register_into_engine(engine, |fig: &mut Figure, k: i64| {
        if k == 0 {
            return Err(rt("subplot", "panels are numbered from 1, as in plt.subplot (fig.axes(k) counts from 0)"));
        }
        fig.select(k - 1).map_err(|e| rt("subplot", e))
    });
    reg(
        "axes",
        "/// Makes panel k current, numbered from 0 row by row as matplotlib's fig.axes[k].",
        &["fig: &mut Figure", "k: i64", "()"],
    )
    .register_into_engine(engine, |fig: &mut Figure, k: i64| fig.select(k).map_err(|e| rt("axes", e)));
    panel_method(engine, "title", "/// The current panel's title.", |f, d| {
        f.ax().title = Some(text_arg("title", d)?);
        Ok(())
    });
    panel_method(engine, "suptitle", "/// The figure's overall title, above every panel.", |f, d| {
        f.title = Some(text_arg("suptitle", d)?);
        Ok(())
    });
    panel_method(engine, "xlabel", "/// The current panel's x axis label.", |f, d| {
        f.ax().xlabel = Some(text_arg("xlabel", d)?);
        Ok(())
    });
    panel_method(engine, "ylabel", "/// The current panel's y axis label.", |f, d| {
        f.ax().ylabel = Some(text_arg("ylabel", d)?);
        Ok(())
    });
    panel_method(
        engine,
        "colorbar",
        "/// Labels the current panel's colour bar (it shows by default for c values and heatmaps).",
        |f, d| {
            let label = text_arg("colorbar", d)?;
            let ax = f.ax();
            let item = ax.items.iter_mut().rev().find_map(|i| match i {
                super::figure::Item::Scatter { paint: super::figure::Paint::Mapped(_, s), .. } => Some(s),
                super::figure::Item::Heatmap(h) => Some(&mut h.scale),
                _ => None,
            });
            match item {
                Some(scale) => {
                    scale.colorbar = Some(label);
                    Ok(())
                }
                None => {
                    Err(rt("colorbar", "the current panel has nothing coloured by values (scatter with c, or heatmap)"))
                }
            }
        },
    );
    for (name, axis) in [("xlim", 0), ("ylim", 1)] {
        let doc = if axis == 0 { "/// The current panel's x range." } else { "/// The current panel's y range." };
        reg(name, doc, &["fig: &mut Figure", "low: f64", "high: f64", "()"]).register_into_engine(
            engine,
            move |fig: &mut Figure, a: Dynamic, b: Dynamic| -> RhaiResult<()> {
                let r = limits(name, &a, &b)?;
                let ax = fig.ax();
                if axis == 0 {
                    ax.xlim = Some(r)
                } else {
                    ax.ylim = Some(r)
                }
                Ok(())
            },
        );
    }
    flag_method(
        engine,
        "legend",
        "/// Shows (or with false hides) the current panel's legend; it shows by itself when an item has a label.",
        |f, on| f.ax().legend = Some(on),
    );
    flag_method(
        engine,
        "equal",
        "/// Equal scales on both axes of the current panel (automatic for point clouds, images and arrows).",
        |f, on| f.ax().equal = Some(on),
    );
    flag_method(engine, "grid", "/// Light grid lines at the ticks of the current panel.", |f, on| f.ax().grid = on);
}

fn register_output(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    let doc = "/// Writes the figure as PNG or SVG, from the file name's extension; a relative path is relative to the script's folder.";
    reg("save", doc, &["fig: &mut Figure", "path: &str", "()"])
        .register_into_engine(engine, move |fig: &mut Figure, path: &str| {
            output::save(fig, &c.resolve(path)).map_err(|e| rt("save", e))
        });
    reg("to_svg", "/// The figure as an SVG document.", &["fig: &mut Figure", "String"])
        .register_into_engine(engine, |fig: &mut Figure| output::to_svg(fig).map_err(|e| rt("to_svg", e)));
    reg("to_png_base64", "/// The figure as a base64-encoded PNG file.", &["fig: &mut Figure", "String"])
        .register_into_engine(engine, |fig: &mut Figure| {
            output::to_png(fig).map(|b| output::base64(&b)).map_err(|e| rt("to_png_base64", e))
        });
    let c = ctx.clone();
    reg(
        "show",
        "/// Displays the figure: inline in Jupyter, as a numbered PNG beside the script in `noyau run`.",
        &["fig: &mut Figure", "()"],
    )
    .register_into_engine(engine, move |fig: &mut Figure| -> RhaiResult<()> {
        let png = output::to_png(fig).map_err(|e| rt("show", e))?;
        c.emit(Event::Display(vec![
            ("image/png".into(), output::base64(&png)),
            ("text/plain".into(), fig.to_string()),
        ]));
        Ok(())
    });
}
