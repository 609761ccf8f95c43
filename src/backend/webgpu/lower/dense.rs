//! FullyConnected, dot and batch_dot → `gemm.wgsl`.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::dense::{DenseOp, Dot, FullyConnected};

use super::{BufRef, Lowering, Operand};
use crate::backend::webgpu::kernels::{GEMM, GEMV};
use crate::backend::webgpu::wgsl::{fit, EpilogueCode, GemmBias, GemmParams, GemmTiling};
use crate::ops::epilogue::{Epilogue, FusedAct};

/// One GEMM operand: (offset, row stride, column stride, batch stride) in elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat {
    pub off: usize,
    pub rs: usize,
    pub cs: usize,
    pub bs: usize,
}

/// A fused epilogue of a GEMM: `C = act(A·B + bias + R)`, with the residual R in a buffer at
/// an offset that corresponds to C's `c_off` (R is laid out as C).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GemmEpilogue {
    pub epilogue: Epilogue,
    pub residual: (BufRef, usize),
}

impl GemmEpilogue {
    pub const NONE: GemmEpilogue = GemmEpilogue {
        epilogue: Epilogue {
            residual: false,
            act: FusedAct::None,
        },
        residual: (BufRef::Dummy, 0),
    };
}

/// `C = A·B (+ bias)` for `batch` products of `m×k · k×n`, through `fused`; the bias is
/// (buffer, offset, [`GemmBias`] mode). `b_half`: B is stored in f16 (FullyConnected weights
/// uploaded in half precision).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    l: &mut Lowering,
    (m, n, k, batch): (usize, usize, usize, usize),
    a: (BufRef, Mat),
    b: (BufRef, Mat),
    c: (BufRef, Mat),
    bias: Option<(BufRef, usize, u32)>,
    fused: GemmEpilogue,
    b_half: bool,
) -> Result<()> {
    if m == 0 || n == 0 || batch == 0 {
        return Ok(());
    }
    let (bias_buf, bias_off, bias_mode) = bias.unwrap_or((BufRef::Dummy, 0, GemmBias::NONE));
    let (op, act_a, act_b) = EpilogueCode::of(fused.epilogue);
    let (res_buf, res_off) = fused.residual;
    let u = GemmParams {
        m: fit(m)?,
        n: fit(n)?,
        k: fit(k)?,
        bias_mode,
        a_off: fit(a.1.off)?,
        a_rs: fit(a.1.rs)?,
        a_cs: fit(a.1.cs)?,
        a_bs: fit(a.1.bs)?,
        b_off: fit(b.1.off)?,
        b_rs: fit(b.1.rs)?,
        b_cs: fit(b.1.cs)?,
        b_bs: fit(b.1.bs)?,
        c_off: fit(c.1.off)?,
        c_rs: fit(c.1.rs)?,
        c_cs: fit(c.1.cs)?,
        c_bs: fit(c.1.bs)?,
        bias_off: fit(bias_off)?,
        act_a,
        act_b,
        res_off: fit(res_off)?,
    };
    let reads = vec![a.0, b.0, bias_buf, res_buf];
    if m == 1 || n == 1 {
        // A matrix–vector product: a few outputs per workgroup (gemm.wgsl's `gemv`).
        let rows = GemmTiling::GEMV_ROWS as usize;
        let grid = [m.max(n).div_ceil(rows) as u32, 1, batch as u32];
        let kernel = GEMV.with_f16_weights(b_half);
        return l
            .specialized(op)
            .dispatch(kernel, u, reads, vec![c.0], grid);
    }
    let tile = GemmTiling::TILE as usize;
    let grid = [
        n.div_ceil(tile) as u32,
        m.div_ceil(tile) as u32,
        batch as u32,
    ];
    let kernel = GEMM.with_f16_weights(b_half);
    l.specialized(op)
        .dispatch(kernel, u, reads, vec![c.0], grid)
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &DenseOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let out = outs
        .first()
        .ok_or_else(|| Error::Backend("dense op without output".into()))?;
    match op {
        DenseOp::FullyConnected(fc) => fully_connected(l, fc, ins, out),
        DenseOp::Dot(d) => dot(l, d, false, ins, out),
        DenseOp::BatchDot(d) => dot(l, d, true, ins, out),
    }
}

/// `y = x·Wᵀ + b`: W is read transposed in place; when it is split into slabs of whole rows
/// (output features), each slab computes its block of output columns.
fn fully_connected(
    l: &mut Lowering,
    fc: &FullyConnected,
    ins: &[Operand],
    out: &Operand,
) -> Result<()> {
    let (x, w) = match ins {
        [x, w, ..] => (x, w),
        _ => {
            return Err(Error::Backend(
                "FullyConnected needs data and weight".into(),
            ))
        }
    };
    let bias = if fc.no_bias { None } else { ins.get(2) };
    let residual = if fc.epilogue.residual {
        ins.last()
    } else {
        None
    };
    let hidden = fc.num_hidden;
    let k = w.numel().checked_div(hidden).unwrap_or(0);
    let m = x.numel().checked_div(k).unwrap_or(0);
    if m * k != x.numel() || out.numel() != m * hidden {
        return Err(Error::shape(format!(
            "FullyConnected: data {}, weight {} and output {} do not match",
            fmt_shape(&x.shape),
            fmt_shape(&w.shape),
            fmt_shape(&out.shape)
        )));
    }
    let x_buf = x.whole(&GEMM)?;
    let y_buf = out.whole(&GEMM)?;
    let bias_buf = bias.map(|b| b.whole(&GEMM)).transpose()?;
    let res_buf = match residual {
        Some(r) => r.whole(&GEMM)?,
        None => BufRef::Dummy,
    };
    if w.layout.chunks() > 1 && w.layout.row_elems != k {
        return Err(Error::Unsupported(format!(
            "FullyConnected weight {} is split inside a row",
            fmt_shape(&w.shape)
        )));
    }
    for j in 0..w.layout.chunks() {
        let rows = if w.layout.chunks() == 1 {
            0..hidden
        } else {
            w.layout.row_range(j)
        };
        gemm(
            l,
            (m, rows.len(), k, 1),
            (
                x_buf,
                Mat {
                    off: 0,
                    rs: k,
                    cs: 1,
                    bs: 0,
                },
            ),
            (
                w.chunk(j),
                Mat {
                    off: 0,
                    rs: 1,
                    cs: k,
                    bs: 0,
                },
            ),
            (
                y_buf,
                Mat {
                    off: rows.start,
                    rs: hidden,
                    cs: 1,
                    bs: 0,
                },
            ),
            bias_buf.map(|b| (b, rows.start, GemmBias::PER_COLUMN)),
            // The residual is laid out as the output: its element for C's first is rows.start.
            GemmEpilogue {
                epilogue: fc.epilogue,
                residual: (res_buf, rows.start),
            },
            w.half,
        )?;
    }
    Ok(())
}

/// dot: `(a..., K)·(K, b...)` (or the transposed layouts); batch_dot: batched `(M, K)·(K, N)`.
fn dot(l: &mut Lowering, d: &Dot, batched: bool, ins: &[Operand], out: &Operand) -> Result<()> {
    let (a, b) = match ins {
        [a, b, ..] => (a, b),
        _ => return Err(Error::Backend("dot needs two inputs".into())),
    };
    let bad = || {
        Error::shape(format!(
            "dot: shapes {} and {} do not match",
            fmt_shape(&a.shape),
            fmt_shape(&b.shape)
        ))
    };
    let (batch, m, k, n) = if batched {
        let r = a.shape.len().checked_sub(2).ok_or_else(bad)?;
        let batch: usize = a.shape[..r].iter().product();
        let (m, k) = if d.transpose_a {
            (a.shape[r + 1], a.shape[r])
        } else {
            (a.shape[r], a.shape[r + 1])
        };
        let n = if d.transpose_b {
            b.shape[r]
        } else {
            *b.shape.get(r + 1).ok_or_else(bad)?
        };
        (batch, m, k, n)
    } else {
        let k = if d.transpose_a {
            *a.shape.first().ok_or_else(bad)?
        } else {
            *a.shape.last().ok_or_else(bad)?
        };
        if k == 0 {
            return Ok(());
        }
        (1, a.numel() / k, k, b.numel() / k)
    };
    if batch * m * n != out.numel() {
        return Err(bad());
    }
    let am = if d.transpose_a {
        Mat {
            off: 0,
            rs: 1,
            cs: m,
            bs: m * k,
        }
    } else {
        Mat {
            off: 0,
            rs: k,
            cs: 1,
            bs: m * k,
        }
    };
    let bm = if d.transpose_b {
        Mat {
            off: 0,
            rs: 1,
            cs: k,
            bs: k * n,
        }
    } else {
        Mat {
            off: 0,
            rs: n,
            cs: 1,
            bs: k * n,
        }
    };
    gemm(
        l,
        (m, n, k, batch),
        (a.whole(&GEMM)?, am),
        (b.whole(&GEMM)?, bm),
        (
            out.whole(&GEMM)?,
            Mat {
                off: 0,
                rs: n,
                cs: 1,
                bs: m * n,
            },
        ),
        None,
        GemmEpilogue::NONE,
        b.half,
    )
}
