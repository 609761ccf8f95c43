//! Elementwise operators (spec §4.2, §4.3; pitfalls §5.5, §5.12, §5.19).
//!
//! | family | operators | inputs |
//! |--------|-----------|--------|
//! | same-shape binary | `elemwise_add/sub/mul/div`, `_maximum`, `_minimum`, `_power`, `_hypot`, `_mod`, `_equal`, `_not_equal`, `_greater(_equal)`, `_lesser(_equal)`, `_logical_and/or/xor` | `lhs`, `rhs` of identical shape (MXNet never broadcasts these) |
//! | broadcasting binary | `broadcast_add/sub/mul/div/mod/power/maximum/minimum/hypot`, the six comparisons, `broadcast_logical_and/or/xor` | `lhs`, `rhs`, NumPy broadcasting, right-aligned: (2,3)+(3,) → (2,3), (2,1,4)+(3,1) → (2,3,4) |
//! | scalar | `_plus/_minus/_mul/_div/_power/_maximum/_minimum/_mod/_hypot_scalar`, the six comparison scalars, `_logical_and/or/xor_scalar`, reversed `_rminus/_rdiv/_rpower/_rmod_scalar` | `data`; attrs `scalar` (double, default 1) and `is_int` (default True) |
//! | unary math | `abs sign negative reciprocal square sqrt rsqrt cbrt rcbrt exp expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh degrees radians floor ceil round rint trunc fix erf erfinv gamma gammaln relu sigmoid softsign logical_not` | `data` |
//! | others | `hard_sigmoid`, `smooth_l1`, `clip`, `add_n`, `where`, `Cast`, `zeros_like`, `ones_like` | |
//! | identity | `Dropout` (inference), `BlockGrad`, `_copy` | `data`; [`Operator::is_view`] is true |
//!
//! Everything is computed in f32, as MXNet does for an f32 graph: a scalar attribute is rounded
//! to f32 before use (MXNet casts it to the tensor dtype). Comparison and logical operators
//! return 1.0 / 0.0 in the input dtype. NaN behaviour follows MXNet 1.9.1's CPU kernels; each
//! function below says what it does with NaN where that is not plain IEEE arithmetic.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, DType, View, ViewMut};

/// Most dimensions a broadcast operand may have (MXNet's own limit is lower).
const MAX_BROADCAST_DIMS: usize = 32;

// ------------------------------------------------------------------------------------------------
// Binary functions
// ------------------------------------------------------------------------------------------------

/// A binary scalar function shared by the same-shape, broadcasting and `*_scalar` operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    /// `isnan(a) ? a : (a > b ? a : b)`: NaN in either operand propagates.
    Maximum,
    /// `isnan(a) ? a : (a < b ? a : b)`: NaN in either operand propagates.
    Minimum,
    /// `powf(a, b)` (C semantics: `pow(1, NaN) = 1`, negative base with fractional exponent = NaN).
    Power,
    Hypot,
    /// Python-style modulo: the result takes the sign of the divisor; `x mod 0 = 0`
    /// (−7 mod 3 = 2, 7 mod −3 = −2). Computed in f64 like MXNet.
    Mod,
    Equal,
    NotEqual,
    Greater,
    GreaterEqual,
    Lesser,
    LesserEqual,
    /// Nonzero (including NaN) is true.
    LogicalAnd,
    LogicalOr,
    LogicalXor,
    /// Division of integer tensors (`int32`/`int64`/... dtypes, see [`crate::graph::dtype`]):
    /// C semantics, the quotient truncated toward zero (−7 / 2 = −3). MXNet 1.9.1 dies with
    /// SIGFPE on an integer division by zero; here `x / 0 = 0`, like its integer `mod`.
    /// Computed in f64, exact for every integer an f32 holds.
    IntDiv,
}

impl BinaryFn {
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        #[inline(always)]
        fn flag(c: bool) -> f32 {
            if c {
                1.0
            } else {
                0.0
            }
        }
        match self {
            BinaryFn::Add => a + b,
            BinaryFn::Sub => a - b,
            BinaryFn::Mul => a * b,
            BinaryFn::Div => a / b,
            BinaryFn::Maximum => {
                if a.is_nan() || a > b {
                    a
                } else {
                    b
                }
            }
            BinaryFn::Minimum => {
                if a.is_nan() || a < b {
                    a
                } else {
                    b
                }
            }
            BinaryFn::Power => a.powf(b),
            BinaryFn::Hypot => a.hypot(b),
            BinaryFn::Mod => python_mod(a, b),
            BinaryFn::Equal => flag(a == b),
            BinaryFn::NotEqual => flag(a != b),
            BinaryFn::Greater => flag(a > b),
            BinaryFn::GreaterEqual => flag(a >= b),
            BinaryFn::Lesser => flag(a < b),
            BinaryFn::LesserEqual => flag(a <= b),
            BinaryFn::LogicalAnd => flag(a != 0.0 && b != 0.0),
            BinaryFn::LogicalOr => flag(a != 0.0 || b != 0.0),
            BinaryFn::LogicalXor => flag((a != 0.0) != (b != 0.0)),
            BinaryFn::IntDiv => int_div(a, b),
        }
    }
}

/// Truncating integer division of integer-valued operands (see [`BinaryFn::IntDiv`]).
fn int_div(a: f32, b: f32) -> f32 {
    if b == 0.0 {
        return 0.0;
    }
    (a as f64 / b as f64).trunc() as f32
}

/// MXNet's `mshadow_op::mod` (Python semantics, `fmod` in double precision, 0 for a zero divisor).
fn python_mod(a: f32, b: f32) -> f32 {
    let (a, b) = (a as f64, b as f64);
    if b == 0.0 {
        return 0.0;
    }
    let r = if b < 0.0 {
        if a < 0.0 {
            -((-a) % (-b))
        } else {
            let m = a % (-b);
            m + if m != 0.0 { b } else { 0.0 }
        }
    } else if a < 0.0 {
        let m = (-a) % b;
        -m + if m != 0.0 { b } else { 0.0 }
    } else {
        a % b
    };
    r as f32
}

/// Runs `$body` with `$f` bound to a closure for `$op`, so that each binary function gets its own
/// monomorphised (vectorisable) loop instead of a `match` per element.
macro_rules! with_binary_fn {
    ($op:expr, |$f:ident| $body:expr) => {
        with_binary_fn!(@arms $op, $f, $body, Add, Sub, Mul, Div, Maximum, Minimum, Power, Hypot,
            Mod, Equal, NotEqual, Greater, GreaterEqual, Lesser, LesserEqual, LogicalAnd,
            LogicalOr, LogicalXor, IntDiv)
    };
    (@arms $op:expr, $f:ident, $body:expr, $($variant:ident),*) => {
        match $op {
            $(BinaryFn::$variant => {
                let $f = |a: f32, b: f32| BinaryFn::$variant.apply(a, b);
                $body
            })*
        }
    };
}

/// Same-shape binary operators: canonical name → function.
const ELEMWISE_BINARY: &[(&str, BinaryFn)] = &[
    ("elemwise_add", BinaryFn::Add),
    ("elemwise_sub", BinaryFn::Sub),
    ("elemwise_mul", BinaryFn::Mul),
    ("elemwise_div", BinaryFn::Div),
    ("_maximum", BinaryFn::Maximum),
    ("_minimum", BinaryFn::Minimum),
    ("_power", BinaryFn::Power),
    ("_hypot", BinaryFn::Hypot),
    ("_mod", BinaryFn::Mod),
    ("_equal", BinaryFn::Equal),
    ("_not_equal", BinaryFn::NotEqual),
    ("_greater", BinaryFn::Greater),
    ("_greater_equal", BinaryFn::GreaterEqual),
    ("_lesser", BinaryFn::Lesser),
    ("_lesser_equal", BinaryFn::LesserEqual),
    ("_logical_and", BinaryFn::LogicalAnd),
    ("_logical_or", BinaryFn::LogicalOr),
    ("_logical_xor", BinaryFn::LogicalXor),
];

/// Broadcasting binary operators.
const BROADCAST_BINARY: &[(&str, BinaryFn)] = &[
    ("broadcast_add", BinaryFn::Add),
    ("broadcast_sub", BinaryFn::Sub),
    ("broadcast_mul", BinaryFn::Mul),
    ("broadcast_div", BinaryFn::Div),
    ("broadcast_mod", BinaryFn::Mod),
    ("broadcast_power", BinaryFn::Power),
    ("broadcast_maximum", BinaryFn::Maximum),
    ("broadcast_minimum", BinaryFn::Minimum),
    ("broadcast_hypot", BinaryFn::Hypot),
    ("broadcast_equal", BinaryFn::Equal),
    ("broadcast_not_equal", BinaryFn::NotEqual),
    ("broadcast_greater", BinaryFn::Greater),
    ("broadcast_greater_equal", BinaryFn::GreaterEqual),
    ("broadcast_lesser", BinaryFn::Lesser),
    ("broadcast_lesser_equal", BinaryFn::LesserEqual),
    ("broadcast_logical_and", BinaryFn::LogicalAnd),
    ("broadcast_logical_or", BinaryFn::LogicalOr),
    ("broadcast_logical_xor", BinaryFn::LogicalXor),
];

/// Tensor-with-scalar operators: name → (function, reversed). Reversed ops compute
/// `f(scalar, x)`: `_rminus_scalar` is `s − x`, `_rdiv_scalar` is `s / x`, `_rpower_scalar` is
/// `s ^ x`, `_rmod_scalar` is `s mod x`. (`-x` is written as `_mul_scalar(-1.0)`, §5.12.)
const SCALAR_BINARY: &[(&str, BinaryFn, bool)] = &[
    ("_plus_scalar", BinaryFn::Add, false),
    ("_minus_scalar", BinaryFn::Sub, false),
    ("_rminus_scalar", BinaryFn::Sub, true),
    ("_mul_scalar", BinaryFn::Mul, false),
    ("_div_scalar", BinaryFn::Div, false),
    ("_rdiv_scalar", BinaryFn::Div, true),
    ("_power_scalar", BinaryFn::Power, false),
    ("_rpower_scalar", BinaryFn::Power, true),
    ("_maximum_scalar", BinaryFn::Maximum, false),
    ("_minimum_scalar", BinaryFn::Minimum, false),
    ("_mod_scalar", BinaryFn::Mod, false),
    ("_rmod_scalar", BinaryFn::Mod, true),
    ("_hypot_scalar", BinaryFn::Hypot, false),
    ("_equal_scalar", BinaryFn::Equal, false),
    ("_not_equal_scalar", BinaryFn::NotEqual, false),
    ("_greater_scalar", BinaryFn::Greater, false),
    ("_greater_equal_scalar", BinaryFn::GreaterEqual, false),
    ("_lesser_scalar", BinaryFn::Lesser, false),
    ("_lesser_equal_scalar", BinaryFn::LesserEqual, false),
    ("_logical_and_scalar", BinaryFn::LogicalAnd, false),
    ("_logical_or_scalar", BinaryFn::LogicalOr, false),
    ("_logical_xor_scalar", BinaryFn::LogicalXor, false),
];

// ------------------------------------------------------------------------------------------------
// Unary functions
// ------------------------------------------------------------------------------------------------

/// A unary math function (all of MXNet 1.9.1's attribute-free unary operators that are not
/// identities). `log_sigmoid` and `mish` do not exist in 1.9.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryFn {
    Abs,
    /// 1, −1, or 0 for zero **and NaN**.
    Sign,
    Negative,
    Reciprocal,
    Square,
    Sqrt,
    Rsqrt,
    Cbrt,
    Rcbrt,
    Exp,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    /// `180/π · x`, computed in double.
    Degrees,
    /// `π/180 · x`, computed in double.
    Radians,
    Floor,
    Ceil,
    /// Halves away from zero (`roundf`): round(−2.5) = −3, round(0.5) = 1.
    Round,
    /// Halves **down** (toward −∞): rint(2.5) = 2, rint(−2.5) = −3, rint(0.5) = 0 (spec §5.19).
    Rint,
    Trunc,
    /// Same as trunc (round toward zero).
    Fix,
    Erf,
    /// Inverse error function: ±1 → ±∞, |x| > 1 → NaN.
    Erfinv,
    /// Γ(x): poles at 0 (±∞ by the sign of zero) and NaN at negative integers.
    Gamma,
    /// ln|Γ(x)|: +∞ at 0 and negative integers.
    Gammaln,
    /// max(x, 0); NaN stays NaN.
    Relu,
    Sigmoid,
    /// x / (1 + |x|).
    Softsign,
    /// 1 where x == 0, else 0 (NaN → 0).
    LogicalNot,
}

impl UnaryFn {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryFn::Abs => x.abs(),
            UnaryFn::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            UnaryFn::Negative => -x,
            UnaryFn::Reciprocal => 1.0 / x,
            UnaryFn::Square => x * x,
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Rsqrt => 1.0 / x.sqrt(),
            UnaryFn::Cbrt => x.cbrt(),
            UnaryFn::Rcbrt => 1.0 / x.cbrt(),
            UnaryFn::Exp => x.exp(),
            UnaryFn::Expm1 => x.exp_m1(),
            UnaryFn::Log => x.ln(),
            UnaryFn::Log2 => x.log2(),
            UnaryFn::Log10 => x.log10(),
            UnaryFn::Log1p => x.ln_1p(),
            UnaryFn::Sin => x.sin(),
            UnaryFn::Cos => x.cos(),
            UnaryFn::Tan => x.tan(),
            UnaryFn::Arcsin => x.asin(),
            UnaryFn::Arccos => x.acos(),
            UnaryFn::Arctan => x.atan(),
            UnaryFn::Sinh => x.sinh(),
            UnaryFn::Cosh => x.cosh(),
            UnaryFn::Tanh => x.tanh(),
            // In double: the f32 formulas overflow for |x| near f32::MAX.
            UnaryFn::Arcsinh => (x as f64).asinh() as f32,
            UnaryFn::Arccosh => (x as f64).acosh() as f32,
            UnaryFn::Arctanh => (x as f64).atanh() as f32,
            UnaryFn::Degrees => ((180.0 / std::f64::consts::PI) * x as f64) as f32,
            UnaryFn::Radians => ((std::f64::consts::PI / 180.0) * x as f64) as f32,
            UnaryFn::Floor => x.floor(),
            UnaryFn::Ceil => x.ceil(),
            UnaryFn::Round => x.round(),
            UnaryFn::Rint => {
                // MXNet: `(a - floor) <= (ceil - a) ? floor : ceil`.
                let (lo, hi) = (x.floor(), x.ceil());
                if x - lo <= hi - x {
                    lo
                } else {
                    hi
                }
            }
            UnaryFn::Trunc | UnaryFn::Fix => x.trunc(),
            UnaryFn::Erf => erf(x),
            UnaryFn::Erfinv => special::erfinv(x as f64) as f32,
            UnaryFn::Gamma => special::gamma(x as f64) as f32,
            UnaryFn::Gammaln => special::lgamma(x as f64) as f32,
            UnaryFn::Relu => {
                if x.is_nan() || x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            UnaryFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryFn::Softsign => x / (1.0 + x.abs()),
            UnaryFn::LogicalNot => {
                if x == 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The error function, evaluated in double precision and rounded (used by `erf` and GELU).
pub fn erf(x: f32) -> f32 {
    special::erf(x as f64) as f32
}

const UNARY: &[(&str, UnaryFn)] = &[
    ("abs", UnaryFn::Abs),
    ("sign", UnaryFn::Sign),
    ("negative", UnaryFn::Negative),
    ("reciprocal", UnaryFn::Reciprocal),
    ("square", UnaryFn::Square),
    ("sqrt", UnaryFn::Sqrt),
    ("rsqrt", UnaryFn::Rsqrt),
    ("cbrt", UnaryFn::Cbrt),
    ("rcbrt", UnaryFn::Rcbrt),
    ("exp", UnaryFn::Exp),
    ("expm1", UnaryFn::Expm1),
    ("log", UnaryFn::Log),
    ("log2", UnaryFn::Log2),
    ("log10", UnaryFn::Log10),
    ("log1p", UnaryFn::Log1p),
    ("sin", UnaryFn::Sin),
    ("cos", UnaryFn::Cos),
    ("tan", UnaryFn::Tan),
    ("arcsin", UnaryFn::Arcsin),
    ("arccos", UnaryFn::Arccos),
    ("arctan", UnaryFn::Arctan),
    ("sinh", UnaryFn::Sinh),
    ("cosh", UnaryFn::Cosh),
    ("tanh", UnaryFn::Tanh),
    ("arcsinh", UnaryFn::Arcsinh),
    ("arccosh", UnaryFn::Arccosh),
    ("arctanh", UnaryFn::Arctanh),
    ("degrees", UnaryFn::Degrees),
    ("radians", UnaryFn::Radians),
    ("floor", UnaryFn::Floor),
    ("ceil", UnaryFn::Ceil),
    ("round", UnaryFn::Round),
    ("rint", UnaryFn::Rint),
    ("trunc", UnaryFn::Trunc),
    ("fix", UnaryFn::Fix),
    ("erf", UnaryFn::Erf),
    ("erfinv", UnaryFn::Erfinv),
    ("gamma", UnaryFn::Gamma),
    ("gammaln", UnaryFn::Gammaln),
    ("relu", UnaryFn::Relu),
    ("sigmoid", UnaryFn::Sigmoid),
    ("softsign", UnaryFn::Softsign),
    ("logical_not", UnaryFn::LogicalNot),
];

/// Applies a unary function to every element (one monomorphised loop per function).
fn map_unary(op: UnaryFn, input: &[f32], out: &mut [f32]) {
    macro_rules! run {
        ($($v:ident),*) => {
            match op {
                $(UnaryFn::$v => {
                    for (o, &x) in out.iter_mut().zip(input) {
                        *o = UnaryFn::$v.apply(x);
                    }
                })*
            }
        };
    }
    run!(
        Abs, Sign, Negative, Reciprocal, Square, Sqrt, Rsqrt, Cbrt, Rcbrt, Exp, Expm1, Log, Log2,
        Log10, Log1p, Sin, Cos, Tan, Arcsin, Arccos, Arctan, Sinh, Cosh, Tanh, Arcsinh, Arccosh,
        Arctanh, Degrees, Radians, Floor, Ceil, Round, Rint, Trunc, Fix, Erf, Erfinv, Gamma,
        Gammaln, Relu, Sigmoid, Softsign, LogicalNot
    );
}

// ------------------------------------------------------------------------------------------------
// Cast
// ------------------------------------------------------------------------------------------------

/// What MXNet's `Cast` does to an f32 value, expressed back in f32 (our runtime keeps every
/// tensor in f32, spec §5.18). Float → integer truncates toward zero with x86 semantics
/// (NaN and out-of-range values become the most negative integer), narrower integers then wrap:
/// uint8 −2.7 → 254, 300.7 → 44, 1e10 → 0; int8 128.5 → −128. bool is `x != 0` (NaN → 1).
/// float16 rounds to nearest-even (65520 → inf); bfloat16 **truncates** the low 16 bits
/// (0.1 → 0.099609375), as MXNet 1.9.1's CPU cast does.
pub fn cast_value(x: f32, to: DType) -> f32 {
    match to {
        DType::F32 | DType::F64 => x,
        DType::F16 => half::f16::from_f32(x).to_f32(),
        DType::BF16 => f32::from_bits(x.to_bits() & 0xFFFF_0000),
        DType::Bool => {
            if x != 0.0 {
                1.0
            } else {
                0.0
            }
        }
        DType::I32 => x86_to_i32(x) as f32,
        DType::I64 => x86_to_i64(x) as f32,
        DType::U8 => x86_to_i32(x) as u8 as f32,
        DType::I8 => x86_to_i32(x) as i8 as f32,
        DType::I16 => x86_to_i32(x) as i16 as f32,
        DType::U16 => x86_to_i32(x) as u16 as f32,
        DType::U32 => x86_to_i64(x) as u32 as f32,
        DType::U64 => x86_to_i64(x) as u64 as f32,
    }
}

/// `cvttss2si` (32-bit): truncation, with NaN and out-of-range inputs giving `i32::MIN`.
fn x86_to_i32(x: f32) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        x as i32
    } else {
        i32::MIN
    }
}

/// `cvttss2si` (64-bit): truncation, with NaN and out-of-range inputs giving `i64::MIN`.
fn x86_to_i64(x: f32) -> i64 {
    if (-9.223_372e18..9.223_372e18).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// The dtypes `Cast` accepts in MXNet 1.9.1.
const CAST_DTYPES: &[&str] = &[
    "bfloat16", "bool", "float16", "float32", "float64", "int32", "int64", "int8", "uint8",
];

/// The `dtype` attribute of `Cast`, `zeros_like` and `ones_like`.
fn cast_dtype(raw: &str) -> Result<DType> {
    DType::from_name(raw)
        .filter(|_| CAST_DTYPES.contains(&raw))
        .ok_or_else(|| {
            Error::attr(
                "dtype",
                raw,
                format!("expected one of {}", CAST_DTYPES.join(", ")),
            )
        })
}

// ------------------------------------------------------------------------------------------------
// The operator
// ------------------------------------------------------------------------------------------------

/// An elementwise operator with its parsed attributes.
#[derive(Debug, Clone)]
pub enum ElementwiseOp {
    /// Same-shape binary op (`lhs`, `rhs`). Differing shapes are an error, as in MXNet.
    Binary { name: &'static str, op: BinaryFn },
    /// NumPy-broadcasting binary op (`lhs`, `rhs`).
    Broadcast { name: &'static str, op: BinaryFn },
    /// `f(x, scalar)`, or `f(scalar, x)` when `reversed`. `scalar` is the `scalar` attribute
    /// (default 1.0) rounded to f32. `is_int` (default True) only matters for integer tensors
    /// in MXNet (the scalar is cast to the tensor's integer type, spec §5.19); in an all-f32
    /// runtime it has no effect but is read and accepted.
    Scalar {
        name: &'static str,
        op: BinaryFn,
        scalar: f32,
        reversed: bool,
    },
    /// Attribute-free unary math.
    Unary { name: &'static str, op: UnaryFn },
    /// `smooth_l1` with σ = `scalar` (default 1): `0.5·(σx)²` where |x| < 1/σ², else
    /// `|x| − 0.5/σ²` (σ = 0 gives 0).
    SmoothL1 { sigma: f32 },
    /// `hard_sigmoid`: `clip(alpha·x + beta, 0, 1)`, defaults alpha 0.2, beta 0.5.
    HardSigmoid { alpha: f32, beta: f32 },
    /// `clip`: `x > a_max ? a_max : (x < a_min ? a_min : x)`; both bounds required; NaN passes
    /// through.
    Clip { a_min: f32, a_max: f32 },
    /// `add_n` (alias `ElementWiseSum`): sum of `num_args` (required) same-shape inputs
    /// `arg0, arg1, …`, added left to right.
    AddN { num_args: usize },
    /// `where(condition, x, y)`: `condition != 0 ? x : y` (NaN counts as true). `condition` has
    /// x's shape, or is 1-D of length `x.shape[0]` and then selects whole rows.
    Where,
    /// `Cast(dtype)`: values stay f32 but are converted as MXNet would ([`cast_value`]).
    Cast { dtype: DType },
    /// `zeros_like` / `ones_like`: a tensor of the input's shape filled with `value`. `dtype`
    /// (GluonCV writes `zeros_like(x, dtype='int64')`) is the output's dtype, the input's when
    /// absent; 0 and 1 are the same value in every dtype.
    Fill {
        name: &'static str,
        value: f32,
        dtype: Option<DType>,
    },
    /// Identity at inference: `Dropout` (attrs `p=0.5`, `mode='training'`, `axes=()`,
    /// `cudnn_off`; `mode='always'` with p > 0 is rejected because MXNet then drops randomly
    /// even at inference, spec §5.5), `BlockGrad` (alias `stop_gradient`), `_copy` (alias
    /// `identity`).
    Identity { name: &'static str },
}

impl ElementwiseOp {
    fn parse_scalar(attrs: &Attrs) -> Result<f32> {
        let scalar = attrs.float_or("scalar", 1.0)?;
        // Read so that it is accepted; see the `Scalar` variant for why it has no effect.
        let _is_int = attrs.bool_or("is_int", true)?;
        Ok(scalar as f32)
    }
}

impl Operator for ElementwiseOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        if let Some(&(name, f)) = ELEMWISE_BINARY.iter().find(|(n, _)| *n == op) {
            return Ok(Some(ElementwiseOp::Binary { name, op: f }));
        }
        if let Some(&(name, f)) = BROADCAST_BINARY.iter().find(|(n, _)| *n == op) {
            return Ok(Some(ElementwiseOp::Broadcast { name, op: f }));
        }
        if let Some(&(name, f, reversed)) = SCALAR_BINARY.iter().find(|(n, _, _)| *n == op) {
            let scalar = Self::parse_scalar(attrs)?;
            return Ok(Some(ElementwiseOp::Scalar {
                name,
                op: f,
                scalar,
                reversed,
            }));
        }
        if let Some(&(name, f)) = UNARY.iter().find(|(n, _)| *n == op) {
            return Ok(Some(ElementwiseOp::Unary { name, op: f }));
        }
        let parsed = match op {
            "smooth_l1" => ElementwiseOp::SmoothL1 {
                sigma: attrs.float_or("scalar", 1.0)? as f32,
            },
            "hard_sigmoid" => ElementwiseOp::HardSigmoid {
                alpha: attrs.float_or("alpha", 0.2)? as f32,
                beta: attrs.float_or("beta", 0.5)? as f32,
            },
            "clip" => {
                let required = |key: &str| -> Result<f32> {
                    attrs
                        .float(key)?
                        .map(|v| v as f32)
                        .ok_or_else(|| Error::attr(key, "", "required attribute is missing"))
                };
                ElementwiseOp::Clip {
                    a_min: required("a_min")?,
                    a_max: required("a_max")?,
                }
            }
            "add_n" => ElementwiseOp::AddN {
                num_args: crate::ops::arity(attrs.int_req("num_args")?, "num_args", 1)?,
            },
            "where" => ElementwiseOp::Where,
            "Cast" => {
                let raw = attrs
                    .str("dtype")
                    .ok_or_else(|| Error::attr("dtype", "", "required attribute is missing"))?;
                ElementwiseOp::Cast {
                    dtype: cast_dtype(raw)?,
                }
            }
            "zeros_like" | "ones_like" => {
                // GluonCV writes `zeros_like(x, dtype='int64')`: 0 and 1 are the same in every
                // dtype; the dtype only matters to the dtype inference of later nodes.
                let dtype = attrs.str("dtype").map(cast_dtype).transpose()?;
                if op == "zeros_like" {
                    ElementwiseOp::Fill {
                        name: "zeros_like",
                        value: 0.0,
                        dtype,
                    }
                } else {
                    ElementwiseOp::Fill {
                        name: "ones_like",
                        value: 1.0,
                        dtype,
                    }
                }
            }
            "Dropout" => {
                let p = attrs.float_or("p", 0.5)?;
                let mode = attrs.choice("mode", &["training", "always"], "training")?;
                let _axes = attrs.ints("axes")?;
                let _cudnn_off = attrs.raw("cudnn_off");
                if mode == "always" && p > 0.0 {
                    return Err(Error::Unsupported(format!(
                        "Dropout with mode='always' (p={p}) drops elements at random even at \
                         inference in MXNet; this runtime is deterministic and does not support it"
                    )));
                }
                ElementwiseOp::Identity { name: "Dropout" }
            }
            "BlockGrad" => ElementwiseOp::Identity { name: "BlockGrad" },
            "_copy" => ElementwiseOp::Identity { name: "_copy" },
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            ElementwiseOp::Binary { name, .. }
            | ElementwiseOp::Broadcast { name, .. }
            | ElementwiseOp::Scalar { name, .. }
            | ElementwiseOp::Unary { name, .. }
            | ElementwiseOp::Fill { name, .. }
            | ElementwiseOp::Identity { name } => name,
            ElementwiseOp::SmoothL1 { .. } => "smooth_l1",
            ElementwiseOp::HardSigmoid { .. } => "hard_sigmoid",
            ElementwiseOp::Clip { .. } => "clip",
            ElementwiseOp::AddN { .. } => "add_n",
            ElementwiseOp::Where => "where",
            ElementwiseOp::Cast { .. } => "Cast",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let data = |names: &[&str]| {
            names
                .iter()
                .map(|n| (n.to_string(), InputRole::Data))
                .collect()
        };
        match self {
            ElementwiseOp::Binary { .. } | ElementwiseOp::Broadcast { .. } => data(&["lhs", "rhs"]),
            ElementwiseOp::AddN { num_args } => (0..*num_args)
                .map(|i| (format!("arg{i}"), InputRole::Data))
                .collect(),
            ElementwiseOp::Where => data(&["condition", "x", "y"]),
            _ => data(&["data"]),
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let slots = self.inputs();
        if inputs.len() != slots.len() {
            return Err(Error::shape(format!(
                "{} expects {} inputs, got {}",
                self.name(),
                slots.len(),
                inputs.len()
            )));
        }
        let shape = |i: usize| -> Result<&[usize]> {
            inputs[i].as_deref().ok_or_else(|| {
                Error::shape(format!("the shape of input '{}' is unknown", slots[i].0))
            })
        };
        match self {
            ElementwiseOp::Binary { .. } => {
                let (a, b) = (shape(0)?, shape(1)?);
                if a != b {
                    return Err(Error::shape(format!(
                        "{} needs inputs of the same shape, got {} and {} (use broadcast_* to broadcast)",
                        self.name(),
                        fmt_shape(a),
                        fmt_shape(b)
                    )));
                }
                Ok(vec![a.to_vec()])
            }
            ElementwiseOp::Broadcast { .. } => Ok(vec![broadcast_shape(shape(0)?, shape(1)?)?]),
            ElementwiseOp::AddN { .. } => {
                let first = shape(0)?;
                for i in 1..inputs.len() {
                    let s = shape(i)?;
                    if s != first {
                        return Err(Error::shape(format!(
                            "add_n needs inputs of the same shape, got {} (arg0) and {} (arg{i})",
                            fmt_shape(first),
                            fmt_shape(s)
                        )));
                    }
                }
                Ok(vec![first.to_vec()])
            }
            ElementwiseOp::Where => {
                let (cond, x, y) = (shape(0)?, shape(1)?, shape(2)?);
                if x != y {
                    return Err(Error::shape(format!(
                        "where needs x and y of the same shape, got {} and {}",
                        fmt_shape(x),
                        fmt_shape(y)
                    )));
                }
                let rows_ok = cond.len() == 1 && x.first() == Some(&cond[0]);
                if cond != x && !rows_ok {
                    return Err(Error::shape(format!(
                        "where needs a condition of shape {} or ({},), got {}",
                        fmt_shape(x),
                        x.first().copied().unwrap_or(0),
                        fmt_shape(cond)
                    )));
                }
                Ok(vec![x.to_vec()])
            }
            _ => Ok(vec![shape(0)?.to_vec()]),
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Backend(format!("{}: no output buffer", self.name())))?;
        let input = |i: usize| -> Result<&View> {
            inputs
                .get(i)
                .ok_or_else(|| Error::Backend(format!("{}: missing input {i}", self.name())))
        };
        let x = input(0)?;
        // Every kernel below writes exactly `out.data.len()` elements; check the sizes so that
        // a planner bug surfaces as an error rather than a silently short write.
        let (out_shape, out_len): (&[usize], usize) = (out.shape, out.data.len());
        let expect_len = |v: &View, what: &str| -> Result<()> {
            if v.data.len() != out_len {
                return Err(Error::shape(format!(
                    "{}: {what} has {} elements but the output {} needs {}",
                    self.name(),
                    v.data.len(),
                    fmt_shape(out_shape),
                    out_len
                )));
            }
            Ok(())
        };
        match self {
            ElementwiseOp::Binary { op, .. } => {
                let y = input(1)?;
                expect_len(x, "lhs")?;
                expect_len(y, "rhs")?;
                with_binary_fn!(*op, |f| {
                    for ((o, &a), &b) in out.data.iter_mut().zip(x.data).zip(y.data) {
                        *o = f(a, b);
                    }
                });
            }
            ElementwiseOp::Broadcast { op, .. } => {
                let y = input(1)?;
                with_binary_fn!(*op, |f| broadcast_binary(x, y, out, f))?;
            }
            ElementwiseOp::Scalar {
                op,
                scalar,
                reversed,
                ..
            } => {
                expect_len(x, "data")?;
                let s = *scalar;
                if *reversed {
                    with_binary_fn!(*op, |f| {
                        for (o, &a) in out.data.iter_mut().zip(x.data) {
                            *o = f(s, a);
                        }
                    });
                } else {
                    with_binary_fn!(*op, |f| {
                        for (o, &a) in out.data.iter_mut().zip(x.data) {
                            *o = f(a, s);
                        }
                    });
                }
            }
            ElementwiseOp::Unary { op, .. } => {
                expect_len(x, "data")?;
                map_unary(*op, x.data, out.data);
            }
            ElementwiseOp::SmoothL1 { sigma } => {
                expect_len(x, "data")?;
                // MXNet's `smooth_l1_loss`, in f32.
                let sigma_sq = sigma * sigma;
                let inv_sigma_sq = 1.0 / sigma_sq;
                for (o, &v) in out.data.iter_mut().zip(x.data) {
                    *o = if v > inv_sigma_sq {
                        v - 0.5 * inv_sigma_sq
                    } else if v < -inv_sigma_sq {
                        -v - 0.5 * inv_sigma_sq
                    } else {
                        0.5 * v * v * sigma_sq
                    };
                }
            }
            ElementwiseOp::HardSigmoid { alpha, beta } => {
                expect_len(x, "data")?;
                for (o, &v) in out.data.iter_mut().zip(x.data) {
                    // MXNet: `max(0, min(1, alpha * x + beta))`; NaN passes through.
                    *o = (alpha * v + beta).clamp(0.0, 1.0);
                }
            }
            ElementwiseOp::Clip { a_min, a_max } => {
                expect_len(x, "data")?;
                let (lo, hi) = (*a_min, *a_max);
                for (o, &v) in out.data.iter_mut().zip(x.data) {
                    *o = super::epilogue::clip(v, lo, hi);
                }
            }
            ElementwiseOp::AddN { num_args } => {
                if inputs.len() != *num_args {
                    return Err(Error::Backend(format!(
                        "add_n: expected {num_args} inputs, got {}",
                        inputs.len()
                    )));
                }
                expect_len(x, "arg0")?;
                out.data.copy_from_slice(x.data);
                for term in &inputs[1..] {
                    expect_len(term, "an input")?;
                    for (o, &v) in out.data.iter_mut().zip(term.data) {
                        *o += v;
                    }
                }
            }
            ElementwiseOp::Where => {
                let (then, otherwise) = (input(1)?, input(2)?);
                expect_len(then, "x")?;
                expect_len(otherwise, "y")?;
                let cond = x;
                if cond.data.len() == out.data.len() && cond.shape == then.shape {
                    for (((o, &c), &a), &b) in out
                        .data
                        .iter_mut()
                        .zip(cond.data)
                        .zip(then.data)
                        .zip(otherwise.data)
                    {
                        *o = if c != 0.0 { a } else { b };
                    }
                } else {
                    // 1-D condition: one flag per row of x.
                    let rows = cond.data.len();
                    if rows == 0 || out.data.len() % rows != 0 || then.shape.first() != Some(&rows)
                    {
                        return Err(Error::shape(format!(
                            "where: condition {} does not match x {}",
                            fmt_shape(cond.shape),
                            fmt_shape(then.shape)
                        )));
                    }
                    let row_len = out.data.len() / rows;
                    let rows_iter = out
                        .data
                        .chunks_exact_mut(row_len)
                        .zip(then.data.chunks_exact(row_len))
                        .zip(otherwise.data.chunks_exact(row_len))
                        .zip(cond.data);
                    for (((o, a), b), &c) in rows_iter {
                        o.copy_from_slice(if c != 0.0 { a } else { b });
                    }
                }
            }
            ElementwiseOp::Cast { dtype } => {
                expect_len(x, "data")?;
                let to = *dtype;
                if matches!(to, DType::F32 | DType::F64) {
                    out.data.copy_from_slice(x.data);
                } else {
                    for (o, &v) in out.data.iter_mut().zip(x.data) {
                        *o = cast_value(v, to);
                    }
                }
            }
            ElementwiseOp::Fill { value, .. } => out.data.fill(*value),
            ElementwiseOp::Identity { .. } => {
                expect_len(x, "data")?;
                // The planner normally aliases the buffers (is_view); copy when it did not.
                if out.data.as_ptr() != x.data.as_ptr() {
                    out.data.copy_from_slice(x.data);
                }
            }
        }
        Ok(())
    }

    fn is_view(&self) -> bool {
        matches!(
            self,
            ElementwiseOp::Identity { .. }
                | ElementwiseOp::Cast {
                    dtype: DType::F32 | DType::F64
                }
        )
    }
}

// ------------------------------------------------------------------------------------------------
// Broadcasting
// ------------------------------------------------------------------------------------------------

/// The broadcast extent of the dim `from_right` places from the end (0 = last) of two shapes,
/// or `None` when the sizes differ and neither is 1. A missing dim acts as 1.
fn broadcast_dim(a: &[usize], b: &[usize], from_right: usize) -> Option<usize> {
    let da = if from_right < a.len() {
        a[a.len() - 1 - from_right]
    } else {
        1
    };
    let db = if from_right < b.len() {
        b[b.len() - 1 - from_right]
    } else {
        1
    };
    if da == db || db == 1 {
        Some(da)
    } else if da == 1 {
        Some(db)
    } else {
        None
    }
}

/// NumPy broadcasting of two shapes, right-aligned: each pair of dims must be equal or one of
/// them 1 (MXNet: `operands could not be broadcast together with shapes [2,3] [2]`).
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let nd = a.len().max(b.len());
    if nd > MAX_BROADCAST_DIMS {
        return Err(Error::shape(format!(
            "broadcasting supports at most {MAX_BROADCAST_DIMS} dimensions"
        )));
    }
    (0..nd)
        .rev()
        .map(|from_right| {
            broadcast_dim(a, b, from_right).ok_or_else(|| {
                Error::shape(format!(
                    "operands could not be broadcast together with shapes {} and {}",
                    fmt_shape(a),
                    fmt_shape(b)
                ))
            })
        })
        .collect()
}

/// The loop nest of a broadcast binary op after merging dims: merged dim 0 is the inner run
/// (stride 1 or 0 for each operand), dims 1..m are walked by an odometer. Not generic, so the
/// shape checks and the merging exist once in the binary rather than once per op (19 ops).
struct BroadcastLoops {
    /// Merged dims, innermost first.
    m: usize,
    md: [usize; MAX_BROADCAST_DIMS],
    ma: [usize; MAX_BROADCAST_DIMS],
    mb: [usize; MAX_BROADCAST_DIMS],
}

impl BroadcastLoops {
    /// Checks the shapes and merges dims (dropping size-1 ones) from the innermost outwards
    /// where both operands are contiguous (or both broadcast).
    fn new(a: &View, b: &View, out: &ViewMut) -> Result<BroadcastLoops> {
        let nd = a.shape.len().max(b.shape.len());
        let out_shape: &[usize] = out.shape;
        let fits = nd <= MAX_BROADCAST_DIMS
            && out_shape.len() == nd
            && (0..nd).all(|r| broadcast_dim(a.shape, b.shape, r) == Some(out_shape[nd - 1 - r]))
            && numel(out_shape) == out.data.len();
        if !fits {
            return Err(Error::shape(format!(
                "broadcast of {} and {} does not give the output shape {}",
                fmt_shape(a.shape),
                fmt_shape(b.shape),
                fmt_shape(out_shape)
            )));
        }
        if a.data.len() != numel(a.shape) || b.data.len() != numel(b.shape) {
            return Err(Error::shape(
                "broadcast: input data does not match its shape",
            ));
        }
        // Right-aligned strides of each operand over the output dims, 0 where it broadcasts.
        let mut dims = [1usize; MAX_BROADCAST_DIMS];
        let mut sa = [0usize; MAX_BROADCAST_DIMS];
        let mut sb = [0usize; MAX_BROADCAST_DIMS];
        let (mut stride_a, mut stride_b) = (1usize, 1usize);
        for i in (0..nd).rev() {
            let d = out_shape[i];
            let off = nd - 1 - i;
            let da = if off < a.shape.len() {
                a.shape[a.shape.len() - 1 - off]
            } else {
                1
            };
            let db = if off < b.shape.len() {
                b.shape[b.shape.len() - 1 - off]
            } else {
                1
            };
            dims[i] = d;
            sa[i] = if da == 1 { 0 } else { stride_a };
            sb[i] = if db == 1 { 0 } else { stride_b };
            stride_a *= da;
            stride_b *= db;
        }
        let mut l = BroadcastLoops {
            m: 0,
            md: [1usize; MAX_BROADCAST_DIMS],
            ma: [0usize; MAX_BROADCAST_DIMS],
            mb: [0usize; MAX_BROADCAST_DIMS],
        };
        for i in (0..nd).rev() {
            if dims[i] == 1 {
                continue;
            }
            let m = l.m;
            if m > 0 && sa[i] == l.ma[m - 1] * l.md[m - 1] && sb[i] == l.mb[m - 1] * l.md[m - 1] {
                l.md[m - 1] *= dims[i];
            } else {
                l.md[m] = dims[i];
                l.ma[m] = sa[i];
                l.mb[m] = sb[i];
                l.m += 1;
            }
        }
        Ok(l)
    }

    /// Advances the odometer over dims 1..m (dim 1 fastest) and the operands' offsets.
    #[inline]
    fn advance(&self, idx: &mut [usize; MAX_BROADCAST_DIMS], off_a: &mut usize, off_b: &mut usize) {
        let m = self.m;
        let dims = self.md[1..m].iter().zip(&self.ma[1..m]).zip(&self.mb[1..m]);
        for (i, ((&d, &sa), &sb)) in idx[1..m].iter_mut().zip(dims) {
            *i += 1;
            *off_a += sa;
            *off_b += sb;
            if *i < d {
                break;
            }
            *off_a -= sa * d;
            *off_b -= sb * d;
            *i = 0;
        }
    }
}

/// `out = f(a, b)` with NumPy broadcasting. Dims are first merged where both operands are
/// contiguous (or both broadcast) so that the inner loop runs over the longest possible
/// contiguous run: a per-channel bias on NCHW becomes `[N, C, H·W]` with `b` constant along the
/// inner run.
fn broadcast_binary<F: Fn(f32, f32) -> f32>(
    a: &View,
    b: &View,
    out: &mut ViewMut,
    f: F,
) -> Result<()> {
    let loops = BroadcastLoops::new(a, b, out)?;
    if out.data.is_empty() {
        return Ok(());
    }
    if loops.m == 0 {
        // Every dim is 1: a single element.
        out.data[0] = f(a.data[0], b.data[0]);
        return Ok(());
    }
    // Inner run: merged dim 0, with stride 1 (contiguous) or 0 (broadcast) for each operand.
    let n = loops.md[0];
    let (inner_a, inner_b) = (loops.ma[0], loops.mb[0]);
    let mut idx = [0usize; MAX_BROADCAST_DIMS];
    let (mut off_a, mut off_b) = (0usize, 0usize);
    for row in out.data.chunks_exact_mut(n) {
        match (inner_a, inner_b) {
            (1, 1) => {
                for ((o, &x), &y) in row
                    .iter_mut()
                    .zip(&a.data[off_a..off_a + n])
                    .zip(&b.data[off_b..off_b + n])
                {
                    *o = f(x, y);
                }
            }
            (1, _) => {
                let y = b.data[off_b];
                for (o, &x) in row.iter_mut().zip(&a.data[off_a..off_a + n]) {
                    *o = f(x, y);
                }
            }
            _ => {
                let x = a.data[off_a];
                for (o, &y) in row.iter_mut().zip(&b.data[off_b..off_b + n]) {
                    *o = f(x, y);
                }
            }
        }
        loops.advance(&mut idx, &mut off_a, &mut off_b);
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Special functions (double precision; results are rounded to f32 by the callers)
// ------------------------------------------------------------------------------------------------

// The coefficients are quoted with the digits of their sources.
#[allow(clippy::excessive_precision)]
mod special {
    use std::f64::consts::PI;

    /// erf(x). The rational approximations are those of FreeBSD's `s_erf.c` (via musl and
    /// Rust's `libm`), accurate to < 1 ulp in double:
    ///
    /// ====================================================
    /// Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
    ///
    /// Developed at SunPro, a Sun Microsystems, Inc. business.
    /// Permission to use, copy, modify, and distribute this
    /// software is freely granted, provided that this notice
    /// is preserved.
    /// ====================================================
    pub fn erf(x: f64) -> f64 {
        const ERX: f64 = 8.45062911510467529297e-01;
        const EFX8: f64 = 1.02703333676410069053e+00;
        const PP: [f64; 5] = [
            1.28379167095512558561e-01,
            -3.25042107247001499370e-01,
            -2.84817495755985104766e-02,
            -5.77027029648944159157e-03,
            -2.37630166566501626084e-05,
        ];
        const QQ: [f64; 5] = [
            3.97917223959155352819e-01,
            6.50222499887672944485e-02,
            5.08130628187576562776e-03,
            1.32494738004321644526e-04,
            -3.96022827877536812320e-06,
        ];
        const PA: [f64; 7] = [
            -2.36211856075265944077e-03,
            4.14856118683748331666e-01,
            -3.72207876035701323847e-01,
            3.18346619901161753674e-01,
            -1.10894694282396677476e-01,
            3.54783043256182359371e-02,
            -2.16637559486879084300e-03,
        ];
        const QA: [f64; 6] = [
            1.06420880400844228286e-01,
            5.40397917702171048937e-01,
            7.18286544141962662868e-02,
            1.26171219808761642112e-01,
            1.36370839120290507362e-02,
            1.19844998467991074170e-02,
        ];
        const RA: [f64; 8] = [
            -9.86494403484714822705e-03,
            -6.93858572707181764372e-01,
            -1.05586262253232909814e+01,
            -6.23753324503260060396e+01,
            -1.62396669462573470355e+02,
            -1.84605092906711035994e+02,
            -8.12874355063065934246e+01,
            -9.81432934416914548592e+00,
        ];
        const SA: [f64; 8] = [
            1.96512716674392571292e+01,
            1.37657754143519042600e+02,
            4.34565877475229228821e+02,
            6.45387271733267880336e+02,
            4.29008140027567833386e+02,
            1.08635005541779435134e+02,
            6.57024977031928170135e+00,
            -6.04244152148580987438e-02,
        ];
        const RB: [f64; 7] = [
            -9.86494292470009928597e-03,
            -7.99283237680523006574e-01,
            -1.77579549177547519889e+01,
            -1.60636384855821916062e+02,
            -6.37566443368389627722e+02,
            -1.02509513161107724954e+03,
            -4.83519191608651397019e+02,
        ];
        const SB: [f64; 7] = [
            3.03380607434824582924e+01,
            3.25792512996573918826e+02,
            1.53672958608443695994e+03,
            3.19985821950859553908e+03,
            2.55305040643316442583e+03,
            4.74528541206955367215e+02,
            -2.24409524465858183362e+01,
        ];
        /// c0 + c1·z + c2·z² + …
        fn poly(c: &[f64], z: f64) -> f64 {
            c.iter().rev().fold(0.0, |acc, &k| acc * z + k)
        }

        if x.is_nan() {
            return x;
        }
        let ax = x.abs();
        let y = if ax < 0.84375 {
            if ax < 3.725290298461914e-9 {
                // |x| < 2^-28: erf(x) ≈ 2/√π · x.
                return 0.125 * (8.0 * x + EFX8 * x);
            }
            let z = x * x;
            let r = poly(&PP, z);
            let s = 1.0 + z * poly(&QQ, z);
            return x + x * (r / s);
        } else if ax < 1.25 {
            let s = ax - 1.0;
            let p = poly(&PA, s);
            let q = 1.0 + s * poly(&QA, s);
            ERX + p / q
        } else if ax < 6.0 {
            let s = 1.0 / (ax * ax);
            let (r, big_s) = if ax < 1.0 / 0.35 {
                (poly(&RA, s), 1.0 + s * poly(&SA, s))
            } else {
                (poly(&RB, s), 1.0 + s * poly(&SB, s))
            };
            // erfc(|x|); −x² is exact in double for an f32 argument.
            let erfc = (-ax * ax - 0.5625 + r / big_s).exp() / ax;
            1.0 - erfc
        } else {
            1.0
        };
        if x < 0.0 {
            -y
        } else {
            y
        }
    }

    /// erf⁻¹(y): MXNet's method (a rational first guess, then two Newton steps on erf), which
    /// is accurate to double precision. ±1 → ±∞; |y| > 1 → NaN.
    pub fn erfinv(y: f64) -> f64 {
        const A: [f64; 4] = [0.886226899, -1.645349621, 0.914624893, -0.140543331];
        const B: [f64; 4] = [-2.118377725, 1.442710462, -0.329097515, 0.012229801];
        const C: [f64; 4] = [-1.970840454, -1.624906493, 3.429567803, 1.641345311];
        const D: [f64; 2] = [3.543889200, 1.637067800];
        let ay = y.abs();
        if y.is_nan() || ay > 1.0 {
            return f64::NAN;
        }
        if ay == 1.0 {
            return f64::INFINITY.copysign(y);
        }
        let mut x = if ay <= 0.7 {
            let z = y * y;
            let num = ((A[3] * z + A[2]) * z + A[1]) * z + A[0];
            let den = (((B[3] * z + B[2]) * z + B[1]) * z + B[0]) * z + 1.0;
            y * num / den
        } else {
            let z = (-((1.0 - ay) / 2.0).ln()).sqrt();
            let num = ((C[3] * z + C[2]) * z + C[1]) * z + C[0];
            let den = (D[1] * z + D[0]) * z + 1.0;
            (num / den).copysign(y)
        };
        let two_over_sqrt_pi = 2.0 / PI.sqrt();
        for _ in 0..2 {
            x -= (erf(x) - y) / (two_over_sqrt_pi * (-x * x).exp());
        }
        x
    }

    /// Lanczos approximation (g = 7, 9 terms): relative error ~1e-15 for x ≥ 0.5.
    const LANCZOS_G: f64 = 7.0;
    const LANCZOS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];

    /// ln Γ(x) for x ≥ 0.5 via Lanczos.
    fn lanczos_ln_gamma(x: f64) -> f64 {
        let x = x - 1.0;
        let mut sum = LANCZOS[0];
        for (i, &c) in LANCZOS.iter().enumerate().skip(1) {
            sum += c / (x + i as f64);
        }
        let t = x + LANCZOS_G + 0.5;
        0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
    }

    /// sin(π·x) with the argument reduced exactly first, so that integers give exactly 0.
    fn sin_pi(x: f64) -> f64 {
        let r = x - 2.0 * (x / 2.0).round();
        (PI * r).sin()
    }

    fn is_non_positive_integer(x: f64) -> bool {
        x <= 0.0 && x == x.floor()
    }

    /// Γ(x) (C `tgamma` semantics).
    pub fn gamma(x: f64) -> f64 {
        if x.is_nan() || x == f64::NEG_INFINITY {
            return f64::NAN;
        }
        if x == 0.0 {
            return (1.0 / x).signum() * f64::INFINITY;
        }
        if is_non_positive_integer(x) {
            return f64::NAN;
        }
        if x > 171.7 {
            return f64::INFINITY;
        }
        if x < 0.5 {
            // Reflection: Γ(x) Γ(1−x) = π / sin(πx).
            return PI / (sin_pi(x) * gamma(1.0 - x));
        }
        if x == x.floor() && x <= 30.0 {
            // Exact factorials for small integers.
            return (1..x as u32).fold(1.0, |acc, k| acc * k as f64);
        }
        lanczos_ln_gamma(x).exp()
    }

    /// ln|Γ(x)| (C `lgamma` semantics).
    pub fn lgamma(x: f64) -> f64 {
        if x.is_nan() {
            return x;
        }
        if x.is_infinite() || is_non_positive_integer(x) {
            return f64::INFINITY;
        }
        if x == 1.0 || x == 2.0 {
            return 0.0;
        }
        if x < 0.5 {
            return (PI / sin_pi(x).abs()).ln() - lgamma(1.0 - x);
        }
        lanczos_ln_gamma(x)
    }
}

// ------------------------------------------------------------------------------------------------
// Tests (expected values from MXNet 1.9.1 unless noted)
// ------------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::excessive_precision)] // expected values are pasted from MXNet's printout
mod tests {
    use super::*;

    fn parse(op: &str, pairs: &[(&str, &str)]) -> Result<ElementwiseOp> {
        let attrs = Attrs::from_pairs(pairs);
        let parsed = ElementwiseOp::parse(op, &attrs)?.expect("op of this family");
        attrs.finish()?;
        Ok(parsed)
    }

    fn run(op: &ElementwiseOp, inputs: &[(&[usize], &[f32])]) -> Result<(Vec<usize>, Vec<f32>)> {
        let mut shapes: Vec<Option<Vec<usize>>> =
            inputs.iter().map(|(s, _)| Some(s.to_vec())).collect();
        let out_shape = op.infer_shape(&mut shapes)?.remove(0);
        let views: Vec<View> = inputs
            .iter()
            .map(|(s, d)| View { shape: s, data: d })
            .collect();
        let mut out = vec![f32::NAN; numel(&out_shape)];
        let mut outs = [ViewMut {
            shape: &out_shape,
            data: &mut out,
        }];
        op.forward(&views, &mut outs, &mut Scratch::default())?;
        Ok((out_shape, out))
    }

    fn unary(op: &str, x: &[f32]) -> Vec<f32> {
        run(&parse(op, &[]).unwrap(), &[(&[x.len()], x)]).unwrap().1
    }

    /// Compares with a relative tolerance; NaNs must match NaNs, infinities must match exactly.
    fn assert_close(got: &[f32], want: &[f32], rtol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let ok = if w.is_nan() {
                g.is_nan()
            } else if w.is_infinite() {
                g == w
            } else {
                (g - w).abs() <= rtol * w.abs().max(1e-30) || (g - w).abs() < 1e-37
            };
            assert!(
                ok,
                "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
            );
        }
    }

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    #[test]
    fn parses_names_and_inputs() {
        let op = parse("elemwise_add", &[]).unwrap();
        assert_eq!(op.name(), "elemwise_add");
        assert_eq!(
            op.inputs(),
            vec![
                ("lhs".into(), InputRole::Data),
                ("rhs".into(), InputRole::Data)
            ]
        );
        let op = parse("add_n", &[("num_args", "3")]).unwrap();
        assert_eq!(
            op.inputs()
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["arg0", "arg1", "arg2"]
        );
        assert!(parse("add_n", &[]).is_err());
        let op = parse("where", &[]).unwrap();
        assert_eq!(
            op.inputs()
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["condition", "x", "y"]
        );
        assert_eq!(
            parse("relu", &[]).unwrap().inputs(),
            vec![("data".into(), InputRole::Data)]
        );
        assert!(ElementwiseOp::parse("Convolution", &Attrs::default())
            .unwrap()
            .is_none());
        // Unknown attributes are rejected by finish().
        assert!(parse("relu", &[("bogus", "1")]).is_err());
    }

    #[test]
    fn scalar_attrs_and_defaults() {
        // scalar defaults to 1; is_int is accepted and has no effect on f32 data.
        let op = parse("_plus_scalar", &[]).unwrap();
        assert_eq!(run(&op, &[(&[2], &[1.0, 2.0])]).unwrap().1, [2.0, 3.0]);
        let op = parse("_plus_scalar", &[("scalar", "2.5"), ("is_int", "True")]).unwrap();
        assert_eq!(run(&op, &[(&[1], &[1.5])]).unwrap().1, [4.0]);
        assert!(parse("_mul_scalar", &[("scalar", "x")]).is_err());
        assert!(parse("_mul_scalar", &[("is_int", "maybe")]).is_err());
        let x = [2.0f32, -4.0, 0.5];
        let cases: &[(&str, &str, [f32; 3])] = &[
            ("_minus_scalar", "1", [1.0, -5.0, -0.5]),
            ("_rminus_scalar", "1", [-1.0, 5.0, 0.5]),
            ("_mul_scalar", "-1.0", [-2.0, 4.0, -0.5]),
            ("_div_scalar", "4", [0.5, -1.0, 0.125]),
            ("_rdiv_scalar", "2", [1.0, -0.5, 4.0]),
            ("_power_scalar", "2", [4.0, 16.0, 0.25]),
            (
                "_rpower_scalar",
                "2",
                [4.0, 0.0625, std::f32::consts::SQRT_2],
            ),
            ("_maximum_scalar", "1", [2.0, 1.0, 1.0]),
            ("_minimum_scalar", "1", [1.0, -4.0, 0.5]),
            ("_mod_scalar", "3", [2.0, 2.0, 0.5]),
            ("_rmod_scalar", "7", [1.0, -1.0, 0.0]),
            (
                "_hypot_scalar",
                "4",
                [20f32.sqrt(), 32f32.sqrt(), 16.25f32.sqrt()],
            ),
            ("_greater_scalar", "0.5", [1.0, 0.0, 0.0]),
            ("_greater_equal_scalar", "0.5", [1.0, 0.0, 1.0]),
            ("_lesser_scalar", "0.5", [0.0, 1.0, 0.0]),
            ("_lesser_equal_scalar", "0.5", [0.0, 1.0, 1.0]),
            ("_equal_scalar", "0.5", [0.0, 0.0, 1.0]),
            ("_not_equal_scalar", "0.5", [1.0, 1.0, 0.0]),
            ("_logical_and_scalar", "0", [0.0, 0.0, 0.0]),
            ("_logical_or_scalar", "0", [1.0, 1.0, 1.0]),
            ("_logical_xor_scalar", "1", [0.0, 0.0, 0.0]),
        ];
        for (name, s, want) in cases {
            let op = parse(name, &[("scalar", s)]).unwrap();
            let got = run(&op, &[(&[3], &x)]).unwrap().1;
            assert_close(&got, want, 1e-6);
        }
    }

    #[test]
    fn mod_follows_python_sign_rules() {
        // MXNet: _mod([-7,-7,7,7,5.5,-5.5,0], [3,-3,3,-3,2,2,3]) and x mod 0 = 0.
        let op = parse("_mod", &[]).unwrap();
        let a = [-7.0, -7.0, 7.0, 7.0, 5.5, -5.5, 0.0];
        let b = [3.0, -3.0, 3.0, -3.0, 2.0, 2.0, 3.0];
        assert_eq!(
            run(&op, &[(&[7], &a), (&[7], &b)]).unwrap().1,
            [2.0, -1.0, 1.0, -2.0, 1.5, 0.5, 0.0]
        );
        assert_eq!(
            run(&op, &[(&[7], &a), (&[7], &[0.0; 7])]).unwrap().1,
            [0.0; 7]
        );
        let op = parse("_mod_scalar", &[("scalar", "-3")]).unwrap();
        assert_eq!(
            run(&op, &[(&[7], &a)]).unwrap().1,
            [-1.0, -1.0, -2.0, -2.0, -0.5, -2.5, 0.0]
        );
        let op = parse("_rmod_scalar", &[("scalar", "-7")]).unwrap();
        assert_eq!(
            run(&op, &[(&[7], &b)]).unwrap().1,
            [2.0, -1.0, 2.0, -1.0, 1.0, 1.0, 2.0]
        );
    }

    #[test]
    fn binary_nan_and_signed_zero_semantics() {
        // MXNet: a=[1,nan,3,nan,-0,0], b=[nan,2,1,nan,0,-0].
        let a = [1.0, NAN, 3.0, NAN, -0.0, 0.0];
        let b = [NAN, 2.0, 1.0, NAN, 0.0, -0.0];
        let check = |name: &str, want: [f32; 6]| {
            let got = run(&parse(name, &[]).unwrap(), &[(&[6], &a), (&[6], &b)])
                .unwrap()
                .1;
            assert_close(&got, &want, 0.0);
            if name == "_maximum" || name == "_minimum" {
                // max(-0, 0) = 0 and max(0, -0) = -0 (MXNet returns b unless a > b).
                assert!(
                    got[4].is_sign_positive() && got[5].is_sign_negative(),
                    "{name}: {got:?}"
                );
            }
        };
        check("_maximum", [NAN, NAN, 3.0, NAN, 0.0, -0.0]);
        check("_minimum", [NAN, NAN, 1.0, NAN, 0.0, -0.0]);
        check("_equal", [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        check("_not_equal", [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        check("_greater", [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        check("_lesser_equal", [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        check("_logical_and", [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        check("_logical_or", [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        check("_logical_xor", [0.0; 6]);
        check("_hypot", [NAN, NAN, 10f32.sqrt(), NAN, 0.0, 0.0]);
        check("_power", [1.0, NAN, 3.0, NAN, 1.0, 1.0]);
        // pow([-8,-8,0,0,2], [1/3,2,0,-1,0.5]) = [nan, 64, 1, inf, 1.4142135]
        let got = run(
            &parse("_power", &[]).unwrap(),
            &[
                (&[5], &[-8.0, -8.0, 0.0, 0.0, 2.0]),
                (&[5], &[1.0 / 3.0, 2.0, 0.0, -1.0, 0.5]),
            ],
        )
        .unwrap()
        .1;
        assert_close(&got, &[NAN, 64.0, 1.0, INF, std::f32::consts::SQRT_2], 1e-6);
        // Division by zero: [1,-1,0]/0 = [inf,-inf,nan].
        let got = run(
            &parse("elemwise_div", &[]).unwrap(),
            &[(&[3], &[1.0, -1.0, 0.0]), (&[3], &[0.0; 3])],
        )
        .unwrap()
        .1;
        assert_close(&got, &[INF, -INF, NAN], 0.0);
    }

    #[test]
    fn same_shape_ops_reject_mismatched_shapes() {
        let op = parse("elemwise_add", &[]).unwrap();
        let mut shapes = vec![Some(vec![2, 3]), Some(vec![3])];
        let e = op.infer_shape(&mut shapes).unwrap_err().to_string();
        assert!(e.contains("(2, 3)") && e.contains("(3,)"), "{e}");
        assert!(op.infer_shape(&mut [Some(vec![2])]).is_err());
        let (shape, out) = run(
            &op,
            &[
                (&[2, 2], &[1.0, 2.0, 3.0, 4.0]),
                (&[2, 2], &[10.0, 20.0, 30.0, 40.0]),
            ],
        )
        .unwrap();
        assert_eq!((shape, out), (vec![2, 2], vec![11.0, 22.0, 33.0, 44.0]));
    }

    #[test]
    fn broadcast_shapes() {
        assert_eq!(broadcast_shape(&[2, 3], &[3]).unwrap(), [2, 3]);
        assert_eq!(broadcast_shape(&[2, 1, 4], &[3, 1]).unwrap(), [2, 3, 4]);
        assert_eq!(broadcast_shape(&[1], &[2, 3, 4]).unwrap(), [2, 3, 4]);
        assert_eq!(
            broadcast_shape(&[4, 1, 1, 1, 1, 1, 3], &[2, 1, 3]).unwrap(),
            [4, 1, 1, 1, 2, 1, 3]
        );
        let e = broadcast_shape(&[2, 3], &[2]).unwrap_err().to_string();
        assert!(e.contains("(2, 3)") && e.contains("(2,)"), "{e}");
    }

    /// Reference broadcast by explicit index arithmetic.
    fn naive_broadcast(
        a: &[usize],
        ad: &[f32],
        b: &[usize],
        bd: &[f32],
        f: impl Fn(f32, f32) -> f32,
    ) -> Vec<f32> {
        let out = broadcast_shape(a, b).unwrap();
        let nd = out.len();
        let pad = |s: &[usize]| {
            let mut p = vec![1; nd - s.len()];
            p.extend_from_slice(s);
            p
        };
        let (pa, pb) = (pad(a), pad(b));
        let (sa, sb) = (crate::tensor::strides(&pa), crate::tensor::strides(&pb));
        (0..numel(&out))
            .map(|flat| {
                let (mut rem, mut ia, mut ib) = (flat, 0, 0);
                for d in (0..nd).rev() {
                    let i = rem % out[d];
                    rem /= out[d];
                    if pa[d] != 1 {
                        ia += i * sa[d];
                    }
                    if pb[d] != 1 {
                        ib += i * sb[d];
                    }
                }
                f(ad[ia], bd[ib])
            })
            .collect()
    }

    #[test]
    fn broadcast_values_match_naive_indexing() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3], &[3]),
            (&[2, 3], &[2, 1]),
            (&[2, 1, 4], &[3, 1]),
            (&[1], &[2, 3, 4]),
            (&[2, 3, 4, 5], &[1, 3, 1, 1]),
            (&[2, 3, 4, 5], &[2, 1, 4, 1]),
            (&[3, 1, 5], &[1, 4, 1]),
            (&[1, 1], &[1]),
            (&[4, 1, 1, 1, 1, 1, 3], &[2, 1, 3]),
            (&[2, 3], &[2, 3]),
        ];
        let op = parse("broadcast_sub", &[]).unwrap();
        for (sa, sb) in cases {
            let ad: Vec<f32> = (0..numel(sa)).map(|i| i as f32 * 1.5).collect();
            let bd: Vec<f32> = (0..numel(sb)).map(|i| i as f32 * 0.25 - 3.0).collect();
            let want = naive_broadcast(sa, &ad, sb, &bd, |x, y| x - y);
            assert_eq!(
                run(&op, &[(sa, &ad), (sb, &bd)]).unwrap().1,
                want,
                "{sa:?} - {sb:?}"
            );
            let want = naive_broadcast(sb, &bd, sa, &ad, |x, y| x - y);
            assert_eq!(
                run(&op, &[(sb, &bd), (sa, &ad)]).unwrap().1,
                want,
                "{sb:?} - {sa:?}"
            );
        }
        // MXNet: broadcast_add([[1,2,3],[4,5,6]], [10,20,30]).
        let op = parse("broadcast_add", &[]).unwrap();
        let (shape, out) = run(
            &op,
            &[
                (&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
                (&[3], &[10.0, 20.0, 30.0]),
            ],
        )
        .unwrap();
        assert_eq!(shape, [2, 3]);
        assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let op = parse("broadcast_greater_equal", &[]).unwrap();
        let out = run(
            &op,
            &[(&[2, 2], &[1.0, 2.0, 3.0, 4.0]), (&[2, 1], &[2.0, 4.0])],
        )
        .unwrap()
        .1;
        assert_eq!(out, [0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn rounding_functions() {
        // MXNet: x = [-2.5,-1.5,-0.5,0.5,1.5,2.5,3.5,-3.5,2.4999,0.49999997]
        let x = [
            -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -3.5, 2.4999, 0.49999997,
        ];
        assert_eq!(
            unary("rint", &x),
            [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, -4.0, 2.0, 0.0]
        );
        assert_eq!(
            unary("round", &x),
            [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0, -4.0, 2.0, 0.0]
        );
        assert_eq!(
            unary("fix", &x),
            [-2.0, -1.0, -0.0, 0.0, 1.0, 2.0, 3.0, -3.0, 2.0, 0.0]
        );
        assert_eq!(unary("trunc", &x), unary("fix", &x));
        assert_eq!(unary("floor", &[-0.5, 0.5]), [-1.0, 0.0]);
        assert_eq!(unary("ceil", &[-0.5, 0.5]), [-0.0, 1.0]);
    }

    #[test]
    fn unary_math_matches_mxnet() {
        let x = [
            -3.5, -2.0, -1.0, -0.5, -0.0, 0.0, 1e-30, 0.5, 1.0, 2.0, 3.5, 10.0, 35.0, 36.0, 171.5,
            NAN, INF, -INF,
        ];
        let want_gamma = [
            2.7008817e-01,
            NAN,
            NAN,
            -3.5449080e+00,
            -INF,
            INF,
            1.0000000e+30,
            1.7724538e+00,
            1.0,
            1.0,
            3.3233514e+00,
            3.6288003e+05,
            2.9523280e+38,
            INF,
            INF,
            NAN,
            INF,
            NAN,
        ];
        assert_close(&unary("gamma", &x), &want_gamma, 2e-6);
        let want_gammaln = [
            -1.3090067e+00,
            INF,
            INF,
            1.2655121e+00,
            INF,
            INF,
            6.9077553e+01,
            5.7236493e-01,
            0.0,
            0.0,
            1.2009736e+00,
            1.2801827e+01,
            8.8580826e+01,
            9.2136177e+01,
            7.0914319e+02,
            NAN,
            INF,
            INF,
        ];
        assert_close(&unary("gammaln", &x), &want_gammaln, 2e-6);
        let want_erf = [
            -9.9999928e-01,
            -9.9532229e-01,
            -8.4270078e-01,
            -5.2049989e-01,
            -0.0,
            0.0,
            1.1283792e-30,
            5.2049989e-01,
            8.4270078e-01,
            9.9532229e-01,
            9.9999928e-01,
            1.0,
            1.0,
            1.0,
            1.0,
            NAN,
            1.0,
            -1.0,
        ];
        assert_close(&unary("erf", &x), &want_erf, 1e-6);
        let want_rcbrt = [
            -6.5863377e-01,
            -7.9370052e-01,
            -1.0,
            -1.2599211e+00,
            -INF,
            INF,
            1.0e+10,
            1.2599211e+00,
            1.0,
            7.9370052e-01,
            6.5863377e-01,
            4.6415889e-01,
            3.0571070e-01,
            3.0285344e-01,
            1.7998871e-01,
            NAN,
            0.0,
            -0.0,
        ];
        assert_close(&unary("rcbrt", &x), &want_rcbrt, 1e-6);
        assert_close(
            &unary("sign", &x),
            &[
                -1., -1., -1., -1., 0., 0., 1., 1., 1., 1., 1., 1., 1., 1., 1., 0., 1., -1.,
            ],
            0.0,
        );
        assert_close(
            &unary("relu", &x),
            &[
                0., 0., 0., 0., 0., 0., 1e-30, 0.5, 1., 2., 3.5, 10., 35., 36., 171.5, NAN, INF, 0.,
            ],
            0.0,
        );
        assert_close(
            &unary("logical_not", &x),
            &[
                0., 0., 0., 0., 1., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.,
            ],
            0.0,
        );
        let want_softsign = [
            -7.7777779e-01,
            -6.6666669e-01,
            -0.5,
            -3.3333334e-01,
            -0.0,
            0.0,
            1e-30,
            3.3333334e-01,
        ];
        assert_close(&unary("softsign", &x[..8]), &want_softsign, 1e-6);
        assert_close(&unary("softsign", &[INF, NAN]), &[NAN, NAN], 0.0);
        let want_sigmoid = [
            0.02931223, 0.11920292, 0.26894143, 0.37754068, 0.5, 0.5, 0.5, 0.62245935, 0.7310586,
        ];
        assert_close(&unary("sigmoid", &x[..9]), &want_sigmoid, 1e-6);
        assert_close(&unary("sigmoid", &[INF, -INF, NAN]), &[1.0, 0.0, NAN], 0.0);
        let want_degrees = [
            -2.0053522e+02,
            -1.1459155e+02,
            -5.7295776e+01,
            -2.8647888e+01,
        ];
        assert_close(&unary("degrees", &x[..4]), &want_degrees, 1e-7);
        let want_arccosh = [
            0.0, 1.316958, 1.9248474, 2.993223, 4.248291, 4.276473, 5.837722,
        ];
        assert_close(&unary("arccosh", &x[8..15]), &want_arccosh, 1e-6);
        assert_close(
            &unary("arccosh", &[0.5, 3e38, 1e20]),
            &[NAN, 89.28999, 46.744846],
            1e-6,
        );
        assert_close(
            &unary("arcsinh", &[3e38, -3e38, 1e-30]),
            &[89.28999, -89.28999, 1e-30],
            1e-6,
        );
        let want_rsqrt = [NAN, -INF, INF, 9.9999999e+14, std::f32::consts::SQRT_2];
        assert_close(&unary("rsqrt", &x[3..8]), &want_rsqrt, 1e-6);
        assert_close(&unary("expm1", &[-INF, 1.0]), &[-1.0, 1.7182817], 1e-6);
        assert_close(
            &unary("log1p", &[-1.0, -2.0, 0.5]),
            &[-INF, NAN, 4.0546510e-01],
            1e-6,
        );
        assert_close(
            &unary("arctanh", &[-1.0, 0.5, 2.0]),
            &[-INF, 5.4930615e-01, NAN],
            1e-6,
        );
        assert_close(&unary("square", &[-3.5, 1e30]), &[12.25, INF], 0.0);
        assert_close(&unary("reciprocal", &[-0.0, 4.0]), &[-INF, 0.25], 0.0);
        assert_close(&unary("negative", &[1.0, -0.0]), &[-1.0, 0.0], 0.0);
        assert_close(&unary("radians", &[180.0]), &[std::f32::consts::PI], 1e-7);
    }

    #[test]
    fn erfinv_matches_mxnet() {
        let y = [
            -1.0, -0.9999999, -0.5, 0.0, 0.3, 0.7, 0.9, 0.99, 0.999999, 1.0, 1.5, NAN,
        ];
        let want = [
            -INF,
            -3.7439213,
            -0.47693628,
            0.0,
            0.27246273,
            0.7328691,
            1.1630871,
            1.8213866,
            3.4570746,
            INF,
            NAN,
            NAN,
        ];
        assert_close(&unary("erfinv", &y), &want, 2e-6);
        // erf(erfinv(y)) round-trips.
        for y in [-0.95f64, -0.3, 0.01, 0.6, 0.8] {
            assert!((special::erf(special::erfinv(y)) - y).abs() < 1e-14, "{y}");
        }
    }

    #[test]
    fn hard_sigmoid_and_clip() {
        let op = parse("hard_sigmoid", &[]).unwrap();
        let got = run(&op, &[(&[5], &[-3.5, -1.0, 0.0, 2.0, NAN])]).unwrap().1;
        assert_close(&got, &[0.0, 0.3, 0.5, 0.9, NAN], 1e-6);
        let op = parse("hard_sigmoid", &[("alpha", "0.3"), ("beta", "0.4")]).unwrap();
        let got = run(&op, &[(&[4], &[-3.0, 0.0, 1.0, 3.0])]).unwrap().1;
        assert_close(&got, &[0.0, 0.4, 0.70000005, 1.0], 1e-7);

        let op = parse("clip", &[("a_min", "0"), ("a_max", "6")]).unwrap();
        let got = run(&op, &[(&[5], &[-1.0, 3.0, 7.0, NAN, -0.0])]).unwrap().1;
        assert_close(&got, &[0.0, 3.0, 6.0, NAN, -0.0], 0.0);
        // a_min > a_max: the a_max test comes first (MXNet: clip([0,5,1.5], 2, 1) = [2,1,1]).
        let op = parse("clip", &[("a_min", "2"), ("a_max", "1")]).unwrap();
        assert_eq!(
            run(&op, &[(&[3], &[0.0, 5.0, 1.5])]).unwrap().1,
            [2.0, 1.0, 1.0]
        );
        assert!(parse("clip", &[("a_min", "0")]).is_err());
        assert!(parse("clip", &[("a_max", "0")]).is_err());
    }

    #[test]
    fn smooth_l1() {
        // MXNet: smooth_l1([-3,-0.3,-0.25,-0.2,0,0.2,0.25,0.3,3,nan], scalar) for σ = 2, 1, 0.
        let x = [-3.0, -0.3, -0.25, -0.2, 0.0, 0.2, 0.25, 0.3, 3.0, NAN];
        let got = run(
            &parse("smooth_l1", &[("scalar", "2")]).unwrap(),
            &[(&[10], &x)],
        )
        .unwrap()
        .1;
        assert_close(
            &got,
            &[
                2.875, 0.17500001, 0.125, 0.08000001, 0.0, 0.08000001, 0.125, 0.17500001, 2.875,
                NAN,
            ],
            1e-7,
        );
        let got = run(&parse("smooth_l1", &[]).unwrap(), &[(&[10], &x)])
            .unwrap()
            .1;
        assert_close(
            &got,
            &[
                2.5, 0.045, 0.03125, 0.02, 0.0, 0.02, 0.03125, 0.045, 2.5, NAN,
            ],
            1e-7,
        );
        let got = run(
            &parse("smooth_l1", &[("scalar", "0")]).unwrap(),
            &[(&[10], &x)],
        )
        .unwrap()
        .1;
        assert_close(
            &got,
            &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN],
            0.0,
        );
    }

    #[test]
    fn add_n_sums_all_inputs() {
        let op = parse("add_n", &[("num_args", "3")]).unwrap();
        let got = run(
            &op,
            &[
                (&[2], &[1.0, 2.0]),
                (&[2], &[10.0, 20.0]),
                (&[2], &[100.0, 200.0]),
            ],
        )
        .unwrap()
        .1;
        assert_eq!(got, [111.0, 222.0]);
        let mut shapes = vec![Some(vec![2]), Some(vec![3]), Some(vec![2])];
        let e = op.infer_shape(&mut shapes).unwrap_err().to_string();
        assert!(e.contains("(3,)"), "{e}");
        assert!(op.infer_shape(&mut [Some(vec![2]), Some(vec![2])]).is_err());
    }

    #[test]
    fn where_full_and_row_conditions() {
        let op = parse("where", &[]).unwrap();
        // MXNet: where([1,0], [[1,2],[3,4]], [[5,6],[7,8]]) = [[1,2],[7,8]].
        let got = run(
            &op,
            &[
                (&[2], &[1.0, 0.0]),
                (&[2, 2], &[1.0, 2.0, 3.0, 4.0]),
                (&[2, 2], &[5.0, 6.0, 7.0, 8.0]),
            ],
        )
        .unwrap();
        assert_eq!(got, (vec![2, 2], vec![1.0, 2.0, 7.0, 8.0]));
        // NaN counts as true.
        let got = run(
            &op,
            &[
                (&[3], &[NAN, 0.0, -0.0]),
                (&[3], &[1.0, 2.0, 3.0]),
                (&[3], &[5.0, 6.0, 7.0]),
            ],
        )
        .unwrap();
        assert_eq!(got.1, [1.0, 6.0, 7.0]);
        // A 1-D condition must have x.shape[0] entries.
        let mut shapes = vec![Some(vec![3]), Some(vec![2, 3]), Some(vec![2, 3])];
        let e = op.infer_shape(&mut shapes).unwrap_err().to_string();
        assert!(e.contains("(3,)"), "{e}");
        let mut shapes = vec![Some(vec![2, 3]), Some(vec![2, 3]), Some(vec![3, 2])];
        assert!(op.infer_shape(&mut shapes).is_err());
    }

    #[test]
    fn cast_emulates_the_target_dtype() {
        // MXNet: Cast of these values to each dtype (then read back as float).
        let x = [
            -2.7, 300.7, -300.7, 127.9, 128.5, -129.5, 1e10, -1e10, 3e9, NAN, INF, -INF, 0.5, -0.0,
            65519.0, 65520.0, 255.9, 256.0,
        ];
        let cast = |t: &str| {
            run(
                &parse("Cast", &[("dtype", t)]).unwrap(),
                &[(&[x.len()], &x)],
            )
            .unwrap()
            .1
        };
        let i32min = -2147483648.0;
        assert_eq!(
            cast("uint8"),
            [
                254., 44., 212., 127., 128., 127., 0., 0., 0., 0., 0., 0., 0., 0., 239., 240.,
                255., 0.
            ]
        );
        assert_eq!(
            cast("int8"),
            [
                -2., 44., -44., 127., -128., 127., 0., 0., 0., 0., 0., 0., 0., 0., -17., -16., -1.,
                0.
            ]
        );
        assert_eq!(
            cast("int32"),
            [
                -2., 300., -300., 127., 128., -129., i32min, i32min, i32min, i32min, i32min,
                i32min, 0., 0., 65519., 65520., 255., 256.
            ]
        );
        let i64min = -9.223372e18;
        assert_eq!(
            cast("int64"),
            [
                -2., 300., -300., 127., 128., -129., 1e10, -1e10, 3e9, i64min, i64min, i64min, 0.,
                0., 65519., 65520., 255., 256.
            ]
        );
        assert_eq!(
            cast("bool"),
            [1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 0., 1., 1., 1., 1.]
        );
        let f16 = cast("float16");
        assert_close(
            &f16[..6],
            &[-2.69921875, 300.75, -300.75, 127.875, 128.5, -129.5],
            0.0,
        );
        assert_close(&f16[6..12], &[INF, -INF, INF, NAN, INF, -INF], 0.0);
        assert_eq!(f16[14..16], [65504.0, INF]);
        // float16 rounds to nearest even.
        assert_eq!(cast_value(1.00048828125, DType::F16), 1.0);
        assert_eq!(cast_value(1.00146484375, DType::F16), 1.001953125);
        // bfloat16 truncates (MXNet: 1.005859375 → 1.0, 0.1 → 0.099609375, -2.7 → -2.6875).
        let bf = [
            1.00390625f32,
            1.005859375,
            3.4e38,
            NAN,
            -INF,
            0.1,
            -2.7,
            65504.0,
        ];
        let got: Vec<f32> = bf.iter().map(|&v| cast_value(v, DType::BF16)).collect();
        assert_close(
            &got,
            &[
                1.0,
                1.0,
                3.3895314e+38,
                NAN,
                -INF,
                0.099609375,
                -2.6875,
                65280.0,
            ],
            0.0,
        );
        assert_close(&cast("float32"), &x, 0.0);
        assert!(parse("Cast", &[("dtype", "float32")]).unwrap().is_view());
        assert!(!parse("Cast", &[("dtype", "float16")]).unwrap().is_view());
        assert!(parse("Cast", &[]).is_err());
        assert!(parse("Cast", &[("dtype", "int16")]).is_err());
        assert!(parse("Cast", &[("dtype", "complex64")]).is_err());
    }

    #[test]
    fn identity_like_ops() {
        for (op, attrs) in [
            (
                "Dropout",
                vec![("p", "0.5"), ("axes", "()"), ("cudnn_off", "False")],
            ),
            ("Dropout", vec![("mode", "training")]),
            ("Dropout", vec![("mode", "always"), ("p", "0")]),
            ("BlockGrad", vec![]),
            ("_copy", vec![]),
        ] {
            let parsed = parse(op, &attrs).unwrap();
            assert!(parsed.is_view(), "{op}");
            assert_eq!(parsed.name(), op);
            assert_eq!(
                run(&parsed, &[(&[3], &[1.0, -2.0, NAN])]).unwrap().1[..2],
                [1.0, -2.0]
            );
        }
        let e = parse("Dropout", &[("mode", "always")]).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
        assert!(parse("Dropout", &[("mode", "sometimes")]).is_err());
        assert!(!parse("relu", &[]).unwrap().is_view());
    }

    #[test]
    fn fill_like_ops() {
        let op = parse("zeros_like", &[]).unwrap();
        assert_eq!(
            run(&op, &[(&[2, 2], &[1.0, NAN, 3.0, 4.0])]).unwrap(),
            (vec![2, 2], vec![0.0; 4])
        );
        let op = parse("ones_like", &[]).unwrap();
        assert_eq!(run(&op, &[(&[3], &[1.0, NAN, 3.0])]).unwrap().1, [1.0; 3]);
    }

    #[test]
    fn forward_rejects_mismatched_buffers() {
        let op = parse("relu", &[]).unwrap();
        let mut out = vec![0.0; 2];
        let mut outs = [ViewMut {
            shape: &[2],
            data: &mut out,
        }];
        let x = [1.0, 2.0, 3.0];
        assert!(op
            .forward(
                &[View {
                    shape: &[3],
                    data: &x
                }],
                &mut outs,
                &mut Scratch::default()
            )
            .is_err());
        assert!(op.forward(&[], &mut outs, &mut Scratch::default()).is_err());
    }
}
