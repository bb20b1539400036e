//! A cell's value as a Jupyter display bundle: text for everything, plus HTML for tensors, LaTeX for formulas and PNG for figures.
//!
//! `noyau run` prints the `text/plain` part; the kernel sends the whole bundle as the cell's
//! `execute_result`, and the front end picks the richest type it can render.

use noyau_engine::Tensor;
use noyau_scripting::lazy::LazyTensor;
use noyau_scripting::plot::{self, Figure};
use noyau_scripting::values::display_value;
use noyau_scripting::Session;
use rhai::Dynamic;

/// (MIME type, data) pairs, as in `Event::Display`; images are base64.
pub type Bundle = Vec<(String, String)>;

/// The bundle showing `value`, a value of `session`; empty for unit (a cell ending with a
/// statement shows nothing). LaTeX names a formula's variables as the session's scope does.
pub fn value_bundle(session: &Session, value: &Dynamic) -> Bundle {
    let Some(text) = display_value(session.engine(), value) else { return Vec::new() };
    let mut bundle = vec![("text/plain".to_string(), text)];
    if let Some(t) = value.read_lock::<Tensor>() {
        bundle.push(("text/html".into(), tensor_html(&t)));
    } else if let Some(lazy) = value.read_lock::<LazyTensor>() {
        bundle.push(("text/latex".into(), format!("${}$", lazy.latex_in(session.scope()))));
    } else if let Some(fig) = value.read_lock::<Figure>() {
        // A figure that cannot be drawn still shows its text description.
        if let Ok(png) = plot::to_png(&fig) {
            bundle.push(("image/png".into(), plot::base64(&png)));
        }
    }
    bundle
}

/// Rows and columns shown in a tensor's HTML table; larger tensors show their corners.
const SHOWN: usize = 6;

/// A summary of a tensor: shape, dtype, range and mean, and a table of its first entries when
/// it has at most two dimensions.
pub fn tensor_html(t: &Tensor) -> String {
    let values = t.to_vec_f64();
    let shape: Vec<String> = t.shape().iter().map(usize::to_string).collect();
    let mut html = format!("<div class=\"noyau-tensor\"><b>Tensor</b> [{}] {}", shape.join(" × "), t.dtype().name());
    if t.is_requires_grad() {
        html += ", requires_grad";
    }
    if !values.is_empty() {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        html += &format!("<br>min {}, max {}, mean {}", num(min), num(max), num(mean));
    }
    let (rows, cols) = match t.shape() {
        [] => (1, 1),
        [n] => (1, *n),
        [n, m] => (*n, *m),
        _ => return html + "</div>",
    };
    html += "<table>";
    for i in 0..rows.min(SHOWN) {
        html += "<tr>";
        for j in 0..cols.min(SHOWN) {
            html += &format!("<td>{}</td>", num(values[i * cols + j]));
        }
        if cols > SHOWN {
            html += "<td>…</td>";
        }
        html += "</tr>";
    }
    if rows > SHOWN {
        html += "<tr><td>⋮</td></tr>";
    }
    html + "</table></div>"
}

/// A number with 6 significant digits.
fn num(x: f64) -> String {
    format!("{x:.6}").trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_of(code: &str) -> Bundle {
        let mut s = Session::new();
        let v = s.eval(code, "test").unwrap();
        value_bundle(&s, &v)
    }

    fn mimes(b: &Bundle) -> Vec<&str> {
        b.iter().map(|(m, _)| m.as_str()).collect()
    }

    #[test]
    fn each_kind_of_value_gets_its_rich_type() {
        let t = bundle_of("tensor([[1.0, 2.0], [3.0, 4.5]])");
        assert_eq!(mimes(&t), ["text/plain", "text/html"]);
        assert!(t[1].1.contains("[2 × 2] float32") && t[1].1.contains("max 4.5, mean 2.625"), "{}", t[1].1);
        assert!(t[1].1.contains("<td>4.5</td>"), "{}", t[1].1);
        let lazy = bundle_of("let x = Vi(tensor([[1.0], [2.0]])); let y = Vj(tensor([[0.5]])); (x - y).exp()");
        assert_eq!(mimes(&lazy), ["text/plain", "text/latex"]);
        // `x` and `y` are the script's names of these variables.
        assert_eq!(lazy[1].1, "$\\exp\\left(x - y\\right)$");
        // Parameters and tensors by the script's names, the Gaussian as one writes it.
        let gauss = bundle_of(
            "let x = tensor([[1.0], [2.0]]); let y_j = Vj(tensor([[0.5]])); let sigma = Pm(0.3);\n\
             (-((Vi(x) - y_j) ** 2).sum(-1) / (2 * sigma ** 2)).exp()",
        );
        assert_eq!(gauss[1].1, "$\\exp\\left(-\\frac{\\left\\|x_{i} - y_{j}\\right\\|^{2}}{2 \\sigma^{2}}\\right)$");
        let fig = bundle_of("scatter(tensor([[0.0, 1.0], [1.0, 0.0]]))");
        assert_eq!(mimes(&fig), ["text/plain", "image/png"]);
        assert_eq!(bundle_of("let a = 1;"), Bundle::new());
        assert_eq!(bundle_of("\"hi\""), vec![("text/plain".to_string(), "\"hi\"".to_string())]);
    }

    #[test]
    fn large_tensors_show_their_corner() {
        let html = tensor_html(&Tensor::zeros(&[10, 10], noyau_engine::DType::F64).unwrap());
        assert_eq!(html.matches("<tr>").count(), SHOWN + 1);
        assert!(html.contains("…") && html.contains("⋮"));
    }
}
