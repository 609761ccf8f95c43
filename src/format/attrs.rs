//! MXNet attribute strings (spec §2.3).
//!
//! Every operator parameter in a symbol JSON is a string written by Python's `str()`:
//! `"(3, 3)"`, `"True"`, `"None"`, `"1e-05"`, `"relu"`. [`Attrs`] parses them the way MXNet's dmlc
//! parameter parser does and remembers which keys an operator read, so that [`Attrs::finish`] can
//! reject keys nobody understood (MXNet: `Cannot find argument 'bogus_key'`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Keys that carry no inference semantics and are accepted on any operator (spec §2.3).
pub const IGNORED_KEYS: &[&str] = &[
    "workspace",
    "cudnn_tune",
    "cudnn_off",
    "momentum",
    "sparse_grad",
    "forward_stype",
    "grad_scale",
    "normalization",
    "ignore_label",
    "use_ignore",
    "out_grad",
    "smooth_alpha",
    "min_calib_range",
    "max_calib_range",
    // Legacy non-dunder hidden keys (kHiddenKeys) that MXNet's upgrader renames on old files.
    "ctx_group",
    "lr_mult",
    "wd_mult",
    "force_mirroring",
    "mirror_stage",
];

/// Parses a bool: `True`/`False` case-insensitively, or `1`/`0`.
pub fn parse_bool(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t == "1" {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// Parses an int: leading/trailing spaces are allowed, `"4.0"` is not; a trailing `L` (Python 2
/// longs) is accepted.
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let t = t.strip_suffix('L').unwrap_or(t);
    t.parse::<i64>().ok()
}

/// Parses a float: `1e-5`, `.001`, `1E-3`, `nan`, `inf`, `-inf`.
pub fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" => return Some(f64::NAN),
        "inf" | "+inf" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    t.parse::<f64>().ok()
}

/// Parses a tuple of optional ints: `(3, 3)`, `(3,3)`, `[3, 3]`, `(3, 3,)`, `(3L, 3L)`, a bare `3`,
/// `()`, and `(None, 3)`. Returns `None` for the whole value `"None"` (an absent shape).
pub fn parse_opt_int_tuple(s: &str) -> Option<Option<Vec<Option<i64>>>> {
    if s.trim() == "None" {
        return Some(None);
    }
    let elements = tuple_elements(s)?
        .into_iter()
        .map(|p| {
            if p == "None" {
                Some(None)
            } else {
                parse_int(p).map(Some)
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Some(elements))
}

/// The elements of a Python tuple or list literal (`(3, 3)`, `[3,3]`, `(3,)`, `()`), or of a bare
/// value (`3`), trimmed. `None` when an element other than a trailing one is empty.
fn tuple_elements(s: &str) -> Option<Vec<&str>> {
    let t = s.trim();
    let inner =
        if (t.starts_with('(') && t.ends_with(')')) || (t.starts_with('[') && t.ends_with(']')) {
            &t[1..t.len() - 1]
        } else {
            t
        };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let last = parts.len() - 1;
    let mut out = Vec::with_capacity(parts.len());
    for (i, p) in parts.into_iter().enumerate() {
        match (p.is_empty(), i == last) {
            // "()" or a trailing comma "(3,)".
            (true, true) => {}
            (true, false) => return None,
            (false, _) => out.push(p),
        }
    }
    Some(out)
}

/// Parses a tuple of floats, e.g. `(0.5, 1.0)`, or a bare float.
pub fn parse_float_tuple(s: &str) -> Option<Vec<f64>> {
    tuple_elements(s)?.into_iter().map(parse_float).collect()
}

/// True for hidden `__name__` keys, which never affect inference.
pub fn is_dunder(key: &str) -> bool {
    key.len() > 4 && key.starts_with("__") && key.ends_with("__")
}

/// An operator's attributes with typed, tracked access.
///
/// Getters return `Ok(None)` / the default when a key is absent and an [`Error::Attr`] naming the
/// key and value when it is present but malformed.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    map: BTreeMap<String, String>,
    used: std::cell::RefCell<Vec<String>>,
}

impl Attrs {
    pub fn new(map: BTreeMap<String, String>) -> Attrs {
        Attrs {
            map,
            used: Default::default(),
        }
    }

    /// Builds attrs from `(key, value)` pairs (handy in tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Attrs {
        Attrs::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The raw map (including hidden keys).
    pub fn map(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    /// The raw string of a key, marking it as understood.
    pub fn raw(&self, key: &str) -> Option<&str> {
        let v = self.map.get(key)?;
        self.used.borrow_mut().push(key.to_string());
        Some(v.as_str())
    }

    /// True when the key is present (marks it understood).
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_int(v)
                .map(Some)
                .ok_or_else(|| Error::attr(key, v, "expected an integer")),
        }
    }

    pub fn int_or(&self, key: &str, default: i64) -> Result<i64> {
        Ok(self.int(key)?.unwrap_or(default))
    }

    /// A required integer attribute.
    pub fn int_req(&self, key: &str) -> Result<i64> {
        self.int(key)?
            .ok_or_else(|| Error::attr(key, "", "required attribute is missing"))
    }

    /// An optional int that may also be written `"None"`.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) if v.trim() == "None" => Ok(None),
            Some(v) => parse_int(v)
                .map(Some)
                .ok_or_else(|| Error::attr(key, v, "expected an integer or None")),
        }
    }

    pub fn float(&self, key: &str) -> Result<Option<f64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_float(v)
                .map(Some)
                .ok_or_else(|| Error::attr(key, v, "expected a number")),
        }
    }

    pub fn float_or(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.float(key)?.unwrap_or(default))
    }

    /// An optional float that may also be written `"None"`.
    pub fn opt_float(&self, key: &str) -> Result<Option<f64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) if v.trim() == "None" => Ok(None),
            Some(v) => parse_float(v)
                .map(Some)
                .ok_or_else(|| Error::attr(key, v, "expected a number or None")),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| Error::attr(key, v, "expected True or False")),
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.raw(key)
    }

    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.raw(key).unwrap_or(default)
    }

    /// An enum-valued attribute, checked against the allowed values (case-sensitive, as MXNet).
    pub fn choice<'a>(&'a self, key: &str, allowed: &[&str], default: &'a str) -> Result<&'a str> {
        let v = self.raw(key).unwrap_or(default);
        if allowed.contains(&v) {
            Ok(v)
        } else {
            Err(Error::attr(
                key,
                v,
                format!("expected one of {}", allowed.join(", ")),
            ))
        }
    }

    /// A tuple of ints; `None` when absent or written `"None"`. `None` elements are an error.
    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        match self.opt_ints(key)? {
            None => Ok(None),
            Some(v) => {
                let raw = self.map.get(key).map(String::as_str).unwrap_or("");
                v.into_iter()
                    .map(|x| x.ok_or_else(|| Error::attr(key, raw, "None is not allowed here")))
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            }
        }
    }

    /// A tuple of optional ints (`(None, 3)`); `None` when absent or `"None"`.
    pub fn opt_ints(&self, key: &str) -> Result<Option<Vec<Option<i64>>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_opt_int_tuple(v)
                .ok_or_else(|| Error::attr(key, v, "expected a tuple of integers")),
        }
    }

    /// A tuple of floats; `None` when absent.
    pub fn floats(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_float_tuple(v)
                .map(Some)
                .ok_or_else(|| Error::attr(key, v, "expected a tuple of numbers")),
        }
    }

    /// Checks that every key was understood: hidden `__x__` keys and [`IGNORED_KEYS`] are accepted,
    /// anything else is an error naming the key (MXNet: `Cannot find argument`).
    pub fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        for (k, v) in &self.map {
            if is_dunder(k) || IGNORED_KEYS.contains(&k.as_str()) || used.iter().any(|u| u == k) {
                continue;
            }
            // Legacy `<input>_lr_mult`-style keys (e.g. `weight_lr_mult`), moved to the input
            // variable by MXNet's upgrader (spec §2.5).
            if [
                "_lr_mult",
                "_wd_mult",
                "_ctx_group",
                "_force_mirroring",
                "_mirror_stage",
            ]
            .iter()
            .any(|s| k.ends_with(s))
            {
                continue;
            }
            return Err(Error::attr(k, v, "unknown attribute for this operator"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        for t in ["True", "true", "1", "TRUE"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["False", "false", "0", "FALSE"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn ints_and_floats() {
        assert_eq!(parse_int(" 4"), Some(4));
        assert_eq!(parse_int("4.0"), None);
        assert_eq!(parse_float("1e-5"), Some(1e-5));
        assert_eq!(parse_float(".001"), Some(0.001));
        assert_eq!(parse_float("1E-3"), Some(0.001));
        assert!(parse_float("nan").unwrap().is_nan());
        assert_eq!(parse_float("x"), None);
    }

    #[test]
    fn tuples() {
        let t = |s: &str| parse_opt_int_tuple(s).unwrap().unwrap();
        for s in ["(3, 3)", "(3,3)", "[3, 3]", "(3, 3,)", "(3L, 3L)"] {
            assert_eq!(t(s), vec![Some(3), Some(3)], "{s}");
        }
        assert_eq!(t("3"), vec![Some(3)]);
        assert_eq!(t("(1,)"), vec![Some(1)]);
        assert_eq!(t("()"), vec![]);
        assert_eq!(t("(None, 3)"), vec![None, Some(3)]);
        assert_eq!(parse_opt_int_tuple("None"), Some(None));
        assert_eq!(parse_opt_int_tuple("(3,,3)"), None);
        assert_eq!(parse_opt_int_tuple("(a)"), None);
        assert_eq!(parse_float_tuple("(0.5, 1)"), Some(vec![0.5, 1.0]));
    }

    #[test]
    fn tracked_access_and_finish() {
        let a = Attrs::from_pairs(&[
            ("kernel", "(3, 3)"),
            ("__shape__", "(1,)"),
            ("workspace", "512"),
            ("bogus", "1"),
        ]);
        assert_eq!(a.ints("kernel").unwrap(), Some(vec![3, 3]));
        let e = a.finish().unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let a = Attrs::from_pairs(&[("num_filter", "4.0")]);
        assert!(a
            .int("num_filter")
            .unwrap_err()
            .to_string()
            .contains("num_filter"));
        let a = Attrs::from_pairs(&[("act_type", "Relu")]);
        assert!(a.choice("act_type", &["relu"], "relu").is_err());
    }
}
