//! Operators: what each MXNet operator means at inference.
//!
//! One file per family. Each family file is the single place that defines its operators:
//! the attribute struct parsed from the symbol JSON (with MXNet's defaults, spec §4), the shape
//! rule, and the reference CPU implementation (which is also the CPU backend's kernel; the
//! heavy ones call the GEMM in [`crate::backend::cpu::gemm`]). Backends never reinterpret an op.
//!
//! | family file      | operators |
//! |------------------|-----------|
//! | `conv.rs`        | Convolution, Deconvolution, UpSampling |
//! | `dense.rs`       | FullyConnected, dot, batch_dot |
//! | `pool.rs`        | Pooling |
//! | `norm.rs`        | BatchNorm, InstanceNorm, LayerNorm, GroupNorm, LRN, L2Normalization |
//! | `activation.rs`  | Activation, LeakyReLU, softmax, log_softmax, SoftmaxOutput, SoftmaxActivation, loss-output heads |
//! | `elementwise.rs` | elemwise_*, broadcast_* arithmetic/comparison, *_scalar and _r*_scalar, unary math, clip, add_n, where, Cast, identity-like ops (Dropout, BlockGrad, _copy) |
//! | `shape.rs`       | Reshape, Flatten, transpose, expand_dims, squeeze, SwapAxis, slice*, Crop, SliceChannel, _split_v2, Concat, stack, Pad, broadcast_to/axis/like, tile, repeat, reshape_like, shape_array, size_array |
//! | `index.rs`       | Embedding, take, pick, one_hot |
//! | `reduce.rs`      | sum, mean, max, min, prod, nansum, nanprod, norm, argmax, argmin, topk |
//! | `creation.rs`    | _arange, _zeros, _ones, _full |
//! | `detection.rs`   | _contrib_box_nms, _contrib_box_decode, _contrib_box_encode, _contrib_MultiBoxPrior, _contrib_MultiBoxDetection, _contrib_ROIAlign, ROIPooling, gather_nd |
//! | `resize.rs`      | _contrib_BilinearResize2D (all modes), _contrib_AdaptiveAvgPooling2D |
//! | `sequence.rs`    | SequenceMask, SequenceLast, SequenceReverse |
//! | `transformer.rs` | _contrib_interleaved_matmul_selfatt_qk/valatt, _contrib_interleaved_matmul_encdec_qk/valatt, _contrib_div_sqrt_dim, _contrib_arange_like |
//! | `rnn.rs`         | RNN (fused lstm, gru, rnn_relu, rnn_tanh); `_rnn_param_concat` is an alias of Concat |

use crate::error::Result;
use crate::format::attrs::Attrs;
use crate::tensor::{View, ViewMut};

pub mod activation;
pub mod conv;
pub mod creation;
pub mod dense;
pub mod detection;
pub mod elementwise;
pub mod epilogue;
pub mod index;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod resize;
pub mod rnn;
pub mod sequence;
pub mod shape;
pub mod transformer;
pub mod winograd;

/// What an operator input slot holds. The JSON does not say; the operator definition does
/// (spec §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRole {
    /// Activations (or a graph input).
    Data,
    /// A learned parameter (`arg:` in checkpoints): weight, bias, gamma, ...
    Weight,
    /// An auxiliary state (`aux:`): BatchNorm's moving mean and variance.
    Aux,
    /// The label of a loss-output operator (`softmax_label`): unused at inference, optional.
    Label,
}

/// Reusable workspace for CPU kernels (im2col buffers, packed panels...). Kernels grow these
/// vectors as needed; after the first forward pass no allocation happens.
#[derive(Debug, Default)]
pub struct Scratch {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl Scratch {
    /// Returns `buf[..n]`, growing the buffer if needed (contents are unspecified).
    pub fn take(buf: &mut Vec<f32>, n: usize) -> &mut [f32] {
        if buf.len() < n {
            buf.resize(n, 0.0);
        }
        &mut buf[..n]
    }
}

/// The contract every operator family implements.
pub trait Operator {
    /// Parses the attributes of `op` (its canonical MXNet name, aliases already resolved).
    /// Returns `Ok(None)` when `op` is not an operator of this family. Attribute errors name the
    /// key; the caller adds the node. Implementations read every attribute they understand and
    /// leave the rest for [`Attrs::finish`] to reject.
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>>
    where
        Self: Sized;

    /// The canonical MXNet operator name (for messages and `inspect`).
    fn name(&self) -> &'static str;

    /// The input slots MXNet defines for this operator with these attributes, in order, e.g.
    /// `[("data", Data), ("weight", Weight), ("bias", Weight)]` for a Convolution with bias,
    /// `n × ("arg{i}", Data)` for variadic ops (Concat). Used to upgrade pre-0.9 graphs (missing
    /// slots become variables named `<node>_<slot>`), to classify variables, and in messages.
    fn inputs(&self) -> Vec<(String, InputRole)>;

    /// Number of visible outputs (BatchNorm: 1; SliceChannel: num_outputs).
    fn num_outputs(&self) -> usize {
        1
    }

    /// Infers output shapes. `inputs[i]` is the shape of slot i when known. Data shapes are
    /// always known; parameter shapes may be `None` (a model loaded with allow_missing, or a
    /// graph with no weights yet): the rule then fills in the shape MXNet would infer, and
    /// otherwise checks the given one. Errors quote both shapes.
    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>>;

    /// Computes the outputs on the CPU. Shapes are those returned by `infer_shape`; output
    /// buffers hold stale data and must be fully written.
    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()>;

    /// Multiply-adds ×2 for `inspect` (0 for ops whose cost is not worth counting).
    fn flops(&self, _inputs: &[Vec<usize>], _outputs: &[Vec<usize>]) -> u64 {
        0
    }

    /// f32 elements of [`Scratch`] (`a` + `b`) the CPU kernel takes beyond its inputs and
    /// outputs, for the planner's memory budget. 0 for kernels whose scratch is bounded by
    /// their own tensors; the convolution family reports its im2col / padded-plane buffers.
    fn scratch_len(&self, _inputs: &[Vec<usize>]) -> usize {
        0
    }

    /// True when output 0 is input 0 with the same values in the same order (only the shape may
    /// differ): Flatten, Reshape, Dropout at inference, BlockGrad, ... The planner then aliases
    /// the buffers instead of copying.
    fn is_view(&self) -> bool {
        false
    }
}

/// The most inputs or outputs a variadic operator may declare (`num_args`, `num_outputs`):
/// an operator's slots are materialised as a list, so a hostile `num_args=2000000000` must be
/// an error, not a 2-billion-entry allocation.
pub(crate) const MAX_ARITY: i64 = 1 << 16;

/// Reads a variadic operator's count (`num_args`, `num_outputs`, `sections`): in
/// `[min, MAX_ARITY]`.
pub(crate) fn arity(value: i64, key: &str, min: i64) -> Result<usize> {
    if value < min || value > MAX_ARITY {
        return Err(crate::error::Error::attr(
            key,
            &value.to_string(),
            format!("must be in [{min}, {MAX_ARITY}]"),
        ));
    }
    Ok(value as usize)
}

/// Resolves a possibly negative `axis` (counting from the end, as MXNet does) against `ndim`.
/// Shared by every operator family that takes an axis.
pub(crate) fn resolve_axis(axis: i64, ndim: usize, op: &str) -> Result<usize> {
    let n = ndim as i64;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(crate::error::Error::shape(format!(
            "{op}: axis {axis} is out of range for an input of rank {ndim}"
        )));
    }
    Ok(a as usize)
}

macro_rules! define_op_enum {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A parsed operator: one variant per family.
        #[derive(Debug, Clone)]
        pub enum Op {
            $($variant($ty)),*
        }

        impl Op {
            /// Parses a node's operator from its canonical name and attributes, then rejects
            /// attributes nobody understood.
            pub fn parse(op: &str, attrs: &Attrs) -> Result<Op> {
                $(
                    if let Some(parsed) = <$ty as Operator>::parse(op, attrs)? {
                        attrs.finish()?;
                        return Ok(Op::$variant(parsed));
                    }
                )*
                Err(crate::error::Error::UnknownOp { op: op.to_string() })
            }

            pub fn name(&self) -> &'static str {
                match self { $(Op::$variant(o) => o.name()),* }
            }

            pub fn inputs(&self) -> Vec<(String, InputRole)> {
                match self { $(Op::$variant(o) => o.inputs()),* }
            }

            pub fn num_outputs(&self) -> usize {
                match self { $(Op::$variant(o) => o.num_outputs()),* }
            }

            pub fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
                match self { $(Op::$variant(o) => o.infer_shape(inputs)),* }
            }

            pub fn forward(&self, inputs: &[View], outputs: &mut [ViewMut], scratch: &mut Scratch) -> Result<()> {
                match self { $(Op::$variant(o) => o.forward(inputs, outputs, scratch)),* }
            }

            pub fn flops(&self, inputs: &[Vec<usize>], outputs: &[Vec<usize>]) -> u64 {
                match self { $(Op::$variant(o) => o.flops(inputs, outputs)),* }
            }

            pub fn scratch_len(&self, inputs: &[Vec<usize>]) -> usize {
                match self { $(Op::$variant(o) => o.scratch_len(inputs)),* }
            }

            pub fn is_view(&self) -> bool {
                match self { $(Op::$variant(o) => o.is_view()),* }
            }
        }
    };
}

define_op_enum! {
    Conv(conv::ConvOp),
    Dense(dense::DenseOp),
    Pool(pool::PoolOp),
    Norm(norm::NormOp),
    Activation(activation::ActivationOp),
    Elementwise(elementwise::ElementwiseOp),
    Shape(shape::ShapeOp),
    Index(index::IndexOp),
    Reduce(reduce::ReduceOp),
    Creation(creation::CreationOp),
    Detection(detection::DetectionOp),
    Rnn(rnn::RnnOp),
    Resize(resize::ResizeOp),
    Sequence(sequence::SequenceOp),
    Transformer(transformer::TransformerOp),
}

impl Op {
    /// The operator's family: its file under `src/ops/` in words, as `inspect` and `info()`
    /// summarise a model (`detection`, `recurrent`, …).
    pub fn family(&self) -> &'static str {
        match self {
            Op::Conv(_) => "convolution",
            Op::Dense(_) => "dense",
            Op::Pool(_) => "pooling",
            Op::Norm(_) => "normalization",
            Op::Activation(_) => "activation",
            Op::Elementwise(_) => "elementwise",
            Op::Shape(_) => "shape",
            Op::Index(_) => "indexing",
            Op::Reduce(_) => "reduction",
            Op::Creation(_) => "creation",
            Op::Detection(_) => "detection",
            Op::Rnn(_) => "recurrent",
            Op::Resize(_) => "resize",
            Op::Sequence(_) => "sequence",
            Op::Transformer(_) => "attention",
        }
    }

    /// Family → sorted distinct operator names, over `ops` (a model's summary).
    pub fn families<'a>(
        ops: impl IntoIterator<Item = &'a Op>,
    ) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut families: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for op in ops {
            let names = families.entry(op.family().to_string()).or_default();
            if !names.iter().any(|x| x == op.name()) {
                names.push(op.name().to_string());
            }
        }
        for names in families.values_mut() {
            names.sort();
        }
        families
    }

    /// Whether the op's output shape has unknown (0) dimensions that the consumer's shape rule
    /// must supply (`_zeros(shape=(2, 0, 8))`, see `creation.rs` and `graph/shape.rs`).
    pub fn has_unknown_output_dims(&self) -> bool {
        matches!(self, Op::Creation(c) if c.has_unknown_dims())
    }
}

/// Maps an operator alias to the canonical name MXNet writes (spec §2.7).
pub fn canonical_name(op: &str) -> &str {
    // Every `_sparse_X` is X.
    let op = op.strip_prefix("_sparse_").unwrap_or(op);
    match op {
        "Softmax" => "SoftmaxOutput",
        "ElementWiseSum" => "add_n",
        "_Plus" | "_plus" | "_add" => "elemwise_add",
        "_Minus" | "_minus" | "_sub" => "elemwise_sub",
        "_Mul" | "_mul" => "elemwise_mul",
        "_Div" | "_div" => "elemwise_div",
        "_PlusScalar" => "_plus_scalar",
        "_MinusScalar" => "_minus_scalar",
        "_RMinusScalar" => "_rminus_scalar",
        "_MulScalar" => "_mul_scalar",
        "_DivScalar" => "_div_scalar",
        "_RDivScalar" => "_rdiv_scalar",
        "_PowerScalar" => "_power_scalar",
        "_RPowerScalar" => "_rpower_scalar",
        "_Power" | "_power" => "_power",
        "_Maximum" => "_maximum",
        "_MaximumScalar" => "_maximum_scalar",
        "_Minimum" => "_minimum",
        "_MinimumScalar" => "_minimum_scalar",
        "_Equal" => "_equal",
        "_EqualScalar" => "_equal_scalar",
        "_NotEqual" => "_not_equal",
        "_NotEqualScalar" => "_not_equal_scalar",
        "_Greater" => "_greater",
        "_GreaterScalar" => "_greater_scalar",
        "_GreaterEqual" => "_greater_equal",
        "_GreaterEqualScalar" => "_greater_equal_scalar",
        "_Lesser" => "_lesser",
        "_LesserScalar" => "_lesser_scalar",
        "_LesserEqual" => "_lesser_equal",
        "_LesserEqualScalar" => "_lesser_equal_scalar",
        "_Hypot" => "_hypot",
        "_HypotScalar" => "_hypot_scalar",
        "_Mod" => "_mod",
        "_ModScalar" => "_mod_scalar",
        "_RModScalar" => "_rmod_scalar",
        "flatten" => "Flatten",
        "concat" => "Concat",
        "reshape" => "Reshape",
        "cast" => "Cast",
        "split" => "SliceChannel",
        "stop_gradient" => "BlockGrad",
        "identity" => "_copy",
        "pad" => "Pad",
        "swapaxes" => "SwapAxis",
        "flip" => "reverse",
        "crop" => "slice",
        "sum_axis" => "sum",
        "max_axis" => "max",
        "min_axis" => "min",
        "broadcast_plus" => "broadcast_add",
        "broadcast_minus" => "broadcast_sub",
        "broadcast_axes" => "broadcast_axis",
        "choose_element_0index" => "pick",
        "_rnn_param_concat" => "Concat",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(canonical_name("Softmax"), "SoftmaxOutput");
        assert_eq!(canonical_name("crop"), "slice");
        assert_eq!(canonical_name("_sparse_dot"), "dot");
        assert_eq!(canonical_name("_Maximum"), "_maximum");
        assert_eq!(canonical_name("Convolution"), "Convolution");
    }

    #[test]
    fn unknown_op_is_an_error() {
        let e = Op::parse("MoonOutput", &Attrs::default()).unwrap_err();
        assert!(e.to_string().contains("MoonOutput"), "{e}");
    }
}
