//! Convolution, Deconvolution and UpSampling (spec §4.2 "Convolution", §4.3 "Deconvolution" /
//! "UpSampling").
//!
//! All three work on channel-first tensors `(N, C, spatial...)` with 1, 2 or 3 spatial axes.
//! Internally every geometry is normalised to three spatial axes `(D, H, W)`: a 1-D op is a 3-D
//! op with `D = H = 1` and a 2-D op one with `D = 1`, so a single set of loops serves all ranks.
//!
//! How they run on the CPU:
//! - **Convolution** lowers each (image, group) to the GEMM `W_g (F/G × C/G·k) · col (C/G·k × P)`
//!   where `col` is the im2col matrix of receptive fields (P = output positions), built and
//!   multiplied in column blocks of whole output rows (see `IM2COL_BLOCK`). A 1×1 kernel with
//!   stride 1 and no padding needs no im2col: the input itself is `col`. Depthwise convolution
//!   (C/G == 1) would be a GEMM with k = kernel size and m = the channel multiplier, a bad fit,
//!   so it has direct kernels instead (see `depthwise`).
//! - **Deconvolution** (transposed convolution) is the adjoint: `col = W_gᵀ · x_g` by GEMM, then
//!   col2im scatters-adds the columns into the (larger) output.
//! - **UpSampling** nearest copies; bilinear is a fixed grouped Deconvolution.

use crate::backend::cpu::gemm::{gemm, MatRef};
use crate::backend::cpu::packed::{gemm_packed, Finish, PackedA};
use crate::backend::cpu::pool;
use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::epilogue::Epilogue;
use crate::ops::winograd::{self, WinogradWeights};
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvOp {
    Convolution(Convolution),
    Deconvolution(Deconvolution),
    UpSampling(UpSampling),
}

/// Largest kernel/stride/dilate/pad/adj value accepted (MXNet stores them as `int`); keeps every
/// index computation far from overflow.
const MAX_WINDOW_VALUE: i64 = i32::MAX as i64;

/// Kernel geometry shared by Convolution and Deconvolution: one entry per spatial axis
/// (1, 2 or 3 of them, the length of `kernel`).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kernel: Vec<usize>,
    /// Default (absent or `()`): 1 on every axis.
    pub stride: Vec<usize>,
    /// Default (absent or `()`): 1 on every axis.
    pub dilate: Vec<usize>,
    /// Symmetric zero padding. Default (absent or `()`): 0 on every axis.
    pub pad: Vec<usize>,
}

impl Window {
    /// Parses `kernel` (required, 1 to 3 positive values), `stride`, `dilate` and `pad`, whose
    /// lengths must match the kernel's (MXNet: "Stride must have the same number of dimensions
    /// with kernel_size").
    fn parse(op: &str, attrs: &Attrs) -> Result<Window> {
        let kernel = attrs
            .ints("kernel")?
            .ok_or_else(|| Error::attr("kernel", "", format!("{op} requires a kernel")))?;
        let raw = attrs.map().get("kernel").cloned().unwrap_or_default();
        if kernel.is_empty() || kernel.len() > 3 {
            return Err(Error::attr(
                "kernel",
                &raw,
                format!(
                    "{}-D {op} is not supported (1-D, 2-D or 3-D only)",
                    kernel.len()
                ),
            ));
        }
        let nd = kernel.len();
        let kernel = to_sizes("kernel", &raw, &kernel, 1)?;
        Ok(Window {
            stride: spatial_tuple(attrs, "stride", nd, 1, 1)?,
            dilate: spatial_tuple(attrs, "dilate", nd, 1, 1)?,
            pad: spatial_tuple(attrs, "pad", nd, 0, 0)?,
            kernel,
        })
    }

    /// Number of spatial axes.
    pub fn ndim(&self) -> usize {
        self.kernel.len()
    }

    /// Multiply-adds per output position and input channel: the product of the kernel dims.
    fn kernel_volume(&self) -> usize {
        self.kernel.iter().fold(1usize, |v, &k| v.saturating_mul(k))
    }
}

/// Converts parsed ints to sizes, each at least `min` and at most [`MAX_WINDOW_VALUE`].
fn to_sizes(key: &str, raw: &str, values: &[i64], min: i64) -> Result<Vec<usize>> {
    values
        .iter()
        .map(|&v| {
            if v < min || v > MAX_WINDOW_VALUE {
                Err(Error::attr(
                    key,
                    raw,
                    format!("every value must be in [{min}, {MAX_WINDOW_VALUE}]"),
                ))
            } else {
                Ok(v as usize)
            }
        })
        .collect()
}

/// A per-axis tuple attribute: absent or `()` gives `default` on all `nd` axes; otherwise it
/// must have exactly `nd` values, each `>= min`.
fn spatial_tuple(
    attrs: &Attrs,
    key: &str,
    nd: usize,
    default: usize,
    min: i64,
) -> Result<Vec<usize>> {
    match attrs.ints(key)? {
        None => Ok(vec![default; nd]),
        Some(v) if v.is_empty() => Ok(vec![default; nd]),
        Some(v) => {
            let raw = attrs.map().get(key).cloned().unwrap_or_default();
            if v.len() != nd {
                return Err(Error::attr(
                    key,
                    &raw,
                    format!("must have the same number of dimensions as the kernel ({nd})"),
                ));
            }
            to_sizes(key, &raw, &v, min)
        }
    }
}

/// Reads `layout` (default: by rank). Channel-first layouts must match the kernel's rank;
/// channel-last ones (written by Gluon `Conv2D(layout='NHWC')`) are not supported.
fn parse_layout(attrs: &Attrs, nd: usize) -> Result<()> {
    let layout = attrs.choice(
        "layout",
        &["None", "NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC"],
        "None",
    )?;
    match layout {
        "None" => Ok(()),
        "NWC" | "NHWC" | "NDHWC" => Err(Error::Unsupported(format!(
            "layout {layout}: only channel-first layouts (NCW, NCHW, NCDHW) are supported"
        ))),
        l if l.len() == nd + 2 => Ok(()),
        l => Err(Error::attr(
            "layout",
            l,
            format!("does not match a {nd}-D kernel"),
        )),
    }
}

/// Reads a positive count attribute (`num_filter`, `num_group`).
fn positive(attrs: &Attrs, key: &str, default: Option<i64>) -> Result<usize> {
    let v = match default {
        Some(d) => attrs.int_or(key, d)?,
        None => attrs.int_req(key)?,
    };
    if !(1..=MAX_WINDOW_VALUE).contains(&v) {
        let raw = attrs.map().get(key).cloned().unwrap_or_default();
        return Err(Error::attr(key, &raw, "must be a positive integer"));
    }
    Ok(v as usize)
}

/// Fills an unknown parameter shape with `expected`, or checks a known one against it.
pub(crate) fn expect_param_shape(
    slot: &mut Option<Vec<usize>>,
    expected: Vec<usize>,
    what: &str,
) -> Result<()> {
    match slot {
        None => {
            *slot = Some(expected);
            Ok(())
        }
        Some(given) if *given == expected => Ok(()),
        Some(given) => Err(Error::shape(format!(
            "{what} has shape {} but {} is expected",
            fmt_shape(given),
            fmt_shape(&expected)
        ))),
    }
}

/// Checks the number of input slots the graph gave against the operator's.
pub(crate) fn expect_inputs(op: &str, inputs: &[Option<Vec<usize>>], n: usize) -> Result<()> {
    if inputs.len() != n {
        return Err(Error::shape(format!(
            "{op} takes {n} inputs, got {}",
            inputs.len()
        )));
    }
    Ok(())
}

/// The shape of data input `i`, which must be known.
/// Checks that a fused residual (input `i`) has the output's shape (a Convolution's or a
/// FullyConnected's, see [`crate::optimize::fuse_epilogues`]).
pub(crate) fn check_residual(
    op: &str,
    inputs: &[Option<Vec<usize>>],
    i: usize,
    out: &[usize],
) -> Result<()> {
    let residual = data_shape(op, inputs, i)?;
    if residual != out {
        return Err(Error::shape(format!(
            "{op}: the fused residual {} does not match the output {}",
            fmt_shape(&residual),
            fmt_shape(out)
        )));
    }
    Ok(())
}

pub(crate) fn data_shape(op: &str, inputs: &[Option<Vec<usize>>], i: usize) -> Result<Vec<usize>> {
    inputs
        .get(i)
        .cloned()
        .flatten()
        .ok_or_else(|| Error::shape(format!("{op}: the shape of input {i} is unknown")))
}

/// Checks that a tensor handed to `forward` has the planned number of elements.
pub(crate) fn check_len(op: &str, what: &str, data: &[f32], shape: &[usize]) -> Result<()> {
    let n = numel(shape);
    if data.len() != n {
        return Err(Error::shape(format!(
            "{op}: {what} holds {} values but shape {} needs {n}",
            data.len(),
            fmt_shape(shape)
        )));
    }
    Ok(())
}

/// Checks that a tensor handed to `forward` holds `expected` values (no shape vector needed).
pub(crate) fn check_count(op: &str, what: &str, data: &[f32], expected: usize) -> Result<()> {
    if data.len() != expected {
        return Err(Error::shape(format!(
            "{op}: {what} holds {} values but {expected} are expected",
            data.len()
        )));
    }
    Ok(())
}

/// One convolution-like op's sizes, with the spatial axes padded to three `(D, H, W)`.
/// `input`/`output` are the op's input and output spatial sizes (for Deconvolution the input is
/// the smaller one).
/// Resolved once here and read by both backends (the WebGPU lowering fills its uniform block
/// from it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geom {
    pub(crate) input: [usize; 3],
    pub(crate) output: [usize; 3],
    pub(crate) kernel: [usize; 3],
    pub(crate) stride: [usize; 3],
    pub(crate) dilate: [usize; 3],
    pub(crate) pad: [usize; 3],
}

impl Geom {
    pub(crate) fn input_size(&self) -> usize {
        self.input.iter().product()
    }
    pub(crate) fn output_size(&self) -> usize {
        self.output.iter().product()
    }
    pub(crate) fn kernel_size(&self) -> usize {
        self.kernel.iter().product()
    }
    /// A 1×1(×1) kernel with stride 1 and no padding: the input is already the im2col matrix.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1; 3] && self.stride == [1; 3] && self.pad == [0; 3]
    }
}

/// Left-pads a per-axis tuple to three axes with `fill`.
fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// The range of positions `i` in `0..count` whose target `i*stride + offset` lies in `0..len`.
/// Used both ways: im2col (i = output position, target = input position, offset = tap·dilate −
/// pad) and col2im (i = input position of a deconvolution, target = output position).
fn valid_range(count: usize, len: usize, stride: usize, offset: i64) -> std::ops::Range<usize> {
    let (count, len, stride) = (count as i64, len as i64, stride as i64);
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + stride - 1) / stride
    };
    let hi = if len - offset <= 0 {
        0
    } else {
        (len - offset + stride - 1) / stride
    };
    let hi = hi.min(count);
    let lo = lo.min(hi);
    lo as usize..hi as usize
}

/// `target = i*stride + offset` for `i` in a range from [`valid_range`] (so non-negative).
fn target(i: usize, stride: usize, offset: i64) -> usize {
    (i as i64 * stride as i64 + offset) as usize
}

// ---------------------------------------------------------------------------------------------
// Convolution
// ---------------------------------------------------------------------------------------------

/// A convolution weight prepared once for the CPU kernels ([`Convolution::prepare_weights`]).
#[derive(Debug)]
pub enum PreparedWeights {
    /// Transformed for Winograd (3×3, stride 1).
    Winograd(WinogradWeights),
    /// Packed for the GEMM, one `(F/groups) × (C/groups · kernel)` matrix per group.
    Gemm(Vec<PackedA>),
}

impl PreparedWeights {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match self {
            PreparedWeights::Winograd(u) => u.bytes(),
            PreparedWeights::Gemm(p) => p.iter().map(PackedA::bytes).sum(),
        }
    }

    /// The algorithm, for profiles.
    pub fn name(&self) -> &'static str {
        match self {
            PreparedWeights::Winograd(u) if u.tiles.m == 2 => "winograd F(2,3)",
            PreparedWeights::Winograd(_) => "winograd F(4,3)",
            PreparedWeights::Gemm(_) => "gemm, packed",
        }
    }
}

/// `Convolution` (spec §4.2): N-D cross-correlation (no kernel flip) with zero padding.
///
/// - inputs `data (N, C, spatial...)`, `weight (F, C/G, k...)`, `bias (F,)` unless `no_bias`;
/// - attributes: `kernel` (required), `num_filter` F (required), `stride=()`→1s,
///   `dilate=()`→1s, `pad=()`→0s, `num_group` G = 1, `no_bias=False`, `layout=None` (NCW, NCHW
///   or NCDHW by rank; channel-last layouts are unsupported), `workspace`/`cudnn_*` ignored;
/// - output `(N, F, o...)` with `o = floor((i + 2p − (d·(k−1)+1)) / s) + 1`;
/// - group g reads input channels `[g·C/G, (g+1)·C/G)` and writes output channels
///   `[g·F/G, (g+1)·F/G)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Convolution {
    pub window: Window,
    pub num_filter: usize,
    pub num_group: usize,
    pub no_bias: bool,
    /// Ops fused into the store by [`crate::optimize::fuse_epilogues`] (none when parsed). With
    /// a residual, the op has one more input after the bias: `residual`, of the output's shape.
    pub epilogue: Epilogue,
}

impl Convolution {
    fn parse(attrs: &Attrs) -> Result<Convolution> {
        let window = Window::parse("Convolution", attrs)?;
        parse_layout(attrs, window.ndim())?;
        Ok(Convolution {
            num_filter: positive(attrs, "num_filter", None)?,
            num_group: positive(attrs, "num_group", Some(1))?,
            no_bias: attrs.bool_or("no_bias", false)?,
            window,
            epilogue: Epilogue::default(),
        })
    }

    /// Checks the data shape and computes the geometry.
    pub(crate) fn geometry(&self, data: &[usize]) -> Result<Geom> {
        let w = &self.window;
        let nd = w.ndim();
        if data.len() != nd + 2 {
            return Err(Error::shape(format!(
                "Convolution with a {nd}-D kernel needs {}-D data (N, C, ...), got {}",
                nd + 2,
                fmt_shape(data)
            )));
        }
        let channels = data[1];
        if channels % self.num_group != 0 || self.num_filter % self.num_group != 0 {
            return Err(Error::shape(format!(
                "Convolution: num_group {} must divide both the input channels of data {} and num_filter {}",
                self.num_group,
                fmt_shape(data),
                self.num_filter
            )));
        }
        let mut output = [1usize; 3];
        for a in 0..nd {
            // u128: no overflow for any usize dims and int-range attributes.
            let padded = data[2 + a] as u128 + 2 * w.pad[a] as u128;
            let dilated_kernel = (w.dilate[a] as u128) * (w.kernel[a] as u128 - 1) + 1;
            if dilated_kernel > padded {
                return Err(Error::shape(format!(
                    "Convolution: kernel {} (dilated to {dilated_kernel}) exceeds the padded input ({padded}) on spatial axis {a} of data {}",
                    fmt_shape(&w.kernel),
                    fmt_shape(data)
                )));
            }
            let o = (padded - dilated_kernel) / w.stride[a] as u128 + 1;
            output[3 - nd + a] = usize::try_from(o).map_err(|_| {
                Error::shape(format!(
                    "Convolution: data {} is too large",
                    fmt_shape(data)
                ))
            })?;
        }
        Ok(Geom {
            input: to3(&data[2..], 1),
            output,
            kernel: to3(&w.kernel, 1),
            stride: to3(&w.stride, 1),
            dilate: to3(&w.dilate, 1),
            pad: to3(&w.pad, 0),
        })
    }

    /// Scratch elements `forward` takes for `data` (saturating): the depthwise kernels' padded
    /// planes, or one im2col block.
    fn scratch_len(&self, data: &[usize]) -> usize {
        let Ok(g) = self.geometry(data) else { return 0 };
        let channels = data[1];
        let sat = |v: u128| usize::try_from(v).unwrap_or(usize::MAX);
        let [_, h_in, w_in] = g.input.map(|v| v as u128);
        let [_, h_out, w_out] = g.output.map(|v| v as u128);
        let (pad, stride) = (g.pad.map(|v| v as u128), g.stride.map(|v| v as u128));
        if self.num_group > 1 && channels / self.num_group == 1 {
            let planar = g.input[0] == 1 && g.kernel[0] == 1 && g.pad[0] == 0;
            if !planar {
                return 0;
            }
            let (h_pad, w_pad) = (h_in + 2 * pad[1], w_in + 2 * pad[2]);
            if g.stride == [1; 3] {
                let tail = (g.kernel[2] as u128 - 1) * g.dilate[2] as u128;
                return sat(h_pad * w_pad + tail + h_out * w_pad);
            }
            let phase_len = w_pad.div_ceil(stride[2]);
            return sat((h_pad + 1) * stride[2] * phase_len);
        }
        if g.is_pointwise() {
            return 0;
        }
        // Winograd (when it applies) or im2col, whichever is larger: the switch is the backend's.
        let wino = self.winograd_tiles(data).map_or(0, |t| {
            winograd::scratch_len(t, channels, self.num_filter, &winograd_dims(&g, data[0]))
        });
        let k = (channels / self.num_group) as u128 * g.kernel_size() as u128;
        let lines = g.output[0] as u128 * h_out;
        let per_block = (IM2COL_BLOCK as u128 / (k * w_out).max(1)).clamp(1, lines.max(1));
        sat(k * per_block * w_out).max(wino)
    }

    fn weight_shape(&self, channels: usize) -> Vec<usize> {
        let mut s = vec![self.num_filter, channels / self.num_group];
        s.extend_from_slice(&self.window.kernel);
        s
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let params = if self.no_bias { 2 } else { 3 };
        expect_inputs(
            "Convolution",
            inputs,
            params + usize::from(self.epilogue.residual),
        )?;
        let data = data_shape("Convolution", inputs, 0)?;
        let g = self.geometry(&data)?;
        expect_param_shape(
            &mut inputs[1],
            self.weight_shape(data[1]),
            "Convolution weight",
        )?;
        if !self.no_bias {
            expect_param_shape(&mut inputs[2], vec![self.num_filter], "Convolution bias")?;
        }
        let mut out = vec![data[0], self.num_filter];
        out.extend_from_slice(&g.output[3 - self.window.ndim()..]);
        if self.epilogue.residual {
            check_residual("Convolution", inputs, params, &out)?;
        }
        Ok(vec![out])
    }

    /// The Winograd variant for `data`, or None when this layer runs im2col + GEMM: 2-D, 3×3,
    /// stride 1, dilation 1, one group, and big enough that Winograd wins by measurement.
    pub fn winograd_tiles(&self, data: &[usize]) -> Option<&'static winograd::Tiles> {
        let g = self.geometry(data).ok()?;
        let plain = winograd::AVAILABLE
            && self.window.ndim() == 2
            && g.kernel == [1, 3, 3]
            && g.stride == [1; 3]
            && g.dilate == [1; 3]
            && self.num_group == 1;
        // Measured natively, one thread (winograd.rs's `bench_resnet_layers`, ResNet-18's layers,
        // against im2col with the weight packed once): F(4,3) wins on 56² outputs (64ch: 3.2
        // vs 3.8 ms; F(2,3) 3.4), F(2,3) on 28² (128ch: 2.8 vs 3.5 ms), 14² (256ch: 2.8 vs
        // 3.4 ms) and 7² (512ch: 4.3 vs 4.8 ms; F(4,3) 10 ms, its tiles overhang 7² by 1/7).
        let (out, big) = (
            g.output[1] * g.output[2],
            data[1].min(self.num_filter) >= 16,
        );
        match out {
            _ if !plain || !big => None,
            2500.. => Some(&winograd::F4),
            49.. => Some(&winograd::F2),
            _ => None,
        }
    }

    /// The weight in the form the CPU kernel for `data` wants, computed once per plan step by
    /// the CPU backend and passed to [`Convolution::forward_with`]: Winograd-transformed (see
    /// [`Convolution::winograd_tiles`]; only when `winograd`), or packed for the GEMM. None for
    /// depthwise convolutions (no GEMM) and weights of the wrong size.
    pub fn prepare_weights(
        &self,
        data: &[usize],
        weight: &[f32],
        winograd: bool,
    ) -> Option<PreparedWeights> {
        let channels = *data.get(1)?;
        let g = self.geometry(data).ok()?;
        let groups = self.num_group;
        let (cg, fg) = (channels / groups, self.num_filter / groups);
        let k = cg * g.kernel_size();
        if weight.len() != self.num_filter * k || (groups > 1 && cg == 1) {
            return None;
        }
        if let Some(tiles) = self.winograd_tiles(data).filter(|_| winograd) {
            return Some(PreparedWeights::Winograd(WinogradWeights::new(
                tiles,
                weight,
                self.num_filter,
                channels,
            )));
        }
        Some(PreparedWeights::Gemm(
            weight
                .chunks_exact((fg * k).max(1))
                .take(groups)
                .map(|w_g| PackedA::new(MatRef::row_major(w_g, k), fg, k))
                .collect(),
        ))
    }

    /// Which kernel [`Convolution::forward_with`] runs for `data` without Winograd weights
    /// ("depthwise", "1x1 gemm" or "im2col gemm"; for profiles).
    pub fn algorithm_name(&self, data: &[usize]) -> &'static str {
        let cg = data.get(1).map_or(0, |c| c / self.num_group);
        match self.geometry(data) {
            _ if self.num_group > 1 && cg == 1 => "depthwise",
            Ok(g) if g.is_pointwise() => "1x1 gemm",
            _ => "im2col gemm",
        }
    }

    /// [`Convolution`]'s forward pass; with `prepared` (from [`Convolution::prepare_weights`]
    /// for this data shape) the Winograd kernel replaces im2col + GEMM, or the GEMMs read the
    /// packed weight instead of packing it.
    pub fn forward_with(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
        prepared: Option<&PreparedWeights>,
    ) -> Result<()> {
        let (inputs, residual) = match (self.epilogue.residual, inputs.split_last()) {
            (true, Some((r, rest))) => (rest, Some(r.data)),
            _ => (inputs, None),
        };
        let (x, w, bias, y) = unpack("Convolution", inputs, outputs, self.no_bias)?;
        let g = self.geometry(x.shape)?;
        let (batch, channels) = (x.shape[0], x.shape[1]);
        let filters = self.num_filter;
        let groups = self.num_group;
        let (cg, fg) = (channels / groups, filters / groups);
        let (in_size, out_size) = (g.input_size(), g.output_size());
        check_len("Convolution", "data", x.data, x.shape)?;
        check_count(
            "Convolution",
            "weight",
            w.data,
            filters * cg * g.kernel_size(),
        )?;
        check_count("Convolution", "output", y.data, batch * filters * out_size)?;
        if let Some(b) = bias {
            check_count("Convolution", "bias", b.data, filters)?;
        }
        if let Some(r) = residual {
            check_count("Convolution", "residual", r, y.data.len())?;
        }
        let epilogue = self.epilogue;

        let k = cg * g.kernel_size();
        if y.data.is_empty() {
            return Ok(());
        }
        let (wino, packed) = match prepared {
            Some(PreparedWeights::Winograd(u)) => (Some(u), None),
            Some(PreparedWeights::Gemm(p)) => (None, Some(p)),
            None => (None, None),
        };
        // Packed weights of the right sizes, one per group.
        let packed = packed
            .filter(|p| p.len() == groups && p.iter().all(|a| a.rows() == fg && a.depth() == k));
        if let Some(u) =
            wino.filter(|u| winograd::AVAILABLE && u.channels == channels && u.filters == filters)
        {
            let finish = Finish {
                bias: bias.map(|b| b.data),
                epilogue,
                residual,
            };
            winograd::conv3x3(
                x.data,
                u,
                y.data,
                &winograd_dims(&g, batch),
                &finish,
                scratch,
            );
            return Ok(());
        }
        // With packed weights (and Winograd) the bias and the epilogue are applied as the output
        // is stored; otherwise the output starts as the bias (or zeros: the depthwise kernel
        // adds to it).
        if packed.is_none() {
            fill_bias(y.data, bias.map(|b| b.data), filters, out_size);
        }
        let beta = if bias.is_some() { 1.0 } else { 0.0 };
        if groups > 1 && cg == 1 {
            depthwise(x.data, w.data, y.data, channels, fg, &g, scratch);
            epilogue.apply(y.data, residual);
            return Ok(());
        }
        let w_out = g.output[2];
        let lines = g.output[0] * g.output[1];
        let lines_per_block = (IM2COL_BLOCK / (k * w_out).max(1)).clamp(1, lines.max(1));
        let col = Scratch::take(
            &mut scratch.a,
            if g.is_pointwise() {
                0
            } else {
                k * lines_per_block * w_out
            },
        );
        for n in 0..batch {
            for grp in 0..groups {
                let x_g = &x.data[(n * channels + grp * cg) * in_size..][..cg * in_size];
                let a = MatRef::row_major(&w.data[grp * fg * k..][..fg * k], k);
                let first_out = (n * filters + grp * fg) * out_size;
                let y_g = &mut y.data[first_out..][..fg * out_size];
                let r_g = residual.map(|r| &r[first_out..][..fg * out_size]);
                let packed_g = packed.map(|p| &p[grp]);
                let finish = |first: usize| Finish {
                    bias: bias.map(|b| &b.data[grp * fg..][..fg]),
                    epilogue,
                    residual: r_g.map(|r| &r[first..]),
                };
                if g.is_pointwise() {
                    // The input planes are the im2col matrix.
                    let b = MatRef::row_major(x_g, in_size);
                    match packed_g {
                        Some(p) => gemm_packed(p, out_size, b, 0.0, y_g, out_size, &finish(0)),
                        None => {
                            gemm(fg, k, out_size, 1.0, a, b, beta, y_g, out_size);
                            epilogue.apply(y_g, r_g);
                        }
                    }
                    continue;
                }
                for first in (0..lines).step_by(lines_per_block) {
                    let block = first..(first + lines_per_block).min(lines);
                    let cols = block.len() * w_out;
                    let col = &mut col[..k * cols];
                    im2col_parallel(x_g, cg, &g, block, col);
                    // y_g[:, first·Wo ..][.. cols] = W_g · col
                    let b = MatRef::row_major(col, cols);
                    let y_block = &mut y_g[first * w_out..];
                    if let Some(p) = packed_g {
                        let finish = finish(first * w_out);
                        gemm_packed(p, cols, b, 0.0, y_block, out_size, &finish);
                        continue;
                    }
                    gemm(fg, k, cols, 1.0, a, b, beta, y_block, out_size);
                    // The epilogue runs on the block just computed, while it is in cache.
                    if !epilogue.is_identity() {
                        for f in 0..fg {
                            let span =
                                f * out_size + first * w_out..f * out_size + first * w_out + cols;
                            epilogue.apply(&mut y_g[span.clone()], r_g.map(|r| &r[span]));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn flops(&self, inputs: &[Vec<usize>], outputs: &[Vec<usize>]) -> u64 {
        let (Some(x), Some(y)) = (inputs.first(), outputs.first()) else {
            return 0;
        };
        let channels_per_group = x.get(1).copied().unwrap_or(0) / self.num_group;
        (2 * numel(y) as u64)
            .saturating_mul(channels_per_group as u64)
            .saturating_mul(self.window.kernel_volume() as u64)
    }
}

fn winograd_dims(g: &Geom, batch: usize) -> winograd::Dims {
    winograd::Dims {
        batch,
        h: g.input[1],
        w: g.input[2],
        pad_h: g.pad[1],
        pad_w: g.pad[2],
    }
}

/// Splits `(data, weight[, bias])` and the output, checking the counts.
#[allow(clippy::type_complexity)]
fn unpack<'o, 'a, 'b>(
    op: &str,
    inputs: &[View<'a>],
    outputs: &'o mut [ViewMut<'b>],
    no_bias: bool,
) -> Result<(View<'a>, View<'a>, Option<View<'a>>, &'o mut ViewMut<'b>)> {
    let want = if no_bias { 2 } else { 3 };
    if inputs.len() != want || outputs.len() != 1 {
        return Err(Error::shape(format!(
            "{op}: expected {want} inputs and 1 output, got {} and {}",
            inputs.len(),
            outputs.len()
        )));
    }
    let bias = if no_bias { None } else { Some(inputs[2]) };
    Ok((inputs[0], inputs[1], bias, &mut outputs[0]))
}

/// Writes the bias of each channel over its `plane` values (or zeros without bias), for every
/// image of the batch. `y` is `(N, channels, plane)`.
fn fill_bias(y: &mut [f32], bias: Option<&[f32]>, channels: usize, plane: usize) {
    if plane == 0 || channels == 0 {
        return;
    }
    match bias {
        None => y.fill(0.0),
        Some(b) => {
            for image in y.chunks_exact_mut(channels * plane) {
                for (dst, &v) in image.chunks_exact_mut(plane).zip(b) {
                    dst.fill(v);
                }
            }
        }
    }
}

/// The im2col matrix is built and multiplied in column blocks of about this many values (2 MB)
/// so that the first layers of a CNN (ResNet's 7×7 stem: 147 × 12544 values, 7 MB) do not need
/// a huge scratch buffer. Measured on ResNet-shaped layers, blocks from 1 MB up run as fast as
/// one big GEMM; 256 KB blocks made the GEMMs too narrow and cost 25%.
const IM2COL_BLOCK: usize = 512 * 1024;

/// [`im2col`] with the channels split among the CPU pool's threads (each channel's rows of
/// `col` are contiguous); one thread for small blocks.
fn im2col_parallel(
    input: &[f32],
    channels: usize,
    g: &Geom,
    lines: std::ops::Range<usize>,
    col: &mut [f32],
) {
    let threads = pool::threads();
    let rows_len = g.kernel_size() * lines.len() * g.output[2];
    let in_size = g.input_size();
    if threads <= 1 || channels < 2 || col.len() < PARALLEL_MIN_VALUES || rows_len == 0 {
        im2col(input, channels, g, lines, col);
        return;
    }
    let per_task = channels.div_ceil(threads * 2);
    let col = &mut col[..channels * rows_len];
    pool::for_each_chunk_mut(col, per_task * rows_len, |i, part| {
        let first = i * per_task;
        let count = part.len() / rows_len;
        im2col(&input[first * in_size..], count, g, lines.clone(), part);
    });
}

/// Kernels with outputs smaller than this many values run on one thread.
const PARALLEL_MIN_VALUES: usize = 16 * 1024;

/// im2col for the output lines `lines` (a line is one output row `(od, oh)`, `Wo` positions):
/// lays out the receptive fields of `input` (`channels` planes of `g.input` size) as a
/// `(channels·kD·kH·kW) × (lines·Wo)` row-major matrix `col`. Row `(c, kd, kh, kw)` holds, for
/// every output position, the input value under that kernel tap (0 in the padding).
fn im2col(
    input: &[f32],
    channels: usize,
    g: &Geom,
    lines: std::ops::Range<usize>,
    col: &mut [f32],
) {
    let [d_in, h_in, w_in] = g.input;
    let [_, h_out, w_out] = g.output;
    let [k_d, k_h, k_w] = g.kernel;
    let [s_d, s_h, s_w] = g.stride;
    let in_size = g.input_size();
    let block = lines.len() * w_out;
    if block == 0 || in_size == 0 {
        return;
    }
    let mut rows = col.chunks_exact_mut(block);
    for plane in input.chunks_exact(in_size).take(channels) {
        for kd in 0..k_d {
            let off_d = kd as i64 * g.dilate[0] as i64 - g.pad[0] as i64;
            let d_range = valid_range(g.output[0], d_in, s_d, off_d);
            for kh in 0..k_h {
                let off_h = kh as i64 * g.dilate[1] as i64 - g.pad[1] as i64;
                let h_range = valid_range(h_out, h_in, s_h, off_h);
                for kw in 0..k_w {
                    let off_w = kw as i64 * g.dilate[2] as i64 - g.pad[2] as i64;
                    let w_range = valid_range(w_out, w_in, s_w, off_w);
                    let Some(row) = rows.next() else { return };
                    for (line, out_row) in lines.clone().zip(row.chunks_exact_mut(w_out)) {
                        let (od, oh) = (line / h_out, line % h_out);
                        if !d_range.contains(&od) || !h_range.contains(&oh) || w_range.is_empty() {
                            out_row.fill(0.0);
                            continue;
                        }
                        let (id, ih) = (target(od, s_d, off_d), target(oh, s_h, off_h));
                        let in_row = &plane[(id * h_in + ih) * w_in..][..w_in];
                        out_row[..w_range.start].fill(0.0);
                        out_row[w_range.end..].fill(0.0);
                        let dst = &mut out_row[w_range.clone()];
                        let start = target(w_range.start, s_w, off_w);
                        if s_w == 1 {
                            dst.copy_from_slice(&in_row[start..start + dst.len()]);
                        } else {
                            for (o, i) in dst.iter_mut().zip(in_row[start..].iter().step_by(s_w)) {
                                *o = *i;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Direct depthwise convolution: one input channel per group, `multiplier` filters per input
/// channel (filter `c·multiplier + m` reads channel c). `y` already holds the bias (or zeros).
///
/// 1-D and 2-D layers work on zero-padded copies of whole planes ([`depthwise_plane_s1`],
/// [`depthwise_plane_strided`]); 3-D ones go row by row ([`depthwise_row`]).
fn depthwise(
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    channels: usize,
    multiplier: usize,
    g: &Geom,
    scratch: &mut Scratch,
) {
    let out_size = g.output_size();
    let planes = y.len().checked_div(out_size).unwrap_or(0);
    let threads = pool::threads();
    if threads <= 1 || planes < 2 || y.len() < PARALLEL_MIN_VALUES {
        depthwise_planes(x, w, y, 0, channels, multiplier, g, scratch);
        return;
    }
    // Output planes are independent: blocks of them go to the pool's threads, each with its
    // own scratch (one padded plane).
    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
    }
    let per_task = planes.div_ceil(threads * 4);
    pool::for_each_chunk_mut(y, per_task * out_size, |i, part| {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            depthwise_planes(x, w, part, i * per_task, channels, multiplier, g, &mut s);
        });
    });
}

/// Output planes `first ..` of the depthwise convolution (as many as `y` holds).
#[allow(clippy::too_many_arguments)]
fn depthwise_planes(
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    first: usize,
    channels: usize,
    multiplier: usize,
    g: &Geom,
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { depthwise_avx2(x, w, y, first, channels, multiplier, g, scratch) };
        return;
    }
    depthwise_body(x, w, y, first, channels, multiplier, g, scratch);
}

/// [`depthwise_body`] compiled for AVX2: the loops auto-vectorise 8 lanes wide instead of the
/// x86-64 baseline's 4 (depthwise layers are much of MobileNet's CPU time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn depthwise_avx2(
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    first: usize,
    channels: usize,
    multiplier: usize,
    g: &Geom,
    scratch: &mut Scratch,
) {
    depthwise_body(x, w, y, first, channels, multiplier, g, scratch);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn depthwise_body(
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    first: usize,
    channels: usize,
    multiplier: usize,
    g: &Geom,
    scratch: &mut Scratch,
) {
    let [d_in, h_in, w_in] = g.input;
    let [d_out, h_out, w_out] = g.output;
    let [k_d, k_h, k_w] = g.kernel;
    let [s_d, s_h, _] = g.stride;
    let (in_size, out_size, taps) = (g.input_size(), g.output_size(), g.kernel_size());
    if in_size == 0 || out_size == 0 {
        return;
    }
    // 1-D and 2-D layers work on whole zero-padded planes; 3-D ones go row by row.
    // (A 3-D layer with D = 1, a 1-deep kernel and no depth padding is planar too.)
    let planar = d_in == 1 && k_d == 1 && g.pad[0] == 0;
    let (h_pad, w_pad) = (h_in + 2 * g.pad[1], w_in + 2 * g.pad[2]);
    let stride_1 = g.stride == [1; 3];
    let (padded, wide) = match (planar, stride_1) {
        (true, true) => (
            Scratch::take(&mut scratch.a, h_pad * w_pad + (k_w - 1) * g.dilate[2]),
            Scratch::take(&mut scratch.b, h_out * w_pad),
        ),
        (true, false) => {
            let phase_len = w_pad.div_ceil(g.stride[2]);
            (
                Scratch::take(&mut scratch.a, h_pad * g.stride[2] * phase_len),
                Scratch::take(&mut scratch.b, g.stride[2] * phase_len),
            )
        }
        (false, _) => (
            Scratch::take(&mut scratch.a, 0),
            Scratch::take(&mut scratch.b, 0),
        ),
    };
    let filters = channels * multiplier;
    for (i, y_plane) in y.chunks_exact_mut(out_size).enumerate() {
        let (n, f) = ((first + i) / filters, (first + i) % filters);
        {
            let c = f / multiplier;
            let plane = &x[(n * channels + c) * in_size..][..in_size];
            let w_f = &w[f * taps..][..taps];
            if planar && stride_1 {
                depthwise_plane_s1(plane, w_f, y_plane, g, padded, wide);
                continue;
            }
            if planar {
                depthwise_plane_strided(plane, w_f, y_plane, g, padded, wide);
                continue;
            }
            for kd in 0..k_d {
                let off_d = kd as i64 * g.dilate[0] as i64 - g.pad[0] as i64;
                for od in valid_range(d_out, d_in, s_d, off_d) {
                    let id = target(od, s_d, off_d);
                    for kh in 0..k_h {
                        let off_h = kh as i64 * g.dilate[1] as i64 - g.pad[1] as i64;
                        let kernel_row = &w_f[(kd * k_h + kh) * k_w..][..k_w];
                        for oh in valid_range(h_out, h_in, s_h, off_h) {
                            let ih = target(oh, s_h, off_h);
                            let in_row = &plane[(id * h_in + ih) * w_in..][..w_in];
                            let out_row = &mut y_plane[(od * h_out + oh) * w_out..][..w_out];
                            depthwise_row(out_row, in_row, kernel_row, g);
                        }
                    }
                }
            }
        }
    }
}

/// One stride-1 2-D depthwise plane, computed on a zero-padded copy of the input (`padded`,
/// rows `Wp = W + 2·pw` wide) so that no tap needs bounds logic. Seen as one flat array, output
/// row `oh` of width `Wp` is `Σ_taps w · padded[(oh·Wp + ow) + kh·dh·Wp + kw·dw]`, so each
/// kernel row is a single long pass over `Ho·Wp` values (into `wide`); the last
/// `(kw−1)·dw` columns of each wide row are garbage and are dropped when adding into `y`.
#[inline(always)]
fn depthwise_plane_s1(
    plane: &[f32],
    w_f: &[f32],
    y_plane: &mut [f32],
    g: &Geom,
    padded: &mut [f32],
    wide: &mut [f32],
) {
    let [_, h_in, w_in] = g.input;
    let [_, h_out, w_out] = g.output;
    let [_, k_h, k_w] = g.kernel;
    let [_, d_h, d_w] = g.dilate;
    let [_, p_h, p_w] = g.pad;
    let wp = w_in + 2 * p_w;
    // Zero-padded copy (plus a zero tail read by the garbage columns of the last row).
    padded[..p_h * wp].fill(0.0);
    for (dst, src) in padded[p_h * wp..]
        .chunks_exact_mut(wp)
        .zip(plane.chunks_exact(w_in))
    {
        dst[..p_w].fill(0.0);
        dst[p_w..p_w + w_in].copy_from_slice(src);
        dst[p_w + w_in..].fill(0.0);
    }
    padded[(p_h + h_in) * wp..].fill(0.0);

    let n = h_out * wp;
    let wide = &mut wide[..n];
    for kh in 0..k_h {
        let base = kh * d_h * wp;
        let kernel_row = &w_f[kh * k_w..][..k_w];
        let first = kh == 0;
        if let &[w0, w1, w2] = kernel_row {
            let (a, b, c) = (
                &padded[base..][..n],
                &padded[base + d_w..][..n],
                &padded[base + 2 * d_w..][..n],
            );
            for (((o, x0), x1), x2) in wide.iter_mut().zip(a).zip(b).zip(c) {
                let sum = w0 * x0 + w1 * x1 + w2 * x2;
                *o = if first { sum } else { *o + sum };
            }
        } else {
            if first {
                wide.fill(0.0);
            }
            for (kw, &weight) in kernel_row.iter().enumerate() {
                for (o, x) in wide.iter_mut().zip(&padded[base + kw * d_w..][..n]) {
                    *o += weight * x;
                }
            }
        }
    }
    for (out_row, wide_row) in y_plane.chunks_exact_mut(w_out).zip(wide.chunks_exact(wp)) {
        for (o, v) in out_row.iter_mut().zip(wide_row) {
            *o += v;
        }
    }
}

/// `out[ow] += Σ_kw kernel_row[kw] · in[ow·s + kw·d − p]` over the taps inside the input row
/// (the 3-D path).
#[inline(always)]
fn depthwise_row(out_row: &mut [f32], in_row: &[f32], kernel_row: &[f32], g: &Geom) {
    let (w_out, w_in, stride) = (out_row.len(), in_row.len(), g.stride[2]);
    for (kw, &weight) in kernel_row.iter().enumerate() {
        let offset = kw as i64 * g.dilate[2] as i64 - g.pad[2] as i64;
        let span = valid_range(w_out, w_in, stride, offset);
        if span.is_empty() {
            continue;
        }
        let start = target(span.start, stride, offset);
        for (o, i) in out_row[span]
            .iter_mut()
            .zip(in_row[start..].iter().step_by(stride))
        {
            *o += weight * i;
        }
    }
}

/// One strided 2-D depthwise plane. The zero-padded input is stored with each row split into
/// its `s_w` column phases (`row[φ], row[φ + s_w], ...`, `q = ceil(Wp / s_w)` values each), so
/// that tap `(kh, kw)` of output row `oh` reads the contiguous run
/// `phase (kw·dw) % s_w of padded row oh·s_h + kh·dh, from column (kw·dw) / s_w`.
/// `row_buf` is scratch for one padded row (`s_w · q` values).
#[inline(always)]
fn depthwise_plane_strided(
    plane: &[f32],
    w_f: &[f32],
    y_plane: &mut [f32],
    g: &Geom,
    phased: &mut [f32],
    row_buf: &mut [f32],
) {
    let [_, h_in, w_in] = g.input;
    let [_, _, w_out] = g.output;
    let [_, k_h, k_w] = g.kernel;
    let [_, s_h, s_w] = g.stride;
    let [_, d_h, d_w] = g.dilate;
    let [_, p_h, p_w] = g.pad;
    let q = (w_in + 2 * p_w).div_ceil(s_w);
    let row_buf = &mut row_buf[..s_w * q];
    for (r, dst) in phased.chunks_exact_mut(s_w * q).enumerate() {
        // Padded row r, then its phases.
        match r.checked_sub(p_h).filter(|&i| i < h_in) {
            Some(i) => {
                row_buf[..p_w].fill(0.0);
                row_buf[p_w..p_w + w_in].copy_from_slice(&plane[i * w_in..][..w_in]);
                row_buf[p_w + w_in..].fill(0.0);
            }
            None => row_buf.fill(0.0),
        }
        if s_w == 2 {
            let (even, odd) = dst.split_at_mut(q);
            for ((e, o), pair) in even
                .iter_mut()
                .zip(odd.iter_mut())
                .zip(row_buf.chunks_exact(2))
            {
                *e = pair[0];
                *o = pair[1];
            }
        } else {
            for (t, chunk) in row_buf.chunks_exact(s_w).enumerate() {
                for (phase, &v) in chunk.iter().enumerate() {
                    dst[phase * q + t] = v;
                }
            }
        }
    }
    let source = |row: usize, kw: usize| {
        let col = kw * d_w;
        &phased[(row * s_w + col % s_w) * q + col / s_w..][..w_out]
    };
    for (oh, out_row) in y_plane.chunks_exact_mut(w_out).enumerate() {
        for kh in 0..k_h {
            let row = oh * s_h + kh * d_h;
            let kernel_row = &w_f[kh * k_w..][..k_w];
            if let &[w0, w1, w2] = kernel_row {
                let (a, b, c) = (source(row, 0), source(row, 1), source(row, 2));
                for (((o, x0), x1), x2) in out_row.iter_mut().zip(a).zip(b).zip(c) {
                    *o += w0 * x0 + w1 * x1 + w2 * x2;
                }
            } else {
                for (kw, &weight) in kernel_row.iter().enumerate() {
                    for (o, x) in out_row.iter_mut().zip(source(row, kw)) {
                        *o += weight * x;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deconvolution
// ---------------------------------------------------------------------------------------------

/// `Deconvolution` (spec §4.3): transposed convolution, the adjoint of Convolution with the
/// same attributes. Every input position scatters `x · W` into a `k`-window of the output.
///
/// - inputs `data (N, C, spatial...)`, `weight (C, F/G, k...)` (transposed relative to
///   Convolution's), `bias (F,)` unless `no_bias`; **`no_bias` defaults to True**;
/// - attributes as Convolution plus `adj=()`→0s (extra output on the high side, must be
///   `< stride`) and `target_shape=()`;
/// - output `o = s·(i−1) + d·(k−1) + 1 − 2p + adj`;
/// - `target_shape` (any entry non-zero): `pad` and `adj` are derived per axis and any explicit
///   `pad`/`adj` is ignored: `total = s·(i−1) + d·(k−1) + 1 − target`, `adj = total % 2`,
///   `pad = ceil(total / 2)` (error when the target is larger than `s·(i−1) + d·(k−1) + 1`,
///   or when the derived adj is not below the stride, as in MXNet).
#[derive(Debug, Clone, PartialEq)]
pub struct Deconvolution {
    pub window: Window,
    pub adj: Vec<usize>,
    /// The requested output spatial size, when any entry of `target_shape` is non-zero.
    pub target_shape: Option<Vec<usize>>,
    pub num_filter: usize,
    pub num_group: usize,
    pub no_bias: bool,
}

impl Deconvolution {
    fn parse(attrs: &Attrs) -> Result<Deconvolution> {
        let window = Window::parse("Deconvolution", attrs)?;
        let nd = window.ndim();
        parse_layout(attrs, nd)?;
        let adj = spatial_tuple(attrs, "adj", nd, 0, 0)?;
        let target_shape = match attrs.ints("target_shape")? {
            Some(t) if t.iter().any(|&v| v != 0) => {
                let raw = attrs.map().get("target_shape").cloned().unwrap_or_default();
                // MXNet reads the first nd entries (and fails on fewer).
                if t.len() < nd {
                    return Err(Error::attr(
                        "target_shape",
                        &raw,
                        format!("needs {nd} values for a {nd}-D kernel"),
                    ));
                }
                Some(to_sizes("target_shape", &raw, &t[..nd], 0)?)
            }
            _ => None,
        };
        if target_shape.is_none() {
            check_adj(&adj, &window.stride)?;
        }
        Ok(Deconvolution {
            num_filter: positive(attrs, "num_filter", None)?,
            num_group: positive(attrs, "num_group", Some(1))?,
            no_bias: attrs.bool_or("no_bias", true)?,
            window,
            adj,
            target_shape,
        })
    }

    /// Checks the data shape and computes the geometry (deriving pad and adj from
    /// `target_shape` when set).
    pub(crate) fn geometry(&self, data: &[usize]) -> Result<Geom> {
        let w = &self.window;
        let nd = w.ndim();
        if data.len() != nd + 2 {
            return Err(Error::shape(format!(
                "Deconvolution with a {nd}-D kernel needs {}-D data (N, C, ...), got {}",
                nd + 2,
                fmt_shape(data)
            )));
        }
        if data[1] % self.num_group != 0 || self.num_filter % self.num_group != 0 {
            return Err(Error::shape(format!(
                "Deconvolution: num_group {} must divide both the input channels of data {} and num_filter {}",
                self.num_group,
                fmt_shape(data),
                self.num_filter
            )));
        }
        // Per-axis values padded to three axes like Geom; axis a is index 3 − nd + a.
        let (mut pad, mut adj, mut output) = (to3(&w.pad, 0), to3(&self.adj, 0), [1usize; 3]);
        for a in 0..nd {
            let a3 = 3 - nd + a;
            // i128: no overflow for any usize dims and int-range attributes.
            let i = data[2 + a] as i128;
            // The output size with no padding and no adj.
            let full =
                w.stride[a] as i128 * (i - 1) + w.dilate[a] as i128 * (w.kernel[a] as i128 - 1) + 1;
            if let Some(t) = &self.target_shape {
                let target = t[a] as i128;
                if target > full {
                    return Err(Error::shape(format!(
                        "Deconvolution: target_shape {} is too big for data {} (at most {full} on spatial axis {a})",
                        fmt_shape(t),
                        fmt_shape(data)
                    )));
                }
                let total = full - target;
                adj[a3] = (total % 2) as usize;
                pad[a3] = ((total + 1) / 2) as usize;
            }
            let o = full - 2 * pad[a3] as i128 + adj[a3] as i128;
            if i < 1 || o < 1 || o > usize::MAX as i128 {
                return Err(Error::shape(format!(
                    "Deconvolution: data {} gives an empty output on spatial axis {a} (kernel {}, stride {}, pad {})",
                    fmt_shape(data),
                    fmt_shape(&w.kernel),
                    fmt_shape(&w.stride),
                    fmt_shape(&pad[3 - nd..])
                )));
            }
            output[a3] = o as usize;
        }
        if self.target_shape.is_some() {
            check_adj(&adj[3 - nd..], &w.stride)?;
        }
        Ok(Geom {
            input: to3(&data[2..], 1),
            output,
            kernel: to3(&w.kernel, 1),
            stride: to3(&w.stride, 1),
            dilate: to3(&w.dilate, 1),
            pad,
        })
    }

    /// Scratch elements `forward` takes for `data` (saturating): the column matrix.
    fn scratch_len(&self, data: &[usize]) -> usize {
        let Ok(g) = self.geometry(data) else { return 0 };
        if g.is_pointwise() && g.input_size() == g.output_size() {
            return 0;
        }
        let rows = (self.num_filter / self.num_group) as u128 * g.kernel_size() as u128;
        usize::try_from(rows * g.input_size() as u128).unwrap_or(usize::MAX)
    }

    fn weight_shape(&self, channels: usize) -> Vec<usize> {
        let mut s = vec![channels, self.num_filter / self.num_group];
        s.extend_from_slice(&self.window.kernel);
        s
    }

    fn output_shape(&self, data: &[usize], g: &Geom) -> Vec<usize> {
        let mut out = vec![data[0], self.num_filter];
        out.extend_from_slice(&g.output[3 - self.window.ndim()..]);
        out
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        expect_inputs("Deconvolution", inputs, if self.no_bias { 2 } else { 3 })?;
        let data = data_shape("Deconvolution", inputs, 0)?;
        let g = self.geometry(&data)?;
        expect_param_shape(
            &mut inputs[1],
            self.weight_shape(data[1]),
            "Deconvolution weight",
        )?;
        if !self.no_bias {
            expect_param_shape(&mut inputs[2], vec![self.num_filter], "Deconvolution bias")?;
        }
        Ok(vec![self.output_shape(&data, &g)])
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let (x, w, bias, y) = unpack("Deconvolution", inputs, outputs, self.no_bias)?;
        let g = self.geometry(x.shape)?;
        let (batch, channels) = (x.shape[0], x.shape[1]);
        let filters = self.num_filter;
        let groups = self.num_group;
        let (cg, fg) = (channels / groups, filters / groups);
        let (in_size, out_size) = (g.input_size(), g.output_size());
        check_len("Deconvolution", "data", x.data, x.shape)?;
        check_count(
            "Deconvolution",
            "weight",
            w.data,
            channels * fg * g.kernel_size(),
        )?;
        check_count(
            "Deconvolution",
            "output",
            y.data,
            batch * filters * out_size,
        )?;
        if let Some(b) = bias {
            check_count("Deconvolution", "bias", b.data, filters)?;
        }
        if y.data.is_empty() {
            return Ok(());
        }
        // Rows of the column matrix: one per (output channel of the group, kernel tap).
        let rows = fg * g.kernel_size();
        fill_bias(y.data, bias.map(|b| b.data), filters, out_size);

        // The pointwise case writes the GEMM straight into the output (same positions).
        let direct = g.is_pointwise() && in_size == out_size;
        let col = Scratch::take(&mut scratch.a, if direct { 0 } else { rows * in_size });
        for n in 0..batch {
            for grp in 0..groups {
                // col (rows × in_size) = W_gᵀ (rows × cg) · x_g (cg × in_size), where W_g is the
                // (cg × rows) row-major block of the weight for this group's input channels.
                let a = MatRef::transposed(&w.data[grp * cg * rows..][..cg * rows], rows);
                let b = MatRef::row_major(
                    &x.data[(n * channels + grp * cg) * in_size..][..cg * in_size],
                    in_size,
                );
                let y_g = &mut y.data[(n * filters + grp * fg) * out_size..][..fg * out_size];
                if direct {
                    let beta = if bias.is_some() { 1.0 } else { 0.0 };
                    gemm(fg, cg, in_size, 1.0, a, b, beta, y_g, out_size);
                } else {
                    gemm(rows, cg, in_size, 1.0, a, b, 0.0, col, in_size);
                    col2im_add(col, fg, &g, y_g);
                }
            }
        }
        Ok(())
    }

    fn flops(&self, inputs: &[Vec<usize>]) -> u64 {
        let Some(x) = inputs.first() else { return 0 };
        let filters_per_group = (self.num_filter / self.num_group) as u64;
        (2 * numel(x) as u64)
            .saturating_mul(filters_per_group)
            .saturating_mul(self.window.kernel_volume() as u64)
    }
}

/// MXNet: "adj(y) must be smaller than stride".
fn check_adj(adj: &[usize], stride: &[usize]) -> Result<()> {
    if adj.iter().zip(stride).any(|(a, s)| a >= s) {
        return Err(Error::attr(
            "adj",
            &fmt_shape(adj),
            format!(
                "must be smaller than stride {} on every axis",
                fmt_shape(stride)
            ),
        ));
    }
    Ok(())
}

/// col2im: adds each column-matrix row `(f, kd, kh, kw)` (one value per input position) into
/// output plane f at `input position · stride + tap · dilate − pad`, skipping positions that
/// fall outside the output. `y` is `(filters, g.output)` and already holds the bias.
fn col2im_add(col: &[f32], filters: usize, g: &Geom, y: &mut [f32]) {
    let [d_in, h_in, w_in] = g.input;
    let [d_out, h_out, w_out] = g.output;
    let [k_d, k_h, k_w] = g.kernel;
    let [s_d, s_h, s_w] = g.stride;
    let (in_size, out_size) = (g.input_size(), g.output_size());
    if in_size == 0 || out_size == 0 {
        return;
    }
    let mut rows = col.chunks_exact(in_size);
    for y_plane in y.chunks_exact_mut(out_size).take(filters) {
        for kd in 0..k_d {
            let off_d = kd as i64 * g.dilate[0] as i64 - g.pad[0] as i64;
            let d_range = valid_range(d_in, d_out, s_d, off_d);
            for kh in 0..k_h {
                let off_h = kh as i64 * g.dilate[1] as i64 - g.pad[1] as i64;
                let h_range = valid_range(h_in, h_out, s_h, off_h);
                for kw in 0..k_w {
                    let off_w = kw as i64 * g.dilate[2] as i64 - g.pad[2] as i64;
                    let w_range = valid_range(w_in, w_out, s_w, off_w);
                    let Some(row) = rows.next() else { return };
                    if w_range.is_empty() {
                        continue;
                    }
                    let start = target(w_range.start, s_w, off_w);
                    for id in d_range.clone() {
                        let od = target(id, s_d, off_d);
                        for ih in h_range.clone() {
                            let oh = target(ih, s_h, off_h);
                            let src = &row[(id * h_in + ih) * w_in..][..w_in][w_range.clone()];
                            let out_row = &mut y_plane[(od * h_out + oh) * w_out..][..w_out];
                            if s_w == 1 {
                                for (o, v) in out_row[start..].iter_mut().zip(src) {
                                    *o += v;
                                }
                            } else {
                                for (o, v) in out_row[start..].iter_mut().step_by(s_w).zip(src) {
                                    *o += v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// UpSampling
// ---------------------------------------------------------------------------------------------

/// How `UpSampling` resamples.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleType {
    /// Inputs `arg0..arg{num_args-1}`, all 4-D. The output's spatial size is the *first*
    /// input's times `scale`; every input is repeated by the integer factor that reaches it
    /// (which must divide exactly), then they are concatenated on channels (`concat`) or summed
    /// (`sum`, all with the same channel count).
    Nearest { num_args: usize, sum: bool },
    /// Inputs `data (N, C, H, W)` and `weight (C, 1, 2s − s%2, 2s − s%2)`: exactly
    /// `Deconvolution(kernel=2s − s%2, stride=s, pad=ceil((s−1)/2), num_group=C, num_filter=C,
    /// no_bias)`, so the output is `(N, C, H·s, W·s)`. MXNet builds that Deconvolution from the
    /// `num_filter` attribute, which must therefore equal C.
    Bilinear(Deconvolution),
}

/// `UpSampling` (spec §4.3): `scale` (required, ≥ 1), `sample_type` (required: nearest or
/// bilinear), `num_args` (the number of nearest inputs; written by MXNet, default 1),
/// `multi_input_mode='concat'` (or `sum`), `num_filter=0` (bilinear: must equal the channels),
/// `workspace` ignored. See [`SampleType`].
#[derive(Debug, Clone, PartialEq)]
pub struct UpSampling {
    pub scale: usize,
    pub sample_type: SampleType,
}

impl UpSampling {
    fn parse(attrs: &Attrs) -> Result<UpSampling> {
        let scale = positive(attrs, "scale", None)?;
        let sample_type = attrs
            .str("sample_type")
            .ok_or_else(|| Error::attr("sample_type", "", "UpSampling requires sample_type"))?
            .to_string();
        let num_args = crate::ops::arity(attrs.int_or("num_args", 1)?, "num_args", 1)?;
        let sum = attrs.choice("multi_input_mode", &["concat", "sum"], "concat")? == "sum";
        let num_filter = attrs.int_or("num_filter", 0)?;
        let sample_type = match sample_type.as_str() {
            "nearest" => SampleType::Nearest { num_args, sum },
            "bilinear" => {
                let kernel = 2 * scale - scale % 2;
                let pad = (scale - 1).div_ceil(2);
                let num_filter = usize::try_from(num_filter).unwrap_or(0);
                SampleType::Bilinear(Deconvolution {
                    window: Window {
                        kernel: vec![kernel; 2],
                        stride: vec![scale; 2],
                        dilate: vec![1; 2],
                        pad: vec![pad; 2],
                    },
                    adj: vec![0; 2],
                    target_shape: None,
                    num_filter,
                    num_group: num_filter.max(1),
                    no_bias: true,
                })
            }
            other => {
                return Err(Error::attr(
                    "sample_type",
                    other,
                    "expected one of nearest, bilinear",
                ))
            }
        };
        Ok(UpSampling { scale, sample_type })
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        match &self.sample_type {
            SampleType::Nearest { num_args, .. } => (0..*num_args)
                .map(|i| (format!("arg{i}"), InputRole::Data))
                .collect(),
            SampleType::Bilinear(_) => vec![
                ("data".into(), InputRole::Data),
                ("weight".into(), InputRole::Weight),
            ],
        }
    }

    /// Nearest: checks the input shapes and returns the output shape. Input i is repeated by
    /// `output H / its H`, which must give the output H and W exactly.
    fn nearest_output<'s>(
        &self,
        shapes: impl Iterator<Item = &'s [usize]>,
        sum: bool,
    ) -> Result<[usize; 4]> {
        let mut out = [0usize; 4];
        let mut first: &[usize] = &[];
        for (i, s) in shapes.enumerate() {
            let &[batch, channels, h, w] = s else {
                return Err(Error::shape(format!(
                    "UpSampling nearest: input {i} should be 4-D (N, C, H, W), got {}",
                    fmt_shape(s)
                )));
            };
            if i == 0 {
                let too_large =
                    || Error::shape(format!("UpSampling: data {} is too large", fmt_shape(s)));
                out = [
                    batch,
                    0,
                    h.checked_mul(self.scale).ok_or_else(too_large)?,
                    w.checked_mul(self.scale).ok_or_else(too_large)?,
                ];
                first = s;
            }
            if batch != out[0] || h == 0 || w == 0 {
                return Err(Error::shape(format!(
                    "UpSampling nearest: input {i} {} does not match the first input {}",
                    fmt_shape(s),
                    fmt_shape(first)
                )));
            }
            let factor = out[2] / h;
            if h * factor != out[2] || w * factor != out[3] {
                return Err(Error::shape(format!(
                    "UpSampling nearest: input {i} {} cannot be repeated by an integer factor to the output size {}x{}",
                    fmt_shape(s),
                    out[2],
                    out[3]
                )));
            }
            if !sum {
                out[1] += channels;
            } else if i == 0 || channels == out[1] {
                out[1] = channels;
            } else {
                return Err(Error::shape(format!(
                    "UpSampling nearest (multi_input_mode=sum): input {i} {} must have the channels of the first input {}",
                    fmt_shape(s),
                    fmt_shape(first)
                )));
            }
        }
        if first.is_empty() {
            return Err(Error::shape("UpSampling needs at least one input"));
        }
        Ok(out)
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        match &self.sample_type {
            SampleType::Nearest { num_args, sum } => {
                expect_inputs("UpSampling", inputs, *num_args)?;
                let shapes = (0..*num_args)
                    .map(|i| data_shape("UpSampling", inputs, i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(vec![self
                    .nearest_output(shapes.iter().map(Vec::as_slice), *sum)?
                    .to_vec()])
            }
            SampleType::Bilinear(deconv) => {
                expect_inputs("UpSampling", inputs, 2)?;
                let data = data_shape("UpSampling", inputs, 0)?;
                self.check_bilinear(deconv, &data)?;
                deconv.infer_shape(inputs)
            }
        }
    }

    fn check_bilinear(&self, deconv: &Deconvolution, data: &[usize]) -> Result<()> {
        if data.len() != 4 {
            return Err(Error::shape(format!(
                "UpSampling bilinear: data should be 4-D (N, C, H, W), got {}",
                fmt_shape(data)
            )));
        }
        if deconv.num_filter != data[1] {
            return Err(Error::attr(
                "num_filter",
                &deconv.num_filter.to_string(),
                format!(
                    "UpSampling bilinear needs num_filter equal to the channels of data {}",
                    fmt_shape(data)
                ),
            ));
        }
        Ok(())
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        match &self.sample_type {
            SampleType::Bilinear(deconv) => {
                let data = inputs.first().map(|v| v.shape).unwrap_or(&[]);
                self.check_bilinear(deconv, data)?;
                deconv.forward(inputs, outputs, scratch)
            }
            SampleType::Nearest { sum, .. } => {
                let [y] = outputs else {
                    return Err(Error::shape("UpSampling: expected 1 output"));
                };
                let [batch, out_channels, h_out, w_out] =
                    self.nearest_output(inputs.iter().map(|v| v.shape), *sum)?;
                let plane = h_out * w_out;
                check_count("UpSampling", "output", y.data, batch * out_channels * plane)?;
                for x in inputs {
                    check_len("UpSampling", "input", x.data, x.shape)?;
                }
                if y.data.is_empty() {
                    return Ok(());
                }
                let mut channel_offset = 0;
                for (i, x) in inputs.iter().enumerate() {
                    let (channels, h_in, w_in) = (x.shape[1], x.shape[2], x.shape[3]);
                    let factor = h_out / h_in;
                    let accumulate = *sum && i > 0;
                    for n in 0..batch {
                        for c in 0..channels {
                            let src = &x.data[(n * channels + c) * h_in * w_in..][..h_in * w_in];
                            let dst = &mut y.data
                                [(n * out_channels + channel_offset + c) * plane..][..plane];
                            upsample_plane(src, w_in, factor, dst, w_out, accumulate);
                        }
                    }
                    if !*sum {
                        channel_offset += channels;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Nearest-neighbour repeat of one plane by `factor` on both axes; `accumulate` adds instead of
/// overwriting (multi_input_mode=sum).
fn upsample_plane(
    src: &[f32],
    w_in: usize,
    factor: usize,
    dst: &mut [f32],
    w_out: usize,
    accumulate: bool,
) {
    for (oh, out_row) in dst.chunks_exact_mut(w_out).enumerate() {
        let in_row = &src[(oh / factor) * w_in..][..w_in];
        for (chunk, &v) in out_row.chunks_exact_mut(factor).zip(in_row) {
            if accumulate {
                chunk.iter_mut().for_each(|o| *o += v);
            } else {
                chunk.fill(v);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The family
// ---------------------------------------------------------------------------------------------

impl Operator for ConvOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        Ok(Some(match op {
            "Convolution" => ConvOp::Convolution(Convolution::parse(attrs)?),
            "Deconvolution" => ConvOp::Deconvolution(Deconvolution::parse(attrs)?),
            "UpSampling" => ConvOp::UpSampling(UpSampling::parse(attrs)?),
            _ => return Ok(None),
        }))
    }

    fn name(&self) -> &'static str {
        match self {
            ConvOp::Convolution(_) => "Convolution",
            ConvOp::Deconvolution(_) => "Deconvolution",
            ConvOp::UpSampling(_) => "UpSampling",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let with_bias = |no_bias: bool| {
            let mut v = vec![
                ("data".to_string(), InputRole::Data),
                ("weight".to_string(), InputRole::Weight),
            ];
            if !no_bias {
                v.push(("bias".to_string(), InputRole::Weight));
            }
            v
        };
        match self {
            ConvOp::Convolution(c) => {
                let mut v = with_bias(c.no_bias);
                if c.epilogue.residual {
                    v.push(("residual".to_string(), InputRole::Data));
                }
                v
            }
            ConvOp::Deconvolution(d) => with_bias(d.no_bias),
            ConvOp::UpSampling(u) => u.inputs(),
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        match self {
            ConvOp::Convolution(c) => c.infer_shape(inputs),
            ConvOp::Deconvolution(d) => d.infer_shape(inputs),
            ConvOp::UpSampling(u) => u.infer_shape(inputs),
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        match self {
            ConvOp::Convolution(c) => c.forward_with(inputs, outputs, scratch, None),
            ConvOp::Deconvolution(d) => d.forward(inputs, outputs, scratch),
            ConvOp::UpSampling(u) => u.forward(inputs, outputs, scratch),
        }
    }

    fn scratch_len(&self, inputs: &[Vec<usize>]) -> usize {
        let Some(data) = inputs.first() else { return 0 };
        match self {
            ConvOp::Convolution(c) => c.scratch_len(data),
            ConvOp::Deconvolution(d) => d.scratch_len(data),
            ConvOp::UpSampling(_) => 0,
        }
    }

    fn flops(&self, inputs: &[Vec<usize>], outputs: &[Vec<usize>]) -> u64 {
        match self {
            ConvOp::Convolution(c) => c.flops(inputs, outputs),
            ConvOp::Deconvolution(d) => d.flops(inputs),
            ConvOp::UpSampling(UpSampling {
                sample_type: SampleType::Bilinear(d),
                ..
            }) => d.flops(inputs),
            ConvOp::UpSampling(_) => 0,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::Op;

    /// A case computed by MXNet 1.9.1: input `i` is [`gen`]`(shape_i, i)`.
    pub(crate) struct MxCase {
        pub name: &'static str,
        pub op: &'static str,
        pub attrs: &'static [(&'static str, &'static str)],
        pub inputs: &'static [&'static [usize]],
        pub out_shape: &'static [usize],
        pub expected: &'static [f32],
    }

    /// Deterministic inputs shared with the MXNet script: `sin(0.37·k + 1.3·seed)`.
    pub(crate) fn gen(shape: &[usize], seed: usize) -> Vec<f32> {
        (0..numel(shape))
            .map(|k| (k as f64 * 0.37 + 1.3 * seed as f64).sin() as f32)
            .collect()
    }

    /// Parses, infers shapes (parameters left for the op to fill) and runs one operator.
    pub(crate) fn run_op(
        op: &str,
        attrs: &[(&str, &str)],
        shapes: &[Vec<usize>],
        data: &[Vec<f32>],
    ) -> Result<(Vec<usize>, Vec<f32>)> {
        let op = Op::parse(op, &Attrs::from_pairs(attrs))?;
        let mut slots: Vec<Option<Vec<usize>>> = shapes.iter().cloned().map(Some).collect();
        let out_shapes = op.infer_shape(&mut slots)?;
        let views: Vec<View> = shapes
            .iter()
            .zip(data)
            .map(|(s, d)| View { shape: s, data: d })
            .collect();
        let mut out = vec![f32::NAN; numel(&out_shapes[0])];
        let mut scratch = Scratch::default();
        {
            let mut outs = [ViewMut {
                shape: &out_shapes[0],
                data: &mut out,
            }];
            op.forward(&views, &mut outs, &mut scratch)?;
        }
        Ok((out_shapes[0].clone(), out))
    }

    pub(crate) fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{name}: length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let ok =
                (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * w.abs().max(1.0);
            assert!(ok, "{name}: element {i}: got {g}, want {w}");
        }
    }

    pub(crate) fn check_mx_cases(cases: &[MxCase]) {
        for case in cases {
            let shapes: Vec<Vec<usize>> = case.inputs.iter().map(|s| s.to_vec()).collect();
            let data: Vec<Vec<f32>> = shapes.iter().enumerate().map(|(i, s)| gen(s, i)).collect();
            let (shape, out) = run_op(case.op, case.attrs, &shapes, &data)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(shape, case.out_shape, "{}: output shape", case.name);
            assert_close(case.name, &out, case.expected, 2e-5);
        }
    }

    /// Outputs of MXNet 1.9.1 (`mx.nd.<op>(*inputs, **attrs)`). The target_shape cases ran with
    /// `MXNET_MKLDNN_ENABLED=0` (MKLDNN cannot build that primitive; the native path matches
    /// MKLDNN on the equivalent explicit pad/adj to 5e-7); dilated deconvolution ran on MKLDNN,
    /// which implements the math (spec §4.3).
    #[rustfmt::skip]
    const MX_CASES: &[MxCase] = &[
        MxCase { name: "conv2d_groups_dilate_stride_pad", op: "Convolution", attrs: &[("kernel", "(3, 2)"), ("num_filter", "4"), ("num_group", "2"), ("dilate", "(2, 3)"), ("stride", "(2, 1)"), ("pad", "(1, 2)")], inputs: &[&[1, 4, 7, 8], &[4, 2, 3, 2], &[4]], out_shape: &[1, 4, 3, 9], expected: &[2.054459, 1.5113686, 3.001305, 1.7528944, 0.33700863, -1.0547193, -2.2339249, -1.0941839, -1.6338669, 2.7999468, 1.9638882, 3.8731828, 2.1497872, 0.20519873, -1.6973921, -3.300478, -1.453886, -2.2229404, 2.6744547, 2.020969, 3.4625921, 2.0838633, 0.4928639, -1.0950716, -2.4650235, -0.85752594, -1.4870595, 0.30406523, -0.19747905, -0.8399346, -1.4569048, -1.8535798, -1.9762707, -1.8083723, -0.54531485, -0.35086352, 0.026448682, -0.19513036, -1.3422434, -1.444115, -1.3274224, -1.0079589, -0.5289623, 0.25709444, 0.609099, -0.80355763, -0.83262575, -2.3483047, -2.118357, -1.578589, -0.8020557, 0.106142335, 0.33094937, 0.91382486, 0.034836993, -0.89067554, -0.85368836, -2.401825, -3.6515636, -4.4337583, -4.642542, -2.7336278, -2.625771, 0.36798164, -0.78588104, -0.60200024, -2.419616, -3.9364257, -4.947137, -5.3149533, -2.8920796, -2.9035687, 0.28155586, -0.54544663, -0.67239535, -1.9122444, -2.9199579, -3.559146, -3.7432985, -1.8882868, -1.8441247, -1.3212657, -1.2126229, -2.0886235, -1.4865774, -0.75618505, 0.0036982894, 0.6902257, 0.46297026, 0.69614863, -1.3223617, -0.83061796, -1.8883747, -0.66432434, 0.57678366, 1.6669722, 2.4586885, 1.5412619, 1.7827206, -1.748551, -1.1188102, -2.2698493, -0.90531135, 0.50890136, 1.7813811, 2.7399046, 1.4300566, 1.7922463] },
        MxCase { name: "conv1d_no_bias", op: "Convolution", attrs: &[("kernel", "(3,)"), ("num_filter", "2"), ("stride", "(2,)"), ("pad", "(1,)"), ("no_bias", "True")], inputs: &[&[2, 3, 9], &[2, 3, 3]], out_shape: &[2, 2, 5], expected: &[-0.6006259, -0.56954545, -0.0102500925, 0.55440664, 0.5174962, 0.5946944, 0.5583785, -0.04070884, -0.61850244, -0.57591975, 0.4035641, 0.15501972, -0.43773556, -0.80152726, -0.5496037, -0.37590298, -0.11166221, 0.5017896, 0.85277396, 0.58417296] },
        MxCase { name: "conv3d", op: "Convolution", attrs: &[("kernel", "(2, 3, 2)"), ("num_filter", "3"), ("stride", "(1, 2, 1)"), ("pad", "(1, 0, 1)"), ("layout", "NCDHW")], inputs: &[&[1, 2, 4, 5, 4], &[3, 2, 2, 3, 2], &[3]], out_shape: &[1, 3, 5, 2, 5], expected: &[-1.9387723, -4.051518, -3.118771, -1.6941434, 0.2875942, 2.9229803, 5.3189034, 4.6786714, 3.4749737, 1.1761005, 0.9398853, 4.341863, 6.803203, 8.413531, 4.7314596, 0.85700977, -1.8893956, -4.6520867, -6.7153683, -3.6384768, 4.4782286, 8.954142, 8.332533, 6.652923, 2.327859, -3.1181264, -7.809629, -7.7476287, -6.567252, -1.9545399, 3.566804, 4.0906267, 1.0840757, -1.9994291, -2.1108475, -3.0130424, -4.381529, -1.5644575, 1.5341266, 2.50302, -1.4011462, -4.2225957, -4.5227466, -4.140994, -1.3113087, 2.1025214, 4.865659, 5.491284, 5.443459, 2.6231651, 2.2378666, 3.0889537, 1.4865594, -0.29392302, -0.93955815, -2.090755, -3.4011014, -1.9681506, -0.2457095, 0.8712508, -2.3639452, -6.988959, -8.107815, -8.106208, -3.4033535, 2.0560591, 6.4119883, 8.034211, 8.592154, 4.087412, -3.9650156, -6.9539185, -4.8481174, -2.0630364, 0.60045284, 4.3833957, 7.989152, 6.3283887, 3.8342175, 0.50420433, -0.9220108, 1.0814517, 4.0472956, 6.488467, 4.1217456, 1.9803317, 0.7869926, -2.2918777, -5.0374427, -3.4534385, 2.6229265, 5.033433, 4.371419, 3.140865, 0.83368725, -2.1590827, -4.77825, -4.4334335, -3.4654627, -0.9082141, -1.2786028, -0.62162864, 1.1864957, 2.8073556, 1.9299673, 1.2636857, 1.1090896, -0.7017182, -2.4442296, -2.0559, 3.7140682, 8.223105, 7.6755524, 6.062474, 1.7003871, -3.763406, -8.4677515, -8.479849, -7.370915, -2.7425168, 2.9143326, 3.5508916, 0.5705615, -2.513669, -2.7444632, -3.769143, -5.245232, -2.4665222, 0.61934245, 1.702568, -1.3792568, -5.3299713, -7.396452, -8.488533, -4.328874, 0.23617709, 3.6458514, 6.095141, 7.692804, 4.014496, -2.4748678, -3.7765532, -2.3440378, -0.6209458, 0.495761, 2.2010179, 3.9179268, 2.7024992, 1.0946233, -0.4592172] },
        MxCase { name: "conv_depthwise_multiplier", op: "Convolution", attrs: &[("kernel", "(3, 3)"), ("num_filter", "6"), ("num_group", "3"), ("stride", "(2, 2)"), ("pad", "(1, 1)")], inputs: &[&[1, 3, 6, 6], &[6, 1, 3, 3], &[6]], out_shape: &[1, 6, 3, 3], expected: &[-0.500908, 0.84004885, 2.6079607, 0.5818491, -1.7006775, -3.21284, 3.1462493, 4.099533, 2.285702, 1.3891283, 0.28888193, -1.5762149, -0.084270224, 2.211676, 3.9806087, -2.4350576, -3.6674242, -1.9576905, -0.49710214, 1.1736587, 2.3486176, -1.731371, -3.9731133, -3.9316015, 2.4021533, 2.1700432, -0.6467688, 0.051703095, -1.4560418, -2.8366385, 0.7617649, 3.054959, 3.2363412, -3.0653627, -3.106379, -0.40280855, -0.5147766, 1.1834872, 1.6670692, -3.0359683, -4.476035, -2.917703, 0.64584994, -0.6745356, -3.2531605, -0.91226006, -2.5616581, -3.3585496, 0.919064, 2.485198, 1.2469368, -2.4171705, -1.4146616, 1.0342135] },
        MxCase { name: "conv_pointwise", op: "Convolution", attrs: &[("kernel", "(1, 1)"), ("num_filter", "5"), ("stride", "()"), ("pad", "()"), ("dilate", "()")], inputs: &[&[2, 3, 2, 3], &[5, 3, 1, 1], &[5]], out_shape: &[2, 5, 2, 3], expected: &[0.4491063, 0.4977237, 0.5487473, 0.59527117, 0.6309986, 0.65109396, 0.46064562, 0.6060865, 0.69260687, 0.7084966, 0.6516051, 0.52963245, 0.12709609, 0.20782259, 0.23374361, 0.20135087, 0.11502856, -0.013539985, -0.539862, -0.6135109, -0.6769792, -0.72167647, -0.7415534, -0.7339197, -1.1322196, -1.2784437, -1.3608085, -1.3681662, -1.2995209, -1.1641635, 0.498663, 0.54966575, 0.59604436, 0.63152194, 0.6512966, 0.6526921, 0.60826206, 0.6935597, 0.7080978, 0.64990866, 0.52686787, 0.35562843, 0.20881805, 0.23367262, 0.200223, 0.11299649, -0.016201228, -0.16988388, -0.6148012, -0.67799515, -0.7222807, -0.7416641, -0.7335218, -0.6989559, -1.2805866, -1.3616409, -1.3675756, -1.2975872, -1.1611484, -0.9767255] },
        MxCase { name: "deconv_groups_adj_pad", op: "Deconvolution", attrs: &[("kernel", "(3, 2)"), ("num_filter", "4"), ("num_group", "2"), ("stride", "(2, 2)"), ("pad", "(1, 1)"), ("adj", "(1, 1)")], inputs: &[&[1, 4, 3, 3], &[4, 2, 3, 2]], out_shape: &[1, 4, 6, 5], expected: &[-0.10056742, 0.21892755, -0.04291503, 0.4448491, 0.020545676, 0.8764559, 1.175045, 0.64796287, 0.9810848, 0.33177114, 0.08122565, 0.69363904, 0.13091211, 0.6828348, 0.16288023, -0.029324174, 0.23903245, -0.3864507, -0.20862654, -0.6912729, 0.17280328, 0.3979416, 0.1593382, 0.16241157, 0.12430745, -0.6527535, -0.10083081, -0.3473529, 0.069378905, 0.005060255, -0.06506282, -0.6765039, -0.54444444, -1.1372757, -0.9501381, -1.3951759, -1.696268, -1.6493735, -1.8771739, -1.6803362, -1.227235, -1.555514, -1.3382313, -1.4563742, -1.2681044, -1.4838731, -1.4866877, -1.0865749, -0.968146, -0.54221386, -1.0263455, -0.70685047, -0.6456755, -0.15791136, -0.17761639, -0.37896863, -0.49711135, -0.28126553, -0.17328186, -0.14549446, -0.3403248, -0.9517659, -0.63234127, -1.2251724, -0.8387733, -1.371708, -1.6728002, -1.2424552, -1.4702556, -0.9450419, -0.93168133, -1.2599603, -0.89849067, -1.0166333, -0.7436935, -0.5197216, -0.52253604, -0.02405943, 0.09436953, 0.4748591, -0.4882409, -0.16874588, -0.16670716, 0.32105696, 0.17738958, -0.023962662, -0.1421054, -0.09827033, 0.0097133275, -0.15927757, 0.7173398, 1.137141, 1.1801736, 1.4092044, 1.4832765, 1.6444321, 1.7098947, 1.8843033, 1.8266159, 1.869143, 1.5856249, 1.3701353, 1.4733664, 1.0642906, 1.1616946, 1.6010029, 1.3360494, 1.1161747, 0.7951577, 0.4802774, 0.69279295, 0.08135182, 0.13012499, -0.4627062, -0.45015475, 0.5703621, 0.16128635, 0.17061837, -0.37667698, -0.2522177] },
        MxCase { name: "deconv_dilate", op: "Deconvolution", attrs: &[("kernel", "(2, 2)"), ("num_filter", "2"), ("stride", "(1, 2)"), ("dilate", "(2, 1)"), ("no_bias", "False")], inputs: &[&[1, 2, 3, 3], &[2, 2, 2, 2], &[2]], out_shape: &[1, 2, 5, 6], expected: &[0.6839552, 0.7021607, 1.3404763, 1.4033778, 1.8853412, 1.984425, 2.2448044, 2.36666, 2.3702145, 2.4983497, 2.2445982, 2.36167, 2.064558, 2.1233554, 2.1705732, 2.051938, 2.0525827, 1.7725714, 2.2379704, 1.8761524, 2.3581157, 1.9684924, 2.2288718, 1.8641769, 1.8677313, 1.5773244, 1.3235729, 1.1467593, 0.6700456, 0.63075626, 0.26755798, 0.20302661, 0.5725325, 0.25901347, 0.8231278, 0.3030545, 0.98542714, 0.32918903, 1.037464, 0.33387983, 0.97219545, 0.31649196, 0.76183045, 0.17881148, 0.30255514, -0.3029999, -0.17455907, -0.7206914, -0.34849286, -0.95589745, -0.39178306, -1.0413095, -0.3589368, -0.9626746, -0.2543996, -0.7306359, -0.09232022, -0.37659854, 0.10536475, 0.05152013] },
        MxCase { name: "deconv1d", op: "Deconvolution", attrs: &[("kernel", "(4,)"), ("num_filter", "2"), ("stride", "(3,)"), ("pad", "(1,)"), ("adj", "(2,)")], inputs: &[&[1, 2, 5], &[2, 2, 4]], out_shape: &[1, 2, 16], expected: &[-0.95801455, -0.9217902, -1.1288036, -0.43402603, -0.44131082, -0.21047893, 0.14870588, 0.09889787, 0.736333, 0.71131116, 0.6257212, 1.5834857, 1.1776438, 1.0678561, 0.813539, 0.0, -0.16564779, 0.187974, 0.23236391, -0.14030504, 0.02217004, 0.14932318, -0.09597268, -0.14663455, 0.04607223, -0.038650867, -0.2955928, -0.063414365, 0.023902163, -0.404544, -0.778237, 0.0] },
        MxCase { name: "upsampling_bilinear_2", op: "UpSampling", attrs: &[("scale", "2"), ("sample_type", "bilinear"), ("num_args", "2"), ("num_filter", "2")], inputs: &[&[1, 2, 3, 3], &[2, 1, 4, 4]], out_shape: &[1, 2, 6, 6], expected: &[0.0, 0.12792665, -0.0030401903, 0.10494347, -0.25173828, -0.24910958, 0.89129484, 1.4332496, 1.2289722, 0.8612793, 0.66364974, 0.21079785, -0.00753036, -0.16550714, -0.6801849, -0.3056577, -0.6077766, -0.2232798, -0.10001141, -0.53918123, -0.64778984, -1.1781253, -1.21641, -0.7607112, -0.1610445, -0.44848132, -0.23711452, -0.43182382, 0.010971955, 0.12125435, -0.7938635, -1.2351743, -1.1527122, -0.6649481, -0.594741, -0.17317814, -0.06506282, -0.34841415, -0.11367685, -0.5227526, -0.07904354, 0.0121873105, -0.76075906, -1.209627, -1.15948, -0.63169503, -0.5167917, -0.08925432, -0.23886326, -0.19701177, 0.2490632, 0.14143586, 0.36589664, 0.14618117, 0.22303748, 0.690868, 0.8819691, 1.2564963, 1.4487259, 0.8968761, 0.25969684, 0.71768665, 0.441886, 0.87749684, 0.39075717, 0.14772245, 0.6038975, 0.9108383, 0.9610095, 0.34956843, 0.33381733, -0.0067951884] },
        MxCase { name: "upsampling_bilinear_3", op: "UpSampling", attrs: &[("scale", "3"), ("sample_type", "bilinear"), ("num_args", "2"), ("num_filter", "1")], inputs: &[&[1, 1, 2, 3], &[1, 1, 5, 5]], out_shape: &[1, 1, 6, 9], expected: &[0.0, 0.0, -0.0030401903, -0.13359556, -0.24606937, -0.33090776, -0.6094984, -0.4588344, -0.6064582, 0.0, 0.0, -0.34676182, -0.28620222, -0.18690652, -0.708905, -0.4629557, -0.3485161, -0.11619388, 0.89129484, 0.79889935, 1.7521342, 1.5991952, 1.2373433, 2.3131907, 2.1735265, 1.5083187, 1.3126873, -0.3309078, -0.6094984, -0.57422894, -1.1349609, -0.6831739, -0.59263253, -1.3612711, -0.664385, -1.11795, -0.7089049, -0.46295568, -1.109322, -0.6130438, -0.51473635, -1.0934012, -0.5660648, -0.49684992, -0.16564779, 0.7216423, 0.8646705, 1.4254055, 1.5984774, 0.96138227, 1.5064437, 1.659641, 0.9279754, 0.95587796] },
        MxCase { name: "upsampling_nearest_concat", op: "UpSampling", attrs: &[("scale", "2"), ("sample_type", "nearest"), ("num_args", "2")], inputs: &[&[1, 1, 2, 2], &[1, 2, 1, 1]], out_shape: &[1, 3, 4, 4], expected: &[0.0, 0.0, 0.36161542, 0.36161542, 0.0, 0.0, 0.36161542, 0.36161542, 0.6742879, 0.6742879, 0.89569867, 0.89569867, 0.6742879, 0.6742879, 0.89569867, 0.89569867, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.9635582, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333, 0.99508333] },
        MxCase { name: "upsampling_nearest_sum", op: "UpSampling", attrs: &[("scale", "2"), ("sample_type", "nearest"), ("num_args", "2"), ("multi_input_mode", "sum")], inputs: &[&[1, 2, 2, 3], &[1, 2, 4, 6]], out_shape: &[1, 2, 4, 6], expected: &[0.9635582, 0.99508333, 1.2535441, 1.029671, 1.0280523, 0.6658807, -0.36944097, -0.68047255, -0.53779, -0.63499254, -0.28463638, -0.11716676, 0.37883323, 0.7233778, 1.1914274, 1.5328285, 1.7669506, 1.926634, 1.890084, 1.7845252, 1.6588501, 1.343263, 0.94605374, 0.5855103, 0.1111151, -0.10579783, -0.47310126, -0.43292463, -0.6066748, -0.33042338, 0.6309613, 0.9987905, 1.0667284, 1.3337376, 1.1477107, 1.1742374, 0.69838846, 0.4705574, -0.18885228, -0.55187106, -1.1827382, -1.4910631, -1.0925739, -1.1849316, -1.4848053, -1.312887, -1.3058169, -0.95954657] },
        MxCase { name: "deconv_target_10_8", op: "Deconvolution", attrs: &[("kernel", "(3, 3)"), ("num_filter", "3"), ("stride", "(2, 2)"), ("target_shape", "(10, 8)"), ("no_bias", "False")], inputs: &[&[1, 2, 5, 4], &[2, 3, 3, 3], &[3]], out_shape: &[1, 3, 10, 8], expected: &[0.6972427, 1.0797746, 0.84494036, 1.344818, 0.94805, 1.4976172, 0.9926163, 0.93800867, 1.9676534, 3.4650064, 2.0527887, 3.4297934, 1.9298595, 3.000145, 1.6155035, 1.2384074, 0.97260725, 1.4017514, 0.8907311, 1.1660614, 0.7580694, 0.84232116, 0.59257716, 0.22043219, 1.1522675, 1.2356588, 0.60284805, 0.13963607, 0.041606694, -0.9055151, -0.45549536, -0.74758196, 0.41665316, 0.11194357, 0.25410777, -0.19584054, 0.12694079, -0.40734792, 0.052363634, 0.039485335, -0.82117736, -2.3034081, -1.0059463, -2.4669514, -0.9847944, -2.2268338, -0.7605845, -0.4364562, 0.040470034, -0.44393116, 0.0928697, -0.26405567, 0.20247057, 0.021329105, 0.35443866, 0.7242483, -0.36366236, -0.7158462, 0.15225044, 0.3505191, 0.7173276, 1.439214, 1.2550886, 1.6059536, 0.52820593, 0.7450726, 0.7002536, 1.0854759, 0.847296, 1.3487359, 0.9494314, 1.0293722, 1.4190283, 2.2425203, 1.3828878, 2.0766582, 1.2293508, 1.6995014, 0.9791975, 0.85587275, -0.17261885, -0.6585767, -0.2722869, -0.8161545, -0.31199175, -0.8401592, -0.2863595, -0.20118622, -1.3398895, -2.8108976, -1.3394212, -2.6053922, -1.1345578, -2.0241492, -0.7530271, -0.31871057, -0.19885941, -0.4929716, -0.061334163, -0.16876955, 0.10760284, 0.2013851, 0.28508675, 0.64300543, -0.24646722, -0.08932938, 0.31656134, 1.0023782, 0.8598552, 1.981529, 1.3098823, 1.5184948, 0.447096, 0.8797186, 0.5717033, 1.0960883, 0.64204377, 1.187218, 0.64859706, 0.6283299, 1.6057332, 3.1052372, 1.7073662, 3.0977058, 1.6010258, 2.6940248, 1.3011043, 0.90461826, 0.5904762, 0.96304154, 0.47554767, 0.6780767, 0.3193664, 0.32444784, 0.14307089, -0.2185231, 0.848195, 0.9629822, 0.30359697, -0.13009124, -0.25898105, -1.1824467, -0.7633968, -1.0439095, -0.029478163, -0.39453864, -0.17492701, -0.66258466, -0.27358985, -0.8178426, -0.3121131, -0.3574186, -0.7981401, -1.6382803, -0.7233029, -1.388752, -0.5274596, -0.9281521, -0.23711659, -0.08779152, 0.29573914, 0.86792374, 0.3438501, 0.912459, 0.31874487, 0.80681944, 0.22382137, 0.11109686, 1.3185571, 2.7111576, 1.2325016, 2.3426335, 0.9529549, 1.6303672, 0.51775277, 0.0415875, 0.07192701, 0.22059783, -0.11638, -0.18064195, -0.31561318, -0.58411026, -0.49880728, -0.8298321, -0.014202505, -0.4063079, -0.5709133, -1.4550623, -1.0770311, -2.3335583, -1.4640557, -1.581811, -0.64116776, -1.1863918, -0.72342694, -1.3036891, -0.7344513, -1.271216, -0.6727488, -0.6200534, -1.6796046, -3.143311, -1.6945049, -2.9649713, -1.5067395, -2.4120145, -1.1417214, -0.6869103, -0.54667056, -0.7942141, -0.3732807, -0.41424543, -0.17604673, -0.0048882514, 0.018336684, 0.3589174, -0.6488545, -0.5221823, -0.09484589, 0.55891263, 0.44532207, 1.5376837, 0.89854014, 1.0987723, 0.18356067, 0.6838944, 0.29726288, 0.87009656, 0.3440543, 0.91185737, 0.3176019, 0.32666853, 0.8028573, 1.6299113, 0.691972, 1.3055476, 0.4607539, 0.77780664, 0.14049718, -0.02954334] },
        MxCase { name: "deconv_target_9_7_pad_ignored", op: "Deconvolution", attrs: &[("kernel", "(3, 3)"), ("num_filter", "1"), ("stride", "(2, 2)"), ("pad", "(4, 4)"), ("target_shape", "(9, 7)")], inputs: &[&[1, 1, 5, 4], &[1, 1, 3, 3]], out_shape: &[1, 1, 9, 7], expected: &[0.0, 0.2415792, 0.12792665, 0.4474216, 0.23853903, 0.59270763, 0.31686625, 0.99098444, 1.6809038, 0.71047956, 1.0505776, 0.33381462, 0.27806073, -0.08803058, 0.35230714, 0.63381267, 0.3400649, 0.52406836, 0.2817965, 0.34339383, 0.1853882, -0.49796125, -1.2702253, -0.8404952, -1.8364415, -1.069272, -2.154104, -1.153328, 0.06388852, -0.12664157, -0.06625818, -0.35238534, -0.18743713, -0.5304355, -0.28324738, -1.0812863, -1.9112506, -0.86289775, -1.3836039, -0.52771986, -0.668693, -0.12111765, -0.3407214, -0.6567783, -0.35208037, -0.58797103, -0.31578693, -0.43958473, -0.23675321, 0.3018773, 0.9236331, 0.68401456, 1.5855343, 0.97357357, 2.0328407, 1.1313641, -0.12567604, 0.007539263, 0.0024107767, 0.24576078, 0.13017131, 0.45071974, 0.24031377] },
    ];

    #[test]
    fn matches_mxnet() {
        check_mx_cases(MX_CASES);
    }

    /// Depthwise (stride 1 and 2, multiplier 2, 3-D), im2col and pointwise convolutions large
    /// enough to be split among the CPU pool's threads give bit-identical outputs on 1 to 4
    /// threads.
    #[test]
    fn threads_give_bit_identical_outputs() {
        type Case = (&'static [(&'static str, &'static str)], [usize; 4], usize);
        let cases: &[Case] = &[
            (
                &[
                    ("kernel", "(3, 3)"),
                    ("num_filter", "32"),
                    ("num_group", "32"),
                    ("pad", "(1, 1)"),
                ],
                [2, 32, 30, 30],
                1,
            ),
            (
                &[
                    ("kernel", "(3, 3)"),
                    ("num_filter", "64"),
                    ("num_group", "32"),
                    ("stride", "(2, 2)"),
                    ("pad", "(1, 1)"),
                ],
                [1, 32, 31, 31],
                1,
            ),
            (
                &[
                    ("kernel", "(3, 3)"),
                    ("num_filter", "24"),
                    ("pad", "(1, 1)"),
                    ("stride", "(2, 1)"),
                ],
                [2, 16, 40, 40],
                16,
            ),
            (
                &[
                    ("kernel", "(1, 1)"),
                    ("num_filter", "48"),
                    ("num_group", "2"),
                ],
                [1, 32, 40, 40],
                16,
            ),
        ];
        for (i, &(attrs, data, cg)) in cases.iter().enumerate() {
            let mut attrs = attrs.to_vec();
            attrs.push(("no_bias", "False"));
            let filters: usize = attrs
                .iter()
                .find(|(k, _)| *k == "num_filter")
                .unwrap()
                .1
                .parse()
                .unwrap();
            // The kernel's side: 1×1 or 3×3.
            let side = if attrs.iter().any(|&(k, v)| k == "kernel" && v == "(1, 1)") {
                1
            } else {
                3
            };
            let shapes = vec![data.to_vec(), vec![filters, cg, side, side], vec![filters]];
            let values: Vec<Vec<f32>> = shapes
                .iter()
                .enumerate()
                .map(|(j, s)| gen(s, j + i))
                .collect();
            crate::backend::cpu::pool::assert_thread_count_invariant(&format!("case {i}"), || {
                run_op("Convolution", &attrs, &shapes, &values).unwrap().1
            });
        }
    }

    fn conv(attrs: &[(&str, &str)]) -> Result<ConvOp> {
        match Op::parse("Convolution", &Attrs::from_pairs(attrs))? {
            Op::Conv(c) => Ok(c),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn parse_err(op: &str, attrs: &[(&str, &str)]) -> String {
        Op::parse(op, &Attrs::from_pairs(attrs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn convolution_defaults() {
        let ConvOp::Convolution(c) = conv(&[("kernel", "(3, 3)"), ("num_filter", "8")]).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.window.stride, vec![1, 1]);
        assert_eq!(c.window.dilate, vec![1, 1]);
        assert_eq!(c.window.pad, vec![0, 0]);
        assert_eq!((c.num_group, c.no_bias), (1, false));
        // Empty tuples mean the default; ignored keys are accepted.
        let ConvOp::Convolution(c) = conv(&[
            ("kernel", "(3,)"),
            ("num_filter", "2"),
            ("stride", "()"),
            ("dilate", "()"),
            ("pad", "()"),
            ("workspace", "1024"),
            ("cudnn_tune", "off"),
            ("cudnn_off", "False"),
            ("layout", "NCW"),
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.window.stride.clone(), c.window.pad.clone()),
            (vec![1], vec![0])
        );
    }

    #[test]
    fn convolution_attribute_errors() {
        assert!(parse_err("Convolution", &[("num_filter", "2")]).contains("kernel"));
        assert!(
            parse_err("Convolution", &[("kernel", "()"), ("num_filter", "2")]).contains("kernel")
        );
        assert!(parse_err(
            "Convolution",
            &[("kernel", "(1,1,1,1)"), ("num_filter", "2")]
        )
        .contains("4-D"));
        assert!(parse_err("Convolution", &[("kernel", "(3, 3)")]).contains("num_filter"));
        assert!(
            parse_err("Convolution", &[("kernel", "(3, 3)"), ("num_filter", "0")])
                .contains("num_filter")
        );
        assert!(
            parse_err("Convolution", &[("kernel", "(3, 0)"), ("num_filter", "1")])
                .contains("kernel")
        );
        let e = parse_err(
            "Convolution",
            &[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("stride", "(2,)"),
            ],
        );
        assert!(e.contains("stride") && e.contains("dimensions"), "{e}");
        assert!(parse_err(
            "Convolution",
            &[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("stride", "(0, 1)")
            ]
        )
        .contains("stride"));
        assert!(parse_err(
            "Convolution",
            &[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("pad", "(-1, 1)")
            ]
        )
        .contains("pad"));
        assert!(parse_err(
            "Convolution",
            &[("kernel", "(3, 3)"), ("num_filter", "1"), ("bogus", "1")]
        )
        .contains("bogus"));
        assert!(parse_err(
            "Convolution",
            &[("kernel", "(3, 3)"), ("num_filter", "1"), ("layout", "NCW")]
        )
        .contains("layout"));
        let e = Op::parse(
            "Convolution",
            &Attrs::from_pairs(&[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("layout", "NHWC"),
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
    }

    #[test]
    fn convolution_shapes() {
        let op = conv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "6"),
            ("num_group", "2"),
        ])
        .unwrap();
        let mut ins = vec![Some(vec![2, 4, 5, 5]), None, None];
        assert_eq!(op.infer_shape(&mut ins).unwrap(), vec![vec![2, 6, 3, 3]]);
        assert_eq!(ins[1], Some(vec![6, 2, 3, 3]));
        assert_eq!(ins[2], Some(vec![6]));
        assert_eq!(
            op.flops(&[vec![2, 4, 5, 5]], &[vec![2, 6, 3, 3]]),
            2 * 2 * 6 * 9 * 2 * 9
        );
        assert_eq!(
            op.inputs()
                .iter()
                .map(|(n, r)| (n.as_str(), *r))
                .collect::<Vec<_>>(),
            [
                ("data", InputRole::Data),
                ("weight", InputRole::Weight),
                ("bias", InputRole::Weight)
            ]
        );
        // A wrong weight quotes both shapes.
        let mut ins = vec![Some(vec![2, 4, 5, 5]), Some(vec![6, 2, 3, 2]), None];
        let e = op.infer_shape(&mut ins).unwrap_err().to_string();
        assert!(
            e.contains("(6, 2, 3, 2)") && e.contains("(6, 2, 3, 3)"),
            "{e}"
        );
        // Channels not divisible by the groups.
        let e = op
            .infer_shape(&mut [Some(vec![1, 3, 5, 5]), None, None])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(1, 3, 5, 5)"), "{e}");
        // Rank mismatch.
        let e = op
            .infer_shape(&mut [Some(vec![1, 4, 5]), None, None])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(1, 4, 5)"), "{e}");
        // Kernel larger than the padded input.
        let big = conv(&[("kernel", "(5, 5)"), ("num_filter", "1"), ("pad", "(0, 1)")]).unwrap();
        assert!(big
            .infer_shape(&mut [Some(vec![1, 1, 3, 3]), None, None])
            .is_err());
        // Huge padding is fine (MXNet too): 5 + 10 − 3 + 1 = 13.
        let padded = conv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "1"),
            ("pad", "(5, 5)"),
            ("no_bias", "True"),
        ])
        .unwrap();
        assert_eq!(padded.inputs().len(), 2);
        assert_eq!(
            padded
                .infer_shape(&mut [Some(vec![1, 4, 5, 5]), None])
                .unwrap(),
            vec![vec![1, 1, 13, 13]]
        );
        // Wrong number of input slots.
        assert!(padded.infer_shape(&mut [Some(vec![1, 4, 5, 5])]).is_err());
    }

    #[test]
    fn forward_rejects_missing_weights() {
        let op = conv(&[
            ("kernel", "(1, 1)"),
            ("num_filter", "2"),
            ("no_bias", "True"),
        ])
        .unwrap();
        let x = vec![1.0; 4];
        let mut y = vec![0.0; 8];
        let inputs = [
            View {
                shape: &[1, 1, 2, 2],
                data: &x,
            },
            View {
                shape: &[2, 1, 1, 1],
                data: &[],
            },
        ];
        let mut outs = [ViewMut {
            shape: &[1, 2, 2, 2],
            data: &mut y,
        }];
        assert!(op
            .forward(&inputs, &mut outs, &mut Scratch::default())
            .is_err());
    }

    /// A tiny deterministic generator for the randomized comparisons.
    pub(crate) struct Lcg(pub u64);
    impl Lcg {
        pub fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        /// Uniform in `lo..=hi`.
        pub fn range(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next() as usize) % (hi - lo + 1)
        }
        pub fn values(&mut self, n: usize) -> Vec<f32> {
            (0..n)
                .map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0)
                .collect()
        }
    }

    /// Direct-loop convolution in f64, as the definition reads.
    fn naive_conv(
        x: &[f32],
        xs: &[usize],
        w: &[f32],
        bias: Option<&[f32]>,
        c: &Convolution,
    ) -> (Vec<usize>, Vec<f32>) {
        let g = c.geometry(xs).unwrap();
        let (batch, channels, filters, groups) = (xs[0], xs[1], c.num_filter, c.num_group);
        let (cg, fg) = (channels / groups, filters / groups);
        let mut ys = vec![batch, filters];
        ys.extend_from_slice(&g.output[3 - c.window.ndim()..]);
        let mut y = vec![0.0f32; numel(&ys)];
        let [di, hi, wi] = g.input;
        let [dn, hn, wn] = g.output;
        let [kd_, kh_, kw_] = g.kernel;
        let mut idx = 0;
        for n in 0..batch {
            for f in 0..filters {
                let grp = f / fg;
                for od in 0..dn {
                    for oh in 0..hn {
                        for ow in 0..wn {
                            let mut s = bias.map_or(0.0, |b| b[f] as f64);
                            for ci in 0..cg {
                                let ch = grp * cg + ci;
                                for kd in 0..kd_ {
                                    for kh in 0..kh_ {
                                        for kw in 0..kw_ {
                                            let id = (od * g.stride[0] + kd * g.dilate[0]) as i64
                                                - g.pad[0] as i64;
                                            let ih = (oh * g.stride[1] + kh * g.dilate[1]) as i64
                                                - g.pad[1] as i64;
                                            let iw = (ow * g.stride[2] + kw * g.dilate[2]) as i64
                                                - g.pad[2] as i64;
                                            if id < 0
                                                || ih < 0
                                                || iw < 0
                                                || id >= di as i64
                                                || ih >= hi as i64
                                                || iw >= wi as i64
                                            {
                                                continue;
                                            }
                                            let xv = x[(((n * channels + ch) * di + id as usize)
                                                * hi
                                                + ih as usize)
                                                * wi
                                                + iw as usize];
                                            let wv = w[(((f * cg + ci) * kd_ + kd) * kh_ + kh)
                                                * kw_
                                                + kw];
                                            s += xv as f64 * wv as f64;
                                        }
                                    }
                                }
                            }
                            y[idx] = s as f32;
                            idx += 1;
                        }
                    }
                }
            }
        }
        (ys, y)
    }

    /// Direct-loop transposed convolution in f64: every input value scatters into the output.
    fn naive_deconv(
        x: &[f32],
        xs: &[usize],
        w: &[f32],
        bias: Option<&[f32]>,
        d: &Deconvolution,
    ) -> (Vec<usize>, Vec<f32>) {
        let g = d.geometry(xs).unwrap();
        let (batch, channels, filters, groups) = (xs[0], xs[1], d.num_filter, d.num_group);
        let (cg, fg) = (channels / groups, filters / groups);
        let ys = d.output_shape(xs, &g);
        let [di, hi, wi] = g.input;
        let [dn, hn, wn] = g.output;
        let [kd_, kh_, kw_] = g.kernel;
        let mut y = vec![0.0f64; numel(&ys)];
        for n in 0..batch {
            for c in 0..channels {
                let grp = c / cg;
                for id in 0..di {
                    for ih in 0..hi {
                        for iw in 0..wi {
                            let xv = x[(((n * channels + c) * di + id) * hi + ih) * wi + iw] as f64;
                            for fi in 0..fg {
                                let f = grp * fg + fi;
                                for kd in 0..kd_ {
                                    for kh in 0..kh_ {
                                        for kw in 0..kw_ {
                                            let od = (id * g.stride[0] + kd * g.dilate[0]) as i64
                                                - g.pad[0] as i64;
                                            let oh = (ih * g.stride[1] + kh * g.dilate[1]) as i64
                                                - g.pad[1] as i64;
                                            let ow = (iw * g.stride[2] + kw * g.dilate[2]) as i64
                                                - g.pad[2] as i64;
                                            if od < 0
                                                || oh < 0
                                                || ow < 0
                                                || od >= dn as i64
                                                || oh >= hn as i64
                                                || ow >= wn as i64
                                            {
                                                continue;
                                            }
                                            let wv = w
                                                [(((c * fg + fi) * kd_ + kd) * kh_ + kh) * kw_ + kw]
                                                as f64;
                                            y[(((n * filters + f) * dn + od as usize) * hn
                                                + oh as usize)
                                                * wn
                                                + ow as usize] += xv * wv;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let plane = g.output_size();
        let y = y
            .iter()
            .enumerate()
            .map(|(i, v)| (v + bias.map_or(0.0, |b| b[(i / plane) % filters] as f64)) as f32)
            .collect();
        (ys, y)
    }

    fn tuple(v: &[usize]) -> String {
        format!(
            "({})",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Random configurations of every code path (im2col + GEMM, pointwise, depthwise with
    /// multipliers, groups, dilation, 1-D/2-D/3-D) against the direct loops.
    #[test]
    fn convolution_matches_direct_loops() {
        let mut rng = Lcg(7);
        let mut paths = [0usize; 3];
        for case in 0..300 {
            let nd = rng.range(1, 3);
            let depthwise = case % 4 == 1;
            let pointwise = case % 4 == 2;
            let groups = if depthwise {
                rng.range(2, 4)
            } else {
                rng.range(1, 2)
            };
            let cg = if depthwise { 1 } else { rng.range(1, 3) };
            let fg = rng.range(1, 3);
            let kernel: Vec<usize> = (0..nd)
                .map(|_| if pointwise { 1 } else { rng.range(1, 3) })
                .collect();
            // Depthwise with stride 1 has its own whole-plane path.
            let unit_stride = pointwise || (depthwise && case % 8 == 1);
            let stride: Vec<usize> = (0..nd)
                .map(|_| if unit_stride { 1 } else { rng.range(1, 3) })
                .collect();
            let dilate: Vec<usize> = (0..nd).map(|_| rng.range(1, 2)).collect();
            let pad: Vec<usize> = (0..nd)
                .map(|a| {
                    if pointwise {
                        0
                    } else {
                        rng.range(0, kernel[a])
                    }
                })
                .collect();
            let spatial: Vec<usize> = (0..nd)
                .map(|a| rng.range(dilate[a] * (kernel[a] - 1) + 1, 7))
                .collect();
            let no_bias = case % 3 == 0;
            let batch = rng.range(1, 2);
            let mut xs = vec![batch, groups * cg];
            xs.extend_from_slice(&spatial);
            let (kernel_s, stride_s, dilate_s, pad_s) =
                (tuple(&kernel), tuple(&stride), tuple(&dilate), tuple(&pad));
            let (nf, ng) = ((groups * fg).to_string(), groups.to_string());
            let attrs = [
                ("kernel", kernel_s.as_str()),
                ("stride", stride_s.as_str()),
                ("dilate", dilate_s.as_str()),
                ("pad", pad_s.as_str()),
                ("num_filter", nf.as_str()),
                ("num_group", ng.as_str()),
                ("no_bias", if no_bias { "True" } else { "False" }),
            ];
            let ConvOp::Convolution(c) = conv(&attrs).unwrap() else {
                panic!()
            };
            let g = c.geometry(&xs).unwrap();
            paths[if groups > 1 && cg == 1 {
                0
            } else if g.is_pointwise() {
                1
            } else {
                2
            }] += 1;
            let mut shapes = vec![xs.clone(), c.weight_shape(xs[1])];
            if !no_bias {
                shapes.push(vec![c.num_filter]);
            }
            let data: Vec<Vec<f32>> = shapes.iter().map(|s| rng.values(numel(s))).collect();
            let (ys, y) = run_op("Convolution", &attrs, &shapes, &data).unwrap();
            let (want_s, want) =
                naive_conv(&data[0], &xs, &data[1], data.get(2).map(Vec::as_slice), &c);
            assert_eq!(ys, want_s, "case {case}: {attrs:?} on {xs:?}");
            assert_close(
                &format!("case {case}: {attrs:?} on {xs:?}"),
                &y,
                &want,
                1e-5,
            );
        }
        assert!(
            paths.iter().all(|&n| n > 20),
            "every path exercised: {paths:?}"
        );
    }

    /// A layer large enough to be run in several im2col column blocks (the last one partial).
    #[test]
    fn convolution_in_column_blocks() {
        let attrs = [
            ("kernel", "(3, 3)"),
            ("pad", "(1, 0)"),
            ("stride", "(1, 2)"),
            ("num_filter", "4"),
        ];
        let ConvOp::Convolution(c) = conv(&attrs).unwrap() else {
            panic!()
        };
        let xs = vec![1, 16, 130, 131];
        let g = c.geometry(&xs).unwrap();
        let k = 16 * 9;
        assert!(
            k * g.output_size() > 2 * IM2COL_BLOCK,
            "needs several blocks"
        );
        assert!(
            g.output[1] % (IM2COL_BLOCK / (k * g.output[2])) != 0,
            "and a partial last one"
        );
        let mut rng = Lcg(9);
        let shapes = vec![xs.clone(), c.weight_shape(16), vec![4]];
        let data: Vec<Vec<f32>> = shapes.iter().map(|s| rng.values(numel(s))).collect();
        let (_, y) = run_op("Convolution", &attrs, &shapes, &data).unwrap();
        let (_, want) = naive_conv(&data[0], &xs, &data[1], Some(&data[2]), &c);
        assert_close("blocked", &y, &want, 1e-5);
    }

    #[test]
    fn deconvolution_matches_direct_loops() {
        let mut rng = Lcg(11);
        for case in 0..300 {
            let nd = rng.range(1, 3);
            let groups = rng.range(1, 3);
            let (cg, fg) = (rng.range(1, 3), rng.range(1, 2));
            let pointwise = case % 5 == 0;
            let kernel: Vec<usize> = (0..nd)
                .map(|_| if pointwise { 1 } else { rng.range(1, 4) })
                .collect();
            let stride: Vec<usize> = (0..nd)
                .map(|_| if pointwise { 1 } else { rng.range(1, 3) })
                .collect();
            let dilate: Vec<usize> = (0..nd).map(|_| rng.range(1, 2)).collect();
            let pad: Vec<usize> = (0..nd)
                .map(|a| {
                    if pointwise {
                        0
                    } else {
                        rng.range(0, kernel[a] / 2)
                    }
                })
                .collect();
            let adj: Vec<usize> = (0..nd).map(|a| rng.range(0, stride[a] - 1)).collect();
            let spatial: Vec<usize> = (0..nd).map(|_| rng.range(1, 5)).collect();
            let no_bias = case % 3 == 0;
            let mut xs = vec![rng.range(1, 2), groups * cg];
            xs.extend_from_slice(&spatial);
            let strs = [
                tuple(&kernel),
                tuple(&stride),
                tuple(&dilate),
                tuple(&pad),
                tuple(&adj),
            ];
            let (nf, ng) = ((groups * fg).to_string(), groups.to_string());
            let attrs = [
                ("kernel", strs[0].as_str()),
                ("stride", strs[1].as_str()),
                ("dilate", strs[2].as_str()),
                ("pad", strs[3].as_str()),
                ("adj", strs[4].as_str()),
                ("num_filter", nf.as_str()),
                ("num_group", ng.as_str()),
                ("no_bias", if no_bias { "True" } else { "False" }),
            ];
            let Op::Conv(ConvOp::Deconvolution(d)) =
                Op::parse("Deconvolution", &Attrs::from_pairs(&attrs)).unwrap()
            else {
                panic!()
            };
            if d.geometry(&xs).is_err() {
                continue; // padding larger than the output
            }
            let mut shapes = vec![xs.clone(), d.weight_shape(xs[1])];
            if !no_bias {
                shapes.push(vec![d.num_filter]);
            }
            let data: Vec<Vec<f32>> = shapes.iter().map(|s| rng.values(numel(s))).collect();
            let (ys, y) = run_op("Deconvolution", &attrs, &shapes, &data).unwrap();
            let (want_s, want) =
                naive_deconv(&data[0], &xs, &data[1], data.get(2).map(Vec::as_slice), &d);
            assert_eq!(ys, want_s, "case {case}");
            assert_close(
                &format!("case {case}: {attrs:?} on {xs:?}"),
                &y,
                &want,
                1e-5,
            );
        }
    }

    fn deconv(attrs: &[(&str, &str)]) -> Deconvolution {
        match Op::parse("Deconvolution", &Attrs::from_pairs(attrs)).unwrap() {
            Op::Conv(ConvOp::Deconvolution(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deconvolution_attributes_and_shapes() {
        let d = deconv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "6"),
            ("num_group", "2"),
            ("stride", "(2, 2)"),
        ]);
        assert!(d.no_bias, "Deconvolution defaults to no_bias=True");
        let op = ConvOp::Deconvolution(d);
        assert_eq!(op.inputs().len(), 2);
        let mut ins = vec![Some(vec![2, 4, 5, 4]), None];
        assert_eq!(op.infer_shape(&mut ins).unwrap(), vec![vec![2, 6, 11, 9]]);
        assert_eq!(ins[1], Some(vec![4, 3, 3, 3]));

        // target_shape derives pad and adj (spec §4.3): on (5, 4) with k3 s2,
        // (10, 8) → pad 1 adj 1, (11, 9) → 0 0, (9, 7) → 1 0; an explicit pad is ignored.
        for (target, pad, adj) in [("(10, 8)", 1, 1), ("(11, 9)", 0, 0), ("(9, 7)", 1, 0)] {
            let d = deconv(&[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("stride", "(2, 2)"),
                ("pad", "(3, 3)"),
                ("target_shape", target),
            ]);
            let g = d.geometry(&[1, 1, 5, 4]).unwrap();
            assert_eq!((g.pad[1], g.pad[2]), (pad, pad), "{target}");
            let ConvOp::Deconvolution(_) = ConvOp::Deconvolution(d.clone()) else {
                panic!()
            };
            let out = ConvOp::Deconvolution(d)
                .infer_shape(&mut [Some(vec![1, 1, 5, 4]), None])
                .unwrap();
            assert_eq!(tuple(&out[0][2..]), target, "adj {adj}");
        }
        // Longer target tuples use the leading entries; an all-zero target is "unset".
        let d = deconv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "1"),
            ("stride", "(2, 2)"),
            ("target_shape", "(10, 8, 3)"),
        ]);
        assert_eq!(d.target_shape, Some(vec![10, 8]));
        let d = deconv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "1"),
            ("target_shape", "(0, 0)"),
        ]);
        assert_eq!(d.target_shape, None);

        // Errors: target too big, derived adj not below the stride, short target, adj ≥ stride.
        let d = deconv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "1"),
            ("stride", "(2, 2)"),
            ("target_shape", "(12, 9)"),
        ]);
        let e = d.geometry(&[1, 1, 5, 4]).unwrap_err().to_string();
        assert!(e.contains("(12, 9)") && e.contains("(1, 1, 5, 4)"), "{e}");
        let d = deconv(&[
            ("kernel", "(3, 3)"),
            ("num_filter", "1"),
            ("target_shape", "(6, 6)"),
        ]);
        assert!(d
            .geometry(&[1, 1, 5, 5])
            .unwrap_err()
            .to_string()
            .contains("adj"));
        assert!(parse_err(
            "Deconvolution",
            &[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("target_shape", "(10,)")
            ]
        )
        .contains("target_shape"));
        assert!(parse_err(
            "Deconvolution",
            &[
                ("kernel", "(3, 3)"),
                ("num_filter", "1"),
                ("stride", "(2, 2)"),
                ("adj", "(2, 2)")
            ]
        )
        .contains("adj"));
        assert!(parse_err(
            "Deconvolution",
            &[("kernel", "(3, 3)"), ("num_filter", "1"), ("adj", "(1,)")]
        )
        .contains("adj"));
        // An output that would be empty.
        let d = deconv(&[("kernel", "(1, 1)"), ("num_filter", "1"), ("pad", "(2, 2)")]);
        assert!(d.geometry(&[1, 1, 2, 2]).is_err());
        // 3-D works.
        let d = deconv(&[
            ("kernel", "(3, 3, 3)"),
            ("num_filter", "2"),
            ("stride", "(2, 2, 2)"),
        ]);
        assert_eq!(
            ConvOp::Deconvolution(d)
                .infer_shape(&mut [Some(vec![1, 1, 3, 3, 3]), None])
                .unwrap(),
            vec![vec![1, 2, 7, 7, 7]]
        );
    }

    /// Throughput of the conv paths on MobileNet/ResNet-like layers:
    /// `cargo test --release --lib conv::tests::bench -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_layers() {
        type Layer<'a> = (&'a str, &'a [usize], &'a [(&'a str, &'a str)]);
        let layers: &[Layer] = &[
            (
                "dw 3x3 s1 128x56x56",
                &[1, 128, 56, 56],
                &[
                    ("kernel", "(3, 3)"),
                    ("pad", "(1, 1)"),
                    ("num_filter", "128"),
                    ("num_group", "128"),
                    ("no_bias", "True"),
                ],
            ),
            (
                "dw 3x3 s2 64x112x112",
                &[1, 64, 112, 112],
                &[
                    ("kernel", "(3, 3)"),
                    ("pad", "(1, 1)"),
                    ("stride", "(2, 2)"),
                    ("num_filter", "64"),
                    ("num_group", "64"),
                    ("no_bias", "True"),
                ],
            ),
            (
                "dw 3x3 s1 512x14x14",
                &[1, 512, 14, 14],
                &[
                    ("kernel", "(3, 3)"),
                    ("pad", "(1, 1)"),
                    ("num_filter", "512"),
                    ("num_group", "512"),
                    ("no_bias", "True"),
                ],
            ),
            (
                "conv 3x3 s1 64x56x56",
                &[1, 64, 56, 56],
                &[
                    ("kernel", "(3, 3)"),
                    ("pad", "(1, 1)"),
                    ("num_filter", "64"),
                    ("no_bias", "True"),
                ],
            ),
            (
                "conv 7x7 s2 3x224x224",
                &[1, 3, 224, 224],
                &[
                    ("kernel", "(7, 7)"),
                    ("pad", "(3, 3)"),
                    ("stride", "(2, 2)"),
                    ("num_filter", "64"),
                    ("no_bias", "True"),
                ],
            ),
            (
                "conv 1x1 128x56x56",
                &[1, 128, 56, 56],
                &[
                    ("kernel", "(1, 1)"),
                    ("num_filter", "128"),
                    ("no_bias", "True"),
                ],
            ),
        ];
        for (name, xs, attrs) in layers {
            let op = Op::parse("Convolution", &Attrs::from_pairs(attrs)).unwrap();
            let mut slots = vec![Some(xs.to_vec()), None];
            let ys = op.infer_shape(&mut slots).unwrap().remove(0);
            let ws = slots[1].clone().unwrap();
            let (x, w) = (gen(xs, 0), gen(&ws, 1));
            let mut y = vec![0.0; numel(&ys)];
            let mut scratch = Scratch::default();
            let mut best = f64::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                let inputs = [
                    View {
                        shape: xs,
                        data: &x,
                    },
                    View {
                        shape: &ws,
                        data: &w,
                    },
                ];
                op.forward(
                    &inputs,
                    &mut [ViewMut {
                        shape: &ys,
                        data: &mut y,
                    }],
                    &mut scratch,
                )
                .unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let flops = op.flops(&[xs.to_vec(), ws.clone()], std::slice::from_ref(&ys)) as f64;
            println!(
                "{name:24} {:8.3} ms {:6.1} GFLOP/s",
                best * 1e3,
                flops / best / 1e9
            );
        }
    }

    #[test]
    fn upsampling_attributes_and_shapes() {
        let up = |attrs: &[(&str, &str)]| Op::parse("UpSampling", &Attrs::from_pairs(attrs));
        let op = up(&[
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("num_args", "2"),
        ])
        .unwrap();
        assert_eq!(
            op.inputs()
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["arg0", "arg1"]
        );
        assert_eq!(
            op.infer_shape(&mut [Some(vec![1, 2, 4, 6]), Some(vec![1, 2, 2, 3])])
                .unwrap(),
            vec![vec![1, 4, 8, 12]]
        );
        // The second input must be repeatable by one integer factor to the output size.
        assert!(op
            .infer_shape(&mut [Some(vec![1, 2, 4, 4]), Some(vec![1, 3, 3, 3])])
            .is_err());
        assert!(op
            .infer_shape(&mut [Some(vec![1, 1, 2, 3]), Some(vec![1, 1, 1, 2])])
            .is_err());
        assert!(op.infer_shape(&mut [Some(vec![1, 2, 4])]).is_err());
        let sum = up(&[
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("num_args", "2"),
            ("multi_input_mode", "sum"),
        ])
        .unwrap();
        let e = sum
            .infer_shape(&mut [Some(vec![1, 2, 4, 4]), Some(vec![1, 3, 2, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(1, 3, 2, 2)"), "{e}");

        let bil = up(&[
            ("scale", "3"),
            ("sample_type", "bilinear"),
            ("num_args", "2"),
            ("num_filter", "3"),
        ])
        .unwrap();
        assert_eq!(
            bil.inputs()
                .iter()
                .map(|(n, r)| (n.as_str(), *r))
                .collect::<Vec<_>>(),
            [("data", InputRole::Data), ("weight", InputRole::Weight)]
        );
        let mut ins = vec![Some(vec![2, 3, 4, 4]), None];
        assert_eq!(bil.infer_shape(&mut ins).unwrap(), vec![vec![2, 3, 12, 12]]);
        assert_eq!(ins[1], Some(vec![3, 1, 5, 5]));
        // num_filter must equal the channels (MXNet crashes or fails otherwise).
        let bad = up(&[
            ("scale", "2"),
            ("sample_type", "bilinear"),
            ("num_args", "2"),
        ])
        .unwrap();
        assert!(bad
            .infer_shape(&mut [Some(vec![1, 3, 4, 4]), None])
            .unwrap_err()
            .to_string()
            .contains("num_filter"));

        assert!(up(&[("scale", "0"), ("sample_type", "nearest")]).is_err());
        assert!(up(&[("scale", "2")])
            .unwrap_err()
            .to_string()
            .contains("sample_type"));
        assert!(up(&[("scale", "2"), ("sample_type", "bicubic")]).is_err());
        assert!(up(&[
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("multi_input_mode", "max")
        ])
        .is_err());
        assert!(up(&[
            ("scale", "2"),
            ("sample_type", "nearest"),
            ("workspace", "512")
        ])
        .is_ok());
    }
}
