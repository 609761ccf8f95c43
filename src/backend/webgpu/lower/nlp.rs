//! Sequence and Transformer operators → `nlp.wgsl`; `_contrib_arange_like` is a constant of
//! the plan (its values depend only on the shape) copied into place.

use crate::error::{Error, Result};
use crate::ops::sequence::{SequenceKind, SequenceOp};
use crate::ops::transformer::{arange_values, Interleaved, TransformerOp};
use crate::tensor::numel;

use super::{Lowering, Operand};
use crate::backend::webgpu::kernels::{DIV_SCALAR, INTERLEAVED_QK, INTERLEAVED_VALATT, SEQUENCE};
use crate::backend::webgpu::wgsl::{fit, AttentionCode, NlpParams, SequenceCode};

#[allow(clippy::too_many_arguments)]
fn uniform(
    n: usize,
    kind: u32,
    axis: usize,
    t_len: usize,
    batch: usize,
    inner: usize,
    use_len: bool,
    heads: usize,
    value: f32,
    tk: usize,
) -> Result<NlpParams> {
    Ok(NlpParams {
        n: fit(n)?,
        kind,
        axis: fit(axis)?,
        t_len: fit(t_len)?,
        batch: fit(batch)?,
        inner: fit(inner)?,
        use_len: use_len.into(),
        heads: fit(heads)?,
        value,
        tk: fit(tk)?,
        ..Default::default()
    })
}

fn first<'a>(v: &'a [Operand], what: &str) -> Result<&'a Operand> {
    v.first()
        .ok_or_else(|| Error::Backend(format!("{what}: missing operand")))
}

pub(crate) fn lower_sequence(
    l: &mut Lowering,
    op: &SequenceOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let (x, y) = (first(ins, "sequence")?, first(outs, "sequence")?);
    let (batch, t_len) = op.batch_time(&x.shape);
    let inner = numel(&x.shape[2..]);
    let kind = match op.kind {
        SequenceKind::Mask => SequenceCode::MASK,
        SequenceKind::Last => SequenceCode::LAST,
        SequenceKind::Reverse => SequenceCode::REVERSE,
    };
    let mut bufs = vec![x.whole(&SEQUENCE)?];
    bufs.push(match ins.get(1) {
        Some(len) if op.use_length => len.whole(&SEQUENCE)?,
        _ => super::BufRef::Dummy,
    });
    let n = y.numel();
    let u = uniform(
        n,
        kind,
        op.axis,
        t_len,
        batch,
        inner,
        op.use_length,
        1,
        op.value,
        0,
    )?;
    l.linear(SEQUENCE, n, u, bufs, vec![y.whole(&SEQUENCE)?])
}

pub(crate) fn lower_transformer(
    l: &mut Lowering,
    op: &TransformerOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let y = first(outs, "transformer op")?;
    let n = y.numel();
    match *op {
        TransformerOp::ArangeLike {
            start,
            step,
            repeat,
            ..
        } => {
            let c = l.constant_f32(&arange_values(start, step, repeat, n));
            l.copy(c, 0, y.whole(&SEQUENCE)?, 0, n);
            Ok(())
        }
        TransformerOp::DivSqrtDim => {
            let x = first(ins, "div_sqrt_dim")?;
            let s = (*x.shape.last().unwrap_or(&1) as f32).sqrt();
            let u = uniform(n, 0, 0, 0, 0, 0, false, 0, s, 0)?;
            l.linear(
                DIV_SCALAR,
                n,
                u,
                vec![x.whole(&DIV_SCALAR)?],
                vec![y.whole(&DIV_SCALAR)?],
            )
        }
        TransformerOp::Matmul { kind, heads } => {
            let shapes: Vec<&[usize]> = ins.iter().map(|o| o.shape.as_slice()).collect();
            let g = TransformerOp::geometry(kind, heads, &shapes)?;
            let (kernel, code, in0, in1) = match kind {
                Interleaved::SelfQk => (INTERLEAVED_QK, AttentionCode::SELF, &ins[0], &ins[0]),
                Interleaved::EncDecQk => (INTERLEAVED_QK, AttentionCode::ENC_DEC, &ins[0], &ins[1]),
                Interleaved::SelfValAtt => {
                    (INTERLEAVED_VALATT, AttentionCode::SELF, &ins[0], &ins[1])
                }
                Interleaved::EncDecValAtt => {
                    (INTERLEAVED_VALATT, AttentionCode::ENC_DEC, &ins[0], &ins[1])
                }
            };
            let u = uniform(
                n,
                code,
                0,
                g.tq,
                g.batch,
                g.head_dim,
                false,
                g.heads,
                1.0 / (g.head_dim as f32).sqrt(),
                g.tk,
            )?;
            l.linear(
                kernel,
                n,
                u,
                vec![in0.whole(&kernel)?, in1.whole(&kernel)?],
                vec![y.whole(&kernel)?],
            )
        }
    }
}
