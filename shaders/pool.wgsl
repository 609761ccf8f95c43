// Pooling over (D, H, W) (1-D and 2-D pooling have leading size-1 axes), one thread per output
// element. Semantics of src/ops/pool.rs: window o covers [o·s − p, o·s − p + k) clipped to the
// input; max starts at −FLT_MAX (padding never wins, NaN never wins); avg divides by the window
// clipped to the padded extent (count_include_pad) or by its real cells.

@group(0) @binding(0) var<uniform> p: PoolParams;

// The mode baked into a specialised pipeline (the uniform's `mode` otherwise).
override OP: u32 = 0xffffffffu;

// The clipped window on one axis: (start, end, padded extent).
fn window(o: u32, input: u32, k: u32, s: u32, pad: u32) -> vec3<i32> {
    let start = i32(o * s) - i32(pad);
    let end = min(start + i32(k), i32(input) + i32(pad));
    let padded = max(end - start, 0);
    let cs = max(start, 0);
    let ce = max(min(end, i32(input)), cs);
    return vec3<i32>(cs, ce, padded);
}

@compute @workgroup_size(256)
fn pool(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let plane = i / p.out_size;
    let pos = i % p.out_size;
    let oz = pos / (p.out_h * p.out_w);
    let oy = (pos / p.out_w) % p.out_h;
    let ox = pos % p.out_w;
    let mode = select(p.mode, OP, OP != 0xffffffffu);
    let wz = window(oz, p.in_d, p.k_d, p.s_d, p.p_d);
    let wy = window(oy, p.in_h, p.k_h, p.s_h, p.p_h);
    let wx = window(ox, p.in_w, p.k_w, p.s_w, p.p_w);
    let base = p.x_off + plane * p.in_size;
    var acc = 0.0;
    if (mode == POOL_MAX) {
        acc = -F32_MAX;
    }
    for (var z = wz.x; z < wz.y; z++) {
        for (var y = wy.x; y < wy.y; y++) {
            let row = base + (u32(z) * p.in_h + u32(y)) * p.in_w;
            for (var x = wx.x; x < wx.y; x++) {
                let v = in0[row + u32(x)];
                switch mode {
                    case POOL_MAX: { if (v > acc) { acc = v; } }
                    case POOL_LP2: { acc += v * v; }
                    case POOL_LP3: { acc += v * v * v; }
                    default: { acc += v; }
                }
            }
        }
    }
    var out = acc;
    if (mode == POOL_AVG) {
        var divisor: i32;
        if (p.count_include_pad == 1u) {
            divisor = wz.z * wy.z * wx.z;
        } else {
            divisor = (wz.y - wz.x) * (wy.y - wy.x) * (wx.y - wx.x);
        }
        if (divisor == 0) {
            out = select(0.0, f_nan(), p.three_d == 1u);
        } else {
            out = acc / f32(divisor);
        }
    } else if (mode == POOL_LP2) {
        out = sqrt(acc);
    } else if (mode == POOL_LP3) {
        out = sign(acc) * pow(abs(acc), 1.0 / 3.0);
        if (acc != 0.0) {
            // One Newton step: pow's cube root is only approximately exact.
            let a = abs(acc);
            var r = abs(out);
            r = r - (r * r * r - a) / (3.0 * r * r);
            out = select(r, -r, acc < 0.0);
        }
    }
    out0[p.y_off + i] = out;
}
