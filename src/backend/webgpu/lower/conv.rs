//! Convolution, Deconvolution and UpSampling → `conv.wgsl` (implicit GEMM, depthwise, deconv
//! gather) and `copy.wgsl` (nearest upsampling).

use crate::error::{fmt_shape, Error, Result};
use crate::ops::conv::{ConvOp, Convolution, Deconvolution, Geom, SampleType, UpSampling};
use crate::ops::epilogue::Epilogue;

use super::{batch_pieces, copy_uniform, strides, BufRef, Lowering, Operand};
use crate::backend::webgpu::kernels::{CONV, CONV_DEPTHWISE, CONV_GEMV, DECONV, STRIDED_COPY};
use crate::backend::webgpu::wgsl::{fit, ConvParams, ConvTiling, ConvVariant, EpilogueCode};

pub(crate) fn lower(
    l: &mut Lowering,
    op: &ConvOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let out = outs
        .first()
        .ok_or_else(|| Error::Backend("conv without output".into()))?;
    match op {
        ConvOp::Convolution(c) => convolution(l, c, ins, out),
        ConvOp::Deconvolution(d) => deconvolution(l, d, ins, out),
        ConvOp::UpSampling(u) => upsampling(l, u, ins, out),
    }
}

/// A convolution-like op at given shapes: the op's own resolved geometry ([`Geom`], from
/// src/ops/conv.rs, as the CPU backend reads it) with the batch, channel and group counts.
struct Conv {
    batch: usize,
    channels: usize,
    filters: usize,
    groups: usize,
    geom: Geom,
}

impl Conv {
    /// `geom` resolved by the op for data `x`; the output `y` must be what it gives.
    fn new(op: &str, geom: Geom, groups: usize, x: &[usize], y: &[usize]) -> Result<Conv> {
        let nd = x.len().saturating_sub(2);
        let expected = geom.output[3 - nd.min(3)..].to_vec();
        if y.len() != x.len() || x.len() < 3 || y[0] != x[0] || y[2..] != expected[..] {
            return Err(Error::shape(format!(
                "{op}: output {} does not match data {}",
                fmt_shape(y),
                fmt_shape(x)
            )));
        }
        Ok(Conv {
            batch: x[0],
            channels: x[1],
            filters: y[1],
            groups: groups.max(1),
            geom,
        })
    }

    /// The conv.wgsl uniform block of one dispatch: `m` filters per group from `f_base` (within
    /// group `group_base` on), `n_total` output positions, element offsets of the data, weight,
    /// output and residual, and the fused epilogue.
    #[allow(clippy::too_many_arguments)]
    fn uniform(
        &self,
        m: usize,
        f_base: usize,
        group_base: usize,
        n_total: usize,
        [x_off, w_off, out_off, res_off]: [usize; 4],
        has_bias: bool,
        epilogue: Epilogue,
    ) -> Result<ConvParams> {
        let (_, act_a, act_b) = EpilogueCode::of(epilogue);
        let g = &self.geom;
        Ok(ConvParams {
            batch: fit(self.batch)?,
            channels: fit(self.channels)?,
            filters: fit(self.filters)?,
            groups: fit(self.groups)?,
            cg: fit(self.channels / self.groups)?,
            fg: fit(self.filters / self.groups)?,
            m: fit(m)?,
            f_base: fit(f_base)?,
            in_d: fit(g.input[0])?,
            in_h: fit(g.input[1])?,
            in_w: fit(g.input[2])?,
            in_size: fit(g.input_size())?,
            out_d: fit(g.output[0])?,
            out_h: fit(g.output[1])?,
            out_w: fit(g.output[2])?,
            out_size: fit(g.output_size())?,
            k_d: fit(g.kernel[0])?,
            k_h: fit(g.kernel[1])?,
            k_w: fit(g.kernel[2])?,
            k_size: fit(g.kernel_size())?,
            s_d: fit(g.stride[0])?,
            s_h: fit(g.stride[1])?,
            s_w: fit(g.stride[2])?,
            group_base: fit(group_base)?,
            d_d: fit(g.dilate[0])?,
            d_h: fit(g.dilate[1])?,
            d_w: fit(g.dilate[2])?,
            n_total: fit(n_total)?,
            p_d: fit(g.pad[0])?,
            p_h: fit(g.pad[1])?,
            p_w: fit(g.pad[2])?,
            has_bias: has_bias.into(),
            x_off: fit(x_off)?,
            w_off: fit(w_off)?,
            out_off: fit(out_off)?,
            bias_off: 0,
            act_a,
            act_b,
            res_off: fit(res_off)?,
            ..Default::default()
        })
    }
}

fn convolution(l: &mut Lowering, c: &Convolution, ins: &[Operand], out: &Operand) -> Result<()> {
    let (x, w) = match ins {
        [x, w, ..] => (x, w),
        _ => return Err(Error::Backend("Convolution needs data and weight".into())),
    };
    let bias = if c.no_bias { None } else { ins.get(2) };
    let residual = if c.epilogue.residual {
        ins.last()
    } else {
        None
    };
    let geom = c.geometry(&x.shape)?;
    let mut g = Conv::new("Convolution", geom, c.num_group, &x.shape, &out.shape)?;
    let (cg, fg) = (g.channels / g.groups, g.filters / g.groups);
    let b_buf = match bias {
        Some(b) => b.whole(&CONV)?,
        None => BufRef::Dummy,
    };
    let kdim = cg * g.geom.kernel_size();
    if w.layout.chunks() > 1 && w.layout.row_elems != kdim {
        return Err(Error::Unsupported(format!(
            "Convolution weight {} is split inside a filter",
            fmt_shape(&w.shape)
        )));
    }
    let depthwise = cg == 1 && w.layout.chunks() == 1;
    let kernel = if depthwise { &CONV_DEPTHWISE } else { &CONV };
    let epilogue = c.epilogue;
    let pointwise =
        g.geom.kernel == [1, 1, 1] && g.geom.stride == [1, 1, 1] && g.geom.pad == [0, 0, 0];
    let (epilogue_code, _, _) = EpilogueCode::of(epilogue);
    let variant = epilogue_code | if pointwise { ConvVariant::POINTWISE } else { 0 };
    // Images are processed in pieces when the data, the output or the residual is split into
    // slabs.
    let mut operands = vec![x, out];
    operands.extend(residual);
    for piece in batch_pieces(&operands, kernel)? {
        g.batch = piece.count;
        let ((x_buf, x_off), (y_buf, y_off)) = (piece.slabs[0], piece.slabs[1]);
        let (r_buf, r_off) = piece.slabs.get(2).copied().unwrap_or((BufRef::Dummy, 0));
        if depthwise {
            // One thread per run of outputs along a row.
            let [out_d, out_h, out_w] = g.geom.output;
            let n =
                g.batch * g.filters * out_d * out_h * out_w.div_ceil(ConvTiling::DW_RUN as usize);
            let offsets = [x_off, 0, y_off, r_off];
            let u = g.uniform(fg, 0, 0, n, offsets, bias.is_some(), epilogue)?;
            l.specialized(epilogue_code).linear(
                CONV_DEPTHWISE.with_f16_weights(w.half),
                n,
                u,
                vec![x_buf, w.chunk(0), b_buf, r_buf],
                vec![y_buf],
            )?;
            continue;
        }
        let n_total = g.batch * g.geom.output_size();
        let tile = ConvTiling::TILE as usize;
        let tiles_n = n_total.div_ceil(tile) as u32;
        // One column (a classifier head on pooled features): a matrix–vector product, a few
        // filters per workgroup, instead of 64-column tiles with one column used.
        let gemv = pointwise && n_total == 1;
        let kernel = if gemv { CONV_GEMV } else { CONV }.with_f16_weights(w.half);
        let grid = |rows: usize, z: usize| {
            if gemv {
                [
                    rows.div_ceil(ConvTiling::GEMV_ROWS as usize) as u32,
                    1,
                    z as u32,
                ]
            } else {
                [tiles_n, rows.div_ceil(tile) as u32, z as u32]
            }
        };
        if w.layout.chunks() == 1 {
            let offsets = [x_off, 0, y_off, r_off];
            let u = g.uniform(fg, 0, 0, n_total, offsets, bias.is_some(), epilogue)?;
            let reads = vec![x_buf, w.chunk(0), b_buf, r_buf];
            l.specialized(variant)
                .dispatch(kernel, u, reads, vec![y_buf], grid(fg, g.groups))?;
            continue;
        }
        // The weight is split into slabs of whole filters: one dispatch per (slab, group)
        // overlap.
        for j in 0..w.layout.chunks() {
            let rows = w.layout.row_range(j);
            for grp in 0..g.groups {
                let (lo, hi) = (rows.start.max(grp * fg), rows.end.min((grp + 1) * fg));
                if lo >= hi {
                    continue;
                }
                let offsets = [x_off, (lo - rows.start) * kdim, y_off, r_off];
                let u = g.uniform(
                    hi - lo,
                    lo - grp * fg,
                    grp,
                    n_total,
                    offsets,
                    bias.is_some(),
                    epilogue,
                )?;
                let reads = vec![x_buf, w.chunk(j), b_buf, r_buf];
                l.specialized(variant)
                    .dispatch(kernel, u, reads, vec![y_buf], grid(hi - lo, 1))?;
            }
        }
    }
    Ok(())
}

fn deconvolution(
    l: &mut Lowering,
    d: &Deconvolution,
    ins: &[Operand],
    out: &Operand,
) -> Result<()> {
    let (x, w) = match ins {
        [x, w, ..] => (x, w),
        _ => return Err(Error::Backend("Deconvolution needs data and weight".into())),
    };
    let bias = if d.no_bias { None } else { ins.get(2) };
    let geom = d.geometry(&x.shape)?;
    let mut g = Conv::new("Deconvolution", geom, d.num_group, &x.shape, &out.shape)?;
    let b = match bias {
        Some(b) => b.whole(&DECONV)?,
        None => BufRef::Dummy,
    };
    let w_buf = w.whole(&DECONV)?;
    for piece in batch_pieces(&[x, out], &DECONV)? {
        g.batch = piece.count;
        let ((x_buf, x_off), (y_buf, y_off)) = (piece.slabs[0], piece.slabs[1]);
        let n = g.batch * g.filters * g.geom.output_size();
        let offsets = [x_off, 0, y_off, 0];
        let u = g.uniform(0, 0, 0, n, offsets, bias.is_some(), Epilogue::default())?;
        l.linear(DECONV, n, u, vec![x_buf, w_buf, b], vec![y_buf])?;
    }
    Ok(())
}

fn upsampling(l: &mut Lowering, u: &UpSampling, ins: &[Operand], out: &Operand) -> Result<()> {
    match &u.sample_type {
        SampleType::Bilinear(d) => deconvolution(l, d, ins, out),
        SampleType::Nearest { sum, .. } => {
            let [n, c_out, oh, ow] = match out.shape[..] {
                [a, b, c, d] => [a, b, c, d],
                _ => {
                    return Err(Error::shape(format!(
                        "UpSampling: output {} is not 4-D",
                        fmt_shape(&out.shape)
                    )))
                }
            };
            let out_strides = strides(&out.shape);
            let y = out.whole(&STRIDED_COPY)?;
            let mut channel = 0usize;
            for (i, x) in ins.iter().enumerate() {
                let [xn, c, h, w] = match x.shape[..] {
                    [a, b, c, d] => [a, b, c, d],
                    _ => {
                        return Err(Error::shape(format!(
                            "UpSampling: input {} is not 4-D",
                            fmt_shape(&x.shape)
                        )))
                    }
                };
                if xn != n || h == 0 || w == 0 || oh % h != 0 || ow % w != 0 {
                    return Err(Error::shape(format!(
                        "UpSampling: input {} does not divide output {}",
                        fmt_shape(&x.shape),
                        fmt_shape(&out.shape)
                    )));
                }
                let (sh, sw) = (oh / h, ow / w);
                // Iterate (n, c, h, sh, w, sw); the source ignores the repeat axes.
                let shape = [n, c, h, sh, w, sw];
                let src = [(c * h * w) as i64, (h * w) as i64, w as i64, 0, 1, 0];
                let dst = [
                    out_strides[0] as i64,
                    out_strides[1] as i64,
                    (sh * ow) as i64,
                    ow as i64,
                    sw as i64,
                    1,
                ];
                let dst_off = if *sum { 0 } else { channel * oh * ow };
                let accumulate = *sum && i > 0;
                let total = shape.iter().product();
                let uni = copy_uniform(total, &shape, 0, dst_off as i64, &src, &dst, accumulate)?;
                l.linear(
                    STRIDED_COPY,
                    total,
                    uni,
                    vec![x.whole(&STRIDED_COPY)?],
                    vec![y],
                )?;
                channel += c;
            }
            if !*sum && channel != c_out {
                return Err(Error::shape(format!(
                    "UpSampling: inputs give {channel} channels, output has {c_out}"
                )));
            }
            Ok(())
        }
    }
}
