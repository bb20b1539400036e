//! Plots end to end: every kind renders to PNG and SVG from a script, colours and orientation are right, and mistakes give clear errors.

use noyau_scripting::plot::{self, Colormap, Figure};
use noyau_scripting::{Event, Session};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

/// Runs `src` in a fresh session and returns its value.
fn eval(src: &str) -> Result<rhai::Dynamic, String> {
    Session::new().eval(src, "test").map_err(|e| e.to_string())
}

fn figure(src: &str) -> Figure {
    let value = eval(src).unwrap_or_else(|e| panic!("{e}"));
    value.try_cast::<Figure>().expect("the script returns a Figure")
}

fn error(src: &str) -> String {
    match eval(src) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// The width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "IHDR first");
    let be = |k: usize| u32::from_be_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]);
    (be(16), be(20))
}

/// A small point cloud as a Rhai array literal, and a value per point.
const CLOUD: &str = "let x = []; let f = []; for k in 0..40 { let t = k.to_float() * 0.4; x.push([cos(t) * (1.0 + t / 8.0), sin(t) * (1.0 + t / 8.0)]); f.push(t); }";

/// One script per kind of plot, each returning a one-panel figure.
fn every_kind() -> Vec<(&'static str, String)> {
    vec![
        ("scatter", format!("{CLOUD} scatter(x, #{{c: f, cmap: \"plasma\", s: 5, title: \"Densité\", colorbar: \"f\"}})")),
        ("scatter_xy", "scatter([1, 2, 3], [3, 1, 2], #{color: \"black\", title: \"xy\"})".into()),
        ("plot", "plot([0, 1, 2, 3], [0, 1, 4, 9], #{label: \"carré\", color: \"C1\", linewidth: 3, title: \"Courbe\"})".into()),
        ("plot_paths", "plot([[[0, 0], [1, 1]], [[0.5, 0], [1.5, 1]], [[1, 0], [2, 1]]], #{title: \"Trajectoires\"})".into()),
        ("heatmap", "heatmap([[0, 1, 2], [3, 4, 5]], #{extent: [0, 1, 0, 1], cmap: \"magma\", title: \"Carte\"})".into()),
        ("imshow", "imshow([[0, 1], [2, 3]], #{origin: \"upper\", title: \"Image\"})".into()),
        ("quiver", format!("{CLOUD} quiver(x, x, #{{scale: 0.2, color: \"red\", title: \"Flèches\"}})")),
        ("segments", "segments([[0, 0], [1, 0]], [[0, 1], [1, 1]], #{alpha: 0.5, title: \"Segments\"})".into()),
        ("plan", "segments([[0, 0], [1, 0]], [[0, 1], [1, 1], [2, 1]], #{alpha: [[1, 0.5, 0], [0, 0.2, 1]], title: \"Plan\"})".into()),
    ]
}

#[test]
fn every_kind_renders_to_png_and_svg() {
    for (name, src) in every_kind() {
        let fig = figure(&src);
        assert_eq!(png_size(&plot::to_png(&fig).unwrap()), (fig.width, fig.height), "{name}");
        let svg = plot::to_svg(&fig).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{name}");
        let title = fig.axes[0].title.clone().unwrap();
        assert!(svg.contains(&title), "{name}: the SVG has its title {title}");
    }
}

#[test]
fn svg_shows_colour_bar_scale_and_heatmaps_as_images() {
    let fig = figure("heatmap([[0, 0.5], [0.75, 1]], #{extent: [0, 1, 0, 1], colorbar: \"niveau\"})");
    let svg = plot::to_svg(&fig).unwrap();
    for tick in ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "niveau"] {
        assert!(svg.contains(&format!("\n{tick}\n")), "colour bar label {tick} in the SVG");
    }
    assert_eq!(svg.matches("<image").count(), 1, "a heatmap is one embedded image");
    assert!(svg.contains("data:image/png;base64,iVBORw0KGgo"), "the image is a PNG");
}

#[test]
fn colormaps_end_at_the_documented_colours() {
    let ends = [
        ("viridis", "#440154", "#fde725"),
        ("plasma", "#0d0887", "#f0f921"),
        ("inferno", "#000004", "#fcffa4"),
        ("magma", "#000004", "#fcfdbf"),
        ("coolwarm", "#3b4cc0", "#b40426"),
        ("gray", "#000000", "#ffffff"),
    ];
    for (name, lo, hi) in ends {
        let cmap = Colormap::from_name(name).unwrap();
        assert_eq!((cmap.at(0.0).hex(), cmap.at(1.0).hex()), (lo.to_string(), hi.to_string()), "{name}");
    }
}

/// The mean row (from the top) of the pixels of exactly `color`.
fn mean_row(rgb: &[u8], width: u32, color: [u8; 3]) -> f64 {
    let rows: Vec<usize> =
        rgb.chunks(3).enumerate().filter(|(_, p)| *p == color).map(|(k, _)| k / width as usize).collect();
    assert!(rows.len() > 100, "the colour {color:?} is drawn");
    rows.iter().sum::<usize>() as f64 / rows.len() as f64
}

#[test]
fn heatmap_row_zero_is_at_the_bottom_unless_origin_upper() {
    let (lo, hi) = (Colormap::Viridis.at(0.0), Colormap::Viridis.at(1.0));
    let (lo, hi) = ([lo.r, lo.g, lo.b], [hi.r, hi.g, hi.b]);
    // z[i][j] = i: a gradient along y, low values in row 0.
    for (origin, low_at_bottom) in [("lower", true), ("upper", false)] {
        let fig = figure(&format!(
            "heatmap([[0, 0], [1, 1]], #{{extent: [0, 1, 0, 1], origin: \"{origin}\", colorbar: false}})"
        ));
        let rgb = plot::to_rgb(&fig).unwrap();
        let (low, high) = (mean_row(&rgb, fig.width, lo), mean_row(&rgb, fig.width, hi));
        assert_eq!(low > high, low_at_bottom, "origin {origin}: low values' mean row {low}, high values' {high}");
    }
}

#[test]
fn subplots_take_the_items_drawn_after_selecting_them() {
    let fig = figure(&format!(
        "{CLOUD} let fig = figure(#{{nrows: 2, ncols: 3, width: 900, height: 600, title: \"Six\"}});
         fig.subplot(1); fig.scatter(x, #{{color: \"black\", s: 2}});
         fig.subplot(2); fig.scatter(x, #{{c: f}}); fig.colorbar(\"f\");
         fig.axes(5); fig.heatmap([[1, 2], [3, 4]]); fig.title(\"last\"); fig.xlabel(\"x\"); fig.ylabel(\"y\");
         fig.xlim(0, 2); fig.ylim(-1, 1); fig.legend(); fig.grid(); fig.equal(false);
         fig"
    ));
    assert_eq!((fig.nrows, fig.ncols, fig.axes.len()), (2, 3, 6));
    let kinds: Vec<usize> = fig.axes.iter().map(|a| a.items.len()).collect();
    assert_eq!(kinds, [1, 1, 0, 0, 0, 1]);
    let last = &fig.axes[5];
    assert_eq!(
        (last.xlim, last.ylim, last.equal, last.legend, last.grid),
        (Some((0.0, 2.0)), Some((-1.0, 1.0)), Some(false), Some(true), true)
    );
    assert_eq!(
        fig.to_string(),
        "<Figure \"Six\" 900×600, 6 panels: scatter | scatter+colorbar | empty | empty | empty | heatmap+colorbar>"
    );
    assert_eq!(png_size(&plot::to_png(&fig).unwrap()), (900, 600));
}

#[test]
fn show_displays_a_png_and_a_summary() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let mut session = Session::with_sink(Rc::new(move |e| sink.borrow_mut().push(e)));
    let _ = session.eval("show(plot([1, 3, 2]))", "show").unwrap();
    let events = events.borrow();
    let [Event::Display(bundle)] = &events[..] else { panic!("one display event, got {events:?}") };
    assert_eq!(bundle[0].0, "image/png");
    assert!(bundle[0].1.starts_with("iVBORw0KGgo"), "base64 of a PNG");
    assert_eq!(bundle[1], ("text/plain".to_string(), "<Figure 640×480, 1 panel: plot>".to_string()));
    let b64 = eval("plot([1, 3, 2]).to_png_base64()").unwrap().into_string().unwrap();
    assert_eq!(b64, bundle[0].1);
}

#[test]
fn save_writes_png_and_svg_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plot_render");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display();
    let _ = eval(&format!("let fig = scatter([[0, 0], [1, 1]]); fig.save(\"{d}/a/f.png\"); fig.save(\"{d}/f.svg\");"))
        .unwrap();
    assert_eq!(png_size(&std::fs::read(dir.join("a/f.png")).unwrap()), (640, 480));
    assert!(std::fs::read_to_string(dir.join("f.svg")).unwrap().starts_with("<svg"));
    assert!(error(&format!("scatter([[0, 0]]).save(\"{d}/f.jpg\")")).contains("must end in .png or .svg"));
}

#[test]
fn mistakes_are_explained() {
    let cases = [
        ("scatter([[1, 2, 3]])", "scatter: x must be an N×2 tensor of points, got shape [1, 3]"),
        ("scatter([1, 2], [1, 2, 3])", "scatter: x has 2 entries but y has 3"),
        ("scatter([[0, 0]], #{cmap: \"jet\", c: [1]})", "unknown colormap \"jet\": use one of viridis, plasma, inferno, magma, coolwarm, gray"),
        ("scatter([[0, 0]], #{colour: \"red\"})", "scatter: unknown option \"colour\""),
        ("scatter([[0, 0]], #{c: [1], color: \"red\"})", "give c (values mapped through cmap) or color"),
        ("scatter([[0, 0]], #{cmap: \"plasma\"})", "option \"cmap\" needs values to map: give them as c"),
        ("plot([0, 1], #{color: \"rouge\"})", "unknown colour \"rouge\""),
        ("heatmap([1, 2, 3])", "heatmap: z must be a 2-D tensor"),
        ("imshow([[1]], #{origin: \"left\"})", "imshow: origin must be \"lower\""),
        ("heatmap([[1]], #{extent: [1, 0, 0, 1]})", "must be [x0, x1, y0, y1] with x0 < x1"),
        ("quiver([[0, 0]], [[1, 1], [2, 2]])", "quiver: x has 1 entries but v has 2"),
        ("segments([[0, 0]], [[1, 1]], #{alpha: [[1, 1, 1]]})", "a matrix alpha must be [1, 1]"),
        ("segments([[0, 0]])", "no function segments (array)"),
        ("scatter([[0, 0]], [0], [0], #{})", "no function scatter"),
        ("plot([[[0]]])", "plot: got shape [1, 1, 1]: use plot(y) with a vector"),
        ("figure(#{ncols: 0})", "figure: option \"ncols\" must be an integer from 1 to 10"),
        ("figure(#{size: 3})", "figure: unknown option \"size\": the options are nrows, ncols, width, height, title"),
        ("let f = figure(#{ncols: 2}); f.subplot(0)", "panels are numbered from 1"),
        ("let f = figure(#{ncols: 2}); f.axes(2)", "there is no panel 2: this figure has 2 (1 × 2), numbered 0 to 1"),
        ("plot([0, 1], #{width: 3})", "plot: unknown option \"width\" (a figure's size is set by figure(#{width, height}); a line's width is linewidth)"),
        ("let f = figure(); f.xlim(1, 0)", "xlim: the limits must be finite with low < high"),
        ("let f = figure(); f.colorbar(\"x\")", "colorbar: the current panel has nothing coloured by values"),
        ("figure(#{width: 10})", "figure: option \"width\" must be an integer from 50 to 6000, got 10"),
        ("scatter([[0, 0]], #{s: -1})", "option \"s\" must be positive and at most 10000, got -1"),
        ("plot([0, 1], #{linewidth: 1e9})", "option \"linewidth\" must be positive and at most 50"),
        ("plot([0, 1], #{xlim: [0, 1e308 * 10]})", "option \"xlim\" must be"),
    ];
    for (src, expected) in cases {
        let e = error(src);
        assert!(e.contains(expected), "{src}\n  gave: {e}\n  expected: {expected}");
    }
    // The unknown-option message lists every accepted key.
    let e = error("heatmap([[1]], #{cmapp: \"gray\"})");
    assert!(e.contains("the options are extent, cmap, vmin, vmax, colorbar, origin, title, xlabel, ylabel, xlim, ylim, equal, legend, grid"), "{e}");
}

#[test]
fn automatic_limits_and_aspect() {
    let fig = figure("scatter([[0, 0], [2, 1]])");
    let ax = &fig.axes[0];
    assert!(ax.equal_aspect(), "a point cloud keeps its shape");
    let (x, y) = ax.limits();
    assert!((x.0 + 0.1).abs() < 1e-12 && (x.1 - 2.1).abs() < 1e-12, "5% margins: {x:?}");
    assert!((y.0 + 0.05).abs() < 1e-12 && (y.1 - 1.05).abs() < 1e-12, "{y:?}");
    assert!(!figure("scatter([0, 1], [0, 5])").axes[0].equal_aspect(), "two vectors are a graph, not a shape");
    let image = figure("heatmap([[1, 2]], #{extent: [0, 2, 0, 1]})");
    assert_eq!(image.axes[0].limits(), ((0.0, 2.0), (0.0, 1.0)), "images fill their extent");
}

#[test]
fn tensors_of_either_dtype_are_accepted() {
    // The tensor functions are registered elsewhere; here tensors come in through the scope.
    let ctx = noyau_scripting::Context::new(noyau_scripting::session::terminal_sink());
    let mut engine = rhai::Engine::new();
    plot::register(&mut engine, &ctx);
    let mut scope = rhai::Scope::new();
    let points: Vec<f32> = (0..20).map(|k| (k as f32 * 0.7).sin()).collect();
    scope.push("x", noyau_engine::Tensor::from_vec(points, &[10, 2]).unwrap());
    // A reduction's result is N×1, as f = K_ij.sum(dim=1) in the notebooks.
    scope.push("f", noyau_engine::Tensor::from_vec((0..10).map(f64::from).collect(), &[10, 1]).unwrap());
    scope.push("z", noyau_engine::Tensor::from_vec(vec![0.0f32; 12], &[3, 4]).unwrap());
    let fig: Figure = engine.eval_with_scope(&mut scope, "let fig = scatter(x, #{c: f}); fig.heatmap(z); fig").unwrap();
    assert_eq!(fig.to_string(), "<Figure 640×480, 1 panel: scatter+heatmap+colorbar>");
    assert!(plot::to_png(&fig).is_ok());
}

#[test]
fn extreme_values_render_without_failing() {
    let nan = "(0.0 / 0.0)";
    for src in [
        "scatter([[1e308, -1e308], [-1e308, 1e308]], #{c: [1e308, -1e308]})".to_string(),
        format!("plot([0, 1, 2], [1, {nan}, 2])"),
        format!("heatmap([[{nan}, 1], [2, 3]])"),
        "heatmap([[5, 5], [5, 5]])".to_string(),
        "quiver([[0, 0]], [[0, 0]])".to_string(),
        "segments([[0, 0]], [[0, 0]])".to_string(),
        "figure(#{nrows: 10, ncols: 10, width: 200, height: 200})".to_string(),
    ] {
        let fig = figure(&src);
        assert!(plot::to_png(&fig).is_ok() && plot::to_svg(&fig).is_ok(), "{src}");
    }
}
