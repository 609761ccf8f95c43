//! Indexing operators (spec §4.3): Embedding, take, pick, one_hot.
//!
//! Indices arrive as f32 tensors. MXNet converts them with a C++ cast, which truncates toward
//! zero; NaN, ±inf and out-of-range values become the most negative integer on x86 (so they
//! clip to 0). `Embedding` and `take` cast to int64, `pick` to int32 — which only matters for
//! |index| ≥ 2³¹: there `pick` also sees the most negative int. All of this was checked against
//! MXNet 1.9.1 (numbers in the tests).

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, DType, View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexOp {
    /// `Embedding(input_dim, output_dim, dtype='float32', sparse_grad=False)`: inputs `data`
    /// (indices) and `weight (input_dim, output_dim)` → `data.shape + (output_dim,)`, row
    /// `clip(trunc(index), 0, input_dim − 1)` of the weight (4.7 → 4, −1 → 0, 9 → last).
    /// `dtype` and `sparse_grad` do not change inference (compute is f32).
    Embedding { input_dim: usize, output_dim: usize },
    /// `take(a, indices, axis=0, mode='clip')`: `a.shape[:axis] + indices.shape + a.shape[axis+1:]`,
    /// gathering slices of `a` along `axis`. Modes: `clip` clamps to `[0, n−1]`, `wrap` takes
    /// the index modulo n (Python-style, −1 → n−1), `raise` fails (as MXNet does at inference
    /// on CPU) unless every index satisfies `0 ≤ index < n` *before* truncation (−0.5 fails).
    Take { axis: i64, mode: IndexMode },
    /// `pick(data, index, axis=-1, keepdims=False, mode='clip')`: `data` with `axis` reduced by
    /// picking element `index[...]` along it. `index` has the reduced shape (with or without the
    /// kept size-1 axis). `axis=None` is rejected, as in MXNet 1.9.1. Modes `clip`/`wrap`.
    Pick {
        axis: i64,
        keepdims: bool,
        mode: IndexMode,
    },
    /// `one_hot(indices, depth, on_value=1, off_value=0, dtype='float32')`: appends an axis of
    /// size `depth`; `on_value` where it equals `trunc(index)`, `off_value` elsewhere (indices
    /// outside `[0, depth)` give an all-off row). The values are rounded the way `dtype` stores
    /// them (int32: 2.7 → 2; uint8: −1.6 → 255; float16: 0.1 → 0.0999756).
    OneHot {
        depth: usize,
        on_value: f32,
        off_value: f32,
        /// The output dtype (values already rounded to it).
        dtype: DType,
    },
}

/// How out-of-range indices are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexMode {
    Clip,
    Wrap,
    Raise,
}

/// C++ `static_cast<int64_t>(x)` as x86 computes it: truncation toward zero; NaN, ±inf and
/// values outside the i64 range give `i64::MIN`.
fn index_i64(x: f32) -> i64 {
    // 2^63 is exactly representable in f32.
    if x.is_finite() && x.abs() < 9.223_372e18 {
        x.trunc() as i64
    } else {
        i64::MIN
    }
}

/// C++ `static_cast<int32_t>(x)` as x86 computes it (see [`index_i64`]).
fn index_i32(x: f32) -> i64 {
    if x.is_finite() && x.abs() < 2_147_483_648.0 {
        x.trunc() as i64
    } else {
        i32::MIN as i64
    }
}

/// Maps a raw index to `0..n` (`n > 0`). `Raise` clips too: its range check happens earlier,
/// on the untruncated values.
fn resolve_index(raw: i64, n: usize, mode: IndexMode) -> usize {
    let n = n as i64;
    match mode {
        IndexMode::Clip | IndexMode::Raise => raw.clamp(0, n - 1) as usize,
        IndexMode::Wrap => raw.rem_euclid(n) as usize,
    }
}

/// The value a scalar attribute takes once stored in `dtype` (MXNet casts on_value/off_value).
fn stored_as(v: f64, dtype: DType) -> f32 {
    // Integer casts truncate, then wrap to the type's width like C++ conversions do.
    let int = if v.is_finite() { v.trunc() as i64 } else { 0 };
    match dtype {
        DType::F16 => half::f16::from_f64(v).to_f32(),
        DType::BF16 => half::bf16::from_f64(v).to_f32(),
        DType::U8 => int as u8 as f32,
        DType::I8 => int as i8 as f32,
        DType::I32 => int as i32 as f32,
        DType::I64 => int as f32,
        _ => v as f32,
    }
}

const DTYPES: &[&str] = &[
    "bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8",
];

fn positive(attrs: &Attrs, key: &str) -> Result<usize> {
    let v = attrs.int_req(key)?;
    if v < 1 {
        return Err(Error::attr(key, &v.to_string(), "must be at least 1"));
    }
    crate::dims::dim_from_i64(v, key)
}

fn mode(attrs: &Attrs, allowed: &[&str]) -> Result<IndexMode> {
    Ok(match attrs.choice("mode", allowed, "clip")? {
        "wrap" => IndexMode::Wrap,
        "raise" => IndexMode::Raise,
        _ => IndexMode::Clip,
    })
}

impl IndexOp {
    /// `inputs().len()` without allocating (forward checks it on every call).
    fn input_count(&self) -> usize {
        match self {
            IndexOp::OneHot { .. } => 1,
            _ => 2,
        }
    }

    /// For take/pick: (axis, elements before the axis, axis length, elements after it).
    fn split_at_axis(&self, shape: &[usize], axis: i64) -> Result<(usize, usize, usize, usize)> {
        let a = resolve_axis(axis, shape.len(), self.name())?;
        Ok((a, numel(&shape[..a]), shape[a], numel(&shape[a + 1..])))
    }

    /// pick's output shape, and the index shapes it accepts (reduced without / with the axis).
    fn pick_shapes(
        &self,
        data: &[usize],
        axis: i64,
        keepdims: bool,
    ) -> Result<(Vec<usize>, [Vec<usize>; 2])> {
        let a = resolve_axis(axis, data.len(), "pick")?;
        let mut kept = data.to_vec();
        kept[a] = 1;
        let mut dropped = data.to_vec();
        dropped.remove(a);
        if dropped.is_empty() {
            dropped.push(1); // like reductions, never 0-d
        }
        let out = if keepdims {
            kept.clone()
        } else {
            dropped.clone()
        };
        Ok((out, [dropped, kept]))
    }
}

impl Operator for IndexOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let parsed = match op {
            "Embedding" => {
                let parsed = IndexOp::Embedding {
                    input_dim: positive(attrs, "input_dim")?,
                    output_dim: positive(attrs, "output_dim")?,
                };
                attrs.choice("dtype", DTYPES, "float32")?;
                attrs.bool_or("sparse_grad", false)?;
                parsed
            }
            "take" => IndexOp::Take {
                axis: attrs.int_or("axis", 0)?,
                mode: mode(attrs, &["clip", "raise", "wrap"])?,
            },
            "pick" => {
                let axis = match attrs.raw("axis") {
                    None => -1,
                    Some(v) if v.trim() == "None" => {
                        return Err(Error::attr(
                            "axis",
                            v,
                            "axis=None is not supported by pick (MXNet 1.9.1); give an axis",
                        ))
                    }
                    Some(_) => attrs.int_req("axis")?,
                };
                IndexOp::Pick {
                    axis,
                    keepdims: attrs.bool_or("keepdims", false)?,
                    mode: mode(attrs, &["clip", "wrap"])?,
                }
            }
            "one_hot" => {
                let depth = positive(attrs, "depth")?;
                let dtype_name = attrs.choice("dtype", DTYPES, "float32")?;
                let dtype = DType::from_name(dtype_name).unwrap_or(DType::F32);
                IndexOp::OneHot {
                    depth,
                    on_value: stored_as(attrs.float_or("on_value", 1.0)?, dtype),
                    off_value: stored_as(attrs.float_or("off_value", 0.0)?, dtype),
                    dtype,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            IndexOp::Embedding { .. } => "Embedding",
            IndexOp::Take { .. } => "take",
            IndexOp::Pick { .. } => "pick",
            IndexOp::OneHot { .. } => "one_hot",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let slots: &[(&str, InputRole)] = match self {
            IndexOp::Embedding { .. } => {
                &[("data", InputRole::Data), ("weight", InputRole::Weight)]
            }
            IndexOp::Take { .. } => &[("a", InputRole::Data), ("indices", InputRole::Data)],
            IndexOp::Pick { .. } => &[("data", InputRole::Data), ("index", InputRole::Data)],
            IndexOp::OneHot { .. } => &[("indices", InputRole::Data)],
        };
        slots.iter().map(|&(n, r)| (n.to_string(), r)).collect()
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let expected = self.inputs().len();
        if inputs.len() != expected {
            return Err(Error::shape(format!(
                "{op}: expected {expected} inputs, got {}",
                inputs.len()
            )));
        }
        let known = |inputs: &[Option<Vec<usize>>], i: usize| -> Result<Vec<usize>> {
            inputs[i]
                .clone()
                .ok_or_else(|| Error::shape(format!("{op}: the shape of input {i} is unknown")))
        };
        let data = known(inputs, 0)?;
        match self {
            IndexOp::Embedding {
                input_dim,
                output_dim,
            } => {
                let weight = vec![*input_dim, *output_dim];
                match &inputs[1] {
                    None => inputs[1] = Some(weight),
                    Some(given) if *given == weight => {}
                    Some(given) => {
                        return Err(Error::shape(format!(
                            "Embedding: weight has shape {}, expected {} (input_dim, output_dim)",
                            fmt_shape(given),
                            fmt_shape(&weight)
                        )))
                    }
                }
                let mut out = data;
                out.push(*output_dim);
                Ok(vec![out])
            }
            IndexOp::Take { axis, .. } => {
                let indices = known(inputs, 1)?;
                let a = resolve_axis(*axis, data.len(), op)?;
                let mut out = data[..a].to_vec();
                out.extend_from_slice(&indices);
                out.extend_from_slice(&data[a + 1..]);
                Ok(vec![out])
            }
            IndexOp::Pick { axis, keepdims, .. } => {
                let index = known(inputs, 1)?;
                let (out, accepted) = self.pick_shapes(&data, *axis, *keepdims)?;
                if !accepted.contains(&index) {
                    return Err(Error::shape(format!(
                        "pick: index has shape {}, expected {} for data {} and axis {axis}",
                        fmt_shape(&index),
                        fmt_shape(&accepted[0]),
                        fmt_shape(&data)
                    )));
                }
                Ok(vec![out])
            }
            IndexOp::OneHot { depth, .. } => {
                let mut out = data;
                out.push(*depth);
                Ok(vec![out])
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
        if inputs.len() != self.input_count() || outputs.len() != 1 {
            return Err(Error::shape(format!(
                "{op}: called with {} inputs and {} outputs",
                inputs.len(),
                outputs.len()
            )));
        }
        for v in inputs {
            if v.data.len() != numel(v.shape) {
                return Err(Error::shape(format!(
                    "{op}: input buffer of {} values for shape {}",
                    v.data.len(),
                    fmt_shape(v.shape)
                )));
            }
        }
        let out = &mut *outputs[0].data;
        match *self {
            IndexOp::Embedding {
                input_dim,
                output_dim,
            } => {
                let (indices, weight) = (inputs[0].data, inputs[1].data);
                if weight.len() != input_dim * output_dim || out.len() != indices.len() * output_dim
                {
                    return Err(Error::shape(format!(
                        "Embedding: weight {} / output of {} values do not match input_dim={input_dim}, output_dim={output_dim}",
                        fmt_shape(inputs[1].shape),
                        out.len()
                    )));
                }
                for (row, &x) in out.chunks_exact_mut(output_dim).zip(indices) {
                    let k = resolve_index(index_i64(x), input_dim, IndexMode::Clip);
                    row.copy_from_slice(&weight[k * output_dim..(k + 1) * output_dim]);
                }
                Ok(())
            }
            IndexOp::Take { axis, mode } => {
                let (a, indices) = (inputs[0], inputs[1].data);
                let (_, outer, n, inner) = self.split_at_axis(a.shape, axis)?;
                if out.len() != outer * indices.len() * inner {
                    return Err(Error::shape(format!(
                        "take: output holds {} values, expected {}",
                        out.len(),
                        outer * indices.len() * inner
                    )));
                }
                if out.is_empty() {
                    return Ok(());
                }
                if n == 0 {
                    return Err(Error::shape(format!(
                        "take: cannot take from an empty axis of {}",
                        fmt_shape(a.shape)
                    )));
                }
                if mode == IndexMode::Raise {
                    if let Some(bad) = indices.iter().find(|&&x| !(x >= 0.0 && x < n as f32)) {
                        return Err(Error::shape(format!(
                            "take: index {bad} is out of bounds for axis {axis} of size {n} (mode='raise')"
                        )));
                    }
                }
                // One output block of `inner` values per (outer position, index).
                for (block, dst) in out.chunks_exact_mut(inner).enumerate() {
                    let (o, j) = (block / indices.len(), block % indices.len());
                    let k = resolve_index(index_i64(indices[j]), n, mode);
                    let src = (o * n + k) * inner;
                    dst.copy_from_slice(&a.data[src..src + inner]);
                }
                Ok(())
            }
            IndexOp::Pick { axis, mode, .. } => {
                let (data, index) = (inputs[0], inputs[1].data);
                let (_, outer, n, inner) = self.split_at_axis(data.shape, axis)?;
                if out.len() != outer * inner || index.len() != out.len() {
                    return Err(Error::shape(format!(
                        "pick: index of {} values / output of {} values do not match data {}",
                        index.len(),
                        out.len(),
                        fmt_shape(data.shape)
                    )));
                }
                if out.is_empty() {
                    return Ok(());
                }
                if n == 0 {
                    return Err(Error::shape(format!(
                        "pick: cannot pick from an empty axis of {}",
                        fmt_shape(data.shape)
                    )));
                }
                for (o, (dst, idx)) in out
                    .chunks_exact_mut(inner)
                    .zip(index.chunks_exact(inner))
                    .enumerate()
                {
                    let plane = &data.data[o * n * inner..(o + 1) * n * inner];
                    for (i, (d, &x)) in dst.iter_mut().zip(idx).enumerate() {
                        *d = plane[resolve_index(index_i32(x), n, mode) * inner + i];
                    }
                }
                Ok(())
            }
            IndexOp::OneHot {
                depth,
                on_value,
                off_value,
                ..
            } => {
                let indices = inputs[0].data;
                if out.len() != indices.len() * depth {
                    return Err(Error::shape(format!(
                        "one_hot: output holds {} values, expected {}",
                        out.len(),
                        indices.len() * depth
                    )));
                }
                for (row, &x) in out.chunks_exact_mut(depth).zip(indices) {
                    row.fill(off_value);
                    let k = index_i64(x);
                    if (0..depth as i64).contains(&k) {
                        row[k as usize] = on_value;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Expected values come from MXNet 1.9.1.
    use super::*;

    fn parse(name: &str, attrs: &[(&str, &str)]) -> Result<IndexOp> {
        let a = Attrs::from_pairs(attrs);
        let op = IndexOp::parse(name, &a)?.expect("operator of this family");
        a.finish()?;
        Ok(op)
    }

    fn op(name: &str, attrs: &[(&str, &str)]) -> IndexOp {
        parse(name, attrs).unwrap()
    }

    fn ar(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    /// Infers the output shape and runs forward into a NaN-filled buffer.
    fn run(op: &IndexOp, ins: &[(&[usize], &[f32])]) -> Result<(Vec<usize>, Vec<f32>)> {
        let mut slots: Vec<Option<Vec<usize>>> =
            ins.iter().map(|(s, _)| Some(s.to_vec())).collect();
        let shape = op.infer_shape(&mut slots)?.remove(0);
        let views: Vec<View> = ins
            .iter()
            .map(|&(shape, data)| View { shape, data })
            .collect();
        let mut buf = vec![f32::NAN; numel(&shape)];
        op.forward(
            &views,
            &mut [ViewMut {
                shape: &shape,
                data: &mut buf,
            }],
            &mut Scratch::default(),
        )?;
        Ok((shape, buf))
    }

    #[test]
    fn index_casts_match_x86() {
        assert_eq!(index_i64(4.7), 4);
        assert_eq!(index_i64(-1.5), -1);
        assert_eq!(index_i64(f32::NAN), i64::MIN);
        assert_eq!(index_i64(f32::INFINITY), i64::MIN);
        assert_eq!(index_i64(1e10), 10_000_000_000);
        assert_eq!(index_i32(1e10), i32::MIN as i64);
        assert_eq!(index_i32(-3e9), i32::MIN as i64);
        assert_eq!(index_i32(2.5), 2);
    }

    #[test]
    fn embedding() {
        let e = op(
            "Embedding",
            &[
                ("input_dim", "5"),
                ("output_dim", "3"),
                ("dtype", "float32"),
                ("sparse_grad", "False"),
            ],
        );
        assert_eq!(
            e.inputs(),
            [
                ("data".to_string(), InputRole::Data),
                ("weight".to_string(), InputRole::Weight)
            ]
        );
        let w = ar(15);
        let (shape, out) = run(
            &e,
            &[(&[2, 3], &[4.7, -1., 9., 0.5, -0.5, 2.999]), (&[5, 3], &w)],
        )
        .unwrap();
        assert_eq!(shape, [2, 3, 3]);
        assert_eq!(
            out,
            [12., 13., 14., 0., 1., 2., 12., 13., 14., 0., 1., 2., 0., 1., 2., 6., 7., 8.]
        );
        // NaN / ±inf become row 0; huge values clip to the last row (int64 cast).
        let (_, out) = run(
            &e,
            &[
                (&[3], &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
                (&[5, 3], &w),
            ],
        )
        .unwrap();
        assert_eq!(out, [0., 1., 2., 0., 1., 2., 0., 1., 2.]);
        let (_, out) = run(
            &e,
            &[(&[5], &[1e10, -1e10, 3e9, 2.2e9, -3e9]), (&[5, 3], &w)],
        )
        .unwrap();
        assert_eq!(
            out,
            [12., 13., 14., 0., 1., 2., 12., 13., 14., 12., 13., 14., 0., 1., 2.]
        );
        // The weight shape is filled in when unknown and checked when given.
        let mut slots = vec![Some(vec![2]), None];
        assert_eq!(e.infer_shape(&mut slots).unwrap(), [vec![2, 3]]);
        assert_eq!(slots[1], Some(vec![5, 3]));
        let mut slots = vec![Some(vec![2]), Some(vec![4, 3])];
        let err = e.infer_shape(&mut slots).unwrap_err().to_string();
        assert!(err.contains("(4, 3)") && err.contains("(5, 3)"), "{err}");
        assert!(
            parse("Embedding", &[("input_dim", "5")]).is_err(),
            "output_dim is required"
        );
        assert!(parse(
            "Embedding",
            &[("input_dim", "5"), ("output_dim", "3"), ("dtype", "float8")]
        )
        .is_err());
    }

    #[test]
    fn take() {
        let a = ar(12);
        let t = op("take", &[]);
        assert_eq!(
            t,
            IndexOp::Take {
                axis: 0,
                mode: IndexMode::Clip
            }
        );
        let names: Vec<String> = t.inputs().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "indices"]);
        let (shape, out) = run(
            &t,
            &[(&[4, 3], &a), (&[2, 3], &[0., 3., -1., 5., 1.7, -1.5])],
        )
        .unwrap();
        assert_eq!(shape, [2, 3, 3]);
        assert_eq!(
            out,
            [0., 1., 2., 9., 10., 11., 0., 1., 2., 9., 10., 11., 3., 4., 5., 0., 1., 2.]
        );
        let wrap = op("take", &[("mode", "wrap")]);
        let (_, out) = run(
            &wrap,
            &[
                (&[4, 3], &a),
                (&[9], &[0., 3., -1., 5., 1.7, -1.5, 4., -4., -5.]),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                0., 1., 2., 9., 10., 11., 9., 10., 11., 3., 4., 5., 3., 4., 5., 9., 10., 11., 0.,
                1., 2., 0., 1., 2., 9., 10., 11.
            ]
        );
        let (_, out) = run(
            &t,
            &[
                (&[4, 3], &a),
                (&[3], &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
            ],
        )
        .unwrap();
        assert_eq!(out, [0., 1., 2., 0., 1., 2., 0., 1., 2.]);
        let (_, out) = run(&t, &[(&[4, 3], &a), (&[3], &[1e10, -1e10, 3e9])]).unwrap();
        assert_eq!(out, [9., 10., 11., 0., 1., 2., 9., 10., 11.]);
        // axis 1, negative axis, N-D indices.
        let (shape, out) = run(
            &op("take", &[("axis", "1")]),
            &[(&[4, 3], &a), (&[2], &[2., 0.])],
        )
        .unwrap();
        assert_eq!(
            (shape, out),
            (vec![4, 2], vec![2., 0., 5., 3., 8., 6., 11., 9.])
        );
        let (_, out) = run(
            &op("take", &[("axis", "-1"), ("mode", "wrap")]),
            &[(&[4, 3], &a), (&[2], &[-1., 4.])],
        )
        .unwrap();
        assert_eq!(out, [2., 1., 5., 4., 8., 7., 11., 10.]);
        let (_, out) = run(
            &op("take", &[("axis", "1"), ("mode", "wrap")]),
            &[(&[4, 3], &a), (&[3], &[-4., 7., -7.])],
        )
        .unwrap();
        assert_eq!(out, [2., 1., 2., 5., 4., 5., 8., 7., 8., 11., 10., 11.]);
        let (shape, out) = run(
            &op("take", &[("axis", "1")]),
            &[(&[2, 3, 2], &a), (&[2, 2], &[2., 0., 1., 1.])],
        )
        .unwrap();
        assert_eq!(shape, [2, 2, 2, 2]);
        assert_eq!(
            out,
            [4., 5., 0., 1., 2., 3., 2., 3., 10., 11., 6., 7., 8., 9., 8., 9.]
        );
        // mode='raise' fails on any index outside [0, n) before truncation, as MXNet does.
        let raise = op("take", &[("mode", "raise")]);
        assert_eq!(
            run(&raise, &[(&[4, 3], &a), (&[3], &[0., 3., 1.5])])
                .unwrap()
                .1,
            [0., 1., 2., 9., 10., 11., 3., 4., 5.]
        );
        for bad in [5.0, -1.0, -0.5, f32::NAN] {
            assert!(
                run(&raise, &[(&[4, 3], &a), (&[1], &[bad])]).is_err(),
                "{bad}"
            );
        }
        assert!(run(
            &op("take", &[("axis", "2")]),
            &[(&[4, 3], &a), (&[1], &[0.])]
        )
        .is_err());
        assert!(parse("take", &[("mode", "nearest")]).is_err());
    }

    #[test]
    fn pick() {
        let p = ar(6);
        let pick = op("pick", &[]);
        assert_eq!(
            pick,
            IndexOp::Pick {
                axis: -1,
                keepdims: false,
                mode: IndexMode::Clip
            }
        );
        assert_eq!(
            run(&pick, &[(&[2, 3], &p), (&[2], &[0., 2.])]).unwrap(),
            (vec![2], vec![0., 5.])
        );
        assert_eq!(
            run(
                &op("pick", &[("axis", "0")]),
                &[(&[2, 3], &p), (&[3], &[1., 0., 1.])]
            )
            .unwrap(),
            (vec![3], vec![3., 1., 5.])
        );
        assert_eq!(
            run(
                &op("pick", &[("keepdims", "True")]),
                &[(&[2, 3], &p), (&[2], &[0., 2.])]
            )
            .unwrap(),
            (vec![2, 1], vec![0., 5.])
        );
        // The index may keep the reduced axis.
        assert_eq!(
            run(
                &op("pick", &[("axis", "1")]),
                &[(&[2, 3], &p), (&[2, 1], &[0., 2.])]
            )
            .unwrap(),
            (vec![2], vec![0., 5.])
        );
        assert_eq!(
            run(
                &op("pick", &[("axis", "0")]),
                &[(&[2, 3], &p), (&[1, 3], &[0., 1., 1.])]
            )
            .unwrap(),
            (vec![3], vec![0., 4., 5.])
        );
        assert_eq!(
            run(&pick, &[(&[2, 3], &p), (&[2], &[-1., 7.])]).unwrap().1,
            [0., 5.]
        );
        let wrap = op("pick", &[("mode", "wrap")]);
        assert_eq!(
            run(&wrap, &[(&[2, 3], &p), (&[2], &[-1., 7.])]).unwrap().1,
            [2., 4.]
        );
        assert_eq!(
            run(&wrap, &[(&[2, 3], &p), (&[2], &[1.7, -0.5])])
                .unwrap()
                .1,
            [1., 3.]
        );
        // int32 cast: huge, NaN and infinite indices all become i32::MIN (→ 0 clipped, 1 wrapped mod 3).
        let r15 = ar(15);
        let big = [1e10, -1e10, 3e9, 2.2e9, -3e9];
        assert_eq!(
            run(&pick, &[(&[5, 3], &r15), (&[5], &big)]).unwrap().1,
            [0., 3., 6., 9., 12.]
        );
        assert_eq!(
            run(&wrap, &[(&[5, 3], &r15), (&[5], &big)]).unwrap().1,
            [1., 4., 7., 10., 13.]
        );
        let odd = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        assert_eq!(
            run(&wrap, &[(&[3, 3], &r15[..9]), (&[3], &odd)]).unwrap().1,
            [1., 4., 7.]
        );
        // 3-D, and 1-D data (output (1,), never 0-d).
        let r12 = ar(12);
        assert_eq!(
            run(
                &op("pick", &[("axis", "1")]),
                &[(&[2, 3, 2], &r12), (&[2, 2], &[0., 2., 1., 1.])]
            )
            .unwrap(),
            (vec![2, 2], vec![0., 5., 8., 9.])
        );
        assert_eq!(
            run(
                &op("pick", &[("axis", "0")]),
                &[(&[3], &p[..3]), (&[1], &[2.])]
            )
            .unwrap(),
            (vec![1], vec![2.])
        );
        // Errors as in MXNet.
        assert!(run(&pick, &[(&[2, 3], &p), (&[3], &[0., 2., 1.])]).is_err());
        assert!(run(
            &op("pick", &[("axis", "1")]),
            &[(&[2, 3], &p), (&[2, 2], &[0., 1., 1., 0.])]
        )
        .is_err());
        assert!(parse("pick", &[("axis", "None")]).is_err());
        assert!(parse("pick", &[("mode", "raise")]).is_err());
    }

    /// Awkward shapes (0-d, empty axes, empty index lists): inference may refuse, nothing panics.
    #[test]
    fn odd_shapes_never_panic() {
        let shapes: &[&[usize]] = &[&[], &[0], &[3], &[2, 0], &[0, 3], &[2, 3, 1]];
        let ops = [
            op("take", &[("axis", "-1")]),
            op("take", &[("mode", "raise")]),
            op("pick", &[("keepdims", "True")]),
            op("pick", &[("axis", "0"), ("mode", "wrap")]),
        ];
        for o in &ops {
            for a in shapes {
                for idx in shapes {
                    let (x, i) = (ar(numel(a)), vec![1.0; numel(idx)]);
                    let _ = run(o, &[(a, &x), (idx, &i)]);
                }
            }
        }
        for idx in shapes {
            let i = vec![1.0; numel(idx)];
            let _ = run(&op("one_hot", &[("depth", "2")]), &[(idx, &i)]);
            let w = ar(6);
            let e = op("Embedding", &[("input_dim", "3"), ("output_dim", "2")]);
            let _ = run(&e, &[(idx, &i), (&[3, 2], &w)]);
        }
    }

    #[test]
    fn one_hot() {
        let oh = op("one_hot", &[("depth", "3")]);
        assert_eq!(oh.inputs(), [("indices".to_string(), InputRole::Data)]);
        let (shape, out) = run(&oh, &[(&[6], &[0., 2., -1., 3., 1.7, -0.5])]).unwrap();
        assert_eq!(shape, [6, 3]);
        assert_eq!(
            out,
            [1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 1., 0., 1., 0., 0.]
        );
        let vals = op(
            "one_hot",
            &[("depth", "3"), ("on_value", "5"), ("off_value", "-2")],
        );
        let (shape, out) = run(&vals, &[(&[2, 2], &[1., 0., 2., 5.])]).unwrap();
        assert_eq!(shape, [2, 2, 3]);
        assert_eq!(
            out,
            [-2., 5., -2., 5., -2., -2., -2., -2., 5., -2., -2., -2.]
        );
        assert_eq!(
            run(&oh, &[(&[2], &[f32::NAN, 2.])]).unwrap().1,
            [0., 0., 0., 0., 0., 1.]
        );
        assert_eq!(run(&oh, &[(&[1], &[1e10])]).unwrap().1, [0., 0., 0.]);
        // on/off values are stored in `dtype`.
        let cases = [
            ("int32", [-1., 2., 2., -1.]),
            ("uint8", [255., 2., 2., 255.]),
        ];
        for (dtype, want) in cases {
            let o = op(
                "one_hot",
                &[
                    ("depth", "2"),
                    ("dtype", dtype),
                    ("on_value", "2.7"),
                    ("off_value", "-1.6"),
                ],
            );
            assert_eq!(run(&o, &[(&[2], &[1., 0.])]).unwrap().1, want, "{dtype}");
        }
        let f16 = op(
            "one_hot",
            &[("depth", "2"), ("dtype", "float16"), ("on_value", "0.1")],
        );
        assert_eq!(
            run(&f16, &[(&[2], &[1., 0.])]).unwrap().1,
            [0., 0.099975586, 0.099975586, 0.]
        );
        assert!(parse("one_hot", &[]).is_err(), "depth is required");
        assert!(parse("one_hot", &[("depth", "3"), ("bogus", "1")]).is_err());
    }
}
