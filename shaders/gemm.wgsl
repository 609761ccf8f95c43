// Batched GEMM: C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] (+ bias), every operand addressed by
// (offset, row stride, column stride, batch stride) so transposes and FullyConnected's Wᵀ need
// no copies. Serves FullyConnected, dot and batch_dot.
//
// Tiling: a 64×64 block of C per workgroup of 16×16 threads, each thread accumulating a 4×4
// sub-block (rows ty + 16·i, columns tx + 16·j); K advances in steps of 16 through workgroup
// memory.

@group(0) @binding(0) var<uniform> p: GemmParams;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>; // [k][m]
var<workgroup> tile_b: array<f32, 1024>; // [k][n]

@compute @workgroup_size(16, 16)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TM;
    let col0 = wg.x * TN;
    let batch = wg.z;
    let t = lid.y * 16u + lid.x;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;

    var acc: array<array<f32, 4>, 4>;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            acc[i][j] = 0.0;
        }
    }

    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        // A tile: element e = t + 256·r → (k = e % 16, m = e / 16).
        for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            let kk = e % TK;
            let mm = e / TK;
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < p.k) {
                v = in0[a_base + gm * p.a_rs + gk * p.a_cs];
            }
            tile_a[kk * TM + mm] = v;
        }
        // B tile: element e → (n = e % 64, k = e / 64).
        for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            let nn = e % TN;
            let kk = e / TN;
            let gn = col0 + nn;
            let gk = k0 + kk;
            var v = 0.0;
            if (gn < p.n && gk < p.k) {
                v = in1[b_base + gk * p.b_rs + gn * p.b_cs];
            }
            tile_b[kk * TN + nn] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = tile_a[kk * TM + lid.y + 16u * i];
                bv[i] = tile_b[kk * TN + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    let c_base = p.c_off + batch * p.c_bs;
    for (var i = 0u; i < 4u; i++) {
        let gm = row0 + lid.y + 16u * i;
        if (gm >= p.m) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let gn = col0 + lid.x + 16u * j;
            if (gn >= p.n) {
                continue;
            }
            var v = acc[i][j];
            if (p.bias_mode == BIAS_PER_COLUMN) {
                v += in2[p.bias_off + gn];
            } else if (p.bias_mode == BIAS_PER_ROW) {
                v += in2[p.bias_off + gm];
            }
            out0[c_base + gm * p.c_rs + gn * p.c_cs] = v;
        }
    }
}


// Matrix–vector products (m = 1 or n = 1: FullyConnected at batch 1, dot with a vector), where
// gemm's 64×64 tiles would leave 63 of every 64 rows or columns idle. Each workgroup computes 4
// outputs; 16 threads share each output's dot product, reading consecutive elements of K (so a
// contiguous weight row is read in 64-byte runs), and add their partial sums through workgroup
// memory. With m = 1 the outputs run along n, with n = 1 along m.
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let batch = wg.z;
    let along_n = p.m == 1u;
    let outputs = select(p.m, p.n, along_n);
    let o = wg.x * 4u + lid / 16u;
    let lane = lid % 16u;
    let a_base = p.a_off + batch * p.a_bs;
    let b_base = p.b_off + batch * p.b_bs;
    var acc = 0.0;
    if (o < outputs) {
        if (along_n) {
            for (var k = lane; k < p.k; k += 16u) {
                acc = fma(in0[a_base + k * p.a_cs], in1[b_base + k * p.b_rs + o * p.b_cs], acc);
            }
        } else {
            for (var k = lane; k < p.k; k += 16u) {
                acc = fma(in0[a_base + o * p.a_rs + k * p.a_cs], in1[b_base + k * p.b_rs], acc);
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
    if (p.bias_mode == BIAS_PER_COLUMN) {
        v += in2[p.bias_off + gn];
    } else if (p.bias_mode == BIAS_PER_ROW) {
        v += in2[p.bias_off + gm];
    }
    out0[p.c_off + batch * p.c_bs + gm * p.c_rs + gn * p.c_cs] = v;
}
