//! Detection operators → `detection.wgsl`.
//!
//! box_decode and box_encode are one thread per box. MultiBoxPrior depends on the input's shape
//! only: its anchors (computed by the op's own rule in `src/ops/detection.rs`) are uploaded
//! once and copied into the output slot. box_nms and MultiBoxDetection stay on the GPU: a bitonic
//! sort of each batch's row indices (log²(N)/2 dispatches, the order is total so the result is
//! MXNet's stable order), then one workgroup per batch for the greedy suppression and the
//! compaction. Their workspaces are plan buffers ([`Lowering::scratch`]).

use crate::backend::webgpu::kernels::{
    BOX_DECODE, BOX_ENCODE, BOX_NMS, GATHER_ND, MBD_CANDIDATES, MBD_COMPACT, MBD_NMS, ROI_ALIGN,
    ROI_POOL, SORT_INIT, SORT_STEP,
};
use crate::error::{Error, Result};
use crate::ops::detection::{DetectionOp, Nms};
use crate::tensor::numel;

use super::{BufRef, Lowering, Operand};
use crate::backend::webgpu::wgsl::{fit, DetectionFlags as F, DetectionParams, RoiFlags};

/// The values of `detection.wgsl`'s uniform block ([`DetectionParams`]) in lowering terms.
#[derive(Default, Clone, Copy)]
struct Params {
    n: usize,
    rows: usize,
    width: usize,
    pow2: usize,
    score_index: usize,
    coord_start: usize,
    id_index: i64,
    background_id: i64,
    valid_thresh: f32,
    overlap: f32,
    topk: i64,
    flags: u32,
    k: usize,
    j: usize,
    s: [f32; 4],
    clip: f32,
    classes: usize,
    threshold: f32,
    batch: usize,
    channels: usize,
    out_channels: usize,
    ph: usize,
    pw: usize,
    sample_ratio: i64,
    scale: f32,
    roi_flags: u32,
}

impl Params {
    fn u(&self) -> Result<DetectionParams> {
        Ok(DetectionParams {
            n: fit(self.n)?,
            rows: fit(self.rows)?,
            width: fit(self.width)?,
            pow2: fit(self.pow2)?,
            score_index: fit(self.score_index)?,
            coord_start: fit(self.coord_start)?,
            id_index: fit(self.id_index)?,
            background_id: fit(self.background_id)?,
            valid_thresh: self.valid_thresh,
            overlap: self.overlap,
            topk: fit(self.topk.clamp(-1, i32::MAX as i64))?,
            flags: self.flags,
            k: fit(self.k)?,
            j: fit(self.j)?,
            s0: self.s[0],
            s1: self.s[1],
            s2: self.s[2],
            s3: self.s[3],
            clip: self.clip,
            classes: fit(self.classes)?,
            threshold: self.threshold,
            _pad: 0,
            batch: fit(self.batch)?,
            channels: fit(self.channels)?,
            out_channels: fit(self.out_channels)?,
            ph: fit(self.ph)?,
            pw: fit(self.pw)?,
            sample_ratio: fit(self.sample_ratio.clamp(-1, i32::MAX as i64))?,
            scale: self.scale,
            roi_flags: self.roi_flags,
            ..Default::default()
        })
    }
}

/// Sorts each of `batches` runs of `p.rows` rows of `data` (see `before` in the shader) into
/// `idx` (`batches × p.pow2` indices).
fn sort(l: &mut Lowering, p: Params, batches: usize, data: BufRef, idx: BufRef) -> Result<()> {
    let total = batches * p.pow2;
    l.linear(
        SORT_INIT,
        total,
        Params { n: total, ..p }.u()?,
        vec![],
        vec![idx],
    )?;
    let mut k = 2;
    while k <= p.pow2 {
        let mut j = k / 2;
        while j > 0 {
            l.linear(
                SORT_STEP,
                total,
                Params {
                    n: total,
                    k,
                    j,
                    ..p
                }
                .u()?,
                vec![data],
                vec![idx],
            )?;
            j /= 2;
        }
        k *= 2;
    }
    Ok(())
}

fn nms_flags(n: &Nms) -> u32 {
    (if n.force_suppress { F::FORCE } else { 0 })
        | (if n.in_corner { F::IN_CORNER } else { 0 })
        | (if n.out_corner { F::OUT_CORNER } else { 0 })
}

pub(crate) fn lower(
    l: &mut Lowering,
    op: &DetectionOp,
    ins: &[Operand],
    outs: &[Operand],
) -> Result<()> {
    let input = |k: usize| {
        ins.get(k)
            .ok_or_else(|| Error::Backend(format!("{} lacks input {k}", op_name(op))))
    };
    let y = outs
        .first()
        .ok_or_else(|| Error::Backend(format!("{} without output", op_name(op))))?;
    match op {
        DetectionOp::BoxDecode { std, clip, corner } => {
            let (d, a) = (input(0)?, input(1)?);
            let boxes = d.numel() / 4;
            let p = Params {
                n: boxes,
                rows: a.shape[1],
                flags: if *corner { F::IN_CORNER } else { 0 },
                s: *std,
                clip: *clip,
                ..Params::default()
            };
            l.linear(
                BOX_DECODE,
                boxes,
                p.u()?,
                vec![d.whole(&BOX_DECODE)?, a.whole(&BOX_DECODE)?],
                vec![y.whole(&BOX_DECODE)?],
            )
        }
        DetectionOp::BoxEncode => {
            let masks = outs
                .get(1)
                .ok_or_else(|| Error::Backend("box_encode without its masks output".into()))?;
            let samples = input(0)?;
            let refs = input(3)?;
            let n = samples.numel();
            let p = Params {
                n,
                rows: samples.shape[1],
                width: refs.shape[1],
                ..Params::default()
            };
            let bufs = (0..6)
                .map(|k| input(k).and_then(|o| o.whole(&BOX_ENCODE)))
                .collect::<Result<Vec<_>>>()?;
            l.linear(
                BOX_ENCODE,
                n,
                p.u()?,
                bufs,
                vec![y.whole(&BOX_ENCODE)?, masks.whole(&BOX_ENCODE)?],
            )
        }
        DetectionOp::GatherNd => {
            let (d, idx) = (input(0)?, input(1)?);
            let m = idx.shape[0];
            let sizes: Vec<i32> = d.shape[..m]
                .iter()
                .map(|&s| i32::try_from(s))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| Error::Unsupported("gather_nd: axis too large".into()))?;
            let sizes = l.constant_i32(&sizes);
            let n = y.numel();
            let p = Params {
                n,
                rows: idx.numel() / m.max(1),
                width: m,
                k: numel(&d.shape[m..]),
                ..Params::default()
            };
            l.linear(
                GATHER_ND,
                n,
                p.u()?,
                vec![d.whole(&GATHER_ND)?, idx.whole(&GATHER_ND)?, sizes],
                vec![y.whole(&GATHER_ND)?],
            )
        }
        DetectionOp::RoiAlign(_) | DetectionOp::RoiPooling { .. } => {
            let (d, rois) = (input(0)?, input(1)?);
            let (kernel, pooled, scale, sample_ratio, roi_flags) = match op {
                DetectionOp::RoiAlign(a) => (
                    ROI_ALIGN,
                    a.pooled,
                    a.spatial_scale,
                    a.sample_ratio,
                    (if a.position_sensitive {
                        RoiFlags::POSITION_SENSITIVE
                    } else {
                        0
                    }) | (if a.aligned { RoiFlags::ALIGNED } else { 0 }),
                ),
                DetectionOp::RoiPooling {
                    pooled,
                    spatial_scale,
                } => (ROI_POOL, *pooled, *spatial_scale, 0, 0),
                _ => return Err(Error::Backend("ROI lowering of another op".into())),
            };
            let n = y.numel();
            let p = Params {
                n,
                rows: d.shape[2],
                width: d.shape[3],
                batch: d.shape[0],
                channels: d.shape[1],
                out_channels: y.shape[1],
                ph: pooled[0],
                pw: pooled[1],
                sample_ratio,
                scale,
                roi_flags,
                ..Params::default()
            };
            l.linear(
                kernel,
                n,
                p.u()?,
                vec![d.whole(&kernel)?, rois.whole(&kernel)?],
                vec![y.whole(&kernel)?],
            )
        }
        DetectionOp::MultiBoxPrior(prior) => {
            let s = &input(0)?.shape;
            let anchors = prior.anchors(s[2], s[3]);
            let c = l.constant_f32(&anchors);
            for j in 0..y.layout.chunks() {
                let r = y.layout.elem_range(j);
                l.copy(c, r.start, y.chunk(j), 0, r.len());
            }
            Ok(())
        }
        DetectionOp::BoxNms(nms) => {
            let d = input(0)?;
            let width = *d.shape.last().unwrap_or(&1);
            let rows = d.shape[d.shape.len() - 2];
            let batches = numel(&d.shape[..d.shape.len() - 2]);
            if rows == 0 || batches == 0 {
                return Ok(());
            }
            let pow2 = rows.next_power_of_two();
            let p = Params {
                n: batches,
                rows,
                width,
                pow2,
                score_index: nms.score_index,
                coord_start: nms.coord_start,
                id_index: nms.id_index,
                background_id: nms.background_id,
                valid_thresh: nms.valid_thresh,
                overlap: nms.overlap_thresh,
                topk: nms.topk,
                flags: nms_flags(nms),
                ..Params::default()
            };
            let data = d.whole(&BOX_NMS)?;
            let idx = l.scratch(batches * pow2);
            let alive = l.scratch(batches * pow2);
            sort(l, p, batches, data, idx)?;
            l.per_row(
                BOX_NMS,
                batches,
                p.u()?,
                vec![data, idx],
                vec![y.whole(&BOX_NMS)?, alive],
            )
        }
        DetectionOp::MultiBoxDetection(det) => {
            let (cls, loc, anc) = (input(0)?, input(1)?, input(2)?);
            let (batches, classes, rows) = (cls.shape[0], cls.shape[1], cls.shape[2]);
            if rows == 0 || batches == 0 {
                return Ok(());
            }
            let pow2 = rows.next_power_of_two();
            let nms_on = det.nms_threshold > 0.0 && det.nms_threshold <= 1.0;
            let p = Params {
                n: batches * rows,
                rows,
                width: 6,
                pow2,
                score_index: 1,
                overlap: det.nms_threshold,
                topk: det.nms_topk,
                flags: F::VALID_BY_ID
                    | if det.force_suppress { F::FORCE } else { 0 }
                    | if nms_on { F::NMS_ON } else { 0 },
                s: det.variances,
                clip: if det.clip { 1.0 } else { 0.0 },
                classes,
                threshold: det.threshold,
                ..Params::default()
            };
            let cand = l.scratch(batches * rows * 6);
            let packed = l.scratch(batches * rows * 6);
            let counts = l.scratch(batches);
            let idx = l.scratch(batches * pow2);
            l.linear(
                MBD_CANDIDATES,
                batches * rows,
                p.u()?,
                vec![
                    cls.whole(&MBD_CANDIDATES)?,
                    loc.whole(&MBD_CANDIDATES)?,
                    anc.whole(&MBD_CANDIDATES)?,
                ],
                vec![cand],
            )?;
            let per_batch = Params { n: batches, ..p };
            l.per_row(
                MBD_COMPACT,
                batches,
                per_batch.u()?,
                vec![cand],
                vec![packed, counts],
            )?;
            if nms_on {
                sort(l, per_batch, batches, packed, idx)?;
            }
            l.per_row(
                MBD_NMS,
                batches,
                per_batch.u()?,
                vec![packed, idx, counts],
                vec![y.whole(&MBD_NMS)?],
            )
        }
    }
}

fn op_name(op: &DetectionOp) -> &'static str {
    use crate::ops::Operator;
    op.name()
}
