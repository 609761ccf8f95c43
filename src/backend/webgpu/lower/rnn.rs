//! The fused RNN → `rnn.wgsl`: per layer, one dispatch for the input projection of every time
//! step (`rnn_input`), one for the recurrence (`rnn_recur`, one workgroup per direction and
//! batch element), and a copy of the final cell state. Intermediate layer outputs and the work
//! buffer are build-time buffers of the step (allocated once with the plan).

use crate::error::{Error, Result};
use crate::ops::rnn::{RnnMode, RnnOp};

use super::{BufRef, Lowering, Operand};
use crate::backend::webgpu::kernels::{RNN_INPUT, RNN_RECUR};
use crate::backend::webgpu::wgsl::{fit, RnnCell, RnnParams};

/// A zero-filled buffer of `n` values owned by the plan, used as scratch by this step only.
fn scratch(l: &mut Lowering, n: usize) -> BufRef {
    l.constant_f32(&vec![0.0; n.max(1)])
}

pub(crate) fn lower(l: &mut Lowering, op: &RnnOp, ins: &[Operand], outs: &[Operand]) -> Result<()> {
    let (x, params, h0) = match ins {
        [x, params, h0, ..] => (x, params, h0),
        _ => {
            return Err(Error::Backend(
                "RNN needs data, parameters and state".into(),
            ))
        }
    };
    // Inputs: data, parameters, state, state_cell (lstm), sequence_length (ignored, as MXNet's
    // CPU operator does).
    let c0 = if op.mode == RnnMode::Lstm {
        ins.get(3)
    } else {
        None
    };
    let y = outs
        .first()
        .ok_or_else(|| Error::Backend("RNN without output".into()))?;
    let (t_len, n, i) = (x.shape[0], x.shape[1], x.shape[2]);
    let (cells, total) = op.param_layout(i);
    if params.numel() != total {
        return Err(Error::shape(format!(
            "RNN: parameters hold {} values, expected {total}",
            params.numel()
        )));
    }
    let (g, h, p, d) = (op.mode.gates(), op.hidden, op.state_width(), op.dirs());
    let gh = g * h;
    let ld = op.layers * d;
    let zero_h = h0.numel() != ld * n * p;
    let zero_c = c0.map_or(true, |c| c.numel() != ld * n * h);

    let gx_len = d * t_len * n * gh;
    let gr_off = gx_len;
    let c_off = gr_off + d * n * gh;
    let hraw_off = c_off + d * n * h;
    let h_off = hraw_off + d * n * h;
    let work = scratch(l, h_off + d * n * p);
    let layer_len = t_len * n * d * p;
    let bufs = if op.layers > 1 {
        [scratch(l, layer_len), scratch(l, layer_len)]
    } else {
        [BufRef::Dummy, BufRef::Dummy]
    };
    let hn = match (op.state_outputs, outs.get(1)) {
        (true, Some(o)) => o.whole(&RNN_RECUR)?,
        _ => scratch(l, ld * n * p),
    };
    let cn = match (op.state_outputs && op.mode == RnnMode::Lstm, outs.get(2)) {
        (true, Some(o)) => Some(o.whole(&RNN_RECUR)?),
        _ => None,
    };
    let params = params.whole(&RNN_RECUR)?;
    let h0b = if zero_h {
        BufRef::Dummy
    } else {
        h0.whole(&RNN_RECUR)?
    };
    let c0b = match c0 {
        Some(c) if !zero_c => c.whole(&RNN_RECUR)?,
        _ => BufRef::Dummy,
    };
    let yb = y.whole(&RNN_RECUR)?;
    let xb = x.whole(&RNN_INPUT)?;

    for layer in 0..op.layers {
        let last = layer + 1 == op.layers;
        let input = if layer == 0 {
            xb
        } else {
            bufs[(layer - 1) % 2]
        };
        let output = if last { yb } else { bufs[layer % 2] };
        let cell = |dir: usize| cells[layer * d + dir.min(d - 1)];
        let u = RnnParams {
            t_len: fit(t_len)?,
            n: fit(n)?,
            p: fit(p)?,
            h: fit(h)?,
            gh: fit(gh)?,
            ci: fit(cell(0).input)?,
            dirs: fit(d)?,
            mode: match op.mode {
                RnnMode::Lstm => RnnCell::LSTM,
                RnnMode::Gru => RnnCell::GRU,
                RnnMode::RnnRelu => RnnCell::RELU,
                RnnMode::RnnTanh => RnnCell::TANH,
            },
            state0: fit(layer * d)?,
            zero_h: zero_h.into(),
            zero_c: zero_c.into(),
            has_proj: op.projection.is_some().into(),
            gr_off: fit(gr_off)?,
            c_off: fit(c_off)?,
            hraw_off: fit(hraw_off)?,
            h_off: fit(h_off)?,
            w_i0: fit(cell(0).w_i)?,
            w_i1: fit(cell(1).w_i)?,
            w_h0: fit(cell(0).w_h)?,
            w_h1: fit(cell(1).w_h)?,
            w_r0: fit(cell(0).w_r.unwrap_or(0))?,
            w_r1: fit(cell(1).w_r.unwrap_or(0))?,
            b_i0: fit(cell(0).b_i)?,
            b_i1: fit(cell(1).b_i)?,
            b_h0: fit(cell(0).b_h)?,
            b_h1: fit(cell(1).b_h)?,
            total: fit(gx_len)?,
            ..Default::default()
        };
        l.linear(RNN_INPUT, gx_len, u, vec![input, params], vec![work])?;
        l.per_row(
            RNN_RECUR,
            d * n,
            u,
            vec![params, h0b, c0b],
            vec![output, work, hn],
        )?;
        if let Some(cn) = cn {
            // The cell states of this layer, (dir, b, j), are rows layer·D.. of c_n.
            l.copy(work, c_off, cn, layer * d * n * h, d * n * h);
        }
    }
    Ok(())
}
