// Convolution (implicit GEMM, and a direct kernel for depthwise) and Deconvolution (direct
// gather). Every geometry is normalised to three spatial axes (D, H, W) as in src/ops/conv.rs:
// 1-D and 2-D ops have D = H = 1 or D = 1.

@group(0) @binding(0) var<uniform> p: ConvParams;

// The kernel variant (ConvVariant in src/backend/webgpu/wgsl.rs), set per pipeline so that the
// epilogue and the pointwise path cost nothing where unused.
override OP: u32 = 0u;

// The fused epilogue for the value at output index `o` (relative to out_off).
fn epilogue(acc: f32, o: u32) -> f32 {
    var v = acc;
    if ((OP & CONV_RESIDUAL) != 0u) {
        v += in3[p.res_off + o];
    }
    let act = OP & CONV_ACT_MASK;
    if (act == ACT_RELU) {
        v = relu_(v);
    } else if (act == ACT_LEAKY) {
        v = leaky_(v, p.act_a);
    } else if (act == ACT_CLIP) {
        v = clip_(v, p.act_a, p.act_b);
    }
    return v;
}

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
// Each thread computes a 4×4 block of C: rows 4·lid.y.., columns 4·lid.x... The tiles hold vec4s
// along m and n, so one workgroup-memory load brings the four values a thread needs (2 loads per
// 16 multiply-adds instead of 8).
var<workgroup> tile_a: array<vec4<f32>, 256>; // [k][m / 4]: weights
var<workgroup> tile_b: array<vec4<f32>, 256>; // [k][n / 4]: im2col columns

// Per group g (workgroup z): Out[f, j] = Σ_k W[f, k] · col[k, j] + bias[f], where
// k = (c, kz, ky, kx) runs over the group's input channels and taps and j = (n, oz, oy, ox) over
// all images and output positions. The im2col matrix is never stored: the B tile is gathered from
// the input directly.
@compute @workgroup_size(16, 16)
fn conv_igemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let g = p.group_base + wg.z;
    let row0 = wg.y * TM;
    let col0 = wg.x * TN;
    let t = lid.y * 16u + lid.x;
    let kdim = p.cg * p.k_size;
    let khw = p.k_h * p.k_w;

    // The column this thread loads into the B tile is fixed: decompose it once.
    let my_col = col0 + (t % TN);
    let col_ok = my_col < p.n_total;
    let n = my_col / p.out_size;
    let pos = my_col % p.out_size;
    let oz = pos / (p.out_h * p.out_w);
    let oy = (pos / p.out_w) % p.out_h;
    let ox = pos % p.out_w;
    let iz0 = i32(oz * p.s_d) - i32(p.p_d);
    let iy0 = i32(oy * p.s_h) - i32(p.p_h);
    let ix0 = i32(ox * p.s_w) - i32(p.p_w);
    let x_base = p.x_off + (n * p.channels + g * p.cg) * p.in_size;
    // Weight rows of this dispatch start at w_off (which accounts for group_base and f_base).
    let w_base = p.w_off + wg.z * p.fg * kdim;

    var acc: array<vec4<f32>, 4>;

    for (var k0 = 0u; k0 < kdim; k0 += TK) {
        for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            let kk = e % TK;
            let mm = e / TK;
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < kdim) {
                v = in1[w_base + gm * kdim + gk];
            }
            tile_a[kk * (TM / 4u) + mm / 4u][mm % 4u] = v;
        }
        for (var r = 0u; r < 4u; r++) {
            let kk = t / TN + 4u * r;
            let gk = k0 + kk;
            var v = 0.0;
            if ((OP & CONV_POINTWISE) != 0u) {
                if (col_ok && gk < kdim) {
                    v = in0[x_base + gk * p.in_size + pos];
                }
            } else if (col_ok && gk < kdim) {
                let c = gk / p.k_size;
                let tap = gk % p.k_size;
                let kz = tap / khw;
                let ky = (tap / p.k_w) % p.k_h;
                let kx = tap % p.k_w;
                let iz = iz0 + i32(kz * p.d_d);
                let iy = iy0 + i32(ky * p.d_h);
                let ix = ix0 + i32(kx * p.d_w);
                if (iz >= 0 && iz < i32(p.in_d) && iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w)) {
                    v = in0[x_base + c * p.in_size + (u32(iz) * p.in_h + u32(iy)) * p.in_w + u32(ix)];
                }
            }
            tile_b[kk * (TN / 4u) + (t % TN) / 4u][t % 4u] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let av = tile_a[kk * (TM / 4u) + lid.y];
            let bv = tile_b[kk * (TN / 4u) + lid.x];
            acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
            acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
            acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
            acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
        }
        workgroupBarrier();
    }

    for (var j = 0u; j < 4u; j++) {
        let col = col0 + 4u * lid.x + j;
        if (col >= p.n_total) {
            continue;
        }
        let cn = col / p.out_size;
        let cpos = col % p.out_size;
        for (var i = 0u; i < 4u; i++) {
            let gm = row0 + 4u * lid.y + i;
            if (gm >= p.m) {
                continue;
            }
            let oc = g * p.fg + p.f_base + gm;
            var v = acc[i][j];
            if (p.has_bias == 1u) {
                v += in2[p.bias_off + oc];
            }
            let o = (cn * p.filters + oc) * p.out_size + cpos;
            out0[p.out_off + o] = epilogue(v, o);
        }
    }
}

// A pointwise convolution of one column (one image, one output position: a classifier head
// after global pooling) is a matrix–vector product, where conv_igemm's 64-column tiles would leave
// 63 of every 64 columns idle. As gemm.wgsl's gemv: 4 filters per workgroup, 16 threads sharing
// each filter's dot product over consecutive weights, partial sums added in workgroup memory.
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn conv_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = p.group_base + wg.z;
    let row = wg.x * 4u + lid / 16u;
    let lane = lid % 16u;
    let kdim = p.cg * p.k_size;
    let x_base = p.x_off + g * p.cg * p.in_size;
    let w_row = p.w_off + (wg.z * p.fg + row) * kdim;
    var acc = 0.0;
    if (row < p.m) {
        for (var k = lane; k < kdim; k += 16u) {
            acc = fma(in1[w_row + k], in0[x_base + k * p.in_size], acc);
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    if (lane != 0u || row >= p.m) {
        return;
    }
    var v = 0.0;
    for (var i = 0u; i < 16u; i++) {
        v += partial[lid + i];
    }
    let oc = g * p.fg + p.f_base + row;
    if (p.has_bias == 1u) {
        v += in2[p.bias_off + oc];
    }
    // Image 0, output position 0: the output index is the channel.
    out0[p.out_off + oc] = epilogue(v, oc);
}

// Depthwise (C/G = 1): one thread per output element, summing its taps directly.
@compute @workgroup_size(256)
fn conv_depthwise(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n_total) {
        return;
    }
    let pos = i % p.out_size;
    let oc = (i / p.out_size) % p.filters;
    let n = i / (p.out_size * p.filters);
    let ic = oc / p.fg;
    let oz = pos / (p.out_h * p.out_w);
    let oy = (pos / p.out_w) % p.out_h;
    let ox = pos % p.out_w;
    let x_base = p.x_off + (n * p.channels + ic) * p.in_size;
    let w_base = p.w_off + oc * p.k_size;
    var acc = 0.0;
    for (var kz = 0u; kz < p.k_d; kz++) {
        let iz = i32(oz * p.s_d + kz * p.d_d) - i32(p.p_d);
        if (iz < 0 || iz >= i32(p.in_d)) {
            continue;
        }
        for (var ky = 0u; ky < p.k_h; ky++) {
            let iy = i32(oy * p.s_h + ky * p.d_h) - i32(p.p_h);
            if (iy < 0 || iy >= i32(p.in_h)) {
                continue;
            }
            let row = x_base + (u32(iz) * p.in_h + u32(iy)) * p.in_w;
            let wrow = w_base + (kz * p.k_h + ky) * p.k_w;
            for (var kx = 0u; kx < p.k_w; kx++) {
                let ix = i32(ox * p.s_w + kx * p.d_w) - i32(p.p_w);
                if (ix >= 0 && ix < i32(p.in_w)) {
                    acc = fma(in0[row + u32(ix)], in1[wrow + kx], acc);
                }
            }
        }
    }
    if (p.has_bias == 1u) {
        acc += in2[p.bias_off + oc];
    }
    out0[p.out_off + i] = epilogue(acc, i);
}

// Transposed convolution as a gather: output position o receives x[i]·w[tap] for every input
// position i and tap with i·s − p + tap·d = o. Weight layout (C_in, F/G, k...).
@compute @workgroup_size(256)
fn deconv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n_total) {
        return;
    }
    let pos = i % p.out_size;
    let oc = (i / p.out_size) % p.filters;
    let n = i / (p.out_size * p.filters);
    let g = oc / p.fg;
    let f = oc % p.fg;
    let oz = i32(pos / (p.out_h * p.out_w)) + i32(p.p_d);
    let oy = i32((pos / p.out_w) % p.out_h) + i32(p.p_h);
    let ox = i32(pos % p.out_w) + i32(p.p_w);
    var acc = 0.0;
    for (var kz = 0u; kz < p.k_d; kz++) {
        let tz = oz - i32(kz * p.d_d);
        if (tz < 0 || tz % i32(p.s_d) != 0 || tz / i32(p.s_d) >= i32(p.in_d)) {
            continue;
        }
        let iz = u32(tz) / p.s_d;
        for (var ky = 0u; ky < p.k_h; ky++) {
            let ty = oy - i32(ky * p.d_h);
            if (ty < 0 || ty % i32(p.s_h) != 0 || ty / i32(p.s_h) >= i32(p.in_h)) {
                continue;
            }
            let iy = u32(ty) / p.s_h;
            for (var kx = 0u; kx < p.k_w; kx++) {
                let tx = ox - i32(kx * p.d_w);
                if (tx < 0 || tx % i32(p.s_w) != 0 || tx / i32(p.s_w) >= i32(p.in_w)) {
                    continue;
                }
                let ix = u32(tx) / p.s_w;
                let tap = (kz * p.k_h + ky) * p.k_w + kx;
                let x_pos = (iz * p.in_h + iy) * p.in_w + ix;
                for (var c = 0u; c < p.cg; c++) {
                    let ic = g * p.cg + c;
                    acc = fma(in0[p.x_off + (n * p.channels + ic) * p.in_size + x_pos],
                              in1[p.w_off + (ic * p.fg + f) * p.k_size + tap], acc);
                }
            }
        }
    }
    if (p.has_bias == 1u) {
        acc += in2[p.bias_off + oc];
    }
    out0[p.out_off + i] = acc;
}

