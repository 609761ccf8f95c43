//! Activations, softmax and loss-output heads (spec §4.2 "Activation", §4.3, pitfalls §5.6,
//! §5.13).
//!
//! | operator | inputs | inference semantics |
//! |----------|--------|---------------------|
//! | `Activation` | `data` | `act_type` (required): relu, sigmoid, tanh, softrelu, softsign (1.9.1 has no others) |
//! | `LeakyReLU` | `data` (+ `gamma` for prelu) | `act_type='leaky'`: leaky, prelu, elu, selu, gelu, rrelu |
//! | `softmax` / `log_softmax` / `softmin` | `data` (+ `length` for softmax with `use_length`) | over `axis=-1`, divided by `temperature` |
//! | `SoftmaxOutput` (alias `Softmax`) | `data`, `label` | softmax probabilities; over all non-batch elements by default |
//! | `SoftmaxActivation` | `data` | `mode='instance'`: last axis; `'channel'`: axis 1 |
//! | `LogisticRegressionOutput` / `LinearRegressionOutput` / `MAERegressionOutput` | `data`, `label` | sigmoid / identity / identity |
//! | `SVMOutput` | `data`, `label` | identity |
//! | `MakeLoss` / `make_loss` | `data` | identity |
//!
//! The `label` slots of loss heads have role [`InputRole::Label`]: they are unused at inference,
//! so their shape is filled in when unknown (as MXNet infers it) and otherwise not checked.
//! Softmaxes subtract the row maximum before exponentiating and sum in f64.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::elementwise::{cast_value, erf};
use crate::ops::{resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, DType, View, ViewMut};

/// `Activation(act_type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActType {
    /// max(x, 0); NaN → 0 (MXNet's MKLDNN kernel, unlike the standalone `relu` op).
    Relu,
    /// 1 / (1 + e^−x).
    Sigmoid,
    Tanh,
    /// log(1 + e^x), and x itself above 20 (MXNet's threshold), so it never overflows.
    SoftRelu,
    /// x / (1 + |x|).
    SoftSign,
}

/// `LeakyReLU(act_type)`. `slope` defaults to 0.25, `lower_bound` to 0.125, `upper_bound` to
/// 0.334.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakyType {
    /// x > 0 ? x : slope·x.
    Leaky,
    /// x > 0 ? x : gamma·x with a learned `gamma` input, (C,) along axis 1 or (1,) shared.
    PRelu,
    /// x > 0 ? x : slope·(eˣ − 1).
    Elu,
    /// λ·(x > 0 ? x : α(eˣ − 1)), λ = 1.0507009873554805, α = 1.6732632423543772; slope ignored.
    Selu,
    /// 0.5·x·(1 + erf(x/√2)) (the exact erf form, not the tanh approximation).
    Gelu,
    /// Randomised leaky ReLU; at inference the slope is (lower_bound + upper_bound)/2 (0.2295
    /// by default). Two visible outputs: the result and a mask.
    RRelu,
}

/// The softmax family's normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftmaxKind {
    /// exp(x/T) / Σ exp(x/T).
    Softmax,
    /// x/T − log Σ exp(x/T).
    LogSoftmax,
    /// softmax(−x).
    Softmin,
}

/// A regression loss head (the label is ignored at inference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegressionKind {
    /// `LogisticRegressionOutput`: sigmoid.
    Logistic,
    /// `LinearRegressionOutput`: identity.
    Linear,
    /// `MAERegressionOutput`: identity.
    Mae,
}

/// An activation-family operator with its parsed attributes.
#[derive(Debug, Clone)]
pub enum ActivationOp {
    Activation {
        act: ActType,
    },
    LeakyReLU {
        act: LeakyType,
        slope: f32,
        lower_bound: f32,
        upper_bound: f32,
    },
    /// `softmax`, `log_softmax`, `softmin`: `axis=-1`, `temperature=None` (1), `dtype=None`
    /// (float16 output is emulated by rounding), `use_length=False` (softmax only: a 2nd input
    /// `length` of data's shape without `axis` gives the valid prefix length of each row;
    /// elements past it are 0, a zero length gives an all-zero row).
    Softmax {
        kind: SoftmaxKind,
        axis: i64,
        temperature: f32,
        out_dtype: Option<DType>,
        use_length: bool,
    },
    /// `SoftmaxOutput`: default: softmax over all non-batch elements (data reshaped to
    /// (N, rest)); `multi_output=True`: over axis 1; `preserve_shape=True`: over the last axis.
    /// This is MXNet's documented (native kernel) semantics. Beware that the MKLDNN kernel of
    /// the CPU pip build, used at inference for 4-D float32 data, normalises 4-D input over the
    /// last axis only; the fixtures (and this runtime) follow the native kernel.
    /// The training-only attrs (grad_scale, ignore_label, use_ignore, normalization, out_grad,
    /// smooth_alpha) are read and ignored.
    SoftmaxOutput {
        multi_output: bool,
        preserve_shape: bool,
    },
    /// `SoftmaxActivation`: `mode='instance'` → last axis; `'channel'` → axis 1 (needs ≥ 3-D).
    SoftmaxActivation {
        channel: bool,
    },
    RegressionOutput {
        kind: RegressionKind,
    },
    /// `SVMOutput` (attrs margin=1, regularization_coefficient=1, use_linear=False, all
    /// training-only): identity at inference; inputs data, label.
    SvmOutput,
    /// `MakeLoss` (attrs grad_scale, valid_thresh, normalization) and `make_loss`: identity.
    MakeLoss {
        name: &'static str,
    },
}

/// SELU's λ and α (MXNet's `SELU_LAMBDA`, `SELU_ALPHA`), rounded to f32.
const SELU_LAMBDA: f32 = 1.050_701;
const SELU_ALPHA: f32 = 1.673_263_2;
/// Above this, softrelu(x) = x (MXNet's `kSoftReluThreshold`).
const SOFTRELU_THRESHOLD: f32 = 20.0;

/// Reads a `boolean or None` attribute (`use_length`): "None" means false.
fn opt_bool(attrs: &Attrs, key: &str) -> Result<bool> {
    match attrs.raw(key) {
        Some(v) if v.trim() == "None" => Ok(false),
        _ => attrs.bool_or(key, false),
    }
}

impl ActivationOp {
    /// The axis the softmax runs over and the (outer, n, inner) view of the data around it.
    fn softmax_layout(&self, shape: &[usize]) -> Result<(usize, usize, usize)> {
        let around = |axis: usize| {
            let outer: usize = shape[..axis].iter().product();
            let inner: usize = shape[axis + 1..].iter().product();
            (outer, shape[axis], inner)
        };
        let last = |op: &str| -> Result<usize> {
            if shape.is_empty() {
                return Err(Error::shape(format!("{op} needs at least a 1-D input")));
            }
            Ok(shape.len() - 1)
        };
        match self {
            ActivationOp::Softmax { axis, .. } => {
                Ok(around(resolve_axis(*axis, shape.len(), self.name())?))
            }
            ActivationOp::SoftmaxOutput {
                multi_output: true, ..
            } => {
                if shape.len() < 2 {
                    return Err(Error::shape(format!(
                        "SoftmaxOutput with multi_output needs at least 2-D data, got {}",
                        fmt_shape(shape)
                    )));
                }
                Ok(around(1))
            }
            ActivationOp::SoftmaxOutput {
                preserve_shape: true,
                ..
            } => Ok(around(last("SoftmaxOutput")?)),
            ActivationOp::SoftmaxOutput { .. } => {
                let batch = *shape
                    .first()
                    .ok_or_else(|| Error::shape("SoftmaxOutput needs at least a 1-D input"))?;
                let rest = numel(shape).checked_div(batch).unwrap_or(0);
                Ok((batch, rest, 1))
            }
            ActivationOp::SoftmaxActivation { channel: true } => {
                if shape.len() < 3 {
                    return Err(Error::shape(format!(
                        "SoftmaxActivation with mode='channel' needs at least 3 dimensions, got {}",
                        fmt_shape(shape)
                    )));
                }
                Ok(around(1))
            }
            ActivationOp::SoftmaxActivation { channel: false } => {
                Ok(around(last("SoftmaxActivation")?))
            }
            _ => Err(Error::Backend(format!("{} is not a softmax", self.name()))),
        }
    }

    /// The resolved softmax of this op at `shape`: the (outer, n, inner) view, the variant and
    /// MXNet's NaN convention. Read by the CPU kernel below and by the WebGPU lowering, so the
    /// two cannot disagree on which rows follow oneDNN's NaN handling.
    pub(crate) fn softmax_rows(&self, shape: &[usize]) -> Result<SoftmaxRows> {
        let (outer, n, inner) = self.softmax_layout(shape)?;
        let rows = |temperature: f32, negate: bool, log: bool, onednn_nan: bool| SoftmaxRows {
            outer,
            n,
            inner,
            temperature,
            negate,
            log,
            onednn_nan,
        };
        Ok(match self {
            ActivationOp::Softmax {
                kind,
                axis,
                temperature,
                out_dtype,
                use_length,
            } => rows(
                *temperature,
                *kind == SoftmaxKind::Softmin,
                *kind == SoftmaxKind::LogSoftmax,
                *kind != SoftmaxKind::Softmin
                    && *temperature == 1.0
                    && !*use_length
                    && out_dtype.is_none()
                    && resolve_axis(*axis, shape.len(), "softmax")? + 1 == shape.len(),
            ),
            ActivationOp::SoftmaxOutput { multi_output, .. } => {
                rows(1.0, false, false, !*multi_output && shape.len() == 2)
            }
            _ => rows(1.0, false, false, false),
        })
    }
}

impl Operator for ActivationOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let parsed = match op {
            "Activation" => {
                let raw = attrs
                    .str("act_type")
                    .ok_or_else(|| Error::attr("act_type", "", "required attribute is missing"))?;
                let act = match raw {
                    "relu" => ActType::Relu,
                    "sigmoid" => ActType::Sigmoid,
                    "tanh" => ActType::Tanh,
                    "softrelu" => ActType::SoftRelu,
                    "softsign" => ActType::SoftSign,
                    other => {
                        return Err(Error::attr(
                            "act_type",
                            other,
                            "expected one of relu, sigmoid, softrelu, softsign, tanh",
                        ))
                    }
                };
                ActivationOp::Activation { act }
            }
            "LeakyReLU" => {
                let act = match attrs.choice(
                    "act_type",
                    &["elu", "gelu", "leaky", "prelu", "rrelu", "selu"],
                    "leaky",
                )? {
                    "elu" => LeakyType::Elu,
                    "gelu" => LeakyType::Gelu,
                    "prelu" => LeakyType::PRelu,
                    "rrelu" => LeakyType::RRelu,
                    "selu" => LeakyType::Selu,
                    _ => LeakyType::Leaky,
                };
                ActivationOp::LeakyReLU {
                    act,
                    slope: attrs.float_or("slope", 0.25)? as f32,
                    lower_bound: attrs.float_or("lower_bound", 0.125)? as f32,
                    upper_bound: attrs.float_or("upper_bound", 0.334)? as f32,
                }
            }
            "softmax" | "log_softmax" | "softmin" => {
                let kind = match op {
                    "softmax" => SoftmaxKind::Softmax,
                    "log_softmax" => SoftmaxKind::LogSoftmax,
                    _ => SoftmaxKind::Softmin,
                };
                let axis = attrs.int_or("axis", -1)?;
                let temperature = attrs.opt_float("temperature")?.unwrap_or(1.0) as f32;
                let out_dtype = match attrs.choice(
                    "dtype",
                    &["None", "float16", "float32", "float64"],
                    "None",
                )? {
                    "float16" => Some(DType::F16),
                    _ => None,
                };
                let use_length = opt_bool(attrs, "use_length")?;
                if use_length && kind != SoftmaxKind::Softmax {
                    // MXNet registers the `length` input on softmax only; the others then fail
                    // with an input-count check.
                    return Err(Error::Unsupported(format!(
                        "{op} with use_length=True (MXNet 1.9.1 only supports it on softmax)"
                    )));
                }
                ActivationOp::Softmax {
                    kind,
                    axis,
                    temperature,
                    out_dtype,
                    use_length,
                }
            }
            "SoftmaxOutput" => {
                // Training-only attributes: read (validated) and ignored.
                attrs.float_or("grad_scale", 1.0)?;
                attrs.float_or("ignore_label", -1.0)?;
                attrs.bool_or("use_ignore", false)?;
                attrs.choice("normalization", &["batch", "null", "valid"], "null")?;
                attrs.bool_or("out_grad", false)?;
                attrs.float_or("smooth_alpha", 0.0)?;
                ActivationOp::SoftmaxOutput {
                    multi_output: attrs.bool_or("multi_output", false)?,
                    preserve_shape: attrs.bool_or("preserve_shape", false)?,
                }
            }
            "SoftmaxActivation" => ActivationOp::SoftmaxActivation {
                channel: attrs.choice("mode", &["channel", "instance"], "instance")? == "channel",
            },
            "LogisticRegressionOutput" | "LinearRegressionOutput" | "MAERegressionOutput" => {
                attrs.float_or("grad_scale", 1.0)?;
                let kind = match op {
                    "LogisticRegressionOutput" => RegressionKind::Logistic,
                    "LinearRegressionOutput" => RegressionKind::Linear,
                    _ => RegressionKind::Mae,
                };
                ActivationOp::RegressionOutput { kind }
            }
            "SVMOutput" => {
                attrs.float_or("margin", 1.0)?;
                attrs.float_or("regularization_coefficient", 1.0)?;
                attrs.bool_or("use_linear", false)?;
                ActivationOp::SvmOutput
            }
            "MakeLoss" => {
                attrs.float_or("grad_scale", 1.0)?;
                attrs.float_or("valid_thresh", 0.0)?;
                attrs.choice("normalization", &["batch", "null", "valid"], "null")?;
                ActivationOp::MakeLoss { name: "MakeLoss" }
            }
            "make_loss" => ActivationOp::MakeLoss { name: "make_loss" },
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            ActivationOp::Activation { .. } => "Activation",
            ActivationOp::LeakyReLU { .. } => "LeakyReLU",
            ActivationOp::Softmax {
                kind: SoftmaxKind::Softmax,
                ..
            } => "softmax",
            ActivationOp::Softmax {
                kind: SoftmaxKind::LogSoftmax,
                ..
            } => "log_softmax",
            ActivationOp::Softmax {
                kind: SoftmaxKind::Softmin,
                ..
            } => "softmin",
            ActivationOp::SoftmaxOutput { .. } => "SoftmaxOutput",
            ActivationOp::SoftmaxActivation { .. } => "SoftmaxActivation",
            ActivationOp::RegressionOutput {
                kind: RegressionKind::Logistic,
            } => "LogisticRegressionOutput",
            ActivationOp::RegressionOutput {
                kind: RegressionKind::Linear,
            } => "LinearRegressionOutput",
            ActivationOp::RegressionOutput {
                kind: RegressionKind::Mae,
            } => "MAERegressionOutput",
            ActivationOp::SvmOutput => "SVMOutput",
            ActivationOp::MakeLoss { name } => name,
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let mut slots = vec![("data".to_string(), InputRole::Data)];
        match self {
            ActivationOp::LeakyReLU {
                act: LeakyType::PRelu,
                ..
            } => slots.push(("gamma".into(), InputRole::Weight)),
            ActivationOp::Softmax {
                use_length: true, ..
            } => slots.push(("length".into(), InputRole::Data)),
            ActivationOp::SoftmaxOutput { .. }
            | ActivationOp::RegressionOutput { .. }
            | ActivationOp::SvmOutput => slots.push(("label".into(), InputRole::Label)),
            _ => {}
        }
        slots
    }

    fn num_outputs(&self) -> usize {
        match self {
            ActivationOp::LeakyReLU {
                act: LeakyType::RRelu,
                ..
            } => 2,
            _ => 1,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let slots = self.inputs();
        if inputs.len() != slots.len() {
            return Err(Error::shape(format!(
                "{} expects {} inputs ({}), got {}",
                self.name(),
                slots.len(),
                slots
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                inputs.len()
            )));
        }
        let data = inputs[0]
            .clone()
            .ok_or_else(|| Error::shape("the shape of input 'data' is unknown"))?;
        match self {
            ActivationOp::LeakyReLU {
                act: LeakyType::PRelu,
                ..
            } => match &inputs[1] {
                None => {
                    // MXNet infers gamma as (C,) with C = data.shape[1].
                    let channels = *data.get(1).ok_or_else(|| {
                        Error::shape(format!(
                            "LeakyReLU(prelu) cannot infer gamma for {}-D data {}: give gamma's shape",
                            data.len(),
                            fmt_shape(&data)
                        ))
                    })?;
                    inputs[1] = Some(vec![channels]);
                }
                Some(gamma) => {
                    prelu_gamma_layout(gamma, &data)?;
                }
            },
            ActivationOp::LeakyReLU {
                act: LeakyType::RRelu,
                ..
            } => return Ok(vec![data.clone(), data]),
            ActivationOp::Softmax {
                use_length: true,
                axis,
                ..
            } => {
                let a = resolve_axis(*axis, data.len(), self.name())?;
                let mut want = data.clone();
                want.remove(a);
                match &inputs[1] {
                    None => inputs[1] = Some(want),
                    Some(given) if *given != want && !(want.is_empty() && numel(given) == 1) => {
                        return Err(Error::shape(format!(
                            "softmax: length must have shape {} (data {} without axis {a}), got {}",
                            fmt_shape(&want),
                            fmt_shape(&data),
                            fmt_shape(given)
                        )))
                    }
                    Some(_) => {}
                }
            }
            // Unknown labels get the shape MXNet would infer; given ones are not checked.
            ActivationOp::SvmOutput if inputs[1].is_none() => {
                // MXNet: the data's shape without the last axis.
                inputs[1] = Some(data[..data.len().saturating_sub(1)].to_vec());
            }
            ActivationOp::SoftmaxOutput { multi_output, .. } if inputs[1].is_none() => {
                // MXNet: data without axis 1 (multi_output), else without the last axis.
                let mut label = data.clone();
                if *multi_output && label.len() >= 2 {
                    label.remove(1);
                } else {
                    label.pop();
                }
                inputs[1] = Some(label);
            }
            ActivationOp::RegressionOutput { .. } if inputs[1].is_none() => {
                // MXNet: (N, 1) data gets a 1-D label (N,), anything else the data's shape.
                let label = if data.len() == 2 && data[1] == 1 {
                    vec![data[0]]
                } else {
                    data.clone()
                };
                inputs[1] = Some(label);
            }
            _ => {}
        }
        if matches!(
            self,
            ActivationOp::Softmax { .. }
                | ActivationOp::SoftmaxOutput { .. }
                | ActivationOp::SoftmaxActivation { .. }
        ) {
            // Validates the axis / rank.
            self.softmax_layout(&data)?;
        }
        Ok(vec![data])
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let x = inputs
            .first()
            .ok_or_else(|| Error::Backend(format!("{}: missing input 'data'", self.name())))?;
        let (first, rest) = outputs
            .split_first_mut()
            .ok_or_else(|| Error::Backend(format!("{}: no output buffer", self.name())))?;
        let out = &mut *first.data;
        if x.data.len() != out.len() || x.data.len() != numel(x.shape) {
            return Err(Error::shape(format!(
                "{}: data {} has {} elements, the output {} has {}",
                self.name(),
                fmt_shape(x.shape),
                x.data.len(),
                fmt_shape(first.shape),
                out.len()
            )));
        }
        match self {
            ActivationOp::Activation { act } => activation(*act, x.data, out),
            ActivationOp::LeakyReLU {
                act,
                slope,
                lower_bound,
                upper_bound,
            } => match act {
                LeakyType::Leaky => leaky(x.data, out, *slope),
                LeakyType::RRelu => {
                    let slope = (lower_bound + upper_bound) / 2.0;
                    leaky(x.data, out, slope);
                    // MXNet leaves the mask uninitialised at inference; we report the slope that
                    // was applied to every element (what the training-time mask would hold).
                    if let Some(mask) = rest.first_mut() {
                        mask.data.fill(slope);
                    }
                }
                LeakyType::PRelu => {
                    let gamma = inputs.get(1).ok_or_else(|| {
                        Error::Backend("LeakyReLU(prelu): missing input 'gamma'".into())
                    })?;
                    prelu(x, gamma, out)?;
                }
                LeakyType::Elu => {
                    for (o, &v) in out.iter_mut().zip(x.data) {
                        *o = if v > 0.0 { v } else { slope * v.exp_m1() };
                    }
                }
                LeakyType::Selu => {
                    for (o, &v) in out.iter_mut().zip(x.data) {
                        *o = SELU_LAMBDA * if v > 0.0 { v } else { SELU_ALPHA * v.exp_m1() };
                    }
                }
                LeakyType::Gelu => {
                    for (o, &v) in out.iter_mut().zip(x.data) {
                        *o = 0.5 * v * (1.0 + erf(v / std::f32::consts::SQRT_2));
                    }
                }
            },
            ActivationOp::Softmax {
                out_dtype,
                use_length,
                ..
            } => {
                let rows = self.softmax_rows(x.shape)?;
                let lengths = if *use_length {
                    let len = inputs
                        .get(1)
                        .ok_or_else(|| Error::Backend("softmax: missing input 'length'".into()))?;
                    if len.data.len() != rows.outer * rows.inner {
                        return Err(Error::shape(format!(
                            "softmax: length {} does not match data {}",
                            fmt_shape(len.shape),
                            fmt_shape(x.shape)
                        )));
                    }
                    Some(len.data)
                } else {
                    None
                };
                rows.run(x.data, out, lengths);
                if let Some(dtype) = out_dtype {
                    for o in out.iter_mut() {
                        *o = cast_value(*o, *dtype);
                    }
                }
            }
            ActivationOp::SoftmaxOutput { .. } | ActivationOp::SoftmaxActivation { .. } => {
                let rows = self.softmax_rows(x.shape)?;
                rows.run(x.data, out, None);
            }
            ActivationOp::RegressionOutput {
                kind: RegressionKind::Logistic,
            } => activation(ActType::Sigmoid, x.data, out),
            ActivationOp::RegressionOutput { .. }
            | ActivationOp::SvmOutput
            | ActivationOp::MakeLoss { .. } => {
                // Identity; the planner normally aliases the buffers (is_view).
                if out.as_ptr() != x.data.as_ptr() {
                    out.copy_from_slice(x.data);
                }
            }
        }
        Ok(())
    }

    fn is_view(&self) -> bool {
        matches!(
            self,
            ActivationOp::MakeLoss { .. }
                | ActivationOp::SvmOutput
                | ActivationOp::RegressionOutput {
                    kind: RegressionKind::Linear | RegressionKind::Mae
                }
        )
    }
}

fn activation(act: ActType, x: &[f32], out: &mut [f32]) {
    let pairs = out.iter_mut().zip(x);
    match act {
        ActType::Relu => pairs.for_each(|(o, &v)| *o = super::epilogue::relu(v)),
        ActType::Sigmoid => pairs.for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp())),
        ActType::Tanh => pairs.for_each(|(o, &v)| *o = v.tanh()),
        ActType::SoftRelu => pairs.for_each(|(o, &v)| {
            *o = if v > SOFTRELU_THRESHOLD {
                v
            } else {
                v.exp().ln_1p()
            }
        }),
        ActType::SoftSign => pairs.for_each(|(o, &v)| *o = v / (1.0 + v.abs())),
    }
}

fn leaky(x: &[f32], out: &mut [f32], slope: f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = super::epilogue::leaky(v, slope);
    }
}

/// Where PReLU's `gamma` lies against the data: MXNet's `expand_shape` aligns gamma's dims from
/// the right with data dims 1 and 0 only, matching a dim when the sizes agree or gamma's is 1.
/// So (C,) goes along axis 1, (1,) is shared, and a (N,) gamma that does not match axis 1 falls
/// back to axis 0. Returns gamma's extent along data axes 0 and 1.
pub(crate) fn prelu_gamma_layout(gamma: &[usize], data: &[usize]) -> Result<[usize; 2]> {
    let mut extent = [1usize; 2];
    let mut remaining = gamma.len();
    for i in (0..data.len()).rev() {
        if remaining > 0 && i <= 1 && (data[i] == gamma[remaining - 1] || gamma[remaining - 1] == 1)
        {
            extent[i] = gamma[remaining - 1];
            remaining -= 1;
        }
    }
    if remaining != 0 {
        return Err(Error::shape(format!(
            "LeakyReLU(prelu): cannot broadcast gamma {} to data {} (gamma must be (C,) for C = data.shape[1], or (1,))",
            fmt_shape(gamma),
            fmt_shape(data)
        )));
    }
    Ok(extent)
}

/// PReLU: x > 0 ? x : gamma·x with gamma laid out by [`prelu_gamma_layout`].
fn prelu(x: &View, gamma: &View, out: &mut [f32]) -> Result<()> {
    let [g0, g1] = prelu_gamma_layout(gamma.shape, x.shape)?;
    if gamma.data.len() != g0 * g1 {
        return Err(Error::shape(format!(
            "LeakyReLU(prelu): gamma {} has the wrong size",
            fmt_shape(gamma.shape)
        )));
    }
    let d0 = x.shape.first().copied().unwrap_or(1);
    let d1 = x.shape.get(1).copied().unwrap_or(1);
    let inner: usize = x.shape.iter().skip(2).product();
    if d0 * d1 * inner != x.data.len() || inner == 0 {
        return Ok(()); // empty tensor: nothing to write
    }
    let rows = out.chunks_exact_mut(inner).zip(x.data.chunks_exact(inner));
    for (r, (o_row, x_row)) in rows.enumerate() {
        let (i0, i1) = (r / d1, r % d1);
        let slope = gamma.data[if g0 == 1 { 0 } else { i0 } * g1 + if g1 == 1 { 0 } else { i1 }];
        for (o, &v) in o_row.iter_mut().zip(x_row) {
            *o = if v > 0.0 { v } else { slope * v };
        }
    }
    Ok(())
}

/// Softmax over the middle axis of data viewed as (outer, n, inner), as MXNet's CPU kernel:
/// per row, the max (`if max < v`), then Σ exp((v − max)/T) in f64, then exp(…)/Σ or, for the
/// log variant, (v − max)/T − ln Σ.
pub(crate) struct SoftmaxRows {
    pub(crate) outer: usize,
    pub(crate) n: usize,
    pub(crate) inner: usize,
    pub(crate) temperature: f32,
    /// softmin: softmax of −x.
    pub(crate) negate: bool,
    /// log_softmax.
    pub(crate) log: bool,
    /// MXNet's CPU build runs softmax / log_softmax over the last axis (temperature 1, no
    /// length, float32) and 2-D SoftmaxOutput through oneDNN, whose NaN handling differs from
    /// the native kernel: the max ignores NaN, a NaN (or ∞ − ∞) gives NaN at its own position
    /// only, and the row's other values become 0 (softmax) or `x − max − ln(FLT_MAX)`
    /// (log_softmax), as if the NaN's exp saturated the sum. Measured with MXNet 1.9.1:
    /// softmax([1, nan, 2]) = [0, nan, 0], log_softmax = [-89.72284, nan, -88.72284].
    /// Elsewhere (other axes, temperature, softmin, SoftmaxActivation) a NaN turns its whole
    /// row NaN, as the native kernel does.
    pub(crate) onednn_nan: bool,
}

impl SoftmaxRows {
    /// `lengths` (outer·inner values, truncated toward zero and clamped to [0, n]) limits each
    /// row to a prefix; the rest of the row is 0.
    fn run(&self, x: &[f32], out: &mut [f32], lengths: Option<&[f32]>) {
        let (n, inner) = (self.n, self.inner);
        if n == 0 || self.outer * n * inner != x.len() || x.len() != out.len() {
            return;
        }
        let sign = if self.negate { -1.0f32 } else { 1.0 };
        let inv_t = self.temperature != 1.0;
        let t = self.temperature;
        let scaled = |v: f32, max: f32| {
            if inv_t {
                (sign * v - max) / t
            } else {
                sign * v - max
            }
        };
        for o in 0..self.outer {
            for j in 0..inner {
                let base = o * n * inner + j;
                let len = match lengths {
                    Some(l) => {
                        let v = l[o * inner + j];
                        if v.is_nan() || v <= 0.0 {
                            0
                        } else {
                            (v as usize).min(n)
                        }
                    }
                    None => n,
                };
                let at = |k: usize| base + k * inner;
                let mut max = sign * x[base];
                for k in 1..len {
                    let v = sign * x[at(k)];
                    if max < v {
                        max = v;
                    }
                }
                if self.onednn_nan {
                    let row_max = (0..len)
                        .map(|k| x[at(k)])
                        .filter(|v| !v.is_nan())
                        .fold(f32::NEG_INFINITY, f32::max);
                    if (0..len).any(|k| (x[at(k)] - row_max).is_nan()) {
                        // ln(FLT_MAX) = 88.72284: the saturated sum of oneDNN's exp.
                        let ln_sum = f32::MAX.ln();
                        for k in 0..len {
                            let d = x[at(k)] - row_max;
                            out[at(k)] = if d.is_nan() {
                                f32::NAN
                            } else if self.log {
                                d - ln_sum
                            } else {
                                0.0
                            };
                        }
                        continue;
                    }
                }
                let mut sum = 0.0f64;
                for k in 0..len {
                    let e = scaled(x[at(k)], max).exp();
                    out[at(k)] = e;
                    sum += e as f64;
                }
                if self.log {
                    let log_sum = sum.ln();
                    for k in 0..len {
                        out[at(k)] = (scaled(x[at(k)], max) as f64 - log_sum) as f32;
                    }
                } else {
                    for k in 0..len {
                        out[at(k)] = (out[at(k)] as f64 / sum) as f32;
                    }
                }
                for k in len..n {
                    out[at(k)] = 0.0;
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Tests (expected values from MXNet 1.9.1 unless noted)
// ------------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::excessive_precision)] // expected values are pasted from MXNet's printout
mod tests {
    use super::*;

    fn parse(op: &str, pairs: &[(&str, &str)]) -> Result<ActivationOp> {
        let attrs = Attrs::from_pairs(pairs);
        let parsed = ActivationOp::parse(op, &attrs)?.expect("op of this family");
        attrs.finish()?;
        Ok(parsed)
    }

    /// Runs the op; returns every output.
    fn run_all(op: &ActivationOp, inputs: &[(&[usize], &[f32])]) -> Result<Vec<Vec<f32>>> {
        let mut shapes: Vec<Option<Vec<usize>>> =
            inputs.iter().map(|(s, _)| Some(s.to_vec())).collect();
        shapes.resize(op.inputs().len(), None);
        let out_shapes = op.infer_shape(&mut shapes)?;
        assert_eq!(out_shapes.len(), op.num_outputs());
        let views: Vec<View> = inputs
            .iter()
            .map(|(s, d)| View { shape: s, data: d })
            .collect();
        let mut bufs: Vec<Vec<f32>> = out_shapes
            .iter()
            .map(|s| vec![f32::NAN; numel(s)])
            .collect();
        let mut outs: Vec<ViewMut> = bufs
            .iter_mut()
            .zip(&out_shapes)
            .map(|(b, s)| ViewMut { shape: s, data: b })
            .collect();
        op.forward(&views, &mut outs, &mut Scratch::default())?;
        Ok(bufs)
    }

    fn run(op: &ActivationOp, inputs: &[(&[usize], &[f32])]) -> Vec<f32> {
        run_all(op, inputs).unwrap().remove(0)
    }

    fn assert_close(got: &[f32], want: &[f32], atol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let ok = g == w
                || if w.is_nan() {
                    g.is_nan()
                } else {
                    (g - w).abs() <= atol + 1e-6 * w.abs()
                };
            assert!(
                ok,
                "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
            );
        }
    }

    /// Reference softmax in f64 over the middle axis of (outer, n, inner).
    fn reference_softmax(x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        for o in 0..outer {
            for j in 0..inner {
                let idx = |k: usize| o * n * inner + k * inner + j;
                let max = (0..n)
                    .map(|k| x[idx(k)] as f64)
                    .fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = (0..n).map(|k| (x[idx(k)] as f64 - max).exp()).sum();
                for k in 0..n {
                    out[idx(k)] = ((x[idx(k)] as f64 - max).exp() / sum) as f32;
                }
            }
        }
        out
    }

    const X: [f32; 8] = [-100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 21.0, 100.0];

    #[test]
    fn activation_types() {
        let act = |t: &str| {
            run(
                &parse("Activation", &[("act_type", t)]).unwrap(),
                &[(&[8], &X)],
            )
        };
        assert_close(
            &act("relu"),
            &[0.0, 0.0, 0.0, 0.0, 1.0, 20.0, 21.0, 100.0],
            0.0,
        );
        // MXNet's (MKLDNN) softrelu gives -1.9e-6 at -20 where the exact value is 2.06e-9.
        assert_close(
            &act("softrelu"),
            &[
                0.0,
                2.0611537e-9,
                0.31326175,
                0.69314724,
                1.3132617,
                20.0,
                21.0,
                100.0,
            ],
            2e-6,
        );
        assert_close(
            &act("softsign"),
            &[
                -0.990099,
                -0.95238096,
                -0.5,
                0.0,
                0.5,
                0.95238096,
                0.95454544,
                0.990099,
            ],
            0.0,
        );
        assert_close(
            &act("sigmoid"),
            &[
                0.0,
                2.0611535e-09,
                0.26894143,
                0.5,
                0.7310586,
                1.0,
                1.0,
                1.0,
            ],
            0.0,
        );
        assert_close(
            &act("tanh"),
            &[-1.0, -1.0, -0.7615942, 0.0, 0.7615942, 1.0, 1.0, 1.0],
            0.0,
        );
        // The MKLDNN relu used by Activation maps NaN to 0.
        assert_eq!(
            run(
                &parse("Activation", &[("act_type", "relu")]).unwrap(),
                &[(&[1], &[f32::NAN])]
            ),
            [0.0]
        );
        assert!(parse("Activation", &[]).is_err());
        assert!(parse("Activation", &[("act_type", "log_sigmoid")]).is_err());
        assert!(parse("Activation", &[("act_type", "Relu")]).is_err());
    }

    #[test]
    fn leaky_relu_variants() {
        let leaky =
            |pairs: &[(&str, &str)]| run(&parse("LeakyReLU", pairs).unwrap(), &[(&[8], &X)]);
        assert_close(
            &leaky(&[]),
            &[-25.0, -5.0, -0.25, 0.0, 1.0, 20.0, 21.0, 100.0],
            0.0,
        );
        assert_close(
            &leaky(&[("act_type", "elu"), ("slope", "0.7")]),
            &[-0.7, -0.7, -0.44248435, 0.0, 1.0, 20.0, 21.0, 100.0],
            0.0,
        );
        // selu ignores slope.
        assert_close(
            &leaky(&[("act_type", "selu"), ("slope", "0.7")]),
            &[
                -1.7580993, -1.7580993, -1.1113307, 0.0, 1.050701, 21.01402, 22.064722, 105.0701,
            ],
            0.0,
        );
        assert_close(
            &leaky(&[("act_type", "gelu")]),
            &[0.0, 0.0, -0.15865527, 0.0, 0.84134465, 20.0, 21.0, 100.0],
            0.0,
        );
        assert!(parse("LeakyReLU", &[("act_type", "swish")]).is_err());
    }

    #[test]
    fn rrelu_uses_the_mean_slope_and_has_two_outputs() {
        let op = parse("LeakyReLU", &[("act_type", "rrelu")]).unwrap();
        assert_eq!(op.num_outputs(), 2);
        let outs = run_all(&op, &[(&[3], &[-4.0, -1.0, 0.33333334])]).unwrap();
        // MXNet: x = -4 → -0.918, -1 → -0.2295.
        assert_close(&outs[0], &[-0.918, -0.2295, 0.33333334], 0.0);
        assert_close(&outs[1], &[0.2295; 3], 0.0);
        let op = parse(
            "LeakyReLU",
            &[
                ("act_type", "rrelu"),
                ("lower_bound", "0.1"),
                ("upper_bound", "0.3"),
            ],
        )
        .unwrap();
        assert_close(&run(&op, &[(&[1], &[-10.0])]), &[-2.0], 1e-6);
    }

    #[test]
    fn prelu_gamma_broadcasting() {
        let op = parse("LeakyReLU", &[("act_type", "prelu")]).unwrap();
        assert_eq!(
            op.inputs(),
            vec![
                ("data".into(), InputRole::Data),
                ("gamma".into(), InputRole::Weight)
            ]
        );
        // Missing gamma is inferred as (C,).
        let mut shapes = vec![Some(vec![2, 3, 4, 4]), None];
        assert_eq!(op.infer_shape(&mut shapes).unwrap(), vec![vec![2, 3, 4, 4]]);
        assert_eq!(shapes[1], Some(vec![3]));
        let mut shapes = vec![Some(vec![2, 5]), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![5]));
        let e = op
            .infer_shape(&mut [Some(vec![5]), None])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(5,)"), "{e}");
        let e = op
            .infer_shape(&mut [Some(vec![2, 3, 4]), Some(vec![4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(4,)") && e.contains("(2, 3, 4)"), "{e}");

        // MXNet: x = arange(-12, 12).reshape(2,3,2,2)/3, gamma = [0.1, 0.2, 0.3].
        let x: Vec<f32> = (-12..12).map(|v| v as f32 / 3.0).collect();
        let got = run(&op, &[(&[2, 3, 2, 2], &x), (&[3], &[0.1, 0.2, 0.3])]);
        let want = [
            -0.4,
            -0.36666667,
            -0.33333334,
            -0.3,
            -0.53333336,
            -0.46666667,
            -0.4,
            -0.33333334,
            -0.40000004,
            -0.3,
            -0.20000002,
            -0.10000001,
        ];
        assert_close(&got[..12], &want, 1e-7);
        assert_eq!(got[12..], x[12..]);
        // Shared slope (1,).
        let got = run(&op, &[(&[2, 3, 2, 2], &x), (&[1], &[0.5])]);
        assert_close(&got[..3], &[-2.0, -1.8333334, -1.6666666], 1e-7);
        // A (2,) gamma that does not match axis 1 (3) goes along axis 0 instead.
        let got = run(&op, &[(&[2, 3, 2, 2], &x), (&[2], &[0.5, 0.2])]);
        assert_close(&got[..2], &[-2.0, -1.8333334], 1e-7);
        assert_eq!(got[12..], x[12..]);
        // 1-D and 2-D data.
        assert_close(
            &run(
                &op,
                &[(&[3], &[-1.0, -2.0, -3.0]), (&[3], &[0.1, 0.2, 0.3])],
            ),
            &[-0.1, -0.4, -0.90000004],
            1e-7,
        );
        assert_close(
            &run(
                &op,
                &[
                    (&[2, 3], &[-1.0, -2.0, -3.0, 1.0, -1.0, -1.0]),
                    (&[3], &[0.1, 0.2, 0.3]),
                ],
            ),
            &[-0.1, -0.4, -0.90000004, 1.0, -0.2, -0.3],
            1e-7,
        );
    }

    #[test]
    fn softmax_family() {
        // x = arange(24).reshape(2,3,4)*0.1 - 1
        let x: Vec<f32> = (0..24).map(|v| v as f32 * 0.1 - 1.0).collect();
        let shape: &[usize] = &[2, 3, 4];
        let op = parse("softmax", &[]).unwrap();
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&x, 6, 4, 1),
            1e-7,
        );
        let op = parse("softmax", &[("axis", "1")]).unwrap();
        let got = run(&op, &[(shape, &x)]);
        assert_close(&got, &reference_softmax(&x, 2, 3, 4), 1e-7);
        assert_close(&got[..4], &[0.21198273; 4], 1e-7);
        let op = parse("softmax", &[("axis", "-3")]).unwrap();
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&x, 1, 2, 12),
            1e-7,
        );
        // temperature: softmax(x / T). MXNet: T=2 → first row [0.2315739, 0.24344695, 0.25592873, 0.26905048].
        let op = parse("softmax", &[("temperature", "2.0")]).unwrap();
        assert_close(
            &run(&op, &[(shape, &x)])[..4],
            &[0.2315739, 0.24344695, 0.25592873, 0.26905048],
            1e-7,
        );
        // T = 0 gives NaN, as in MXNet.
        let op = parse("softmax", &[("temperature", "0.0")]).unwrap();
        assert!(run(&op, &[(&[3], &[1.0, 2.0, 3.0])])
            .iter()
            .all(|v| v.is_nan()));
        // softmin(x, T=0.5) = softmax(-x/0.5); log_softmax = log(softmax).
        let op = parse("softmin", &[("temperature", "0.5")]).unwrap();
        let neg: Vec<f32> = x.iter().map(|v| -v / 0.5).collect();
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&neg, 6, 4, 1),
            1e-7,
        );
        let op = parse("log_softmax", &[("axis", "0")]).unwrap();
        let want: Vec<f32> = reference_softmax(&x, 1, 2, 12)
            .iter()
            .map(|p| p.ln())
            .collect();
        assert_close(&run(&op, &[(shape, &x)]), &want, 1e-6);
        // Stability: huge logits and -inf.
        let op = parse("softmax", &[]).unwrap();
        assert_close(
            &run(
                &op,
                &[(&[2, 3], &[-f32::INFINITY, 0.0, 1.0, 1000.0, 0.0, 1000.0])],
            ),
            &[0.0, 0.26894143, 0.73105854, 0.5, 0.0, 0.5],
            1e-7,
        );
        let op = parse("log_softmax", &[]).unwrap();
        assert_close(
            &run(&op, &[(&[3], &[-f32::INFINITY, 0.0, 1.0])]),
            &[-f32::INFINITY, -1.3132617, -0.3132617],
            1e-6,
        );
        // dtype float16 rounds the output.
        let op = parse("softmax", &[("dtype", "float16")]).unwrap();
        assert_eq!(run(&op, &[(&[2], &[0.0, 1.0])]), [0.26904297, 0.73095703]);
        // Attribute errors.
        assert!(parse("softmax", &[("dtype", "int32")]).is_err());
        let op = parse("softmax", &[("axis", "3")]).unwrap();
        assert!(op.infer_shape(&mut [Some(vec![2, 3, 4])]).is_err());
        assert!(matches!(
            parse("log_softmax", &[("use_length", "True")]),
            Err(Error::Unsupported(_))
        ));
        assert!(!matches!(
            parse("softmax", &[("use_length", "None")]).unwrap(),
            ActivationOp::Softmax {
                use_length: true,
                ..
            }
        ));
    }

    /// NaN and ∞ as MXNet 1.9.1 propagates them (values printed by MXNet): over the last axis
    /// NaN stays at its position; over another axis, or in SoftmaxActivation, the row is NaN.
    #[test]
    fn softmax_nan_as_mxnet() {
        let nan = f32::NAN;
        let inf = f32::INFINITY;
        let same = |got: &[f32], want: &[f32]| {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g.is_nan() && w.is_nan())
                        || (g - w).abs() <= 1e-4 * w.abs().max(1.0)
                        || g == w,
                    "{got:?} vs {want:?}"
                );
            }
        };
        let run = |op: &str, attrs: &[(&str, &str)], shape: &[usize], x: &[f32]| {
            run_all(&parse(op, attrs).unwrap(), &[(shape, x)]).unwrap()[0].clone()
        };
        same(
            &run("softmax", &[], &[1, 3], &[1.0, nan, 2.0]),
            &[0.0, nan, 0.0],
        );
        same(
            &run("log_softmax", &[], &[1, 3], &[1.0, nan, 2.0]),
            &[-89.72284, nan, -88.72284],
        );
        same(
            &run("log_softmax", &[], &[1, 3], &[0.0, -100.0, nan]),
            &[-88.7228, -188.7228, nan],
        );
        same(&run("softmax", &[], &[2], &[nan, 0.0]), &[nan, 0.0]);
        same(
            &run("softmax", &[], &[1, 3], &[1.0, inf, 2.0]),
            &[0.0, nan, 0.0],
        );
        same(
            &run("log_softmax", &[], &[1, 3], &[1.0, inf, 2.0]),
            &[-inf, nan, -inf],
        );
        same(
            &run("softmax", &[], &[1, 3], &[inf, inf, 1.0]),
            &[nan, nan, 0.0],
        );
        same(
            &run("softmax", &[], &[1, 3], &[-inf, -inf, -inf]),
            &[nan, nan, nan],
        );
        same(
            &run("softmax", &[], &[1, 3], &[1.0, -inf, 2.0]),
            &[0.26894143, 0.0, 0.73105854],
        );
        // Rows without NaN are untouched by the rule; other rows of the batch stay exact.
        same(
            &run("softmax", &[], &[2, 2], &[nan, 1.0, 0.0, 0.0]),
            &[nan, 0.0, 0.5, 0.5],
        );
        // The native kernel: temperature, another axis, softmin, SoftmaxActivation.
        same(
            &run(
                "softmax",
                &[("temperature", "2.0")],
                &[1, 3],
                &[1.0, nan, 2.0],
            ),
            &[nan, nan, nan],
        );
        same(
            &run("softmax", &[("axis", "0")], &[3, 1], &[1.0, nan, 2.0]),
            &[nan, nan, nan],
        );
        same(
            &run("softmin", &[], &[1, 3], &[1.0, nan, 2.0]),
            &[nan, nan, nan],
        );
        same(
            &run(
                "softmax",
                &[("axis", "1")],
                &[1, 2, 2],
                &[1.0, nan, 2.0, 3.0],
            ),
            &[0.26894143, nan, 0.7310586, nan],
        );
        same(
            &run("SoftmaxActivation", &[], &[1, 3], &[1.0, nan, 2.0]),
            &[nan, nan, nan],
        );
        same(
            &run("SoftmaxOutput", &[], &[1, 3], &[1.0, nan, 2.0]),
            &[0.0, nan, 0.0],
        );
    }

    #[test]
    fn softmax_with_length() {
        let op = parse("softmax", &[("use_length", "True")]).unwrap();
        assert_eq!(op.inputs()[1], ("length".to_string(), InputRole::Data));
        let mut shapes = vec![Some(vec![2, 3, 4]), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![2, 3]));
        assert!(op
            .infer_shape(&mut [Some(vec![2, 3, 4]), Some(vec![2, 4])])
            .is_err());
        // MXNet: softmax([[1,2,3],[1,2,3]], length=[2,0]) = [[0.26894143,0.7310586,0],[0,0,0]].
        let got = run(
            &op,
            &[
                (&[2, 3], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]),
                (&[2], &[2.0, 0.0]),
            ],
        );
        assert_close(&got, &[0.26894143, 0.7310586, 0.0, 0.0, 0.0, 0.0], 1e-7);
        // axis 0: length [1,2,0] → [[1,0.5,0],[0,0.5,0]].
        let op = parse("softmax", &[("use_length", "True"), ("axis", "0")]).unwrap();
        let got = run(
            &op,
            &[
                (&[2, 3], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]),
                (&[3], &[1.0, 2.0, 0.0]),
            ],
        );
        assert_close(&got, &[1.0, 0.5, 0.0, 0.0, 0.5, 0.0], 1e-7);
    }

    #[test]
    fn softmax_output_layouts() {
        let op = parse("SoftmaxOutput", &[]).unwrap();
        assert_eq!(
            op.inputs(),
            vec![
                ("data".into(), InputRole::Data),
                ("label".into(), InputRole::Label)
            ]
        );
        let x: Vec<f32> = (0..24).map(|v| ((v * 7) % 11) as f32 * 0.3 - 1.0).collect();
        let shape: &[usize] = &[2, 3, 4];
        // Label shape is inferred; a given label is not checked (unused at inference).
        let mut shapes = vec![Some(shape.to_vec()), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![2, 3]));
        assert!(op
            .infer_shape(&mut [Some(shape.to_vec()), Some(vec![1])])
            .is_ok());
        // Default: over all 12 non-batch elements.
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&x, 2, 12, 1),
            1e-7,
        );
        let op = parse("SoftmaxOutput", &[("multi_output", "True")]).unwrap();
        let mut shapes = vec![Some(shape.to_vec()), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![2, 4]));
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&x, 2, 3, 4),
            1e-7,
        );
        let op = parse(
            "SoftmaxOutput",
            &[
                ("preserve_shape", "True"),
                ("grad_scale", "1"),
                ("normalization", "valid"),
                ("use_ignore", "True"),
                ("ignore_label", "-1"),
            ],
        )
        .unwrap();
        assert_close(
            &run(&op, &[(shape, &x)]),
            &reference_softmax(&x, 6, 4, 1),
            1e-7,
        );
        assert!(parse("SoftmaxOutput", &[("normalization", "all")]).is_err());
        // 4-D and 5-D data are flattened too (native-kernel semantics, see SoftmaxOutput).
        let op = parse("SoftmaxOutput", &[]).unwrap();
        let x4: Vec<f32> = (0..24).map(|v| ((v * 5) % 9) as f32 * 0.35).collect();
        assert_close(
            &run(&op, &[(&[2, 3, 2, 2], &x4)]),
            &reference_softmax(&x4, 2, 12, 1),
            1e-7,
        );
        assert_close(
            &run(&op, &[(&[2, 3, 2, 2, 1], &x4)]),
            &reference_softmax(&x4, 2, 12, 1),
            1e-7,
        );
        assert_close(
            &run(&op, &[(&[4, 6], &x4)]),
            &reference_softmax(&x4, 4, 6, 1),
            1e-7,
        );
    }

    #[test]
    fn softmax_activation_modes() {
        let x: Vec<f32> = (0..24).map(|v| ((v * 5) % 7) as f32 * 0.4).collect();
        let op = parse("SoftmaxActivation", &[]).unwrap();
        assert_close(
            &run(&op, &[(&[2, 3, 4], &x)]),
            &reference_softmax(&x, 6, 4, 1),
            1e-7,
        );
        assert_close(
            &run(&op, &[(&[3], &[1.0, 2.0, 3.0])]),
            &[0.09003057, 0.24472848, 0.66524094],
            1e-7,
        );
        let op = parse("SoftmaxActivation", &[("mode", "channel")]).unwrap();
        assert_close(
            &run(&op, &[(&[2, 3, 4], &x)]),
            &reference_softmax(&x, 2, 3, 4),
            1e-7,
        );
        let e = op
            .infer_shape(&mut [Some(vec![2, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(2, 2)"), "{e}");
    }

    #[test]
    fn loss_heads() {
        let x = [-1.0, 0.0, 2.0];
        let op = parse("LogisticRegressionOutput", &[("grad_scale", "1.0")]).unwrap();
        assert_eq!(op.inputs()[1], ("label".to_string(), InputRole::Label));
        assert!(!op.is_view());
        assert_close(
            &run(&op, &[(&[3], &x)]),
            &[0.26894143, 0.5, 0.8807971],
            1e-7,
        );
        for name in ["LinearRegressionOutput", "MAERegressionOutput"] {
            let op = parse(name, &[]).unwrap();
            assert!(op.is_view());
            assert_eq!(op.name(), name);
            assert_eq!(run(&op, &[(&[3], &x)]), x);
        }
        // Label shapes: (N,1) data → (N,), otherwise the data's shape.
        let op = parse("LinearRegressionOutput", &[]).unwrap();
        let mut shapes = vec![Some(vec![4, 1]), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![4]));
        let mut shapes = vec![Some(vec![4, 2]), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![4, 2]));
        for (name, attrs) in [
            (
                "MakeLoss",
                vec![
                    ("grad_scale", "2"),
                    ("normalization", "batch"),
                    ("valid_thresh", "0.1"),
                ],
            ),
            ("make_loss", vec![]),
        ] {
            let op = parse(name, &attrs).unwrap();
            assert!(op.is_view());
            assert_eq!(op.inputs().len(), 1);
            assert_eq!(run(&op, &[(&[3], &x)]), x);
        }
        assert!(parse("make_loss", &[("valid_thresh", "2")]).is_err());
        // SVMOutput: identity; label = data without its last axis (MXNet: (2,5,3) → (2,5)).
        let op = parse("SVMOutput", &[("margin", "0.5"), ("use_linear", "True")]).unwrap();
        assert!(op.is_view());
        assert_eq!(run(&op, &[(&[3], &x)]), x);
        let mut shapes = vec![Some(vec![2, 5, 3]), None];
        op.infer_shape(&mut shapes).unwrap();
        assert_eq!(shapes[1], Some(vec![2, 5]));
    }
}
