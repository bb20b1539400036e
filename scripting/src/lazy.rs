//! LazyTensor: Vi/Vj/Pm, symbolic operations building formulas, and reductions evaluated by the engine.

use crate::context::Context;
use rhai::Engine;
use std::rc::Rc;

/// Registers this module's functions (being written: see the scripting issue).
pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let _ = (engine, ctx);
}
