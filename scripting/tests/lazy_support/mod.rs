//! Shared by the LazyTensor tests: an engine with Noyau's API and tensors passed in from Rust, and dense references.
#![allow(dead_code)]

use noyau_engine::random::Rng;
use noyau_engine::{DType, Tensor};
use noyau_scripting::{register_all, Context, Event, ScriptError};
use rhai::{Dynamic, Engine, Scope};
use std::cell::RefCell;
use std::rc::Rc;

/// An engine set up as a `Session` is, whose scope Rust can fill with tensors.
pub struct Runner {
    engine: Engine,
    scope: Scope<'static>,
    pub ctx: Rc<Context>,
    /// Everything the scripts printed or warned, in order.
    pub events: Rc<RefCell<Vec<Event>>>,
}

impl Runner {
    pub fn new() -> Runner {
        let events = Rc::new(RefCell::new(Vec::new()));
        let sink = events.clone();
        let ctx = Context::new(Rc::new(move |e| sink.borrow_mut().push(e)));
        let mut engine = Engine::new();
        engine.set_max_expr_depths(0, 0);
        let c = ctx.clone();
        engine.on_print(move |s| c.emit(Event::Stdout(s.to_string())));
        register_all(&mut engine, &ctx);
        Runner { engine, scope: Scope::new(), ctx, events }
    }

    pub fn set(&mut self, name: &str, t: &Tensor) -> &mut Self {
        self.scope.set_value(name.to_string(), t.clone());
        self
    }

    /// Runs `src`; an error is its message, as a session reports it (without position).
    pub fn eval(&mut self, src: &str) -> Result<Dynamic, String> {
        self.engine
            .eval_with_scope::<Dynamic>(&mut self.scope, src)
            .map_err(|e| ScriptError::from_eval("test", src, &e).message)
    }

    pub fn tensor(&mut self, src: &str) -> Tensor {
        let v = self.eval(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        v.clone().try_cast::<Tensor>().unwrap_or_else(|| panic!("{src}: expected a tensor, got {}", v.type_name()))
    }

    pub fn string(&mut self, src: &str) -> String {
        self.eval(src).unwrap_or_else(|e| panic!("{src}: {e}")).to_string()
    }

    pub fn error(&mut self, src: &str) -> String {
        match self.eval(src) {
            Ok(v) => panic!("{src}: expected an error, got {}", v.type_name()),
            Err(e) => e,
        }
    }
}

/// Standard normal data of a shape, reproducible.
pub fn randn(seed: u64, shape: &[usize], dtype: DType) -> Tensor {
    Tensor::randn(shape, dtype, &mut Rng::new(seed)).unwrap()
}

/// Rows of a 2-D tensor as float64 vectors.
pub fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let d = t.shape()[1];
    t.to_vec_f64().chunks(d).map(|r| r.to_vec()).collect()
}

/// A dense reduction: out[i] = Σ_j f(x_i, y_j) (axis 1) as rows of the output.
pub fn dense_sum(x: &[Vec<f64>], y: &[Vec<f64>], f: impl Fn(&[f64], &[f64]) -> Vec<f64>) -> Vec<Vec<f64>> {
    x.iter()
        .map(|xi| {
            let mut acc: Vec<f64> = Vec::new();
            for yj in y {
                let v = f(xi, yj);
                if acc.is_empty() {
                    acc = vec![0.0; v.len()];
                }
                for (a, b) in acc.iter_mut().zip(v) {
                    *a += b;
                }
            }
            acc
        })
        .collect()
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, naming the worst element.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, expected {}", got.len(), want.len());
    let mut worst = (0usize, 0.0f64);
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        if excess.is_nan() || excess > worst.1 {
            worst = (k, excess);
        }
    }
    let k = worst.0;
    assert!(
        worst.1 <= 0.0,
        "{what}: element {k} is {} but should be {} (|diff| {:.3e})",
        got[k],
        want[k],
        (got[k] - want[k]).abs()
    );
}

pub fn flat(v: &[Vec<f64>]) -> Vec<f64> {
    v.iter().flatten().copied().collect()
}
