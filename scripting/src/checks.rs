//! Checks for scripts: `assert` and `assert_close`, with messages that show the worst element.

use crate::context::Context;
use rhai::Engine;
use std::rc::Rc;

/// Registers this module's functions (being written: see the scripting issue).
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let _ = (engine, ctx);
}
