// The fused RNN operator (src/ops/rnn.rs), one layer at a time:
// - `rnn_input`: gx[dir, row, j] = b_i[j] + Σ_k x[row, k]·W_i[j, k] for every time step at once
//   (one thread per value);
// - `rnn_recur`: the recurrence, one workgroup per (direction, batch element) looping over the
//   time steps; the state lives in the work buffer, and the workgroup's threads share each
//   step's gate rows, separated by storage barriers.
//
// Work buffer (`rnn_input`'s out0, `rnn_recur`'s out1): gx (D, T·N, G·H) at 0, then per
// (dir, b): gr (G·H) at gr_off, c (H) at c_off, hraw (H) at hraw_off, h (P) at h_off.

@group(0) @binding(0) var<uniform> p: RnnParams;

fn sigm(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// tanh through exp (implementations' built-in tanh may lose accuracy or overflow).
fn tanh_r(x: f32) -> f32 {
    let a = abs(x);
    if (a > 10.0) {
        return sign(x);
    }
    return sign(x) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

// in0 = layer input (T·N, ci), in1 = parameters; out0 = work buffer.
@compute @workgroup_size(256)
fn rnn_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= p.total) {
        return;
    }
    let rows = p.t_len * p.n;
    let j = e % p.gh;
    let row = (e / p.gh) % rows;
    let dir = e / (p.gh * rows);
    let w = select(p.w_i0, p.w_i1, dir == 1u) + j * p.ci;
    var acc = in1[select(p.b_i0, p.b_i1, dir == 1u) + j];
    let x = row * p.ci;
    for (var k = 0u; k < p.ci; k++) {
        acc += in0[x + k] * in1[w + k];
    }
    out0[e] = acc;
}

// in0 = parameters, in1 = initial h (L·D, N, P), in2 = initial c (L·D, N, H);
// out0 = layer output (T, N, D·P), out1 = work buffer, out2 = final h (L·D, N, P).
@compute @workgroup_size(256)
fn rnn_recur(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let g = flat_group(wg, nwg);
    let dir = g / p.n;
    let b = g % p.n;
    let cell = dir * p.n + b;
    let gr = p.gr_off + cell * p.gh;
    let cc = p.c_off + cell * p.h;
    let hr = p.hraw_off + cell * p.h;
    let hh = p.h_off + cell * p.p;
    let srow = (p.state0 + dir) * p.n + b;
    let w_h = select(p.w_h0, p.w_h1, dir == 1u);
    let w_r = select(p.w_r0, p.w_r1, dir == 1u);
    let b_h = select(p.b_h0, p.b_h1, dir == 1u);
    let rows = p.t_len * p.n;

    for (var j = lid; j < p.p; j += WG) {
        out1[hh + j] = select(in1[srow * p.p + j], 0.0, p.zero_h == 1u);
    }
    for (var j = lid; j < p.h; j += WG) {
        out1[cc + j] = select(in2[srow * p.h + j], 0.0, p.zero_c == 1u);
    }
    storageBarrier();

    for (var step = 0u; step < p.t_len; step++) {
        let t = select(step, p.t_len - 1u - step, dir == 1u);
        let gx = (dir * rows + t * p.n + b) * p.gh;
        // Recurrent gate rows: gr = W_h·h + b_h.
        for (var j = lid; j < p.gh; j += WG) {
            var acc = in0[b_h + j];
            let w = w_h + j * p.p;
            for (var k = 0u; k < p.p; k++) {
                acc += in0[w + k] * out1[hh + k];
            }
            out1[gr + j] = acc;
        }
        storageBarrier();
        for (var j = lid; j < p.h; j += WG) {
            switch p.mode {
                case RNN_LSTM: {
                    let ig = sigm(out1[gx + j] + out1[gr + j]);
                    let fg = sigm(out1[gx + p.h + j] + out1[gr + p.h + j]);
                    let gg = tanh_r(out1[gx + 2u * p.h + j] + out1[gr + 2u * p.h + j]);
                    let og = sigm(out1[gx + 3u * p.h + j] + out1[gr + 3u * p.h + j]);
                    let c = fg * out1[cc + j] + ig * gg;
                    out1[cc + j] = c;
                    let hv = og * tanh_r(c);
                    if (p.has_proj == 1u) {
                        out1[hr + j] = hv;
                    } else {
                        out1[hh + j] = hv;
                    }
                }
                case RNN_GRU: {
                    let r = sigm(out1[gx + j] + out1[gr + j]);
                    let z = sigm(out1[gx + p.h + j] + out1[gr + p.h + j]);
                    let nv = tanh_r(out1[gx + 2u * p.h + j] + r * out1[gr + 2u * p.h + j]);
                    out1[hh + j] = (1.0 - z) * nv + z * out1[hh + j];
                }
                case RNN_RELU: {
                    out1[hh + j] = max(out1[gx + j] + out1[gr + j], 0.0);
                }
                default: {
                    out1[hh + j] = tanh_r(out1[gx + j] + out1[gr + j]);
                }
            }
        }
        storageBarrier();
        if (p.has_proj == 1u) {
            // h = W_r·hraw.
            for (var j = lid; j < p.p; j += WG) {
                var acc = 0.0;
                let w = w_r + j * p.h;
                for (var k = 0u; k < p.h; k++) {
                    acc += in0[w + k] * out1[hr + k];
                }
                out1[hh + j] = acc;
            }
            storageBarrier();
        }
        let y = (t * p.n + b) * p.dirs * p.p + dir * p.p;
        for (var j = lid; j < p.p; j += WG) {
            out0[y + j] = out1[hh + j];
        }
    }
    for (var j = lid; j < p.p; j += WG) {
        out2[srow * p.p + j] = out1[hh + j];
    }
}
