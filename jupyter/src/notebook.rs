//! Notebooks: reading nbformat 4 `.ipynb` files and running their code cells in order, headless.
//!
//! Cells run in one session, as Jupyter's "run all" does: variables and functions carry from
//! cell to cell, a cell's last value is printed when it is not unit, and the first error stops
//! the run. Errors are located as `notebook.ipynb:cell N:line:col`, N counting every cell from 1
//! (as editors number them). Cells starting with `%%rust` run through evcxr when the binary has
//! the `rust-cells` feature, and are skipped with a notice otherwise. Cells run through
//! [`Cells`], the executor the Jupyter kernel uses too.

use crate::cells::{is_rust_cell, CellError, Cells};
use anyhow::{bail, Context as _};
use std::path::Path;

/// A cell of a notebook.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// 1-based position among all the notebook's cells.
    pub number: usize,
    /// "code", "markdown" or "raw".
    pub kind: String,
    pub source: String,
}

/// The cells of an nbformat 4 notebook given as JSON text.
pub fn parse(json: &str) -> anyhow::Result<Vec<Cell>> {
    let nb: serde_json::Value = serde_json::from_str(json).context("not a notebook: invalid JSON")?;
    match nb["nbformat"].as_u64() {
        Some(4) | None => {}
        Some(v) => bail!("nbformat {v} is not supported (only version 4)"),
    }
    let cells = nb["cells"].as_array().context("not a notebook: no \"cells\" list")?;
    Ok(cells
        .iter()
        .enumerate()
        .map(|(k, c)| {
            // `source` is a string or a list of lines (each keeping its newline).
            let source = match &c["source"] {
                serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect::<String>(),
                v => v.as_str().unwrap_or("").to_string(),
            };
            Cell { number: k + 1, kind: c["cell_type"].as_str().unwrap_or("code").to_string(), source }
        })
        .collect())
}

/// Runs the code cells of the notebook at `path`, printing outputs and each cell's value (its
/// `text/plain`); returns the first cell error.
pub fn run(cells: &mut Cells, path: &Path) -> anyhow::Result<Result<(), CellError>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let notebook = parse(&text).with_context(|| path.display().to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let dir = dir.canonicalize().with_context(|| format!("cannot enter {}", dir.display()))?;
        *cells.session().context().base_dir.borrow_mut() = dir.clone();
        // Jupyter starts kernels in the notebook's folder: Rust cells' relative paths (and Rhai's,
        // through base_dir) resolve there too.
        std::env::set_current_dir(&dir).with_context(|| format!("cannot enter {}", dir.display()))?;
    }
    for cell in notebook.iter().filter(|c| c.kind == "code") {
        if is_rust_cell(&cell.source) && !cfg!(feature = "rust-cells") {
            eprintln!(
                "{}: cell {}: %%rust cells need a noyau built with the rust-cells feature; skipped",
                path.display(),
                cell.number
            );
            continue;
        }
        let name = format!("{}:cell {}", path.display(), cell.number);
        match cells.run(&cell.source, &name) {
            Ok(bundle) => {
                if let Some((_, text)) = bundle.iter().find(|(mime, _)| mime == "text/plain") {
                    println!("{text}");
                }
            }
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_as_strings_or_lines() {
        let cells = parse(
            r##"{"nbformat": 4, "cells": [
                {"cell_type": "markdown", "source": "# Title"},
                {"cell_type": "code", "source": ["let x = 1;\n", "x + 1"]},
                {"cell_type": "code", "source": "%%rust\nlet x = 1;"}]}"##,
        )
        .unwrap();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[1], Cell { number: 2, kind: "code".into(), source: "let x = 1;\nx + 1".into() });
        assert!(is_rust_cell(&cells[2].source));
        assert!(parse(r#"{"nbformat": 3, "cells": []}"#).is_err());
        assert!(parse("[1, 2]").is_err());
    }
}
