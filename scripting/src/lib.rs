//! Noyau's Rhai layer: tensors, LazyTensor with Vi/Vj/Pm, Genred, grad, checks and help, in scripts and notebooks.
//!
//! Every part of the API lives in one module with a `register` function; [`register_all`]
//! installs them all into a session's engine. Registered functions carry doc comments (Rhai
//! metadata), which `help()` prints and the Jupyter kernel uses for completion and inspection.

pub mod checks;
pub mod context;
pub mod error;
pub mod genred_api;
pub mod help;
pub mod io;
pub mod kernel_api;
pub mod lazy;
pub mod measure;
pub mod ot_api;
pub mod plot;
pub mod ranges_api;
pub mod session;
pub mod tensor_api;
pub mod values;

pub use context::{Context, Event, Sink};
pub use error::{Error, ScriptError};
pub use session::Session;

use rhai::Engine;
use std::rc::Rc;

/// Installs Noyau's whole API into `engine`, its functions sharing `ctx`.
pub fn register_all(engine: &mut Engine, ctx: &Rc<Context>) {
    tensor_api::register(engine, ctx);
    lazy::register(engine, ctx);
    genred_api::register(engine, ctx);
    kernel_api::register(engine, ctx);
    ot_api::register(engine, ctx);
    ranges_api::register(engine, ctx);
    checks::register(engine, ctx);
    io::register(engine, ctx);
    help::register(engine, ctx);
    plot::register(engine, ctx);
    measure::register(engine, ctx);
}
