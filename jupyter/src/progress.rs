//! Progress of long work shown to a person: a bar on a terminal (`noyau run`, the REPL) and an
//! updating display in Jupyter, fed by the engine's progress hook.
//!
//! The engine reports at most every 100 ms and once at the end (`noyau_engine::progress`); here
//! a computation appears only once it has run for [`SHOW_AFTER`], so short reductions, the
//! thousands inside a Sinkhorn loop included, show nothing. Each kind of work (`reduction`,
//! `sinkhorn`, the Rust cells' compile) has its own line, so a Sinkhorn loop and a long
//! reduction it runs can both be shown. What a report becomes is [`Shown`]: the start of a
//! line, an update of it, or its last state; the front end decides how to draw it.

use noyau_engine::progress::{Progress, ProgressHook};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Work shorter than this shows no progress.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Width of the bar, in characters.
const BAR: usize = 24;

/// What to draw for one report: `id` names the line of one computation.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Start { id: String, line: String, fraction: Option<f64> },
    Update { id: String, line: String, fraction: Option<f64>, last: bool },
}

/// A hook that turns reports into [`Shown`] events for `draw` (called from whichever thread
/// reports; `draw` must be quick).
pub fn hook(draw: impl Fn(Shown) + Send + Sync + 'static) -> ProgressHook {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let open: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    ProgressHook::new(move |p: &Progress| {
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        let fraction = (p.total > 0).then(|| p.done as f64 / p.total as f64);
        let line = line(p);
        let shown = match open.get(&p.task) {
            Some(id) => Shown::Update { id: id.clone(), line, fraction, last: p.finished },
            None if p.elapsed < SHOW_AFTER || p.finished => return,
            None => {
                let id = format!("noyau-progress-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
                open.insert(p.task.clone(), id.clone());
                Shown::Start { id, line, fraction }
            }
        };
        if p.finished {
            open.remove(&p.task);
        }
        drop(open);
        draw(shown);
    })
}

/// One line of text: `sinkhorn  [#########...........]  12/40  ε = 1.2e-2  3.1 s`; without a
/// known total, the count and the detail (`compiling Rust  37 crates (noyau_engine)  45.0 s`).
pub fn line(p: &Progress) -> String {
    let mut out = p.task.clone();
    if p.total > 0 {
        let filled = (p.done.min(p.total) as usize * BAR) / p.total as usize;
        out += &format!("  [{}{}]  {}/{}", "#".repeat(filled), ".".repeat(BAR - filled), p.done, p.total);
        if !p.detail.is_empty() {
            out += &format!("  {}", p.detail);
        }
    } else {
        // The detail says what the count counts.
        out += &format!("  {} {}", p.done, p.detail);
    }
    out + &format!("  {:.1} s", p.elapsed.as_secs_f64())[..]
}

/// A bar redrawn in place on stderr, when stderr is a terminal (None otherwise: logs and pipes
/// get no control characters).
pub fn terminal_hook() -> Option<ProgressHook> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(hook(|shown| {
        let (line, last) = match shown {
            Shown::Start { line, .. } => (line, false),
            Shown::Update { line, last, .. } => (line, last),
        };
        let mut err = std::io::stderr().lock();
        // \r and "erase to the end of the line": the bar overwrites itself.
        let _ = write!(err, "\r{line}\x1b[K{}", if last { "\n" } else { "" });
        let _ = err.flush();
    }))
}

/// The HTML of a progress display: a `<progress>` bar (when the total is known) and the line.
pub fn html(line: &str, fraction: Option<f64>) -> String {
    let bar = fraction
        .map(|f| format!("<progress value=\"{f:.3}\" max=\"1\" style=\"width: 20em\"></progress> "))
        .unwrap_or_default();
    let text = line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!("<div class=\"noyau-progress\">{bar}<code>{text}</code></div>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn report(task: &str, done: u64, total: u64, secs: f64, finished: bool) -> Progress {
        Progress {
            task: task.into(),
            detail: String::new(),
            done,
            total,
            elapsed: Duration::from_secs_f64(secs),
            finished,
        }
    }

    fn collect() -> (ProgressHook, Arc<Mutex<Vec<Shown>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        (hook(move |shown| s.lock().unwrap().push(shown)), seen)
    }

    #[test]
    fn short_work_shows_nothing_and_long_work_one_line_per_task() {
        let (h, seen) = collect();
        h.call(&report("reduction", 5, 10, 0.2, false));
        h.call(&report("reduction", 10, 10, 0.4, true));
        assert!(seen.lock().unwrap().is_empty(), "under a second: nothing");
        h.call(&report("sinkhorn", 1, 4, 1.2, false));
        h.call(&report("reduction", 10, 10, 0.1, true));
        h.call(&report("sinkhorn", 2, 4, 1.5, false));
        h.call(&report("sinkhorn", 4, 4, 2.0, true));
        // The next Sinkhorn loop is a new line.
        h.call(&report("sinkhorn", 1, 4, 1.1, false));
        let shown = seen.lock().unwrap();
        assert_eq!(shown.len(), 4, "{shown:?}");
        let Shown::Start { id, fraction, .. } = &shown[0] else { panic!("{:?}", shown[0]) };
        assert_eq!(*fraction, Some(0.25));
        assert!(matches!(&shown[1], Shown::Update { id: i, last: false, .. } if i == id));
        assert!(matches!(&shown[2], Shown::Update { id: i, last: true, .. } if i == id));
        assert!(matches!(&shown[3], Shown::Start { id: i, .. } if i != id), "{:?}", shown[3]);
    }

    #[test]
    fn lines_and_html() {
        let mut p = report("sinkhorn", 12, 40, 3.04, false);
        p.detail = "ε = 1.2e-2".into();
        assert_eq!(line(&p), "sinkhorn  [#######.................]  12/40  ε = 1.2e-2  3.0 s");
        let mut c = report("compiling Rust", 37, 0, 45.0, false);
        c.detail = "crates (noyau_engine)".into();
        assert_eq!(line(&c), "compiling Rust  37 crates (noyau_engine)  45.0 s");
        let h = html("a < b", Some(0.5));
        assert!(h.contains("<progress value=\"0.500\"") && h.contains("a &lt; b"), "{h}");
    }
}
