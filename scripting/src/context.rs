//! The state shared by a session's registered functions: defaults, random generator, output sink, interrupts.

use noyau_engine::progress::ProgressHook;
use noyau_engine::random::Rng;
use noyau_engine::spec::{Backend, Options};
use noyau_engine::DType;
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Something a script produces besides its value: text on a stream, or rich data to display.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Stdout(String),
    Stderr(String),
    /// A display bundle: (MIME type, data) pairs, e.g. ("image/png", base64) and ("text/plain", ...).
    Display(Vec<(String, String)>),
}

/// Where a session's events go: the terminal for `noyau run`, messages for the Jupyter kernel.
pub type Sink = Rc<dyn Fn(Event)>;

/// Settings and services of one session, captured by its registered functions.
pub struct Context {
    /// `set_dtype`: the element type of new tensors (float32 unless changed).
    pub dtype: Cell<DType>,
    /// `set_device`: where reductions run.
    pub backend: Cell<Backend>,
    /// `seed(s)`: the generator behind `randn` and `rand`.
    pub rng: RefCell<Rng>,
    sink: RefCell<Sink>,
    /// Set by another thread to stop the running cell (checked by the interpreter and between tiles).
    pub cancel: Arc<AtomicBool>,
    /// The folder relative paths (data files, figures) are resolved against.
    pub base_dir: RefCell<PathBuf>,
    /// How many figures `show` has written in `noyau run` (they are numbered).
    pub figures: Cell<usize>,
    /// Where reductions and Sinkhorn loops report their progress (a terminal bar, a Jupyter
    /// display), if anywhere.
    progress: RefCell<Option<ProgressHook>>,
    /// The status a script asked to end with (`exit(code)`), for `noyau run` to exit with.
    pub exit_code: Cell<Option<i32>>,
}

impl Context {
    pub fn new(sink: Sink) -> Rc<Context> {
        Rc::new(Context {
            dtype: Cell::new(DType::F32),
            backend: Cell::new(Backend::Auto),
            rng: RefCell::new(Rng::new(0)),
            sink: RefCell::new(sink),
            cancel: Arc::new(AtomicBool::new(false)),
            base_dir: RefCell::new(PathBuf::from(".")),
            figures: Cell::new(0),
            progress: RefCell::new(None),
            exit_code: Cell::new(None),
        })
    }

    /// Sends an event to the session's sink.
    pub fn emit(&self, e: Event) {
        let sink = self.sink.borrow().clone();
        sink(e);
    }

    pub fn set_sink(&self, sink: Sink) {
        *self.sink.borrow_mut() = sink;
    }

    /// Sets where long computations report their progress (None: nowhere).
    pub fn set_progress(&self, hook: Option<ProgressHook>) {
        *self.progress.borrow_mut() = hook;
    }

    /// The options every reduction of this session runs with (and `samples_loss`'s, whose
    /// Sinkhorn loop reports through the same progress hook).
    pub fn options(&self) -> Options {
        Options {
            backend: self.backend.get(),
            cancel: Some(self.cancel.clone()),
            progress: self.progress.borrow().clone(),
            ..Options::default()
        }
    }

    pub fn interrupted(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// A path relative to the session's folder.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        if p.is_absolute() {
            p
        } else {
            self.base_dir.borrow().join(p)
        }
    }
}
