//! Normalisation operators (spec §4.2, §4.3, §5.1, §5.2, §5.14): BatchNorm (and its variants
//! BatchNorm_v1, CuDNNBatchNorm, _contrib_SyncBatchNorm), InstanceNorm, LayerNorm, GroupNorm,
//! LRN, L2Normalization.
//!
//! Inference only: BatchNorm uses the moving statistics; every other op normalises with
//! statistics of the input itself (biased variance). Statistics are accumulated in f64, so the
//! results are at least as accurate as MXNet's f32 kernels. The defaults differ from op to op
//! (BatchNorm/InstanceNorm eps 1e-3, LayerNorm/GroupNorm 1e-5, L2Normalization 1e-10) and are
//! MXNet's, never Gluon's (spec §5.1, §5.14).

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::epilogue::{clip, leaky, relu, FusedAct};
use crate::ops::{resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum NormOp {
    /// BatchNorm and its variants: see [`BatchNorm`].
    BatchNorm(BatchNorm),
    /// `InstanceNorm(eps=1e-3)`: inputs data `(N, C, …)` (rank ≥ 3), gamma `(C,)`, beta `(C,)`.
    /// Each (n, c) plane is normalised over its spatial elements with the biased variance, then
    /// scaled by gamma[c] and shifted by beta[c].
    InstanceNorm { eps: f32 },
    /// `LayerNorm(axis=-1, eps=1e-5, output_mean_var=False)`: normalises over the one axis
    /// `axis` (biased variance), then gamma/beta of shape `(data.shape[axis],)` apply along it.
    /// With `output_mean_var` there are 3 outputs: y, the mean and the std `sqrt(var + eps)`,
    /// both shaped like data with `axis` set to 1.
    LayerNorm {
        axis: i64,
        eps: f32,
        output_mean_var: bool,
    },
    /// `GroupNorm(num_groups=1, eps=1e-5, output_mean_var=False)`: data `(N, C, …)` (rank ≥ 3,
    /// C divisible by num_groups); each (n, group) block of C/G channels × spatial is normalised.
    /// In MXNet 1.9.1 gamma and beta have shape `(num_groups,)` and apply **per group**, not per
    /// channel (spec §4.3). `output_mean_var` adds mean and std `sqrt(var + eps)` of shape (N, G).
    GroupNorm {
        num_groups: usize,
        eps: f32,
        output_mean_var: bool,
    },
    /// `LRN(nsize, alpha=1e-4, beta=0.75, knorm=2)`: across channels (axis 1),
    /// `y = x / (knorm + alpha/nsize · Σ x²)^beta`, the sum over the `nsize` channels centred on
    /// c, clipped at the edges (alpha is divided by nsize). `nsize` must be odd (MXNet).
    Lrn {
        nsize: usize,
        alpha: f32,
        beta: f32,
        knorm: f32,
    },
    /// `L2Normalization(eps=1e-10, mode='instance')`: `y = x / sqrt(Σ x² + eps)`, summing over
    /// all non-batch axes (`instance`), the channel axis 1 (`channel`) or the axes 2.. (`spatial`);
    /// the last two need rank ≥ 3.
    L2Normalization { eps: f32, mode: L2Mode },
}

/// Which axes [`NormOp::L2Normalization`] sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Mode {
    Instance,
    Channel,
    Spatial,
}

/// Which registered BatchNorm flavour a node uses. They compute the same thing at inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNormVariant {
    /// `BatchNorm`.
    Standard,
    /// `BatchNorm_v1` (legacy): no `axis` attribute (always 1); its third `output_mean_var`
    /// output is the variance, not the inverse std.
    V1,
    /// `CuDNNBatchNorm` (old GPU builds): BatchNorm's attributes.
    CuDnn,
    /// `_contrib_SyncBatchNorm`: adds `ndev` and the required `key` (multi-device training
    /// only), has no `axis`.
    Sync,
}

/// `BatchNorm(eps=1e-3, momentum=0.9, fix_gamma=True, use_global_stats=False,
/// output_mean_var=False, axis=1, cudnn_off=False, min_calib_range=None, max_calib_range=None)`
/// at inference (spec §4.2, §5.1–5.2).
///
/// Inputs: data, gamma, beta (weights), moving_mean, moving_var (aux states), the last four of
/// shape `(C,)` with `C = data.shape[axis]` (negative axes allowed).
/// `y = (x − mean) / sqrt(var + eps) · g + beta` with `g = 1` when `fix_gamma` (the stored
/// gamma is ignored) and `g = gamma` otherwise; `momentum` and `use_global_stats` have no effect
/// at inference. With `output_mean_var` there are 3 visible outputs: y, the moving mean, and
/// `1/sqrt(var + eps)` (for `BatchNorm_v1`: the moving variance), as MXNet 1.9.1 returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    pub variant: BatchNormVariant,
    pub eps: f32,
    pub fix_gamma: bool,
    pub axis: i64,
    pub output_mean_var: bool,
    /// An activation fused into the store by [`crate::optimize::fuse_epilogues`] (a
    /// pre-activation network's BatchNorm → relu; none when parsed).
    pub act: FusedAct,
}

/// `y = act(x·scale[c] + shift[c])` over `(outer, channels, inner)`.
fn affine(
    x: &[f32],
    y: &mut [f32],
    (outer, channels, inner): (usize, usize, usize),
    scale: &[f32],
    shift: &[f32],
    act: impl Fn(f32) -> f32,
) {
    let block = channels * inner;
    if block == 0 {
        return;
    }
    for (xb, yb) in x
        .chunks_exact(block)
        .zip(y.chunks_exact_mut(block))
        .take(outer)
    {
        if inner == 1 {
            // Channels last: one scale/shift per element of the row.
            for (((o, &v), &s), &t) in yb.iter_mut().zip(xb).zip(scale).zip(shift) {
                *o = act(v * s + t);
            }
        } else {
            for ((xc, yc), (&s, &t)) in xb
                .chunks_exact(inner)
                .zip(yb.chunks_exact_mut(inner))
                .zip(scale.iter().zip(shift))
            {
                for (o, &v) in yc.iter_mut().zip(xc) {
                    *o = act(v * s + t);
                }
            }
        }
    }
}

impl BatchNorm {
    fn parse(variant: BatchNormVariant, attrs: &Attrs) -> Result<BatchNorm> {
        let bn = BatchNorm {
            variant,
            eps: attrs.float_or("eps", 1e-3)? as f32,
            fix_gamma: attrs.bool_or("fix_gamma", true)?,
            axis: match variant {
                BatchNormVariant::Standard | BatchNormVariant::CuDnn => attrs.int_or("axis", 1)?,
                BatchNormVariant::V1 | BatchNormVariant::Sync => 1,
            },
            output_mean_var: attrs.bool_or("output_mean_var", false)?,
            act: FusedAct::None,
        };
        // Accepted, no effect at inference.
        attrs.float_or("momentum", 0.9)?;
        attrs.bool_or("use_global_stats", false)?;
        match variant {
            BatchNormVariant::Standard | BatchNormVariant::CuDnn => {
                attrs.bool_or("cudnn_off", false)?;
                attrs.opt_float("min_calib_range")?;
                attrs.opt_float("max_calib_range")?;
            }
            BatchNormVariant::Sync => {
                attrs.int_or("ndev", 1)?;
                attrs
                    .str("key")
                    .ok_or_else(|| Error::attr("key", "", "required attribute is missing"))?;
            }
            BatchNormVariant::V1 => {}
        }
        if bn.eps.is_nan() || bn.eps < 0.0 {
            return Err(Error::attr(
                "eps",
                &bn.eps.to_string(),
                "must be non-negative",
            ));
        }
        Ok(bn)
    }

    /// Per-channel `(scale, shift)` such that the output is `x · scale[c] + shift[c]`:
    /// `scale = g / sqrt(var + eps)`, `shift = beta − mean · scale` (`g = 1` under `fix_gamma`).
    /// The planner uses it to fold BatchNorm into the preceding convolution. All four slices
    /// must have the same length (the channel count); extra elements are ignored.
    pub fn scale_shift(
        &self,
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let c = gamma.len().min(beta.len()).min(mean.len()).min(var.len());
        let (mut scale, mut shift) = (vec![0.0; c], vec![0.0; c]);
        self.fill_scale_shift(gamma, beta, mean, var, &mut scale, &mut shift);
        (scale, shift)
    }

    fn fill_scale_shift(
        &self,
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
        scale: &mut [f32],
        shift: &mut [f32],
    ) {
        for (c, (sc, sh)) in scale.iter_mut().zip(shift.iter_mut()).enumerate() {
            let g = if self.fix_gamma { 1.0 } else { gamma[c] };
            // MXNet multiplies by the inverse std rather than dividing; so do we.
            let inv_std = 1.0 / (var[c] + self.eps).sqrt();
            *sc = g * inv_std;
            *sh = beta[c] - mean[c] * *sc;
        }
    }

    fn name(&self) -> &'static str {
        match self.variant {
            BatchNormVariant::Standard => "BatchNorm",
            BatchNormVariant::V1 => "BatchNorm_v1",
            BatchNormVariant::CuDnn => "CuDNNBatchNorm",
            BatchNormVariant::Sync => "_contrib_SyncBatchNorm",
        }
    }

    /// (channel axis, elements before it, channels, elements after it).
    fn layout(&self, data: &[usize]) -> Result<(usize, usize, usize, usize)> {
        let axis = resolve_axis(self.axis, data.len(), self.name())?;
        Ok((
            axis,
            numel(&data[..axis]),
            data[axis],
            numel(&data[axis + 1..]),
        ))
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let (_, outer, channels, inner) = self.layout(inputs[0].shape)?;
        for (k, p) in inputs[1..5].iter().enumerate() {
            if p.data.len() != channels {
                return Err(Error::shape(format!(
                    "{}: {} has {} values, expected {channels} (channels of {})",
                    self.name(),
                    ["gamma", "beta", "moving_mean", "moving_var"][k],
                    p.data.len(),
                    fmt_shape(inputs[0].shape)
                )));
            }
        }
        let (gamma, beta, mean, var) = (
            inputs[1].data,
            inputs[2].data,
            inputs[3].data,
            inputs[4].data,
        );
        let buf = Scratch::take(&mut scratch.a, 2 * channels);
        let (scale, shift) = buf.split_at_mut(channels);
        self.fill_scale_shift(gamma, beta, mean, var, scale, shift);

        let (x, y) = (inputs[0].data, &mut *outputs[0].data);
        check_len(y, x.len(), self.name())?;
        // One pass: the fused activation is applied as each value is stored (a loop
        // specialised per activation).
        let (dims, scale, shift) = ((outer, channels, inner), &*scale, &*shift);
        match self.act {
            FusedAct::None => affine(x, y, dims, scale, shift, |v| v),
            FusedAct::Relu => affine(x, y, dims, scale, shift, relu),
            FusedAct::Leaky { slope } => affine(x, y, dims, scale, shift, |v| leaky(v, slope)),
            FusedAct::Clip { lo, hi } => affine(x, y, dims, scale, shift, |v| clip(v, lo, hi)),
        }
        if self.output_mean_var {
            let [_, mean_out, third] = outputs else {
                return Err(Error::shape(format!(
                    "{}: output_mean_var needs 3 outputs",
                    self.name()
                )));
            };
            check_len(mean_out.data, channels, self.name())?;
            check_len(third.data, channels, self.name())?;
            mean_out.data.copy_from_slice(mean);
            for (o, &v) in third.data.iter_mut().zip(var) {
                *o = match self.variant {
                    BatchNormVariant::V1 => v,
                    _ => 1.0 / (v + self.eps).sqrt(),
                };
            }
        }
        Ok(())
    }
}

fn check_len(buf: &[f32], expected: usize, op: &str) -> Result<()> {
    if buf.len() != expected {
        return Err(Error::shape(format!(
            "{op}: buffer holds {} values, expected {expected}",
            buf.len()
        )));
    }
    Ok(())
}

/// Fills a parameter slot with `expected` when unknown, or checks the given shape.
fn param_shape(
    slot: &mut Option<Vec<usize>>,
    expected: &[usize],
    op: &str,
    name: &str,
) -> Result<()> {
    match slot {
        None => *slot = Some(expected.to_vec()),
        Some(given) if given == expected => {}
        Some(given) => {
            return Err(Error::shape(format!(
                "{op}: {name} has shape {}, expected {}",
                fmt_shape(given),
                fmt_shape(expected)
            )));
        }
    }
    Ok(())
}

/// Mean and biased variance of `values` (f64 accumulation, two passes).
fn mean_var(values: impl Iterator<Item = f32> + Clone) -> (f64, f64) {
    let (mut n, mut sum) = (0usize, 0.0f64);
    for v in values.clone() {
        sum += v as f64;
        n += 1;
    }
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / n as f64;
    let var = values.map(|v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    (mean, var)
}

impl Operator for NormOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let eps = |default: f64| -> Result<f32> {
            let e = attrs.float_or("eps", default)?;
            if e.is_nan() || e < 0.0 {
                return Err(Error::attr("eps", &e.to_string(), "must be non-negative"));
            }
            Ok(e as f32)
        };
        let parsed = match op {
            "BatchNorm" => NormOp::BatchNorm(BatchNorm::parse(BatchNormVariant::Standard, attrs)?),
            "BatchNorm_v1" => NormOp::BatchNorm(BatchNorm::parse(BatchNormVariant::V1, attrs)?),
            "CuDNNBatchNorm" => {
                NormOp::BatchNorm(BatchNorm::parse(BatchNormVariant::CuDnn, attrs)?)
            }
            "_contrib_SyncBatchNorm" => {
                NormOp::BatchNorm(BatchNorm::parse(BatchNormVariant::Sync, attrs)?)
            }
            "InstanceNorm" => NormOp::InstanceNorm { eps: eps(1e-3)? },
            "LayerNorm" => NormOp::LayerNorm {
                axis: attrs.int_or("axis", -1)?,
                eps: eps(1e-5)?,
                output_mean_var: attrs.bool_or("output_mean_var", false)?,
            },
            "GroupNorm" => {
                let groups = attrs.int_or("num_groups", 1)?;
                if groups < 1 {
                    return Err(Error::attr(
                        "num_groups",
                        &groups.to_string(),
                        "must be at least 1",
                    ));
                }
                NormOp::GroupNorm {
                    num_groups: groups as usize,
                    eps: eps(1e-5)?,
                    output_mean_var: attrs.bool_or("output_mean_var", false)?,
                }
            }
            "LRN" => {
                let nsize = attrs.int_req("nsize")?;
                if nsize < 1 {
                    return Err(Error::attr(
                        "nsize",
                        &nsize.to_string(),
                        "must be a positive odd number",
                    ));
                }
                NormOp::Lrn {
                    nsize: nsize as usize,
                    alpha: attrs.float_or("alpha", 1e-4)? as f32,
                    beta: attrs.float_or("beta", 0.75)? as f32,
                    knorm: attrs.float_or("knorm", 2.0)? as f32,
                }
            }
            "L2Normalization" => NormOp::L2Normalization {
                eps: attrs.float_or("eps", 1e-10)? as f32,
                mode: match attrs.choice("mode", &["channel", "instance", "spatial"], "instance")? {
                    "channel" => L2Mode::Channel,
                    "spatial" => L2Mode::Spatial,
                    _ => L2Mode::Instance,
                },
            },
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            NormOp::BatchNorm(bn) => bn.name(),
            NormOp::InstanceNorm { .. } => "InstanceNorm",
            NormOp::LayerNorm { .. } => "LayerNorm",
            NormOp::GroupNorm { .. } => "GroupNorm",
            NormOp::Lrn { .. } => "LRN",
            NormOp::L2Normalization { .. } => "L2Normalization",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let slots: &[(&str, InputRole)] = match self {
            NormOp::BatchNorm(_) => &[
                ("data", InputRole::Data),
                ("gamma", InputRole::Weight),
                ("beta", InputRole::Weight),
                ("moving_mean", InputRole::Aux),
                ("moving_var", InputRole::Aux),
            ],
            NormOp::InstanceNorm { .. } | NormOp::LayerNorm { .. } | NormOp::GroupNorm { .. } => &[
                ("data", InputRole::Data),
                ("gamma", InputRole::Weight),
                ("beta", InputRole::Weight),
            ],
            NormOp::Lrn { .. } | NormOp::L2Normalization { .. } => &[("data", InputRole::Data)],
        };
        slots.iter().map(|&(n, r)| (n.to_string(), r)).collect()
    }

    fn num_outputs(&self) -> usize {
        match self {
            NormOp::BatchNorm(BatchNorm {
                output_mean_var: true,
                ..
            })
            | NormOp::LayerNorm {
                output_mean_var: true,
                ..
            }
            | NormOp::GroupNorm {
                output_mean_var: true,
                ..
            } => 3,
            _ => 1,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let names = self.inputs();
        if inputs.len() != names.len() {
            return Err(Error::shape(format!(
                "{op}: expected {} inputs, got {}",
                names.len(),
                inputs.len()
            )));
        }
        let data = inputs[0]
            .clone()
            .ok_or_else(|| Error::shape(format!("{op}: the data shape is unknown")))?;
        // Shape of every parameter slot, and the extra outputs of output_mean_var.
        let (param, stats): (Vec<usize>, Vec<usize>) = match self {
            NormOp::BatchNorm(bn) => {
                let (_, _, channels, _) = bn.layout(&data)?;
                (vec![channels], vec![channels])
            }
            NormOp::InstanceNorm { .. } => {
                if data.len() < 3 {
                    return Err(Error::shape(format!(
                        "InstanceNorm only supports input tensors of rank >= 3, got {}",
                        fmt_shape(&data)
                    )));
                }
                (vec![data[1]], vec![])
            }
            NormOp::LayerNorm { axis, .. } => {
                let a = resolve_axis(*axis, data.len(), op)?;
                let mut stats = data.clone();
                stats[a] = 1;
                (vec![data[a]], stats)
            }
            NormOp::GroupNorm { num_groups, .. } => {
                if data.len() < 3 || data[1] % num_groups != 0 {
                    return Err(Error::shape(format!(
                        "GroupNorm: data {} must have rank >= 3 and channels divisible by num_groups={num_groups}",
                        fmt_shape(&data)
                    )));
                }
                (vec![*num_groups], vec![data[0], *num_groups])
            }
            NormOp::Lrn { nsize, .. } => {
                if nsize % 2 == 0 {
                    return Err(Error::shape(format!(
                        "LRN only supports odd values for nsize, got {nsize}"
                    )));
                }
                if data.len() < 2 {
                    return Err(Error::shape(format!(
                        "LRN: data {} has no channel axis",
                        fmt_shape(&data)
                    )));
                }
                (vec![], vec![])
            }
            NormOp::L2Normalization { mode, .. } => {
                if *mode != L2Mode::Instance && data.len() < 3 {
                    return Err(Error::shape(format!(
                        "L2Normalization: at least 3 dimensions required in {mode:?} mode, got {}",
                        fmt_shape(&data)
                    )));
                }
                if data.is_empty() {
                    return Err(Error::shape("L2Normalization: data must have rank >= 1"));
                }
                (vec![], vec![])
            }
        };
        for (slot, (name, _)) in inputs.iter_mut().zip(&names).skip(1) {
            param_shape(slot, &param, op, name)?;
        }
        let mut outs = vec![data];
        if self.num_outputs() == 3 {
            outs.push(stats.clone());
            outs.push(stats);
        }
        Ok(outs)
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let op = self.name();
        if inputs.len() != self.input_count() || outputs.len() != self.num_outputs() {
            return Err(Error::shape(format!(
                "{op}: called with {} inputs and {} outputs",
                inputs.len(),
                outputs.len()
            )));
        }
        let data = inputs[0];
        check_len(data.data, numel(data.shape), op)?;
        check_len(outputs[0].data, data.data.len(), op)?;
        match *self {
            NormOp::BatchNorm(ref bn) => bn.forward(inputs, outputs, scratch),
            NormOp::InstanceNorm { eps } => {
                let (channels, spatial) = (
                    *data.shape.get(1).unwrap_or(&0),
                    numel(data.shape.get(2..).unwrap_or(&[])),
                );
                let (gamma, beta) = (inputs[1].data, inputs[2].data);
                check_len(gamma, channels, op)?;
                check_len(beta, channels, op)?;
                if spatial == 0 {
                    return Ok(());
                }
                // One (n, c) plane at a time.
                for (p, (x, y)) in data
                    .data
                    .chunks_exact(spatial)
                    .zip(outputs[0].data.chunks_exact_mut(spatial))
                    .enumerate()
                {
                    let c = p % channels;
                    normalize(x.iter().copied(), y.iter_mut(), eps, gamma[c], beta[c]);
                }
                Ok(())
            }
            NormOp::LayerNorm {
                axis,
                eps,
                output_mean_var,
            } => {
                let a = resolve_axis(axis, data.shape.len(), op)?;
                let (len, inner) = (data.shape[a], numel(&data.shape[a + 1..]));
                let (gamma, beta) = (inputs[1].data, inputs[2].data);
                check_len(gamma, len, op)?;
                check_len(beta, len, op)?;
                let groups = numel(&data.shape[..a]);
                let (y_out, stats) = outputs.split_at_mut(1);
                let y = &mut *y_out[0].data;
                if output_mean_var {
                    for s in stats.iter() {
                        check_len(s.data, groups * inner, op)?;
                    }
                }
                // Each (outer, inner) position is one vector of `len` elements at stride `inner`.
                let block = len * inner;
                for o in 0..groups {
                    let x_block = &data.data[o * block..(o + 1) * block];
                    let y_block = &mut y[o * block..(o + 1) * block];
                    for i in 0..inner {
                        let x = x_block.iter().skip(i).step_by(inner).copied();
                        let (mean, var) = mean_var(x.clone());
                        let std = (var + eps as f64).sqrt();
                        let (m, inv_std) = (mean as f32, (1.0 / std) as f32);
                        let y = y_block.iter_mut().skip(i).step_by(inner);
                        for (((out, v), &g), &b) in y.zip(x).zip(gamma).zip(beta) {
                            *out = (v - m) * inv_std * g + b;
                        }
                        if let [mean_out, std_out] = stats {
                            mean_out.data[o * inner + i] = m;
                            std_out.data[o * inner + i] = std as f32;
                        }
                    }
                }
                Ok(())
            }
            NormOp::GroupNorm {
                num_groups,
                eps,
                output_mean_var,
            } => {
                let (gamma, beta) = (inputs[1].data, inputs[2].data);
                check_len(gamma, num_groups, op)?;
                check_len(beta, num_groups, op)?;
                let batch = *data.shape.first().unwrap_or(&0);
                let group_len = data.data.len() / (batch * num_groups).max(1);
                let (y_out, stats) = outputs.split_at_mut(1);
                if output_mean_var {
                    for s in stats.iter() {
                        check_len(s.data, batch * num_groups, op)?;
                    }
                }
                if group_len == 0 {
                    return Ok(());
                }
                for (b, (x, y)) in data
                    .data
                    .chunks_exact(group_len)
                    .zip(y_out[0].data.chunks_exact_mut(group_len))
                    .enumerate()
                {
                    let g = b % num_groups;
                    let (mean, var) =
                        normalize(x.iter().copied(), y.iter_mut(), eps, gamma[g], beta[g]);
                    if let [mean_out, std_out] = stats {
                        mean_out.data[b] = mean as f32;
                        std_out.data[b] = (var + eps as f64).sqrt() as f32;
                    }
                }
                Ok(())
            }
            NormOp::Lrn {
                nsize,
                alpha,
                beta,
                knorm,
            } => {
                let channels = *data.shape.get(1).unwrap_or(&0);
                let spatial = numel(data.shape.get(2..).unwrap_or(&[]));
                let image = channels * spatial;
                if image == 0 {
                    return Ok(());
                }
                let half = nsize / 2;
                let coeff = alpha / nsize as f32;
                let window_sum = Scratch::take(&mut scratch.a, spatial);
                for (x, y) in data
                    .data
                    .chunks_exact(image)
                    .zip(outputs[0].data.chunks_exact_mut(image))
                {
                    for c in 0..channels {
                        // Σ x² over the channels [c − half, c + half] ∩ [0, C).
                        window_sum.fill(0.0);
                        for cc in c.saturating_sub(half)..(c + half + 1).min(channels) {
                            for (s, &v) in window_sum
                                .iter_mut()
                                .zip(&x[cc * spatial..(cc + 1) * spatial])
                            {
                                *s += v * v;
                            }
                        }
                        let (xc, yc) = (
                            &x[c * spatial..(c + 1) * spatial],
                            &mut y[c * spatial..(c + 1) * spatial],
                        );
                        for ((o, &v), &s) in yc.iter_mut().zip(xc).zip(window_sum.iter()) {
                            *o = v * (knorm + coeff * s).powf(-beta);
                        }
                    }
                }
                Ok(())
            }
            NormOp::L2Normalization { eps, mode } => {
                let shape = data.shape;
                if shape.is_empty() || (mode != L2Mode::Instance && shape.len() < 3) {
                    return Err(Error::shape(format!(
                        "L2Normalization: unsupported data shape {} for {mode:?} mode",
                        fmt_shape(shape)
                    )));
                }
                let batch = shape[0];
                let per_item = numel(&shape[1..]);
                let (channels, spatial) = match mode {
                    // One vector per batch item.
                    L2Mode::Instance => (per_item, 1),
                    _ => (shape[1], numel(&shape[2..])),
                };
                let (x, y) = (data.data, &mut *outputs[0].data);
                match mode {
                    L2Mode::Instance | L2Mode::Spatial => {
                        // Contiguous vectors: per item (instance) or per (item, channel) (spatial).
                        let len = if mode == L2Mode::Instance {
                            per_item
                        } else {
                            spatial
                        };
                        if len > 0 {
                            for (xv, yv) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)) {
                                let norm = (xv.iter().map(|&v| (v as f64).powi(2)).sum::<f64>()
                                    + eps as f64)
                                    .sqrt();
                                for (o, &v) in yv.iter_mut().zip(xv) {
                                    *o = (v as f64 / norm) as f32;
                                }
                            }
                        }
                    }
                    L2Mode::Channel => {
                        // Vectors across channels at stride `spatial`, one per (item, position).
                        let norms = Scratch::take(&mut scratch.a, spatial);
                        for n in 0..batch {
                            let item = n * channels * spatial;
                            norms.fill(0.0);
                            for c in 0..channels {
                                for (s, &v) in norms
                                    .iter_mut()
                                    .zip(&x[item + c * spatial..item + (c + 1) * spatial])
                                {
                                    *s += v * v;
                                }
                            }
                            for s in norms.iter_mut() {
                                *s = 1.0 / (*s + eps).sqrt();
                            }
                            for c in 0..channels {
                                let range = item + c * spatial..item + (c + 1) * spatial;
                                for ((o, &v), &inv) in
                                    y[range.clone()].iter_mut().zip(&x[range]).zip(norms.iter())
                                {
                                    *o = v * inv;
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl NormOp {
    /// `inputs().len()` without allocating (forward checks it on every call).
    fn input_count(&self) -> usize {
        match self {
            NormOp::BatchNorm(_) => 5,
            NormOp::InstanceNorm { .. } | NormOp::LayerNorm { .. } | NormOp::GroupNorm { .. } => 3,
            NormOp::Lrn { .. } | NormOp::L2Normalization { .. } => 1,
        }
    }
}

/// `y = (x − mean) / sqrt(var + eps) · gamma + beta` over one vector; returns (mean, var).
fn normalize<'a>(
    x: impl Iterator<Item = f32> + Clone,
    y: impl Iterator<Item = &'a mut f32>,
    eps: f32,
    gamma: f32,
    beta: f32,
) -> (f64, f64) {
    let (mean, var) = mean_var(x.clone());
    let (m, inv_std) = (mean as f32, (1.0 / (var + eps as f64).sqrt()) as f32);
    for (o, v) in y.zip(x) {
        *o = (v - m) * inv_std * gamma + beta;
    }
    (mean, var)
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // values as MXNet printed them
mod tests {
    //! Expected values come from MXNet 1.9.1, run on inputs generated by the formula in
    //! [`input`] (the same one the reference script used).
    use super::*;

    fn parse(name: &str, attrs: &[(&str, &str)]) -> Result<NormOp> {
        let a = Attrs::from_pairs(attrs);
        let op = NormOp::parse(name, &a)?.expect("operator of this family");
        a.finish()?;
        Ok(op)
    }

    fn op(name: &str, attrs: &[(&str, &str)]) -> NormOp {
        parse(name, attrs).unwrap()
    }

    /// The reference input: `sin(k·i + phase)·2 + 0.05·i`, computed in f32 like numpy did.
    fn input(n: usize, k: f32, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * k + phase).sin() * 2.0 + 0.05 * i as f32)
            .collect()
    }

    /// Runs shape inference (parameters unknown) and forward; returns every output.
    fn run(
        op: &NormOp,
        data_shape: &[usize],
        ins: &[&[f32]],
    ) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let mut slots: Vec<Option<Vec<usize>>> = vec![None; op.inputs().len()];
        slots[0] = Some(data_shape.to_vec());
        let out_shapes = op.infer_shape(&mut slots)?;
        let shapes: Vec<Vec<usize>> = slots.into_iter().map(|s| s.unwrap()).collect();
        let views: Vec<View> = shapes
            .iter()
            .zip(ins)
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

    /// Whitespace-separated numbers (MXNet's printed outputs).
    fn vals(s: &str) -> Vec<f32> {
        s.split_whitespace().map(|v| v.parse().unwrap()).collect()
    }

    fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "element {i}: got {g}, want {w}\n got {got:?}"
            );
        }
    }

    const GAMMA: [f32; 3] = [0.5, -1.5, 2.0];
    const BETA: [f32; 3] = [0.1, 0.2, -0.3];
    const MEAN: [f32; 3] = [0.3, -0.2, 0.5];
    const VAR: [f32; 3] = [1.5, 0.25, 2.0];

    fn bn(attrs: &[(&str, &str)], shape: &[usize], k: f32) -> Vec<(Vec<usize>, Vec<f32>)> {
        let x = input(numel(shape), k, 0.0);
        run(
            &op("BatchNorm", attrs),
            shape,
            &[&x, &GAMMA, &BETA, &MEAN, &VAR],
        )
        .unwrap()
    }

    #[test]
    fn reference_input_matches_numpy() {
        assert_close(
            &input(4, 0.7, 0.0),
            &[0.0, 1.3384353, 2.0708995, 1.8764188],
            1e-7,
        );
    }

    #[test]
    fn batchnorm_defaults_and_values() {
        // No attributes: eps = 1e-3 and fix_gamma = True (gamma ignored), axis 1.
        let d = op("BatchNorm", &[]);
        assert_eq!(
            d,
            NormOp::BatchNorm(BatchNorm {
                variant: BatchNormVariant::Standard,
                eps: 1e-3,
                fix_gamma: true,
                axis: 1,
                output_mean_var: false,
                act: FusedAct::None,
            })
        );
        let out = bn(&[], &[2, 3, 2], 0.7);
        assert_eq!(out[0].0, [2, 3, 2]);
        let want = vals(
            "-0.14486736 0.9475963 4.7327428 4.3445568 -0.038452566 -0.9726910 -1.3228027 \
             -1.4629924 -1.1224247 1.5645283 0.62888718 1.1324782",
        );
        assert_close(&out[0].1, &want, 2e-6);
        let out = bn(&[("fix_gamma", "False"), ("eps", "1e-05")], &[2, 3, 2], 0.7);
        let want = vals(
            "-0.022474080 0.523938 -6.6125622 -6.0291319 0.22322428 -1.6457148 -0.61163610 \
             -0.68175411 2.1875606 -1.8508406 1.5582340 2.5656652",
        );
        assert_close(&out[0].1, &want, 2e-6);
        // eps is used exactly even far below 1e-5.
        let out = bn(
            &[("fix_gamma", "False"), ("eps", "1e-7")],
            &[1, 3, 2, 2],
            0.7,
        );
        let want = vals(
            "-0.022474483 0.52393937 0.82296669 0.74357033 -3.0099289 0.95469934 3.9294534 \
             4.4447145 -2.2269132 -0.32315457 1.5582387 2.5656724",
        );
        assert_close(&out[0].1, &want, 2e-6);
        // 5-D input.
        let out = bn(&[], &[1, 3, 1, 2, 2], 0.7);
        let want = vals(
            "-0.14486736 0.94759631 1.5454516 1.3867117 2.3356860 -0.30212975 -2.2813447 \
             -2.6241677 -1.2632159 -0.31157440 0.62888718 1.1324782",
        );
        assert_close(&out[0].1, &want, 2e-6);
    }

    #[test]
    fn batchnorm_axis_and_output_mean_var() {
        let out = bn(&[("fix_gamma", "False"), ("axis", "-1")], &[2, 2, 3], 0.9);
        let want = vals(
            "-0.022433683 -5.2390947 1.8882246 0.38762125 1.6522207 -3.4176469 -0.53074944 \
             -1.5473905 1.8028843 0.95286483 -4.3635931 -1.5230896",
        );
        assert_close(&out[0].1, &want, 2e-6);
        let o = op(
            "BatchNorm",
            &[("fix_gamma", "False"), ("output_mean_var", "True")],
        );
        assert_eq!(o.num_outputs(), 3);
        let out = bn(
            &[("fix_gamma", "False"), ("output_mean_var", "True")],
            &[2, 3, 2],
            0.7,
        );
        assert_eq!(out[1].0, [3]);
        assert_eq!(out[1].1, MEAN);
        // The third output is 1/sqrt(var + eps), not the variance.
        assert_close(&out[2].1, &[0.81622452, 1.9960121, 0.70693010], 1e-6);
        // BatchNorm_v1 returns the variance there.
        let x = input(12, 0.7, 0.0);
        let v1 = op(
            "BatchNorm_v1",
            &[("fix_gamma", "False"), ("output_mean_var", "True")],
        );
        let out = run(&v1, &[1, 3, 2, 2], &[&x, &GAMMA, &BETA, &MEAN, &VAR]).unwrap();
        let want = vals(
            "-0.022433683 0.52379817 0.82272577 0.74335581 -3.0035288 0.95319444 3.9220171 \
             4.4362516 -2.2264318 -0.32314879 1.5577743 2.5649564",
        );
        assert_close(&out[0].1, &want, 2e-6);
        assert_eq!(out[2].1, VAR);
        // SyncBatchNorm: same output; ndev / key are read and ignored.
        let sync = op(
            "_contrib_SyncBatchNorm",
            &[("fix_gamma", "False"), ("key", "abc"), ("ndev", "2")],
        );
        let out = run(&sync, &[1, 3, 4], &[&x, &GAMMA, &BETA, &MEAN, &VAR]).unwrap();
        assert_close(&out[0].1, &want, 2e-6);
        assert!(
            parse("_contrib_SyncBatchNorm", &[]).is_err(),
            "key is required"
        );
        assert!(
            parse("BatchNorm_v1", &[("axis", "1")]).is_err(),
            "BatchNorm_v1 has no axis"
        );
        assert!(parse("CuDNNBatchNorm", &[("axis", "1"), ("cudnn_off", "True")]).is_ok());
    }

    #[test]
    fn batchnorm_shapes_and_names() {
        let o = op(
            "BatchNorm",
            &[
                ("momentum", "0.9"),
                ("use_global_stats", "False"),
                ("min_calib_range", "None"),
            ],
        );
        let names: Vec<(String, InputRole)> = o.inputs();
        assert_eq!(names[0], ("data".to_string(), InputRole::Data));
        assert_eq!(names[2], ("beta".to_string(), InputRole::Weight));
        assert_eq!(names[3], ("moving_mean".to_string(), InputRole::Aux));
        assert_eq!(names[4], ("moving_var".to_string(), InputRole::Aux));
        let mut slots = vec![Some(vec![2, 3, 4]), None, None, None, None];
        assert_eq!(o.infer_shape(&mut slots).unwrap(), [vec![2, 3, 4]]);
        assert!(slots[1..].iter().all(|s| s.as_deref() == Some(&[3][..])));
        let mut slots = vec![Some(vec![2, 3, 4]), Some(vec![4]), None, None, None];
        let e = o.infer_shape(&mut slots).unwrap_err().to_string();
        assert!(e.contains("(4,)") && e.contains("(3,)"), "{e}");
        for (shape, axis) in [(vec![3], "1"), (vec![2, 3, 4], "3"), (vec![2, 3, 4], "-4")] {
            let o = op("BatchNorm", &[("axis", axis)]);
            let mut slots = vec![Some(shape.clone()), None, None, None, None];
            assert!(o.infer_shape(&mut slots).is_err(), "{shape:?} axis {axis}");
        }
        let mut slots = vec![Some(vec![2, 3]), None, None, None, None];
        assert_eq!(
            op("BatchNorm_v1", &[]).infer_shape(&mut slots).unwrap(),
            [vec![2, 3]]
        );
    }

    #[test]
    fn batchnorm_scale_shift_folds() {
        let NormOp::BatchNorm(b) = op("BatchNorm", &[("fix_gamma", "False"), ("eps", "0.001")])
        else {
            unreachable!()
        };
        let (scale, shift) = b.scale_shift(&GAMMA, &BETA, &MEAN, &VAR);
        assert_eq!(scale.len(), 3);
        for c in 0..3 {
            let x = 0.7f32;
            let direct = (x - MEAN[c]) / (VAR[c] + 1e-3).sqrt() * GAMMA[c] + BETA[c];
            assert!((x * scale[c] + shift[c] - direct).abs() < 1e-6);
        }
        // fix_gamma ignores the stored gamma.
        let NormOp::BatchNorm(b) = op("BatchNorm", &[]) else {
            unreachable!()
        };
        let (scale, _) = b.scale_shift(&GAMMA, &BETA, &MEAN, &VAR);
        assert!((scale[1] - 1.0 / (0.25f32 + 1e-3).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn instance_norm() {
        let o = op("InstanceNorm", &[]);
        assert_eq!(o, NormOp::InstanceNorm { eps: 1e-3 });
        let x = input(12, 0.7, 0.0);
        let out = run(&o, &[2, 3, 2], &[&x, &GAMMA, &BETA]).unwrap();
        let want = vals(
            "-0.39944270 0.59944272 -1.2264662 1.6264663 1.6977136 -2.2977135 0.56920010 \
             -0.36920011 1.6983472 -1.2983471 -2.2921641 1.6921639",
        );
        assert_close(&out[0].1, &want, 2e-6);
        let mut slots = vec![Some(vec![2, 3]), None, None];
        assert!(o.infer_shape(&mut slots).is_err(), "rank >= 3");
        let mut slots = vec![Some(vec![2, 3, 4, 2, 2]), None, None];
        o.infer_shape(&mut slots).unwrap();
        assert_eq!(slots[1], Some(vec![3]));
    }

    #[test]
    fn layer_norm() {
        let o = op("LayerNorm", &[]);
        assert_eq!(
            o,
            NormOp::LayerNorm {
                axis: -1,
                eps: 1e-5,
                output_mean_var: false
            }
        );
        let x = input(24, 0.7, 0.0);
        let (g4, b4) = ([0.5, -1.5, 2.0, 1.0], [0.1, 0.2, -0.3, 0.0]);
        let out = run(&o, &[2, 3, 4], &[&x, &g4, &b4]).unwrap();
        let want = vals(
            "-0.71697628 0.16847497 1.5534108 0.68623096 0.87374890 -0.11611499 -1.8845100 \
             -0.96598589 -0.61436206 0.78608745 0.97015935 1.1843696 0.76134348 -0.57135606 \
             -1.3637643 -1.3050424 -0.50239927 1.1275990 0.51921201 1.4135920 0.60162544 \
             -0.95378608 -0.78323925 -1.5308217",
        );
        assert_close(&out[0].1, &want, 2e-6);
        let o = op(
            "LayerNorm",
            &[("axis", "1"), ("output_mean_var", "True"), ("eps", "1e-3")],
        );
        assert_eq!(o.num_outputs(), 3);
        let out = run(&o, &[2, 3, 4], &[&x, &GAMMA, &BETA]).unwrap();
        let want = vals(
            "0.098247901 0.70243955 0.49287468 0.36038107 -1.6379064 2.0622499 2.3163402 \
             2.2983015 -2.7435334 -0.22675839 0.95028812 1.4562109 0.35682574 0.12883593 \
             -0.53999639 -0.47849199 2.2965972 2.0782804 0.016922548 -1.7233167 1.4681602 \
             2.0890300 2.0158820 -0.55045438",
        );
        assert_close(&out[0].1, &want, 2e-6);
        assert_eq!(out[1].0, [2, 1, 4]);
        assert_close(
            &out[1].1,
            &vals(
                "0.0024809837 0.45683202 0.81390715 0.92928338 1.3773524 1.2144723 0.88017464 \
                 0.55520153",
            ),
            1e-6,
        );
        assert_close(
            &out[2].1,
            &[
                0.70800292, 0.73169440, 1.5997369, 1.8187486, 1.8141596, 1.2783612, 0.71338940,
                1.3523031,
            ],
            1e-6,
        );
        let mut slots = vec![Some(vec![2, 3, 4]), None, None];
        assert!(op("LayerNorm", &[("axis", "3")])
            .infer_shape(&mut slots)
            .is_err());
    }

    #[test]
    fn group_norm() {
        let o = op(
            "GroupNorm",
            &[("num_groups", "2"), ("output_mean_var", "True")],
        );
        let x = input(24, 0.7, 0.0);
        let (g, b) = ([1.5, -0.5], [0.25, 1.0]);
        let out = run(&o, &[2, 4, 3], &[&x, &g, &b]).unwrap();
        let want = vals(
            "-1.2908933 0.87845474 2.0656395 1.7504232 0.11917233 -2.0227962 1.5005597 \
             1.5545049 1.3181965 0.89538801 0.47754669 0.25380421 2.8247693 1.5967957 \
             0.0078196526 -1.1665519 -1.3457131 -0.41711938 1.4710468 0.76181245 0.39049447 \
             0.51911151 1.0745562 1.7829783",
        );
        assert_close(&out[0].1, &want, 2e-6);
        assert_eq!(out[1].0, [2, 2]);
        assert_close(
            &out[1].1,
            &[0.95069391, 0.15055785, 0.16840257, 1.8451978],
            1e-6,
        );
        assert_close(
            &out[2].1,
            &[0.92546374, 1.5919272, 1.2471771, 0.93191683],
            1e-6,
        );
        // gamma/beta are per group: (num_groups,).
        let mut slots = vec![Some(vec![2, 4, 3]), None, None];
        o.infer_shape(&mut slots).unwrap();
        assert_eq!(slots[1], Some(vec![2]));
        for shape in [vec![2, 4], vec![2, 4, 3]] {
            let mut slots = vec![Some(shape.clone()), None, None];
            assert!(
                op("GroupNorm", &[("num_groups", "3")])
                    .infer_shape(&mut slots)
                    .is_err(),
                "{shape:?}"
            );
        }
        assert_eq!(
            op("GroupNorm", &[]),
            NormOp::GroupNorm {
                num_groups: 1,
                eps: 1e-5,
                output_mean_var: false
            }
        );
    }

    #[test]
    fn lrn() {
        let x: Vec<f32> = input(10, 1.1, 0.3).iter().map(|v| v * 3.0).collect();
        type Case<'a> = (&'a [(&'a str, &'a str)], Vec<f32>);
        let cases: [Case; 4] = [
            (
                &[("nsize", "3")],
                vals(
                    "1.0540634 3.6030276 2.3121324 -1.3104246 -3.2080433 -1.2106965 2.5969179 \
                     4.1508207 1.8512787 -1.6929703",
                ),
            ),
            (
                &[
                    ("nsize", "5"),
                    ("alpha", "0.5"),
                    ("beta", "0.6"),
                    ("knorm", "1.5"),
                ],
                vals(
                    "0.59084129 2.0532849 1.1046377 -0.52432573 -1.4329909 -0.46415830 1.1845931 \
                     1.9922476 0.94527054 -0.84329748",
                ),
            ),
            (
                &[
                    ("nsize", "1"),
                    ("alpha", "0.5"),
                    ("beta", "0.6"),
                    ("knorm", "1.5"),
                ],
                vals(
                    "0.90424782 1.0084172 1.0363312 -0.96986693 -1.0200591 -0.94861060 1.0339469 \
                     0.99134851 1.0273604 -1.0179520",
                ),
            ),
            (
                &[
                    ("nsize", "7"),
                    ("alpha", "0.5"),
                    ("beta", "0.6"),
                    ("knorm", "1.5"),
                ],
                vals(
                    "0.59032494 1.7085190 1.2162153 -0.59662002 -1.6878139 -0.55129802 1.3661962 \
                     1.8901784 0.99296188 -0.95253056",
                ),
            ),
        ];
        for (attrs, want) in cases {
            let out = run(&op("LRN", attrs), &[1, 5, 1, 2], &[&x]).unwrap();
            assert_close(&out[0].1, &want, 2e-6);
        }
        // 2-D input (channels on axis 1).
        let out = run(
            &op("LRN", &[("nsize", "3"), ("alpha", "0.5")]),
            &[2, 5],
            &[&x],
        )
        .unwrap();
        let want = vals(
            "0.35153994 0.99205202 0.62469226 -0.38655924 -1.1715943 -0.53991479 0.60355105 \
             0.91957247 0.45221272 -0.85600364",
        );
        assert_close(&out[0].1, &want, 2e-6);
        assert_eq!(
            op("LRN", &[("nsize", "3")]),
            NormOp::Lrn {
                nsize: 3,
                alpha: 1e-4,
                beta: 0.75,
                knorm: 2.0
            }
        );
        assert!(
            run(&op("LRN", &[("nsize", "4")]), &[1, 5, 1, 2], &[&x]).is_err(),
            "even nsize"
        );
        assert!(parse("LRN", &[]).is_err(), "nsize is required");
        assert_eq!(op("LRN", &[("nsize", "3")]).num_outputs(), 1);
    }

    #[test]
    fn l2_normalization() {
        let x = input(24, 0.7, 0.0);
        let inst = vals(
            "0.0 0.26297930 0.40689582 0.36868373 0.17093526 -0.088724971 -0.28355417 \
             -0.31730083 -0.16947286 0.095024362 0.35641426 0.49638125 0.38953584 \
             0.21730451 -0.0055597508 -0.17027304 -0.19540158 -0.065160230 0.16316338 \
             0.38615221 0.50289750 0.46245930 0.28782311 0.065089643",
        );
        let chan = vals(
            "0.0 0.89644003 0.66623861 0.53049290 0.71013802 -0.30244440 -0.46428284 \
             -0.45655888 -0.70406252 0.32391766 0.58358169 0.71423471 0.58537066 0.42186251 \
             -0.016801864 -0.39875048 -0.29363754 -0.12649833 0.49308848 0.90430278 \
             0.75572366 0.89779186 0.86981690 0.15242888",
        );
        let spat = vals(
            "0.0 0.42112944 0.65159422 0.59040225 0.35076913 -0.18206882 -0.58186972 \
             -0.65111983 -0.25829989 0.14483017 0.54322422 0.75655317 0.79149890 0.44154164 \
             -0.011296873 -0.34597826 -0.40533867 -0.13516758 0.33846414 0.80102944 \
             0.66722792 0.61357582 0.38187429 0.086358808",
        );
        for (attrs, want) in [
            (vec![], inst),
            (vec![("mode", "channel")], chan),
            (vec![("mode", "spatial"), ("eps", "0.5")], spat),
        ] {
            let out = run(&op("L2Normalization", &attrs), &[2, 3, 2, 2], &[&x]).unwrap();
            assert_close(&out[0].1, &want, 2e-6);
        }
        // 1-D: every element is an instance; 2-D instance mode normalises rows.
        let out = run(&op("L2Normalization", &[]), &[4], &[&x[..4]]).unwrap();
        assert_close(&out[0].1, &[0.0, 1.0, 1.0, 1.0], 1e-6);
        let out = run(&op("L2Normalization", &[]), &[2, 3], &[&x[..6]]).unwrap();
        assert_close(
            &out[0].1,
            &vals("0.0 0.54280567 0.83985835 0.88635457 0.41094640 -0.21330419"),
            2e-6,
        );
        for mode in ["channel", "spatial"] {
            assert!(
                run(
                    &op("L2Normalization", &[("mode", mode)]),
                    &[2, 4],
                    &[&x[..8]]
                )
                .is_err(),
                "{mode} needs rank 3"
            );
        }
        assert!(parse("L2Normalization", &[("mode", "Instance")]).is_err());
        assert_eq!(
            op("L2Normalization", &[]),
            NormOp::L2Normalization {
                eps: 1e-10,
                mode: L2Mode::Instance
            }
        );
    }

    /// Every op × awkward shapes (0-d, empty, 1-D, rank 5): inference may refuse, nothing panics.
    #[test]
    fn odd_shapes_never_panic() {
        let configs: &[(&str, &[(&str, &str)])] = &[
            ("BatchNorm", &[("axis", "-1")]),
            ("BatchNorm", &[("output_mean_var", "True")]),
            ("BatchNorm_v1", &[("output_mean_var", "True")]),
            ("InstanceNorm", &[]),
            ("LayerNorm", &[("axis", "0"), ("output_mean_var", "True")]),
            (
                "GroupNorm",
                &[("num_groups", "2"), ("output_mean_var", "True")],
            ),
            ("LRN", &[("nsize", "5")]),
            ("L2Normalization", &[]),
            ("L2Normalization", &[("mode", "channel")]),
            ("L2Normalization", &[("mode", "spatial")]),
        ];
        let shapes: &[&[usize]] = &[
            &[],
            &[0],
            &[3],
            &[2, 0],
            &[2, 4],
            &[0, 4, 3],
            &[2, 4, 0, 3],
            &[1, 4, 2, 2, 3],
        ];
        for (name, attrs) in configs {
            let o = op(name, attrs);
            for shape in shapes {
                let x = input(numel(shape), 0.3, 0.0);
                let params: Vec<Vec<f32>> = vec![vec![0.5; 8]; o.inputs().len() - 1];
                // Parameters sized from the inferred shapes.
                let mut slots: Vec<Option<Vec<usize>>> = vec![None; o.inputs().len()];
                slots[0] = Some(shape.to_vec());
                if o.infer_shape(&mut slots).is_err() {
                    continue;
                }
                let sized: Vec<Vec<f32>> = slots[1..]
                    .iter()
                    .zip(&params)
                    .map(|(s, p)| {
                        p.iter()
                            .copied()
                            .cycle()
                            .take(numel(s.as_ref().unwrap()))
                            .collect()
                    })
                    .collect();
                let mut ins: Vec<&[f32]> = vec![&x];
                ins.extend(sized.iter().map(|v| v.as_slice()));
                run(&o, shape, &ins).unwrap();
            }
        }
    }

    #[test]
    fn forward_rejects_wrong_parameter_sizes() {
        let o = op("BatchNorm", &[]);
        let x = [0.0f32; 6];
        let short = [1.0f32; 2];
        let ps = [1.0f32; 3];
        let views = [
            View {
                shape: &[2, 3],
                data: &x,
            },
            View {
                shape: &[2],
                data: &short,
            },
            View {
                shape: &[3],
                data: &ps,
            },
            View {
                shape: &[3],
                data: &ps,
            },
            View {
                shape: &[3],
                data: &ps,
            },
        ];
        let mut buf = [0.0f32; 6];
        let mut outs = [ViewMut {
            shape: &[2, 3],
            data: &mut buf,
        }];
        assert!(o
            .forward(&views, &mut outs, &mut Scratch::default())
            .is_err());
    }
}
