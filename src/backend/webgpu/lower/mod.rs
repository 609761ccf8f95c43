//! Lowering: each plan step becomes a few kernel dispatches (or buffer copies) with their
//! uniform blocks. One file per operator family; every function here is shape arithmetic on
//! the CPU, at build time.

mod activation;
mod conv;
mod creation;
mod dense;
mod detection;
mod elementwise;
mod index;
mod nlp;
mod norm;
mod pool;
mod reduce;
mod resize;
mod rnn;
mod shape;

use crate::error::{fmt_shape, Error, Result};
use crate::ops::Op;
use crate::tensor::numel;

use super::context::ExecLimits;
use super::kernels::{Kernel, LINEAR_WG};
use super::wgsl::{fit, vec4s, CopyParams, Uniform};

/// How a tensor is stored: in one buffer, or split into slabs of whole *rows* (a row is the
/// trailing axes from `split_axis` on) when it exceeds the storage-binding limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub numel: usize,
    /// Number of rows (the product of the axes before the split axis).
    pub rows: usize,
    pub row_elems: usize,
    pub rows_per_chunk: usize,
    /// Leading axes whose product is `rows` (0 when the tensor is a single slab).
    pub split_axes: usize,
}

impl Layout {
    /// The layout of a tensor of `shape` when one binding holds at most `max_elems` values.
    pub fn of(shape: &[usize], max_elems: usize) -> Result<Layout> {
        let n = numel(shape);
        if n <= max_elems {
            return Ok(Layout {
                numel: n,
                rows: 1,
                row_elems: n,
                rows_per_chunk: 1,
                split_axes: 0,
            });
        }
        for a in 1..=shape.len() {
            let row_elems = numel(&shape[a..]);
            if row_elems <= max_elems {
                let rows = numel(&shape[..a]);
                return Ok(Layout {
                    numel: n,
                    rows,
                    row_elems,
                    rows_per_chunk: (max_elems / row_elems.max(1)).max(1),
                    split_axes: a,
                });
            }
        }
        Err(Error::Unsupported(format!(
            "a tensor of shape {} cannot be split into storage bindings of at most {} MiB",
            fmt_shape(shape),
            (max_elems * 4) >> 20
        )))
    }

    pub fn chunks(&self) -> usize {
        self.rows.div_ceil(self.rows_per_chunk).max(1)
    }

    /// Rows held by slab `j`.
    pub fn row_range(&self, j: usize) -> std::ops::Range<usize> {
        let start = (j * self.rows_per_chunk).min(self.rows);
        start..((j + 1) * self.rows_per_chunk).min(self.rows)
    }

    /// Elements held by slab `j` (as offsets into the whole tensor).
    pub fn elem_range(&self, j: usize) -> std::ops::Range<usize> {
        if self.split_axes == 0 {
            return 0..self.numel;
        }
        let r = self.row_range(j);
        r.start * self.row_elems..r.end * self.row_elems
    }
}

/// A buffer binding: a slot or parameter slab, a constant buffer, or the placeholder for an
/// unused binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BufRef {
    Slot(usize, usize),
    Param(usize, usize),
    Const(usize),
    /// A placeholder for an unused read-only binding.
    Dummy,
    /// A placeholder for unused output `k` (distinct buffers: writable bindings may not alias).
    DummyOut(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    Slot(usize),
    Param(usize),
    /// An unbound label (never read).
    None,
}

/// One input or output of a step.
#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub src: Src,
    pub shape: Vec<usize>,
    pub layout: Layout,
    /// Stored in f16 (a weight uploaded in half precision: read it with a kernel built by
    /// [`Kernel::with_f16_weights`]).
    pub half: bool,
}

impl Operand {
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Slab `j`.
    pub fn chunk(&self, j: usize) -> BufRef {
        match self.src {
            Src::Slot(s) => BufRef::Slot(s, j),
            Src::Param(id) => BufRef::Param(id, j),
            Src::None => BufRef::Dummy,
        }
    }

    /// The single buffer holding the whole tensor; an error naming `kernel` when the tensor was
    /// split into slabs that this kernel cannot handle.
    pub fn whole(&self, kernel: &Kernel) -> Result<BufRef> {
        if self.layout.chunks() > 1 {
            return Err(Error::Unsupported(format!(
                "kernel {} cannot read a tensor of shape {} ({} MiB) split into {} slabs by the storage-binding limit",
                kernel.describe(),
                fmt_shape(&self.shape),
                (self.numel() * 4) >> 20,
                self.layout.chunks()
            )));
        }
        Ok(self.chunk(0))
    }
}

/// A range of images (the leading axis) over which every batch-shaped operand of a step lies
/// inside one of its slabs.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub count: usize,
    /// Per operand: its slab and the element offset of the piece's first image in that slab.
    pub slabs: Vec<(BufRef, usize)>,
}

/// Splits the leading axis of `ops` (which must share it) into [`Piece`]s. An operand split
/// inside one image cannot be processed image by image: an error naming `kernel`.
pub(crate) fn batch_pieces(ops: &[&Operand], kernel: &Kernel) -> Result<Vec<Piece>> {
    let batch = ops
        .first()
        .and_then(|o| o.shape.first().copied())
        .unwrap_or(1);
    let mut cuts = vec![0usize, batch];
    for o in ops {
        if o.shape.first().copied().unwrap_or(1) != batch {
            return Err(Error::Backend(format!(
                "kernel {}: operands disagree on the batch size",
                kernel.describe()
            )));
        }
        if o.layout.chunks() > 1 {
            if o.layout.split_axes != 1 {
                return Err(Error::Unsupported(format!(
                    "kernel {}: one image of {} ({} MiB) exceeds the storage-binding limit",
                    kernel.describe(),
                    fmt_shape(&o.shape),
                    (o.numel() / batch.max(1) * 4) >> 20
                )));
            }
            cuts.extend((0..o.layout.chunks()).map(|j| o.layout.row_range(j).start));
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    for w in cuts.windows(2) {
        let (start, end) = (w[0], w[1]);
        if start >= end {
            continue;
        }
        let slabs = ops
            .iter()
            .map(|o| {
                let per_image = o.numel() / batch.max(1);
                if o.layout.chunks() == 1 {
                    (o.chunk(0), start * per_image)
                } else {
                    let j = start / o.layout.rows_per_chunk;
                    (
                        o.chunk(j),
                        (start - j * o.layout.rows_per_chunk) * per_image,
                    )
                }
            })
            .collect();
        pieces.push(Piece {
            count: end - start,
            slabs,
        });
    }
    Ok(pieces)
}

/// A recorded command.
#[derive(Debug)]
pub(crate) enum Pending {
    Dispatch {
        kernel: Kernel,
        spec: Option<u32>,
        uniform: Vec<u32>,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
        groups: [u32; 3],
    },
    /// Byte offsets and size.
    Copy {
        src: BufRef,
        src_off: u64,
        dst: BufRef,
        dst_off: u64,
        size: u64,
    },
}

/// Collects the commands of one step.
pub(crate) struct Lowering<'a> {
    limits: ExecLimits,
    consts: &'a mut Vec<Vec<u8>>,
    pending: Vec<Pending>,
    /// The pipeline constant `OP` of the next dispatch (see [`Lowering::specialized`]).
    spec: Option<u32>,
}

impl<'a> Lowering<'a> {
    pub fn new(limits: ExecLimits, consts: &'a mut Vec<Vec<u8>>) -> Lowering<'a> {
        Lowering {
            limits,
            consts,
            pending: Vec::new(),
            spec: None,
        }
    }

    pub fn into_pending(self) -> Vec<Pending> {
        self.pending
    }

    /// Makes the next dispatch use the pipeline specialised with `OP = op` (the shader still
    /// receives the op code in its uniform block too).
    pub fn specialized(&mut self, op: u32) -> &mut Self {
        self.spec = Some(op);
        self
    }

    pub fn dispatch(
        &mut self,
        kernel: Kernel,
        uniform: impl Uniform,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch_words(kernel, uniform.words(), inputs, outputs, groups)
    }

    // The generic entry points only turn the block into words: one copy of the rest (the .wasm
    // size budget).
    fn dispatch_words(
        &mut self,
        kernel: Kernel,
        uniform: Vec<u32>,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
        groups: [u32; 3],
    ) -> Result<()> {
        let spec = self.spec.take();
        let max = self.limits.max_groups_per_dim;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::Unsupported(format!(
                "kernel {} needs a grid of {groups:?} workgroups, above the device limit of {max} per dimension",
                kernel.describe()
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        self.pending.push(Pending::Dispatch {
            kernel,
            spec,
            uniform,
            inputs,
            outputs,
            groups,
        });
        Ok(())
    }

    /// A one-thread-per-element kernel over `n` elements (256 per workgroup, the grid folded
    /// into two dimensions past the per-dimension limit).
    pub fn linear(
        &mut self,
        kernel: Kernel,
        n: usize,
        uniform: impl Uniform,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
    ) -> Result<()> {
        self.linear_words(kernel, n, uniform.words(), inputs, outputs)
    }

    fn linear_words(
        &mut self,
        kernel: Kernel,
        n: usize,
        uniform: Vec<u32>,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
    ) -> Result<()> {
        if n == 0 {
            self.spec = None;
            return Ok(());
        }
        let groups = n.div_ceil(LINEAR_WG as usize);
        let grid = self.fold(groups, &kernel)?;
        self.dispatch_words(kernel, uniform, inputs, outputs, grid)
    }

    /// A one-workgroup-per-row kernel over `rows` rows (shaders use `flat_group`).
    pub fn per_row(
        &mut self,
        kernel: Kernel,
        rows: usize,
        uniform: impl Uniform,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
    ) -> Result<()> {
        self.per_row_words(kernel, rows, uniform.words(), inputs, outputs)
    }

    fn per_row_words(
        &mut self,
        kernel: Kernel,
        rows: usize,
        uniform: Vec<u32>,
        inputs: Vec<BufRef>,
        outputs: Vec<BufRef>,
    ) -> Result<()> {
        if rows == 0 {
            self.spec = None;
            return Ok(());
        }
        let grid = self.fold(rows, &kernel)?;
        self.dispatch_words(kernel, uniform, inputs, outputs, grid)
    }

    /// `groups` workgroups as an (x, y, z) grid within the per-dimension limit.
    fn fold(&self, groups: usize, kernel: &Kernel) -> Result<[u32; 3]> {
        let max = self.limits.max_groups_per_dim as usize;
        let x = groups.min(max);
        let y = groups.div_ceil(x).min(max);
        let z = groups.div_ceil(x * y);
        if z > max {
            return Err(Error::Unsupported(format!(
                "kernel {}: {groups} workgroups are too many",
                kernel.describe()
            )));
        }
        Ok([x as u32, y as u32, z as u32])
    }

    /// A buffer-to-buffer copy of `n` values.
    pub fn copy(&mut self, src: BufRef, src_elem: usize, dst: BufRef, dst_elem: usize, n: usize) {
        if n > 0 {
            self.pending.push(Pending::Copy {
                src,
                src_off: (src_elem * 4) as u64,
                dst,
                dst_off: (dst_elem * 4) as u64,
                size: (n * 4) as u64,
            });
        }
    }

    /// A constant buffer uploaded at build time.
    pub fn constant_f32(&mut self, data: &[f32]) -> BufRef {
        self.consts
            .push(data.iter().flat_map(|v| v.to_le_bytes()).collect());
        BufRef::Const(self.consts.len() - 1)
    }

    /// A workspace buffer of `n` values for this step's kernels (allocated with the plan like the
    /// constants; its contents are rewritten by every forward that uses them).
    pub fn scratch(&mut self, n: usize) -> BufRef {
        self.consts.push(vec![0u8; n.max(1) * 4]);
        BufRef::Const(self.consts.len() - 1)
    }

    /// A constant buffer of i32 values (read by shaders with `bitcast<i32>`).
    pub fn constant_i32(&mut self, data: &[i32]) -> BufRef {
        self.consts
            .push(data.iter().flat_map(|v| v.to_le_bytes()).collect());
        BufRef::Const(self.consts.len() - 1)
    }
}

/// The copy.wgsl uniform block of `strided_copy`: `dst[dst_off + Σ i_k·dst_k] (+)= src[src_off +
/// Σ i_k·src_k]` over the multi-indices of `shape` (at most 16 axes).
pub(crate) fn copy_uniform(
    n: usize,
    shape: &[usize],
    src_off: i64,
    dst_off: i64,
    src: &[i64],
    dst: &[i64],
    accumulate: bool,
) -> Result<CopyParams> {
    Ok(CopyParams {
        n: fit(n)?,
        rank: fit(shape.len())?,
        src_off: fit(src_off)?,
        dst_off: fit(dst_off)?,
        accumulate: accumulate.into(),
        shape: vec4s(shape)?,
        src_strides: vec4s(src)?,
        dst_strides: vec4s(dst)?,
        ..Default::default()
    })
}

/// The copy.wgsl uniform block of `fill` (`n` values) and `gather_index` (`value`: the
/// constant of out-of-range indices).
pub(crate) fn fill_uniform(n: usize, value: f32) -> Result<CopyParams> {
    Ok(CopyParams {
        n: fit(n)?,
        value,
        ..Default::default()
    })
}

/// Lowers one plan step.
pub(crate) fn lower_step(
    l: &mut Lowering,
    op: &Op,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    match op {
        Op::Conv(c) => conv::lower(l, c, ins, outs),
        Op::Elementwise(e) => elementwise::lower(l, e, ins, outs),
        Op::Shape(s) => shape::lower(l, op, s, ins, outs),
        Op::Dense(d) => dense::lower(l, d, ins, outs),
        Op::Pool(p) => pool::lower(l, p, ins, outs),
        Op::Norm(n) => norm::lower(l, n, ins, outs),
        Op::Activation(a) => activation::lower(l, a, ins, outs),
        Op::Reduce(r) => reduce::lower(l, r, ins, outs),
        Op::Index(i) => index::lower(l, i, ins, outs),
        Op::Creation(c) => creation::lower(l, c, outs),
        Op::Detection(d) => detection::lower(l, d, ins, outs),
        Op::Rnn(r) => rnn::lower(l, r, ins, outs),
        Op::Resize(r) => resize::lower(l, r, ins, outs),
        Op::Sequence(s) => nlp::lower_sequence(l, s, ins, outs),
        Op::Transformer(t) => nlp::lower_transformer(l, t, ins, outs),
    }
}

/// Row-major strides of `shape` in elements.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    crate::tensor::strides(shape)
}

/// Merges adjacent axes that every operand walks contiguously and drops size-1 axes, so an
/// iteration over `shape` with per-operand `strides` needs as few axes as possible.
pub(crate) fn simplify(shape: &[usize], strides: &[Vec<i64>]) -> (Vec<usize>, Vec<Vec<i64>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<i64>> = vec![Vec::new(); strides.len()];
    for (k, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && strides.iter().enumerate().all(|(o, s)| {
                let prev = *out_strides[o].last().unwrap_or(&0);
                prev == s[k] * d as i64
            });
        if mergeable {
            let last = out_shape.len() - 1;
            out_shape[last] *= d;
            for (o, s) in strides.iter().enumerate() {
                let l = out_strides[o].len() - 1;
                out_strides[o][l] = s[k];
            }
        } else {
            out_shape.push(d);
            for (o, s) in strides.iter().enumerate() {
                out_strides[o].push(s[k]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for s in &mut out_strides {
            s.push(0);
        }
    }
    (out_shape, out_strides)
}
