//! Pooling (spec §4.2 "Pooling", pitfall §5.4).
//!
//! Like the convolutions, the spatial axes are normalised to three `(D, H, W)` (1-D and 2-D
//! pooling put size-1 axes in front), so one loop nest serves 1-D, 2-D and 3-D.

use crate::backend::cpu::pool as cpu_pool;
use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::conv::{check_count, check_len, data_shape, expect_inputs};
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolOp {
    Pooling(Pooling),
}

/// The reduction of a Pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolType {
    Max,
    Avg,
    Sum,
    /// `(Σ x^p)^(1/p)` with signed powers and roots; MXNet implements p = 1, 2, 3 only.
    Lp(u32),
}

/// `Pooling` (spec §4.2): window reductions over the spatial axes of `(N, C, spatial...)`.
///
/// Attributes and defaults:
/// - `kernel=()` (required unless `global_pool`), `pool_type='max'` (max, avg, sum, lp),
///   `p_value=None` (lp only: 1, 2 or 3), `global_pool=False`;
/// - `stride=()` → **1s** (not the kernel size), `pad=()` → 0s (must be smaller than the kernel);
/// - `pooling_convention='valid'`: `o = floor((i + 2p − k)/s) + 1`; `'full'`:
///   `o = ceil((i + 2p − k)/s) + 1`; `'same'` is rejected (broken in MXNet 1.9.1);
/// - `count_include_pad=None` → **True**; `layout` (channel-first only), `cudnn_off` ignored.
///
/// `global_pool=True` ignores kernel, stride, pad and convention and reduces each whole plane to
/// one value (output `(N, C, 1, ...)`).
///
/// Window o on an axis covers `[o·s − p, o·s − p + k)` clipped to the input. MXNet keeps windows
/// that lie entirely in the padding ('full' convention), and so does this: max gives −FLT_MAX
/// (padding never wins; the max starts at −FLT_MAX), sum, lp and avg give 0. The avg divisor is
/// `(he − hs)·(we − ws)…` with `he = min(hs + k, H + p)` (the window clipped to the *padded*
/// extent) when count_include_pad, else the number of real cells. With count_include_pad=False
/// and an all-padding window, MXNet's 3-D kernel divides 0 by 0 and returns NaN while its 1-D
/// and 2-D kernels return 0; this reproduces both.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooling {
    /// Empty only when `global_pool`.
    pub kernel: Vec<usize>,
    pub pool_type: PoolType,
    pub global_pool: bool,
    /// 'full' (ceil) instead of 'valid' (floor).
    pub full_convention: bool,
    pub stride: Vec<usize>,
    pub pad: Vec<usize>,
    pub count_include_pad: bool,
    /// The rank `layout` names (3, 4 or 5), when given.
    layout_rank: Option<usize>,
}

/// Largest kernel/stride/pad value accepted (MXNet stores them as `int`).
const MAX_WINDOW_VALUE: i64 = i32::MAX as i64;

fn window_tuple(
    attrs: &Attrs,
    key: &str,
    nd: usize,
    default: usize,
    min: i64,
) -> Result<Vec<usize>> {
    let raw = || attrs.map().get(key).cloned().unwrap_or_default();
    match attrs.ints(key)? {
        None => Ok(vec![default; nd]),
        Some(v) if v.is_empty() => Ok(vec![default; nd]),
        Some(v) => {
            if v.len() != nd {
                return Err(Error::attr(
                    key,
                    &raw(),
                    format!("must have one value per kernel dimension ({nd})"),
                ));
            }
            v.iter()
                .map(|&x| {
                    if x < min || x > MAX_WINDOW_VALUE {
                        Err(Error::attr(
                            key,
                            &raw(),
                            format!("every value must be in [{min}, {MAX_WINDOW_VALUE}]"),
                        ))
                    } else {
                        Ok(x as usize)
                    }
                })
                .collect()
        }
    }
}

impl Pooling {
    fn parse(attrs: &Attrs) -> Result<Pooling> {
        let global_pool = attrs.bool_or("global_pool", false)?;
        let kernel_raw = attrs.ints("kernel")?.unwrap_or_default();
        let pool_type = attrs.choice("pool_type", &["max", "avg", "sum", "lp"], "max")?;
        let convention = attrs.choice("pooling_convention", &["valid", "full", "same"], "valid")?;
        let p_value = attrs.opt_int("p_value")?;
        let count_include_pad = match attrs.str("count_include_pad") {
            None => true,
            Some(v) if v.trim() == "None" => true,
            Some(_) => attrs.bool_or("count_include_pad", true)?,
        };
        let layout = attrs.choice(
            "layout",
            &["None", "NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC"],
            "None",
        )?;
        let layout_rank = match layout {
            "None" => None,
            "NWC" | "NHWC" | "NDHWC" => {
                return Err(Error::Unsupported(format!(
                    "Pooling layout {layout}: only channel-first layouts (NCW, NCHW, NCDHW) are supported"
                )))
            }
            l => Some(l.len()),
        };

        let pool_type = match pool_type {
            "max" => PoolType::Max,
            "avg" => PoolType::Avg,
            "sum" => PoolType::Sum,
            _ => match p_value {
                Some(p @ 1..=3) => PoolType::Lp(p as u32),
                Some(p) => {
                    return Err(Error::attr(
                        "p_value",
                        &p.to_string(),
                        "lp pooling supports p_value 1, 2 or 3 (as MXNet)",
                    ))
                }
                None => {
                    return Err(Error::attr(
                        "p_value",
                        "None",
                        "lp pooling requires p_value",
                    ))
                }
            },
        };

        // Global pooling ignores kernel, stride, pad and convention (still read, so that
        // `Attrs::finish` accepts them).
        if global_pool {
            attrs.ints("stride")?;
            attrs.ints("pad")?;
            return Ok(Pooling {
                kernel: Vec::new(),
                pool_type,
                global_pool,
                full_convention: false,
                stride: Vec::new(),
                pad: Vec::new(),
                count_include_pad,
                layout_rank,
            });
        }
        let raw_kernel = attrs.map().get("kernel").cloned().unwrap_or_default();
        if kernel_raw.is_empty() || kernel_raw.len() > 3 {
            return Err(Error::attr(
                "kernel",
                &raw_kernel,
                format!(
                    "{}-D pooling is not supported (1-D, 2-D or 3-D only)",
                    kernel_raw.len()
                ),
            ));
        }
        if kernel_raw
            .iter()
            .any(|k| !(1..=MAX_WINDOW_VALUE).contains(k))
        {
            return Err(Error::attr(
                "kernel",
                &raw_kernel,
                "every value must be positive",
            ));
        }
        if convention == "same" {
            return Err(Error::Unsupported(
                "Pooling pooling_convention='same' is not supported (MXNet 1.9.1 fails on it too)"
                    .to_string(),
            ));
        }
        let nd = kernel_raw.len();
        let kernel: Vec<usize> = kernel_raw.iter().map(|&k| k as usize).collect();
        let stride = window_tuple(attrs, "stride", nd, 1, 1)?;
        let pad = window_tuple(attrs, "pad", nd, 0, 0)?;
        if let Some(a) = (0..nd).find(|&a| pad[a] >= kernel[a]) {
            return Err(Error::attr(
                "pad",
                &fmt_shape(&pad),
                format!(
                    "must be smaller than the kernel {} (axis {a})",
                    fmt_shape(&kernel)
                ),
            ));
        }
        Ok(Pooling {
            kernel,
            pool_type,
            global_pool,
            full_convention: convention == "full",
            stride,
            pad,
            count_include_pad,
            layout_rank,
        })
    }

    /// Checks the data shape and computes the geometry.
    pub(crate) fn geometry(&self, data: &[usize]) -> Result<Geom> {
        if !(3..=5).contains(&data.len()) {
            return Err(Error::shape(format!(
                "Pooling needs 3-D, 4-D or 5-D data (N, C, spatial...), got {}",
                fmt_shape(data)
            )));
        }
        if let Some(r) = self.layout_rank {
            if r != data.len() {
                return Err(Error::shape(format!(
                    "Pooling: the layout attribute is for {r}-D data, got {}",
                    fmt_shape(data)
                )));
            }
        }
        let spatial = &data[2..];
        let nd = spatial.len();
        if self.global_pool {
            return Ok(Geom {
                input: to3(spatial, 1),
                output: [1; 3],
                kernel: to3(spatial, 1),
                stride: [1; 3],
                pad: [0; 3],
                three_d: nd == 3,
            });
        }
        if self.kernel.len() != nd {
            return Err(Error::shape(format!(
                "Pooling with a {}-D kernel needs {}-D data, got {}",
                self.kernel.len(),
                self.kernel.len() + 2,
                fmt_shape(data)
            )));
        }
        let mut output = [1usize; 3];
        for a in 0..nd {
            // u128: no overflow for any usize dims and int-range attributes.
            let padded = spatial[a] as u128 + 2 * self.pad[a] as u128;
            let k = self.kernel[a] as u128;
            if k > padded {
                return Err(Error::shape(format!(
                    "Pooling: kernel {} exceeds the padded input on spatial axis {a} of data {}",
                    fmt_shape(&self.kernel),
                    fmt_shape(data)
                )));
            }
            let s = self.stride[a] as u128;
            let steps = if self.full_convention {
                (padded - k).div_ceil(s)
            } else {
                (padded - k) / s
            };
            output[3 - nd + a] = usize::try_from(steps + 1).map_err(|_| {
                Error::shape(format!("Pooling: data {} is too large", fmt_shape(data)))
            })?;
        }
        Ok(Geom {
            input: to3(spatial, 1),
            output,
            kernel: to3(&self.kernel, 1),
            stride: to3(&self.stride, 1),
            pad: to3(&self.pad, 0),
            three_d: nd == 3,
        })
    }

    fn output_shape(&self, data: &[usize], g: &Geom) -> Vec<usize> {
        let nd = data.len() - 2;
        let mut out = data[..2].to_vec();
        out.extend_from_slice(&g.output[3 - nd..]);
        out
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        expect_inputs("Pooling", inputs, 1)?;
        let data = data_shape("Pooling", inputs, 0)?;
        let g = self.geometry(&data)?;
        Ok(vec![self.output_shape(&data, &g)])
    }

    fn forward(&self, inputs: &[View], outputs: &mut [ViewMut]) -> Result<()> {
        let ([x], [y]) = (inputs, outputs) else {
            return Err(Error::shape("Pooling: expected 1 input and 1 output"));
        };
        let g = self.geometry(x.shape)?;
        check_len("Pooling", "data", x.data, x.shape)?;
        let planes = x.shape[0] * x.shape[1];
        check_count(
            "Pooling",
            "output",
            y.data,
            planes * g.output.iter().product::<usize>(),
        )?;
        let cip = self.count_include_pad;
        match self.pool_type {
            PoolType::Max
                if g.input[0] == 1 && g.output[0] == 1 && g.kernel[0] == 1 && g.pad[0] == 0 =>
            {
                max_pool_2d(x.data, y.data, &g)
            }
            PoolType::Max => pool(x.data, y.data, &g, -f32::MAX, max_ignoring_nan, &|m, _| m),
            PoolType::Sum | PoolType::Lp(1) => {
                pool(x.data, y.data, &g, 0.0, |s, v| s + v, &|s, _| s)
            }
            PoolType::Avg => pool(x.data, y.data, &g, 0.0, |s, v| s + v, &|s, w| {
                let divisor = if cip { w.padded_cells } else { w.real_cells };
                if divisor == 0 && !g.three_d {
                    0.0
                } else {
                    s / divisor as f32
                }
            }),
            PoolType::Lp(2) => pool(x.data, y.data, &g, 0.0, |s, v| s + v * v, &|s, _| s.sqrt()),
            PoolType::Lp(_) => pool(x.data, y.data, &g, 0.0, |s, v| s + v * v * v, &|s, _| {
                s.cbrt()
            }),
        }
        Ok(())
    }
}

/// Pooling sizes with the spatial axes padded to three `(D, H, W)`: resolved once here and read
/// by both backends (the WebGPU lowering fills its uniform block from it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geom {
    pub(crate) input: [usize; 3],
    pub(crate) output: [usize; 3],
    pub(crate) kernel: [usize; 3],
    pub(crate) stride: [usize; 3],
    pub(crate) pad: [usize; 3],
    /// True for 5-D data (matters only for MXNet's 0/0 quirk, see [`Pooling`]).
    pub(crate) three_d: bool,
}

fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// One output position's window on one axis: the clipped input range and its padded extent.
#[derive(Clone, Copy)]
struct AxisWindow {
    start: usize,
    end: usize,
    /// `min(s + k, in + pad) − s`, counting padding but not overhang past the padded input.
    padded: usize,
}

fn axis_window(o: usize, input: usize, kernel: usize, stride: usize, pad: usize) -> AxisWindow {
    let start = o as i64 * stride as i64 - pad as i64;
    let end = (start + kernel as i64).min(input as i64 + pad as i64);
    let padded = (end - start).max(0) as usize;
    // Under the "full" convention a last window may start past the input (found by the `plan`
    // fuzz target): it is then empty, never a slice out of range.
    let clipped_start = (start.max(0) as usize).min(input);
    let clipped_end = (end.min(input as i64).max(0) as usize).max(clipped_start);
    AxisWindow {
        start: clipped_start,
        end: clipped_end,
        padded,
    }
}

/// What the finishing step of a reduction may need to know about its window.
#[derive(Clone, Copy)]
struct WindowCells {
    padded_cells: usize,
    real_cells: usize,
}

/// Reduces every window of every `(N·C)` plane: `acc = add(acc, x)` from `init` over the real
/// cells, then `finish(acc, cells)`. Planes are spread over the thread pool (each is reduced
/// the same way whatever the split). `add` and `finish` are called through pointers: one copy
/// of the loops in the wasm package (2-D max pooling, the hot case, has its own kernel).
fn pool(
    x: &[f32],
    y: &mut [f32],
    g: &Geom,
    init: f32,
    add: fn(f32, f32) -> f32,
    finish: &(dyn Fn(f32, WindowCells) -> f32 + Sync),
) {
    let in_size: usize = g.input.iter().product();
    let out_size: usize = g.output.iter().product();
    if out_size == 0 {
        return;
    }
    if in_size == 0 {
        // Every window is empty.
        let cells = WindowCells {
            padded_cells: 0,
            real_cells: 0,
        };
        y.fill(finish(init, cells));
        return;
    }
    for_planes(x, y, in_size, out_size, &|plane, out| {
        pool_plane(plane, out, g, init, add, finish)
    });
}

/// Runs `reduce(input plane, output plane)` for every plane, spread over the thread pool
/// (about 32K outputs per task: a 56² plane is 3136). Not generic, so that the parallel loop
/// exists once in the wasm package whatever the reduction.
fn for_planes(
    x: &[f32],
    y: &mut [f32],
    in_size: usize,
    out_size: usize,
    reduce: &(dyn Fn(&[f32], &mut [f32]) + Sync),
) {
    let planes = y.len() / out_size;
    let per_task = (32 * 1024 / out_size).clamp(1, planes.max(1));
    cpu_pool::for_each_chunk_mut(y, per_task * out_size, |t, out| {
        let x = &x[t * per_task * in_size..];
        for (plane, out) in x.chunks_exact(in_size).zip(out.chunks_exact_mut(out_size)) {
            reduce(plane, out);
        }
    });
}

/// [`pool`] on one plane.
fn pool_plane(
    plane: &[f32],
    out: &mut [f32],
    g: &Geom,
    init: f32,
    add: fn(f32, f32) -> f32,
    finish: &(dyn Fn(f32, WindowCells) -> f32 + Sync),
) {
    let [_, h_in, w_in] = g.input;
    let [d_out, h_out, w_out] = g.output;
    let mut out_iter = out.iter_mut();
    for od in 0..d_out {
        let wd = axis_window(od, g.input[0], g.kernel[0], g.stride[0], g.pad[0]);
        for oh in 0..h_out {
            let wh = axis_window(oh, h_in, g.kernel[1], g.stride[1], g.pad[1]);
            for ow in 0..w_out {
                let ww = axis_window(ow, w_in, g.kernel[2], g.stride[2], g.pad[2]);
                let mut acc = init;
                for d in wd.start..wd.end {
                    for h in wh.start..wh.end {
                        let row = &plane[(d * h_in + h) * w_in..][ww.start..ww.end];
                        acc = row.iter().fold(acc, |a, &v| add(a, v));
                    }
                }
                let cells = WindowCells {
                    padded_cells: wd.padded * wh.padded * ww.padded,
                    real_cells: (wd.end - wd.start) * (wh.end - wh.start) * (ww.end - ww.start),
                };
                if let Some(o) = out_iter.next() {
                    *o = finish(acc, cells);
                }
            }
        }
    }
}

thread_local! {
    /// Each thread's row of column maxima for [`max_pool_2d`].
    static COLUMN_MAX: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Max pooling of 2-D planes, separably: per output row, the maxima of the window's input rows
/// column by column (contiguous, vectorised), then of each window's columns. Max ignores NaN
/// and starts from `-f32::MAX` exactly as [`pool`] with `max` does, and a maximum does not
/// depend on the order it is taken in, so the results are identical.
fn max_pool_2d(x: &[f32], y: &mut [f32], g: &Geom) {
    let [_, h_in, w_in] = g.input;
    let [_, h_out, w_out] = g.output;
    let (in_size, out_size) = (h_in * w_in, h_out * w_out);
    if out_size == 0 || in_size == 0 {
        return pool(x, y, g, -f32::MAX, max_ignoring_nan, &|m, _| m);
    }
    for_planes(x, y, in_size, out_size, &|plane, out| {
        COLUMN_MAX.with(|col| {
            let mut col = col.borrow_mut();
            col.resize(w_in, 0.0);
            for (oh, out_row) in out.chunks_exact_mut(w_out).enumerate() {
                let wh = axis_window(oh, h_in, g.kernel[1], g.stride[1], g.pad[1]);
                col.fill(-f32::MAX);
                for h in wh.start..wh.end {
                    for (c, &v) in col.iter_mut().zip(&plane[h * w_in..][..w_in]) {
                        *c = max_ignoring_nan(*c, v);
                    }
                }
                for (ow, o) in out_row.iter_mut().enumerate() {
                    let ww = axis_window(ow, w_in, g.kernel[2], g.stride[2], g.pad[2]);
                    *o = col[ww.start..ww.end]
                        .iter()
                        .fold(-f32::MAX, |m, &v| max_ignoring_nan(m, v));
                }
            }
        })
    });
}

/// `max(m, v)` where a NaN `v` is skipped (MXNet's max pooling compares `v > m`).
#[inline]
fn max_ignoring_nan(m: f32, v: f32) -> f32 {
    if v > m {
        v
    } else {
        m
    }
}

impl Operator for PoolOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        match op {
            "Pooling" => Ok(Some(PoolOp::Pooling(Pooling::parse(attrs)?))),
            _ => Ok(None),
        }
    }

    fn name(&self) -> &'static str {
        "Pooling"
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        vec![("data".to_string(), InputRole::Data)]
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let PoolOp::Pooling(p) = self;
        p.infer_shape(inputs)
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let PoolOp::Pooling(p) = self;
        p.forward(inputs, outputs)
    }

    /// Pooling does no multiply-adds; `inspect` counts it as free.
    fn flops(&self, _inputs: &[Vec<usize>], _outputs: &[Vec<usize>]) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::tests::{check_mx_cases, run_op, MxCase};
    use crate::ops::Op;

    /// A window that starts past the input (pooling_convention="full", kernel 6x1, stride 2x3 on
    /// 8x8: the `plan` fuzz target's crash) is empty, not an out-of-range slice.
    #[test]
    fn window_starting_past_the_input_is_empty() {
        let w = axis_window(3, 8, 1, 3, 0);
        assert_eq!((w.start, w.end), (8, 8));
    }

    /// Outputs of MXNet 1.9.1 for inputs `gen(shape, 0)` (see `conv::tests::gen`).
    #[rustfmt::skip]
    const MX_CASES: &[MxCase] = &[
        MxCase { name: "max_full_pad_trailing_window", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pooling_convention", "full")], inputs: &[&[1, 2, 5, 5]], out_shape: &[1, 2, 4, 4], expected: &[0.0, 0.6742879, 0.99588084, -f32::MAX, 0.9612752, 0.7965655, 0.18059626, -f32::MAX, 0.8987081, 0.99647564, 0.7924272, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX, 0.17388949, -0.19398436, -0.8047309, -f32::MAX, 0.3742885, 0.90167576, 0.9970241, -f32::MAX, 0.78825206, 0.512388, -0.20066506, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX] },
        MxCase { name: "avg_full_cip_true", op: "Pooling", attrs: &[("kernel", "(3, 3)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pool_type", "avg"), ("pooling_convention", "full"), ("count_include_pad", "True")], inputs: &[&[1, 1, 6, 6]], out_shape: &[1, 1, 4, 4], expected: &[0.18691391, 0.27210534, 0.14833972, 0.026768059, 0.045500457, 0.05941189, 0.023644596, -0.00023750961, -0.01608055, 0.012910999, 0.053560432, 0.033628955, -0.31401798, -0.31709856, 0.0065070465, 0.093572125] },
        MxCase { name: "avg_full_cip_false", op: "Pooling", attrs: &[("kernel", "(3, 3)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pool_type", "avg"), ("pooling_convention", "full"), ("count_include_pad", "False")], inputs: &[&[1, 1, 6, 6]], out_shape: &[1, 1, 4, 4], expected: &[0.4205563, 0.40815794, 0.22250952, 0.080304205, 0.0682507, 0.05941189, 0.023644596, -0.00047501922, -0.024120837, 0.012910999, 0.053560432, 0.06725791, -0.9420539, -0.6341971, 0.013014093, 0.3742885] },
        MxCase { name: "avg_empty_window_cip_false_2d", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pool_type", "avg"), ("pooling_convention", "full"), ("count_include_pad", "False")], inputs: &[&[1, 1, 5, 5]], out_shape: &[1, 1, 4, 4], expected: &[0.0, 0.51795167, 0.94578975, 0.0, 0.21571955, -0.11079699, -0.47364646, 0.0, 0.11473411, 0.4018529, 0.58948016, 0.0, 0.0, 0.0, 0.0, 0.0] },
        MxCase { name: "avg_valid_default_stride", op: "Pooling", attrs: &[("kernel", "(2, 3)"), ("pool_type", "avg")], inputs: &[&[2, 2, 4, 5]], out_shape: &[2, 2, 3, 3], expected: &[0.55296475, 0.5721347, 0.51386887, -0.0019581716, -0.2096386, -0.38894543, -0.5518854, -0.45658597, -0.29948977, 0.38314342, 0.20232654, -0.005874306, -0.5173278, -0.57281834, -0.55078053, -0.09800238, 0.11339977, 0.30945382, -0.21691172, -0.39467517, -0.5190212, -0.45178732, -0.29277727, -0.094141245, 0.46592808, 0.55604833, 0.57091004, -0.57339543, -0.548494, -0.44935644, 0.12106756, 0.3160249, 0.46820974, 0.5066654, 0.37430725, 0.19128835] },
        MxCase { name: "sum_full", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pool_type", "sum"), ("pooling_convention", "full")], inputs: &[&[1, 1, 5, 5]], out_shape: &[1, 1, 4, 4], expected: &[0.0, 1.0359033, 1.8915795, 0.0, 0.4314391, -0.44318795, -1.8945858, 0.0, 0.22946823, 1.6074116, 2.3579206, 0.0, 0.0, 0.0, 0.0, 0.0] },
        MxCase { name: "lp1", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(1, 2)"), ("pool_type", "lp"), ("p_value", "1")], inputs: &[&[1, 2, 4, 4]], out_shape: &[1, 2, 3, 2], expected: &[2.3187714, 2.8905964, 1.9504576, -0.009893119, -1.9650692, -2.8923907, 1.5467448, 2.799067, 2.5873015, 1.0222142, -1.0775552, -2.6136956] },
        MxCase { name: "lp2_pad", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("pool_type", "lp"), ("p_value", "2")], inputs: &[&[1, 2, 4, 4]], out_shape: &[1, 2, 3, 3], expected: &[0.0, 0.7651339, 0.89569867, 1.0121233, 1.3690771, 0.9569168, 0.96313095, 1.3369077, 0.6692399, 0.35525355, 0.3680236, 0.67930466, 1.0374182, 1.4075621, 0.9564579, 0.8047309, 1.38573, 0.8895552] },
        MxCase { name: "lp3_full", op: "Pooling", attrs: &[("kernel", "(3, 3)"), ("stride", "(2, 2)"), ("pool_type", "lp"), ("p_value", "3"), ("pooling_convention", "full")], inputs: &[&[1, 1, 6, 6]], out_shape: &[1, 1, 3, 3], expected: &[-1.1650542, 0.9312451, 1.0534595, -1.109071, 0.9511149, -0.4376658, -1.2261599, -1.0058042, -1.1098752] },
        MxCase { name: "global_max", op: "Pooling", attrs: &[("kernel", "(1, 1)"), ("global_pool", "True"), ("pooling_convention", "full")], inputs: &[&[2, 3, 3, 4]], out_shape: &[2, 3, 1, 1], expected: &[0.99588084, 0.99647564, 0.51822823, 0.9970241, 0.9975263, 0.90748537] },
        MxCase { name: "global_avg_ignores_kernel_pad", op: "Pooling", attrs: &[("kernel", "(2, 2)"), ("stride", "(3, 3)"), ("pad", "(1, 1)"), ("global_pool", "True"), ("pool_type", "avg")], inputs: &[&[1, 3, 3, 4]], out_shape: &[1, 3, 1, 1], expected: &[0.3226806, 0.068796135, -0.35969743] },
        MxCase { name: "global_lp2", op: "Pooling", attrs: &[("global_pool", "True"), ("pool_type", "lp"), ("p_value", "2")], inputs: &[&[1, 2, 3, 3]], out_shape: &[1, 2, 1, 1], expected: &[2.0604098, 2.0605702] },
        MxCase { name: "global_sum_1d", op: "Pooling", attrs: &[("global_pool", "True"), ("pool_type", "sum")], inputs: &[&[2, 2, 5]], out_shape: &[2, 2, 1], expected: &[2.9274828, 2.2751865, -4.1815214, 0.029586315] },
        MxCase { name: "max_1d_full", op: "Pooling", attrs: &[("kernel", "(3,)"), ("stride", "(2,)"), ("pad", "(1,)"), ("pooling_convention", "full"), ("layout", "NCW"), ("cudnn_off", "False")], inputs: &[&[1, 2, 6]], out_shape: &[1, 2, 4], expected: &[0.36161542, 0.89569867, 0.99588084, 0.9612752, 0.7965655, 0.52404433, -0.18729466, -0.8006668] },
        MxCase { name: "avg_1d_cip_false", op: "Pooling", attrs: &[("kernel", "(2,)"), ("stride", "(2,)"), ("pad", "(1,)"), ("pool_type", "avg"), ("pooling_convention", "full"), ("count_include_pad", "False")], inputs: &[&[1, 1, 5]], out_shape: &[1, 1, 4], expected: &[0.0, 0.51795167, 0.94578975, 0.0] },
        MxCase { name: "max_3d", op: "Pooling", attrs: &[("kernel", "(2, 2, 2)"), ("stride", "(2, 1, 2)"), ("pad", "(1, 0, 1)"), ("pooling_convention", "full")], inputs: &[&[1, 1, 3, 3, 4]], out_shape: &[1, 1, 3, 2, 3], expected: &[0.99588084, 0.9612752, 0.89569867, 0.99588084, 0.9612752, 0.52404433, 0.51822823, 0.3679605, 0.67930466, 0.8987081, 0.99647564, 0.7924272, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX, -f32::MAX] },
        MxCase { name: "avg_3d_cip_false_empty_is_nan", op: "Pooling", attrs: &[("kernel", "(2, 2, 2)"), ("stride", "(2, 2, 2)"), ("pad", "(1, 1, 1)"), ("pool_type", "avg"), ("pooling_convention", "full"), ("count_include_pad", "False")], inputs: &[&[1, 1, 3, 3, 3]], out_shape: &[1, 1, 3, 3, 3], expected: &[0.0, 0.51795167, f32::NAN, 0.84613204, 0.6654492, f32::NAN, f32::NAN, f32::NAN, f32::NAN, 0.090332925, 0.061877444, f32::NAN, -0.02941674, -0.063077375, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN] },
        MxCase { name: "avg_3d_cip_true", op: "Pooling", attrs: &[("kernel", "(2, 2, 2)"), ("stride", "(2, 2, 2)"), ("pad", "(1, 1, 1)"), ("pool_type", "avg"), ("pooling_convention", "full")], inputs: &[&[1, 1, 3, 3, 3]], out_shape: &[1, 1, 3, 3, 3], expected: &[0.0, 0.12948792, 0.0, 0.21153301, 0.3327246, 0.0, 0.0, 0.0, 0.0, 0.022583231, 0.030938722, 0.0, -0.01470837, -0.063077375, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] },
    ];

    #[test]
    fn matches_mxnet() {
        check_mx_cases(MX_CASES);
    }

    fn pooling(attrs: &[(&str, &str)]) -> Result<Pooling> {
        match Op::parse("Pooling", &Attrs::from_pairs(attrs))? {
            Op::Pool(PoolOp::Pooling(p)) => Ok(p),
            other => panic!("{other:?}"),
        }
    }

    fn shape(attrs: &[(&str, &str)], data: &[usize]) -> Result<Vec<usize>> {
        let p = PoolOp::Pooling(pooling(attrs)?);
        Ok(p.infer_shape(&mut [Some(data.to_vec())])?.remove(0))
    }

    #[test]
    fn defaults() {
        let p = pooling(&[("kernel", "(3, 3)")]).unwrap();
        assert_eq!(p.pool_type, PoolType::Max);
        assert_eq!(
            p.stride,
            vec![1, 1],
            "the default stride is 1, not the kernel"
        );
        assert_eq!(p.pad, vec![0, 0]);
        assert!(!p.full_convention && !p.global_pool && p.count_include_pad);
        let p = pooling(&[
            ("kernel", "(3,)"),
            ("stride", "()"),
            ("pad", "()"),
            ("count_include_pad", "None"),
        ])
        .unwrap();
        assert_eq!(
            (p.stride.clone(), p.pad.clone(), p.count_include_pad),
            (vec![1], vec![0], true)
        );
        // Keys with no effect are accepted (p_value and count_include_pad on max pooling too).
        assert!(pooling(&[
            ("kernel", "(2, 2)"),
            ("cudnn_off", "True"),
            ("p_value", "2"),
            ("count_include_pad", "False")
        ])
        .is_ok());
        assert_eq!(
            PoolOp::Pooling(pooling(&[("kernel", "(2, 2)")]).unwrap()).inputs()[0].0,
            "data"
        );
    }

    #[test]
    fn attribute_errors() {
        assert!(pooling(&[]).unwrap_err().to_string().contains("kernel"));
        assert!(pooling(&[("kernel", "(0, 2)")]).is_err());
        assert!(pooling(&[("kernel", "(2, 2, 2, 2)")]).is_err());
        assert!(pooling(&[("kernel", "(2, 2)"), ("stride", "(2,)")])
            .unwrap_err()
            .to_string()
            .contains("stride"));
        assert!(pooling(&[("kernel", "(2, 2)"), ("stride", "(0, 0)")]).is_err());
        assert!(pooling(&[("kernel", "(2, 2)"), ("pad", "(2, 2)")])
            .unwrap_err()
            .to_string()
            .contains("pad"));
        assert!(pooling(&[("kernel", "(2, 2)"), ("pool_type", "lp")])
            .unwrap_err()
            .to_string()
            .contains("p_value"));
        assert!(pooling(&[("kernel", "(2, 2)"), ("pool_type", "lp"), ("p_value", "4")]).is_err());
        assert!(pooling(&[
            ("kernel", "(2, 2)"),
            ("pool_type", "lp"),
            ("p_value", "2.0")
        ])
        .is_err());
        assert!(pooling(&[("kernel", "(2, 2)"), ("pool_type", "median")]).is_err());
        assert!(pooling(&[("kernel", "(2, 2)"), ("bogus", "1")])
            .unwrap_err()
            .to_string()
            .contains("bogus"));
        let e = pooling(&[("kernel", "(2,)"), ("pooling_convention", "same")]).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
        let e = pooling(&[("kernel", "(2, 2)"), ("layout", "NHWC")]).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
        // Global pooling needs no kernel and ignores the convention.
        assert!(pooling(&[("global_pool", "True"), ("pooling_convention", "same")]).is_ok());
    }

    #[test]
    fn output_shapes() {
        // 7 wide: k2 s2 → valid 3, full 4; k3 s3 → valid 2, full 3 (spec §4.2).
        for (k, s, valid, full) in [("(2, 2)", "(2, 2)", 3, 4), ("(3, 3)", "(3, 3)", 2, 3)] {
            assert_eq!(
                shape(&[("kernel", k), ("stride", s)], &[1, 1, 7, 7]).unwrap(),
                vec![1, 1, valid, valid]
            );
            let f = [("kernel", k), ("stride", s), ("pooling_convention", "full")];
            assert_eq!(shape(&f, &[1, 1, 7, 7]).unwrap(), vec![1, 1, full, full]);
        }
        assert_eq!(
            shape(&[("kernel", "(2, 2)")], &[1, 1, 5, 5]).unwrap(),
            vec![1, 1, 4, 4]
        );
        assert_eq!(
            shape(&[("kernel", "(6, 6)"), ("pad", "(1, 1)")], &[1, 1, 5, 5]).unwrap(),
            vec![1, 1, 2, 2]
        );
        let g = [("global_pool", "True"), ("kernel", "(2,)")];
        assert_eq!(shape(&g, &[1, 1, 5, 5]).unwrap(), vec![1, 1, 1, 1]);
        assert_eq!(shape(&g, &[1, 2, 5, 5, 5]).unwrap(), vec![1, 2, 1, 1, 1]);
        assert_eq!(shape(&g, &[1, 1, 5]).unwrap(), vec![1, 1, 1]);
        // Errors quote the data shape.
        let e = shape(&g, &[1, 5]).unwrap_err().to_string();
        assert!(e.contains("(1, 5)"), "{e}");
        assert!(shape(&[("kernel", "(2,)")], &[1, 1, 5, 5])
            .unwrap_err()
            .to_string()
            .contains("(1, 1, 5, 5)"));
        assert!(shape(&[("kernel", "(6, 6)")], &[1, 1, 5, 5]).is_err());
        assert!(shape(
            &[
                ("kernel", "(3, 3)"),
                ("stride", "(2, 2)"),
                ("pooling_convention", "full")
            ],
            &[1, 1, 2, 2]
        )
        .is_err());
        assert!(shape(&[("kernel", "(2, 2)"), ("layout", "NCW")], &[1, 1, 5, 5]).is_err());
        assert!(shape(&[("kernel", "(2, 2)"), ("layout", "NCHW")], &[1, 1, 5, 5]).is_ok());
    }

    fn run(attrs: &[(&str, &str)], data_shape: &[usize], data: Vec<f32>) -> Vec<f32> {
        run_op("Pooling", attrs, &[data_shape.to_vec()], &[data])
            .unwrap()
            .1
    }

    #[test]
    fn padding_semantics_by_hand() {
        // Padding never wins a max: all −5 with pad 1 stays −5.
        let y = run(
            &[("kernel", "(3, 3)"), ("pad", "(1, 1)")],
            &[1, 1, 3, 3],
            vec![-5.0; 9],
        );
        assert!(y.iter().all(|&v| v == -5.0), "{y:?}");
        // Ones 6×6, k3 s2 full: every window is all ones.
        let y = run(
            &[
                ("kernel", "(3, 3)"),
                ("stride", "(2, 2)"),
                ("pool_type", "avg"),
                ("pooling_convention", "full"),
            ],
            &[1, 1, 6, 6],
            vec![1.0; 36],
        );
        assert!(y.iter().all(|&v| v == 1.0), "{y:?}");
        // With pad 1: the corner counts 4 real of 9 cells, the last column 2 of 6 (the window
        // is clipped to the padded extent, not the kernel).
        let attrs = [
            ("kernel", "(3, 3)"),
            ("stride", "(2, 2)"),
            ("pad", "(1, 1)"),
            ("pool_type", "avg"),
            ("pooling_convention", "full"),
        ];
        let y = run(&attrs, &[1, 1, 6, 6], vec![1.0; 36]);
        assert_eq!(y.len(), 16);
        assert!((y[0] - 4.0 / 9.0).abs() < 1e-6, "{y:?}");
        assert!((y[3] - 2.0 / 6.0).abs() < 1e-6, "{y:?}");
        // Gluon's MaxPool2D(ceil_mode=True) keeps a trailing window that starts in the padding.
        let y = run(
            &[
                ("kernel", "(2,)"),
                ("stride", "(2,)"),
                ("pad", "(1,)"),
                ("pooling_convention", "full"),
            ],
            &[1, 1, 5],
            vec![1.0; 5],
        );
        assert_eq!(y, [1.0, 1.0, 1.0, -f32::MAX]);
    }

    #[test]
    fn forward_checks_buffers() {
        let op = PoolOp::Pooling(pooling(&[("kernel", "(2, 2)")]).unwrap());
        let x = [0.0; 3];
        let mut y = [0.0; 1];
        let inputs = [View {
            shape: &[1, 1, 2, 2],
            data: &x,
        }];
        let mut outs = [ViewMut {
            shape: &[1, 1, 1, 1],
            data: &mut y,
        }];
        assert!(op
            .forward(&inputs, &mut outs, &mut Scratch::default())
            .is_err());
    }
}
