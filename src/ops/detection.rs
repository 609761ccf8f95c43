//! Object-detection operators: `_contrib_box_nms`, `_contrib_box_decode`, `_contrib_box_encode`,
//! `_contrib_MultiBoxPrior`, `_contrib_MultiBoxDetection`, and `gather_nd` (CenterNet's decoder).
//!
//! Semantics as MXNet 1.9.1 computes them on the CPU (checked by the `ops/det_*` fixtures, including
//! tie-breaking):
//!
//! - **box_nms** over rows of the last axis (`(..., N, K)`, batches = the leading axes): a row is a
//!   candidate when its score `> valid_thresh` (and, with `id_index ≥ 0` and `background_id ≥ 0`,
//!   its id `≠ background_id`). Candidates are sorted by score, descending, with a *stable* sort
//!   (ties keep their input order), cut to `topk` (when `topk > 0`), then greedily suppressed: a
//!   later row goes when its IoU with a kept row is `> overlap_thresh` (rows of different ids are
//!   never compared unless `force_suppress` or `id_index < 0`). IoU: `inter / (area_a + area_b −
//!   inter)` in f32, a box with negative width or height has area 0, and a NaN IoU (two empty
//!   boxes) suppresses nothing. Kept rows are written first in sorted order, every other row is
//!   −1; coordinates are converted from `in_format` to `out_format` on the way out, except in
//!   rows whose first coordinate is negative (MXNet's converter skips those, meaning the −1 rows).
//! - **MultiBoxDetection** (`cls_prob (B, C, N)`, `loc_pred (B, 4N)`, `anchor (1, N, 4)` →
//!   `(B, N, 6)` rows `[id, score, x1, y1, x2, y2]`): per anchor the best non-background class
//!   (class 0 is always the background; `background_id` is accepted and ignored, as on MXNet's
//!   CPU), first maximum wins; kept when its score is `≥ threshold`. Valid rows are written in
//!   anchor order with `id − 1`; then, when `0 < nms_threshold ≤ 1`, they are stably sorted by
//!   score, the first `nms_topk` (all when ≤ 0) replace the leading rows, the remaining valid rows
//!   keep their pre-sort contents with id −1, and greedy NMS (IoU `≥ nms_threshold`, union ≤ 0
//!   gives 0) sets suppressed rows' id to −1 (their other values stay). Rows past the valid ones
//!   are all −1.
//! - **box_decode** (`data (B, N, 4)`, `anchors (1, N, 4)` in `format`, default `center`):
//!   center offsets scaled by
//!   `std0..3`, widths `exp(min(d · std, clip))` when `clip > 0`; corner output.
//! - **box_encode** (`samples (B, N)`, `matches (B, N)`, `anchors (B, N, 4)`, `refs (B, M, 4)`,
//!   `means (4)`, `stds (4)` → `targets (B, N, 4)`, `masks (B, N, 4)`): for samples `> 0.5` the
//!   normalised center/log-size offsets of `refs[matches]` from the anchor, else 0.
//! - **MultiBoxPrior** (`data (B, C, H, W)` → `(1, H·W·A, 4)`, A = sizes + ratios − 1): per cell
//!   the boxes of every size at the first ratio, then of `sizes[0]` at every further ratio, in f32
//!   as MXNet computes them; `steps` default to `1/H`, `1/W`; `clip` clamps to [0, 1].

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// `_contrib_box_nms` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Nms {
    pub overlap_thresh: f32,
    pub valid_thresh: f32,
    pub topk: i64,
    pub coord_start: usize,
    pub score_index: usize,
    pub id_index: i64,
    pub background_id: i64,
    pub force_suppress: bool,
    pub in_corner: bool,
    pub out_corner: bool,
}

/// `_contrib_MultiBoxDetection` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiBoxDetection {
    pub clip: bool,
    pub threshold: f32,
    pub nms_threshold: f32,
    pub force_suppress: bool,
    pub variances: [f32; 4],
    pub nms_topk: i64,
}

/// `_contrib_MultiBoxPrior` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiBoxPrior {
    pub sizes: Vec<f32>,
    pub ratios: Vec<f32>,
    pub clip: bool,
    /// (y, x); ≤ 0 means `1 / H` (resp. `1 / W`).
    pub steps: [f32; 2],
    /// (y, x).
    pub offsets: [f32; 2],
}

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectionOp {
    BoxNms(Nms),
    BoxDecode {
        std: [f32; 4],
        clip: f32,
        corner: bool,
    },
    BoxEncode,
    MultiBoxPrior(MultiBoxPrior),
    MultiBoxDetection(MultiBoxDetection),
    /// `gather_nd(data, indices)`: `indices (M, Y...)` picks `data[i0, .., iM-1, ...]` for every
    /// `Y` position → `Y... + data.shape[M:]`. An index must lie in `[-size, size − 1]` (as a
    /// float, before truncation; MXNet's CPU raises otherwise, and so does this CPU kernel;
    /// the WebGPU kernel clamps); a negative index gets `size` added while still a float, then
    /// is truncated (−0.95 of 5 → 4).
    GatherNd,
    /// `_contrib_ROIAlign(data (B, C, H, W), rois (R, 5) [batch, x1, y1, x2, y2])` →
    /// `(R, C, ph, pw)` (position-sensitive: `C / (ph·pw)` channels): the average of bilinear
    /// samples on a `sample_ratio` grid per bin (`ceil(roi size / pooled size)` when ≤ 0);
    /// `aligned` shifts by half a pixel and lets small rois stay smaller than a pixel.
    RoiAlign(RoiAlign),
    /// `ROIPooling(data, rois)`: the maximum over each bin of the rounded roi (0 for empty bins).
    RoiPooling {
        pooled: [usize; 2],
        spatial_scale: f32,
    },
}

/// `_contrib_ROIAlign` attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RoiAlign {
    pub pooled: [usize; 2],
    pub spatial_scale: f32,
    pub sample_ratio: i64,
    pub position_sensitive: bool,
    pub aligned: bool,
}

/// Bilinear sample of one `h × w` plane at (y, x) as MXNet's ROIAlign does (0 outside
/// `[-1, h] × [-1, w]`, clamped to the border inside it).
pub fn roi_bilinear(plane: &[f32], h: usize, w: usize, y: f32, x: f32) -> f32 {
    if y < -1.0 || y > h as f32 || x < -1.0 || x > w as f32 {
        return 0.0;
    }
    let (mut y, mut x) = (y.max(0.0), x.max(0.0));
    let (mut yl, mut xl) = (y as usize, x as usize);
    let (yh, xh);
    if yl >= h - 1 {
        yl = h - 1;
        yh = yl;
        y = yl as f32;
    } else {
        yh = yl + 1;
    }
    if xl >= w - 1 {
        xl = w - 1;
        xh = xl;
        x = xl as f32;
    } else {
        xh = xl + 1;
    }
    let (ly, lx) = (y - yl as f32, x - xl as f32);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    hy * hx * plane[yl * w + xl]
        + hy * lx * plane[yl * w + xh]
        + ly * hx * plane[yh * w + xl]
        + ly * lx * plane[yh * w + xh]
}

impl RoiAlign {
    /// One output value: roi `roi`, output channel `c`, bin (ph, pw), over `data (B, C, H, W)`.
    pub fn value(
        &self,
        data: &[f32],
        dshape: &[usize],
        roi: &[f32],
        c: usize,
        ph: usize,
        pw: usize,
    ) -> f32 {
        let (b, ch, h, w) = (dshape[0], dshape[1], dshape[2], dshape[3]);
        let bi = roi[0] as i64;
        if bi < 0 || bi as usize >= b || h == 0 || w == 0 {
            return 0.0;
        }
        let off = if self.aligned { 0.5 } else { 0.0 };
        let ss = self.spatial_scale;
        let (sw, sh) = (roi[1] * ss - off, roi[2] * ss - off);
        let (ew, eh) = (roi[3] * ss - off, roi[4] * ss - off);
        let (mut rw, mut rh) = (ew - sw, eh - sh);
        if !self.aligned {
            rw = rw.max(1.0);
            rh = rh.max(1.0);
        }
        let [pooled_h, pooled_w] = self.pooled;
        let (bh, bw) = (rh / pooled_h as f32, rw / pooled_w as f32);
        let gh = if self.sample_ratio > 0 {
            self.sample_ratio as usize
        } else {
            (rh / pooled_h as f32).ceil() as usize
        };
        let gw = if self.sample_ratio > 0 {
            self.sample_ratio as usize
        } else {
            (rw / pooled_w as f32).ceil() as usize
        };
        let count = (gh * gw).max(1) as f32;
        let cin = if self.position_sensitive {
            (c * pooled_h + ph) * pooled_w + pw
        } else {
            c
        };
        let plane = &data[((bi as usize) * ch + cin) * h * w..][..h * w];
        let mut acc = 0.0f32;
        for iy in 0..gh {
            let y = sh + ph as f32 * bh + (iy as f32 + 0.5) * bh / gh as f32;
            for ix in 0..gw {
                let x = sw + pw as f32 * bw + (ix as f32 + 0.5) * bw / gw as f32;
                acc += roi_bilinear(plane, h, w, y, x);
            }
        }
        acc / count
    }
}

/// MXNet's `round` (half away from zero).
fn round_half_away(x: f32) -> f32 {
    x.round()
}

/// One ROIPooling output value.
#[allow(clippy::too_many_arguments)]
pub fn roi_pool_value(
    data: &[f32],
    dshape: &[usize],
    roi: &[f32],
    pooled: [usize; 2],
    ss: f32,
    c: usize,
    ph: usize,
    pw: usize,
) -> f32 {
    let (b, ch, h, w) = (dshape[0], dshape[1], dshape[2] as i64, dshape[3] as i64);
    let bi = roi[0] as i64;
    if bi < 0 || bi as usize >= b {
        return 0.0;
    }
    let sw = round_half_away(roi[1] * ss) as i64;
    let sh = round_half_away(roi[2] * ss) as i64;
    let ew = round_half_away(roi[3] * ss) as i64;
    let eh = round_half_away(roi[4] * ss) as i64;
    let rh = (eh - sh + 1).max(1) as f32;
    let rw = (ew - sw + 1).max(1) as f32;
    let (bh, bw) = (rh / pooled[0] as f32, rw / pooled[1] as f32);
    let hs = ((ph as f32 * bh).floor() as i64 + sh).clamp(0, h);
    let he = (((ph + 1) as f32 * bh).ceil() as i64 + sh).clamp(0, h);
    let ws = ((pw as f32 * bw).floor() as i64 + sw).clamp(0, w);
    let we = (((pw + 1) as f32 * bw).ceil() as i64 + sw).clamp(0, w);
    if he <= hs || we <= ws {
        return 0.0;
    }
    let plane = &data[((bi as usize) * ch + c) * (h * w) as usize..][..(h * w) as usize];
    let mut m = f32::MIN;
    for y in hs..he {
        for x in ws..we {
            let v = plane[(y * w + x) as usize];
            if v > m {
                m = v;
            }
        }
    }
    m
}

fn format(attrs: &Attrs, key: &str) -> Result<bool> {
    Ok(attrs.choice(key, &["corner", "center"], "corner")? == "corner")
}

fn floats4(attrs: &Attrs, key: &str, default: [f32; 4]) -> Result<[f32; 4]> {
    match attrs.floats(key)? {
        None => Ok(default),
        Some(v) if v.len() == 4 => Ok([v[0] as f32, v[1] as f32, v[2] as f32, v[3] as f32]),
        Some(_) => Err(Error::attr(
            key,
            attrs.raw(key).unwrap_or(""),
            "expected 4 values",
        )),
    }
}

fn floats2(attrs: &Attrs, key: &str, default: [f32; 2]) -> Result<[f32; 2]> {
    match attrs.floats(key)? {
        None => Ok(default),
        Some(v) if v.len() == 2 => Ok([v[0] as f32, v[1] as f32]),
        Some(_) => Err(Error::attr(
            key,
            attrs.raw(key).unwrap_or(""),
            "expected 2 values",
        )),
    }
}

fn index_attr(attrs: &Attrs, key: &str, default: i64) -> Result<i64> {
    attrs.int_or(key, default)
}

/// Area of a box (corner or center encoding); 0 when its width or height is negative.
pub fn box_area(b: &[f32], corner: bool) -> f32 {
    let (w, h) = if corner {
        (b[2] - b[0], b[3] - b[1])
    } else {
        (b[2], b[3])
    };
    if w < 0.0 || h < 0.0 {
        0.0
    } else {
        w * h
    }
}

/// The corners of a box in either encoding.
fn corners(b: &[f32], corner: bool) -> [f32; 4] {
    if corner {
        [b[0], b[1], b[2], b[3]]
    } else {
        let (hw, hh) = (b[2] / 2.0, b[3] / 2.0);
        [b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh]
    }
}

/// Intersection area as box_nms computes it.
pub fn box_intersect(a: &[f32], b: &[f32], corner: bool) -> f32 {
    let (a, b) = (corners(a, corner), corners(b, corner));
    let w = a[2].min(b[2]) - a[0].max(b[0]);
    let h = a[3].min(b[3]) - a[1].max(b[1]);
    if w < 0.0 || h < 0.0 {
        0.0
    } else {
        w * h
    }
}

impl Nms {
    fn check(&self, k: usize) -> Result<()> {
        if self.coord_start + 4 > k || self.score_index >= k || self.id_index >= k as i64 {
            return Err(Error::shape(format!(
                "_contrib_box_nms: rows of {k} values cannot hold coord_start={}, score_index={}, id_index={}",
                self.coord_start, self.score_index, self.id_index
            )));
        }
        Ok(())
    }

    /// Runs NMS on one batch of `n` rows of `k` values (`data`), writing `out`. `order` is
    /// scratch for the row indices.
    fn run(&self, data: &[f32], out: &mut [f32], k: usize, order: &mut Vec<usize>) {
        let n = data.len() / k;
        let row = |i: usize| &data[i * k..(i + 1) * k];
        let score = |i: usize| row(i)[self.score_index];
        order.clear();
        order.extend((0..n).filter(|&i| {
            let r = row(i);
            r[self.score_index] > self.valid_thresh
                && !(self.id_index >= 0
                    && self.background_id >= 0
                    && r[self.id_index as usize] == self.background_id as f32)
        }));
        // Stable: ties keep their input order (MXNet's CPU sort is a stable sort).
        order.sort_by(|&a, &b| score(b).partial_cmp(&score(a)).unwrap());
        if self.topk > 0 && (self.topk as usize) < order.len() {
            order.truncate(self.topk as usize);
        }
        let c = self.coord_start;
        let mut kept = 0;
        // Suppressed rows are marked usize::MAX.
        for i in 0..order.len() {
            if order[i] == usize::MAX {
                continue;
            }
            let a = &row(order[i])[c..c + 4];
            let area_a = box_area(a, self.in_corner);
            for j in i + 1..order.len() {
                if order[j] == usize::MAX {
                    continue;
                }
                let rj = row(order[j]);
                if !self.force_suppress
                    && self.id_index >= 0
                    && rj[self.id_index as usize] != row(order[i])[self.id_index as usize]
                {
                    continue;
                }
                let b = &rj[c..c + 4];
                let inter = box_intersect(a, b, self.in_corner);
                let iou = inter / (area_a + box_area(b, self.in_corner) - inter);
                if iou > self.overlap_thresh {
                    order[j] = usize::MAX;
                }
            }
            let dst = &mut out[kept * k..(kept + 1) * k];
            dst.copy_from_slice(row(order[i]));
            // MXNet skips rows whose first coordinate is negative (meant for the −1 rows); a NaN
            // coordinate is converted, as in MXNet, hence the negated comparison.
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let convert = self.in_corner != self.out_corner && !(dst[c] < 0.0);
            if convert {
                let b = [dst[c], dst[c + 1], dst[c + 2], dst[c + 3]];
                let conv = if self.in_corner {
                    [
                        (b[0] + b[2]) / 2.0,
                        (b[1] + b[3]) / 2.0,
                        b[2] - b[0],
                        b[3] - b[1],
                    ]
                } else {
                    corners(&b, false)
                };
                dst[c..c + 4].copy_from_slice(&conv);
            }
            kept += 1;
        }
        out[kept * k..].fill(-1.0);
    }
}

/// MultiBoxDetection's box decoding (`TransformLocations`).
pub fn transform_location(anchor: &[f32], loc: &[f32], var: &[f32; 4], clip: bool) -> [f32; 4] {
    let (al, at, ar, ab) = (anchor[0], anchor[1], anchor[2], anchor[3]);
    let (aw, ah) = (ar - al, ab - at);
    let (ax, ay) = ((al + ar) / 2.0, (at + ab) / 2.0);
    let ox = loc[0] * var[0] * aw + ax;
    let oy = loc[1] * var[1] * ah + ay;
    let ow = (loc[2] * var[2]).exp() * aw / 2.0;
    let oh = (loc[3] * var[3]).exp() * ah / 2.0;
    // min then max, not clamp: a NaN coordinate clips to 1 (clamp would keep the NaN).
    #[allow(clippy::manual_clamp)]
    let c = |v: f32| if clip { v.min(1.0).max(0.0) } else { v };
    [c(ox - ow), c(oy - oh), c(ox + ow), c(oy + oh)]
}

/// MultiBoxDetection's overlap (`CalculateOverlap`): 0 when the union is not positive.
pub fn multibox_overlap(a: &[f32], b: &[f32]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let i = w * h;
    let u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i;
    if u <= 0.0 {
        0.0
    } else {
        i / u
    }
}

impl MultiBoxDetection {
    /// One batch: `cls (C, N)`, `loc (4N)`, `anchors (N, 4)` → `out (N, 6)`.
    fn run(&self, cls: &[f32], loc: &[f32], anchors: &[f32], out: &mut [f32], tmp: &mut Vec<f32>) {
        let n = anchors.len() / 4;
        let classes = cls.len() / n.max(1);
        out.fill(-1.0);
        let mut valid = 0;
        for i in 0..n {
            let (mut score, mut id) = (-1.0f32, 0usize);
            for j in 1..classes {
                let t = cls[j * n + i];
                if t > score {
                    score = t;
                    id = j;
                }
            }
            if id > 0 && score < self.threshold {
                id = 0;
            }
            if id > 0 {
                let r = &mut out[valid * 6..valid * 6 + 6];
                r[0] = (id - 1) as f32;
                r[1] = score;
                let b = transform_location(
                    &anchors[i * 4..i * 4 + 4],
                    &loc[i * 4..i * 4 + 4],
                    &self.variances,
                    self.clip,
                );
                r[2..6].copy_from_slice(&b);
                valid += 1;
            }
        }
        if valid < 1 || self.nms_threshold <= 0.0 || self.nms_threshold > 1.0 {
            return;
        }
        tmp.clear();
        tmp.extend_from_slice(&out[..valid * 6]);
        let mut order: Vec<usize> = (0..valid).collect();
        order.sort_by(|&a, &b| tmp[b * 6 + 1].partial_cmp(&tmp[a * 6 + 1]).unwrap());
        let nkeep = if self.nms_topk > 0 && (self.nms_topk as usize) < valid {
            self.nms_topk as usize
        } else {
            valid
        };
        for (p, &src) in order[..nkeep].iter().enumerate() {
            out[p * 6..p * 6 + 6].copy_from_slice(&tmp[src * 6..src * 6 + 6]);
        }
        for p in nkeep..valid {
            out[p * 6] = -1.0;
        }
        for i in 0..nkeep {
            if out[i * 6] < 0.0 {
                continue;
            }
            for j in i + 1..nkeep {
                if out[j * 6] < 0.0 {
                    continue;
                }
                if self.force_suppress || out[i * 6] == out[j * 6] {
                    let iou =
                        multibox_overlap(&out[i * 6 + 2..i * 6 + 6], &out[j * 6 + 2..j * 6 + 6]);
                    if iou >= self.nms_threshold {
                        out[j * 6] = -1.0;
                    }
                }
            }
        }
    }
}

impl MultiBoxPrior {
    pub fn anchors_per_cell(&self) -> usize {
        self.sizes.len() + self.ratios.len() - 1
    }

    /// All anchors for an `h × w` feature map, `(h·w·A) × 4` values.
    pub fn anchors(&self, h: usize, w: usize) -> Vec<f32> {
        let step_y = if self.steps[0] > 0.0 {
            self.steps[0]
        } else {
            1.0 / h as f32
        };
        let step_x = if self.steps[1] > 0.0 {
            self.steps[1]
        } else {
            1.0 / w as f32
        };
        let mut out = Vec::with_capacity(h * w * self.anchors_per_cell() * 4);
        let (hf, wf) = (h as f32, w as f32);
        for r in 0..h {
            let cy = (r as f32 + self.offsets[0]) * step_y;
            for c in 0..w {
                let cx = (c as f32 + self.offsets[1]) * step_x;
                let mut push = |size: f32, ratio: f32| {
                    let bw = size * hf / wf * ratio / 2.0;
                    let bh = size / ratio / 2.0;
                    out.extend_from_slice(&[cx - bw, cy - bh, cx + bw, cy + bh]);
                };
                let r0 = self.ratios[0].sqrt();
                for &s in &self.sizes {
                    push(s, r0);
                }
                for &ratio in &self.ratios[1..] {
                    push(self.sizes[0], ratio.sqrt());
                }
            }
        }
        if self.clip {
            for v in &mut out {
                *v = v.clamp(0.0, 1.0);
            }
        }
        out
    }
}

fn positive_floats(attrs: &Attrs, key: &str, default: &[f32]) -> Result<Vec<f32>> {
    let v: Vec<f32> = match attrs.floats(key)? {
        None => default.to_vec(),
        Some(v) => v.iter().map(|&x| x as f32).collect(),
    };
    // Negated so that NaN is refused too.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let bad = v.is_empty() || v.iter().any(|&x| !(x > 0.0));
    if bad {
        return Err(Error::attr(
            key,
            attrs.raw(key).unwrap_or(""),
            "expected one or more positive values",
        ));
    }
    Ok(v)
}

impl Operator for DetectionOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let parsed = match op {
            "_contrib_box_nms" | "_contrib_box_non_maximum_suppression" => {
                let nms = Nms {
                    overlap_thresh: attrs.float_or("overlap_thresh", 0.5)? as f32,
                    valid_thresh: attrs.float_or("valid_thresh", 0.0)? as f32,
                    topk: attrs.int_or("topk", -1)?,
                    coord_start: attrs.int_or("coord_start", 2)?.max(-1) as usize,
                    score_index: attrs.int_or("score_index", 1)?.max(-1) as usize,
                    id_index: index_attr(attrs, "id_index", -1)?,
                    background_id: index_attr(attrs, "background_id", -1)?,
                    force_suppress: attrs.bool_or("force_suppress", false)?,
                    in_corner: format(attrs, "in_format")?,
                    out_corner: format(attrs, "out_format")?,
                };
                for key in ["coord_start", "score_index"] {
                    if attrs.int_or(key, 0)? < 0 {
                        return Err(Error::attr(
                            key,
                            attrs.raw(key).unwrap_or(""),
                            "must not be negative",
                        ));
                    }
                }
                DetectionOp::BoxNms(nms)
            }
            "_contrib_box_decode" => DetectionOp::BoxDecode {
                std: [
                    attrs.float_or("std0", 1.0)? as f32,
                    attrs.float_or("std1", 1.0)? as f32,
                    attrs.float_or("std2", 1.0)? as f32,
                    attrs.float_or("std3", 1.0)? as f32,
                ],
                clip: attrs.float_or("clip", -1.0)? as f32,
                corner: attrs.choice("format", &["corner", "center"], "center")? == "corner",
            },
            "_contrib_box_encode" => DetectionOp::BoxEncode,
            "gather_nd" => DetectionOp::GatherNd,
            "_contrib_ROIAlign" | "ROIPooling" => {
                let p = attrs.ints("pooled_size")?.ok_or_else(|| {
                    Error::attr("pooled_size", "", "required attribute is missing")
                })?;
                let pooled = match p[..] {
                    [a, b] if a > 0 && b > 0 => [a as usize, b as usize],
                    [a] if a > 0 => [a as usize, a as usize],
                    _ => {
                        return Err(Error::attr(
                            "pooled_size",
                            attrs.raw("pooled_size").unwrap_or(""),
                            "expected one or two positive sizes",
                        ))
                    }
                };
                let spatial_scale = attrs.float("spatial_scale")?.ok_or_else(|| {
                    Error::attr("spatial_scale", "", "required attribute is missing")
                })? as f32;
                if op == "ROIPooling" {
                    DetectionOp::RoiPooling {
                        pooled,
                        spatial_scale,
                    }
                } else {
                    DetectionOp::RoiAlign(RoiAlign {
                        pooled,
                        spatial_scale,
                        sample_ratio: attrs.int_or("sample_ratio", -1)?,
                        position_sensitive: attrs.bool_or("position_sensitive", false)?,
                        aligned: attrs.bool_or("aligned", false)?,
                    })
                }
            }
            "_contrib_MultiBoxPrior" => DetectionOp::MultiBoxPrior(MultiBoxPrior {
                sizes: positive_floats(attrs, "sizes", &[1.0])?,
                ratios: positive_floats(attrs, "ratios", &[1.0])?,
                clip: attrs.bool_or("clip", false)?,
                steps: floats2(attrs, "steps", [-1.0, -1.0])?,
                offsets: floats2(attrs, "offsets", [0.5, 0.5])?,
            }),
            "_contrib_MultiBoxDetection" => {
                // Accepted and, as on MXNet's CPU, without effect (class 0 is the background).
                attrs.int_or("background_id", 0)?;
                DetectionOp::MultiBoxDetection(MultiBoxDetection {
                    clip: attrs.bool_or("clip", true)?,
                    threshold: attrs.float_or("threshold", 0.01)? as f32,
                    nms_threshold: attrs.float_or("nms_threshold", 0.5)? as f32,
                    force_suppress: attrs.bool_or("force_suppress", false)?,
                    variances: floats4(attrs, "variances", [0.1, 0.1, 0.2, 0.2])?,
                    nms_topk: attrs.int_or("nms_topk", -1)?,
                })
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            DetectionOp::BoxNms(_) => "_contrib_box_nms",
            DetectionOp::BoxDecode { .. } => "_contrib_box_decode",
            DetectionOp::BoxEncode => "_contrib_box_encode",
            DetectionOp::MultiBoxPrior(_) => "_contrib_MultiBoxPrior",
            DetectionOp::MultiBoxDetection(_) => "_contrib_MultiBoxDetection",
            DetectionOp::GatherNd => "gather_nd",
            DetectionOp::RoiAlign(_) => "_contrib_ROIAlign",
            DetectionOp::RoiPooling { .. } => "ROIPooling",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let names: &[&str] = match self {
            DetectionOp::BoxNms(_) | DetectionOp::MultiBoxPrior(_) => &["data"],
            DetectionOp::BoxDecode { .. } => &["data", "anchors"],
            DetectionOp::BoxEncode => &["samples", "matches", "anchors", "refs", "means", "stds"],
            DetectionOp::MultiBoxDetection(_) => &["cls_prob", "loc_pred", "anchor"],
            DetectionOp::GatherNd => &["data", "indices"],
            DetectionOp::RoiAlign(_) | DetectionOp::RoiPooling { .. } => &["data", "rois"],
        };
        names
            .iter()
            .map(|n| (n.to_string(), InputRole::Data))
            .collect()
    }

    fn num_outputs(&self) -> usize {
        match self {
            DetectionOp::BoxEncode => 2,
            _ => 1,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let want = self.inputs().len();
        if inputs.len() != want {
            return Err(Error::shape(format!(
                "{op}: expected {want} inputs, got {}",
                inputs.len()
            )));
        }
        let mut shapes = Vec::with_capacity(want);
        for (i, s) in inputs.iter().enumerate() {
            shapes.push(
                s.clone().ok_or_else(|| {
                    Error::shape(format!("{op}: the shape of input {i} is unknown"))
                })?,
            );
        }
        let bad = |what: &str| -> Error {
            let list: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
            Error::shape(format!("{op}: {what} (inputs {})", list.join(", ")))
        };
        match self {
            DetectionOp::BoxNms(nms) => {
                let d = &shapes[0];
                if d.len() < 2 {
                    return Err(bad("data must have at least 2 axes (..., N, K)"));
                }
                nms.check(d[d.len() - 1])?;
                Ok(vec![d.clone()])
            }
            DetectionOp::BoxDecode { .. } => {
                let (d, a) = (&shapes[0], &shapes[1]);
                if d.len() != 3
                    || d[2] != 4
                    || a.len() != 3
                    || a[0] != 1
                    || a[1] != d[1]
                    || a[2] != 4
                {
                    return Err(bad("expected data (B, N, 4) and anchors (1, N, 4)"));
                }
                Ok(vec![d.clone()])
            }
            DetectionOp::BoxEncode => {
                let s = &shapes;
                let ok = s[0].len() == 2
                    && s[1] == s[0]
                    && s[2].len() == 3
                    && s[2][..2] == s[0][..]
                    && s[2][2] == 4
                    && s[3].len() == 3
                    && s[3][0] == s[0][0]
                    && s[3][2] == 4
                    && s[4] == [4]
                    && s[5] == [4];
                if !ok {
                    return Err(bad(
                        "expected samples (B, N), matches (B, N), anchors (B, N, 4), refs (B, M, 4), means (4,), stds (4,)",
                    ));
                }
                let out = vec![s[0][0], s[0][1], 4];
                Ok(vec![out.clone(), out])
            }
            DetectionOp::MultiBoxPrior(p) => {
                let d = &shapes[0];
                if d.len() != 4 {
                    return Err(bad("data must be (B, C, H, W)"));
                }
                Ok(vec![vec![1, d[2] * d[3] * p.anchors_per_cell(), 4]])
            }
            DetectionOp::MultiBoxDetection(_) => {
                let (c, l, a) = (&shapes[0], &shapes[1], &shapes[2]);
                if c.len() != 3
                    || l.len() != 2
                    || a.len() != 3
                    || a[0] != 1
                    || a[2] != 4
                    || a[1] != c[2]
                    || l[0] != c[0]
                    || l[1] != c[2] * 4
                    || c[1] < 1
                {
                    return Err(bad(
                        "expected cls_prob (B, C, N), loc_pred (B, 4N) and anchor (1, N, 4)",
                    ));
                }
                Ok(vec![vec![c[0], c[2], 6]])
            }
            DetectionOp::RoiAlign(RoiAlign { pooled, .. })
            | DetectionOp::RoiPooling { pooled, .. } => {
                let (d, r) = (&shapes[0], &shapes[1]);
                if d.len() != 4 || r.len() != 2 || r[1] != 5 {
                    return Err(bad("expected data (B, C, H, W) and rois (R, 5)"));
                }
                let ps = matches!(self, DetectionOp::RoiAlign(a) if a.position_sensitive);
                let mut c = d[1];
                if ps {
                    if c % (pooled[0] * pooled[1]) != 0 {
                        return Err(bad(
                            "position_sensitive needs channels divisible by the pooled area",
                        ));
                    }
                    c /= pooled[0] * pooled[1];
                }
                Ok(vec![vec![r[0], c, pooled[0], pooled[1]]])
            }
            DetectionOp::GatherNd => {
                let (d, i) = (&shapes[0], &shapes[1]);
                if i.is_empty() || i[0] == 0 || i[0] > d.len() {
                    return Err(bad("indices must be (M, ...) with 1 <= M <= data's rank"));
                }
                let mut out: Vec<usize> = i[1..].to_vec();
                out.extend_from_slice(&d[i[0]..]);
                if out.is_empty() {
                    out.push(1);
                }
                Ok(vec![out])
            }
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let op = self.name();
        if inputs.len() != self.inputs().len() || outputs.len() != self.num_outputs() {
            return Err(Error::shape(format!(
                "{op}: called with {} inputs and {} outputs",
                inputs.len(),
                outputs.len()
            )));
        }
        for v in inputs {
            if v.data.len() != numel(v.shape) {
                return Err(Error::shape(format!(
                    "{op}: input buffer of {} values for shape {}",
                    v.data.len(),
                    fmt_shape(v.shape)
                )));
            }
        }
        match self {
            DetectionOp::BoxNms(nms) => {
                let k = *inputs[0].shape.last().unwrap_or(&1);
                nms.check(k)?;
                let n = inputs[0].shape[inputs[0].shape.len() - 2];
                let per = n * k;
                let mut order = Vec::with_capacity(n);
                let out = &mut *outputs[0].data;
                if per == 0 {
                    return Ok(());
                }
                for (src, dst) in inputs[0]
                    .data
                    .chunks_exact(per)
                    .zip(out.chunks_exact_mut(per))
                {
                    nms.run(src, dst, k, &mut order);
                }
                Ok(())
            }
            DetectionOp::BoxDecode { std, clip, corner } => {
                let (d, a) = (inputs[0].data, inputs[1].data);
                let n4 = a.len();
                let out = &mut *outputs[0].data;
                for (i, (o, x)) in out.chunks_exact_mut(4).zip(d.chunks_exact(4)).enumerate() {
                    let an = &a[(i * 4) % n4.max(1)..][..4];
                    o.copy_from_slice(&decode_box(x, an, std, *clip, *corner));
                }
                Ok(())
            }
            DetectionOp::BoxEncode => {
                let (samples, matches, anchors, refs, means, stds) = (
                    inputs[0].data,
                    inputs[1].data,
                    inputs[2].data,
                    inputs[3].data,
                    inputs[4].data,
                    inputs[5].data,
                );
                let (b, n, m) = (inputs[0].shape[0], inputs[0].shape[1], inputs[3].shape[1]);
                let (targets, rest) = outputs.split_at_mut(1);
                let (t, mk) = (&mut *targets[0].data, &mut *rest[0].data);
                for bi in 0..b {
                    for i in 0..n {
                        let e = bi * n + i;
                        let (to, mo) = (&mut t[e * 4..e * 4 + 4], &mut mk[e * 4..e * 4 + 4]);
                        if samples[e] > 0.5 {
                            let mi = matches[e] as i64;
                            let mi = mi.clamp(0, m as i64 - 1) as usize;
                            let r = &refs[(bi * m + mi) * 4..][..4];
                            let a = &anchors[e * 4..e * 4 + 4];
                            to.copy_from_slice(&encode_box(a, r, means, stds));
                            mo.fill(1.0);
                        } else {
                            to.fill(0.0);
                            mo.fill(0.0);
                        }
                    }
                }
                Ok(())
            }
            DetectionOp::MultiBoxPrior(p) => {
                let s = inputs[0].shape;
                let anchors = p.anchors(s[2], s[3]);
                let out = &mut *outputs[0].data;
                if out.len() != anchors.len() {
                    return Err(Error::shape(format!(
                        "{op}: output {} does not hold {} values",
                        fmt_shape(outputs[0].shape),
                        anchors.len()
                    )));
                }
                out.copy_from_slice(&anchors);
                Ok(())
            }
            DetectionOp::GatherNd => {
                let (d, idx) = (inputs[0], inputs[1]);
                let m = idx.shape[0];
                let positions = idx.data.len() / m.max(1);
                let inner = numel(&d.shape[m..]);
                let out = &mut *outputs[0].data;
                for y in 0..positions {
                    let mut off = 0usize;
                    for (a, &size) in d.shape[..m].iter().enumerate() {
                        let x = idx.data[a * positions + y];
                        if !(x >= -(size as f32) && x <= size as f32 - 1.0) {
                            return Err(Error::shape(format!(
                                "gather_nd: index {x} is out of bounds for axis {a} with size {size}"
                            )));
                        }
                        // Negative indices are shifted while still floats, then truncated
                        // (-0.95 with size 5 is 4.05, so 4).
                        let w = if x < 0.0 { x + size as f32 } else { x };
                        let k = (w.trunc() as usize).min(size - 1);
                        off = off * size + k;
                    }
                    out[y * inner..(y + 1) * inner]
                        .copy_from_slice(&d.data[off * inner..(off + 1) * inner]);
                }
                Ok(())
            }
            DetectionOp::RoiAlign(_) | DetectionOp::RoiPooling { .. } => {
                let (d, rois) = (inputs[0], inputs[1]);
                let oshape = outputs[0].shape.to_vec();
                let (c, ph, pw) = (oshape[1], oshape[2], oshape[3]);
                let out = &mut *outputs[0].data;
                for (e, v) in out.iter_mut().enumerate() {
                    let (x, y, ch, r) = (
                        e % pw,
                        (e / pw) % ph,
                        (e / (pw * ph)) % c,
                        e / (pw * ph * c),
                    );
                    let roi = &rois.data[r * 5..r * 5 + 5];
                    *v = match self {
                        DetectionOp::RoiAlign(a) => a.value(d.data, d.shape, roi, ch, y, x),
                        DetectionOp::RoiPooling {
                            pooled,
                            spatial_scale,
                        } => {
                            roi_pool_value(d.data, d.shape, roi, *pooled, *spatial_scale, ch, y, x)
                        }
                        _ => 0.0,
                    };
                }
                Ok(())
            }
            DetectionOp::MultiBoxDetection(det) => {
                let (cls, loc, anc) = (inputs[0], inputs[1], inputs[2]);
                let (b, c, n) = (cls.shape[0], cls.shape[1], cls.shape[2]);
                let out = &mut *outputs[0].data;
                let tmp = &mut scratch.a;
                for bi in 0..b {
                    det.run(
                        &cls.data[bi * c * n..(bi + 1) * c * n],
                        &loc.data[bi * n * 4..(bi + 1) * n * 4],
                        anc.data,
                        &mut out[bi * n * 6..(bi + 1) * n * 6],
                        tmp,
                    );
                }
                Ok(())
            }
        }
    }
}

/// `_contrib_box_decode` of one box.
pub fn decode_box(x: &[f32], a: &[f32], std: &[f32; 4], clip: f32, corner: bool) -> [f32; 4] {
    let (ax, ay, aw, ah) = if corner {
        let (aw, ah) = (a[2] - a[0], a[3] - a[1]);
        (a[0] + aw * 0.5, a[1] + ah * 0.5, aw, ah)
    } else {
        (a[0], a[1], a[2], a[3])
    };
    let ox = x[0] * std[0] * aw + ax;
    let oy = x[1] * std[1] * ah + ay;
    let mut dw = x[2] * std[2];
    let mut dh = x[3] * std[3];
    if clip > 0.0 {
        dw = dw.min(clip);
        dh = dh.min(clip);
    }
    let ow = dw.exp() * aw * 0.5;
    let oh = dh.exp() * ah * 0.5;
    [ox - ow, oy - oh, ox + ow, oy + oh]
}

/// `_contrib_box_encode` of one (anchor, reference) pair, both in corner format.
pub fn encode_box(a: &[f32], r: &[f32], means: &[f32], stds: &[f32]) -> [f32; 4] {
    let (aw, ah) = (a[2] - a[0], a[3] - a[1]);
    let (ax, ay) = (a[0] + aw * 0.5, a[1] + ah * 0.5);
    let (rw, rh) = (r[2] - r[0], r[3] - r[1]);
    let (rx, ry) = (r[0] + rw * 0.5, r[1] + rh * 0.5);
    [
        ((rx - ax) / aw - means[0]) / stds[0],
        ((ry - ay) / ah - means[1]) / stds[1],
        ((rw / aw).ln() - means[2]) / stds[2],
        ((rh / ah).ln() - means[3]) / stds[3],
    ]
}

#[cfg(test)]
mod tests {
    //! Expected values from MXNet 1.9.1 (`mx.nd.contrib.*`).
    use super::*;

    fn op(name: &str, attrs: &[(&str, &str)]) -> Result<DetectionOp> {
        let a = Attrs::from_pairs(attrs);
        let o = DetectionOp::parse(name, &a)?.expect("detection op");
        a.finish()?;
        Ok(o)
    }

    fn run(o: &DetectionOp, ins: &[(&[usize], &[f32])]) -> Vec<Vec<f32>> {
        let mut slots: Vec<Option<Vec<usize>>> =
            ins.iter().map(|(s, _)| Some(s.to_vec())).collect();
        let shapes = o.infer_shape(&mut slots).unwrap();
        let views: Vec<View> = ins
            .iter()
            .map(|&(shape, data)| View { shape, data })
            .collect();
        let mut bufs: Vec<Vec<f32>> = shapes.iter().map(|s| vec![f32::NAN; numel(s)]).collect();
        let mut outs: Vec<ViewMut> = bufs
            .iter_mut()
            .zip(&shapes)
            .map(|(b, s)| ViewMut { shape: s, data: b })
            .collect();
        o.forward(&views, &mut outs, &mut Scratch::default())
            .unwrap();
        bufs
    }

    #[test]
    fn box_nms_ties_ids_topk_formats() {
        // [id, score, x1, y1, x2, y2]; three tied 0.5 scores keep their input order.
        let d = [
            0., 0.5, 0., 0., 1., 1., //
            0., 0.5, 2., 2., 3., 3., //
            1., 0.9, 0., 0., 1., 1., //
            0., 0.5, 4., 4., 5., 5., //
            0., 0.3, 0., 0., 1., 1., //
            0., 0.005, 0., 0., 1., 1.,
        ];
        let base = [
            ("overlap_thresh", "0.5"),
            ("valid_thresh", "0.01"),
            ("id_index", "0"),
            ("score_index", "1"),
            ("coord_start", "2"),
        ];
        let o = op("_contrib_box_nms", &base).unwrap();
        let out = run(&o, &[(&[1, 6, 6], &d)]).remove(0);
        let m1 = [-1.0f32; 6];
        let want: Vec<f32> = [
            &[1., 0.9, 0., 0., 1., 1.][..],
            &[0., 0.5, 0., 0., 1., 1.],
            &[0., 0.5, 2., 2., 3., 3.],
            &[0., 0.5, 4., 4., 5., 5.],
            &m1,
            &m1,
        ]
        .concat();
        assert_eq!(out, want);
        let mut forced = base.to_vec();
        forced.extend([("topk", "2"), ("force_suppress", "True")]);
        let out = run(
            &op("_contrib_box_nms", &forced).unwrap(),
            &[(&[1, 6, 6], &d)],
        )
        .remove(0);
        assert_eq!(&out[..6], [1., 0.9, 0., 0., 1., 1.]);
        assert!(out[6..].iter().all(|&v| v == -1.0));
        let center = op(
            "_contrib_box_nms",
            &[("id_index", "0"), ("out_format", "center")],
        )
        .unwrap();
        let out = run(&center, &[(&[6, 6], &d)]).remove(0);
        assert_eq!(&out[..6], [1., 0.9, 0.5, 0.5, 1., 1.]);
        // Two empty boxes: NaN IoU suppresses nothing.
        let z = [0.9, 1., 1., 1., 1., 0.8, 1., 1., 1., 1.];
        let o = op(
            "_contrib_box_nms",
            &[("coord_start", "1"), ("score_index", "0")],
        )
        .unwrap();
        assert_eq!(run(&o, &[(&[2, 5], &z)]).remove(0), z);
        assert!(op("_contrib_box_nms", &[("in_format", "xywh")]).is_err());
        let mut slots = vec![Some(vec![3, 5])];
        assert!(op("_contrib_box_nms", &[])
            .unwrap()
            .infer_shape(&mut slots)
            .is_err());
    }

    #[test]
    fn multibox_prior_counts() {
        let p = op(
            "_contrib_MultiBoxPrior",
            &[("sizes", "(0.5, 0.25)"), ("ratios", "(1, 2, 0.5)")],
        )
        .unwrap();
        let mut slots = vec![Some(vec![1, 3, 2, 4])];
        assert_eq!(p.infer_shape(&mut slots).unwrap(), [vec![1, 32, 4]]);
        let out = run(&p, &[(&[1, 3, 2, 4], &[0.0; 24])]).remove(0);
        // First cell, size 0.5 at ratio 1: centre (0.125, 0.25), half sizes (0.125, 0.25).
        assert_eq!(&out[..4], [0., 0., 0.25, 0.5]);
    }

    #[test]
    fn decode_encode_roundtrip() {
        let a = [0.1, 0.2, 0.5, 0.6];
        let r = [0.15, 0.1, 0.45, 0.7];
        let t = encode_box(&a, &r, &[0.0; 4], &[1.0; 4]);
        let back = decode_box(&t, &a, &[1.0; 4], -1.0, true);
        for (x, y) in back.iter().zip(r) {
            assert!((x - y).abs() < 1e-6, "{back:?}");
        }
    }
}
