//! The one error type of the library.
//!
//! Every message names what it is about: the file, the graph node (and its operator), the
//! parameter or the limit. Errors are values everywhere; no input, however malformed, panics.
//! Across the wasm boundary these become JS `Error`s carrying the same `Display` text.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file from disk failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The symbol JSON is not valid JSON or not a valid MXNet graph.
    #[error("symbol file {file}: {msg}")]
    Symbol { file: String, msg: String },

    /// The `.params` (NDArray list) file is malformed, truncated or unsupported.
    #[error("params file {file}: {msg}")]
    Params { file: String, msg: String },

    /// An operator attribute could not be parsed or is not allowed.
    #[error("attribute '{key}' = {value:?}: {msg}")]
    Attr {
        key: String,
        value: String,
        msg: String,
    },

    /// An operator name MXNet-web does not know (or MXNet itself does not have).
    #[error("unknown operator '{op}'")]
    UnknownOp { op: String },

    /// A shape rule was violated (shape inference, or a tensor of the wrong size).
    #[error("{0}")]
    Shape(String),

    /// Binding parameters to graph variables failed (missing / extra parameters).
    #[error("{0}")]
    Bind(String),

    /// The inputs given to `run` do not match the graph.
    #[error("{0}")]
    Input(String),

    /// A feature of MXNet that this runtime does not support (yet).
    #[error("{0}")]
    Unsupported(String),

    /// A `.npy` file could not be read or written.
    #[error("npy file {file}: {msg}")]
    Npy { file: String, msg: String },

    /// A plan (or a file) needs more memory than the limit allows (see `plan::MemoryLimit`).
    #[error("{0}")]
    Limit(String),

    /// A backend (CPU or WebGPU) failed while executing.
    #[error("{0}")]
    Backend(String),

    /// Wraps an error with the graph node where it happened.
    #[error("node '{node}' ({op}): {source}")]
    Node {
        node: String,
        op: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Attaches the graph node (name and operator) to an error raised by an operator.
    pub fn at_node(self, node: &str, op: &str) -> Error {
        match self {
            // Already located: keep the innermost location.
            e @ Error::Node { .. } => e,
            e => Error::Node {
                node: crate::dims::echo_name(node).into_owned(),
                op: op.to_string(),
                source: Box::new(e),
            },
        }
    }

    /// Shorthand for a shape error with a formatted message.
    pub fn shape(msg: impl fmt::Display) -> Error {
        Error::Shape(msg.to_string())
    }

    /// Shorthand for an attribute error.
    pub fn attr(key: &str, value: &str, msg: impl fmt::Display) -> Error {
        Error::Attr {
            key: key.to_string(),
            value: value.to_string(),
            msg: msg.to_string(),
        }
    }
}

/// Formats a shape the way MXNet prints it: `(1, 3, 224, 224)`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
