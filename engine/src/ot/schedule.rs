//! The ε-scaling heuristic of GeomLoss: the diameter of two clouds, the schedule of temperatures, the dampening.
//!
//! The Sinkhorn loop starts hot (ε = diameterᵖ, where every point sees every other) and cools
//! geometrically down to ε = blurᵖ, so that each iteration starts close to its fixed point.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The length of the diagonal of the bounding box of both clouds (N×D and M×D): an upper bound
/// on every distance ‖x_i − y_j‖, as GeomLoss's `max_diameter`.
pub fn diameter(x: &Tensor, y: &Tensor) -> Result<f64> {
    let (x, y) = (x.to_array2::<f64>()?, y.to_array2::<f64>()?);
    let d = x.ncols();
    if y.ncols() != d {
        return Err(Error::invalid("diameter", format!("the clouds have dimensions {d} and {}", y.ncols())));
    }
    let mut sq = 0.0;
    for k in 0..d {
        let column = x.column(k).into_iter().chain(y.column(k)).copied();
        let (lo, hi) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo.is_finite() && hi.is_finite() {
            sq += (hi - lo) * (hi - lo);
        }
    }
    Ok(sq.sqrt())
}

/// The temperatures of the loop, as GeomLoss's `epsilon_schedule`: diameterᵖ, then
/// exp(t) for t in NumPy's `arange(p·ln diameter, p·ln blur, p·ln scaling)`, then blurᵖ.
///
/// The first value appears twice (once alone, once as the start of the range), and when the
/// clouds are smaller than the blur the range is empty: both are GeomLoss's behaviour, kept so
/// that the same number of iterations runs. A schedule longer than [`MAX_STEPS`] (a scaling
/// very close to 1) is an error rather than hours of iterations or gigabytes of temperatures.
pub fn epsilon_schedule(p: f64, diameter: f64, blur: f64, scaling: f64) -> Result<Vec<f64>> {
    let (start, stop, step) = (p * diameter.ln(), p * blur.ln(), p * scaling.ln());
    // NumPy's arange: ceil((stop − start)/step) values start + k·δ, with δ = (start + step) − start.
    let len = ((stop - start) / step).ceil();
    let len = if len.is_finite() && len > 0.0 { len } else { 0.0 };
    if len > MAX_STEPS as f64 {
        return Err(Error::invalid(
            "sinkhorn",
            format!(
                "scaling = {scaling} needs {len:.0} steps to cool from the diameter {diameter:.3e} to the blur                  {blur:.3e}, more than {MAX_STEPS}: take a smaller scaling (0.5 to 0.95 is usual)"
            ),
        ));
    }
    let mut eps = vec![diameter.powf(p)];
    let delta = (start + step) - start;
    eps.extend((0..len as usize).map(|k| (start + k as f64 * delta).exp()));
    eps.push(blur.powf(p));
    Ok(eps)
}

/// The longest ε schedule a Sinkhorn loop accepts (GeomLoss's usual scalings give tens of steps).
pub const MAX_STEPS: usize = 10_000;

/// The factor 1/(1 + ε/ρ) applied to every update of unbalanced transport (1 when balanced).
pub fn dampening(eps: f64, rho: Option<f64>) -> f64 {
    rho.map_or(1.0, |rho| 1.0 / (1.0 + eps / rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_numpy_arange() {
        // np.arange(2*ln 1, 2*ln 0.25, 2*ln 0.5) has 2 values: 0 and 2 ln 0.5.
        let eps = epsilon_schedule(2.0, 1.0, 0.25, 0.5).unwrap();
        let expected = [1.0, 1.0, 0.25, 0.0625];
        assert_eq!(eps.len(), expected.len());
        for (e, x) in eps.iter().zip(expected) {
            assert!((e - x).abs() < 1e-12, "{eps:?}");
        }
        // A blur larger than the diameter: no range, only the two ends.
        assert_eq!(epsilon_schedule(1.0, 0.1, 0.5, 0.5).unwrap(), vec![0.1, 0.5]);
        // A scaling so close to 1 that the schedule would run for days is refused.
        let err = epsilon_schedule(2.0, 10.0, 0.01, 0.9999999999).unwrap_err().to_string();
        assert!(err.contains("take a smaller scaling"), "{err}");
    }

    #[test]
    fn diameter_is_the_bounding_box_diagonal() {
        let x = Tensor::from_vec(vec![0.0, 0.0, 1.0, 0.5], &[2, 2]).unwrap();
        let y = Tensor::from_vec(vec![-2.0, 3.0], &[1, 2]).unwrap();
        assert!((diameter(&x, &y).unwrap() - (9.0f64 + 9.0).sqrt()).abs() < 1e-12);
        assert_eq!(dampening(0.5, None), 1.0);
        assert!((dampening(1.0, Some(3.0)) - 0.75).abs() < 1e-15);
    }
}
