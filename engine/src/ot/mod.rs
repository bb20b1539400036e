//! Optimal transport and kernel losses between weighted point clouds, with the semantics of GeomLoss's `SamplesLoss`.
//!
//! - [`sinkhorn_divergence`]: the debiased Sinkhorn divergence S_ε (or the entropic cost OT_ε),
//!   balanced or unbalanced, for the ground costs ‖x−y‖ (p = 1) and ‖x−y‖²/2 (p = 2), with
//!   GeomLoss's ε-scaling schedule (`schedule`), symmetric log-domain updates (`sinkhorn`,
//!   each one a log-sum-exp reduction of `softmin`, never an N×M matrix) and final
//!   extrapolation step, from which gradients are taken (`divergence`).
//! - [`sinkhorn`]: the dual potentials themselves.
//! - [`kernel_loss`]: ½‖a − b‖²_k for the energy, Gaussian and Laplacian kernels (`kernel_loss`).
//!
//! Everything works on [`Tensor`](crate::Tensor)s, weights of shape \[N\] or \[N, 1\] and points
//! N×D; results are on the autograd tape, so `grad` gives their gradients with respect to
//! weights and points.
//!
//! ```
//! use noyau_engine::ot::{sinkhorn_divergence, SinkhornOptions};
//! use noyau_engine::{random::Rng, DType, Tensor};
//! let mut rng = Rng::new(0);
//! let x = Tensor::rand(&[50, 2], DType::F64, &mut rng).unwrap();
//! let a = Tensor::full(&[50], 1.0 / 50.0, DType::F64).unwrap();
//! let s = sinkhorn_divergence(&a, &x, &a, &x, &SinkhornOptions::default()).unwrap();
//! assert!(s.item().unwrap().abs() < 1e-9); // a measure is at divergence 0 from itself
//! ```

mod divergence;
mod kernel_loss;
mod measure;
pub mod schedule;
mod sinkhorn;
mod softmin;

pub use divergence::sinkhorn_divergence;
pub use kernel_loss::{kernel_loss, KernelLoss};
pub use sinkhorn::{sinkhorn, Potentials, SinkhornOptions};
pub use softmin::GroundCost;
