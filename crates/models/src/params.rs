//! Parameter validation shared by every model.
//!
//! Every model's parameter struct uses NEST's names and units (ms, mV, pF, pA, nS) and
//! implements [`Validate`]. A failed check names the field and what is allowed, so the model-file
//! loader can point the user at the file, line and field.

use thiserror::Error;

/// A parameter value outside its allowed range.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{field} = {value}: {allowed}")]
pub struct ParamError {
    /// The parameter's NEST name, e.g. `tau_m`.
    pub field: String,
    /// The offending value, printed as given.
    pub value: String,
    /// What is allowed, e.g. `must be > 0 ms`.
    pub allowed: String,
}

impl ParamError {
    pub fn new(field: &str, value: impl std::fmt::Display, allowed: &str) -> Self {
        // Numbers are printed compactly (see `compact`); anything else as it displays.
        let text = value.to_string();
        let value = text.parse::<f64>().map(compact).unwrap_or(text);
        Self { field: field.to_string(), value, allowed: allowed.to_string() }
    }
}

/// A number as a person reads it: plain for ordinary magnitudes (`0.1`, `1500`, `-70`), in
/// exponent form for very large or very small ones (`1e308`, `2.5e-9`), so that an error about
/// `t_ref = 1e308` does not print 309 digits.
pub fn compact(value: f64) -> String {
    let magnitude = value.abs();
    if value.is_finite() && magnitude != 0.0 && !(1e-5..1e9).contains(&magnitude) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// Checks of a parameter set; called before anything is built.
pub trait Validate {
    fn validate(&self) -> Result<(), ParamError>;
}

/// `value` must be finite and strictly positive.
pub fn positive(field: &str, value: f64, unit: &str) -> Result<(), ParamError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(field, value, &format!("must be a finite number > 0 {unit}")))
    }
}

/// `value` must be finite and ≥ 0.
pub fn non_negative(field: &str, value: f64, unit: &str) -> Result<(), ParamError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(field, value, &format!("must be a finite number >= 0 {unit}")))
    }
}

/// `value` must be finite (any sign).
pub fn finite(field: &str, value: f64, unit: &str) -> Result<(), ParamError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ParamError::new(field, value, &format!("must be a finite number ({unit})")))
    }
}

/// `low < high` for two named parameters (e.g. `V_reset < V_th`).
pub fn less_than(low_field: &str, low: f64, high_field: &str, high: f64) -> Result<(), ParamError> {
    if low < high { Ok(()) } else { Err(ParamError::new(low_field, low, &format!("must be < {high_field} ({high})"))) }
}

/// Deserializes an optional lower bound: a number, `null` (JSON's spelling of −∞) or absent.
pub fn f64_or_neg_inf<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v: Option<f64> = serde::Deserialize::deserialize(d)?;
    Ok(v.unwrap_or(f64::NEG_INFINITY))
}
