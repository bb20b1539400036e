//! Files and rich output: NumPy `.npy` and CSV tensors, a scratch folder, and `display` bundles.
//!
//! The `.npy` format is small enough to implement here rather than depend on a crate: a magic
//! string, a version, a header length (2 bytes in v1, 4 in v2 and v3), a Python dict literal
//! giving `descr`, `fortran_order` and `shape`, padded so the data starts on a 64-byte boundary,
//! then the raw values. Relative paths resolve against the script's folder (`Context::resolve`).

use crate::context::{Context, Event};
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::to_tensor;
use noyau_engine::{DType, Tensor};
use rhai::{Dynamic, Engine, ImmutableString, Map};
use std::rc::Rc;

const MAGIC: &[u8] = b"\x93NUMPY";

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let c = ctx.clone();
    doc(
        "load_npy(path: string) -> Tensor",
        "A tensor from a NumPy .npy file (float32 and float64 kept; int32 and int64 become the\n\
         session's dtype; Fortran order is read as such). Relative paths start at the script's folder.",
    )
    .register_into_engine(engine, move |path: ImmutableString| -> RhaiResult<Tensor> {
        let call = format!("load_npy(\"{path}\")");
        let bytes = std::fs::read(c.resolve(&path)).map_err(|e| rt(&call, e))?;
        parse_npy(&bytes, c.dtype.get()).map_err(|e| rt(&call, e))
    });
    let c = ctx.clone();
    doc(
        "save_npy(path: string, x: Tensor)",
        "Writes x to a NumPy .npy file ('<f4' or '<f8', C order), readable by numpy.load.",
    )
    .register_into_engine(engine, move |path: ImmutableString, x: Tensor| -> RhaiResult<()> {
        std::fs::write(c.resolve(&path), write_npy(&x)).map_err(|e| rt(&format!("save_npy(\"{path}\")"), e))
    });
    let c = ctx.clone();
    doc(
        "read_csv(path: string) -> Tensor",
        "A 2-D tensor from a CSV file of numbers (separated by commas, semicolons, tabs or spaces);\n\
         a first line that is not all numbers is taken as a header and skipped.",
    )
    .register_into_engine(engine, move |path: ImmutableString| -> RhaiResult<Tensor> {
        let call = format!("read_csv(\"{path}\")");
        let text = std::fs::read_to_string(c.resolve(&path)).map_err(|e| rt(&call, e))?;
        parse_csv(&text, c.dtype.get()).map_err(|e| rt(&call, e))
    });
    let c = ctx.clone();
    doc(
        "write_csv(path: string, x: Tensor | array)",
        "Writes a 1-D (one value per line) or 2-D tensor as CSV, values exact.",
    )
    .register_into_engine(engine, move |path: ImmutableString, x: Dynamic| -> RhaiResult<()> {
        let call = format!("write_csv(\"{path}\")");
        let text = csv_text(&to_tensor(&x, &c, &call)?).map_err(|e| rt(&call, e))?;
        std::fs::write(c.resolve(&path), text).map_err(|e| rt(&call, e))
    });
    doc(
        "temp_dir() -> string",
        "A scratch folder for this process (created on first use, under the system's temporary folder):\n\
         save_npy(temp_dir() + \"/x.npy\", x).",
    )
    .register_into_engine(engine, || -> RhaiResult<String> {
        let dir = std::env::temp_dir().join(format!("noyau-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| rt("temp_dir", e))?;
        Ok(dir.display().to_string())
    });
    let c = ctx.clone();
    doc(
        "display(bundle: map)",
        "Shows rich output: a map from MIME type to data, e.g. #{\"image/png\": base64, \"text/plain\": \"...\"}.\n\
         Notebooks render it; `noyau run` writes images beside the script.",
    )
    .register_into_engine(engine, move |bundle: Map| {
        c.emit(Event::Display(bundle.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
    });
}

/// Bytes of a `.npy` file as a tensor.
pub fn parse_npy(bytes: &[u8], int_dtype: DType) -> Result<Tensor, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic string)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = dict_value(header, "descr").ok_or("the header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = dict_value(header, "fortran_order").ok_or("the header has no 'fortran_order'")? == "True";
    let shape_text = dict_value(header, "shape").ok_or("the header has no 'shape'")?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape_text}")))
        .collect::<Result<Vec<_>, _>>()?;
    let data = &bytes[start + header_len..];
    let (little, kind, size) = match descr.as_bytes() {
        [e @ (b'<' | b'>' | b'='), k, rest @ ..] => (*e != b'>', *k, std::str::from_utf8(rest).unwrap_or("")),
        _ => return Err(format!("unsupported dtype '{descr}'")),
    };
    let n: usize = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("the shape is too large")?;
    let width = match (kind, size) {
        (b'f', "4") | (b'i', "4") => 4,
        (b'f', "8") | (b'i', "8") => 8,
        _ => return Err(format!("unsupported dtype '{descr}': use float32, float64, int32 or int64")),
    };
    let bytes_needed = n.checked_mul(width).ok_or("the shape is too large")?;
    if data.len() < bytes_needed {
        return Err(format!("{} bytes of data for shape {shape:?} of '{descr}' ({bytes_needed} expected)", data.len()));
    }
    let word = |k: usize| -> [u8; 8] {
        let mut w = [0u8; 8];
        let chunk = &data[k * width..(k + 1) * width];
        if little {
            w[..width].copy_from_slice(chunk);
        } else {
            w[..width].iter_mut().zip(chunk.iter().rev()).for_each(|(a, b)| *a = *b);
        }
        w
    };
    let values: Vec<f64> = (0..n)
        .map(|k| {
            let w = word(k);
            match (kind, width) {
                (b'f', 4) => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
                (b'i', 4) => i32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
                (b'i', _) => i64::from_le_bytes(w) as f64,
                _ => f64::from_le_bytes(w),
            }
        })
        .collect();
    let dtype = match (kind, width) {
        (b'f', 4) => DType::F32,
        (b'f', _) => DType::F64,
        _ => int_dtype,
    };
    // Fortran order is C order of the reversed shape with its dimensions reversed back.
    let c_shape: Vec<usize> = if fortran { shape.iter().rev().copied().collect() } else { shape.clone() };
    let mut t = Tensor::from_vec(values, &c_shape).map_err(|e| e.to_string())?;
    if fortran {
        let n = shape.len();
        for i in 0..n / 2 {
            t = t.transpose(i as isize, (n - 1 - i) as isize).map_err(|e| e.to_string())?;
        }
    }
    Ok(t.to_dtype(dtype))
}

/// The text after `'key':` in a header dict, up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

/// A tensor as the bytes of a v1 (or, for huge headers, v2) `.npy` file.
pub fn write_npy(t: &Tensor) -> Vec<u8> {
    let descr = match t.dtype() {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    };
    let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let v1 = header.len() + 11 < 65536;
    let prefix = if v1 { 10 } else { 12 };
    // Spaces then a newline pad the header so that the data is 64-byte aligned.
    let pad = (64 - (prefix + header.len() + 1) % 64) % 64;
    header += &" ".repeat(pad);
    header.push('\n');
    let mut out = MAGIC.to_vec();
    if v1 {
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend([2, 0]);
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    for x in t.to_vec_f64() {
        match t.dtype() {
            DType::F32 => out.extend((x as f32).to_le_bytes()),
            DType::F64 => out.extend(x.to_le_bytes()),
        }
    }
    out
}

/// CSV text as a 2-D tensor; the first line is a header if it is not all numbers.
///
/// Files separated by commas, semicolons or tabs (the first of them found on the first line)
/// are read by the `csv` crate, which handles quoting; a file with none of them is read as
/// numbers separated by spaces. A UTF-8 byte-order mark is not part of the first field.
pub fn parse_csv(text: &str, dtype: DType) -> Result<Tensor, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    // Each row with its line number (1-based), blank lines left out.
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    match [b',', b';', b'\t'].into_iter().find(|c| first.as_bytes().contains(c)) {
        Some(sep) => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .delimiter(sep)
                .from_reader(text.as_bytes());
            for record in reader.records() {
                let record = record.map_err(|e| e.to_string())?;
                if record.iter().all(str::is_empty) {
                    continue;
                }
                let line = record.position().map_or(0, |p| p.line());
                rows.push((line, record.iter().map(str::to_string).collect()));
            }
        }
        None => {
            for (k, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                rows.push((k as u64 + 1, line.split_whitespace().map(str::to_string).collect()));
            }
        }
    }
    if rows.first().is_some_and(|(_, fields)| fields.iter().any(|f| f.parse::<f64>().is_err())) {
        rows.remove(0);
    }
    let cols = rows.first().map_or(0, |(_, fields)| fields.len());
    let mut values = Vec::with_capacity(rows.len() * cols);
    for (line, fields) in &rows {
        if fields.len() != cols {
            return Err(format!("line {line}: {} fields where earlier lines have {cols}", fields.len()));
        }
        for f in fields {
            values.push(f.parse::<f64>().map_err(|_| format!("line {line}: `{f}` is not a number"))?);
        }
    }
    let t = Tensor::from_vec(values, &[rows.len(), cols]).map_err(|e| e.to_string())?;
    Ok(t.to_dtype(dtype))
}

fn csv_text(t: &Tensor) -> Result<String, String> {
    let cols = match t.shape() {
        [_] => 1,
        [_, c] => *c,
        s => return Err(format!("expects a 1-D or 2-D tensor, got shape {s:?}")),
    };
    // Each value in the shortest text that reads back to it in the tensor's dtype.
    let show = |x: f64| if t.dtype() == DType::F32 { (x as f32).to_string() } else { x.to_string() };
    let values = t.to_vec_f64();
    let lines: Vec<String> =
        values.chunks(cols.max(1)).map(|row| row.iter().map(|&x| show(x)).collect::<Vec<_>>().join(",")).collect();
    Ok(lines.join("\n") + "\n")
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    fn read(text: &str) -> Result<(Vec<usize>, Vec<f64>), String> {
        parse_csv(text, DType::F64).map(|t| (t.shape().to_vec(), t.to_vec_f64()))
    }

    #[test]
    fn headers_marks_quotes_blank_lines_and_errors() {
        // A byte-order mark does not hide the first row (it was taken as a header).
        assert_eq!(read("\u{feff}1,2\n3,4\n"), Ok((vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])));
        assert_eq!(read("\u{feff}x,y\n1,2\n"), Ok((vec![1, 2], vec![1.0, 2.0])));
        assert_eq!(read("a;b\n\"1.5\"; 2\n\n3;4\n"), Ok((vec![2, 2], vec![1.5, 2.0, 3.0, 4.0])));
        assert_eq!(read("1 2\n3   4\n"), Ok((vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])));
        assert_eq!(read("1\n2\n"), Ok((vec![2, 1], vec![1.0, 2.0])));
        assert_eq!(read(""), Ok((vec![0, 0], vec![])));
        assert_eq!(read("x,y\n1,2\n3\n"), Err("line 3: 1 fields where earlier lines have 2".into()));
        assert_eq!(read("1,2\n3,z\n"), Err("line 2: `z` is not a number".into()));
    }
}
