//! Checks for scripts: `assert` and `assert_close`, with messages that show the worst element, and `exit(code)`.
//!
//! `assert_close(a, b)` follows `numpy.isclose`: |a − b| ≤ atol + rtol·|b|, elementwise after
//! broadcasting, with b the expected value. When it fails, it reports the element that misses
//! the tolerance by the largest factor, which is usually the one worth looking at.

use crate::context::Context;
use crate::error::{rt, RhaiResult};
use crate::help::doc;
use crate::values::to_tensor;
use noyau_engine::Tensor;
use rhai::{Dynamic, Engine, ImmutableString};
use std::rc::Rc;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-8;

pub fn register(engine: &mut Engine, ctx: &Rc<Context>) {
    let assert_doc = "Stops the script with an error (and `message`) unless `condition` is true; a tensor\n\
                      condition (as from x > 0) must be non-empty with every element non-zero.";
    doc("assert(condition: bool | Tensor, message: string)", assert_doc)
        .register_into_engine(engine, |cond: Dynamic, msg: ImmutableString| check(&cond, Some(&msg)));
    doc("assert(condition: bool | Tensor)", assert_doc)
        .register_into_engine(engine, |cond: Dynamic| check(&cond, None));

    // Rhai's own exit(value) ends the script with that value as its result; this one also
    // records the status, so that `noyau run` exits with it as a shell script would.
    let c = ctx.clone();
    doc(
        "exit(code: int)",
        "Ends the script here; `noyau run` exits with `code` (0 to 255). In a notebook cell it ends the cell.",
    )
    .register_into_engine(engine, move |code: rhai::INT| -> RhaiResult<()> {
        let status = u8::try_from(code).map_err(|_| rt("exit", format!("the code must be 0 to 255, got {code}")))?;
        c.exit_code.set(Some(status as i32));
        Err(rhai::EvalAltResult::Exit(Dynamic::from(code), rhai::Position::NONE).into())
    });

    let close_doc = "Stops the script with an error unless a and b (tensors, numbers or arrays; shapes equal\n\
                     or broadcastable) are close: |a - b| <= atol + rtol * |b| everywhere. The defaults are\n\
                     rtol = 1e-5 and atol = 1e-8. The error shows the worst element: its index, both values,\n\
                     the absolute and relative errors, and the tolerances.";
    let c = ctx.clone();
    let body = Rc::new(move |a: Dynamic, b: Dynamic, rtol: Dynamic, atol: Dynamic| -> RhaiResult<()> {
        let tol = |d: &Dynamic, what: &str| {
            crate::values::as_number(d)
                .ok_or_else(|| rt("assert_close", format!("{what} must be a number, got {}", d.type_name())))
        };
        let (rtol, atol) = (tol(&rtol, "rtol")?, tol(&atol, "atol")?);
        assert_close(&to_tensor(&a, &c, "assert_close: a")?, &to_tensor(&b, &c, "assert_close: b")?, rtol, atol)
    });
    let b = body.clone();
    doc("assert_close(a: Tensor | number | array, b: Tensor | number | array)", close_doc)
        .register_into_engine(engine, move |x: Dynamic, y: Dynamic| b(x, y, RTOL.into(), ATOL.into()));
    let b = body.clone();
    doc("assert_close(a: Tensor | number | array, b: Tensor | number | array, rtol: float)", close_doc)
        .register_into_engine(engine, move |x: Dynamic, y: Dynamic, r: Dynamic| b(x, y, r, ATOL.into()));
    doc("assert_close(a: Tensor | number | array, b: Tensor | number | array, rtol: float, atol: float)", close_doc)
        .register_into_engine(engine, move |x: Dynamic, y: Dynamic, r: Dynamic, t: Dynamic| body(x, y, r, t));
}

fn check(cond: &Dynamic, msg: Option<&str>) -> RhaiResult<()> {
    let holds = if let Ok(b) = cond.as_bool() {
        b
    } else if let Some(t) = cond.clone().try_cast::<Tensor>() {
        t.numel() > 0 && t.to_vec_f64().iter().all(|&x| x != 0.0)
    } else {
        return Err(rt("assert", format!("the condition must be a bool or a tensor, got {}", cond.type_name())));
    };
    match (holds, msg) {
        (true, _) => Ok(()),
        (false, Some(m)) => Err(rt("assertion failed", m)),
        (false, None) => Err(rt("", "assertion failed")),
    }
}

/// The shape two shapes broadcast to, NumPy's rule.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], k: usize| if k + s.len() >= n { s[k + s.len() - n] } else { 1 };
    (0..n)
        .map(|k| match (at(a, k), at(b, k)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// The multi-index of flat position `k` in a row-major array of `shape`.
fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[i] = k % n;
            k /= n;
        }
    }
    idx
}

fn assert_close(a: &Tensor, b: &Tensor, rtol: f64, atol: f64) -> RhaiResult<()> {
    let op = "assert_close";
    let shape = broadcast(a.shape(), b.shape())
        .ok_or_else(|| rt(op, format!("shapes {:?} and {:?} cannot be broadcast together", a.shape(), b.shape())))?;
    let values = |t: &Tensor| t.broadcast_to(&shape).map(|t| t.to_vec_f64()).map_err(|e| rt(op, e));
    let (x, y) = (values(a)?, values(b)?);
    // How many times the allowed error each element's error is (infinite for NaN or a wrong infinity).
    let excess = |(&u, &v): (&f64, &f64)| {
        if u == v {
            0.0
        } else {
            let err = (u - v).abs();
            let allowed = atol + rtol * v.abs();
            if err.is_nan() {
                f64::INFINITY
            } else {
                err / allowed
            }
        }
    };
    let ratios: Vec<f64> = x.iter().zip(&y).map(excess).collect();
    let failing = ratios.iter().filter(|&&r| r > 1.0).count();
    let Some((worst, _)) = ratios.iter().enumerate().filter(|(_, &r)| r > 1.0).max_by(|p, q| p.1.total_cmp(q.1)) else {
        return Ok(());
    };
    let (u, v) = (x[worst], y[worst]);
    let err = (u - v).abs();
    let rel = if v != 0.0 { err / v.abs() } else { f64::INFINITY };
    Err(rt(
        op,
        format!(
            "{failing} of {} element(s) differ; the worst, at index {:?}: {u} vs {v} (abs error {err:.3e}, rel error {rel:.3e}; rtol={rtol:e}, atol={atol:e})",
            x.len(),
            unravel(worst, &shape)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_and_unravel() {
        assert_eq!(broadcast(&[2, 1], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast(&[2], &[3]), None);
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }
}
