// The softmax family (src/ops/activation.rs): softmax, log_softmax, softmin, SoftmaxOutput,
// SoftmaxActivation. Data is viewed as (outer, n, inner); one workgroup per (outer, inner) row.

@group(0) @binding(0) var<uniform> p: SoftmaxParams;

const SW: u32 = 256u;
var<workgroup> part: array<f32, 256>;

fn reduce_max(lid: u32, v: f32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var s = SW / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let o = part[lid + s];
            if (part[lid] < o) {
                part[lid] = o;
            }
        }
        workgroupBarrier();
    }
    let m = part[0];
    workgroupBarrier();
    return m;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var s = SW / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            part[lid] = part[lid] + part[lid + s];
        }
        workgroupBarrier();
    }
    let m = part[0];
    workgroupBarrier();
    return m;
}

@compute @workgroup_size(256)
fn softmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let r = flat_group(wg, nwg);
    if (r >= p.rows) {
        return;
    }
    let o = r / p.inner;
    let ii = r % p.inner;
    let base = o * p.n * p.inner + ii;
    var len = p.n;
    if ((p.flags & SOFTMAX_LENGTH) != 0u) {
        let l = in1[r];
        if (is_nan(l) || l <= 0.0) {
            len = 0u;
        } else {
            len = min(u32(min(l, 4294967040.0)), p.n);
        }
    }
    let sign = select(1.0, -1.0, (p.flags & SOFTMAX_NEGATE) != 0u);
    var m = -f_inf();
    for (var j = lid; j < len; j += SW) {
        let v = sign * in0[p.x_off + base + j * p.inner];
        if (m < v) {
            m = v;
        }
    }
    m = reduce_max(lid, m);
    // A row holding a NaN (or inf - inf): the native kernel's sum turns the whole row NaN, and
    // oneDNN's convention (flag 16) gives NaN at its own position only, the row's other values
    // becoming 0 (softmax) or x - max - ln(FLT_MAX) (log_softmax), as if the NaN's exp saturated
    // the sum. Both are decided here with bit tests, not left to NaN propagation: WGSL lets
    // compilers assume finite arithmetic (SwiftShader then returns 0). The max above already
    // skips NaN (`m < NaN` is false). Applied in the store loop (no barrier may follow a
    // non-uniform branch).
    var any_nan = 0.0;
    for (var j = lid; j < len; j += SW) {
        if (is_nan(sign * in0[p.x_off + base + j * p.inner] - m)) {
            any_nan = 1.0;
        }
    }
    let nan_row = reduce_max(lid, any_nan) > 0.0;
    var s = 0.0;
    for (var j = lid; j < len; j += SW) {
        s += exp((sign * in0[p.x_off + base + j * p.inner] - m) / p.temperature);
    }
    let total = reduce_sum(lid, s);
    let log_total = log(total);
    for (var j = lid; j < p.n; j += SW) {
        let k = base + j * p.inner;
        var y = 0.0;
        if (j < len && nan_row) {
            let d = sign * in0[p.x_off + k] - m;
            if ((p.flags & SOFTMAX_ONEDNN_NAN) == 0u || is_nan(d)) {
                y = f_nan();
            } else if ((p.flags & SOFTMAX_LOG) != 0u) {
                y = d - log(F32_MAX);
            }
        } else if (j < len) {
            let z = (sign * in0[p.x_off + k] - m) / p.temperature;
            if ((p.flags & SOFTMAX_LOG) != 0u) {
                y = z - log_total;
            } else {
                y = exp(z) / total;
            }
        }
        if ((p.flags & SOFTMAX_CAST) != 0u) {
            y = cast_to(p.cast_code, y);
        }
        out0[p.y_off + k] = y;
    }
}
