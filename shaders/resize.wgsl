// Segmentation resizing (src/ops/resize.rs), NCHW, one thread per output value:
// `bilinear` (_contrib_BilinearResize2D) and `adaptive_avg` (_contrib_AdaptiveAvgPooling2D).

@group(0) @binding(0) var<uniform> p: ResizeParams; // declared in src/backend/webgpu/wgsl.rs

// Source index (first, second) and weight of the second along one axis.
fn src_coord(i: u32, scale: f32, size: u32) -> vec3<f32> {
    var r: f32;
    if (p.align == 1u) {
        r = scale * f32(i);
    } else {
        r = max((f32(i) + 0.5) * scale - 0.5, 0.0);
    }
    let i0 = min(u32(r), size - 1u);
    let i1 = select(i0, i0 + 1u, i0 + 1u < size);
    return vec3<f32>(f32(i0), f32(i1), r - f32(i0));
}

@compute @workgroup_size(256)
fn bilinear(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let j = e % p.ow;
    let i = (e / p.ow) % p.oh;
    let plane = e / (p.ow * p.oh);
    let base = plane * p.h * p.w;
    let r = src_coord(i, p.scale_h, p.h);
    let c = src_coord(j, p.scale_w, p.w);
    let r0 = base + u32(r.x) * p.w;
    let r1 = base + u32(r.y) * p.w;
    let c0 = u32(c.x);
    let c1 = u32(c.y);
    let top = (1.0 - c.z) * in0[r0 + c0] + c.z * in0[r0 + c1];
    let bot = (1.0 - c.z) * in0[r1 + c0] + c.z * in0[r1 + c1];
    out0[e] = (1.0 - r.z) * top + r.z * bot;
}

@compute @workgroup_size(256)
fn adaptive_avg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let j = e % p.ow;
    let i = (e / p.ow) % p.oh;
    let plane = e / (p.ow * p.oh);
    let base = plane * p.h * p.w;
    let r0 = i * p.h / p.oh;
    let r1 = ((i + 1u) * p.h + p.oh - 1u) / p.oh;
    let c0 = j * p.w / p.ow;
    let c1 = ((j + 1u) * p.w + p.ow - 1u) / p.ow;
    var s = 0.0;
    for (var r = r0; r < r1; r++) {
        for (var c = c0; c < c1; c++) {
            s += in0[base + r * p.w + c];
        }
    }
    out0[e] = s / f32((r1 - r0) * (c1 - c0));
}
