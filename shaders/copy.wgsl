// Data movement: every shape operator (transpose, slice, broadcast_*, tile, repeat, Concat, stack,
// SliceChannel, Pad, Crop, ...) becomes one of these.

@group(0) @binding(0) var<uniform> p: CopyParams;

// dst[dst_off + Σ i_k·dst_stride_k] = src[src_off + Σ i_k·src_stride_k] for every multi-index i of
// `shape`.
@compute @workgroup_size(256)
fn strided_copy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var s = p.src_off;
    var d = p.dst_off;
    for (var k = i32(p.rank) - 1; k >= 0; k--) {
        let ku = u32(k);
        let dim = p.shape[ku >> 2u][ku & 3u];
        let c = i32(rem % dim);
        rem = rem / dim;
        s += c * p.src_strides[ku >> 2u][ku & 3u];
        d += c * p.dst_strides[ku >> 2u][ku & 3u];
    }
    if (p.accumulate == 1u) {
        out0[d] = out0[d] + in0[s];
    } else {
        out0[d] = in0[s];
    }
}

// out[dst_off + i] = idx[i] >= 0 ? src[src_off + idx[i]] : value, where idx (in1) holds i32 bits.
// The fallback for index maps that are not strided (e.g. Pad with edge/reflect modes).
@compute @workgroup_size(256)
fn gather_index(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let j = bitcast<i32>(in1[i]);
    var v = p.value;
    if (j >= 0) {
        v = in0[p.src_off + j];
    }
    out0[p.dst_off + i32(i)] = v;
}

// out[dst_off + i] = value.
@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    out0[p.dst_off + i32(i)] = p.value;
}
