//! File formats: pure parsing (and writing, for tests), no execution.
//!
//! - [`attrs`]: MXNet's attribute strings (`"(3, 3)"`, `"True"`, `"None"`).

pub mod attrs;
