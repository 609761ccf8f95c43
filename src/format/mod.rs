//! File formats: pure parsing (and writing, for tests), no execution.
//!
//! - [`attrs`]: MXNet's attribute strings (`"(3, 3)"`, `"True"`, `"None"`).
//! - [`symbol`]: the symbol JSON of every MXNet version (the pre-0.9 upgrade is in `graph`).
//! - [`params`]: the NDArray list file (`.params`): legacy, V1, V2, V3 records, all dtypes.
//! - [`npy`]: numpy `.npy` files for the CLI's inputs and outputs.

pub mod attrs;
pub mod npy;
pub mod params;
pub mod symbol;
