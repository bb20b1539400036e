//! Where a session's output goes on a terminal: text to stdout/stderr, images to numbered PNG files.
//!
//! `noyau run` has no screen to draw on, so an `image/png` display bundle is decoded and written
//! beside the script or notebook as `<stem>-fig<N>.png` (N counting from 1), and the path is
//! printed; a bundle without an image prints its `text/plain` part.

use crate::cells::SharedSink;
use noyau_scripting::Event;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A sink printing text and writing figures as `<dir>/<stem>-fig<N>.png`.
pub fn terminal_sink(dir: &Path, stem: &str) -> SharedSink {
    let (dir, stem, count) = (dir.to_path_buf(), stem.to_string(), Arc::new(AtomicUsize::new(0)));
    Arc::new(move |e| match e {
        Event::Stdout(s) => println!("{s}"),
        Event::Stderr(s) => eprintln!("{s}"),
        Event::Display(bundle) => show(&bundle, &dir, &stem, &count),
    })
}

fn show(bundle: &[(String, String)], dir: &Path, stem: &str, count: &AtomicUsize) {
    let part = |mime: &str| bundle.iter().find(|(m, _)| m == mime).map(|(_, d)| d.as_str());
    match part("image/png") {
        Some(data) => {
            let path = figure_path(dir, stem, count.fetch_add(1, Ordering::Relaxed) + 1);
            let written = decode_base64(data)
                .ok_or_else(|| "the image/png data is not valid base64".to_string())
                .and_then(|bytes| std::fs::write(&path, bytes).map_err(|e| e.to_string()));
            match written {
                Ok(()) => println!("[figure {}]", path.display()),
                Err(e) => eprintln!("cannot write figure {}: {e}", path.display()),
            }
        }
        None => {
            if let Some(text) = part("text/plain") {
                println!("{text}");
            }
        }
    }
}

/// `<dir>/<stem>-fig<n>.png`.
pub fn figure_path(dir: &Path, stem: &str, n: usize) -> PathBuf {
    dir.join(format!("{stem}-fig{n}.png"))
}

/// Standard base64 (with or without padding; whitespace such as notebook line breaks ignored).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let digits = digits.strip_suffix(b"==").or_else(|| digits.strip_suffix(b"=")).unwrap_or(&digits);
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * (4 - chunk.len()) as u32;
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a").is_none());
        assert!(decode_base64("a*bc").is_none());
    }
}
