// Detection operators (src/ops/detection.rs): box_decode, box_encode, and the data-dependent
// box_nms and MultiBoxDetection as GPU passes: a bitonic sort of row indices under a total order
// (valid rows first, score descending, ties by row index: exactly the stable order MXNet's CPU
// sort gives), then one workgroup per batch for the greedy suppression and the compaction of the
// kept rows (a workgroup prefix sum per chunk of 256 rows). Indices travel as u32 bit patterns.

@group(0) @binding(6) var<storage, read> in5: array<f32>;

@group(0) @binding(0) var<uniform> p: DetectionParams;

// Flags (p.flags, p.roi_flags): FLAG_* and ROI_*, declared in src/backend/webgpu/wgsl.rs.

var<workgroup> wg_u: u32;
var<workgroup> wg_count: atomic<u32>;
var<workgroup> scan: array<u32, 256>;

fn to_u(x: f32) -> u32 {
    return bitcast<u32>(x);
}

// ------------------------------------------------------------------ box_decode / box_encode

// One box per thread. in0 = data (B, N, 4), in1 = anchors (1, N, 4). flags & FLAG_IN_CORNER: anchors
// in corner format.
@compute @workgroup_size(256)
fn box_decode(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let a = (e % p.rows) * 4u;
    var ax = in1[a];
    var ay = in1[a + 1u];
    var aw = in1[a + 2u];
    var ah = in1[a + 3u];
    if ((p.flags & FLAG_IN_CORNER) != 0u) {
        aw = in1[a + 2u] - in1[a];
        ah = in1[a + 3u] - in1[a + 1u];
        ax = in1[a] + aw * 0.5;
        ay = in1[a + 1u] + ah * 0.5;
    }
    let x = e * 4u;
    let ox = in0[x] * p.s0 * aw + ax;
    let oy = in0[x + 1u] * p.s1 * ah + ay;
    var dw = in0[x + 2u] * p.s2;
    var dh = in0[x + 3u] * p.s3;
    if (p.clip > 0.0) {
        dw = min(dw, p.clip);
        dh = min(dh, p.clip);
    }
    let ow = exp(dw) * aw * 0.5;
    let oh = exp(dh) * ah * 0.5;
    out0[x] = ox - ow;
    out0[x + 1u] = oy - oh;
    out0[x + 2u] = ox + ow;
    out0[x + 3u] = oy + oh;
}

// One (batch, anchor) per thread. in0 samples (B, N), in1 matches (B, N), in2 anchors (B, N, 4),
// in3 refs (B, M, 4) with M = p.width, in4 means (4), in5 stds (4) → out0 targets, out1 masks.
@compute @workgroup_size(256)
fn box_encode(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let o = e * 4u;
    if (!(in0[e] > 0.5)) {
        for (var k = 0u; k < 4u; k++) {
            out0[o + k] = 0.0;
            out1[o + k] = 0.0;
        }
        return;
    }
    let b = e / p.rows;
    let m = u32(clamp(trunc(in1[e]), 0.0, f32(p.width - 1u)));
    let r = (b * p.width + m) * 4u;
    let aw = in2[o + 2u] - in2[o];
    let ah = in2[o + 3u] - in2[o + 1u];
    let ax = in2[o] + aw * 0.5;
    let ay = in2[o + 1u] + ah * 0.5;
    let rw = in3[r + 2u] - in3[r];
    let rh = in3[r + 3u] - in3[r + 1u];
    let rx = in3[r] + rw * 0.5;
    let ry = in3[r + 1u] + rh * 0.5;
    out0[o] = ((rx - ax) / aw - in4[0]) / in5[0];
    out0[o + 1u] = ((ry - ay) / ah - in4[1]) / in5[1];
    out0[o + 2u] = (log(rw / aw) - in4[2]) / in5[2];
    out0[o + 3u] = (log(rh / ah) - in4[3]) / in5[3];
    for (var k = 0u; k < 4u; k++) {
        out1[o + k] = 1.0;
    }
}

// ------------------------------------------------------------------ sorting row indices

// Row i of batch b of in0 (rows of p.width values).
fn row_base(b: u32, i: u32) -> u32 {
    return (b * p.rows + i) * p.width;
}

fn row_valid(b: u32, i: u32) -> bool {
    if (i >= p.rows) {
        return false;
    }
    let base = row_base(b, i);
    if ((p.flags & FLAG_VALID_BY_ID) != 0u) {
        return in0[base] >= 0.0;
    }
    let s = in0[base + p.score_index];
    if (!(s > p.valid_thresh) || is_nan(s)) {
        return false;
    }
    if (p.id_index >= 0 && p.background_id >= 0
        && in0[base + u32(p.id_index)] == f32(p.background_id)) {
        return false;
    }
    return true;
}

// True when row x sorts before row y.
fn before(b: u32, x: u32, y: u32) -> bool {
    let vx = row_valid(b, x);
    let vy = row_valid(b, y);
    if (vx != vy) {
        return vx;
    }
    if (vx) {
        let sx = in0[row_base(b, x) + p.score_index];
        let sy = in0[row_base(b, y) + p.score_index];
        if (sx != sy) {
            return sx > sy;
        }
    }
    return x < y;
}

// out0[b * pow2 + i] = i.
@compute @workgroup_size(256)
fn sort_init(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    out0[e] = bitcast<f32>(e % p.pow2);
}

// One compare-exchange step (p.k, p.j) of a bitonic sort of each batch's pow2 indices in out0.
@compute @workgroup_size(256)
fn sort_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let b = e / p.pow2;
    let i = e % p.pow2;
    let l = i ^ p.j;
    if (l <= i) {
        return;
    }
    let base = b * p.pow2;
    let xi = to_u(out0[base + i]);
    let xl = to_u(out0[base + l]);
    var swap: bool;
    if ((i & p.k) == 0u) {
        swap = before(b, xl, xi);
    } else {
        swap = before(b, xi, xl);
    }
    if (swap) {
        out0[base + i] = bitcast<f32>(xl);
        out0[base + l] = bitcast<f32>(xi);
    }
}

// ------------------------------------------------------------------ box_nms

fn nms_box(base: u32) -> vec4<f32> {
    return vec4<f32>(in0[base], in0[base + 1u], in0[base + 2u], in0[base + 3u]);
}

fn nms_area(v: vec4<f32>, corner: bool) -> f32 {
    var w = v.z;
    var h = v.w;
    if (corner) {
        w = v.z - v.x;
        h = v.w - v.y;
    }
    if (w < 0.0 || h < 0.0) {
        return 0.0;
    }
    return w * h;
}

fn to_corners(v: vec4<f32>, corner: bool) -> vec4<f32> {
    if (corner) {
        return v;
    }
    let hw = v.z / 2.0;
    let hh = v.w / 2.0;
    return vec4<f32>(v.x - hw, v.y - hh, v.x + hw, v.y + hh);
}

fn nms_intersect(a: vec4<f32>, b: vec4<f32>, corner: bool) -> f32 {
    let ca = to_corners(a, corner);
    let cb = to_corners(b, corner);
    let w = min(ca.z, cb.z) - max(ca.x, cb.x);
    let h = min(ca.w, cb.w) - max(ca.y, cb.y);
    if (w < 0.0 || h < 0.0) {
        return 0.0;
    }
    return w * h;
}

// The sorted row at position i of batch b (in1 = sorted indices).
fn sorted(b: u32, i: u32) -> u32 {
    return to_u(in1[b * p.pow2 + i]);
}

// Inclusive workgroup prefix sum of `flag` over the 256 threads; returns this thread's sum and
// leaves the chunk total in wg_u (read with workgroupUniformLoad).
fn prefix(lid: u32, flag: u32) -> u32 {
    scan[lid] = flag;
    workgroupBarrier();
    for (var off = 1u; off < 256u; off <<= 1u) {
        var v = 0u;
        if (lid >= off) {
            v = scan[lid - off];
        }
        workgroupBarrier();
        scan[lid] += v;
        workgroupBarrier();
    }
    let mine = scan[lid];
    if (lid == 255u) {
        wg_u = scan[255];
    }
    return mine;
}

// One workgroup per batch. in0 = data, in1 = sorted indices → out0 = output, out1 = alive flags
// (pow2 per batch, workspace).
@compute @workgroup_size(256)
fn box_nms(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let b = flat_group(wg, nwg);
    if (b >= p.n) {
        return;
    }
    let alive = b * p.pow2;
    let corner = (p.flags & FLAG_IN_CORNER) != 0u;
    // Valid rows come first in the sorted order: count them.
    if (lid == 0u) {
        atomicStore(&wg_count, 0u);
    }
    workgroupBarrier();
    var mine = 0u;
    for (var i = lid; i < p.rows; i += 256u) {
        if (row_valid(b, sorted(b, i))) {
            mine += 1u;
        }
    }
    atomicAdd(&wg_count, mine);
    workgroupBarrier();
    if (lid == 0u) {
        wg_u = atomicLoad(&wg_count);
    }
    var cnt = workgroupUniformLoad(&wg_u);
    if (p.topk > 0 && u32(p.topk) < cnt) {
        cnt = u32(p.topk);
    }
    for (var i = lid; i < cnt; i += 256u) {
        out1[alive + i] = 1.0;
    }
    storageBarrier();
    let c = p.coord_start;
    for (var i = 0u; i < cnt; i++) {
        workgroupBarrier();
        if (lid == 0u) {
            wg_u = select(0u, 1u, out1[alive + i] > 0.5);
        }
        let keep = workgroupUniformLoad(&wg_u);
        if (keep == 1u) {
            let ri = row_base(b, sorted(b, i));
            let a = nms_box(ri + c);
            let area_a = nms_area(a, corner);
            for (var j = i + 1u + lid; j < cnt; j += 256u) {
                if (out1[alive + j] > 0.5) {
                    let rj = row_base(b, sorted(b, j));
                    let same = p.id_index < 0 || (p.flags & FLAG_FORCE) != 0u
                        || in0[rj + u32(p.id_index)] == in0[ri + u32(p.id_index)];
                    if (same) {
                        let bb = nms_box(rj + c);
                        let inter = nms_intersect(a, bb, corner);
                        let uni = area_a + nms_area(bb, corner) - inter;
                        // 0 / 0 is NaN in MXNet: no suppression.
                        if (uni != 0.0 && inter / uni > p.overlap) {
                            out1[alive + j] = 0.0;
                        }
                    }
                }
            }
        }
        storageBarrier();
    }
    // Compaction: kept rows in sorted order, converted to the output format.
    let convert = ((p.flags & FLAG_IN_CORNER) != 0u) != ((p.flags & FLAG_OUT_CORNER) != 0u);
    var total = 0u;
    for (var c0 = 0u; c0 < cnt; c0 += 256u) {
        let i = c0 + lid;
        let kept = i < cnt && out1[alive + min(i, p.pow2 - 1u)] > 0.5;
        let pos = total + prefix(lid, select(0u, 1u, kept)) - 1u;
        if (kept) {
            let src = row_base(b, sorted(b, i));
            let dst = (b * p.rows + pos) * p.width;
            for (var k = 0u; k < p.width; k++) {
                out0[dst + k] = in0[src + k];
            }
            let v = nms_box(src + c);
            if (convert && !(v.x < 0.0)) {
                var o: vec4<f32>;
                if (corner) {
                    o = vec4<f32>((v.x + v.z) / 2.0, (v.y + v.w) / 2.0, v.z - v.x, v.w - v.y);
                } else {
                    o = to_corners(v, false);
                }
                out0[dst + c] = o.x;
                out0[dst + c + 1u] = o.y;
                out0[dst + c + 2u] = o.z;
                out0[dst + c + 3u] = o.w;
            }
        }
        total += workgroupUniformLoad(&wg_u);
    }
    for (var r = total + lid; r < p.rows; r += 256u) {
        let dst = (b * p.rows + r) * p.width;
        for (var k = 0u; k < p.width; k++) {
            out0[dst + k] = -1.0;
        }
    }
}

// ------------------------------------------------------------------ MultiBoxDetection

// One (batch, anchor) per thread: the best class and its decoded box, id -1 when none.
// in0 cls_prob (B, C, N), in1 loc_pred (B, 4N), in2 anchors (N, 4) → out0 rows (B, N, 6).
@compute @workgroup_size(256)
fn mbd_candidates(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let n = p.rows;
    let b = e / n;
    let i = e % n;
    var score = -1.0;
    var id = 0u;
    for (var j = 1u; j < p.classes; j++) {
        let t = in0[(b * p.classes + j) * n + i];
        if (t > score) {
            score = t;
            id = j;
        }
    }
    if (id > 0u && score < p.threshold) {
        id = 0u;
    }
    let o = e * 6u;
    out0[o] = f32(id) - 1.0;
    out0[o + 1u] = score;
    let al = in2[i * 4u];
    let at = in2[i * 4u + 1u];
    let ar = in2[i * 4u + 2u];
    let ab = in2[i * 4u + 3u];
    let aw = ar - al;
    let ah = ab - at;
    let ax = (al + ar) / 2.0;
    let ay = (at + ab) / 2.0;
    let l = e * 4u;
    let ox = in1[l] * p.s0 * aw + ax;
    let oy = in1[l + 1u] * p.s1 * ah + ay;
    let ow = exp(in1[l + 2u] * p.s2) * aw / 2.0;
    let oh = exp(in1[l + 3u] * p.s3) * ah / 2.0;
    var v = vec4<f32>(ox - ow, oy - oh, ox + ow, oy + oh);
    if (p.clip > 0.0) {
        v = clamp(v, vec4<f32>(0.0), vec4<f32>(1.0));
    }
    out0[o + 2u] = v.x;
    out0[o + 3u] = v.y;
    out0[o + 4u] = v.z;
    out0[o + 5u] = v.w;
}

// One workgroup per batch: the valid candidates (in0) packed to the front in anchor order
// (out0), the rest -1; out1[b] = their number.
@compute @workgroup_size(256)
fn mbd_compact(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let b = flat_group(wg, nwg);
    if (b >= p.n) {
        return;
    }
    var total = 0u;
    for (var c0 = 0u; c0 < p.rows; c0 += 256u) {
        let i = c0 + lid;
        let src = (b * p.rows + min(i, p.rows - 1u)) * 6u;
        let valid = i < p.rows && in0[src] >= 0.0;
        let pos = total + prefix(lid, select(0u, 1u, valid)) - 1u;
        if (valid) {
            let dst = (b * p.rows + pos) * 6u;
            for (var k = 0u; k < 6u; k++) {
                out0[dst + k] = in0[src + k];
            }
        }
        total += workgroupUniformLoad(&wg_u);
    }
    for (var r = total + lid; r < p.rows; r += 256u) {
        for (var k = 0u; k < 6u; k++) {
            out0[(b * p.rows + r) * 6u + k] = -1.0;
        }
    }
    if (lid == 0u) {
        out1[b] = f32(total);
    }
}

fn overlap(a: vec4<f32>, b: vec4<f32>) -> f32 {
    let w = max(min(a.z, b.z) - max(a.x, b.x), 0.0);
    let h = max(min(a.w, b.w) - max(a.y, b.y), 0.0);
    let i = w * h;
    let u = (a.z - a.x) * (a.w - a.y) + (b.z - b.x) * (b.w - b.y) - i;
    if (u <= 0.0) {
        return 0.0;
    }
    return i / u;
}

fn out_box(r: u32) -> vec4<f32> {
    return vec4<f32>(out0[r + 2u], out0[r + 3u], out0[r + 4u], out0[r + 5u]);
}

// One workgroup per batch. in0 = packed rows, in1 = sorted indices, in2 = valid counts → out0.
@compute @workgroup_size(256)
fn mbd_nms(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let b = flat_group(wg, nwg);
    if (b >= p.n) {
        return;
    }
    if (lid == 0u) {
        wg_u = u32(in2[b]);
    }
    let valid = workgroupUniformLoad(&wg_u);
    let nms = (p.flags & FLAG_NMS_ON) != 0u && valid > 0u;
    var nkeep = 0u;
    if (nms) {
        nkeep = valid;
        if (p.topk > 0 && u32(p.topk) < valid) {
            nkeep = u32(p.topk);
        }
    }
    for (var r = lid; r < p.rows; r += 256u) {
        var src = r;
        if (r < nkeep) {
            src = sorted(b, r);
        }
        let s = (b * p.rows + src) * 6u;
        let d = (b * p.rows + r) * 6u;
        for (var k = 0u; k < 6u; k++) {
            out0[d + k] = in0[s + k];
        }
        if (nms && r >= nkeep && r < valid) {
            out0[d] = -1.0;
        }
    }
    storageBarrier();
    let base = b * p.rows * 6u;
    for (var i = 0u; i < nkeep; i++) {
        workgroupBarrier();
        if (lid == 0u) {
            wg_u = select(0u, 1u, out0[base + i * 6u] >= 0.0);
        }
        let keep = workgroupUniformLoad(&wg_u);
        if (keep == 1u) {
            let ri = base + i * 6u;
            let a = out_box(ri);
            for (var j = i + 1u + lid; j < nkeep; j += 256u) {
                let rj = base + j * 6u;
                if (out0[rj] >= 0.0 && ((p.flags & FLAG_FORCE) != 0u || out0[rj] == out0[ri])) {
                    if (overlap(a, out_box(rj)) >= p.overlap) {
                        out0[rj] = -1.0;
                    }
                }
            }
        }
        storageBarrier();
    }
}

// ------------------------------------------------------------------ gather_nd

// One output element per thread. in0 = data, in1 = indices (M, positions), in2 = the data's
// leading M axis sizes (i32 bits); p.width = M, p.rows = positions, p.k = the inner size. The CPU
// kernel rejects out-of-range indices as MXNet does; here they clamp.
@compute @workgroup_size(256)
fn gather_nd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let inner = p.k;
    let y = e / inner;
    let r = e % inner;
    var off = 0u;
    for (var a = 0u; a < p.width; a++) {
        let size = bitcast<u32>(in2[a]);
        var x = clamp(in1[a * p.rows + y], -f32(size), f32(size) - 1.0);
        if (x < 0.0) {
            x += f32(size);
        }
        off = off * size + min(u32(trunc(x)), size - 1u);
    }
    out0[e] = in0[off * inner + r];
}

// ------------------------------------------------------------------ ROIAlign / ROIPooling

fn roi_bilinear(plane: u32, y0: f32, x0: f32) -> f32 {
    let h = p.rows;
    let w = p.width;
    if (y0 < -1.0 || y0 > f32(h) || x0 < -1.0 || x0 > f32(w)) {
        return 0.0;
    }
    var y = max(y0, 0.0);
    var x = max(x0, 0.0);
    var yl = u32(y);
    var xl = u32(x);
    var yh = yl + 1u;
    var xh = xl + 1u;
    if (yl >= h - 1u) {
        yl = h - 1u;
        yh = yl;
        y = f32(yl);
    }
    if (xl >= w - 1u) {
        xl = w - 1u;
        xh = xl;
        x = f32(xl);
    }
    let ly = y - f32(yl);
    let lx = x - f32(xl);
    let hy = 1.0 - ly;
    let hx = 1.0 - lx;
    return hy * hx * in0[plane + yl * w + xl] + hy * lx * in0[plane + yl * w + xh]
        + ly * hx * in0[plane + yh * w + xl] + ly * lx * in0[plane + yh * w + xh];
}

// One output value per thread. in0 = data (B, C, H, W), in1 = rois (R, 5) → out0 (R, C', ph, pw).
@compute @workgroup_size(256)
fn roi_align(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let px = e % p.pw;
    let py = (e / p.pw) % p.ph;
    let c = (e / (p.pw * p.ph)) % p.out_channels;
    let r = e / (p.pw * p.ph * p.out_channels);
    let bi = i32(in1[r * 5u]);
    if (bi < 0 || u32(bi) >= p.batch) {
        out0[e] = 0.0;
        return;
    }
    var off = 0.0;
    if ((p.roi_flags & ROI_ALIGNED) != 0u) {
        off = 0.5;
    }
    let sw = in1[r * 5u + 1u] * p.scale - off;
    let sh = in1[r * 5u + 2u] * p.scale - off;
    var rw = in1[r * 5u + 3u] * p.scale - off - sw;
    var rh = in1[r * 5u + 4u] * p.scale - off - sh;
    if ((p.roi_flags & ROI_ALIGNED) == 0u) {
        rw = max(rw, 1.0);
        rh = max(rh, 1.0);
    }
    let bh = rh / f32(p.ph);
    let bw = rw / f32(p.pw);
    var gh = u32(ceil(rh / f32(p.ph)));
    var gw = u32(ceil(rw / f32(p.pw)));
    if (p.sample_ratio > 0) {
        gh = u32(p.sample_ratio);
        gw = u32(p.sample_ratio);
    }
    let count = f32(max(gh * gw, 1u));
    var cin = c;
    if ((p.roi_flags & ROI_POSITION_SENSITIVE) != 0u) {
        cin = (c * p.ph + py) * p.pw + px;
    }
    let plane = (u32(bi) * p.channels + cin) * p.rows * p.width;
    var acc = 0.0;
    for (var iy = 0u; iy < gh; iy++) {
        let y = sh + f32(py) * bh + (f32(iy) + 0.5) * bh / f32(gh);
        for (var ix = 0u; ix < gw; ix++) {
            let x = sw + f32(px) * bw + (f32(ix) + 0.5) * bw / f32(gw);
            acc += roi_bilinear(plane, y, x);
        }
    }
    out0[e] = acc / count;
}

// C's round(): half away from zero.
fn round_away(x: f32) -> f32 {
    return sign(x) * floor(abs(x) + 0.5);
}

@compute @workgroup_size(256)
fn roi_pool(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let px = e % p.pw;
    let py = (e / p.pw) % p.ph;
    let c = (e / (p.pw * p.ph)) % p.out_channels;
    let r = e / (p.pw * p.ph * p.out_channels);
    let bi = i32(in1[r * 5u]);
    if (bi < 0 || u32(bi) >= p.batch) {
        out0[e] = 0.0;
        return;
    }
    let h = i32(p.rows);
    let w = i32(p.width);
    let sw = i32(round_away(in1[r * 5u + 1u] * p.scale));
    let sh = i32(round_away(in1[r * 5u + 2u] * p.scale));
    let ew = i32(round_away(in1[r * 5u + 3u] * p.scale));
    let eh = i32(round_away(in1[r * 5u + 4u] * p.scale));
    let bh = f32(max(eh - sh + 1, 1)) / f32(p.ph);
    let bw = f32(max(ew - sw + 1, 1)) / f32(p.pw);
    let hs = clamp(i32(floor(f32(py) * bh)) + sh, 0, h);
    let he = clamp(i32(ceil(f32(py + 1u) * bh)) + sh, 0, h);
    let ws = clamp(i32(floor(f32(px) * bw)) + sw, 0, w);
    let we = clamp(i32(ceil(f32(px + 1u) * bw)) + sw, 0, w);
    if (he <= hs || we <= ws) {
        out0[e] = 0.0;
        return;
    }
    let plane = (u32(bi) * p.channels + c) * p.rows * p.width;
    var m = -F32_MAX;
    for (var y = hs; y < he; y++) {
        for (var x = ws; x < we; x++) {
            m = max(m, in0[plane + u32(y * w + x)]);
        }
    }
    out0[e] = m;
}
