//! Segmentation resizing (NCHW): `_contrib_BilinearResize2D` and `_contrib_AdaptiveAvgPooling2D`.
//!
//! - `BilinearResize2D(data[, like], height=1, width=1, scale_height=None, scale_width=None,
//!   mode='size', align_corners=True)`. The output size per mode (H, W the input's):
//!   `size`: `height`/`width`, or `int(scale · H)` when a scale is given; `odd_scale`:
//!   `int(H · scale)` for even H, `int((H − 1) · scale) + 1` for odd H; `like`: the spatial size
//!   of the second input; `to_even_down/up`, `to_odd_down/up`: H itself when it already has the
//!   parity, else H ∓ 1. Sampling: output row `i` reads input row
//!   `i · (H − 1)/(OH − 1)` with `align_corners` (0 when OH = 1), else
//!   `max((i + ½) · H/OH − ½, 0)`; the two rows around it (the second clamped to the last row)
//!   are blended linearly, and likewise for columns.
//! - `AdaptiveAvgPooling2D(data, output_size=())`: `()` → 1×1, `s` → s×s, `(h, w)`; output cell
//!   `i` averages input rows `floor(i·H/OH) .. ceil((i+1)·H/OH)` (and columns likewise).

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{View, ViewMut};

/// How `BilinearResize2D` chooses its output size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResizeMode {
    Size {
        height: usize,
        width: usize,
        scale_height: Option<f32>,
        scale_width: Option<f32>,
    },
    OddScale {
        scale_height: f32,
        scale_width: f32,
    },
    Like,
    ToEvenDown,
    ToEvenUp,
    ToOddDown,
    ToOddUp,
}

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum ResizeOp {
    Bilinear {
        mode: ResizeMode,
        align_corners: bool,
    },
    AdaptiveAvgPool {
        out_h: usize,
        out_w: usize,
    },
}

/// The source coordinate sampling scale for one axis (`in` → `out` values).
pub fn bilinear_scale(input: usize, output: usize, align_corners: bool) -> f32 {
    if align_corners {
        if output > 1 {
            (input as f32 - 1.0) / (output as f32 - 1.0)
        } else {
            0.0
        }
    } else {
        input as f32 / output as f32
    }
}

/// Output index `i` → (first source index, its weight complement `λ`), the second source index
/// being `min(first + 1, input − 1)`.
fn source(i: usize, scale: f32, input: usize, align_corners: bool) -> (usize, usize, f32) {
    let r = if align_corners {
        scale * i as f32
    } else {
        ((i as f32 + 0.5) * scale - 0.5).max(0.0)
    };
    let i0 = (r as usize).min(input - 1);
    let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
    (i0, i1, r - i0 as f32)
}

/// First and one-past-last input index of adaptive pooling cell `i`.
pub fn adaptive_range(i: usize, output: usize, input: usize) -> (usize, usize) {
    let start = i * input / output;
    let end = ((i + 1) * input).div_ceil(output);
    (start, end)
}

fn parity(h: usize, even: bool, up: bool) -> usize {
    if (h % 2 == 0) == even {
        h
    } else if up {
        h + 1
    } else {
        h.saturating_sub(1)
    }
}

impl ResizeMode {
    fn out_size(&self, data: &[usize], like: Option<&[usize]>) -> Result<(usize, usize)> {
        let (h, w) = (data[2], data[3]);
        let odd = |x: usize, s: f32| -> usize {
            if x % 2 == 0 {
                (x as f32 * s) as usize
            } else {
                ((x - 1) as f32 * s) as usize + 1
            }
        };
        Ok(match *self {
            ResizeMode::Size {
                height,
                width,
                scale_height,
                scale_width,
            } => (
                scale_height.map_or(height, |s| (s * h as f32) as usize),
                scale_width.map_or(width, |s| (s * w as f32) as usize),
            ),
            ResizeMode::OddScale {
                scale_height,
                scale_width,
            } => (odd(h, scale_height), odd(w, scale_width)),
            ResizeMode::Like => {
                let like = like.ok_or_else(|| {
                    Error::shape("BilinearResize2D: mode='like' needs the second input's shape")
                })?;
                if like.len() != 4 {
                    return Err(Error::shape(format!(
                        "BilinearResize2D: like must be 4-D (NCHW), got {}",
                        fmt_shape(like)
                    )));
                }
                (like[2], like[3])
            }
            ResizeMode::ToEvenDown => (parity(h, true, false), parity(w, true, false)),
            ResizeMode::ToEvenUp => (parity(h, true, true), parity(w, true, true)),
            ResizeMode::ToOddDown => (parity(h, false, false), parity(w, false, false)),
            ResizeMode::ToOddUp => (parity(h, false, true), parity(w, false, true)),
        })
    }
}

impl Operator for ResizeOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        Ok(Some(match op {
            "_contrib_BilinearResize2D" => {
                let height = attrs.int_or("height", 1)?;
                let width = attrs.int_or("width", 1)?;
                let sh = attrs.opt_float("scale_height")?.map(|v| v as f32);
                let sw = attrs.opt_float("scale_width")?.map(|v| v as f32);
                let modes = [
                    "size",
                    "odd_scale",
                    "like",
                    "to_even_down",
                    "to_even_up",
                    "to_odd_down",
                    "to_odd_up",
                ];
                let mode = match attrs.choice("mode", &modes, "size")? {
                    "odd_scale" => match (sh, sw) {
                        (Some(scale_height), Some(scale_width)) => ResizeMode::OddScale {
                            scale_height,
                            scale_width,
                        },
                        _ => {
                            return Err(Error::attr(
                                "mode",
                                "odd_scale",
                                "needs scale_height and scale_width",
                            ))
                        }
                    },
                    "like" => ResizeMode::Like,
                    "to_even_down" => ResizeMode::ToEvenDown,
                    "to_even_up" => ResizeMode::ToEvenUp,
                    "to_odd_down" => ResizeMode::ToOddDown,
                    "to_odd_up" => ResizeMode::ToOddUp,
                    _ => {
                        if height < 1 && sh.is_none() || width < 1 && sw.is_none() {
                            return Err(Error::attr(
                                "height",
                                &format!("{height}, width={width}"),
                                "output height and width must be at least 1",
                            ));
                        }
                        ResizeMode::Size {
                            height: height.max(0) as usize,
                            width: width.max(0) as usize,
                            scale_height: sh,
                            scale_width: sw,
                        }
                    }
                };
                ResizeOp::Bilinear {
                    mode,
                    align_corners: attrs.bool_or("align_corners", true)?,
                }
            }
            "_contrib_AdaptiveAvgPooling2D" => {
                let size = attrs.ints("output_size")?.unwrap_or_default();
                let (out_h, out_w) = match size.as_slice() {
                    [] => (1, 1),
                    [s] => (*s, *s),
                    [h, w] => (*h, *w),
                    _ => {
                        return Err(Error::attr(
                            "output_size",
                            attrs.raw("output_size").unwrap_or(""),
                            "expected an int or (height, width)",
                        ))
                    }
                };
                if out_h < 1 || out_w < 1 {
                    return Err(Error::attr(
                        "output_size",
                        attrs.raw("output_size").unwrap_or(""),
                        "must be positive",
                    ));
                }
                ResizeOp::AdaptiveAvgPool {
                    out_h: out_h as usize,
                    out_w: out_w as usize,
                }
            }
            _ => return Ok(None),
        }))
    }

    fn name(&self) -> &'static str {
        match self {
            ResizeOp::Bilinear { .. } => "_contrib_BilinearResize2D",
            ResizeOp::AdaptiveAvgPool { .. } => "_contrib_AdaptiveAvgPooling2D",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let mut v = vec![("data".to_string(), InputRole::Data)];
        if let ResizeOp::Bilinear {
            mode: ResizeMode::Like,
            ..
        } = self
        {
            v.push(("like".to_string(), InputRole::Data));
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
        if data.len() != 4 {
            return Err(Error::shape(format!(
                "{op}: data must be 4-D (NCHW), got {}",
                fmt_shape(&data)
            )));
        }
        let (oh, ow) = match self {
            ResizeOp::Bilinear { mode, .. } => {
                let like = inputs.get(1).cloned().flatten();
                mode.out_size(&data, like.as_deref())?
            }
            ResizeOp::AdaptiveAvgPool { out_h, out_w } => (*out_h, *out_w),
        };
        if oh == 0 || ow == 0 {
            return Err(Error::shape(format!(
                "{op}: output size {oh}×{ow} for data {}",
                fmt_shape(&data)
            )));
        }
        Ok(vec![vec![data[0], data[1], oh, ow]])
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let x = &inputs[0];
        let (h, w) = (x.shape[2], x.shape[3]);
        let y = &mut outputs[0];
        let (oh, ow) = (y.shape[2], y.shape[3]);
        if h == 0 || w == 0 {
            return Err(Error::shape(format!(
                "{}: empty input {}",
                self.name(),
                fmt_shape(x.shape)
            )));
        }
        let planes = x
            .data
            .chunks_exact(h * w)
            .zip(y.data.chunks_exact_mut(oh * ow));
        match *self {
            ResizeOp::Bilinear { align_corners, .. } => {
                let (sh, sw) = (
                    bilinear_scale(h, oh, align_corners),
                    bilinear_scale(w, ow, align_corners),
                );
                let cols: Vec<(usize, usize, f32)> =
                    (0..ow).map(|j| source(j, sw, w, align_corners)).collect();
                for (src, dst) in planes {
                    for i in 0..oh {
                        let (r0, r1, lh) = source(i, sh, h, align_corners);
                        for (j, &(c0, c1, lw)) in cols.iter().enumerate() {
                            let top = (1.0 - lw) * src[r0 * w + c0] + lw * src[r0 * w + c1];
                            let bot = (1.0 - lw) * src[r1 * w + c0] + lw * src[r1 * w + c1];
                            dst[i * ow + j] = (1.0 - lh) * top + lh * bot;
                        }
                    }
                }
            }
            ResizeOp::AdaptiveAvgPool { .. } => {
                for (src, dst) in planes {
                    for i in 0..oh {
                        let (r0, r1) = adaptive_range(i, oh, h);
                        for j in 0..ow {
                            let (c0, c1) = adaptive_range(j, ow, w);
                            let mut s = 0.0f32;
                            for r in r0..r1 {
                                for c in c0..c1 {
                                    s += src[r * w + c];
                                }
                            }
                            dst[i * ow + j] = s / ((r1 - r0) * (c1 - c0)) as f32;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(op: &str, attrs: &[(&str, &str)], shape: &[usize]) -> Vec<usize> {
        let o = ResizeOp::parse(op, &Attrs::from_pairs(attrs))
            .unwrap()
            .unwrap();
        let mut ins = vec![Some(shape.to_vec())];
        o.infer_shape(&mut ins).unwrap().remove(0)
    }

    #[test]
    fn output_sizes_match_mxnet() {
        // Values printed by MXNet 1.9.1 for a (2, 3, 5, 7) input.
        let b = "_contrib_BilinearResize2D";
        let s = [2, 3, 5, 7];
        let sc = [("scale_height", "1.5"), ("scale_width", "0.7")];
        assert_eq!(out(b, &sc, &s), vec![2, 3, 7, 4]);
        let odd = [
            ("mode", "odd_scale"),
            ("scale_height", "2"),
            ("scale_width", "2"),
        ];
        assert_eq!(out(b, &odd, &s), vec![2, 3, 9, 13]);
        assert_eq!(out(b, &[("mode", "to_even_down")], &s), vec![2, 3, 4, 6]);
        assert_eq!(out(b, &[("mode", "to_even_up")], &s), vec![2, 3, 6, 8]);
        assert_eq!(out(b, &[("mode", "to_odd_up")], &s), vec![2, 3, 5, 7]);
        let a = "_contrib_AdaptiveAvgPooling2D";
        assert_eq!(out(a, &[], &s), vec![2, 3, 1, 1]);
        assert_eq!(out(a, &[("output_size", "4")], &s), vec![2, 3, 4, 4]);
    }

    #[test]
    fn adaptive_ranges_overlap_like_mxnet() {
        assert_eq!(adaptive_range(0, 2, 5), (0, 3));
        assert_eq!(adaptive_range(1, 2, 5), (2, 5));
    }
}
