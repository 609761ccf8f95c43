//! Sequence operators: `SequenceMask`, `SequenceLast`, `SequenceReverse`.
//!
//! `data` has the time axis at `axis` (0: `(T, B, ...)`, 1: `(B, T, ...)`; SequenceReverse
//! supports only 0, as MXNet) and the batch axis next to it. With
//! `use_sequence_length=True` a second input `sequence_length (B,)` gives each batch element's
//! length, truncated toward zero (2.7 → 2); without it every length is T.
//! - `SequenceMask(value=0)`: time steps `t ≥ length` are set to `value`;
//! - `SequenceLast`: the step `length − 1` of each batch element (the time axis removed). A
//!   length of 0 reads uninitialised memory in MXNet; here it clamps to step 0;
//! - `SequenceReverse`: the first `length` steps reversed, later steps unchanged.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceKind {
    Mask,
    Last,
    Reverse,
}

/// One of the three operators.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceOp {
    pub kind: SequenceKind,
    pub use_length: bool,
    /// 0 or 1.
    pub axis: usize,
    /// SequenceMask's fill value.
    pub value: f32,
}

/// A length value as MXNet reads it (C++ cast to int: truncation), clamped to `0..=t`.
pub fn length_of(x: f32, t: usize) -> usize {
    if x.is_nan() || x <= 0.0 {
        0
    } else {
        (x.trunc() as usize).min(t)
    }
}

impl SequenceOp {
    /// Offset of (time `t`, batch `b`) in elements, for data `shape`.
    pub fn offset(&self, shape: &[usize], t: usize, b: usize) -> usize {
        let inner = numel(&shape[2..]);
        if self.axis == 0 {
            (t * shape[1] + b) * inner
        } else {
            (b * shape[1] + t) * inner
        }
    }

    /// (batch size, sequence length) for data `shape`.
    pub fn batch_time(&self, shape: &[usize]) -> (usize, usize) {
        if self.axis == 0 {
            (shape[1], shape[0])
        } else {
            (shape[0], shape[1])
        }
    }
}

impl Operator for SequenceOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let kind = match op {
            "SequenceMask" => SequenceKind::Mask,
            "SequenceLast" => SequenceKind::Last,
            "SequenceReverse" => SequenceKind::Reverse,
            _ => return Ok(None),
        };
        let axis = attrs.int_or("axis", 0)?;
        let max_axis = if kind == SequenceKind::Reverse { 0 } else { 1 };
        if axis < 0 || axis > max_axis {
            return Err(Error::attr(
                "axis",
                &axis.to_string(),
                if kind == SequenceKind::Reverse {
                    "SequenceReverse supports only axis=0 (as MXNet 1.9.1)"
                } else {
                    "must be 0 or 1"
                },
            ));
        }
        let value = if kind == SequenceKind::Mask {
            attrs.float_or("value", 0.0)? as f32
        } else {
            0.0
        };
        Ok(Some(SequenceOp {
            kind,
            use_length: attrs.bool_or("use_sequence_length", false)?,
            axis: axis as usize,
            value,
        }))
    }

    fn name(&self) -> &'static str {
        match self.kind {
            SequenceKind::Mask => "SequenceMask",
            SequenceKind::Last => "SequenceLast",
            SequenceKind::Reverse => "SequenceReverse",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let mut v = vec![("data".to_string(), InputRole::Data)];
        if self.use_length {
            v.push(("sequence_length".to_string(), InputRole::Data));
        }
        v
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let data = inputs
            .first()
            .cloned()
            .flatten()
            .ok_or_else(|| Error::shape(format!("{op}: the shape of data is unknown")))?;
        if data.len() < 2 {
            return Err(Error::shape(format!(
                "{op}: data must have at least 2 axes (time and batch), got {}",
                fmt_shape(&data)
            )));
        }
        let (batch, _) = self.batch_time(&data);
        if self.use_length {
            match &inputs[1] {
                None => inputs[1] = Some(vec![batch]),
                Some(s) if *s == [batch] => {}
                Some(s) => {
                    return Err(Error::shape(format!(
                        "{op}: sequence_length has shape {}, expected ({batch},) for data {}",
                        fmt_shape(s),
                        fmt_shape(&data)
                    )))
                }
            }
        }
        let mut out = data;
        if self.kind == SequenceKind::Last {
            out.remove(self.axis);
        }
        Ok(vec![out])
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let x = &inputs[0];
        let (batch, t_len) = self.batch_time(x.shape);
        let inner = numel(&x.shape[2..]);
        let lengths: Vec<usize> = (0..batch)
            .map(|b| {
                if self.use_length {
                    length_of(inputs[1].data[b], t_len)
                } else {
                    t_len
                }
            })
            .collect();
        let y = &mut *outputs[0].data;
        for (b, &len) in lengths.iter().enumerate() {
            match self.kind {
                SequenceKind::Mask => {
                    for t in 0..t_len {
                        let o = self.offset(x.shape, t, b);
                        let dst = &mut y[o..o + inner];
                        if t < len {
                            dst.copy_from_slice(&x.data[o..o + inner]);
                        } else {
                            dst.fill(self.value);
                        }
                    }
                }
                SequenceKind::Last => {
                    let t = len.max(1) - 1;
                    let o = self.offset(x.shape, t, b);
                    y[b * inner..(b + 1) * inner].copy_from_slice(&x.data[o..o + inner]);
                }
                SequenceKind::Reverse => {
                    for t in 0..t_len {
                        let src = if t < len { len - 1 - t } else { t };
                        let (o, s) = (self.offset(x.shape, t, b), self.offset(x.shape, src, b));
                        y[o..o + inner].copy_from_slice(&x.data[s..s + inner]);
                    }
                }
            }
        }
        Ok(())
    }

    fn is_view(&self) -> bool {
        // Without lengths, SequenceMask changes nothing.
        self.kind == SequenceKind::Mask && !self.use_length
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_truncate_like_a_cast() {
        assert_eq!(length_of(2.7, 4), 2);
        assert_eq!(length_of(-1.0, 4), 0);
        assert_eq!(length_of(9.0, 4), 4);
    }

    #[test]
    fn reverse_rejects_axis_1() {
        let e =
            SequenceOp::parse("SequenceReverse", &Attrs::from_pairs(&[("axis", "1")])).unwrap_err();
        assert!(e.to_string().contains("axis"), "{e}");
    }
}
