//! Noyau's engine: symbolic formulas F(x_i, y_j, p) reduced over i or j without an N×M matrix.
//!
//! The pieces, in the order data flows through them: [`expr`] (the hash-consed IR and its
//! dimension rules), [`ops`] (the scalar op tables), [`parse`] and [`print`] (the KeOps formula
//! language), [`simplify`] (rewrite rules), [`eval`] (what each op computes), [`reduction`],
//! [`reference`] (the float64 oracle) and [`cpu`] (the fast backend), tied together by
//! [`genred`] (the `Genred` API). [`tensor`] is the dense, PyTorch-like tensor with reverse-mode
//! autograd that the scripting layer exposes; [`ot`] computes Sinkhorn divergences and kernel
//! losses between point clouds on it.

pub mod budget;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod genred;
pub mod grad_reduce;
pub mod kernels;
pub mod ops;
pub mod ot;
pub mod parse;
pub mod plan;
pub mod print;
pub mod progress;
pub mod random;
pub mod ranges;
pub mod real;
pub mod reduction;
pub mod reference;
pub mod simplify;
pub mod spec;
pub mod state;
pub mod tensor;

pub use error::{Error, ParseError, Result};
pub use expr::{Cat, Expr, Op, Param, ParamKind, Syntax};
pub use genred::Genred;
pub use ops::{BinaryOp, Domain, UnaryOp};
pub use parse::{parse_aliases, parse_formula, VarTable};
pub use progress::{Progress, ProgressHook};
pub use real::{DType, Real};
pub use reduction::{Axis, Reduction, SumScheme};
pub use simplify::simplify;
pub use spec::{Backend, Options, Reduce, VarDecl};
pub use tensor::Tensor;
