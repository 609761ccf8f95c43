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
    if ((OP & EPILOGUE_RESIDUAL) != 0u) {
        v += in3[p.res_off + o];
    }
    return fused_act(v, OP, p.act_a, p.act_b);
}

// conv_igemm: a CONV_TILE × CONV_TILE block of the output (filters × output positions) per
// workgroup of 8×8 threads, each thread accumulating an 8×8 block in registers (rows 8·lid.y..,
// columns 8·lid.x..): per step of K it reads 4 vec4s of workgroup memory for 64 multiply-adds.
// The accumulators are only ever indexed by constants (a dynamically indexed array would be
// placed in memory).
const_assert CONV_TILE == 64u; // 8×8 threads × 8×8 outputs each
const TM: u32 = CONV_TILE;
const TN: u32 = CONV_TILE;
const TK: u32 = 16u;
var<workgroup> tile_a: array<vec4<f32>, 256>; // [k][m / 4]: weights
var<workgroup> tile_b: array<vec4<f32>, 256>; // [k][n / 4]: im2col columns

// Per group g (workgroup z): Out[f, j] = Σ_k W[f, k] · col[k, j] + bias[f], where
// k = (c, kz, ky, kx) runs over the group's input channels and taps and j = (n, oz, oy, ox) over
// all images and output positions. The im2col matrix is never stored: the B tile is gathered from
// the input directly.
@compute @workgroup_size(8, 8)
fn conv_igemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let g = p.group_base + wg.z;
    let row0 = wg.y * TM;
    let col0 = wg.x * TN;
    let t = lid.y * 8u + lid.x;
    let kdim = p.cg * p.k_size;
    let khw = p.k_h * p.k_w;

    // Each thread loads one column of the B tile (so its decomposition is done once) and, for
    // the A tile, 16 runs of 16 consecutive weights of a filter (threads side by side read
    // side by side).
    let my_col = col0 + t;
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
    let w_base = p.w_off + wg.z * p.fg * kdim;

    var acc: array<array<vec4<f32>, 2>, 8>;

    for (var k0 = 0u; k0 < kdim; k0 += TK) {
        for (var r = 0u; r < 16u; r++) {
            let e = t + 64u * r;
            let kk = e % TK;
            let mm = e / TK;
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < kdim) {
                v = in1_f32(w_base + gm * kdim + gk);
            }
            tile_a[kk * (TM / 4u) + mm / 4u][mm % 4u] = v;
        }
        for (var kk = 0u; kk < TK; kk++) {
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
            tile_b[kk * (TN / 4u) + t / 4u][t % 4u] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a0 = tile_a[kk * (TM / 4u) + 2u * lid.y];
            let a1 = tile_a[kk * (TM / 4u) + 2u * lid.y + 1u];
            let b0 = tile_b[kk * (TN / 4u) + 2u * lid.x];
            let b1 = tile_b[kk * (TN / 4u) + 2u * lid.x + 1u];
            tile8x8_step(&acc, a0, a1, b0, b1);
        }
        workgroupBarrier();
    }

    // Constant indices into acc only (a dynamically indexed array would live in memory).
    let r0 = row0 + 8u * lid.y;
    let c0 = col0 + 8u * lid.x;
    store_row(g, r0, c0, acc[0][0], acc[0][1]);
    store_row(g, r0 + 1u, c0, acc[1][0], acc[1][1]);
    store_row(g, r0 + 2u, c0, acc[2][0], acc[2][1]);
    store_row(g, r0 + 3u, c0, acc[3][0], acc[3][1]);
    store_row(g, r0 + 4u, c0, acc[4][0], acc[4][1]);
    store_row(g, r0 + 5u, c0, acc[5][0], acc[5][1]);
    store_row(g, r0 + 6u, c0, acc[6][0], acc[6][1]);
    store_row(g, r0 + 7u, c0, acc[7][0], acc[7][1]);
}

// Stores 8 consecutive columns of one output row (filter gm of group g) from col on.
fn store_row(g: u32, gm: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (gm >= p.m) {
        return;
    }
    let oc = g * p.fg + p.f_base + gm;
    var bias = 0.0;
    if (p.has_bias == 1u) {
        bias = in2[p.bias_off + oc];
    }
    for (var j = 0u; j < 8u; j++) {
        let c = col + j;
        if (c >= p.n_total) {
            return;
        }
        let v = select(hi[j & 3u], lo[j & 3u], j < 4u) + bias;
        let o = ((c / p.out_size) * p.filters + oc) * p.out_size + c % p.out_size;
        out0[p.out_off + o] = epilogue(v, o);
    }
}

// A pointwise convolution of one column (one image, one output position: a classifier head
// after global pooling) is a matrix–vector product, where conv_igemm's 64-column tiles would leave
// 63 of every 64 columns idle. As gemm.wgsl's gemv: CONV_GEMV_ROWS (4) filters per workgroup
// of 64 threads, 16 threads sharing
// each filter's dot product over consecutive weights, partial sums added in workgroup memory.
const_assert CONV_GEMV_ROWS * 16u == 64u;
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn conv_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = p.group_base + wg.z;
    let row = wg.x * CONV_GEMV_ROWS + lid / 16u; // 16 threads per filter
    let lane = lid % 16u;
    let kdim = p.cg * p.k_size;
    let x_base = p.x_off + g * p.cg * p.in_size;
    let w_row = p.w_off + (wg.z * p.fg + row) * kdim;
    var acc = 0.0;
    if (row < p.m) {
        for (var k = lane; k < kdim; k += 16u) {
            acc = fma(in1_f32(w_row + k), in0[x_base + k * p.in_size], acc);
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

// Depthwise (C/G = 1): each thread computes CONV_DW_RUN consecutive outputs of one row
// (n, oc, oz, oy, ox0..), so a weight is loaded once per tap for four outputs and the index arithmetic is
// shared by them. The lowering dispatches n · filters · out_d · out_h · ⌈out_w / CONV_DW_RUN⌉
// threads. The run is one vec4 of accumulators.
const_assert CONV_DW_RUN == 4u;
@compute @workgroup_size(256)
fn conv_depthwise(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n_total) {
        return;
    }
    let runs = (p.out_w + CONV_DW_RUN - 1u) / CONV_DW_RUN;
    let ox0 = (i % runs) * CONV_DW_RUN;
    let row = i / runs; // ((n · filters + oc) · out_d + oz) · out_h + oy
    let oy = row % p.out_h;
    let oz = (row / p.out_h) % p.out_d;
    let img_oc = row / (p.out_h * p.out_d);
    let oc = img_oc % p.filters;
    let n = img_oc / p.filters;
    let x_base = p.x_off + (n * p.channels + oc / p.fg) * p.in_size;
    let w_base = p.w_off + oc * p.k_size;
    // Input column of output ox0 at tap 0; output ox0 + j reads j · s_w further.
    let ix_base = i32(ox0 * p.s_w) - i32(p.p_w);
    let step = i32(p.s_w);
    var acc = vec4<f32>(0.0);
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
            let x_row = x_base + (u32(iz) * p.in_h + u32(iy)) * p.in_w;
            let w_row = w_base + (kz * p.k_h + ky) * p.k_w;
            for (var kx = 0u; kx < p.k_w; kx++) {
                let ix = ix_base + i32(kx * p.d_w);
                let xv = vec4<f32>(dw_input(x_row, ix), dw_input(x_row, ix + step),
                                   dw_input(x_row, ix + 2 * step), dw_input(x_row, ix + 3 * step));
                acc = fma(xv, vec4<f32>(in1_f32(w_row + kx)), acc);
            }
        }
    }
    if (p.has_bias == 1u) {
        acc += vec4<f32>(in2[p.bias_off + oc]);
    }
    let o = row * p.out_w + ox0;
    out0[p.out_off + o] = epilogue(acc.x, o);
    if (ox0 + 1u < p.out_w) {
        out0[p.out_off + o + 1u] = epilogue(acc.y, o + 1u);
    }
    if (ox0 + 2u < p.out_w) {
        out0[p.out_off + o + 2u] = epilogue(acc.z, o + 2u);
    }
    if (ox0 + 3u < p.out_w) {
        out0[p.out_off + o + 3u] = epilogue(acc.w, o + 3u);
    }
}

// The input value at column ix of the row starting at x_row; 0 in the padding.
fn dw_input(x_row: u32, ix: i32) -> f32 {
    if (ix >= 0 && ix < i32(p.in_w)) {
        return in0[x_row + u32(ix)];
    }
    return 0.0;
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
                              in1_f32(p.w_off + (ic * p.fg + f) * p.k_size + tap), acc);
                }
            }
        }
    }
    if (p.has_bias == 1u) {
        acc += in2[p.bias_off + oc];
    }
    out0[p.out_off + i] = acc;
}

