// Normalisations (src/ops/norm.rs): BatchNorm (per-channel affine, one thread per element),
// row normalisations (InstanceNorm, LayerNorm, GroupNorm, L2Normalization: one workgroup per
// normalised vector) and LRN (one thread per element).

@group(0) @binding(0) var<uniform> p: NormParams;

// batch_norm's fused activation (EPILOGUE_* codes), set per pipeline.
override OP: u32 = 0u;

// y = act(x·scale + shift) with scale = g/sqrt(var + eps), shift = beta − mean·scale (the CPU
// kernel's order of operations). in0 = x, in1 = gamma, in2 = beta, in3 = mean, in4 = var.
@compute @workgroup_size(256)
fn batch_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    // `len` is the element offset of this slab within the tensor (0 unless split).
    let c = ((i + p.len) / p.inner) % p.channels;
    var g = 1.0;
    if (p.mode == NORM_GAMMA) {
        g = in1[c];
    }
    let scale = g * (1.0 / sqrt(in4[c] + p.eps));
    let shift = in2[c] - in3[c] * scale;
    out0[p.y_off + i] = fused_act(in0[p.x_off + i] * scale + shift, OP, p.act_a, p.act_b);
}

// BatchNorm's extra outputs: the moving mean and 1/sqrt(var + eps) (V1: the variance).
// in0 = mean, in1 = var.
@compute @workgroup_size(256)
fn batch_norm_stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    out0[i] = in0[i];
    if (p.mode == NORM_VARIANCE) {
        out1[i] = in1[i];
    } else {
        out1[i] = 1.0 / sqrt(in1[i] + p.eps);
    }
}

const RW: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = RW / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            partial[lid] = partial[lid] + partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

// Row r = (o, i) holds x[o·len·inner + j·inner + i] for j < len. Mode 0: (x − mean)/sqrt(var +
// eps)·gamma + beta with the biased variance; mode 1 (L2): x / sqrt(Σx² + eps).
// in0 = x, in1 = gamma, in2 = beta; out0 = y, out1 = mean, out2 = std (when stats).
@compute @workgroup_size(256)
fn row_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let r = flat_group(wg, nwg);
    if (r >= p.n) {
        return;
    }
    let o = r / p.inner;
    let ii = r % p.inner;
    let base = o * p.len * p.inner + ii;
    var s = 0.0;
    for (var j = lid; j < p.len; j += RW) {
        let v = in0[p.x_off + base + j * p.inner];
        if (p.mode == NORM_L2) {
            s += v * v;
        } else {
            s += v;
        }
    }
    let total = workgroup_sum(lid, s);
    if (p.mode == NORM_L2) {
        let inv = 1.0 / sqrt(total + p.eps);
        for (var j = lid; j < p.len; j += RW) {
            let k = base + j * p.inner;
            out0[p.y_off + k] = in0[p.x_off + k] * inv;
        }
        return;
    }
    let mean = total / f32(p.len);
    var q = 0.0;
    for (var j = lid; j < p.len; j += RW) {
        let d = in0[p.x_off + base + j * p.inner] - mean;
        q += d * d;
    }
    let var_ = workgroup_sum(lid, q) / f32(p.len);
    let sd = sqrt(var_ + p.eps);
    let inv = 1.0 / sd;
    for (var j = lid; j < p.len; j += RW) {
        let k = base + j * p.inner;
        var gi = j;
        if (p.gamma_mode == NORM_GAMMA_BY_ROW) {
            gi = r % p.gamma_mod;
        }
        out0[p.y_off + k] = (in0[p.x_off + k] - mean) * inv * in1[gi] + in2[gi];
    }
    if (p.stats == 1u && lid == 0u) {
        out1[r] = mean;
        out2[r] = sd;
    }
}

// LRN across channels: y = x·(knorm + alpha/nsize·Σ x²)^(−beta) over the nsize channels centred
// on c, clipped at the edges.
@compute @workgroup_size(256)
fn lrn(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let pos = i % p.inner;
    let c = (i / p.inner) % p.channels;
    let image = i / (p.inner * p.channels);
    let half = p.nsize / 2u;
    let lo = select(0u, c - half, c >= half);
    let hi = min(c + half + 1u, p.channels);
    var s = 0.0;
    for (var cc = lo; cc < hi; cc++) {
        let v = in0[p.x_off + (image * p.channels + cc) * p.inner + pos];
        s += v * v;
    }
    out0[p.y_off + i] = in0[p.x_off + i] * pow(p.knorm + p.alpha * s, -p.beta);
}
