// Batched GEMM: C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] (+ bias), every operand addressed by
// (offset, row stride, column stride, batch stride) so transposes and FullyConnected's Wᵀ need
// no copies. Serves FullyConnected (with its fused epilogue), dot and batch_dot.
//
// Tiling (as conv.wgsl's conv_igemm): a 64×64 block of C per workgroup of 8×8 threads, each
// thread accumulating an 8×8 block in registers (rows 8·lid.y.., columns 8·lid.x..); K advances
// in steps of 16 through workgroup memory held as vec4s, so a step reads 4 vec4s per 64
// multiply-adds. The accumulators are only indexed by constants (a dynamically indexed array
// would be placed in memory).

@group(0) @binding(0) var<uniform> p: GemmParams;

// The fused epilogue (EPILOGUE_* codes), set per pipeline so that it costs nothing where unused.
override OP: u32 = 0u;

// The bias and the fused epilogue for C[m, n] (`c` its index relative to c_off):
// act(v + bias + residual), the residual read at in3[res_off + c].
fn epilogue(acc: f32, gm: u32, gn: u32, c: u32) -> f32 {
    var v = acc;
    if (p.bias_mode == BIAS_PER_COLUMN) {
        v += in2[p.bias_off + gn];
    } else if (p.bias_mode == BIAS_PER_ROW) {
        v += in2[p.bias_off + gm];
    }
    if ((OP & EPILOGUE_RESIDUAL) != 0u) {
        v += in3[p.res_off + c];
    }
    return fused_act(v, OP, p.act_a, p.act_b);
}

const_assert GEMM_TILE == 64u; // 8×8 threads × 8×8 outputs each
const TM: u32 = GEMM_TILE;
const TN: u32 = GEMM_TILE;
const TK: u32 = 16u;

var<workgroup> tile_a: array<vec4<f32>, 256>; // [k][m / 4]
var<workgroup> tile_b: array<vec4<f32>, 256>; // [k][n / 4]

@compute @workgroup_size(8, 8)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TM;
    let col0 = wg.x * TN;
    let batch = wg.z;
    let t = lid.y * 8u + lid.x;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    // This thread's column of the B tile.
    let gn = col0 + t;

    var acc: array<array<vec4<f32>, 2>, 8>;

    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        // A tile: element e = t + 64·r → (k = e % 16, m = e / 16): runs of 16 along K.
        for (var r = 0u; r < 16u; r++) {
            let e = t + 64u * r;
            let kk = e % TK;
            let mm = e / TK;
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < p.k) {
                v = in0[a_base + gm * p.a_rs + gk * p.a_cs];
            }
            tile_a[kk * (TM / 4u) + mm / 4u][mm % 4u] = v;
        }
        // B tile: column t, all 16 k.
        for (var kk = 0u; kk < TK; kk++) {
            let gk = k0 + kk;
            var v = 0.0;
            if (gn < p.n && gk < p.k) {
                v = in1_f32(b_base + gk * p.b_rs + gn * p.b_cs);
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

    let r0 = row0 + 8u * lid.y;
    let c0 = col0 + 8u * lid.x;
    let c_base = batch * p.c_bs;
    store_row(c_base, r0, c0, acc[0][0], acc[0][1]);
    store_row(c_base, r0 + 1u, c0, acc[1][0], acc[1][1]);
    store_row(c_base, r0 + 2u, c0, acc[2][0], acc[2][1]);
    store_row(c_base, r0 + 3u, c0, acc[3][0], acc[3][1]);
    store_row(c_base, r0 + 4u, c0, acc[4][0], acc[4][1]);
    store_row(c_base, r0 + 5u, c0, acc[5][0], acc[5][1]);
    store_row(c_base, r0 + 6u, c0, acc[6][0], acc[6][1]);
    store_row(c_base, r0 + 7u, c0, acc[7][0], acc[7][1]);
}

// Stores 8 consecutive columns of row gm of C from column col on, through the epilogue
// (`c_base`: the batch's offset relative to c_off).
fn store_row(c_base: u32, gm: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (gm >= p.m) {
        return;
    }
    for (var j = 0u; j < 8u; j++) {
        let gn = col + j;
        if (gn >= p.n) {
            return;
        }
        let c = c_base + gm * p.c_rs + gn * p.c_cs;
        out0[p.c_off + c] = epilogue(select(hi[j & 3u], lo[j & 3u], j < 4u), gm, gn, c);
    }
}

// Matrix–vector products (m = 1 or n = 1: FullyConnected at batch 1, dot with a vector), where
// gemm's 64×64 tiles would leave 63 of every 64 rows or columns idle. Each workgroup computes
// GEMM_GEMV_ROWS (4) outputs; 16 threads share each output's dot product, reading consecutive
// elements of K (so a contiguous weight row is read in 64-byte runs), and add their partial sums
// through workgroup memory. With m = 1 the outputs run along n, with n = 1 along m.
const_assert GEMM_GEMV_ROWS * 16u == 64u;
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = wg.z;
    let along_n = p.m == 1u;
    let outputs = select(p.m, p.n, along_n);
    let o = wg.x * GEMM_GEMV_ROWS + lid / 16u; // 16 threads per output
    let lane = lid % 16u;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    var acc = 0.0;
    if (o < outputs) {
        if (along_n) {
            for (var k = lane; k < p.k; k += 16u) {
                acc = fma(in0[a_base + k * p.a_cs], in1_f32(b_base + k * p.b_rs + o * p.b_cs), acc);
            }
        } else {
            for (var k = lane; k < p.k; k += 16u) {
                acc = fma(in0[a_base + o * p.a_rs + k * p.a_cs], in1_f32(b_base + k * p.b_rs), acc);
            }
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    if (lane != 0u || o >= outputs) {
        return;
    }
    var v = 0.0;
    for (var i = 0u; i < 16u; i++) {
        v += partial[lid + i];
    }
    let gm = select(o, 0u, along_n);
    let gn = select(0u, o, along_n);
    let c = batch * p.c_bs + gm * p.c_rs + gn * p.c_cs;
    out0[p.c_off + c] = epilogue(v, gm, gn, c);
}
