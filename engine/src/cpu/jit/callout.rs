//! Call-outs: operations without vector code, computed from JIT code lane by lane by `eval_op`.
//!
//! The generated code saves its live registers, writes the operands' vectors into a staging
//! area (operand after operand, component after component, one vector each), and calls
//! [`callout_f32`] or [`callout_f64`] with the staging area, the op's index and the kernel's
//! arguments; the results come back in the staging area after the operands. A panic cannot
//! cross into the generated code: it is caught, and the results are NaN.

use super::lower::CallOutOp;
use super::Elem;
use crate::eval::eval_op;
use crate::real::Real;

/// The call-out table of a kernel.
pub struct CallOuts {
    pub ops: Vec<CallOutOp>,
    /// Values per vector.
    pub lanes: usize,
}

impl CallOuts {
    pub fn new(ops: Vec<CallOutOp>, lanes: usize) -> CallOuts {
        CallOuts { ops, lanes }
    }

    /// The address of the helper the generated code calls.
    pub fn helper(elem: Elem) -> u64 {
        match elem {
            Elem::F32 => callout_f32 as *const () as u64,
            Elem::F64 => callout_f64 as *const () as u64,
        }
    }
}

/// Evaluates op `op` of the table on `lanes` lanes of the staging area.
fn run<T: Real>(staging: *mut T, op: u64, table: &CallOuts, lanes: usize) {
    let Some((op, dims, out_dim)) = table.ops.get(op as usize) else { return };
    let nin: usize = dims.iter().sum();
    // SAFETY: the generated code reserved (nin + out_dim) vectors of `lanes` values here.
    let stage = unsafe { std::slice::from_raw_parts_mut(staging, (nin + out_dim) * lanes) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut ins = vec![T::zero(); nin];
        let mut out = vec![T::zero(); *out_dim];
        let mut results = vec![T::zero(); out_dim * lanes];
        for l in 0..lanes {
            for (k, x) in ins.iter_mut().enumerate() {
                *x = stage[k * lanes + l];
            }
            let mut slices: [&[T]; crate::expr::MAX_ARITY] = [&[]; crate::expr::MAX_ARITY];
            let mut start = 0;
            for (s, &d) in slices.iter_mut().zip(dims) {
                *s = &ins[start..start + d];
                start += d;
            }
            eval_op(op, &slices[..dims.len()], &mut out);
            for (k, &y) in out.iter().enumerate() {
                results[k * lanes + l] = y;
            }
        }
        results
    }));
    let results = result.unwrap_or_else(|_| vec![T::nan(); out_dim * lanes]);
    stage[nin * lanes..].copy_from_slice(&results);
}

/// The f32 helper: `staging` holds the operands, `args` is the kernel's [`super::Args`].
///
/// # Safety
/// Called by generated code only, with a staging area sized for the op and valid arguments.
pub unsafe extern "sysv64" fn callout_f32(staging: *mut f32, op: u64, args: *const super::Args) {
    let table = &*(*args).callouts;
    run(staging, op, table, table.lanes);
}

/// The f64 helper, as [`callout_f32`].
///
/// # Safety
/// Called by generated code only, with a staging area sized for the op and valid arguments.
pub unsafe extern "sysv64" fn callout_f64(staging: *mut f64, op: u64, args: *const super::Args) {
    let table = &*(*args).callouts;
    run(staging, op, table, table.lanes);
}
