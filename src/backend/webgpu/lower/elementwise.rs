//! Elementwise operators → `elementwise.wgsl` (`map`, `binary`, `accumulate`, `where_select`).

use crate::error::{fmt_shape, Error, Result};
use crate::ops::elementwise::{BinaryFn, ElementwiseOp, UnaryFn};
use crate::tensor::DType;

use super::{fill_uniform, simplify, strides, Lowering, Operand};
use crate::backend::webgpu::kernels::{Kernel, ACCUMULATE, BINARY, FILL, MAP, WHERE};
use crate::backend::webgpu::wgsl::{fit, vec4s, ElementwiseParams};

/// Most axes of a broadcast iteration after merging (the shader's arrays hold 8).
const MAX_BROADCAST_RANK: usize = 8;

pub(crate) use crate::backend::webgpu::wgsl::{Binary, Cast, MapCode, Unary};

pub(crate) fn unary_code(f: UnaryFn) -> u32 {
    use UnaryFn::*;
    match f {
        Abs => Unary::ABS,
        Sign => Unary::SIGN,
        Negative => Unary::NEGATIVE,
        Reciprocal => Unary::RECIPROCAL,
        Square => Unary::SQUARE,
        Sqrt => Unary::SQRT,
        Rsqrt => Unary::RSQRT,
        Cbrt => Unary::CBRT,
        Rcbrt => Unary::RCBRT,
        Exp => Unary::EXP,
        Expm1 => Unary::EXPM1,
        Log => Unary::LOG,
        Log2 => Unary::LOG2,
        Log10 => Unary::LOG10,
        Log1p => Unary::LOG1P,
        Sin => Unary::SIN,
        Cos => Unary::COS,
        Tan => Unary::TAN,
        Arcsin => Unary::ARCSIN,
        Arccos => Unary::ARCCOS,
        Arctan => Unary::ARCTAN,
        Sinh => Unary::SINH,
        Cosh => Unary::COSH,
        Tanh => Unary::TANH,
        Arcsinh => Unary::ARCSINH,
        Arccosh => Unary::ARCCOSH,
        Arctanh => Unary::ARCTANH,
        Degrees => Unary::DEGREES,
        Radians => Unary::RADIANS,
        Floor => Unary::FLOOR,
        Ceil => Unary::CEIL,
        Round => Unary::ROUND,
        Rint => Unary::RINT,
        Trunc => Unary::TRUNC,
        Fix => Unary::FIX,
        Erf => Unary::ERF,
        Erfinv => Unary::ERFINV,
        Gamma => Unary::GAMMA,
        Gammaln => Unary::GAMMALN,
        Relu => Unary::RELU,
        Sigmoid => Unary::SIGMOID,
        Softsign => Unary::SOFTSIGN,
        LogicalNot => Unary::LOGICAL_NOT,
    }
}

pub(crate) fn binary_code(f: BinaryFn) -> u32 {
    use BinaryFn::*;
    match f {
        Add => Binary::ADD,
        Sub => Binary::SUB,
        Mul => Binary::MUL,
        Div => Binary::DIV,
        Maximum => Binary::MAXIMUM,
        Minimum => Binary::MINIMUM,
        Power => Binary::POWER,
        Hypot => Binary::HYPOT,
        Mod => Binary::MOD,
        Equal => Binary::EQUAL,
        NotEqual => Binary::NOT_EQUAL,
        Greater => Binary::GREATER,
        GreaterEqual => Binary::GREATER_EQUAL,
        Lesser => Binary::LESSER,
        LesserEqual => Binary::LESSER_EQUAL,
        LogicalAnd => Binary::LOGICAL_AND,
        LogicalOr => Binary::LOGICAL_OR,
        LogicalXor => Binary::LOGICAL_XOR,
        IntDiv => Binary::INT_DIV,
    }
}

/// The `Cast` code of a dtype (`cast_to` in common.wgsl).
pub(crate) fn cast_code(d: DType) -> u32 {
    match d {
        DType::F32 | DType::F64 => Cast::F32,
        DType::F16 => Cast::F16,
        DType::BF16 => Cast::BF16,
        DType::Bool => Cast::BOOL,
        DType::I32 => Cast::I32,
        DType::I64 => Cast::I64,
        DType::U8 => Cast::U8,
        DType::I8 => Cast::I8,
        DType::I16 => Cast::I16,
        DType::U16 => Cast::U16,
        DType::U32 => Cast::U32,
        DType::U64 => Cast::U64,
    }
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &ElementwiseOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let out = outs
        .first()
        .ok_or_else(|| Error::Backend("elementwise op without output".into()))?;
    let input = |k: usize| {
        ins.get(k)
            .ok_or_else(|| Error::Backend(format!("elementwise op lacks input {k}")))
    };
    match op {
        ElementwiseOp::Binary { op, .. } => binary(l, binary_code(*op), input(0)?, input(1)?, out),
        ElementwiseOp::Broadcast { op, .. } => {
            binary(l, binary_code(*op), input(0)?, input(1)?, out)
        }
        ElementwiseOp::Scalar {
            op,
            scalar,
            reversed,
            ..
        } => {
            let base = if *reversed {
                MapCode::SCALAR_LHS
            } else {
                MapCode::SCALAR_RHS
            };
            map(l, base + binary_code(*op), *scalar, 0.0, input(0)?, out)
        }
        ElementwiseOp::Unary { op, .. } => map(l, unary_code(*op), 0.0, 0.0, input(0)?, out),
        ElementwiseOp::SmoothL1 { sigma } => {
            map(l, MapCode::SMOOTH_L1, *sigma, 0.0, input(0)?, out)
        }
        ElementwiseOp::HardSigmoid { alpha, beta } => {
            map(l, MapCode::HARD_SIGMOID, *alpha, *beta, input(0)?, out)
        }
        ElementwiseOp::Clip { a_min, a_max } => {
            map(l, MapCode::CLIP, *a_min, *a_max, input(0)?, out)
        }
        ElementwiseOp::Cast { dtype } => map(
            l,
            MapCode::CAST,
            f32::from_bits(cast_code(*dtype)),
            0.0,
            input(0)?,
            out,
        ),
        ElementwiseOp::Identity { .. } => map(l, MapCode::IDENTITY, 0.0, 0.0, input(0)?, out),
        ElementwiseOp::Fill { value, .. } => fill(l, *value, out),
        ElementwiseOp::AddN { .. } => add_n(l, ins, out),
        ElementwiseOp::Where => where_select(l, input(0)?, input(1)?, input(2)?, out),
    }
}

/// `out = f(x)` elementwise (`code` selects f, `a`/`b` are its parameters). Works slab by slab
/// when the tensors are split (input and output have the same shape, so the same slabs).
pub(crate) fn map(
    l: &mut Lowering,
    code: u32,
    a: f32,
    b: f32,
    x: &Operand,
    out: &Operand,
) -> Result<()> {
    if x.numel() != out.numel() {
        return Err(Error::shape(format!(
            "elementwise: input {} and output {} differ",
            fmt_shape(&x.shape),
            fmt_shape(&out.shape)
        )));
    }
    for (j, range) in same_slabs(x, out, &MAP)? {
        let n = range.len();
        let u = ElementwiseParams {
            n: fit(n)?,
            op: code,
            a,
            b,
            ..Default::default()
        };
        l.specialized(code)
            .linear(MAP, n, u, vec![x.chunk(j)], vec![out.chunk(j)])?;
    }
    Ok(())
}

/// Slabs shared by same-shape operands: (slab index, element range). Both must be split the
/// same way (they are: same shape, same limit) or not at all.
pub(crate) fn same_slabs(
    a: &Operand,
    b: &Operand,
    kernel: &Kernel,
) -> Result<Vec<(usize, std::ops::Range<usize>)>> {
    if a.layout.chunks() == 1 && b.layout.chunks() == 1 {
        return Ok(vec![(0, 0..a.numel())]);
    }
    if a.layout != b.layout {
        return Err(Error::Unsupported(format!(
            "kernel {}: operands {} and {} are split into slabs differently",
            kernel.describe(),
            fmt_shape(&a.shape),
            fmt_shape(&b.shape)
        )));
    }
    Ok((0..a.layout.chunks())
        .map(|j| (j, a.layout.elem_range(j)))
        .collect())
}

fn fill(l: &mut Lowering, value: f32, out: &Operand) -> Result<()> {
    for j in 0..out.layout.chunks() {
        let n = out.layout.elem_range(j).len();
        let u = fill_uniform(n, value)?;
        l.linear(FILL, n, u, vec![], vec![out.chunk(j)])?;
    }
    Ok(())
}

/// Right-aligned NumPy broadcast strides of `shape` within `out` (0 on broadcast axes).
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Result<Vec<i64>> {
    if shape.len() > out.len() {
        return Err(Error::shape(format!(
            "cannot broadcast {} to {}",
            fmt_shape(shape),
            fmt_shape(out)
        )));
    }
    let own = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|k| {
            if k < lead {
                return Ok(0);
            }
            let d = shape[k - lead];
            if d == out[k] {
                Ok(if d == 1 { 0 } else { own[k - lead] as i64 })
            } else if d == 1 {
                Ok(0)
            } else {
                Err(Error::shape(format!(
                    "cannot broadcast {} to {}",
                    fmt_shape(shape),
                    fmt_shape(out)
                )))
            }
        })
        .collect()
}

/// `out = a ∘ b` with NumPy broadcasting (same shapes take the contiguous fast path).
pub(crate) fn binary(
    l: &mut Lowering,
    code: u32,
    a: &Operand,
    b: &Operand,
    out: &Operand,
) -> Result<()> {
    if a.shape == out.shape && b.shape == out.shape {
        let slabs_a = same_slabs(a, out, &BINARY)?;
        same_slabs(b, out, &BINARY)?;
        for (j, range) in slabs_a {
            let n = range.len();
            let u = binary_uniform(n, code, &[], &[vec![], vec![], vec![]])?;
            l.specialized(code).linear(
                BINARY,
                n,
                u,
                vec![a.chunk(j), b.chunk(j)],
                vec![out.chunk(j)],
            )?;
        }
        return Ok(());
    }
    let sa = broadcast_strides(&a.shape, &out.shape)?;
    let sb = broadcast_strides(&b.shape, &out.shape)?;
    let (shape, st) = simplify(&out.shape, &[sa, sb]);
    if shape.len() > MAX_BROADCAST_RANK {
        return Err(Error::Unsupported(format!(
            "broadcasting {} with {} needs {} axes; the GPU kernel supports {MAX_BROADCAST_RANK}",
            fmt_shape(&a.shape),
            fmt_shape(&b.shape),
            shape.len()
        )));
    }
    let n = out.numel();
    let u = binary_uniform(n, code, &shape, &[st[0].clone(), st[1].clone(), vec![]])?;
    let ins = vec![a.whole(&BINARY)?, b.whole(&BINARY)?];
    l.specialized(code)
        .linear(BINARY, n, u, ins, vec![out.whole(&BINARY)?])
}

/// The uniform block of `binary` / `where_select`: the (simplified) output `shape` and each
/// input's strides along it; an empty shape is the same-shape fast path.
fn binary_uniform(
    n: usize,
    code: u32,
    shape: &[usize],
    strides: &[Vec<i64>; 3],
) -> Result<ElementwiseParams> {
    Ok(ElementwiseParams {
        n: fit(n)?,
        op: code,
        rank: fit(shape.len())?,
        shape: vec4s(shape)?,
        strides0: vec4s(&strides[0])?,
        strides1: vec4s(&strides[1])?,
        strides2: vec4s(&strides[2])?,
        ..Default::default()
    })
}

fn add_n(l: &mut Lowering, ins: &[Operand], out: &Operand) -> Result<()> {
    match ins {
        [] => Err(Error::Backend("add_n without inputs".into())),
        [x] => map(l, MapCode::IDENTITY, 0.0, 0.0, x, out),
        [a, b, rest @ ..] => {
            binary(l, binary_code(BinaryFn::Add), a, b, out)?;
            for x in rest {
                for (j, range) in same_slabs(x, out, &ACCUMULATE)? {
                    let n = range.len();
                    let u = ElementwiseParams {
                        n: fit(n)?,
                        ..Default::default()
                    };
                    l.linear(ACCUMULATE, n, u, vec![x.chunk(j)], vec![out.chunk(j)])?;
                }
            }
            Ok(())
        }
    }
}

/// `where(cond, x, y)`: cond has x's shape or is 1-D over x's first axis (whole rows).
fn where_select(
    l: &mut Lowering,
    cond: &Operand,
    x: &Operand,
    y: &Operand,
    out: &Operand,
) -> Result<()> {
    let own = strides(&out.shape)
        .iter()
        .map(|&s| s as i64)
        .collect::<Vec<_>>();
    let sc: Vec<i64> = if cond.shape == out.shape {
        own.clone()
    } else if cond.shape.len() == 1 && out.shape.first() == cond.shape.first() {
        (0..out.shape.len()).map(|k| i64::from(k == 0)).collect()
    } else {
        return Err(Error::shape(format!(
            "where: condition {} does not fit {}",
            fmt_shape(&cond.shape),
            fmt_shape(&out.shape)
        )));
    };
    let (shape, st) = simplify(&out.shape, &[sc, own.clone(), own]);
    if shape.len() > MAX_BROADCAST_RANK {
        return Err(Error::Unsupported(format!(
            "where on {} has too many axes for the GPU kernel",
            fmt_shape(&out.shape)
        )));
    }
    let n = out.numel();
    let u = binary_uniform(n, 0, &shape, &[st[0].clone(), st[1].clone(), st[2].clone()])?;
    l.linear(
        WHERE,
        n,
        u,
        vec![cond.whole(&WHERE)?, x.whole(&WHERE)?, y.whole(&WHERE)?],
        vec![out.whole(&WHERE)?],
    )
}
