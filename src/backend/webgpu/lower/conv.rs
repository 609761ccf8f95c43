//! Convolution, Deconvolution and UpSampling → `conv.wgsl` (implicit GEMM, depthwise, deconv
//! gather) and `copy.wgsl` (nearest upsampling).

use crate::error::{fmt_shape, Error, Result};
use crate::ops::conv::{ConvOp, Convolution, Deconvolution, SampleType, UpSampling, Window};
use crate::ops::epilogue::{Epilogue, FusedAct};

use super::{batch_pieces, strides, BufRef, Lowering, Operand, U};
use crate::backend::webgpu::kernels::{CONV, CONV_DEPTHWISE, DECONV, STRIDED_COPY};

/// Left-pads a per-axis tuple to (D, H, W).
fn to3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    let n = v.len().min(3);
    out[3 - n..].copy_from_slice(&v[v.len() - n..]);
    out
}

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

/// The geometry shared by all conv kernels, normalised to three spatial axes.
struct Geometry {
    batch: usize,
    channels: usize,
    filters: usize,
    groups: usize,
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    dilate: [usize; 3],
    pad: [usize; 3],
}

impl Geometry {
    fn new(
        window: &Window,
        pad: &[usize],
        groups: usize,
        x: &[usize],
        y: &[usize],
    ) -> Result<Geometry> {
        let nd = window.ndim();
        if x.len() != nd + 2 || y.len() != nd + 2 {
            return Err(Error::shape(format!(
                "conv: data {} / output {} do not match a {nd}-D kernel",
                fmt_shape(x),
                fmt_shape(y)
            )));
        }
        Ok(Geometry {
            batch: x[0],
            channels: x[1],
            filters: y[1],
            groups: groups.max(1),
            input: to3(&x[2..], 1),
            output: to3(&y[2..], 1),
            kernel: to3(&window.kernel, 1),
            stride: to3(&window.stride, 1),
            dilate: to3(&window.dilate, 1),
            pad: to3(pad, 0),
        })
    }

    fn in_size(&self) -> usize {
        self.input.iter().product()
    }
    fn out_size(&self) -> usize {
        self.output.iter().product()
    }
    fn k_size(&self) -> usize {
        self.kernel.iter().product()
    }

    /// The conv.wgsl uniform block. `offsets`: data, weight, output, residual.
    #[allow(clippy::too_many_arguments)]
    fn uniform(
        &self,
        m: usize,
        f_base: usize,
        group_base: usize,
        n_total: usize,
        offsets: [usize; 4],
        has_bias: bool,
        epilogue: Epilogue,
    ) -> U {
        // conv.wgsl's `act()`: 0 none, 1 relu, 2 leaky (a = slope), 3 clip (a, b = bounds).
        let (act, a, b) = match epilogue.act {
            FusedAct::None => (0, 0.0, 0.0),
            FusedAct::Relu => (1, 0.0, 0.0),
            FusedAct::Leaky { slope } => (2, slope, 0.0),
            FusedAct::Clip { lo, hi } => (3, lo, hi),
        };
        let (cg, fg) = (self.channels / self.groups, self.filters / self.groups);
        U::new()
            .u(self.batch)
            .u(self.channels)
            .u(self.filters)
            .u(self.groups)
            .u(cg)
            .u(fg)
            .u(m)
            .u(f_base)
            .u(self.input[0])
            .u(self.input[1])
            .u(self.input[2])
            .u(self.in_size())
            .u(self.output[0])
            .u(self.output[1])
            .u(self.output[2])
            .u(self.out_size())
            .u(self.kernel[0])
            .u(self.kernel[1])
            .u(self.kernel[2])
            .u(self.k_size())
            .u(self.stride[0])
            .u(self.stride[1])
            .u(self.stride[2])
            .u(group_base)
            .u(self.dilate[0])
            .u(self.dilate[1])
            .u(self.dilate[2])
            .u(n_total)
            .u(self.pad[0])
            .u(self.pad[1])
            .u(self.pad[2])
            .u(has_bias as usize)
            .u(offsets[0])
            .u(offsets[1])
            .u(offsets[2])
            .u(0)
            .bits(act)
            .u(epilogue.residual as usize)
            .f(a)
            .f(b)
            .u(offsets[3])
            .u(0)
            .u(0)
            .u(0)
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
    let mut g = Geometry::new(&c.window, &c.window.pad, c.num_group, &x.shape, &out.shape)?;
    let (cg, fg) = (g.channels / g.groups, g.filters / g.groups);
    let b_buf = match bias {
        Some(b) => b.whole(&CONV)?,
        None => BufRef::Dummy,
    };
    let kdim = cg * g.k_size();
    if w.layout.chunks() > 1 && w.layout.row_elems != kdim {
        return Err(Error::Unsupported(format!(
            "Convolution weight {} is split inside a filter",
            fmt_shape(&w.shape)
        )));
    }
    let depthwise = cg == 1 && w.layout.chunks() == 1;
    let kernel = if depthwise { &CONV_DEPTHWISE } else { &CONV };
    let epilogue = c.epilogue;
    // Images are processed in pieces when the data, the output or the residual is split into
    // slabs.
    let mut operands = vec![x, out];
    operands.extend(residual);
    for piece in batch_pieces(&operands, kernel)? {
        g.batch = piece.count;
        let ((x_buf, x_off), (y_buf, y_off)) = (piece.slabs[0], piece.slabs[1]);
        let (r_buf, r_off) = piece.slabs.get(2).copied().unwrap_or((BufRef::Dummy, 0));
        if depthwise {
            let n = g.batch * g.filters * g.out_size();
            let offsets = [x_off, 0, y_off, r_off];
            let u = g.uniform(fg, 0, 0, n, offsets, bias.is_some(), epilogue);
            l.linear(
                CONV_DEPTHWISE,
                n,
                u,
                vec![x_buf, w.chunk(0), b_buf, r_buf],
                vec![y_buf],
            )?;
            continue;
        }
        let n_total = g.batch * g.out_size();
        let tiles_n = n_total.div_ceil(64) as u32;
        if w.layout.chunks() == 1 {
            let offsets = [x_off, 0, y_off, r_off];
            let u = g.uniform(fg, 0, 0, n_total, offsets, bias.is_some(), epilogue);
            let grid = [tiles_n, fg.div_ceil(64) as u32, g.groups as u32];
            let reads = vec![x_buf, w.chunk(0), b_buf, r_buf];
            l.dispatch(CONV, u, reads, vec![y_buf], grid)?;
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
                );
                let grid = [tiles_n, (hi - lo).div_ceil(64) as u32, 1];
                let reads = vec![x_buf, w.chunk(j), b_buf, r_buf];
                l.dispatch(CONV, u, reads, vec![y_buf], grid)?;
            }
        }
    }
    Ok(())
}

/// The left padding of a Deconvolution per spatial axis (derived from `target_shape` when set,
/// as in src/ops/conv.rs).
fn deconv_pad(d: &Deconvolution, x: &[usize]) -> Vec<usize> {
    let w = &d.window;
    match &d.target_shape {
        None => w.pad.clone(),
        Some(t) => (0..w.ndim())
            .map(|a| {
                let i = x.get(2 + a).copied().unwrap_or(1) as i64;
                let full = w.stride[a] as i64 * (i - 1)
                    + w.dilate[a] as i64 * (w.kernel[a] as i64 - 1)
                    + 1;
                let total = (full - t.get(a).copied().unwrap_or(0) as i64).max(0);
                ((total + 1) / 2) as usize
            })
            .collect(),
    }
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
    let pad = deconv_pad(d, &x.shape);
    let mut g = Geometry::new(&d.window, &pad, d.num_group, &x.shape, &out.shape)?;
    let b = match bias {
        Some(b) => b.whole(&DECONV)?,
        None => BufRef::Dummy,
    };
    let w_buf = w.whole(&DECONV)?;
    for piece in batch_pieces(&[x, out], &DECONV)? {
        g.batch = piece.count;
        let ((x_buf, x_off), (y_buf, y_off)) = (piece.slabs[0], piece.slabs[1]);
        let n = g.batch * g.filters * g.out_size();
        let offsets = [x_off, 0, y_off, 0];
        let u = g.uniform(0, 0, 0, n, offsets, bias.is_some(), Epilogue::default());
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
                let uni = copy_uniform(total, &shape, 0, dst_off as i64, &src, &dst, accumulate);
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

/// The copy.wgsl uniform block for `strided_copy`.
pub(crate) fn copy_uniform(
    n: usize,
    shape: &[usize],
    src_off: i64,
    dst_off: i64,
    src: &[i64],
    dst: &[i64],
    accumulate: bool,
) -> U {
    U::new()
        .u(n)
        .u(shape.len())
        .i(src_off)
        .i(dst_off)
        .f(0.0)
        .u(accumulate as usize)
        .u(0)
        .u(0)
        .u_array(shape, 16)
        .i_array(src, 16)
        .i_array(dst, 16)
}
