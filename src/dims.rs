//! Checked arithmetic on tensor dimensions: the one place where shapes are multiplied, added or
//! converted from file and attribute integers to `usize`.
//!
//! Dimensions come from hostile places (`.npy` headers, `.params` records, operator attributes,
//! input shapes) and are combined into element counts, strides and byte sizes. Unchecked, a
//! product wraps around (mod 2^64 natively, mod 2^32 on wasm32, where a 64-bit dimension also
//! truncates when cast) and a header declaring `(4611686018427387905, 3, 8, 8)` looks like 192
//! values. Every helper here either returns the exact value or an error naming `what` (the file,
//! parameter, node or attribute involved).
//!
//! A tensor never holds more than [`MAX_ELEMENTS`] values: its f32 bytes must be addressable
//! (Rust refuses allocations over `isize::MAX` bytes). Whether it also fits the memory budget is
//! the planner's business ([`crate::plan`]).

use std::fmt::Display;

use crate::error::{Error, Result};

/// The most elements any tensor may have: `isize::MAX` bytes of f32 (2^61 − 1 natively,
/// 2^29 − 1 on wasm32).
pub const MAX_ELEMENTS: usize = isize::MAX as usize / 4;

/// At most this many characters of a name are echoed in an error message.
pub const MAX_ECHOED_NAME: usize = 200;

/// A name for an error message: whole when short, else its first [`MAX_ECHOED_NAME`]
/// characters and the total length (`abc…(10485760 bytes)`), so a hostile 10 MB name is not
/// copied into every message.
pub fn echo_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_ECHOED_NAME {
        return name.into();
    }
    let cut = name
        .char_indices()
        .nth(MAX_ECHOED_NAME)
        .map_or(name.len(), |(i, _)| i);
    format!("{}…({} bytes)", &name[..cut], name.len()).into()
}

/// Formats integer dimensions (of any integer type) as MXNet prints a shape.
pub fn fmt_dims<T: Display>(dims: &[T]) -> String {
    match dims {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The number of elements of `shape`, or `None` when it exceeds [`MAX_ELEMENTS`].
pub fn checked_numel_opt(shape: &[usize]) -> Option<usize> {
    let mut n: usize = 1;
    let mut zero = false;
    for &d in shape {
        if d == 0 {
            // A zero dimension makes the tensor empty, but the other dims must still be sane.
            zero = true;
            continue;
        }
        n = n.checked_mul(d).filter(|&n| n <= MAX_ELEMENTS)?;
    }
    Some(if zero { 0 } else { n })
}

/// The number of elements of `shape`; an error naming `what` when it exceeds [`MAX_ELEMENTS`].
pub fn checked_numel(shape: &[usize], what: impl Display) -> Result<usize> {
    checked_numel_opt(shape).ok_or_else(|| too_large(what, &fmt_dims(shape)))
}

fn too_large(what: impl Display, shape: &str) -> Error {
    Error::shape(format!(
        "{what}: shape {shape} has more elements than any tensor can hold (at most {MAX_ELEMENTS})"
    ))
}

/// `a · b` for sizes; an error naming `what` when the result exceeds [`MAX_ELEMENTS`].
pub fn mul(a: usize, b: usize, what: impl Display) -> Result<usize> {
    a.checked_mul(b)
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::shape(format!(
                "{what}: {a} × {b} is larger than any tensor dimension can be (at most {MAX_ELEMENTS})"
            ))
        })
}

/// `a + b` for sizes; an error naming `what` when the result exceeds [`MAX_ELEMENTS`].
pub fn add(a: usize, b: usize, what: impl Display) -> Result<usize> {
    a.checked_add(b)
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::shape(format!(
                "{what}: {a} + {b} is larger than any tensor dimension can be (at most {MAX_ELEMENTS})"
            ))
        })
}

/// Converts a signed dimension (a file's i64, an attribute) to a size: negative values and
/// values beyond [`MAX_ELEMENTS`] (which would also truncate on wasm32) are errors.
pub fn dim_from_i64(v: i64, what: impl Display) -> Result<usize> {
    if v < 0 {
        return Err(Error::shape(format!("{what}: dimension {v} is negative")));
    }
    dim_from_u64(v as u64, what)
}

/// Converts an unsigned dimension (a file's u64) to a size; beyond [`MAX_ELEMENTS`] is an error.
pub fn dim_from_u64(v: u64, what: impl Display) -> Result<usize> {
    usize::try_from(v)
        .ok()
        .filter(|&d| d <= MAX_ELEMENTS)
        .ok_or_else(|| {
            Error::shape(format!(
                "{what}: dimension {v} is larger than any tensor can hold (at most {MAX_ELEMENTS} elements)"
            ))
        })
}

/// Converts signed dims to a shape and checks its element count.
pub fn shape_from_i64(dims: &[i64], what: impl Display) -> Result<Vec<usize>> {
    let shape = dims
        .iter()
        .map(|&d| dim_from_i64(d, format_args!("{what}: shape {}", fmt_dims(dims))))
        .collect::<Result<Vec<usize>>>()?;
    checked_numel(&shape, &what)?;
    Ok(shape)
}

/// Converts unsigned dims to a shape and checks its element count.
pub fn shape_from_u64(dims: &[u64], what: impl Display) -> Result<Vec<usize>> {
    let shape = dims
        .iter()
        .map(|&d| dim_from_u64(d, format_args!("{what}: shape {}", fmt_dims(dims))))
        .collect::<Result<Vec<usize>>>()?;
    checked_numel(&shape, &what)?;
    Ok(shape)
}

/// Bytes of `n` f32 values (as u64: exact for every valid element count on every target).
pub fn f32_bytes(n: usize) -> u64 {
    (n as u64).saturating_mul(4)
}

/// A byte count for messages: `15.0 GiB (16106127360 bytes)`.
pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} bytes");
    }
    let mut v = b as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {} ({b} bytes)", UNITS[unit])
}

/// Parses a byte size as the CLI and the JS API take it: `1073741824`, `512M`, `2G`, `1.5GiB`,
/// `16GB` (binary units: K/M/G/T = 2^10/2^20/2^30/2^40).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || {
        Error::Input(format!(
            "memory limit '{}' is not a byte size (e.g. 2G, 512M, 1073741824)",
            echo_name(s)
        ))
    };
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_never_wrap() {
        assert_eq!(checked_numel(&[2, 3, 4], "t").unwrap(), 24);
        assert_eq!(checked_numel(&[], "t").unwrap(), 1);
        assert_eq!(checked_numel(&[0, 5], "t").unwrap(), 0);
        // (2^62 + 1) · 192 ≡ 192 (mod 2^64): the wrap the .npy header exploited.
        let e = checked_numel(&[4611686018427387905, 3, 8, 8], "x.npy")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.npy") && e.contains("4611686018427387905"),
            "{e}"
        );
        // A zero dim does not excuse an absurd one.
        assert!(checked_numel(&[0, usize::MAX], "t").is_err());
        assert!(mul(1 << 40, 1 << 40, "tile").is_err());
        assert!(add(MAX_ELEMENTS, 1, "pad").is_err());
        assert_eq!(add(3, 4, "pad").unwrap(), 7);
    }

    #[test]
    fn conversions_refuse_negative_and_huge() {
        assert_eq!(dim_from_i64(7, "d").unwrap(), 7);
        assert!(dim_from_i64(-1, "d").is_err());
        assert!(dim_from_u64(u64::MAX, "d").is_err());
        // 4294967300 fits usize natively but is beyond 2^29 elements on wasm32; both refuse a
        // product that cannot exist.
        assert!(
            shape_from_i64(&[4294967300, 3, 3, 3], "w").is_ok()
                == cfg!(target_pointer_width = "64")
        );
        assert!(shape_from_u64(&[1 << 62, 8], "w").is_err());
    }

    #[test]
    fn names_are_capped() {
        let long = "n".repeat(10 << 20);
        let e = echo_name(&long);
        assert!(e.len() < 300, "{}", e.len());
        assert!(e.ends_with("…(10485760 bytes)"), "{e}");
        assert_eq!(echo_name("short"), "short");
        // Never cuts inside a UTF-8 character.
        let wide = "é".repeat(300);
        assert!(echo_name(&wide).starts_with("éé"));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0").is_err());
        assert!(fmt_bytes(16106127360).starts_with("15.0 GiB"));
    }
}
