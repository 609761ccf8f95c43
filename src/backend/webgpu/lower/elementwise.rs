//! Elementwise operators → `elementwise.wgsl` (`map`, `binary`, `accumulate`, `where_select`).

use crate::error::{fmt_shape, Error, Result};
use crate::ops::elementwise::{BinaryFn, ElementwiseOp, UnaryFn};
use crate::tensor::DType;

use super::{simplify, strides, Lowering, Operand, U};
use crate::backend::webgpu::kernels::{Kernel, ACCUMULATE, BINARY, FILL, MAP, WHERE};

/// Most axes of a broadcast iteration after merging (the shader's arrays hold 8).
const MAX_BROADCAST_RANK: usize = 8;

/// `map` op codes (see `map_value` in elementwise.wgsl).
pub(crate) mod code {
    pub const SCALAR_RHS: u32 = 64;
    pub const SCALAR_LHS: u32 = 96;
    pub const CLIP: u32 = 128;
    pub const HARD_SIGMOID: u32 = 129;
    pub const CAST: u32 = 130;
    pub const IDENTITY: u32 = 131;
    pub const SOFTRELU: u32 = 132;
    pub const LEAKY: u32 = 133;
    pub const ELU: u32 = 134;
    pub const SELU: u32 = 135;
    pub const GELU: u32 = 136;
    pub const SMOOTH_L1: u32 = 138;
    pub const SIGMOID: u32 = 40;
    pub const TANH: u32 = 23;
    pub const SOFTSIGN: u32 = 41;
    /// Binary op code of PReLU (x, slope).
    pub const PRELU: u32 = 18;
}

pub(crate) fn unary_code(f: UnaryFn) -> u32 {
    use UnaryFn::*;
    match f {
        Abs => 0,
        Sign => 1,
        Negative => 2,
        Reciprocal => 3,
        Square => 4,
        Sqrt => 5,
        Rsqrt => 6,
        Cbrt => 7,
        Rcbrt => 8,
        Exp => 9,
        Expm1 => 10,
        Log => 11,
        Log2 => 12,
        Log10 => 13,
        Log1p => 14,
        Sin => 15,
        Cos => 16,
        Tan => 17,
        Arcsin => 18,
        Arccos => 19,
        Arctan => 20,
        Sinh => 21,
        Cosh => 22,
        Tanh => 23,
        Arcsinh => 24,
        Arccosh => 25,
        Arctanh => 26,
        Degrees => 27,
        Radians => 28,
        Floor => 29,
        Ceil => 30,
        Round => 31,
        Rint => 32,
        Trunc => 33,
        Fix => 34,
        Erf => 35,
        Erfinv => 36,
        Gamma => 37,
        Gammaln => 38,
        Relu => 39,
        Sigmoid => 40,
        Softsign => 41,
        LogicalNot => 42,
    }
}

pub(crate) fn binary_code(f: BinaryFn) -> u32 {
    use BinaryFn::*;
    match f {
        Add => 0,
        Sub => 1,
        Mul => 2,
        Div => 3,
        Maximum => 4,
        Minimum => 5,
        Power => 6,
        Hypot => 7,
        Mod => 8,
        Equal => 9,
        NotEqual => 10,
        Greater => 11,
        GreaterEqual => 12,
        Lesser => 13,
        LesserEqual => 14,
        LogicalAnd => 15,
        LogicalOr => 16,
        LogicalXor => 17,
        // 18 is PReLU (activation lowering).
        IntDiv => 19,
    }
}

fn cast_code(d: DType) -> u32 {
    match d {
        DType::F32 | DType::F64 => 0,
        DType::F16 => 1,
        DType::BF16 => 2,
        DType::Bool => 3,
        DType::I32 => 4,
        DType::I64 => 5,
        DType::U8 => 6,
        DType::I8 => 7,
        DType::I16 => 8,
        DType::U16 => 9,
        DType::U32 => 10,
        DType::U64 => 11,
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
                code::SCALAR_LHS
            } else {
                code::SCALAR_RHS
            };
            map(l, base + binary_code(*op), *scalar, 0.0, input(0)?, out)
        }
        ElementwiseOp::Unary { op, .. } => map(l, unary_code(*op), 0.0, 0.0, input(0)?, out),
        ElementwiseOp::SmoothL1 { sigma } => map(l, code::SMOOTH_L1, *sigma, 0.0, input(0)?, out),
        ElementwiseOp::HardSigmoid { alpha, beta } => {
            map(l, code::HARD_SIGMOID, *alpha, *beta, input(0)?, out)
        }
        ElementwiseOp::Clip { a_min, a_max } => map(l, code::CLIP, *a_min, *a_max, input(0)?, out),
        ElementwiseOp::Cast { dtype } => map(
            l,
            code::CAST,
            f32::from_bits(cast_code(*dtype)),
            0.0,
            input(0)?,
            out,
        ),
        ElementwiseOp::Identity { .. } => map(l, code::IDENTITY, 0.0, 0.0, input(0)?, out),
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
        let u = U::new()
            .u(n)
            .bits(code)
            .u(0)
            .u(0)
            .f(a)
            .f(b)
            .u(0)
            .u(0)
            .u(0)
            .u(0)
            .u(0)
            .u(0);
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
        let u = U::new().u(n).u(0).i(0).i(0).f(value).u(0).u(0).u(0);
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
            let u = binary_uniform(n, code, 0, &[], &[vec![], vec![], vec![]]);
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
    let u = binary_uniform(
        n,
        code,
        shape.len(),
        &shape,
        &[st[0].clone(), st[1].clone(), vec![]],
    );
    let ins = vec![a.whole(&BINARY)?, b.whole(&BINARY)?];
    l.specialized(code)
        .linear(BINARY, n, u, ins, vec![out.whole(&BINARY)?])
}

fn binary_uniform(n: usize, code: u32, rank: usize, shape: &[usize], strides: &[Vec<i64>; 3]) -> U {
    let mut u = U::new()
        .u(n)
        .bits(code)
        .u(rank)
        .u(0)
        .f(0.0)
        .f(0.0)
        .u(0)
        .u(0)
        .u(0)
        .u(0)
        .u(0)
        .u(0);
    u = u.u_array(shape, 8);
    for s in strides {
        u = u.i_array(s, 8);
    }
    u
}

fn add_n(l: &mut Lowering, ins: &[Operand], out: &Operand) -> Result<()> {
    match ins {
        [] => Err(Error::Backend("add_n without inputs".into())),
        [x] => map(l, code::IDENTITY, 0.0, 0.0, x, out),
        [a, b, rest @ ..] => {
            binary(l, binary_code(BinaryFn::Add), a, b, out)?;
            for x in rest {
                for (j, range) in same_slabs(x, out, &ACCUMULATE)? {
                    let n = range.len();
                    let u = U::new()
                        .u(n)
                        .u(0)
                        .u(0)
                        .u(0)
                        .f(0.0)
                        .f(0.0)
                        .u(0)
                        .u(0)
                        .u(0)
                        .u(0)
                        .u(0)
                        .u(0);
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
    let u = binary_uniform(
        n,
        0,
        shape.len(),
        &shape,
        &[st[0].clone(), st[1].clone(), st[2].clone()],
    );
    l.linear(
        WHERE,
        n,
        u,
        vec![cond.whole(&WHERE)?, x.whole(&WHERE)?, y.whole(&WHERE)?],
        vec![out.whole(&WHERE)?],
    )
}
