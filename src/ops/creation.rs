//! Creation operators: `_arange`, `_zeros`, `_ones`, `_full`. They have no inputs; their output
//! depends on the attributes alone (GluonCV's detectors build class-id templates and anchor
//! offsets with them).
//!
//! Values are produced in the requested `dtype` and then held as f32, as everywhere in
//! mxnet-web. Checked against MXNet 1.9.1 (fixtures `ops/creation_*`):
//! - `_arange(start, stop=None, step=1, repeat=1, infer_range=False, dtype)`: `stop=None` means
//!   the range `[0, start)`. The length is `ceil((stop − start) / step)` computed in double, each
//!   value repeated `repeat` times. `start` and `step` are first converted to `dtype` (int32:
//!   `arange(0.5, 5, 1.5)` is `[0, 1, 2]`), then value `i` is `start + (i / repeat) · step`
//!   in that type (float32 rounding included: `arange(1e7, 1e7+5, 0.1)` repeats values).
//! - `_zeros(shape)`, `_ones(shape)`, `_full(shape, value)`: `value` rounded as `dtype` stores it.
//!   A 0 in `shape` is an unknown dimension (MXNet's legacy shapes), taken from what the consumer's
//!   shape rule needs (`src/graph/shape.rs`): Gluon's recurrent layers, hybridized without
//!   explicit states, write `begin_state` as `_zeros(shape=(layers·directions, 0, hidden))` and
//!   the `RNN` operator fills in the batch size.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::elementwise::cast_value;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, DType, View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum CreationOp {
    Arange {
        start: f64,
        stop: Option<f64>,
        step: f64,
        repeat: usize,
        dtype: DType,
    },
    /// `_zeros`, `_ones` and `_full`: every element `value` (already rounded to the dtype).
    Full {
        name: &'static str,
        shape: Vec<usize>,
        value: f32,
        dtype: DType,
    },
}

const DTYPES: &[&str] = &[
    "float32", "float64", "float16", "bfloat16", "uint8", "int8", "int32", "int64", "bool",
];

fn dtype(attrs: &Attrs) -> Result<DType> {
    let name = attrs.choice("dtype", DTYPES, "float32")?;
    Ok(DType::from_name(name).unwrap_or(DType::F32))
}

impl CreationOp {
    /// `(length, start, step)` of an `_arange`, with start and step in the output dtype.
    fn arange_params(&self) -> Result<(usize, f64, f64)> {
        let CreationOp::Arange {
            start,
            stop,
            step,
            repeat,
            dtype,
        } = *self
        else {
            return Ok((0, 0.0, 0.0));
        };
        let (lo, hi) = match stop {
            Some(s) => (start, s),
            None => (0.0, start),
        };
        if step == 0.0 {
            return Err(Error::attr("step", "0", "_arange: step must not be 0"));
        }
        let count = ((hi - lo) / step).ceil();
        if !count.is_finite() || count <= 0.0 {
            return Err(Error::shape(format!(
                "_arange: the range [{lo}, {hi}) with step {step} is empty (MXNet refuses empty outputs)"
            )));
        }
        let len = (count as usize).saturating_mul(repeat);
        if len > (1 << 31) {
            return Err(Error::shape(format!("_arange: {len} elements is too many")));
        }
        let typed = |v: f64| match dtype {
            DType::F64 => v,
            _ => cast_value(v as f32, dtype) as f64,
        };
        Ok((len, typed(lo), typed(step)))
    }

    /// All values of the output (every creation op is a constant of its attributes).
    /// Whether the output shape has unknown (0) dimensions, left to the consumer's shape rule.
    pub fn has_unknown_dims(&self) -> bool {
        matches!(self, CreationOp::Full { shape, .. } if shape.contains(&0))
    }

    pub fn values(&self) -> Result<Vec<f32>> {
        match self {
            CreationOp::Arange { repeat, dtype, .. } => {
                let (len, start, step) = self.arange_params()?;
                Ok((0..len)
                    .map(|i| arange_at(i, *repeat, start, step, *dtype))
                    .collect())
            }
            CreationOp::Full { shape, value, .. } => Ok(vec![*value; numel(shape)]),
        }
    }
}

fn arange_at(i: usize, repeat: usize, start: f64, step: f64, dtype: DType) -> f32 {
    let k = (i / repeat.max(1)) as f64;
    match dtype {
        DType::F64 => (start + k * step) as f32,
        DType::F32 => start as f32 + k as f32 * step as f32,
        _ => cast_value((start + k * step) as f32, dtype),
    }
}

impl Operator for CreationOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let parsed = match op {
            "_arange" => {
                let repeat = attrs.int_or("repeat", 1)?;
                if repeat < 1 {
                    return Err(Error::attr(
                        "repeat",
                        &repeat.to_string(),
                        "must be at least 1",
                    ));
                }
                if attrs.bool_or("infer_range", false)? {
                    return Err(Error::attr(
                        "infer_range",
                        "True",
                        "_arange with infer_range=True takes its length from the graph (deprecated in MXNet); not supported",
                    ));
                }
                attrs.str("ctx");
                CreationOp::Arange {
                    start: attrs
                        .float("start")?
                        .ok_or_else(|| Error::attr("start", "", "required attribute is missing"))?,
                    stop: attrs.opt_float("stop")?,
                    step: attrs.float_or("step", 1.0)?,
                    repeat: repeat as usize,
                    dtype: dtype(attrs)?,
                }
            }
            "_zeros" | "_ones" | "_full" => {
                let shape = attrs.ints("shape")?.unwrap_or_default();
                if shape.is_empty() || shape.iter().any(|&d| d < 0) {
                    return Err(Error::attr(
                        "shape",
                        attrs.raw("shape").unwrap_or(""),
                        "needs at least one dimension, each a size or 0 (unknown: inferred from the consumer)",
                    ));
                }
                attrs.str("ctx");
                let dt = dtype(attrs)?;
                let (name, value) = match op {
                    "_zeros" => ("_zeros", 0.0),
                    "_ones" => ("_ones", 1.0),
                    _ => (
                        "_full",
                        attrs.float("value")?.ok_or_else(|| {
                            Error::attr("value", "", "required attribute is missing")
                        })?,
                    ),
                };
                let value = match dt {
                    DType::F64 => value as f32,
                    _ => cast_value(value as f32, dt),
                };
                CreationOp::Full {
                    name,
                    shape: shape.iter().map(|&d| d as usize).collect(),
                    value,
                    dtype: dt,
                }
            }
            _ => return Ok(None),
        };
        if let CreationOp::Arange { .. } = parsed {
            parsed.arange_params()?;
        }
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            CreationOp::Arange { .. } => "_arange",
            CreationOp::Full { name, .. } => name,
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        Vec::new()
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        if !inputs.is_empty() {
            return Err(Error::shape(format!(
                "{}: takes no inputs, got {}",
                self.name(),
                inputs.len()
            )));
        }
        match self {
            CreationOp::Arange { .. } => Ok(vec![vec![self.arange_params()?.0]]),
            CreationOp::Full { shape, .. } => Ok(vec![shape.clone()]),
        }
    }

    fn forward(
        &self,
        _inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::shape(format!("{}: no output buffer", self.name())))?;
        match self {
            CreationOp::Full { value, .. } => out.data.fill(*value),
            CreationOp::Arange { repeat, dtype, .. } => {
                let (len, start, step) = self.arange_params()?;
                if out.data.len() != len {
                    return Err(Error::shape(format!(
                        "_arange: output {} does not hold {len} values",
                        fmt_shape(out.shape)
                    )));
                }
                for (i, v) in out.data.iter_mut().enumerate() {
                    *v = arange_at(i, *repeat, start, step, *dtype);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Expected values from MXNet 1.9.1 (`mx.nd.arange`, `mx.nd.full`).
    use super::*;

    fn op(name: &str, attrs: &[(&str, &str)]) -> Result<CreationOp> {
        let a = Attrs::from_pairs(attrs);
        let o = CreationOp::parse(name, &a)?.expect("creation op");
        a.finish()?;
        Ok(o)
    }

    fn values(name: &str, attrs: &[(&str, &str)]) -> Vec<f32> {
        let o = op(name, attrs).unwrap();
        let shape = o.infer_shape(&mut []).unwrap().remove(0);
        let mut buf = vec![f32::NAN; numel(&shape)];
        o.forward(
            &[],
            &mut [ViewMut {
                shape: &shape,
                data: &mut buf,
            }],
            &mut Scratch::default(),
        )
        .unwrap();
        assert_eq!(buf, o.values().unwrap());
        buf
    }

    #[test]
    fn arange() {
        assert_eq!(values("_arange", &[("start", "3")]), [0., 1., 2.]);
        assert_eq!(
            values(
                "_arange",
                &[("start", "0.1"), ("stop", "1"), ("step", "0.3")]
            ),
            [0.1, 0.4, 0.70000005]
        );
        assert_eq!(
            values("_arange", &[("start", "10"), ("stop", "2"), ("step", "-3")]),
            [10., 7., 4.]
        );
        assert_eq!(
            values("_arange", &[("start", "3"), ("repeat", "2")]),
            [0., 0., 1., 1., 2., 2.]
        );
        assert_eq!(
            values(
                "_arange",
                &[
                    ("start", "0.5"),
                    ("stop", "5"),
                    ("step", "1.5"),
                    ("dtype", "int32")
                ]
            ),
            [0., 1., 2.]
        );
        let big = values(
            "_arange",
            &[("start", "1e7"), ("stop", "10000005"), ("step", "0.1")],
        );
        assert_eq!(big.len(), 50);
        assert_eq!(&big[4..8], [1e7, 1e7, 10000001., 10000001.]);
        assert!(op("_arange", &[("start", "3"), ("step", "0")]).is_err());
        assert!(op("_arange", &[("start", "0")]).is_err(), "empty range");
        assert!(op("_arange", &[]).is_err(), "start is required");
        assert!(op("_arange", &[("start", "3"), ("infer_range", "True")]).is_err());
    }

    #[test]
    fn full() {
        assert_eq!(values("_zeros", &[("shape", "(2, 3)")]), [0.0; 6]);
        assert_eq!(values("_ones", &[("shape", "(2,)")]), [1.0; 2]);
        assert_eq!(
            values(
                "_full",
                &[("shape", "(2, 2)"), ("value", "2.7"), ("dtype", "int32")]
            ),
            [2.0; 4]
        );
        assert_eq!(
            values(
                "_full",
                &[("shape", "(1,)"), ("value", "0.1"), ("dtype", "float16")]
            ),
            [0.099975586]
        );
        let unknown = op("_zeros", &[("shape", "(4, 0, 8)")]).unwrap();
        assert!(unknown.has_unknown_dims());
        assert_eq!(unknown.infer_shape(&mut []).unwrap(), [vec![4, 0, 8]]);
        assert!(!op("_zeros", &[("shape", "(4, 2, 8)")])
            .unwrap()
            .has_unknown_dims());
        assert!(op("_zeros", &[("shape", "(-1, 3)")]).is_err());
        assert!(op("_zeros", &[("shape", "()")]).is_err());
        assert!(
            op("_full", &[("shape", "(2,)")]).is_err(),
            "value is required"
        );
        assert!(op("_ones", &[("shape", "(2,)"), ("bogus", "1")]).is_err());
    }
}
