//! Shape and data-movement operators (spec §4.2–§4.4): Reshape, Flatten, transpose, expand_dims,
//! squeeze, SwapAxis, slice, slice_axis, slice_like, Crop, SliceChannel, _split_v2, Concat,
//! stack, Pad, broadcast_to, broadcast_axis, broadcast_like, tile, repeat, reshape_like,
//! shape_array, size_array, reverse, depth_to_space, space_to_depth.
//!
//! None of these compute anything: each output element is a copy of one input element (or a
//! constant, for Pad). Most of them are expressed as a [`StridedView`] of the input — an offset
//! plus per-axis strides that may be 0 (broadcast) or negative (reverse) — and share one copy
//! kernel whose inner loop is a `copy_from_slice` whenever the innermost axis is contiguous.
//!
//! Axis conventions follow MXNet 1.9.1 exactly, including where it is stricter than NumPy:
//! `transpose`, `reverse` and `broadcast_axis` reject negative axes; most other ops accept them.
//! Every rule below was checked against MXNet 1.9.1 (the numbers in the tests come from it).

use crate::dims::{add, dim_from_i64, mul};
use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{arity, resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// Operators of this family. Attribute defaults are MXNet's (spec §4.3).
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeOp {
    /// `Reshape` (alias `reshape`): see [`Reshape`]. A view.
    Reshape(Reshape),
    /// `Flatten`: `(N, d1, d2, …)` → `(N, d1·d2·…)`; a 1-D `(N,)` becomes `(N, 1)` (spec §4.2). A view.
    Flatten,
    /// `transpose(axes=())`: permutes the axes; empty `axes` reverses them. Axes must be a
    /// permutation of `0..ndim` (MXNet rejects negative entries).
    Transpose { axes: Vec<i64> },
    /// `expand_dims(axis)` (required): inserts a size-1 axis at `axis ∈ [-ndim-1, ndim]`. A view.
    ExpandDims { axis: i64 },
    /// `squeeze(axis=None)`: removes the given size-1 axes, or all of them when `axis` is None;
    /// the result is never 0-d: (1, 1) → (1,) (spec §5.20). `axis=()` removes nothing. A view.
    Squeeze { axes: Option<Vec<i64>> },
    /// `SwapAxis(dim1=0, dim2=0)` (alias `swapaxes`): swaps two axes (negative allowed).
    SwapAxis { dim1: i64, dim2: i64 },
    /// `slice(begin, end, step=())` (alias `crop`): NumPy basic slicing, see [`Slice`].
    Slice(Slice),
    /// `slice_axis(axis, begin, end)`: `end` may be None (= the axis length); negative indices
    /// count from the end; the range must be non-empty and inside the axis.
    SliceAxis {
        axis: i64,
        begin: i64,
        end: Option<i64>,
    },
    /// `slice_like(data, shape_like, axes=())`: `data[0:like.shape[a]]` on each of `axes` (all
    /// axes when empty; then both inputs must have the same rank).
    SliceLike { axes: Vec<i64> },
    /// Legacy `Crop`: see [`Crop`].
    Crop(Crop),
    /// `SliceChannel(num_outputs, axis=1, squeeze_axis=False)` (alias `split`): `num_outputs`
    /// equal pieces along `axis` (the size must divide); `squeeze_axis` drops the axis and then
    /// requires pieces of size 1. `num_outputs` visible outputs.
    SliceChannel {
        num_outputs: usize,
        axis: i64,
        squeeze_axis: bool,
    },
    /// `_split_v2(indices, axis=1, squeeze_axis=False, sections=0)`: see [`SplitV2`].
    SplitV2(SplitV2),
    /// `Concat(num_args, dim=1)` (alias `concat`): joins along `dim` (negative allowed); all
    /// other dims must match. Inputs `arg0..arg{n-1}`.
    Concat { num_args: usize, dim: i64 },
    /// `stack(axis=0, num_args)`: joins same-shape inputs along a new axis `axis ∈ [-ndim-1, ndim]`.
    Stack { num_args: usize, axis: i64 },
    /// `Pad(mode, pad_width, constant_value=0)` (alias `pad`): see [`Pad`].
    Pad(Pad),
    /// `broadcast_to(shape=())`: same rank; a target dim of 0 keeps the input dim; otherwise the
    /// input dim must equal the target or be 1.
    BroadcastTo { shape: Vec<i64> },
    /// `broadcast_axis(axis=(), size=())` (alias `broadcast_axes`): sets each listed size-1 axis
    /// (non-negative) to the matching size.
    BroadcastAxis { axes: Vec<i64>, sizes: Vec<i64> },
    /// `broadcast_like(lhs, rhs, lhs_axes=None, rhs_axes=None)`: broadcasts lhs to rhs's shape
    /// (same rank), or only `lhs_axes[i]` to `rhs.shape[rhs_axes[i]]` (negative allowed).
    BroadcastLike {
        lhs_axes: Option<Vec<i64>>,
        rhs_axes: Option<Vec<i64>>,
    },
    /// `tile(reps)`: NumPy `tile`; the shorter of shape/reps is left-padded with 1s. Empty reps
    /// is the identity; a 0 rep is an error (a 0 dim means "unknown" in legacy MXNet).
    Tile { reps: Vec<i64> },
    /// `repeat(repeats, axis=None)`: repeats each element `repeats` times along `axis`; with
    /// `axis=None` the input is flattened first (output 1-D).
    Repeat { repeats: usize, axis: Option<i64> },
    /// `reshape_like(lhs, rhs, lhs_begin=None, lhs_end=None, rhs_begin=None, rhs_end=None)`:
    /// replaces `lhs.shape[lhs_begin:lhs_end]` by `rhs.shape[rhs_begin:rhs_end]` (the whole
    /// shapes by default); sizes must agree. A view of lhs.
    ReshapeLike(ReshapeLike),
    /// `shape_array(data)`: the shape as a 1-D tensor (int64 in MXNet; emitted as f32 values).
    ShapeArray,
    /// `size_array(data)`: the element count as a `(1,)` tensor (int64 in MXNet; f32 here).
    SizeArray,
    /// `reverse(axis)` (alias `flip`): reverses the listed axes (non-negative; an axis listed
    /// twice is reversed twice, as in MXNet).
    Reverse { axes: Vec<i64> },
    /// `depth_to_space(block_size)`: `(N, C·b², H, W)` → `(N, C, H·b, W·b)`,
    /// `out[n, c, h·b+i, w·b+j] = in[n, (i·b+j)·C + c, h, w]` (DCR order, as MXNet/ONNX).
    DepthToSpace { block: usize },
    /// `space_to_depth(block_size)`: the inverse, `(N, C, H·b, W·b)` → `(N, C·b², H, W)`.
    SpaceToDepth { block: usize },
}

/// `Reshape` attributes (spec §4.4).
///
/// `shape` is a list of codes walked left to right with a pointer into the input dims:
/// `>0` literal (pointer advances), `0` copy the input dim, `-1` infer from the remaining size
/// (at most one; the pointer advances), `-2` copy all remaining input dims, `-3` merge the next
/// two input dims, `-4 a b` split the next input dim into `a·b` (one of them may be -1).
/// `reverse=True` applies the codes right-aligned. When `shape` is empty the legacy
/// `target_shape` is used: plain dims where a single 0 is inferred, and `keep_highest=True`
/// forces dim 0 to the input's dim 0. The element count must not change.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshape {
    pub shape: Vec<i64>,
    pub reverse: bool,
    pub target_shape: Vec<i64>,
    pub keep_highest: bool,
}

/// `slice` attributes: one `begin`/`end`/`step` entry per leading axis (fewer entries than
/// ndim leave the trailing axes whole); `None` entries mean "open" (NumPy semantics, negative
/// steps walk backwards). `step=()` means all 1s; a 0 step is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub begin: Vec<Option<i64>>,
    pub end: Vec<Option<i64>>,
    pub step: Vec<Option<i64>>,
}

/// Legacy `Crop(num_args, offset=(0,0), h_w=(0,0), center_crop=False)` on 4-D NCHW data.
/// With one input the output is `h_w` (both ≥ 1); with two inputs it takes the H, W of the
/// second (`crop_like`). The window starts at `offset`, or is centred
/// (`floor((H−h)/2), floor((W−w)/2)`) with `center_crop`. Inputs are named `arg0`, `arg1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Crop {
    pub num_args: usize,
    pub offset: [usize; 2],
    pub h_w: [usize; 2],
    pub center_crop: bool,
}

/// `_split_v2` attributes. With `sections > 0` the axis is cut into `sections` parts the way
/// `numpy.array_split` does (the first `len % sections` parts get one extra element; parts may
/// be empty). Otherwise `indices` lists the start of every part (the Python front end writes
/// a leading 0: `split_v2(x, (1, 3))` is stored as `indices=[0, 1, 3]`), giving
/// `len(indices)` outputs; starts must increase strictly and stay inside the axis.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitV2 {
    pub indices: Vec<i64>,
    pub sections: usize,
    pub axis: i64,
    pub squeeze_axis: bool,
}

/// `Pad(mode, pad_width, constant_value=0)`: only 4-D and 5-D input, and the first two axes
/// (N, C) must not be padded — MXNet's own limits (spec §4.3). `pad_width` holds `before,
/// after` for every axis. `constant` fills with `constant_value`; `edge` repeats the border;
/// `reflect` mirrors without repeating the border (NumPy 'reflect'), which requires every pad
/// to be smaller than its axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Pad {
    pub mode: PadMode,
    pub pad_width: Vec<usize>,
    pub constant_value: f32,
}

/// How [`Pad`] fills the border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    Constant,
    Edge,
    Reflect,
}

/// `reshape_like` attributes: the ranges of lhs and rhs dims that are exchanged (None = the
/// start / the end; negative values count from the end).
#[derive(Debug, Clone, PartialEq)]
pub struct ReshapeLike {
    pub lhs_begin: Option<i64>,
    pub lhs_end: Option<i64>,
    pub rhs_begin: Option<i64>,
    pub rhs_end: Option<i64>,
}

// ------------------------------------------------------------------------------------------
// Attribute parsing
// ------------------------------------------------------------------------------------------

fn required<T>(value: Option<T>, key: &str) -> Result<T> {
    value.ok_or_else(|| Error::attr(key, "", "required attribute is missing"))
}

/// A count attribute that must be at least `min`.
fn count(value: i64, key: &str, min: i64) -> Result<usize> {
    if value < min {
        return Err(Error::attr(
            key,
            &value.to_string(),
            format!("must be at least {min}"),
        ));
    }
    dim_from_i64(value, key)
}

/// A `(a, b)` attribute of two non-negative ints.
fn pair(attrs: &Attrs, key: &str, default: [usize; 2]) -> Result<[usize; 2]> {
    match attrs.ints(key)? {
        None => Ok(default),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => {
            Ok([dim_from_i64(v[0], key)?, dim_from_i64(v[1], key)?])
        }
        Some(v) => Err(Error::attr(
            key,
            &format!("{v:?}"),
            "expected two non-negative integers",
        )),
    }
}

impl Reshape {
    fn parse(attrs: &Attrs) -> Result<Reshape> {
        let shape = attrs.ints("shape")?.unwrap_or_default();
        if let Some(bad) = shape.iter().find(|&&c| c < -4) {
            return Err(Error::attr(
                "shape",
                &format!("{shape:?}"),
                format!("{bad} is not a dim or a special code (0, -1, -2, -3, -4)"),
            ));
        }
        Ok(Reshape {
            shape,
            reverse: attrs.bool_or("reverse", false)?,
            target_shape: attrs.ints("target_shape")?.unwrap_or_default(),
            keep_highest: attrs.bool_or("keep_highest", false)?,
        })
    }

    /// The output shape for `input`, following MXNet's `InferReshapeShape` (spec §4.4).
    ///
    /// One deliberate difference: MXNet stores the position of a `-1` as its index in the code
    /// list, which points at the wrong output dim after a `-2`/`-4` (e.g. `(-2, -1)` on (2, 3, 4)
    /// gives MXNet the inconsistent (2, 1, 4, 1)); this infers the `-1` dim itself.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let total = numel(input);
        let out = if !self.shape.is_empty() {
            self.apply_codes(input)?
        } else if !self.target_shape.is_empty() {
            self.apply_target_shape(input)?
        } else {
            return Err(Error::shape(
                "Reshape: neither `shape` nor `target_shape` is given",
            ));
        };
        if numel(&out) != total {
            return Err(Error::shape(format!(
                "Reshape: cannot reshape array of shape {} ({total} elements) into {} (resolved to {}, {} elements)",
                fmt_shape(input),
                self.describe_target(),
                fmt_shape(&out),
                numel(&out)
            )));
        }
        Ok(out)
    }

    fn describe_target(&self) -> String {
        let codes = if self.shape.is_empty() {
            &self.target_shape
        } else {
            &self.shape
        };
        let list = codes
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let key = if self.shape.is_empty() {
            "target_shape"
        } else {
            "shape"
        };
        let list = if codes.len() == 1 {
            format!("({list},)")
        } else {
            format!("({list})")
        };
        if self.reverse && !self.shape.is_empty() {
            format!("{key}={list} with reverse=True")
        } else {
            format!("{key}={list}")
        }
    }

    fn apply_codes(&self, input: &[usize]) -> Result<Vec<usize>> {
        let err = |msg: String| {
            Error::shape(format!(
                "Reshape: {} on input {}: {msg}",
                self.describe_target(),
                fmt_shape(input)
            ))
        };
        // `reverse` = the same walk on the reversed dims and codes, then reversed back.
        let mut dims: Vec<usize> = input.to_vec();
        let mut codes = self.shape.clone();
        if self.reverse {
            dims.reverse();
            codes.reverse();
        }
        let mut out: Vec<usize> = Vec::with_capacity(codes.len() + dims.len());
        let mut src = 0usize; // pointer into `dims`
        let mut inferred: Option<usize> = None; // position of the -1 in `out`
        let mut i = 0;
        while i < codes.len() {
            match codes[i] {
                0 => {
                    let d = *dims
                        .get(src)
                        .ok_or_else(|| err("code 0 has no input dim left to copy".into()))?;
                    out.push(d);
                    src += 1;
                }
                -1 => {
                    if inferred.is_some() {
                        return Err(err("only one dim can be inferred (-1)".into()));
                    }
                    inferred = Some(out.len());
                    out.push(1);
                    src += 1;
                }
                -2 => {
                    if src < dims.len() {
                        out.extend_from_slice(&dims[src..]);
                    }
                    src = src.max(dims.len());
                }
                -3 => {
                    if src + 1 >= dims.len() {
                        return Err(err("code -3 needs two input dims to merge".into()));
                    }
                    out.push(dims[src] * dims[src + 1]);
                    src += 2;
                }
                -4 => {
                    if i + 2 >= codes.len() {
                        return Err(err("code -4 must be followed by two dims".into()));
                    }
                    let d0 = *dims
                        .get(src)
                        .ok_or_else(|| err("code -4 has no input dim left to split".into()))?;
                    src += 1;
                    let (mut d1, mut d2) = (codes[i + 1], codes[i + 2]);
                    i += 2;
                    if d1 == -1 && d2 == -1 {
                        return Err(err("split dims cannot both be -1".into()));
                    }
                    if d1 == -1 && d2 > 0 {
                        d1 = d0 as i64 / d2;
                    }
                    if d2 == -1 && d1 > 0 {
                        d2 = d0 as i64 / d1;
                    }
                    if d1 <= 0 || d2 <= 0 || d1.checked_mul(d2) != i64::try_from(d0).ok() {
                        return Err(err(format!(
                            "split dims {}, {} do not divide original dim {d0}",
                            codes[i - 1],
                            codes[i]
                        )));
                    }
                    out.push(d1 as usize);
                    out.push(d2 as usize);
                }
                d if d > 0 => {
                    out.push(dim_from_i64(d, "Reshape")?);
                    src += 1;
                }
                d => return Err(err(format!("invalid code {d}"))),
            }
            i += 1;
        }
        if let Some(pos) = inferred {
            let known: usize = out
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != pos)
                .try_fold(1usize, |n, (_, &d)| n.checked_mul(d))
                .ok_or_else(|| err("the other dims overflow".into()))?;
            let total = numel(input);
            if known == 0 || total % known != 0 {
                return Err(err(format!(
                    "the -1 dim cannot be inferred: {total} elements are not a multiple of {known}"
                )));
            }
            out[pos] = total / known;
        }
        if self.reverse {
            out.reverse();
        }
        Ok(out)
    }

    fn apply_target_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let bad = || {
            Error::shape(format!(
                "Reshape: invalid {} for input {}",
                self.describe_target(),
                fmt_shape(input)
            ))
        };
        let mut out: Vec<usize> = Vec::with_capacity(self.target_shape.len());
        for &d in &self.target_shape {
            out.push(usize::try_from(d).map_err(|_| bad())?);
        }
        let start = usize::from(self.keep_highest);
        if self.keep_highest {
            *out.first_mut().ok_or_else(bad)? = *input.first().ok_or_else(bad)?;
        }
        // A single 0 (after the kept dim) is inferred; several 0s are left as they are and then
        // fail the size check, as in MXNet.
        let zeros: Vec<usize> = (start..out.len()).filter(|&k| out[k] == 0).collect();
        if let [pos] = zeros[..] {
            let known: usize = out
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != pos)
                .map(|(_, &d)| d)
                .product();
            if let Some(inferred) = numel(input).checked_div(known) {
                out[pos] = inferred;
            }
        }
        Ok(out)
    }
}

impl Slice {
    fn parse(attrs: &Attrs) -> Result<Slice> {
        let begin = required(attrs.opt_ints("begin")?, "begin")?;
        let end = required(attrs.opt_ints("end")?, "end")?;
        let step = attrs.opt_ints("step")?.unwrap_or_default();
        if begin.len() != end.len() {
            return Err(Error::attr(
                "end",
                &format!("{end:?}"),
                "begin and end must have the same length",
            ));
        }
        if !step.is_empty() && step.len() != begin.len() {
            return Err(Error::attr(
                "step",
                &format!("{step:?}"),
                "step and begin must have the same length",
            ));
        }
        if step.contains(&Some(0)) {
            return Err(Error::attr(
                "step",
                &format!("{step:?}"),
                "a slice step cannot be 0",
            ));
        }
        Ok(Slice { begin, end, step })
    }
}

/// NumPy's `range(len)[begin:end:step]` as (first, step, count); `step != 0`.
fn numpy_range(len: i64, begin: Option<i64>, end: Option<i64>, step: i64) -> (usize, isize, usize) {
    if len <= 0 {
        return (0, step as isize, 0);
    }
    let mut b = begin.unwrap_or(if step < 0 { len - 1 } else { 0 });
    if b < 0 {
        b += len;
    }
    // An absent end with a negative step means "past index 0", which is -1 here (not len - 1).
    let mut e = end.unwrap_or(if step < 0 { -1 } else { len });
    if end.is_some() && e < 0 {
        e += len;
    }
    if step > 0 {
        b = b.max(0);
        e = e.min(len);
        let count = if e > b && b < len {
            (e - b - 1) / step + 1
        } else {
            0
        };
        (b.clamp(0, len - 1) as usize, step as isize, count as usize)
    } else {
        b = b.min(len - 1);
        e = e.max(-1);
        let count = if b >= 0 && e < b {
            (b - e - 1) / (-step) + 1
        } else {
            0
        };
        (b.clamp(0, len - 1) as usize, step as isize, count as usize)
    }
}

impl Crop {
    fn parse(attrs: &Attrs) -> Result<Crop> {
        let num_args = arity(attrs.int_req("num_args")?, "num_args", 1)?;
        if num_args > 2 {
            return Err(Error::attr(
                "num_args",
                &num_args.to_string(),
                "Crop takes 1 or 2 inputs",
            ));
        }
        Ok(Crop {
            num_args,
            offset: pair(attrs, "offset", [0, 0])?,
            h_w: pair(attrs, "h_w", [0, 0])?,
            center_crop: attrs.bool_or("center_crop", false)?,
        })
    }

    /// (output H, output W, row offset, column offset).
    fn window(&self, data: &[usize], like: Option<&[usize]>) -> Result<[usize; 4]> {
        if data.len() != 4 {
            return Err(Error::shape(format!(
                "Crop: input data should be 4-D (NCHW), got {}",
                fmt_shape(data)
            )));
        }
        let (h, w) = match like {
            Some(like) => {
                if like.len() != 4 {
                    return Err(Error::shape(format!(
                        "Crop: crop_like should be 4-D (NCHW), got {}",
                        fmt_shape(like)
                    )));
                }
                (like[2], like[3])
            }
            None => {
                if self.h_w[0] < 1 || self.h_w[1] < 1 {
                    return Err(Error::shape(format!(
                        "Crop: with one input, h_w must be at least (1, 1), got ({}, {})",
                        self.h_w[0], self.h_w[1]
                    )));
                }
                (self.h_w[0], self.h_w[1])
            }
        };
        if h > data[2] || w > data[3] {
            return Err(Error::shape(format!(
                "Crop: crop size ({h}, {w}) exceeds the input {}",
                fmt_shape(data)
            )));
        }
        let (y, x) = if self.center_crop {
            ((data[2] - h) / 2, (data[3] - w) / 2)
        } else {
            (self.offset[0], self.offset[1])
        };
        if y > data[2] - h || x > data[3] - w {
            return Err(Error::shape(format!(
                "Crop: offset ({y}, {x}) leaves no room for a ({h}, {w}) window in {}",
                fmt_shape(data)
            )));
        }
        Ok([h, w, y, x])
    }
}

impl SplitV2 {
    fn parse(attrs: &Attrs) -> Result<SplitV2> {
        let indices = required(attrs.ints("indices")?, "indices")?;
        let sections = attrs.int_or("sections", 0)?;
        let split = SplitV2 {
            indices,
            sections: arity(sections, "sections", 0)?,
            axis: attrs.int_or("axis", 1)?,
            squeeze_axis: attrs.bool_or("squeeze_axis", false)?,
        };
        if split.sections == 0 && split.indices.is_empty() {
            return Err(Error::attr(
                "indices",
                "()",
                "either indices or sections must be given",
            ));
        }
        Ok(split)
    }

    fn num_outputs(&self) -> usize {
        if self.sections > 0 {
            self.sections
        } else {
            self.indices.len()
        }
    }

    /// (start, size) of part `k` along an axis of length `len`.
    fn part(&self, len: usize, k: usize) -> Result<(usize, usize)> {
        if let Some(base) = len.checked_div(self.sections) {
            // numpy.array_split: the first `len % sections` parts are one longer.
            let extra = len % self.sections;
            return Ok((k * base + k.min(extra), base + usize::from(k < extra)));
        }
        let start = self.indices.get(k).copied().unwrap_or(len as i64);
        let end = self.indices.get(k + 1).copied().unwrap_or(len as i64);
        if k == 0 && start != 0 {
            return Err(Error::shape(format!(
                "_split_v2: indices must start at 0 (the Python front end prepends it), got {:?}",
                self.indices
            )));
        }
        if start < 0 || start >= end || end > len as i64 {
            return Err(Error::shape(format!(
                "_split_v2: indices {:?} do not split an axis of size {len} (part {k} would be [{start}, {end}))",
                self.indices
            )));
        }
        Ok((start as usize, (end - start) as usize))
    }
}

impl Pad {
    fn parse(attrs: &Attrs) -> Result<Pad> {
        let mode = match required(attrs.str("mode"), "mode")? {
            "constant" => PadMode::Constant,
            "edge" => PadMode::Edge,
            "reflect" => PadMode::Reflect,
            other => {
                return Err(Error::attr(
                    "mode",
                    other,
                    "expected one of constant, edge, reflect",
                ))
            }
        };
        let widths = required(attrs.ints("pad_width")?, "pad_width")?;
        let pad_width = widths
            .iter()
            .map(|&w| usize::try_from(w))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                Error::attr(
                    "pad_width",
                    &format!("{widths:?}"),
                    "pads must be non-negative",
                )
            })?;
        Ok(Pad {
            mode,
            pad_width,
            constant_value: attrs.float_or("constant_value", 0.0)? as f32,
        })
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.check(input)?;
        input
            .iter()
            .enumerate()
            .map(|(a, &d)| {
                let before = add(d, self.pad_width[2 * a], "Pad")?;
                add(before, self.pad_width[2 * a + 1], "Pad")
            })
            .collect()
    }

    /// MXNet's restrictions on the input shape and the pads (does not allocate).
    fn check(&self, input: &[usize]) -> Result<()> {
        if input.len() != 4 && input.len() != 5 {
            return Err(Error::shape(format!(
                "Pad: current implementation only supports 4-D or 5-D input, got {}",
                fmt_shape(input)
            )));
        }
        if self.pad_width.len() != 2 * input.len() {
            return Err(Error::shape(format!(
                "Pad: input shape vs padding spec mismatch: {} needs {} pad_width values, got {}",
                fmt_shape(input),
                2 * input.len(),
                self.pad_width.len()
            )));
        }
        if self.pad_width[..4].iter().any(|&p| p != 0) {
            return Err(Error::shape(
                "Pad: current implementation expects padding on the first two axes to be zero.",
            ));
        }
        for (axis, &dim) in input.iter().enumerate() {
            let (before, after) = (self.pad_width[2 * axis], self.pad_width[2 * axis + 1]);
            if self.mode == PadMode::Reflect && (before >= dim || after >= dim) {
                return Err(Error::shape(format!(
                    "Pad: reflection padding only supports pads smaller than the input size (axis {axis} of {} padded by ({before}, {after}))",
                    fmt_shape(input)
                )));
            }
            if dim == 0 && (before > 0 || after > 0) && self.mode != PadMode::Constant {
                return Err(Error::shape(format!(
                    "Pad: cannot {:?}-pad an empty axis of {}",
                    self.mode,
                    fmt_shape(input)
                )));
            }
        }
        Ok(())
    }
}

/// Where output position `i` of a padded axis reads from: `None` for the constant border.
fn pad_source(i: usize, before: usize, len: usize, mode: PadMode) -> Option<usize> {
    let j = i as isize - before as isize;
    let n = len as isize;
    if (0..n).contains(&j) {
        return Some(j as usize);
    }
    match mode {
        PadMode::Constant => None,
        PadMode::Edge => Some(j.clamp(0, n - 1) as usize),
        // Valid because every pad is < len (checked in `output_shape`).
        PadMode::Reflect => Some(if j < 0 { -j } else { 2 * (n - 1) - j } as usize),
    }
}

impl ReshapeLike {
    fn parse(attrs: &Attrs) -> Result<ReshapeLike> {
        Ok(ReshapeLike {
            lhs_begin: attrs.opt_int("lhs_begin")?,
            lhs_end: attrs.opt_int("lhs_end")?,
            rhs_begin: attrs.opt_int("rhs_begin")?,
            rhs_end: attrs.opt_int("rhs_end")?,
        })
    }

    fn output_shape(&self, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
        let (lb, le) = Self::range(lhs, self.lhs_begin, self.lhs_end, "lhs")?;
        let (rb, re) = Self::range(rhs, self.rhs_begin, self.rhs_end, "rhs")?;
        let mut out = lhs[..lb].to_vec();
        out.extend_from_slice(&rhs[rb..re]);
        out.extend_from_slice(&lhs[le..]);
        if numel(&out) != numel(lhs) {
            return Err(Error::shape(format!(
                "reshape_like: cannot reshape lhs with shape {} to new shape {} because they have different size",
                fmt_shape(lhs),
                fmt_shape(&out)
            )));
        }
        Ok(out)
    }

    fn range(
        shape: &[usize],
        begin: Option<i64>,
        end: Option<i64>,
        side: &str,
    ) -> Result<(usize, usize)> {
        let n = shape.len() as i64;
        let b = begin.map_or(0, |b| if b < 0 { b + n } else { b });
        let e = end.map_or(n, |e| if e < 0 { e + n } else { e });
        if b < 0 || e > n || b >= e {
            return Err(Error::shape(format!(
                "reshape_like: invalid {side}_begin={begin:?}, {side}_end={end:?} for {side} of shape {}",
                fmt_shape(shape)
            )));
        }
        Ok((b as usize, e as usize))
    }
}

impl Operator for ShapeOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let parsed = match op {
            "Reshape" => ShapeOp::Reshape(Reshape::parse(attrs)?),
            "Flatten" => ShapeOp::Flatten,
            "transpose" => ShapeOp::Transpose {
                axes: attrs.ints("axes")?.unwrap_or_default(),
            },
            "expand_dims" => ShapeOp::ExpandDims {
                axis: attrs.int_req("axis")?,
            },
            "squeeze" => ShapeOp::Squeeze {
                axes: attrs.ints("axis")?,
            },
            "SwapAxis" => ShapeOp::SwapAxis {
                dim1: attrs.int_or("dim1", 0)?,
                dim2: attrs.int_or("dim2", 0)?,
            },
            "slice" => ShapeOp::Slice(Slice::parse(attrs)?),
            "slice_axis" => {
                // `end` is required but may be written "None".
                if !attrs.map().contains_key("end") {
                    return Err(Error::attr("end", "", "required attribute is missing"));
                }
                ShapeOp::SliceAxis {
                    axis: attrs.int_req("axis")?,
                    begin: attrs.int_req("begin")?,
                    end: attrs.opt_int("end")?,
                }
            }
            "slice_like" => ShapeOp::SliceLike {
                axes: attrs.ints("axes")?.unwrap_or_default(),
            },
            "Crop" => ShapeOp::Crop(Crop::parse(attrs)?),
            "SliceChannel" => ShapeOp::SliceChannel {
                num_outputs: arity(attrs.int_req("num_outputs")?, "num_outputs", 1)?,
                axis: attrs.int_or("axis", 1)?,
                squeeze_axis: attrs.bool_or("squeeze_axis", false)?,
            },
            "_split_v2" => ShapeOp::SplitV2(SplitV2::parse(attrs)?),
            "Concat" => ShapeOp::Concat {
                num_args: arity(attrs.int_req("num_args")?, "num_args", 1)?,
                dim: attrs.int_or("dim", 1)?,
            },
            "stack" => ShapeOp::Stack {
                axis: attrs.int_or("axis", 0)?,
                num_args: arity(attrs.int_req("num_args")?, "num_args", 1)?,
            },
            "Pad" => ShapeOp::Pad(Pad::parse(attrs)?),
            "broadcast_to" => ShapeOp::BroadcastTo {
                shape: attrs.ints("shape")?.unwrap_or_default(),
            },
            "broadcast_axis" => {
                let axes = attrs.ints("axis")?.unwrap_or_default();
                let sizes = attrs.ints("size")?.unwrap_or_default();
                if axes.len() != sizes.len() {
                    return Err(Error::attr(
                        "size",
                        &format!("{sizes:?}"),
                        format!("needs one size per axis ({axes:?})"),
                    ));
                }
                ShapeOp::BroadcastAxis { axes, sizes }
            }
            "broadcast_like" => {
                let lhs_axes = attrs.ints("lhs_axes")?;
                let rhs_axes = attrs.ints("rhs_axes")?;
                match (&lhs_axes, &rhs_axes) {
                    (None, None) => {}
                    (Some(l), Some(r)) if l.len() == r.len() && !l.is_empty() => {}
                    _ => {
                        return Err(Error::attr(
                            "rhs_axes",
                            &format!("{rhs_axes:?}"),
                            format!("lhs_axes ({lhs_axes:?}) and rhs_axes must both be given, non-empty and of the same length"),
                        ))
                    }
                }
                ShapeOp::BroadcastLike { lhs_axes, rhs_axes }
            }
            "tile" => {
                let reps = required(attrs.ints("reps")?, "reps")?;
                if reps.iter().any(|&r| r < 1) {
                    return Err(Error::attr(
                        "reps",
                        &format!("{reps:?}"),
                        "every rep must be at least 1",
                    ));
                }
                ShapeOp::Tile { reps }
            }
            "repeat" => ShapeOp::Repeat {
                repeats: count(attrs.int_req("repeats")?, "repeats", 0)?,
                axis: attrs.opt_int("axis")?,
            },
            "reshape_like" => ShapeOp::ReshapeLike(ReshapeLike::parse(attrs)?),
            "shape_array" => ShapeOp::ShapeArray,
            "size_array" => ShapeOp::SizeArray,
            "reverse" => ShapeOp::Reverse {
                axes: required(attrs.ints("axis")?, "axis")?,
            },
            "depth_to_space" => ShapeOp::DepthToSpace {
                block: count(attrs.int_req("block_size")?, "block_size", 1)?,
            },
            "space_to_depth" => ShapeOp::SpaceToDepth {
                block: count(attrs.int_req("block_size")?, "block_size", 1)?,
            },
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            ShapeOp::Reshape(_) => "Reshape",
            ShapeOp::Flatten => "Flatten",
            ShapeOp::Transpose { .. } => "transpose",
            ShapeOp::ExpandDims { .. } => "expand_dims",
            ShapeOp::Squeeze { .. } => "squeeze",
            ShapeOp::SwapAxis { .. } => "SwapAxis",
            ShapeOp::Slice(_) => "slice",
            ShapeOp::SliceAxis { .. } => "slice_axis",
            ShapeOp::SliceLike { .. } => "slice_like",
            ShapeOp::Crop(_) => "Crop",
            ShapeOp::SliceChannel { .. } => "SliceChannel",
            ShapeOp::SplitV2(_) => "_split_v2",
            ShapeOp::Concat { .. } => "Concat",
            ShapeOp::Stack { .. } => "stack",
            ShapeOp::Pad(_) => "Pad",
            ShapeOp::BroadcastTo { .. } => "broadcast_to",
            ShapeOp::BroadcastAxis { .. } => "broadcast_axis",
            ShapeOp::BroadcastLike { .. } => "broadcast_like",
            ShapeOp::Tile { .. } => "tile",
            ShapeOp::Repeat { .. } => "repeat",
            ShapeOp::ReshapeLike(_) => "reshape_like",
            ShapeOp::ShapeArray => "shape_array",
            ShapeOp::SizeArray => "size_array",
            ShapeOp::Reverse { .. } => "reverse",
            ShapeOp::DepthToSpace { .. } => "depth_to_space",
            ShapeOp::SpaceToDepth { .. } => "space_to_depth",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let data = |names: &[&str]| {
            names
                .iter()
                .map(|n| (n.to_string(), InputRole::Data))
                .collect()
        };
        let args = |n: usize| {
            (0..n)
                .map(|i| (format!("arg{i}"), InputRole::Data))
                .collect()
        };
        match self {
            ShapeOp::SliceLike { .. } => data(&["data", "shape_like"]),
            ShapeOp::BroadcastLike { .. } | ShapeOp::ReshapeLike(_) => data(&["lhs", "rhs"]),
            ShapeOp::Crop(c) => args(c.num_args),
            ShapeOp::Concat { num_args, .. } | ShapeOp::Stack { num_args, .. } => args(*num_args),
            _ => data(&["data"]),
        }
    }

    fn num_outputs(&self) -> usize {
        match self {
            ShapeOp::SliceChannel { num_outputs, .. } => *num_outputs,
            ShapeOp::SplitV2(s) => s.num_outputs(),
            _ => 1,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let n_inputs = self.input_count();
        if inputs.len() != n_inputs {
            return Err(Error::shape(format!(
                "{op}: expected {n_inputs} inputs, got {}",
                inputs.len()
            )));
        }
        let mut shapes: Vec<&[usize]> = Vec::with_capacity(inputs.len());
        for (i, s) in inputs.iter().enumerate() {
            shapes.push(
                s.as_deref().ok_or_else(|| {
                    Error::shape(format!("{op}: the shape of input {i} is unknown"))
                })?,
            );
        }
        let data = shapes[0];
        let one = |shape: Vec<usize>| Ok(vec![shape]);
        match self {
            ShapeOp::Reshape(r) => one(r.output_shape(data)?),
            ShapeOp::Flatten => {
                let (&n, rest) = data
                    .split_first()
                    .ok_or_else(|| Error::shape("Flatten: cannot flatten a 0-d tensor"))?;
                one(vec![n, numel(rest)])
            }
            ShapeOp::ExpandDims { axis } => {
                let at = resolve_axis(*axis, data.len() + 1, op)?;
                let mut out = data.to_vec();
                out.insert(at, 1);
                one(out)
            }
            ShapeOp::Squeeze { axes } => one(squeeze_shape(data, axes.as_deref())?),
            ShapeOp::ReshapeLike(r) => one(r.output_shape(data, shapes[1])?),
            ShapeOp::ShapeArray => one(vec![data.len()]),
            ShapeOp::SizeArray => one(vec![1]),
            ShapeOp::Concat { dim, .. } => one(concat_shape(&shapes, *dim)?),
            ShapeOp::Stack { axis, .. } => one(stack_shape(&shapes, *axis)?),
            ShapeOp::Pad(p) => one(p.output_shape(data)?),
            ShapeOp::SliceChannel { .. } | ShapeOp::SplitV2(_) => (0..self.num_outputs())
                .map(|k| {
                    let (axis, _, size) = self.split_part(data, k)?;
                    Ok(self.split_output_shape(data, axis, size))
                })
                .collect(),
            // Everything else is a strided view of input 0; its shape is the output shape.
            _ => {
                let view = self.strided_view(data, shapes.get(1).copied())?;
                one(self.view_output_shape(data, &view)?)
            }
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let op = self.name();
        if inputs.len() != self.input_count() || outputs.len() != self.num_outputs() {
            return Err(Error::shape(format!(
                "{op}: called with {} inputs and {} outputs, expected {} and {}",
                inputs.len(),
                outputs.len(),
                self.input_count(),
                self.num_outputs()
            )));
        }
        let data = inputs[0];
        if data.data.len() != numel(data.shape) {
            return Err(Error::shape(format!(
                "{op}: input buffer of {} values for shape {}",
                data.data.len(),
                fmt_shape(data.shape)
            )));
        }
        match self {
            ShapeOp::Reshape(_)
            | ShapeOp::Flatten
            | ShapeOp::ExpandDims { .. }
            | ShapeOp::Squeeze { .. }
            | ShapeOp::ReshapeLike(_) => copy_all(data.data, outputs[0].data, op),
            ShapeOp::ShapeArray => {
                let out = &mut *outputs[0].data;
                if out.len() != data.shape.len() {
                    return Err(Error::shape(format!(
                        "shape_array: output holds {} values, need {}",
                        out.len(),
                        data.shape.len()
                    )));
                }
                for (o, &d) in out.iter_mut().zip(data.shape) {
                    *o = d as f32;
                }
                Ok(())
            }
            ShapeOp::SizeArray => match &mut *outputs[0].data {
                [o] => {
                    *o = numel(data.shape) as f32;
                    Ok(())
                }
                _ => Err(Error::shape("size_array: output must hold 1 value")),
            },
            ShapeOp::Concat { dim, .. } => {
                let axis = resolve_axis(*dim, data.shape.len(), op)?;
                concat_kernel(inputs, axis, outputs[0].data, op)
            }
            // Stacking at `axis` is concatenating the inputs viewed as (…, 1, shape[axis..]).
            ShapeOp::Stack { axis, .. } => {
                let axis = resolve_axis(*axis, data.shape.len() + 1, op)?;
                concat_kernel(inputs, axis, outputs[0].data, op)
            }
            ShapeOp::Pad(p) => {
                let out = &mut outputs[0];
                pad_kernel(
                    p,
                    data,
                    ViewMut {
                        shape: out.shape,
                        data: &mut *out.data,
                    },
                )
            }
            ShapeOp::SliceChannel { .. } | ShapeOp::SplitV2(_) => {
                for (k, out) in outputs.iter_mut().enumerate() {
                    let (axis, start, size) = self.split_part(data.shape, k)?;
                    let mut view = StridedView::contiguous(data.shape)?;
                    view.narrow(axis, start, size)?;
                    view.copy_to(data.data, out.data)?;
                }
                Ok(())
            }
            _ => {
                let second = inputs.get(1).map(|v| v.shape);
                self.strided_view(data.shape, second)?
                    .copy_to(data.data, outputs[0].data)
            }
        }
    }

    fn is_view(&self) -> bool {
        matches!(
            self,
            ShapeOp::Reshape(_)
                | ShapeOp::Flatten
                | ShapeOp::ExpandDims { .. }
                | ShapeOp::Squeeze { .. }
                | ShapeOp::ReshapeLike(_)
        )
    }
}

impl ShapeOp {
    /// `inputs().len()` without allocating (forward checks it on every call).
    fn input_count(&self) -> usize {
        match self {
            ShapeOp::SliceLike { .. } | ShapeOp::BroadcastLike { .. } | ShapeOp::ReshapeLike(_) => {
                2
            }
            ShapeOp::Crop(c) => c.num_args,
            ShapeOp::Concat { num_args, .. } | ShapeOp::Stack { num_args, .. } => *num_args,
            _ => 1,
        }
    }

    /// The strided view of input 0 that produces the output of a gather-like op. For tile,
    /// repeat and depth_to_space the view has more axes than the output (adjacent view axes
    /// merge into one output axis, see [`ShapeOp::merged_output_shape`]).
    fn strided_view(&self, data: &[usize], second: Option<&[usize]>) -> Result<StridedView> {
        let op = self.name();
        let second_input = || second.ok_or_else(|| Error::shape(format!("{op}: needs two inputs")));
        let mut view = StridedView::contiguous(data)?;
        match self {
            ShapeOp::Transpose { axes } => {
                let rank = data.len();
                if axes.is_empty() {
                    view.permute(|k| rank - 1 - k);
                } else {
                    let in_range = |a: i64| usize::try_from(a).is_ok_and(|a| a < rank);
                    let unique = |k: usize| !axes[..k].contains(&axes[k]);
                    let valid = axes.len() == rank
                        && axes
                            .iter()
                            .enumerate()
                            .all(|(k, &a)| in_range(a) && unique(k));
                    if !valid {
                        return Err(Error::shape(format!(
                            "transpose: axes {axes:?} are not a permutation of the {rank} axes of {}",
                            fmt_shape(data)
                        )));
                    }
                    view.permute(|k| axes[k] as usize);
                }
            }
            ShapeOp::SwapAxis { dim1, dim2 } => {
                let (a, b) = (
                    resolve_axis(*dim1, data.len(), op)?,
                    resolve_axis(*dim2, data.len(), op)?,
                );
                view.permute(|k| match k {
                    k if k == a => b,
                    k if k == b => a,
                    k => k,
                });
            }
            ShapeOp::Slice(s) => {
                if s.begin.len() > data.len() {
                    return Err(Error::shape(format!(
                        "slice: {} begin/end entries for input {} of rank {}",
                        s.begin.len(),
                        fmt_shape(data),
                        data.len()
                    )));
                }
                for (axis, (&begin, &end)) in s.begin.iter().zip(&s.end).enumerate() {
                    let step = s.step.get(axis).copied().flatten().unwrap_or(1);
                    let (first, step, count) = numpy_range(data[axis] as i64, begin, end, step);
                    view.step_slice(axis, first, step, count)?;
                }
            }
            ShapeOp::SliceAxis { axis, begin, end } => {
                let axis_u = resolve_axis(*axis, data.len(), op)?;
                let len = data[axis_u] as i64;
                let b = if *begin < 0 { begin + len } else { *begin };
                let e = match end {
                    None => len,
                    Some(e) if *e < 0 => e + len,
                    Some(e) => *e,
                };
                if e > len || b < 0 || b >= e {
                    return Err(Error::shape(format!(
                        "slice_axis: invalid begin={begin}, end={end:?} for axis {axis} of {}",
                        fmt_shape(data)
                    )));
                }
                view.narrow(axis_u, b as usize, (e - b) as usize)?;
            }
            ShapeOp::SliceLike { axes } => {
                let like = second_input()?;
                if axes.is_empty() && like.len() != data.len() {
                    return Err(Error::shape(format!(
                        "slice_like: without axes both inputs need the same rank, got {} and {}",
                        fmt_shape(data),
                        fmt_shape(like)
                    )));
                }
                let n_axes = if axes.is_empty() {
                    data.len()
                } else {
                    axes.len()
                };
                for k in 0..n_axes {
                    let axis = match axes.get(k) {
                        None => k,
                        Some(&a) => resolve_axis(a, data.len(), op)?,
                    };
                    if axis >= like.len() {
                        return Err(Error::shape(format!(
                            "slice_like: axis {axis} exceeds the rank of shape_like {}",
                            fmt_shape(like)
                        )));
                    }
                    if like[axis] > data[axis] {
                        return Err(Error::shape(format!(
                            "slice_like: axis {axis} of {} is smaller than {} in shape_like {}",
                            fmt_shape(data),
                            like[axis],
                            fmt_shape(like)
                        )));
                    }
                    view.narrow(axis, 0, like[axis])?;
                }
            }
            ShapeOp::Crop(c) => {
                let [h, w, y, x] = c.window(data, second)?;
                view.narrow(2, y, h)?;
                view.narrow(3, x, w)?;
            }
            ShapeOp::BroadcastTo { shape } => {
                if shape.len() != data.len() {
                    return Err(Error::shape(format!(
                        "broadcast_to: operand of shape {} cannot be broadcast to {shape:?}",
                        fmt_shape(data)
                    )));
                }
                for (axis, &target) in shape.iter().enumerate() {
                    if target < 0 {
                        return Err(Error::shape(format!(
                            "broadcast_to: invalid target shape {shape:?}"
                        )));
                    }
                    // 0 keeps the input dim.
                    let target = dim_from_i64(target, "broadcast_to")?;
                    if target != 0 && target != data[axis] {
                        if data[axis] != 1 {
                            return Err(Error::shape(format!(
                                "broadcast_to: array cannot be broadcast from {} to {shape:?}",
                                fmt_shape(data)
                            )));
                        }
                        view.broadcast(axis, target);
                    }
                }
            }
            ShapeOp::BroadcastAxis { axes, sizes } => {
                for (&axis, &size) in axes.iter().zip(sizes) {
                    if usize::try_from(axis).map_or(true, |a| a >= data.len()) || size < 1 {
                        return Err(Error::shape(format!(
                            "broadcast_axis: invalid axis {axis} / size {size} for input {}",
                            fmt_shape(data)
                        )));
                    }
                    if data[axis as usize] != 1 {
                        return Err(Error::shape(format!(
                            "broadcast_axis: broadcasting axis {axis} of {} must have size 1",
                            fmt_shape(data)
                        )));
                    }
                    view.broadcast(axis as usize, dim_from_i64(size, "broadcast_axis: size")?);
                }
            }
            ShapeOp::BroadcastLike { lhs_axes, rhs_axes } => {
                let rhs = second_input()?;
                // Pairs (lhs axis, rhs axis): the listed ones, or every axis of equal ranks.
                let n_pairs = match (lhs_axes, rhs_axes) {
                    (Some(l), Some(r)) => l.len().min(r.len()),
                    _ if data.len() == rhs.len() => data.len(),
                    _ => {
                        return Err(Error::shape(format!(
                            "broadcast_like: operand of shape {} cannot be broadcast to {}",
                            fmt_shape(data),
                            fmt_shape(rhs)
                        )))
                    }
                };
                for k in 0..n_pairs {
                    let (l, r) = match (lhs_axes, rhs_axes) {
                        (Some(l), Some(r)) => (
                            resolve_axis(l[k], data.len(), op)?,
                            resolve_axis(r[k], rhs.len(), op)?,
                        ),
                        _ => (k, k),
                    };
                    if data[l] != rhs[r] {
                        if data[l] != 1 {
                            return Err(Error::shape(format!(
                                "broadcast_like: array cannot be broadcast from {} to {}",
                                fmt_shape(data),
                                fmt_shape(rhs)
                            )));
                        }
                        view.broadcast(l, rhs[r]);
                    }
                }
            }
            ShapeOp::Tile { reps } => {
                // Output axis k is (rep_k, dim_k) → view axes (rep_k with stride 0, dim_k).
                let rank = data.len().max(reps.len());
                let mut tiled = StridedView::empty();
                for k in 0..rank {
                    let d = (k + data.len())
                        .checked_sub(rank)
                        .map(|i| (data[i], view.strides[i]));
                    let r = match (k + reps.len()).checked_sub(rank) {
                        Some(i) => dim_from_i64(reps[i], "tile: reps")?,
                        None => 1,
                    };
                    let (dim, stride) = d.unwrap_or((1, 0));
                    tiled.push(r, 0)?;
                    tiled.push(dim, stride)?;
                }
                view = tiled;
            }
            ShapeOp::Repeat { repeats, axis } => {
                let mut rep = StridedView::empty();
                match axis {
                    None => {
                        rep.push(numel(data), 1)?;
                        rep.push(*repeats, 0)?;
                    }
                    Some(a) => {
                        let a = resolve_axis(*a, data.len(), op)?;
                        for (k, (&d, &s)) in data.iter().zip(&view.strides).enumerate() {
                            rep.push(d, s)?;
                            if k == a {
                                rep.push(*repeats, 0)?;
                            }
                        }
                    }
                }
                view = rep;
            }
            ShapeOp::Reverse { axes } => {
                for &a in axes {
                    if usize::try_from(a).map_or(true, |a| a >= data.len()) {
                        return Err(Error::shape(format!(
                            "reverse: axis {a} is out of range for {}",
                            fmt_shape(data)
                        )));
                    }
                    view.flip(a as usize);
                }
            }
            ShapeOp::DepthToSpace { block } => {
                let [n, c, h, w] = nchw(data, op)?;
                let b = *block;
                let bb = mul(b, b, "depth_to_space: block_size²")?;
                if c % bb != 0 {
                    return Err(Error::shape(format!(
                        "depth_to_space: channels of {} must be a multiple of block_size² = {}",
                        fmt_shape(data),
                        bb
                    )));
                }
                let c_out = c / bb;
                let hw = (h * w) as isize;
                // Output (n, c, h, i, w, j) reads in[n, (i·b + j)·C' + c, h, w].
                view = StridedView::from_axes(&[
                    (n, c as isize * hw),
                    (c_out, hw),
                    (h, w as isize),
                    (b, (b * c_out) as isize * hw),
                    (w, 1),
                    (b, c_out as isize * hw),
                ])?;
            }
            ShapeOp::SpaceToDepth { block } => {
                let [n, c, h, w] = nchw(data, op)?;
                let b = *block;
                if h % b != 0 || w % b != 0 {
                    return Err(Error::shape(format!(
                        "space_to_depth: spatial dims of {} must be multiples of block_size {b}",
                        fmt_shape(data)
                    )));
                }
                // Output (n, i, j, c, h', w') reads in[n, c, h'·b + i, w'·b + j].
                view = StridedView::from_axes(&[
                    (n, (c * h * w) as isize),
                    (b, w as isize),
                    (b, 1),
                    (c, (h * w) as isize),
                    (h / b, (b * w) as isize),
                    (w / b, b as isize),
                ])?;
            }
            _ => return Err(Error::shape(format!("{op} is not a strided view"))),
        }
        Ok(view)
    }

    /// The output shape of a gather-like op: the view's shape, except where the view has extra
    /// axes that merge into one output axis (see [`ShapeOp::strided_view`]).
    fn view_output_shape(&self, data: &[usize], view: &StridedView) -> Result<Vec<usize>> {
        let dims = &view.shape[..view.rank];
        Ok(match self {
            // (rep_k, dim_k) pairs.
            ShapeOp::Tile { .. } => dims
                .chunks(2)
                .map(|p| mul(p[0], p.get(1).copied().unwrap_or(1), "tile"))
                .collect::<Result<_>>()?,
            ShapeOp::Repeat { axis: None, .. } => vec![numel(dims)],
            ShapeOp::Repeat {
                axis: Some(a),
                repeats,
            } => {
                let mut out = data.to_vec();
                let a = resolve_axis(*a, data.len(), "repeat")?;
                out[a] = mul(out[a], *repeats, "repeat")?;
                out
            }
            // (n, c, h, i, w, j) → (n, c, h·b, w·b)
            ShapeOp::DepthToSpace { .. } => {
                vec![dims[0], dims[1], dims[2] * dims[3], dims[4] * dims[5]]
            }
            // (n, i, j, c, h, w) → (n, b·b·c, h, w)
            ShapeOp::SpaceToDepth { .. } => {
                vec![dims[0], dims[1] * dims[2] * dims[3], dims[4], dims[5]]
            }
            _ => dims.to_vec(),
        })
    }

    /// For SliceChannel / _split_v2: the resolved axis and part `k`'s (start, size), with
    /// MXNet's checks.
    fn split_part(&self, data: &[usize], k: usize) -> Result<(usize, usize, usize)> {
        let op = self.name();
        match self {
            ShapeOp::SliceChannel {
                num_outputs,
                axis,
                squeeze_axis,
            } => {
                let a = resolve_axis(*axis, data.len(), op)?;
                let len = data[a];
                if len % num_outputs != 0 {
                    return Err(Error::shape(format!(
                        "SliceChannel: cannot split axis {axis} of {} into {num_outputs} equal parts",
                        fmt_shape(data)
                    )));
                }
                if *squeeze_axis && len != *num_outputs {
                    return Err(Error::shape(format!(
                        "SliceChannel: with squeeze_axis the size of axis {axis} of {} must equal num_outputs={num_outputs}",
                        fmt_shape(data)
                    )));
                }
                let size = len / num_outputs;
                Ok((a, k * size, size))
            }
            ShapeOp::SplitV2(s) => {
                let a = resolve_axis(s.axis, data.len(), op)?;
                let (start, size) = s.part(data[a], k)?;
                if s.squeeze_axis && size != 1 {
                    return Err(Error::shape(format!(
                        "_split_v2: squeeze_axis needs parts of size 1 along axis {}, part {k} has {size}",
                        s.axis
                    )));
                }
                Ok((a, start, size))
            }
            _ => Err(Error::shape(format!("{op} is not a split"))),
        }
    }

    fn split_output_shape(&self, data: &[usize], axis: usize, size: usize) -> Vec<usize> {
        let squeeze = match self {
            ShapeOp::SliceChannel { squeeze_axis, .. } => *squeeze_axis,
            ShapeOp::SplitV2(s) => s.squeeze_axis,
            _ => false,
        };
        let mut out = data.to_vec();
        if squeeze {
            out.remove(axis);
        } else {
            out[axis] = size;
        }
        out
    }
}

fn nchw(shape: &[usize], op: &str) -> Result<[usize; 4]> {
    match *shape {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(Error::shape(format!(
            "{op}: requires a 4-D input, got {}",
            fmt_shape(shape)
        ))),
    }
}

fn squeeze_shape(data: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    let mut drop = vec![false; data.len()];
    match axes {
        None => {
            for (d, &dim) in drop.iter_mut().zip(data) {
                *d = dim == 1;
            }
        }
        Some(axes) => {
            for &a in axes {
                let r = resolve_axis(a, data.len(), "squeeze")?;
                if data[r] != 1 {
                    return Err(Error::shape(format!(
                        "squeeze: cannot squeeze axis {a} of {}: its size is not 1",
                        fmt_shape(data)
                    )));
                }
                if drop[r] {
                    return Err(Error::shape(format!("squeeze: duplicate axis {a}")));
                }
                drop[r] = true;
            }
        }
    }
    let mut out: Vec<usize> = data
        .iter()
        .zip(&drop)
        .filter(|&(_, &d)| !d)
        .map(|(&dim, _)| dim)
        .collect();
    if out.is_empty() {
        out.push(1); // never 0-d
    }
    Ok(out)
}

fn concat_shape(shapes: &[&[usize]], dim: i64) -> Result<Vec<usize>> {
    let first = shapes[0];
    let axis = resolve_axis(dim, first.len(), "Concat")?;
    let mut out = first.to_vec();
    out[axis] = 0;
    for s in shapes {
        let compatible = s.len() == first.len()
            && s.iter()
                .zip(first)
                .enumerate()
                .all(|(k, (a, b))| k == axis || a == b);
        if !compatible {
            return Err(Error::shape(format!(
                "Concat: input shapes {} and {} differ outside dim {dim}",
                fmt_shape(first),
                fmt_shape(s)
            )));
        }
        out[axis] += s[axis];
    }
    Ok(out)
}

fn stack_shape(shapes: &[&[usize]], axis: i64) -> Result<Vec<usize>> {
    let first = shapes[0];
    // MXNet 1.9.1 does not check that the shapes agree (and then reads out of bounds); we do.
    if let Some(other) = shapes.iter().find(|s| *s != &first) {
        return Err(Error::shape(format!(
            "stack: all inputs need the same shape, got {} and {}",
            fmt_shape(first),
            fmt_shape(other)
        )));
    }
    let at = resolve_axis(axis, first.len() + 1, "stack")?;
    let mut out = first.to_vec();
    out.insert(at, shapes.len());
    Ok(out)
}

fn copy_all(src: &[f32], dst: &mut [f32], op: &str) -> Result<()> {
    if src.len() != dst.len() {
        return Err(Error::shape(format!(
            "{op}: output holds {} values, input {}",
            dst.len(),
            src.len()
        )));
    }
    dst.copy_from_slice(src);
    Ok(())
}

/// Concatenates at `axis` (in input coordinates): output row `o` (one index of the axes before
/// `axis`) is row `o` of every input, side by side, where an input's row is its
/// `shape[axis..]` block.
fn concat_kernel(inputs: &[View], axis: usize, out: &mut [f32], op: &str) -> Result<()> {
    // Elements input `v` contributes to each output row.
    let chunk_of = |v: &View| -> Result<usize> {
        let tail = v.shape.get(axis..).ok_or_else(|| {
            Error::shape(format!(
                "{op}: input {} has no axis {axis}",
                fmt_shape(v.shape)
            ))
        })?;
        Ok(numel(tail))
    };
    let outer = numel(&inputs[0].shape[..axis.min(inputs[0].shape.len())]);
    let mut row = 0;
    for v in inputs {
        let chunk = chunk_of(v)?;
        if v.data.len() != outer * chunk {
            return Err(Error::shape(format!(
                "{op}: input of shape {} does not match the others",
                fmt_shape(v.shape)
            )));
        }
        row += chunk;
    }
    if out.len() != outer * row {
        return Err(Error::shape(format!(
            "{op}: output holds {} values, expected {}",
            out.len(),
            outer * row
        )));
    }
    // Input by input: its rows land at column `at` of every output row.
    let mut at = 0;
    for v in inputs {
        let chunk = chunk_of(v)?;
        if chunk == 0 {
            continue;
        }
        for (src, dst) in v.data.chunks_exact(chunk).zip(out.chunks_exact_mut(row)) {
            dst[at..at + chunk].copy_from_slice(src);
        }
        at += chunk;
    }
    Ok(())
}

/// Pads the spatial axes (2.. of a 4-D/5-D input) one output row (innermost axis) at a time.
fn pad_kernel(pad: &Pad, data: View, out: ViewMut) -> Result<()> {
    let (in_shape, out_shape) = (data.shape, out.shape);
    let rank = in_shape.len();
    pad.check(in_shape)?;
    // `out.shape` came from `Pad::output_shape`; check it is the padded input shape.
    let consistent = out_shape.len() == rank
        && (0..rank)
            .all(|a| out_shape[a] == in_shape[a] + pad.pad_width[2 * a] + pad.pad_width[2 * a + 1])
        && out.data.len() == numel(out_shape);
    if !consistent {
        return Err(Error::shape(format!(
            "Pad: output {} ({} values) is not input {} padded by {:?}",
            fmt_shape(out_shape),
            out.data.len(),
            fmt_shape(in_shape),
            pad.pad_width
        )));
    }
    let out = out.data;
    let planes = in_shape[0] * in_shape[1];
    // 4-D: one padded "depth" of size 1; 5-D: a real depth axis (2).
    let (d_in, d_out, d_before) = if rank == 5 {
        (in_shape[2], out_shape[2], pad.pad_width[4])
    } else {
        (1, 1, 0)
    };
    let (h_in, w_in) = (in_shape[rank - 2], in_shape[rank - 1]);
    let (h_out, w_out) = (out_shape[rank - 2], out_shape[rank - 1]);
    let (h_before, w_before) = (pad.pad_width[2 * rank - 4], pad.pad_width[2 * rank - 2]);
    let w_after = pad.pad_width[2 * rank - 1];
    let plane_in = d_in * h_in * w_in;
    let plane_out = d_out * h_out * w_out;
    if planes == 0 || plane_out == 0 {
        return Ok(());
    }
    for (p, out_plane) in out.chunks_exact_mut(plane_out).enumerate().take(planes) {
        let in_plane = &data.data[p * plane_in..(p + 1) * plane_in];
        for (r, out_row) in out_plane.chunks_exact_mut(w_out).enumerate() {
            let (d, h) = (r / h_out, r % h_out);
            let src = pad_source(d, d_before, d_in, pad.mode)
                .zip(pad_source(h, h_before, h_in, pad.mode));
            let Some((sd, sh)) = src else {
                out_row.fill(pad.constant_value);
                continue;
            };
            let in_row = &in_plane[(sd * h_in + sh) * w_in..(sd * h_in + sh + 1) * w_in];
            out_row[w_before..w_before + w_in].copy_from_slice(in_row);
            let borders = (0..w_before).chain(w_before + w_in..w_before + w_in + w_after);
            for j in borders {
                out_row[j] = match pad_source(j, w_before, w_in, pad.mode) {
                    Some(s) => in_row[s],
                    None => pad.constant_value,
                };
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Strided copy
// ------------------------------------------------------------------------------------------

/// Largest rank of a [`StridedView`] (tile doubles the rank of its input).
const MAX_RANK: usize = 16;

/// A strided read of a row-major input: the output element at multi-index `i` (row-major over
/// `shape`) is `input[offset + Σ i[k]·strides[k]]`. Strides may be 0 (broadcast) or negative
/// (reverse). Fixed-size so that building one in `forward` does not allocate.
#[derive(Debug, Clone, Copy)]
struct StridedView {
    rank: usize,
    shape: [usize; MAX_RANK],
    strides: [isize; MAX_RANK],
    offset: isize,
}

impl StridedView {
    fn empty() -> StridedView {
        StridedView {
            rank: 0,
            shape: [0; MAX_RANK],
            strides: [0; MAX_RANK],
            offset: 0,
        }
    }

    fn push(&mut self, size: usize, stride: isize) -> Result<()> {
        if self.rank == MAX_RANK {
            return Err(Error::Unsupported(format!(
                "tensors of rank above {MAX_RANK} are not supported"
            )));
        }
        self.shape[self.rank] = size;
        self.strides[self.rank] = stride;
        self.rank += 1;
        Ok(())
    }

    fn from_axes(axes: &[(usize, isize)]) -> Result<StridedView> {
        let mut v = StridedView::empty();
        for &(size, stride) in axes {
            v.push(size, stride)?;
        }
        Ok(v)
    }

    /// The identity view of a contiguous tensor of `shape`.
    fn contiguous(shape: &[usize]) -> Result<StridedView> {
        let mut v = StridedView::empty();
        let mut stride = 1isize;
        for &d in shape.iter().rev() {
            v.push(d, stride)?;
            stride *= d.max(1) as isize;
        }
        v.shape[..v.rank].reverse();
        v.strides[..v.rank].reverse();
        Ok(v)
    }

    /// Reorders the axes: new axis `k` is old axis `source(k)` (a permutation of `0..rank`).
    fn permute(&mut self, source: impl Fn(usize) -> usize) {
        let (shape, strides) = (self.shape, self.strides);
        for k in 0..self.rank {
            self.shape[k] = shape[source(k)];
            self.strides[k] = strides[source(k)];
        }
    }

    /// Restricts `axis` to `count` indices starting at `first`.
    fn narrow(&mut self, axis: usize, first: usize, count: usize) -> Result<()> {
        self.step_slice(axis, first, 1, count)
    }

    /// Restricts `axis` to the indices `first, first + step, …` (`count` of them).
    fn step_slice(&mut self, axis: usize, first: usize, step: isize, count: usize) -> Result<()> {
        if axis >= self.rank {
            return Err(Error::shape(format!(
                "axis {axis} out of range for rank {}",
                self.rank
            )));
        }
        let len = self.shape[axis] as isize;
        let last = first as isize + (count as isize - 1) * step;
        if count > 0 && (first as isize >= len || last < 0 || last >= len) {
            return Err(Error::shape(format!(
                "slice {first}:{last}:{step} is outside an axis of size {len}"
            )));
        }
        self.offset += first as isize * self.strides[axis];
        self.strides[axis] *= step;
        self.shape[axis] = count;
        Ok(())
    }

    fn broadcast(&mut self, axis: usize, size: usize) {
        self.shape[axis] = size;
        self.strides[axis] = 0;
    }

    fn flip(&mut self, axis: usize) {
        self.offset += (self.shape[axis] as isize - 1).max(0) * self.strides[axis];
        self.strides[axis] = -self.strides[axis];
    }

    /// Copies the viewed elements of `input` into `out` (row-major).
    fn copy_to(&self, input: &[f32], out: &mut [f32]) -> Result<()> {
        let total: usize = self.shape[..self.rank].iter().product();
        if out.len() != total {
            return Err(Error::shape(format!(
                "output holds {} values, the operator produces {total}",
                out.len()
            )));
        }
        if total == 0 {
            return Ok(());
        }
        // Drop size-1 axes and merge axes that are contiguous with the next one, so that the
        // inner loop runs over as long a run as possible.
        let mut v = StridedView::empty();
        v.offset = self.offset;
        for k in 0..self.rank {
            let (n, s) = (self.shape[k], self.strides[k]);
            if n == 1 {
                continue;
            }
            if v.rank > 0 && v.strides[v.rank - 1] == s * n as isize {
                v.shape[v.rank - 1] *= n;
                v.strides[v.rank - 1] = s;
            } else {
                v.shape[v.rank] = n;
                v.strides[v.rank] = s;
                v.rank += 1;
            }
        }
        // Every address must be inside the input: check the two extremes once.
        let (mut lo, mut hi) = (v.offset, v.offset);
        for k in 0..v.rank {
            let reach = (v.shape[k] as isize - 1) * v.strides[k];
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        if lo < 0 || hi >= input.len() as isize {
            return Err(Error::shape(format!(
                "strided view reads [{lo}, {hi}] outside an input of {} values",
                input.len()
            )));
        }
        if v.rank == 0 {
            out[0] = input[v.offset as usize];
            return Ok(());
        }
        let (inner_len, inner_stride) = (v.shape[v.rank - 1], v.strides[v.rank - 1]);
        let outer_rank = v.rank - 1;
        let mut index = [0usize; MAX_RANK];
        let mut base = v.offset;
        for chunk in out.chunks_exact_mut(inner_len) {
            let b = base as usize;
            match inner_stride {
                1 => chunk.copy_from_slice(&input[b..b + inner_len]),
                0 => chunk.fill(input[b]),
                s => {
                    let mut at = base;
                    for o in chunk.iter_mut() {
                        *o = input[at as usize];
                        at += s;
                    }
                }
            }
            // Advance the odometer over the outer axes (last one fastest).
            for k in (0..outer_rank).rev() {
                index[k] += 1;
                base += v.strides[k];
                if index[k] < v.shape[k] {
                    break;
                }
                base -= v.strides[k] * v.shape[k] as isize;
                index[k] = 0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    //! Expected values come from MXNet 1.9.1 (inputs are `arange`, so outputs are the source
    //! indices and easy to check by eye).
    use super::*;

    fn parse(name: &str, attrs: &[(&str, &str)]) -> Result<ShapeOp> {
        let a = Attrs::from_pairs(attrs);
        let op = ShapeOp::parse(name, &a)?.expect("operator of this family");
        a.finish()?;
        Ok(op)
    }

    fn op(name: &str, attrs: &[(&str, &str)]) -> ShapeOp {
        parse(name, attrs).unwrap()
    }

    fn infer(op: &ShapeOp, ins: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        let mut slots: Vec<Option<Vec<usize>>> = ins.iter().map(|s| Some(s.to_vec())).collect();
        op.infer_shape(&mut slots)
    }

    fn ar(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    /// Runs shape inference then forward on `arange` inputs (input k is offset by 100·k), with
    /// NaN-filled outputs to catch unwritten elements.
    fn run_ar(op: &ShapeOp, ins: &[&[usize]]) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let datas: Vec<Vec<f32>> = ins
            .iter()
            .enumerate()
            .map(|(k, s)| {
                ar(numel(s))
                    .into_iter()
                    .map(|v| v + 100.0 * k as f32)
                    .collect()
            })
            .collect();
        run(op, ins, &datas)
    }

    fn run(
        op: &ShapeOp,
        ins: &[&[usize]],
        datas: &[Vec<f32>],
    ) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let out_shapes = infer(op, ins)?;
        let views: Vec<View> = ins
            .iter()
            .zip(datas)
            .map(|(s, d)| View { shape: s, data: d })
            .collect();
        let mut bufs: Vec<Vec<f32>> = out_shapes
            .iter()
            .map(|s| vec![f32::NAN; numel(s)])
            .collect();
        let mut outs: Vec<ViewMut> = out_shapes
            .iter()
            .zip(bufs.iter_mut())
            .map(|(s, b)| ViewMut { shape: s, data: b })
            .collect();
        op.forward(&views, &mut outs, &mut Scratch::default())?;
        Ok(out_shapes.into_iter().zip(bufs).collect())
    }

    /// Single-output helper: (shape, values).
    fn run1(op: &ShapeOp, ins: &[&[usize]]) -> (Vec<usize>, Vec<f32>) {
        run_ar(op, ins).unwrap().remove(0)
    }

    fn reshape(input: &[usize], shape: &str) -> Result<Vec<usize>> {
        let op = parse("Reshape", &[("shape", shape)])?;
        Ok(infer(&op, &[input])?.remove(0))
    }

    fn reshape_rev(input: &[usize], shape: &str) -> Result<Vec<usize>> {
        let op = parse("Reshape", &[("shape", shape), ("reverse", "True")])?;
        Ok(infer(&op, &[input])?.remove(0))
    }

    fn legacy(input: &[usize], target: &str, keep_highest: bool) -> Result<Vec<usize>> {
        let kh = if keep_highest { "True" } else { "False" };
        let op = parse("Reshape", &[("target_shape", target), ("keep_highest", kh)])?;
        Ok(infer(&op, &[input])?.remove(0))
    }

    #[test]
    fn reshape_spec_examples() {
        // Every example of spec §4.4, in table order.
        let cases: &[(&[usize], &str, &[usize])] = &[
            (&[2, 3, 4], "(6, 1, -1)", &[6, 1, 4]),
            (&[2, 3, 4], "(4, 0, 2)", &[4, 3, 2]),
            (&[2, 3, 4], "(2, 0, 0)", &[2, 3, 4]),
            (&[2, 3, 4], "(3, -1, 8)", &[3, 1, 8]),
            (&[2, 3, 4], "(-1,)", &[24]),
            (&[2, 3, 4], "(-2,)", &[2, 3, 4]),
            (&[2, 3, 4], "(2, -2)", &[2, 3, 4]),
            (&[2, 3, 4], "(-2, 1, 1)", &[2, 3, 4, 1, 1]),
            (&[2, 3, 4, 5], "(-3, 4, 5)", &[6, 4, 5]),
            (&[2, 3, 4, 5], "(-3, -3)", &[6, 20]),
            (&[2, 3, 4], "(0, -3)", &[2, 12]),
            (&[2, 3, 4], "(-3, -2)", &[6, 4]),
            (&[2, 3, 4], "(-4, 1, 2, -2)", &[1, 2, 3, 4]),
            (&[2, 3, 4], "(2, -4, -1, 3, -2)", &[2, 1, 3, 4]),
            (&[2, 3, 4], "(-4, -1, 1, -2)", &[2, 1, 3, 4]),
        ];
        for (input, codes, want) in cases {
            assert_eq!(
                reshape(input, codes).unwrap(),
                *want,
                "{input:?} -> {codes}"
            );
        }
        // reverse=True: (10,5,4) -> (-1,0) gives (50,4); normal gives (40,5).
        assert_eq!(reshape_rev(&[10, 5, 4], "(-1, 0)").unwrap(), [50, 4]);
        assert_eq!(reshape(&[10, 5, 4], "(-1, 0)").unwrap(), [40, 5]);
        // Inconsistent target: an error quoting both shapes (MXNet 1.9.1 itself skips this
        // check and returns the corrupt (4, 1, 4)).
        let e = reshape(&[2, 3, 4], "(4, -1, 0)").unwrap_err().to_string();
        assert!(e.contains("(2, 3, 4)") && e.contains("(4, -1, 0)"), "{e}");
        // Legacy target_shape: 0 means infer; keep_highest keeps input dim 0.
        assert_eq!(legacy(&[2, 3, 4], "(0, 12)", false).unwrap(), [2, 12]);
        // keep_highest with target_shape=(12,): MXNet 1.9.1 returns (2,) — 2 elements out of 24,
        // because its size check is compiled out. That is the inconsistent-target case: an error.
        let e = legacy(&[2, 3, 4], "(12,)", true).unwrap_err().to_string();
        assert!(
            e.contains("(2, 3, 4)") && e.contains("(12,)") && e.contains("(2,)"),
            "{e}"
        );
    }

    #[test]
    fn reshape_more_cases_from_mxnet() {
        let ok: &[(&[usize], &str, &[usize])] = &[
            (&[2, 3, 4], "(24, 1, -1)", &[24, 1, 1]),
            (&[2, 3, 4], "(1, 1, 0, -1)", &[1, 1, 4, 6]),
            (&[2, 3, 4], "(0, 0, 0, -2)", &[2, 3, 4]),
            (&[2, 3, 4], "(-2, -2)", &[2, 3, 4]),
            (&[2, 3, 4], "(-1, -2)", &[2, 3, 4]),
            (&[2, 3, 4], "(0, -3, -2)", &[2, 12]),
            (&[2, 3, 4], "(-4, -1, 1, 0, 0)", &[2, 1, 3, 4]),
            (&[2, 3, 4], "(5, -1, 2)", &[5, 1, 2]),
        ];
        for (input, codes, want) in &ok[..7] {
            assert_eq!(
                reshape(input, codes).unwrap(),
                *want,
                "{input:?} -> {codes}"
            );
        }
        // (5, -1, 2): 24 is not a multiple of 10.
        assert!(reshape(ok[7].0, ok[7].1).is_err());
        // MXNet's -1 slot bug: (-2, -1) is (2, 3, 4, 1) here.
        assert_eq!(reshape(&[2, 3, 4], "(-2, -1)").unwrap(), [2, 3, 4, 1]);
        assert_eq!(reshape_rev(&[2, 3, 4], "(2, -1, 0)").unwrap(), [2, 3, 4]);
        assert_eq!(reshape_rev(&[2, 3, 4], "(-2, -1)").unwrap(), [2, 3, 4]);
        assert_eq!(reshape_rev(&[2, 3, 4], "(-3, 0)").unwrap(), [6, 4]);
        // Errors MXNet raises too.
        for (input, codes, msg) in [
            (&[2, 3, 4][..], "(-1, -1)", "only one dim"),
            (&[2, 3, 4], "(0, 0, 0, 0)", "code 0"),
            (&[2, 3, 4], "(-3, -3)", "code -3"),
            (&[2, 3, 4], "(-4, 2, 2, -2)", "do not divide"),
            (&[2, 3, 4], "(-4, -1, -1, -2)", "both be -1"),
            (&[2, 3, 4], "(-4, 1)", "followed by two"),
            (&[2, 3, 4], "(-4, 3, -1)", "do not divide"),
            (&[2, 3, 4], "(-4, 0, 2, -2)", "do not divide"),
            (&[2, 3, 4], "(2, 3, 5)", "cannot reshape"),
        ] {
            let e = reshape(input, codes).unwrap_err().to_string();
            assert!(e.contains(msg), "{codes}: {e}");
        }
        assert!(reshape_rev(&[2, 3, 4], "(-4, 1, 2, -2)").is_err());
        assert!(parse("Reshape", &[("shape", "(-5,)")]).is_err());
        assert!(parse("Reshape", &[("shape", "(2, x)")]).is_err());
        assert!(reshape(&[2, 3, 4], "()").is_err());
    }

    #[test]
    fn reshape_legacy_target_shape() {
        // (0, 5): the 0 is inferred as 24 / 5 = 4, and (4, 5) is not 24 elements.
        assert!(legacy(&[2, 3, 4], "(0, 5)", false)
            .unwrap_err()
            .to_string()
            .contains("cannot reshape"));
        assert_eq!(legacy(&[2, 3, 4], "(4, 6)", false).unwrap(), [4, 6]);
        assert_eq!(legacy(&[2, 3, 4], "(6, 0)", true).unwrap(), [2, 12]);
        assert_eq!(legacy(&[2, 3, 4], "(0, 3, 4)", true).unwrap(), [2, 3, 4]);
        assert!(legacy(&[2, 3, 4], "(0, 0)", false).is_err());
        // `shape` wins over `target_shape`.
        let op = op(
            "Reshape",
            &[("shape", "(0, -1)"), ("target_shape", "(4, 6)")],
        );
        assert_eq!(infer(&op, &[&[2, 3, 4]]).unwrap(), [vec![2, 12]]);
    }

    #[test]
    fn view_ops_are_views_and_still_copy() {
        let r = op("Reshape", &[("shape", "(-1, 2)")]);
        assert!(r.is_view());
        assert_eq!(run1(&r, &[&[2, 3]]), (vec![3, 2], ar(6)));
        for (name, attrs) in [
            ("Flatten", vec![]),
            ("expand_dims", vec![("axis", "0")]),
            ("squeeze", vec![]),
        ] {
            assert!(op(name, &attrs).is_view(), "{name}");
        }
        let rl = op("reshape_like", &[]);
        assert!(rl.is_view());
        assert_eq!(run1(&rl, &[&[2, 3], &[3, 2]]), (vec![3, 2], ar(6)));
        assert!(!op("transpose", &[]).is_view());
    }

    #[test]
    fn flatten() {
        let f = op("Flatten", &[]);
        assert_eq!(infer(&f, &[&[3]]).unwrap(), [vec![3, 1]]);
        assert_eq!(infer(&f, &[&[2, 3, 1, 2]]).unwrap(), [vec![2, 6]]);
        assert!(infer(&f, &[&[]]).is_err());
        assert_eq!(f.inputs(), [("data".to_string(), InputRole::Data)]);
    }

    #[test]
    fn transpose() {
        let t = op("transpose", &[]);
        let want = [
            0., 12., 4., 16., 8., 20., 1., 13., 5., 17., 9., 21., 2., 14., 6., 18., 10., 22., 3.,
            15., 7., 19., 11., 23.,
        ];
        assert_eq!(run1(&t, &[&[2, 3, 4]]), (vec![4, 3, 2], want.to_vec()));
        let t = op("transpose", &[("axes", "(1, 0, 2)")]);
        let want = [
            0., 1., 2., 3., 12., 13., 14., 15., 4., 5., 6., 7., 16., 17., 18., 19., 8., 9., 10.,
            11., 20., 21., 22., 23.,
        ];
        assert_eq!(run1(&t, &[&[2, 3, 4]]), (vec![3, 2, 4], want.to_vec()));
        for axes in ["(-1, 0, 1)", "(0, 0, 1)", "(1, 0)"] {
            let t = op("transpose", &[("axes", axes)]);
            assert!(infer(&t, &[&[2, 3, 4]]).is_err(), "{axes}");
        }
        // A bigger 2-D transpose exercises the strided inner loop.
        let t = op("transpose", &[]);
        let (shape, vals) = run1(&t, &[&[37, 5]]);
        assert_eq!(shape, [5, 37]);
        assert!(vals
            .iter()
            .enumerate()
            .all(|(i, &v)| v == ((i % 37) * 5 + i / 37) as f32));
    }

    #[test]
    fn expand_dims_and_squeeze() {
        for (axis, want) in [
            ("-1", vec![2, 3, 1]),
            ("-3", vec![1, 2, 3]),
            ("2", vec![2, 3, 1]),
            ("0", vec![1, 2, 3]),
        ] {
            assert_eq!(
                infer(&op("expand_dims", &[("axis", axis)]), &[&[2, 3]]).unwrap(),
                [want],
                "{axis}"
            );
        }
        for axis in ["3", "-4"] {
            assert!(infer(&op("expand_dims", &[("axis", axis)]), &[&[2, 3]]).is_err());
        }
        assert!(parse("expand_dims", &[]).is_err(), "axis is required");
        let sq = |attrs: &[(&str, &str)], input: &[usize]| {
            infer(&op("squeeze", attrs), &[input]).map(|mut v| v.remove(0))
        };
        assert_eq!(sq(&[], &[1, 2, 1, 3]).unwrap(), [2, 3]);
        assert_eq!(sq(&[], &[1, 1]).unwrap(), [1]);
        assert_eq!(sq(&[("axis", "None")], &[1, 1]).unwrap(), [1]);
        assert_eq!(sq(&[("axis", "2")], &[1, 2, 1, 3]).unwrap(), [1, 2, 3]);
        assert_eq!(sq(&[("axis", "(0, -2)")], &[1, 2, 1, 3]).unwrap(), [2, 3]);
        assert_eq!(sq(&[("axis", "()")], &[1, 2, 1, 3]).unwrap(), [1, 2, 1, 3]);
        assert_eq!(sq(&[("axis", "(0, 1, 2)")], &[1, 1, 1]).unwrap(), [1]);
        assert!(sq(&[("axis", "1")], &[1, 2, 1, 3])
            .unwrap_err()
            .to_string()
            .contains("not 1"));
        assert!(sq(&[("axis", "(0, 0)")], &[1, 2, 1, 3])
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
    }

    #[test]
    fn swap_axis() {
        let want = [
            0., 12., 4., 16., 8., 20., 1., 13., 5., 17., 9., 21., 2., 14., 6., 18., 10., 22., 3.,
            15., 7., 19., 11., 23.,
        ];
        assert_eq!(
            run1(
                &op("SwapAxis", &[("dim1", "0"), ("dim2", "2")]),
                &[&[2, 3, 4]]
            ),
            (vec![4, 3, 2], want.to_vec())
        );
        assert_eq!(
            run1(
                &op("SwapAxis", &[("dim1", "-1"), ("dim2", "0")]),
                &[&[2, 3, 4]]
            ),
            (vec![4, 3, 2], want.to_vec())
        );
        assert_eq!(run1(&op("SwapAxis", &[]), &[&[2, 3]]), (vec![2, 3], ar(6)));
        assert!(infer(&op("SwapAxis", &[("dim1", "3")]), &[&[2, 3, 4]]).is_err());
    }

    #[test]
    fn slice() {
        let s = |b: &str, e: &str, st: Option<&str>, input: &[usize]| {
            let mut attrs = vec![("begin", b), ("end", e)];
            if let Some(st) = st {
                attrs.push(("step", st));
            }
            run_ar(&op("slice", &attrs), &[input]).map(|mut v| v.remove(0))
        };
        let v = |x: &[f32]| x.to_vec();
        assert_eq!(
            s("(1, 0)", "(3, 2)", None, &[3, 4]).unwrap(),
            (vec![2, 2], v(&[4., 5., 8., 9.]))
        );
        assert_eq!(
            s("(None, 1)", "(None, None)", None, &[3, 4]).unwrap(),
            (vec![3, 3], v(&[1., 2., 3., 5., 6., 7., 9., 10., 11.]))
        );
        assert_eq!(
            s("(1,)", "(2,)", None, &[3, 4]).unwrap(),
            (vec![1, 4], v(&[4., 5., 6., 7.]))
        );
        assert_eq!(
            s("(None, None)", "(None, None)", Some("(-1, -2)"), &[3, 4]).unwrap(),
            (vec![3, 2], v(&[11., 9., 7., 5., 3., 1.]))
        );
        assert_eq!(
            s("(3,)", "(0,)", Some("(-1,)"), &[5]).unwrap(),
            (vec![3], v(&[3., 2., 1.]))
        );
        assert_eq!(
            s("(-1,)", "(-6,)", Some("(-2,)"), &[5]).unwrap(),
            (vec![3], v(&[4., 2., 0.]))
        );
        assert_eq!(
            s("(-3,)", "(-1,)", None, &[5]).unwrap(),
            (vec![2], v(&[2., 3.]))
        );
        assert_eq!(
            s("(1,)", "(7,)", Some("(3,)"), &[7]).unwrap(),
            (vec![2], v(&[1., 4.]))
        );
        assert_eq!(
            s("(1,)", "(100,)", None, &[5]).unwrap(),
            (vec![4], v(&[1., 2., 3., 4.]))
        );
        assert_eq!(
            s("(0, 0)", "(3, 4)", Some("(None, 2)"), &[3, 4]).unwrap(),
            (vec![3, 2], v(&[0., 2., 4., 6., 8., 10.]))
        );
        assert_eq!(
            s("(-10,)", "(2,)", None, &[5]).unwrap(),
            (vec![2], v(&[0., 1.]))
        );
        // Empty results are allowed (shape (0,)), as in MXNet.
        assert_eq!(s("(3,)", "(1,)", None, &[5]).unwrap(), (vec![0], vec![]));
        assert_eq!(s("(10,)", "(20,)", None, &[5]).unwrap(), (vec![0], vec![]));
        assert!(parse(
            "slice",
            &[("begin", "(1,)"), ("end", "(3,)"), ("step", "(0,)")]
        )
        .is_err());
        assert!(parse("slice", &[("begin", "(1, 1)"), ("end", "(3,)")]).is_err());
        assert!(
            parse("slice", &[("begin", "(1,)")]).is_err(),
            "end is required"
        );
        assert!(s("(1, 1)", "(3, 3)", None, &[5]).is_err());
    }

    #[test]
    fn slice_axis_and_slice_like() {
        let sa = |attrs: &[(&str, &str)]| {
            run_ar(&op("slice_axis", attrs), &[&[3, 4]]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            sa(&[("axis", "1"), ("begin", "1"), ("end", "3")]).unwrap(),
            (vec![3, 2], vec![1., 2., 5., 6., 9., 10.])
        );
        assert_eq!(
            sa(&[("axis", "-1"), ("begin", "-2"), ("end", "None")]).unwrap(),
            (vec![3, 2], vec![2., 3., 6., 7., 10., 11.])
        );
        assert_eq!(
            sa(&[("axis", "0"), ("begin", "0"), ("end", "-1")]).unwrap(),
            (vec![2, 4], ar(8))
        );
        assert!(sa(&[("axis", "0"), ("begin", "2"), ("end", "2")]).is_err());
        assert!(sa(&[("axis", "0"), ("begin", "0"), ("end", "5")]).is_err());
        assert!(
            parse("slice_axis", &[("axis", "0"), ("begin", "0")]).is_err(),
            "end is required"
        );

        let sl = |attrs: &[(&str, &str)], a: &[usize], b: &[usize]| {
            run_ar(&op("slice_like", attrs), &[a, b]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            sl(&[], &[3, 4], &[2, 3]).unwrap(),
            (vec![2, 3], vec![0., 1., 2., 4., 5., 6.])
        );
        assert_eq!(
            sl(&[("axes", "(1,)")], &[3, 4], &[2, 3]).unwrap(),
            (vec![3, 3], vec![0., 1., 2., 4., 5., 6., 8., 9., 10.])
        );
        assert_eq!(
            sl(&[("axes", "(-1,)")], &[3, 4], &[2, 3]).unwrap().0,
            [3, 3]
        );
        assert_eq!(
            sl(&[("axes", "(0, 1)")], &[3, 4, 2], &[2, 3]).unwrap(),
            (
                vec![2, 3, 2],
                vec![0., 1., 2., 3., 4., 5., 8., 9., 10., 11., 12., 13.]
            )
        );
        assert!(sl(&[], &[3, 4, 2], &[2, 3]).is_err());
        assert!(sl(&[], &[3, 4], &[4, 3]).is_err());
        let names: Vec<String> = op("slice_like", &[])
            .inputs()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["data", "shape_like"]);
    }

    #[test]
    fn crop() {
        let c = |attrs: &[(&str, &str)], ins: &[&[usize]]| {
            run_ar(&op("Crop", attrs), ins).map(|mut v| v.remove(0))
        };
        assert_eq!(
            c(
                &[("num_args", "1"), ("h_w", "(2, 3)"), ("offset", "(1, 1)")],
                &[&[1, 1, 4, 5]]
            )
            .unwrap(),
            (vec![1, 1, 2, 3], vec![6., 7., 8., 11., 12., 13.])
        );
        assert_eq!(
            c(
                &[
                    ("num_args", "1"),
                    ("h_w", "(2, 2)"),
                    ("center_crop", "True")
                ],
                &[&[1, 1, 4, 5]]
            )
            .unwrap(),
            (vec![1, 1, 2, 2], vec![6., 7., 11., 12.])
        );
        assert_eq!(
            c(
                &[
                    ("num_args", "1"),
                    ("h_w", "(2, 2)"),
                    ("center_crop", "True")
                ],
                &[&[1, 1, 5, 5]]
            )
            .unwrap(),
            (vec![1, 1, 2, 2], vec![6., 7., 11., 12.])
        );
        assert_eq!(
            c(&[("num_args", "2")], &[&[1, 2, 4, 5], &[1, 1, 2, 3]]).unwrap(),
            (
                vec![1, 2, 2, 3],
                vec![0., 1., 2., 5., 6., 7., 20., 21., 22., 25., 26., 27.]
            )
        );
        assert_eq!(
            c(
                &[("num_args", "2"), ("offset", "(2, 1)")],
                &[&[1, 2, 4, 5], &[3, 1, 2, 3]]
            )
            .unwrap(),
            (
                vec![1, 2, 2, 3],
                vec![11., 12., 13., 16., 17., 18., 31., 32., 33., 36., 37., 38.]
            )
        );
        assert_eq!(
            c(
                &[
                    ("num_args", "2"),
                    ("offset", "(2, 1)"),
                    ("center_crop", "True")
                ],
                &[&[1, 2, 4, 5], &[3, 1, 2, 2]]
            )
            .unwrap(),
            (vec![1, 2, 2, 2], vec![6., 7., 11., 12., 26., 27., 31., 32.])
        );
        assert!(c(
            &[("num_args", "1"), ("h_w", "(3, 3)"), ("offset", "(2, 1)")],
            &[&[1, 1, 4, 5]]
        )
        .is_err());
        assert!(
            c(&[("num_args", "1")], &[&[1, 1, 4, 5]]).is_err(),
            "h_w defaults to (0, 0)"
        );
        assert!(
            c(&[("num_args", "1"), ("h_w", "(2, 2)")], &[&[1, 4, 5]]).is_err(),
            "4-D only"
        );
        let names: Vec<String> = op("Crop", &[("num_args", "2")])
            .inputs()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["arg0", "arg1"]);
    }

    #[test]
    fn slice_channel() {
        let sc = op("SliceChannel", &[("num_outputs", "3")]);
        assert_eq!(sc.num_outputs(), 3);
        let outs = run_ar(&sc, &[&[2, 3, 2]]).unwrap();
        assert_eq!(
            outs,
            [
                (vec![2, 1, 2], vec![0., 1., 6., 7.]),
                (vec![2, 1, 2], vec![2., 3., 8., 9.]),
                (vec![2, 1, 2], vec![4., 5., 10., 11.])
            ]
        );
        let outs = run_ar(
            &op("SliceChannel", &[("num_outputs", "2"), ("axis", "0")]),
            &[&[4, 3]],
        )
        .unwrap();
        assert_eq!(
            outs,
            [
                (vec![2, 3], ar(6)),
                (vec![2, 3], vec![6., 7., 8., 9., 10., 11.])
            ]
        );
        let outs = run_ar(
            &op(
                "SliceChannel",
                &[
                    ("num_outputs", "3"),
                    ("axis", "-1"),
                    ("squeeze_axis", "True"),
                ],
            ),
            &[&[2, 3]],
        )
        .unwrap();
        assert_eq!(
            outs,
            [
                (vec![2], vec![0., 3.]),
                (vec![2], vec![1., 4.]),
                (vec![2], vec![2., 5.])
            ]
        );
        // squeezing a 1-D input gives 0-d outputs, as MXNet does.
        let outs = run_ar(
            &op(
                "SliceChannel",
                &[("num_outputs", "3"), ("axis", "0"), ("squeeze_axis", "1")],
            ),
            &[&[3]],
        )
        .unwrap();
        assert_eq!(outs[2], (vec![], vec![2.]));
        assert!(infer(&op("SliceChannel", &[("num_outputs", "3")]), &[&[2, 4]]).is_err());
        assert!(infer(
            &op(
                "SliceChannel",
                &[("num_outputs", "2"), ("squeeze_axis", "True")]
            ),
            &[&[2, 4]]
        )
        .is_err());
        assert!(
            parse("SliceChannel", &[]).is_err(),
            "num_outputs is required"
        );
        assert!(parse("SliceChannel", &[("num_outputs", "0")]).is_err());
    }

    #[test]
    fn split_v2() {
        // What `split_v2(x, (1, 3), axis=0)` writes.
        let s = op(
            "_split_v2",
            &[
                ("axis", "0"),
                ("indices", "[0, 1, 3]"),
                ("sections", "0"),
                ("squeeze_axis", "False"),
            ],
        );
        assert_eq!(s.num_outputs(), 3);
        let outs = run_ar(&s, &[&[4, 2]]).unwrap();
        assert_eq!(
            outs,
            [
                (vec![1, 2], vec![0., 1.]),
                (vec![2, 2], vec![2., 3., 4., 5.]),
                (vec![1, 2], vec![6., 7.])
            ]
        );
        // sections: numpy.array_split sizes (MXNet 1.9.1).
        for (len, sections, sizes) in [
            (4, 3, vec![2, 1, 1]),
            (7, 3, vec![3, 2, 2]),
            (5, 3, vec![2, 2, 1]),
            (10, 4, vec![3, 3, 2, 2]),
            (2, 3, vec![1, 1, 0]),
            (9, 2, vec![5, 4]),
        ] {
            let s = op(
                "_split_v2",
                &[
                    ("axis", "0"),
                    ("indices", "[]"),
                    ("sections", &sections.to_string()),
                ],
            );
            let shapes = infer(&s, &[&[len]]).unwrap();
            assert_eq!(
                shapes.iter().map(|s| s[0]).collect::<Vec<_>>(),
                sizes,
                "{len}/{sections}"
            );
            let outs = run_ar(&s, &[&[len]]).unwrap();
            assert_eq!(
                outs.into_iter().flat_map(|(_, v)| v).collect::<Vec<_>>(),
                ar(len)
            );
        }
        // Default axis is 1; negative axes and squeeze_axis work.
        let s = op(
            "_split_v2",
            &[("indices", "(0, 1)"), ("squeeze_axis", "True")],
        );
        assert_eq!(
            run_ar(&s, &[&[4, 2]]).unwrap(),
            [
                (vec![4], vec![0., 2., 4., 6.]),
                (vec![4], vec![1., 3., 5., 7.])
            ]
        );
        let s = op("_split_v2", &[("indices", "(0, 1)"), ("axis", "-1")]);
        assert_eq!(infer(&s, &[&[4, 2]]).unwrap(), [vec![4, 1], vec![4, 1]]);
        // Errors MXNet raises: decreasing, beyond the axis, not starting at 0, bad axis, squeeze.
        for (indices, axis, squeeze) in [
            ("(0, 3, 1)", "0", "0"),
            ("(0, 5)", "0", "0"),
            ("(1, 3)", "0", "0"),
            ("(0, 1)", "2", "0"),
            ("(0, 1)", "0", "1"),
        ] {
            let s = op(
                "_split_v2",
                &[
                    ("indices", indices),
                    ("axis", axis),
                    ("squeeze_axis", squeeze),
                ],
            );
            assert!(infer(&s, &[&[4, 2]]).is_err(), "{indices} {axis} {squeeze}");
        }
        assert!(parse("_split_v2", &[("indices", "()")]).is_err());
    }

    #[test]
    fn concat_and_stack() {
        let c = op("Concat", &[("num_args", "2")]);
        assert_eq!(c.inputs().len(), 2);
        assert_eq!(c.inputs()[1].0, "arg1");
        let out = run1(&c, &[&[2, 1], &[2, 3]]);
        assert_eq!(
            out,
            (vec![2, 4], vec![0., 100., 101., 102., 1., 103., 104., 105.])
        );
        // Three inputs on dim 0 (input k is arange + 100k).
        let out = run1(
            &op("Concat", &[("num_args", "3"), ("dim", "0")]),
            &[&[1, 2], &[2, 2], &[1, 2]],
        );
        assert_eq!(
            out,
            (vec![4, 2], vec![0., 1., 100., 101., 102., 103., 200., 201.])
        );
        let out = run1(
            &op("Concat", &[("num_args", "2"), ("dim", "-1")]),
            &[&[2, 1, 2], &[2, 1, 1]],
        );
        assert_eq!(out, (vec![2, 1, 3], vec![0., 1., 100., 2., 3., 101.]));
        assert_eq!(
            run1(&op("Concat", &[("num_args", "1")]), &[&[2, 1]]),
            (vec![2, 1], ar(2))
        );
        assert!(infer(&c, &[&[2, 1], &[3, 3]]).is_err());
        assert!(
            infer(&c, &[&[2, 1]]).is_err(),
            "num_args inputs are required"
        );

        let s = |axis: &str| op("stack", &[("num_args", "2"), ("axis", axis)]);
        assert_eq!(
            run1(&s("0"), &[&[2, 3], &[2, 3]]),
            (
                vec![2, 2, 3],
                vec![0., 1., 2., 3., 4., 5., 100., 101., 102., 103., 104., 105.]
            )
        );
        assert_eq!(
            run1(&s("1"), &[&[2, 3], &[2, 3]]),
            (
                vec![2, 2, 3],
                vec![0., 1., 2., 100., 101., 102., 3., 4., 5., 103., 104., 105.]
            )
        );
        assert_eq!(
            run1(&s("-1"), &[&[2, 3], &[2, 3]]),
            (
                vec![2, 3, 2],
                vec![0., 100., 1., 101., 2., 102., 3., 103., 4., 104., 5., 105.]
            )
        );
        assert!(infer(&s("3"), &[&[2, 3], &[2, 3]]).is_err());
        assert!(infer(&s("0"), &[&[2, 3], &[3, 2]]).is_err());
        assert_eq!(
            op("stack", &[("num_args", "2")]),
            op("stack", &[("num_args", "2"), ("axis", "0")])
        );
    }

    #[test]
    fn pad() {
        let p = |mode: &str, widths: &str, input: &[usize]| {
            run_ar(
                &op(
                    "Pad",
                    &[
                        ("mode", mode),
                        ("pad_width", widths),
                        ("constant_value", "-1"),
                    ],
                ),
                &[input],
            )
            .map(|mut v| v.remove(0))
        };
        assert_eq!(
            p("constant", "(0, 0, 0, 0, 1, 0, 0, 2)", &[1, 1, 2, 3]).unwrap(),
            (
                vec![1, 1, 3, 5],
                vec![-1., -1., -1., -1., -1., 0., 1., 2., -1., -1., 3., 4., 5., -1., -1.]
            )
        );
        let edge = [
            0., 0., 0., 1., 2., 2., 0., 0., 0., 1., 2., 2., 3., 3., 3., 4., 5., 5., 3., 3., 3., 4.,
            5., 5., 3., 3., 3., 4., 5., 5.,
        ];
        assert_eq!(
            p("edge", "(0, 0, 0, 0, 1, 2, 2, 1)", &[1, 1, 2, 3]).unwrap(),
            (vec![1, 1, 5, 6], edge.to_vec())
        );
        let reflect = [
            5., 4., 3., 4., 5., 4., 3., 2., 1., 0., 1., 2., 1., 0., 5., 4., 3., 4., 5., 4., 3., 2.,
            1., 0., 1., 2., 1., 0.,
        ];
        assert_eq!(
            p("reflect", "(0, 0, 0, 0, 1, 1, 2, 2)", &[1, 1, 2, 3]).unwrap(),
            (vec![1, 1, 4, 7], reflect.to_vec())
        );
        let edge_big = [
            0., 1., 2., 2., 2., 2., 2., 0., 1., 2., 2., 2., 2., 2., 0., 1., 2., 2., 2., 2., 2., 0.,
            1., 2., 2., 2., 2., 2., 3., 4., 5., 5., 5., 5., 5.,
        ];
        assert_eq!(
            p("edge", "(0, 0, 0, 0, 3, 0, 0, 4)", &[1, 1, 2, 3]).unwrap(),
            (vec![1, 1, 5, 7], edge_big.to_vec())
        );
        let c5 = [
            -1., -1., -1., -1., -1., -1., -1., -1., -1., -1., 0., 1., -1., 2., 3., -1., -1., -1.,
            -1., 4., 5., -1., 6., 7., -1., -1., -1.,
        ];
        assert_eq!(
            p(
                "constant",
                "(0, 0, 0, 0, 1, 0, 0, 1, 1, 0)",
                &[1, 1, 2, 2, 2]
            )
            .unwrap(),
            (vec![1, 1, 3, 3, 3], c5.to_vec())
        );
        let r5 = [
            5., 4., 5., 7., 6., 7., 5., 4., 5., 1., 0., 1., 3., 2., 3., 1., 0., 1., 5., 4., 5., 7.,
            6., 7., 5., 4., 5., 1., 0., 1., 3., 2., 3., 1., 0., 1.,
        ];
        assert_eq!(
            p(
                "reflect",
                "(0, 0, 0, 0, 1, 1, 0, 1, 1, 0)",
                &[1, 1, 2, 2, 2]
            )
            .unwrap(),
            (vec![1, 1, 4, 3, 3], r5.to_vec())
        );
        let e5 = [
            0., 0., 1., 2., 2., 3., 2., 2., 3., 0., 0., 1., 2., 2., 3., 2., 2., 3., 4., 4., 5., 6.,
            6., 7., 6., 6., 7., 4., 4., 5., 6., 6., 7., 6., 6., 7.,
        ];
        assert_eq!(
            p("edge", "(0, 0, 0, 0, 1, 1, 0, 1, 1, 0)", &[1, 1, 2, 2, 2]).unwrap(),
            (vec![1, 1, 4, 3, 3], e5.to_vec())
        );
        // Two planes (N·C = 2) are padded independently.
        let (shape, vals) = p("constant", "(0, 0, 0, 0, 0, 0, 1, 0)", &[1, 2, 1, 2]).unwrap();
        assert_eq!(
            (shape, vals),
            (vec![1, 2, 1, 3], vec![-1., 0., 1., -1., 2., 3.])
        );
        // MXNet's limits, with its messages.
        let err = |mode: &str, widths: &str, input: &[usize]| {
            p(mode, widths, input).unwrap_err().to_string()
        };
        assert!(err("reflect", "(0, 0, 0, 0, 0, 0, 3, 0)", &[1, 1, 2, 3])
            .contains("smaller than the input size"));
        assert!(err("reflect", "(0, 0, 0, 0, 2, 0, 0, 0)", &[1, 1, 2, 3])
            .contains("smaller than the input size"));
        assert!(err("constant", "(0, 0, 0, 0, 1, 1)", &[1, 2, 3]).contains("4-D or 5-D"));
        assert!(err("constant", "(1, 0, 0, 0, 1, 1, 0, 0)", &[1, 1, 2, 3])
            .contains("first two axes to be zero"));
        assert!(err("constant", "(0, 0, 0, 0, 1, 1)", &[1, 1, 2, 3]).contains("mismatch"));
        assert!(
            parse("Pad", &[("pad_width", "(0, 0, 0, 0, 1, 1, 1, 1)")]).is_err(),
            "mode is required"
        );
        assert!(parse(
            "Pad",
            &[("mode", "wrap"), ("pad_width", "(0, 0, 0, 0, 1, 1, 1, 1)")]
        )
        .is_err());
        let default = op(
            "Pad",
            &[
                ("mode", "constant"),
                ("pad_width", "(0, 0, 0, 0, 1, 1, 1, 1)"),
            ],
        );
        assert!(
            matches!(default, ShapeOp::Pad(Pad { constant_value, .. }) if constant_value == 0.0)
        );
    }

    #[test]
    fn broadcasts() {
        let bt = |shape: &str, input: &[usize]| {
            run_ar(&op("broadcast_to", &[("shape", shape)]), &[input]).map(|mut v| v.remove(0))
        };
        let want = (
            vec![2, 2, 3],
            vec![0., 1., 2., 0., 1., 2., 3., 4., 5., 3., 4., 5.],
        );
        assert_eq!(bt("(2, 2, 3)", &[2, 1, 3]).unwrap(), want);
        assert_eq!(bt("(0, 2, 0)", &[2, 1, 3]).unwrap(), want);
        for bad in ["(2, 2, 2, 3)", "(3, 2, 3)", "(2, 3)"] {
            assert!(bt(bad, &[2, 1, 3]).is_err(), "{bad}");
        }
        let ba = |attrs: &[(&str, &str)], input: &[usize]| {
            run_ar(&op("broadcast_axis", attrs), &[input]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            ba(&[("axis", "(1, 2)"), ("size", "(2, 3)")], &[2, 1, 1]).unwrap(),
            (
                vec![2, 2, 3],
                vec![0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1.]
            )
        );
        assert_eq!(ba(&[], &[2, 1]).unwrap(), (vec![2, 1], ar(2)));
        assert!(
            ba(&[("axis", "-1"), ("size", "3")], &[2, 1]).is_err(),
            "MXNet rejects negative axes here"
        );
        assert!(ba(&[("axis", "1"), ("size", "3")], &[2, 3]).is_err());
        assert!(parse("broadcast_axis", &[("axis", "(1,)"), ("size", "(3, 4)")]).is_err());

        let bl = |attrs: &[(&str, &str)], a: &[usize], b: &[usize]| {
            run_ar(&op("broadcast_like", attrs), &[a, b]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            bl(&[], &[2, 1], &[2, 3]).unwrap(),
            (vec![2, 3], vec![0., 0., 0., 1., 1., 1.])
        );
        assert_eq!(
            bl(
                &[("lhs_axes", "(1,)"), ("rhs_axes", "(1,)")],
                &[2, 1],
                &[5, 3]
            )
            .unwrap(),
            (vec![2, 3], vec![0., 0., 0., 1., 1., 1.])
        );
        assert_eq!(
            bl(
                &[("lhs_axes", "(-1,)"), ("rhs_axes", "(-1,)")],
                &[2, 1],
                &[5, 3]
            )
            .unwrap()
            .0,
            [2, 3]
        );
        let (shape, vals) = bl(
            &[("lhs_axes", "(0, 2)"), ("rhs_axes", "(1, 0)")],
            &[1, 2, 1],
            &[4, 5],
        )
        .unwrap();
        assert_eq!(shape, [5, 2, 4]);
        assert_eq!(
            vals,
            (0..40).map(|i| ((i / 4) % 2) as f32).collect::<Vec<_>>()
        );
        assert!(bl(&[], &[1, 3], &[2, 2, 3]).is_err());
        assert!(parse("broadcast_like", &[("lhs_axes", "(1,)")]).is_err());
        let names: Vec<String> = op("broadcast_like", &[])
            .inputs()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["lhs", "rhs"]);
    }

    #[test]
    fn tile_and_repeat() {
        let t = |reps: &str, input: &[usize]| {
            run_ar(&op("tile", &[("reps", reps)]), &[input]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            t("(2, 1)", &[2, 3]).unwrap(),
            (
                vec![4, 3],
                vec![0., 1., 2., 3., 4., 5., 0., 1., 2., 3., 4., 5.]
            )
        );
        assert_eq!(
            t("(2,)", &[2, 3]).unwrap(),
            (
                vec![2, 6],
                vec![0., 1., 2., 0., 1., 2., 3., 4., 5., 3., 4., 5.]
            )
        );
        assert_eq!(
            t("(2, 3)", &[2]).unwrap(),
            (
                vec![2, 6],
                vec![0., 1., 0., 1., 0., 1., 0., 1., 0., 1., 0., 1.]
            )
        );
        assert_eq!(t("()", &[2]).unwrap(), (vec![2], ar(2)));
        assert!(parse("tile", &[("reps", "(0,)")]).is_err());
        assert!(parse("tile", &[]).is_err());

        let r = |attrs: &[(&str, &str)]| {
            run_ar(&op("repeat", attrs), &[&[2, 2]]).map(|mut v| v.remove(0))
        };
        assert_eq!(
            r(&[("repeats", "2")]).unwrap(),
            (vec![8], vec![0., 0., 1., 1., 2., 2., 3., 3.])
        );
        assert_eq!(r(&[("repeats", "2"), ("axis", "None")]).unwrap().0, [8]);
        assert_eq!(
            r(&[("repeats", "2"), ("axis", "0")]).unwrap(),
            (vec![4, 2], vec![0., 1., 0., 1., 2., 3., 2., 3.])
        );
        assert_eq!(
            r(&[("repeats", "3"), ("axis", "-1")]).unwrap(),
            (
                vec![2, 6],
                vec![0., 0., 0., 1., 1., 1., 2., 2., 2., 3., 3., 3.]
            )
        );
        assert_eq!(r(&[("repeats", "0")]).unwrap(), (vec![0], vec![]));
        assert!(r(&[("repeats", "2"), ("axis", "2")]).is_err());
        assert!(parse("repeat", &[("repeats", "-1")]).is_err());
    }

    #[test]
    fn reshape_like() {
        let rl = |attrs: &[(&str, &str)], a: &[usize], b: &[usize]| {
            infer(&op("reshape_like", attrs), &[a, b]).map(|mut v| v.remove(0))
        };
        assert_eq!(rl(&[], &[2, 3], &[3, 2]).unwrap(), [3, 2]);
        assert!(rl(&[], &[2, 3], &[3, 3])
            .unwrap_err()
            .to_string()
            .contains("different size"));
        let partial = [
            ("lhs_begin", "0"),
            ("lhs_end", "1"),
            ("rhs_begin", "0"),
            ("rhs_end", "2"),
        ];
        assert_eq!(rl(&partial, &[30, 7], &[15, 2, 4]).unwrap(), [15, 2, 7]);
        let partial = [
            ("lhs_begin", "0"),
            ("lhs_end", "2"),
            ("rhs_begin", "0"),
            ("rhs_end", "1"),
        ];
        assert_eq!(rl(&partial, &[2, 3, 4], &[6, 5]).unwrap(), [6, 4]);
        let neg = [
            ("lhs_begin", "-3"),
            ("lhs_end", "-1"),
            ("rhs_begin", "0"),
            ("rhs_end", "-1"),
        ];
        assert_eq!(rl(&neg, &[2, 3, 4], &[6, 5]).unwrap(), [6, 4]);
        assert!(rl(
            &[("lhs_begin", "1"), ("rhs_begin", "1")],
            &[2, 3, 4],
            &[6, 2, 2]
        )
        .is_err());
        assert!(rl(&[("lhs_begin", "0"), ("lhs_end", "2")], &[2, 3, 4], &[6, 4]).is_err());
        assert!(rl(&[("lhs_begin", "2"), ("lhs_end", "1")], &[2, 3, 4], &[6, 4]).is_err());
    }

    #[test]
    fn shape_and_size_array() {
        assert_eq!(
            run1(&op("shape_array", &[]), &[&[2, 3, 4]]),
            (vec![3], vec![2., 3., 4.])
        );
        assert_eq!(
            run1(&op("size_array", &[]), &[&[2, 3, 4]]),
            (vec![1], vec![24.])
        );
    }

    #[test]
    fn reverse() {
        let r = |axis: &str| {
            run_ar(&op("reverse", &[("axis", axis)]), &[&[2, 3]]).map(|mut v| v.remove(0))
        };
        assert_eq!(r("1").unwrap(), (vec![2, 3], vec![2., 1., 0., 5., 4., 3.]));
        assert_eq!(
            r("(0, 1)").unwrap(),
            (vec![2, 3], vec![5., 4., 3., 2., 1., 0.])
        );
        assert_eq!(r("(1, 1)").unwrap(), (vec![2, 3], ar(6)), "reversed twice");
        assert_eq!(r("()").unwrap(), (vec![2, 3], ar(6)));
        assert!(r("-1").is_err(), "MXNet rejects negative axes here");
        assert!(r("2").is_err());
        assert!(parse("reverse", &[]).is_err());
    }

    #[test]
    fn depth_space() {
        let d2s = [
            0., 12., 1., 13., 2., 14., 24., 36., 25., 37., 26., 38., 3., 15., 4., 16., 5., 17.,
            27., 39., 28., 40., 29., 41., 6., 18., 7., 19., 8., 20., 30., 42., 31., 43., 32., 44.,
            9., 21., 10., 22., 11., 23., 33., 45., 34., 46., 35., 47.,
        ];
        assert_eq!(
            run1(
                &op("depth_to_space", &[("block_size", "2")]),
                &[&[1, 8, 2, 3]]
            ),
            (vec![1, 2, 4, 6], d2s.to_vec())
        );
        let s2d = [
            0., 2., 4., 12., 14., 16., 24., 26., 28., 36., 38., 40., 1., 3., 5., 13., 15., 17.,
            25., 27., 29., 37., 39., 41., 6., 8., 10., 18., 20., 22., 30., 32., 34., 42., 44., 46.,
            7., 9., 11., 19., 21., 23., 31., 33., 35., 43., 45., 47.,
        ];
        assert_eq!(
            run1(
                &op("space_to_depth", &[("block_size", "2")]),
                &[&[1, 2, 4, 6]]
            ),
            (vec![1, 8, 2, 3], s2d.to_vec())
        );
        assert!(infer(
            &op("depth_to_space", &[("block_size", "2")]),
            &[&[1, 6, 2, 3]]
        )
        .is_err());
        assert!(infer(
            &op("space_to_depth", &[("block_size", "2")]),
            &[&[1, 2, 3, 6]]
        )
        .is_err());
        assert!(infer(&op("space_to_depth", &[("block_size", "2")]), &[&[2, 4, 6]]).is_err());
        assert!(parse("depth_to_space", &[("block_size", "0")]).is_err());
    }

    #[test]
    fn attributes_and_names() {
        assert!(ShapeOp::parse("Convolution", &Attrs::default())
            .unwrap()
            .is_none());
        assert!(
            parse("transpose", &[("bogus", "1")]).is_err(),
            "unknown attributes are rejected"
        );
        let names = [
            "Reshape",
            "Flatten",
            "transpose",
            "squeeze",
            "SwapAxis",
            "slice_like",
            "shape_array",
            "size_array",
        ];
        for name in names {
            let attrs: Vec<(&str, &str)> = if name == "Reshape" {
                vec![("shape", "(-1,)")]
            } else {
                vec![]
            };
            assert_eq!(op(name, &attrs).name(), name);
        }
        assert_eq!(
            op("Concat", &[("num_args", "2")]),
            ShapeOp::Concat {
                num_args: 2,
                dim: 1
            }
        );
        assert!(matches!(
            op("SliceChannel", &[("num_outputs", "2")]),
            ShapeOp::SliceChannel {
                axis: 1,
                squeeze_axis: false,
                ..
            }
        ));
        assert!(matches!(
            op("_split_v2", &[("indices", "(0, 2)")]),
            ShapeOp::SplitV2(SplitV2 {
                axis: 1,
                sections: 0,
                ..
            })
        ));
        assert!(parse("Concat", &[]).is_err(), "num_args is required");
        assert!(parse("stack", &[("num_args", "two")]).is_err());
    }

    /// Every op × a set of awkward shapes (0-d, empty, 1-D, rank 5): shape inference may
    /// refuse, but nothing panics and accepted shapes run.
    #[test]
    fn odd_shapes_never_panic() {
        let configs: &[(&str, &[(&str, &str)])] = &[
            ("Reshape", &[("shape", "(-1,)")]),
            ("Reshape", &[("shape", "(0, -4, -1, 2, -2)")]),
            ("Reshape", &[("shape", "(-3, -2)"), ("reverse", "True")]),
            (
                "Reshape",
                &[("target_shape", "(0, 2)"), ("keep_highest", "True")],
            ),
            ("Flatten", &[]),
            ("transpose", &[]),
            ("transpose", &[("axes", "(1, 0)")]),
            ("expand_dims", &[("axis", "-1")]),
            ("squeeze", &[]),
            ("squeeze", &[("axis", "0")]),
            ("SwapAxis", &[("dim1", "0"), ("dim2", "-1")]),
            (
                "slice",
                &[
                    ("begin", "(None, 1)"),
                    ("end", "(-1, None)"),
                    ("step", "(-1, 2)"),
                ],
            ),
            (
                "slice_axis",
                &[("axis", "0"), ("begin", "-1"), ("end", "None")],
            ),
            (
                "Crop",
                &[
                    ("num_args", "1"),
                    ("h_w", "(1, 1)"),
                    ("center_crop", "True"),
                ],
            ),
            ("SliceChannel", &[("num_outputs", "2")]),
            (
                "_split_v2",
                &[("indices", "()"), ("sections", "3"), ("axis", "-1")],
            ),
            (
                "Pad",
                &[
                    ("mode", "reflect"),
                    ("pad_width", "(0, 0, 0, 0, 1, 1, 1, 1)"),
                ],
            ),
            (
                "Pad",
                &[
                    ("mode", "edge"),
                    ("pad_width", "(0, 0, 0, 0, 1, 1, 1, 1, 1, 1)"),
                ],
            ),
            ("broadcast_to", &[("shape", "(0, 3)")]),
            ("broadcast_axis", &[("axis", "0"), ("size", "3")]),
            ("tile", &[("reps", "(2, 1, 2)")]),
            ("repeat", &[("repeats", "2"), ("axis", "-1")]),
            ("repeat", &[("repeats", "0")]),
            ("shape_array", &[]),
            ("size_array", &[]),
            ("reverse", &[("axis", "(0, 0)")]),
            ("depth_to_space", &[("block_size", "2")]),
            ("space_to_depth", &[("block_size", "1")]),
        ];
        let shapes: &[&[usize]] = &[
            &[],
            &[0],
            &[1],
            &[5],
            &[2, 0],
            &[1, 1],
            &[2, 3],
            &[4, 1, 3],
            &[1, 4, 2, 2],
            &[2, 1, 3, 2, 2],
            &[0, 2, 3, 4],
        ];
        for (name, attrs) in configs {
            let o = op(name, attrs);
            for shape in shapes {
                let _ = run_ar(&o, &[shape]);
            }
        }
        for shape in shapes {
            let _ = run_ar(
                &op("Concat", &[("num_args", "2"), ("dim", "-1")]),
                &[shape, shape],
            );
            let _ = run_ar(
                &op("stack", &[("num_args", "2"), ("axis", "-1")]),
                &[shape, shape],
            );
            let _ = run_ar(&op("slice_like", &[]), &[shape, &[1, 1]]);
            let _ = run_ar(&op("broadcast_like", &[]), &[shape, &[2, 3]]);
            let _ = run_ar(&op("reshape_like", &[]), &[shape, &[3, 2]]);
        }
    }

    #[test]
    fn forward_rejects_wrong_buffers() {
        let t = op("transpose", &[]);
        let data = ar(6);
        let views = [View {
            shape: &[2, 3],
            data: &data,
        }];
        let mut buf = vec![0.0; 5];
        let mut outs = [ViewMut {
            shape: &[3, 2],
            data: &mut buf,
        }];
        assert!(t
            .forward(&views, &mut outs, &mut Scratch::default())
            .is_err());
        // Reflect pads too large for the input, reaching forward without shape inference.
        let pad = op(
            "Pad",
            &[
                ("mode", "reflect"),
                ("pad_width", "(0, 0, 0, 0, 0, 0, 3, 0)"),
            ],
        );
        let data = ar(6);
        let views = [View {
            shape: &[1, 1, 2, 3],
            data: &data,
        }];
        let mut buf = vec![0.0; 12];
        let mut outs = [ViewMut {
            shape: &[1, 1, 2, 6],
            data: &mut buf,
        }];
        assert!(pad
            .forward(&views, &mut outs, &mut Scratch::default())
            .is_err());
        let pad = op(
            "Pad",
            &[("mode", "edge"), ("pad_width", "(0, 0, 0, 0, 0, 0, 3, 0)")],
        );
        let mut outs = [ViewMut {
            shape: &[1, 1, 2, 5],
            data: &mut buf[..10],
        }];
        assert!(pad
            .forward(&views, &mut outs, &mut Scratch::default())
            .is_err());
        let short = ar(5);
        let views = [View {
            shape: &[2, 3],
            data: &short,
        }];
        let mut buf = vec![0.0; 6];
        let mut outs = [ViewMut {
            shape: &[3, 2],
            data: &mut buf,
        }];
        assert!(t
            .forward(&views, &mut outs, &mut Scratch::default())
            .is_err());
    }
}
