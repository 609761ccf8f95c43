// Sequence and Transformer operators (src/ops/sequence.rs, src/ops/transformer.rs), one thread
// per output value.

@group(0) @binding(0) var<uniform> p: NlpParams;

fn seq_len(b: u32) -> u32 {
    if (p.use_len == 0u) {
        return p.t_len;
    }
    let x = in1[b];
    if (is_nan(x) || x <= 0.0) {
        return 0u;
    }
    return min(u32(trunc(min(x, 4.0e9))), p.t_len);
}

fn seq_offset(t: u32, b: u32) -> u32 {
    if (p.axis == 0u) {
        return (t * p.batch + b) * p.inner;
    }
    return (b * p.t_len + t) * p.inner;
}

// in0 = data, in1 = sequence_length (when use_len).
@compute @workgroup_size(256)
fn sequence(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let i = e % p.inner;
    if (p.kind == SEQUENCE_LAST) {
        let b = e / p.inner;
        let t = max(seq_len(b), 1u) - 1u;
        out0[e] = in0[seq_offset(t, b) + i];
        return;
    }
    let r = e / p.inner;
    var t: u32;
    var b: u32;
    if (p.axis == 0u) {
        t = r / p.batch;
        b = r % p.batch;
    } else {
        b = r / p.t_len;
        t = r % p.t_len;
    }
    let len = seq_len(b);
    if (p.kind == SEQUENCE_MASK) {
        out0[e] = select(p.value, in0[e], t < len);
    } else {
        let src = select(t, len - 1u - t, t < len);
        out0[e] = in0[seq_offset(src, b) + i];
    }
}

// Scores (B·H, Tq, Tk) = q·k/√D. Self: in0 = in1 = queries_keys_values; enc-dec: in0 = queries,
// in1 = keys_values.
@compute @workgroup_size(256)
fn interleaved_qk(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let d = p.inner;
    let j = e % p.tk;
    let i = (e / p.tk) % p.t_len;
    let bh = e / (p.tk * p.t_len);
    let h = bh % p.heads;
    let b = bh / p.heads;
    var q_stride = 3u * d;
    var k_stride = 3u * d;
    var k_sub = d;
    if (p.kind == ATTENTION_ENC_DEC) {
        q_stride = d;
        k_stride = 2u * d;
        k_sub = 0u;
    }
    let q = (i * p.batch + b) * p.heads * q_stride + h * q_stride;
    let k = (j * p.batch + b) * p.heads * k_stride + h * k_stride + k_sub;
    var acc = 0.0;
    for (var x = 0u; x < d; x++) {
        acc += in0[q + x] * p.value * in1[k + x];
    }
    out0[e] = acc;
}

// (Tq, B, H·D) = attention · v. in0 = queries_keys_values / keys_values, in1 = attention.
@compute @workgroup_size(256)
fn interleaved_valatt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    let d = p.inner;
    let x = e % d;
    let h = (e / d) % p.heads;
    let b = (e / (d * p.heads)) % p.batch;
    let i = e / (d * p.heads * p.batch);
    var v_stride = 3u * d;
    var v_sub = 2u * d;
    if (p.kind == ATTENTION_ENC_DEC) {
        v_stride = 2u * d;
        v_sub = d;
    }
    let a = ((b * p.heads + h) * p.t_len + i) * p.tk;
    var acc = 0.0;
    for (var j = 0u; j < p.tk; j++) {
        acc += in1[a + j] * in0[(j * p.batch + b) * p.heads * v_stride + h * v_stride + v_sub + x];
    }
    out0[e] = acc;
}

// out = in0 / √(last axis): the reciprocal is not used, to divide exactly like the CPU.
@compute @workgroup_size(256)
fn div_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.n) {
        return;
    }
    out0[e] = in0[e] / p.value;
}
