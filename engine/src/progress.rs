//! Progress reports of long computations: a hook the caller puts in `Options`, called between blocks of work.
//!
//! The engine never prints anything itself. A long computation (a reduction over many rows, the
//! ε steps of a Sinkhorn loop) owns a [`Reporter`], bumps it as blocks finish, and the reporter
//! calls the caller's [`ProgressHook`] at most every [`MIN_INTERVAL`] (and once at the end), so
//! that the inner loops never wait on a display. What to show, and whether the work lasted long
//! enough to be worth showing, is the caller's business: every report carries the elapsed time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shortest time between two reports of one computation (the last one always comes).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// One report: `done` of `total` units of `task` were finished after `elapsed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is running, in a few words: "reduction", "sinkhorn", ...
    pub task: String,
    /// A detail of the current state ("ε = 0.012"), or empty.
    pub detail: String,
    pub done: u64,
    pub total: u64,
    pub elapsed: Duration,
    /// True on the last report of the computation (done == total, or the work stopped early).
    pub finished: bool,
}

/// The caller's callback. Cheap to clone; called from whichever thread finishes a block.
#[derive(Clone)]
pub struct ProgressHook(Arc<dyn Fn(&Progress) + Send + Sync>);

impl ProgressHook {
    pub fn new(f: impl Fn(&Progress) + Send + Sync + 'static) -> ProgressHook {
        ProgressHook(Arc::new(f))
    }

    pub fn call(&self, p: &Progress) {
        (self.0)(p)
    }
}

impl fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// The progress of one computation of `total` units, reported through a hook at a bounded rate.
pub struct Reporter {
    hook: Option<ProgressHook>,
    task: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
    /// When the last report was made, and the detail to send with the next one.
    last: Mutex<(Instant, String)>,
}

impl Reporter {
    /// A reporter; with `hook = None` every method is a no-op costing one atomic add at most.
    pub fn new(hook: Option<&ProgressHook>, task: &'static str, total: u64) -> Reporter {
        let now = Instant::now();
        Reporter {
            hook: hook.cloned(),
            task,
            total,
            done: AtomicU64::new(0),
            started: now,
            last: Mutex::new((now, String::new())),
        }
    }

    /// Sets the detail sent with the following reports.
    pub fn set_detail(&self, detail: impl Into<String>) {
        if self.hook.is_some() {
            self.last.lock().unwrap_or_else(|e| e.into_inner()).1 = detail.into();
        }
    }

    /// Records `units` more finished units, and reports if the last report is old enough.
    pub fn advance(&self, units: u64) {
        let Some(hook) = &self.hook else { return };
        let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
        let now = Instant::now();
        // A busy lock means another thread is reporting right now: skip rather than wait.
        let Ok(mut last) = self.last.try_lock() else { return };
        if now.duration_since(last.0) < MIN_INTERVAL || done >= self.total {
            return;
        }
        last.0 = now;
        let detail = last.1.clone();
        drop(last);
        hook.call(&self.progress(done.min(self.total), detail, false));
    }

    /// The last report: call it once when the computation ends, whether it finished or not.
    pub fn finish(&self) {
        let Some(hook) = &self.hook else { return };
        let done = self.done.load(Ordering::Relaxed).min(self.total);
        let detail = self.last.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        hook.call(&self.progress(done, detail, true));
    }

    fn progress(&self, done: u64, detail: String, finished: bool) -> Progress {
        Progress {
            task: self.task.to_string(),
            detail,
            done,
            total: self.total,
            elapsed: self.started.elapsed(),
            finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_rate_limited_and_the_last_always_comes() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let hook = ProgressHook::new(move |p| sink.lock().unwrap().push(p.clone()));
        let r = Reporter::new(Some(&hook), "test", 1000);
        for _ in 0..1000 {
            r.advance(1);
        }
        r.finish();
        let seen = seen.lock().unwrap();
        // The loop takes far less than MIN_INTERVAL: only the final report is made.
        assert_eq!(seen.len(), 1);
        assert!(seen[0].finished);
        assert_eq!((seen[0].done, seen[0].total, seen[0].task.as_str()), (1000, 1000, "test"));
    }

    #[test]
    fn slow_work_is_reported_while_it_runs() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let hook = ProgressHook::new(move |p| sink.lock().unwrap().push(p.clone()));
        let r = Reporter::new(Some(&hook), "slow", 3);
        r.set_detail("step");
        std::thread::sleep(MIN_INTERVAL + Duration::from_millis(10));
        r.advance(1);
        r.finish();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].done, seen[0].finished, seen[0].detail.as_str()), (1, false, "step"));
        assert!(seen[1].finished);
    }

    #[test]
    fn without_a_hook_nothing_happens() {
        let r = Reporter::new(None, "none", 10);
        r.advance(5);
        r.finish();
    }
}
