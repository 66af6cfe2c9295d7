//! The one place that knows the encoder: `bincode` 2.0.1 through its `serde` support.
//!
//! Everything a checkpoint holds goes through these four functions, so swapping the encoder (the
//! bincode project is unmaintained, and its 3.0.0 release is empty on purpose) touches only this
//! file; the checkpoint's own [`FORMAT_VERSION`](super::FORMAT_VERSION) then changes with it.
//! The configuration is bincode's `standard()`: little-endian, variable-length integers, so
//! counts and small steps take one byte and `f64`s their eight.

use serde::Serialize;
use serde::de::DeserializeOwned;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Appends `value`'s encoding to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    bincode::serde::encode_into_std_write(value, out, config()).map(|_| ()).map_err(|e| e.to_string())
}

/// `value`'s encoding.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| e.to_string())
}

/// Decodes one value from the front of `bytes`; returns it and the bytes it took.
pub(crate) fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), String> {
    bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())
}

/// Decodes a value that must take all of `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(format!("{} bytes left over after the value", bytes.len() - used));
    }
    Ok(value)
}
