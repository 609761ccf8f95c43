//! What Rust and WGSL share, declared once in Rust: the uniform blocks (`wgsl_uniform!`) and the
//! op-code / flag tables (`wgsl_consts!`). Each declaration gives a Rust item and its WGSL text
//! (`WGSL`), which `kernels.rs` prepends to the shader families that use it; the `.wgsl` files
//! only name them (`var<uniform> p: ConvParams;`, `case UNARY_RELU: { ... }`), so the two sides
//! cannot drift apart.
//!
//! Uniform layout: every field is a 4-byte scalar (`u32`, `i32`, `f32`) or an array of 4-vectors
//! (`[[u32; 4]; N]` ↔ `array<vec4<u32>, N>`: arrays in the uniform address space need a 16-byte
//! element stride, so shapes and strides are packed four to a vector and read in WGSL as
//! `p.shape[k >> 2u][k & 3u]`; [`vec4s`] packs them). A block is `#[repr(C)]` with no implicit
//! padding (bytemuck's `Pod` derive rejects it), every array lies at a 16-byte offset and the
//! size is a multiple of 16 (both checked at compile time), so the Rust layout *is* the WGSL
//! layout; the tests of `kernels.rs` also compare them with naga's layouter.

use std::fmt::Display;

use crate::error::{Error, Result};
use crate::ops::epilogue::{Epilogue, FusedAct};

/// The WGSL type of a uniform field type.
macro_rules! wgsl_type {
    (u32) => {
        "u32"
    };
    (i32) => {
        "i32"
    };
    (f32) => {
        "f32"
    };
    ([[$t:tt; 4]; $n:literal]) => {
        concat!(
            "array<vec4<",
            $crate::backend::webgpu::wgsl::wgsl_type!($t),
            ">,",
            stringify!($n),
            ">"
        )
    };
}

/// The alignment of a uniform field type in WGSL's uniform address space.
macro_rules! wgsl_align {
    ([$($x:tt)*]) => {
        16
    };
    ($t:tt) => {
        4
    };
}

/// A uniform block: `#[repr(C)]` Rust struct (bytemuck `Pod`, `Default` = all zero) and, as
/// its [`Declared::WGSL`], the WGSL `struct` declaration (on one line, so that prepending it
/// does not move the shaders' line numbers).
macro_rules! wgsl_uniform {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* $field:ident : $ty:tt),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl $crate::backend::webgpu::wgsl::Declared for $name {
            const NAME: &'static str = stringify!($name);
            const SIZE: usize = std::mem::size_of::<$name>();
            const WGSL: &'static str = concat!(
                "struct ", stringify!($name), "{",
                $(stringify!($field), ":", $crate::backend::webgpu::wgsl::wgsl_type!($ty), ",",)*
                "}"
            );
        }

        // The Rust layout is the WGSL layout: arrays at 16-byte offsets, size a multiple of 16.
        const _: () = {
            $(assert!(std::mem::offset_of!($name, $field) % $crate::backend::webgpu::wgsl::wgsl_align!($ty) == 0);)*
            assert!(std::mem::size_of::<$name>() % 16 == 0);
            assert!(std::mem::size_of::<$name>() as u64 <= crate::backend::webgpu::kernels::UNIFORM_BYTES);
        };

        impl crate::backend::webgpu::wgsl::Uniform for $name {
            fn words(&self) -> Vec<u32> {
                bytemuck::cast_slice(bytemuck::bytes_of(self)).to_vec()
            }
        }
    )*};
}

/// A table of `u32` codes: associated consts of a unit struct in Rust (`Unary::RELU`) and, as
/// its [`Declared::WGSL`], module-scope consts prefixed with the table's name
/// (`const UNARY_RELU=39u;`).
macro_rules! wgsl_consts {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident as $prefix:literal {
            $($(#[$cmeta:meta])* $code:ident = $value:literal),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name;

        #[allow(dead_code)]
        impl $name {
            $($(#[$cmeta])* pub const $code: u32 = $value;)*
        }

        impl $crate::backend::webgpu::wgsl::Declared for $name {
            const NAME: &'static str = stringify!($name);
            const SIZE: usize = 0;
            const WGSL: &'static str = concat!(
                $("const ", $prefix, "_", stringify!($code), "=", stringify!($value), "u;",)*
            );
        }
    )*};
}

pub(crate) use {wgsl_align, wgsl_type};

/// A declaration shared with WGSL: a uniform block or a table of codes.
pub(crate) trait Declared {
    /// The Rust (and WGSL) name of a uniform block; the table's name for codes (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    const NAME: &'static str;
    /// `size_of` a uniform block; 0 for a table of codes (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    const SIZE: usize;
    /// The WGSL declaration(s), on one line.
    const WGSL: &'static str;
}

/// A uniform block ready for upload: its 32-bit words.
pub(crate) trait Uniform {
    fn words(&self) -> Vec<u32>;
}

/// `v` converted to a 32-bit uniform field; an error (instead of wrapping) when it does not fit.
pub(crate) fn fit<T: TryFrom<V>, V: Copy + Display>(v: V) -> Result<T> {
    T::try_from(v).map_err(|_| {
        Error::Unsupported(format!(
            "value {v} does not fit in 32 bits (tensor too large)"
        ))
    })
}

/// `values` packed four to a vector, zero-padded to `N` vectors (`array<vec4<_>, N>`), each
/// converted with [`fit`]; element `k` is read in WGSL as `a[k >> 2u][k & 3u]`.
pub(crate) fn vec4s<T, V, const N: usize>(values: &[V]) -> Result<[[T; 4]; N]>
where
    T: TryFrom<V> + Copy + Default,
    V: Copy + Display,
{
    if values.len() > 4 * N {
        return Err(Error::Backend(format!(
            "{} values do not fit a uniform array of {}",
            values.len(),
            4 * N
        )));
    }
    let mut out = [[T::default(); 4]; N];
    for (k, &v) in values.iter().enumerate() {
        out[k / 4][k % 4] = fit(v)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The uniform blocks, one section per shader family (bound as `p` at @binding(0)).
// ---------------------------------------------------------------------------------------------

wgsl_uniform! {
    /// conv.wgsl: `conv_igemm`, `conv_depthwise`, `deconv` (spatial axes padded to (D, H, W)).
    pub struct ConvParams {
        batch: u32,
        /// C (all groups).
        channels: u32,
        /// F (all groups).
        filters: u32,
        groups: u32,
        /// C / G.
        cg: u32,
        /// F / G.
        fg: u32,
        /// Filters per group computed by this dispatch (implicit GEMM rows).
        m: u32,
        /// First filter (within its group) of this dispatch.
        f_base: u32,
        in_d: u32,
        in_h: u32,
        in_w: u32,
        in_size: u32,
        out_d: u32,
        out_h: u32,
        out_w: u32,
        out_size: u32,
        k_d: u32,
        k_h: u32,
        k_w: u32,
        k_size: u32,
        s_d: u32,
        s_h: u32,
        s_w: u32,
        group_base: u32,
        d_d: u32,
        d_h: u32,
        d_w: u32,
        n_total: u32,
        p_d: u32,
        p_h: u32,
        p_w: u32,
        has_bias: u32,
        x_off: u32,
        w_off: u32,
        out_off: u32,
        bias_off: u32,
        /// Parameters of the fused epilogue (src/ops/epilogue.rs), y = act(conv + bias +
        /// residual), whose kind is the pipeline constant `OP` (`EpilogueCode`).
        /// leaky: the slope; clip: the lower bound.
        act_a: f32,
        /// clip: the upper bound.
        act_b: f32,
        res_off: u32,
        _pad0: u32,
    }
}

wgsl_uniform! {
    /// copy.wgsl: `strided_copy`, `gather_index`, `fill`.
    pub struct CopyParams {
        /// Elements to write.
        n: u32,
        /// Axes of the iteration shape (<= 16).
        rank: u32,
        /// Element offsets.
        src_off: i32,
        dst_off: i32,
        /// Fill value / gather constant.
        value: f32,
        /// strided_copy: 1 = add into dst instead of overwriting.
        accumulate: u32,
        _pad1: u32,
        _pad2: u32,
        /// Iteration shape, row-major.
        shape: [[u32; 4]; 4],
        /// Element strides per axis (0 = broadcast, < 0 = reversed).
        src_strides: [[i32; 4]; 4],
        dst_strides: [[i32; 4]; 4],
    }
}

wgsl_uniform! {
    /// resize.wgsl: `bilinear`, `adaptive_avg` (NCHW, one thread per output value).
    pub struct ResizeParams {
        /// Output values.
        n: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        /// bilinear: align_corners.
        align: u32,
        /// bilinear: source scale per axis (`ops::resize::bilinear_scale`).
        scale_h: f32,
        scale_w: f32,
    }
}

wgsl_uniform! {
    /// index.wgsl
    pub struct IndexParams {
        /// Output elements.
        n: u32,
        outer: u32,
        /// The gathered axis.
        axis_len: u32,
        inner: u32,
        /// take: number of indices.
        n_idx: u32,
        /// `IndexModeCode`.
        mode: u32,
        /// take: rows of `a` held by this slab [row_lo, row_hi); others are skipped.
        row_lo: u32,
        row_hi: u32,
        on_value: f32,
        off_value: f32,
        x_off: u32,
        y_off: u32,
    }
}

wgsl_uniform! {
    /// nlp.wgsl
    pub struct NlpParams {
        /// Output values.
        n: u32,
        /// sequence: `SequenceCode`; interleaved: `AttentionCode`.
        kind: u32,
        /// sequence: time axis (0 or 1).
        axis: u32,
        /// sequence: T; interleaved: Tq.
        t_len: u32,
        batch: u32,
        /// sequence: values per (t, b); interleaved: head size D.
        inner: u32,
        /// sequence: 1 when in1 holds the lengths.
        use_len: u32,
        heads: u32,
        /// SequenceMask fill; interleaved: 1/√D; scale: the factor.
        value: f32,
        /// interleaved: Tk.
        tk: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

wgsl_uniform! {
    /// norm.wgsl
    pub struct NormParams {
        /// batch_norm / lrn: elements; row_norm: rows.
        n: u32,
        /// batch_norm: C; lrn: C.
        channels: u32,
        /// batch_norm: elements per channel block; row_norm: stride between a row's elements; lrn: spatial size.
        inner: u32,
        /// row_norm: elements per row.
        len: u32,
        eps: f32,
        /// `NormCode`: batch_norm GAMMA / FIX_GAMMA; batch_norm_stats INV_STD / VARIANCE;
        /// row_norm STANDARDISE / L2.
        mode: u32,
        /// row_norm: `NormCode` GAMMA_BY_POSITION / GAMMA_BY_ROW.
        gamma_mode: u32,
        gamma_mod: u32,
        /// row_norm: 1 = also write mean (out1) and std (out2) per row.
        stats: u32,
        /// lrn.
        nsize: u32,
        /// lrn: alpha / nsize.
        alpha: f32,
        /// lrn.
        beta: f32,
        /// lrn.
        knorm: f32,
        x_off: u32,
        y_off: u32,
        /// batch_norm's fused activation (kind: the pipeline constant `OP`, `EpilogueCode`):
        /// leaky: the slope; clip: the lower bound.
        act_a: f32,
        /// clip: the upper bound.
        act_b: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

wgsl_uniform! {
    /// pool.wgsl
    pub struct PoolParams {
        /// Output elements (N·C·out_size).
        n: u32,
        /// `PoolMode`.
        mode: u32,
        count_include_pad: u32,
        /// 5-D data: an all-padding avg window without count_include_pad is 0/0 = NaN.
        three_d: u32,
        in_d: u32,
        in_h: u32,
        in_w: u32,
        in_size: u32,
        out_d: u32,
        out_h: u32,
        out_w: u32,
        out_size: u32,
        k_d: u32,
        k_h: u32,
        k_w: u32,
        x_off: u32,
        s_d: u32,
        s_h: u32,
        s_w: u32,
        y_off: u32,
        p_d: u32,
        p_h: u32,
        p_w: u32,
        _pad0: u32,
    }
}

wgsl_uniform! {
    /// gemm.wgsl
    pub struct GemmParams {
        m: u32,
        n: u32,
        k: u32,
        /// `GemmBias`.
        bias_mode: u32,
        a_off: u32,
        a_rs: u32,
        a_cs: u32,
        a_bs: u32,
        b_off: u32,
        b_rs: u32,
        b_cs: u32,
        b_bs: u32,
        c_off: u32,
        c_rs: u32,
        c_cs: u32,
        c_bs: u32,
        bias_off: u32,
        /// The fused epilogue's parameters, as in `ConvParams` (kind: `OP`, `EpilogueCode`).
        act_a: f32,
        act_b: f32,
        res_off: u32,
    }
}

wgsl_uniform! {
    /// rnn.wgsl
    pub struct RnnParams {
        t_len: u32,
        n: u32,
        /// State width (projection size, or H).
        p: u32,
        /// Hidden size.
        h: u32,
        /// Gates × H.
        gh: u32,
        /// Input size of this layer.
        ci: u32,
        dirs: u32,
        /// `RnnCell`.
        mode: u32,
        /// (layer · D): first state row of this layer.
        state0: u32,
        /// 1: the initial h is zero (no `state` values).
        zero_h: u32,
        zero_c: u32,
        has_proj: u32,
        gr_off: u32,
        c_off: u32,
        hraw_off: u32,
        h_off: u32,
        w_i0: u32,
        w_i1: u32,
        w_h0: u32,
        w_h1: u32,
        w_r0: u32,
        w_r1: u32,
        b_i0: u32,
        b_i1: u32,
        b_h0: u32,
        b_h1: u32,
        /// rnn_input: D · T · N · G·H.
        total: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        _pad3: u32,
        _pad4: u32,
    }
}

wgsl_uniform! {
    /// softmax.wgsl
    pub struct SoftmaxParams {
        /// Outer · inner.
        rows: u32,
        n: u32,
        inner: u32,
        /// `SoftmaxFlags`.
        flags: u32,
        temperature: f32,
        cast_code: u32,
        x_off: u32,
        y_off: u32,
    }
}

wgsl_uniform! {
    /// reduce.wgsl: `reduce`.
    pub struct ReduceParams {
        n_out: u32,
        /// Reduced elements per output.
        count: u32,
        /// `ReduceCode`.
        op: u32,
        kept_rank: u32,
        red_rank: u32,
        x_off: u32,
        y_off: u32,
        _pad0: u32,
        kept_shape: [[u32; 4]; 2],
        kept_strides: [[u32; 4]; 2],
        red_shape: [[u32; 4]; 2],
        red_strides: [[u32; 4]; 2],
    }
}

wgsl_uniform! {
    /// reduce.wgsl: `topk` (bound as `q`).
    pub struct TopkParams {
        /// Outer · n · inner.
        total: u32,
        n: u32,
        inner: u32,
        k: u32,
        /// `TopkRet`.
        ret: u32,
        ascending: u32,
        cast_code: u32,
        x_off: u32,
    }
}

wgsl_uniform! {
    /// detection.wgsl
    pub struct DetectionParams {
        /// Threads (linear kernels) or batches (per-batch kernels).
        n: u32,
        /// N: rows (anchors) per batch.
        rows: u32,
        /// K: values per row.
        width: u32,
        /// Padded sort length per batch (a power of two >= rows).
        pow2: u32,
        score_index: u32,
        coord_start: u32,
        /// < 0: no id column.
        id_index: i32,
        background_id: i32,
        valid_thresh: f32,
        overlap: f32,
        /// <= 0: no limit.
        topk: i32,
        /// `DetectionFlags`.
        flags: u32,
        /// Bitonic block size.
        k: u32,
        /// Bitonic compare distance.
        j: u32,
        /// box_decode stds / MultiBoxDetection variances.
        s0: f32,
        s1: f32,
        s2: f32,
        s3: f32,
        /// box_decode clip; MultiBoxDetection: 1 = clip to [0, 1].
        clip: f32,
        classes: u32,
        threshold: f32,
        _pad: u32,
        /// ROIAlign / ROIPooling (rows = H, width = W).
        batch: u32,
        /// Input channels.
        channels: u32,
        out_channels: u32,
        ph: u32,
        pw: u32,
        sample_ratio: i32,
        /// spatial_scale.
        scale: f32,
        /// `RoiFlags`.
        roi_flags: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

wgsl_uniform! {
    /// elementwise.wgsl
    pub struct ElementwiseParams {
        n: u32,
        op: u32,
        /// binary: axes of the output shape (<= 8); 0 = same-shape fast path.
        rank: u32,
        _pad0: u32,
        /// map: first parameter (scalar, slope, alpha, a_min, cast code bits...).
        a: f32,
        /// map: second parameter (beta, a_max...).
        b: f32,
        /// Element offsets of in0, in1, in2 and out0.
        off0: u32,
        off1: u32,
        off2: u32,
        off_out: u32,
        _pad1: u32,
        _pad2: u32,
        /// Output shape (binary / where).
        shape: [[u32; 4]; 2],
        /// Element strides of in0 per output axis (0 = broadcast).
        strides0: [[u32; 4]; 2],
        strides1: [[u32; 4]; 2],
        strides2: [[u32; 4]; 2],
    }
}

// ---------------------------------------------------------------------------------------------
// Op codes and flags.
// ---------------------------------------------------------------------------------------------

wgsl_consts! {
    /// elementwise.wgsl `unary` (map codes 0..63): the `UnaryFn`s.
    pub struct Unary as "UNARY" {
        ABS = 0,
        SIGN = 1,
        NEGATIVE = 2,
        RECIPROCAL = 3,
        SQUARE = 4,
        SQRT = 5,
        RSQRT = 6,
        CBRT = 7,
        RCBRT = 8,
        EXP = 9,
        EXPM1 = 10,
        LOG = 11,
        LOG2 = 12,
        LOG10 = 13,
        LOG1P = 14,
        SIN = 15,
        COS = 16,
        TAN = 17,
        ARCSIN = 18,
        ARCCOS = 19,
        ARCTAN = 20,
        SINH = 21,
        COSH = 22,
        TANH = 23,
        ARCSINH = 24,
        ARCCOSH = 25,
        ARCTANH = 26,
        DEGREES = 27,
        RADIANS = 28,
        FLOOR = 29,
        CEIL = 30,
        ROUND = 31,
        RINT = 32,
        TRUNC = 33,
        FIX = 34,
        ERF = 35,
        ERFINV = 36,
        GAMMA = 37,
        GAMMALN = 38,
        RELU = 39,
        SIGMOID = 40,
        SOFTSIGN = 41,
        LOGICAL_NOT = 42,
    }

    /// elementwise.wgsl `binop` (the `binary` kernel; map codes 64 + b and 96 + b): the
    /// `BinaryFn`s and PReLU.
    pub struct Binary as "BINARY" {
        ADD = 0,
        SUB = 1,
        MUL = 2,
        DIV = 3,
        MAXIMUM = 4,
        MINIMUM = 5,
        POWER = 6,
        HYPOT = 7,
        MOD = 8,
        EQUAL = 9,
        NOT_EQUAL = 10,
        GREATER = 11,
        GREATER_EQUAL = 12,
        LESSER = 13,
        LESSER_EQUAL = 14,
        LOGICAL_AND = 15,
        LOGICAL_OR = 16,
        LOGICAL_XOR = 17,
        PRELU = 18,
        INT_DIV = 19,
    }

    /// elementwise.wgsl `map_value`: the codes past the unary functions.
    pub struct MapCode as "MAP" {
        /// `SCALAR_RHS + b`: binary op `b` with the scalar `a` on the right.
        SCALAR_RHS = 64,
        /// `SCALAR_LHS + b`: with the scalar on the left.
        SCALAR_LHS = 96,
        /// clip(a_min = a, a_max = b); NaN passes through. The first named code.
        CLIP = 128,
        /// hard_sigmoid(alpha = a, beta = b).
        HARD_SIGMOID = 129,
        /// Cast to the `Cast` code in the bits of `a`.
        CAST = 130,
        IDENTITY = 131,
        /// log(1 + e^x).
        SOFTRELU = 132,
        /// LeakyReLU leaky / rrelu (slope = a).
        LEAKY = 133,
        /// elu (slope = a).
        ELU = 134,
        SELU = 135,
        /// gelu (erf form).
        GELU = 136,
        /// Fill with `a`.
        FILL = 137,
        /// smooth_l1 (sigma = a).
        SMOOTH_L1 = 138,
        /// Activation(relu): max(x, 0) with NaN → 0 (unlike the `relu` operator).
        ACT_RELU = 139,
    }

    /// conv.wgsl's pipeline constant `OP`: each variant compiles to straight-line code. Bits
    /// 0-2: the fused epilogue (`EpilogueCode`); POINTWISE (conv_igemm): 1×1 kernel, stride 1,
    /// no padding — the im2col matrix is the input itself, so the B tile is loaded without tap
    /// arithmetic.
    pub struct ConvVariant as "CONV" {
        POINTWISE = 8,
    }

    /// index.wgsl's `p.mode`: how an index outside 0..n is resolved (`IndexMode` in
    /// src/ops/index.rs).
    pub struct IndexModeCode as "INDEX" {
        /// Clamped into range (MXNet's `raise` computes the same on a valid input).
        CLIP = 0,
        /// Taken modulo n.
        WRAP = 1,
    }

    /// nlp.wgsl `sequence`'s `p.kind` (`SequenceKind` in src/ops/sequence.rs).
    pub struct SequenceCode as "SEQUENCE" {
        MASK = 0,
        LAST = 1,
        REVERSE = 2,
    }

    /// nlp.wgsl's interleaved attention products: where queries, keys and values sit in the
    /// projections (`Interleaved` in src/ops/transformer.rs).
    pub struct AttentionCode as "ATTENTION" {
        /// One projection holds q, k and v (interleaved_matmul_selfatt_*).
        SELF = 0,
        /// Queries alone, keys and values interleaved (interleaved_matmul_encdec_*).
        ENC_DEC = 1,
    }

    /// norm.wgsl's `p.mode` and `p.gamma_mode`, per kernel.
    pub struct NormCode as "NORM" {
        /// batch_norm: scale by gamma.
        GAMMA = 0,
        /// batch_norm: fix_gamma (gamma taken as 1).
        FIX_GAMMA = 1,
        /// batch_norm_stats: out1 = 1/sqrt(var + eps).
        INV_STD = 0,
        /// batch_norm_stats: out1 = the variance (BatchNorm_v1).
        VARIANCE = 1,
        /// row_norm: (x − mean) / std, then gamma and beta.
        STANDARDISE = 0,
        /// row_norm: L2 normalisation.
        L2 = 1,
        /// row_norm's gamma_mode: gamma[j], j the position in the row.
        GAMMA_BY_POSITION = 0,
        /// row_norm's gamma_mode: gamma[row % gamma_mod].
        GAMMA_BY_ROW = 1,
    }

    /// rnn.wgsl's `p.mode`: the cell (`RnnMode` in src/ops/rnn.rs).
    pub struct RnnCell as "RNN" {
        LSTM = 0,
        GRU = 1,
        RELU = 2,
        TANH = 3,
    }

    /// The work of one workgroup of gemm.wgsl's kernels, which the lowering sizes its grids by
    /// (the shader asserts the values its code is written for).
    pub struct GemmTiling as "GEMM" {
        /// gemm: rows and columns of C per workgroup (a square tile).
        TILE = 64,
        /// gemv: outputs per workgroup.
        GEMV_ROWS = 4,
    }

    /// gemm.wgsl's `p.bias_mode`: which bias element is added to C[m, n].
    pub struct GemmBias as "BIAS" {
        NONE = 0,
        /// bias[n] (FullyConnected).
        PER_COLUMN = 1,
        /// bias[m].
        PER_ROW = 2,
    }

    /// The work of one workgroup or thread of conv.wgsl's kernels, which the lowering sizes its
    /// grids by (the shader asserts the values its code is written for).
    pub struct ConvTiling as "CONV" {
        /// conv_igemm: filters and output positions per workgroup (a square tile).
        TILE = 64,
        /// conv_gemv: filters per workgroup.
        GEMV_ROWS = 4,
        /// conv_depthwise: consecutive outputs of one row per thread.
        DW_RUN = 4,
    }

    /// reduce.wgsl `reduce`'s `p.op`.
    pub struct ReduceCode as "REDUCE" {
        SUM = 0,
        MEAN = 1,
        MAX = 2,
        MIN = 3,
        PROD = 4,
        NANSUM = 5,
        NANPROD = 6,
        L1 = 7,
        L2 = 8,
        /// The arg-extremes come last (`op >= REDUCE_ARGMAX`).
        ARGMAX = 9,
        ARGMIN = 10,
    }

    /// reduce.wgsl `topk`'s `q.ret`.
    pub struct TopkRet as "TOPK" {
        VALUE = 0,
        INDICES = 1,
        /// Values in out0, indices in out1.
        BOTH = 2,
        MASK = 3,
    }

    /// pool.wgsl `p.mode`.
    pub struct PoolMode as "POOL" {
        MAX = 0,
        AVG = 1,
        /// sum, and lp with p = 1.
        SUM = 2,
        LP2 = 3,
        LP3 = 4,
    }

    /// softmax.wgsl `p.flags`.
    pub struct SoftmaxFlags as "SOFTMAX" {
        /// softmin.
        NEGATE = 1,
        LOG = 2,
        /// Use the lengths in `in1`.
        LENGTH = 4,
        /// Cast the output (`p.cast_code`).
        CAST = 8,
        /// oneDNN's NaN convention (`SoftmaxRows::onednn_nan` in src/ops/activation.rs).
        ONEDNN_NAN = 16,
    }

    /// detection.wgsl `p.flags` (box_nms, MultiBoxDetection, box_decode).
    pub struct DetectionFlags as "FLAG" {
        FORCE = 1,
        IN_CORNER = 2,
        OUT_CORNER = 4,
        /// MultiBoxDetection: valid = id >= 0.
        VALID_BY_ID = 8,
        NMS_ON = 16,
    }

    /// detection.wgsl `p.roi_flags` (ROIAlign).
    pub struct RoiFlags as "ROI" {
        POSITION_SENSITIVE = 1,
        ALIGNED = 2,
    }
}

wgsl_consts! {
    /// A fused epilogue (`Epilogue` in src/ops/epilogue.rs) in the low bits of the pipeline
    /// constant `OP` of conv.wgsl's and gemm.wgsl's kernels, so each variant compiles to
    /// straight-line code: `y = act(sum + bias + residual)`. Declared with common.wgsl, whose
    /// `fused_act` applies the activation.
    pub struct EpilogueCode as "EPILOGUE" {
        /// Bits 0-1: the activation (`FusedAct`).
        ACT_MASK = 3,
        NONE = 0,
        /// relu, NaN → 0.
        RELU = 1,
        /// leaky (slope `act_a`).
        LEAKY = 2,
        /// clip (`act_a`..`act_b`).
        CLIP = 3,
        /// Add `in3[p.res_off + the output index]` before the activation.
        RESIDUAL = 4,
    }

    /// `cast_to` in common.wgsl (Cast, softmax's and topk's output dtypes; values stay f32).
    pub struct Cast as "CAST" {
        /// float32 and float64.
        F32 = 0,
        F16 = 1,
        BF16 = 2,
        BOOL = 3,
        I32 = 4,
        I64 = 5,
        U8 = 6,
        I8 = 7,
        I16 = 8,
        U16 = 9,
        U32 = 10,
        U64 = 11,
    }
}

impl EpilogueCode {
    /// The `OP` bits and the (`act_a`, `act_b`) uniform values of an epilogue.
    pub fn of(e: Epilogue) -> (u32, f32, f32) {
        let (act, a, b) = match e.act {
            FusedAct::None => (EpilogueCode::NONE, 0.0, 0.0),
            FusedAct::Relu => (EpilogueCode::RELU, 0.0, 0.0),
            FusedAct::Leaky { slope } => (EpilogueCode::LEAKY, slope, 0.0),
            FusedAct::Clip { lo, hi } => (EpilogueCode::CLIP, lo, hi),
        };
        let residual = if e.residual {
            EpilogueCode::RESIDUAL
        } else {
            0
        };
        (act | residual, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_wgsl_text() {
        assert_eq!(
            <ResizeParams as Declared>::WGSL,
            "struct ResizeParams{n:u32,h:u32,w:u32,oh:u32,ow:u32,align:u32,scale_h:f32,scale_w:f32,}"
        );
        assert!(<CopyParams as Declared>::WGSL.contains("src_strides:array<vec4<i32>,4>,"));
        assert!(<Unary as Declared>::WGSL.contains("const UNARY_RELU=39u;"));
        assert_eq!(Unary::RELU, 39);
        // One line each: prepending them keeps the shaders' line numbers.
        assert!(!<ConvParams as Declared>::WGSL.contains('\n'));
    }

    #[test]
    fn uniform_words_follow_the_fields() {
        let u = ResizeParams {
            n: 7,
            scale_w: 1.5,
            ..Default::default()
        };
        let w = u.words();
        assert_eq!(w.len(), 8);
        assert_eq!((w[0], w[7]), (7, 1.5f32.to_bits()));
    }

    #[test]
    fn fit_and_vec4s_refuse_what_does_not_fit() {
        assert_eq!(fit::<u32, usize>(5).unwrap(), 5);
        assert!(fit::<i32, i64>(-3).is_ok());
        let e = fit::<u32, usize>(1 << 33).unwrap_err().to_string();
        assert!(e.contains("does not fit in 32 bits"), "{e}");
        assert!(fit::<u32, i64>(-1).is_err());
        let a: [[u32; 4]; 2] = vec4s(&[1usize, 2, 3, 4, 5]).unwrap();
        assert_eq!(a, [[1, 2, 3, 4], [5, 0, 0, 0]]);
        assert!(vec4s::<u32, usize, 2>(&[0; 9]).is_err());
    }
}
