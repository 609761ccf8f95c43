// Indexing (src/ops/index.rs): Embedding and take (entry `take`), pick, one_hot. Indices are
// f32 values, truncated toward zero; NaN, ±inf and out-of-range values behave like the C++ cast
// to i64 (the most negative integer), which clip mode clamps to 0.

@group(0) @binding(0) var<uniform> p: IndexParams;

// The row an index selects in 0..n.
fn resolve(x: f32, n: u32, mode: u32) -> u32 {
    let valid = !is_nan(x) && !is_inf(x) && abs(x) < 9.223372e18;
    if (mode == INDEX_WRAP) {
        if (!valid) {
            return 0u;
        }
        let t = trunc(x);
        let nf = f32(n);
        let r = t - floor(t / nf) * nf;
        return min(u32(max(r, 0.0)), n - 1u);
    }
    if (!valid) {
        return 0u;
    }
    return u32(clamp(trunc(x), 0.0, f32(n - 1u)));
}

// out[(o, j, i)] = a[(o, resolve(idx[j]), i)]. in0 = a, in1 = indices.
@compute @workgroup_size(256)
fn take(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let i = e % p.inner;
    let j = (e / p.inner) % p.n_idx;
    let o = e / (p.inner * p.n_idx);
    let row = resolve(in1[j], p.axis_len, p.mode);
    if (row < p.row_lo || row >= p.row_hi) {
        return;
    }
    out0[p.y_off + e] = in0[p.x_off + (o * (p.row_hi - p.row_lo) + (row - p.row_lo)) * p.inner + i];
}

// out[(o, i)] = data[(o, resolve(index[(o, i)]), i)]. in0 = data, in1 = index.
@compute @workgroup_size(256)
fn pick(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let i = e % p.inner;
    let o = e / p.inner;
    var x = in1[e];
    // pick casts to int32: out-of-range values become i32::MIN (clip → 0).
    if (abs(x) >= 2147483648.0) {
        x = f_nan();
    }
    let k = resolve(x, p.axis_len, p.mode);
    out0[p.y_off + e] = in0[p.x_off + (o * p.axis_len + k) * p.inner + i];
}

// out[(j, d)] = d == trunc(idx[j]) ? on : off. in0 = indices.
@compute @workgroup_size(256)
fn one_hot(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let d = e % p.inner;
    let j = e / p.inner;
    let x = in0[p.x_off + j];
    let t = trunc(x);
    let hit = !is_nan(x) && t >= 0.0 && t < f32(p.inner) && u32(t) == d;
    out0[p.y_off + e] = select(p.off_value, p.on_value, hit);
}
