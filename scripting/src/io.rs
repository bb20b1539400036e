//! Files and rich output: NumPy `.npy` and CSV tensors, a scratch folder, and `display` bundles.
//!
//! Both formats are read and written by the field's crates (`ndarray-npy`, `csv`), with the
//! checks they lack for input a person may give (see [`parse_npy`]). Relative paths resolve
//! against the script's folder (`Context::resolve`).

use crate::context::{Context, Event};
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::to_tensor;
use ndarray::ArrayD;
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use noyau_engine::{DType, Tensor};
use rhai::{Dynamic, Engine, ImmutableString, Map};
use std::rc::Rc;

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
        let call = format!("save_npy(\"{path}\")");
        std::fs::write(c.resolve(&path), write_npy(&x).map_err(|e| rt(&call, e))?).map_err(|e| rt(&call, e))
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

/// Bytes of a `.npy` file as a tensor, read by the `ndarray-npy` crate.
///
/// The crate allocates the whole array from the header's shape before it reads the values, so
/// a short file that claims a huge shape would abort the process: the header is read first and
/// its shape checked against the bytes really present (every accepted type takes at least 4).
pub fn parse_npy(bytes: &[u8], int_dtype: DType) -> Result<Tensor, String> {
    let mut data = bytes;
    let header = Header::from_reader(&mut data).map_err(|e| format!("not a valid .npy file: {e}"))?;
    let n = header.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("the shape is too large")?;
    if n.checked_mul(4).is_none_or(|need| need > data.len()) {
        return Err(format!("{} bytes of data cannot hold shape {:?}", data.len(), header.shape));
    }
    let wrong_type = |e: &ReadNpyError| matches!(e, ReadNpyError::WrongDescriptor(_));
    let t = match ArrayD::<f32>::read_npy(bytes) {
        Err(e) if wrong_type(&e) => match ArrayD::<f64>::read_npy(bytes) {
            Err(e) if wrong_type(&e) => match ArrayD::<i64>::read_npy(bytes) {
                Err(e) if wrong_type(&e) => {
                    let a = ArrayD::<i32>::read_npy(bytes).map_err(|e| match e {
                        ReadNpyError::WrongDescriptor(d) => {
                            format!("unsupported dtype {d}: use float32, float64, int32 or int64")
                        }
                        e => e.to_string(),
                    })?;
                    Tensor::from_array(a.mapv(f64::from)).to_dtype(int_dtype)
                }
                // Integers beyond 2⁵³ round to the nearest float, as numpy's astype does.
                other => Tensor::from_array(other.map_err(|e| e.to_string())?.mapv(|v| v as f64)).to_dtype(int_dtype),
            },
            other => Tensor::from_array(other.map_err(|e| e.to_string())?),
        },
        other => Tensor::from_array(other.map_err(|e| e.to_string())?),
    };
    Ok(t)
}

/// A tensor as the bytes of a `.npy` file ('<f4' or '<f8', C order), written by `ndarray-npy`.
pub fn write_npy(t: &Tensor) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let written = match t.dtype() {
        DType::F32 => t.to_f64_array().mapv(|x| x as f32).write_npy(&mut out),
        DType::F64 => t.to_f64_array().write_npy(&mut out),
    };
    written.map_err(|e| e.to_string())?;
    Ok(out)
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
