//! Winograd convolution F(m×m, 3×3) for 2-D 3×3 convolutions with stride 1 and dilation 1 (the
//! CPU backend's fast path for [`crate::ops::conv::Convolution`]; Lavin & Gray 2015).
//!
//! The output is cut into m×m tiles. Each tile needs an a×a input tile (a = m + 2), turned into
//! `V = Bᵀ d B`; each filter/channel kernel `g` into `U = G g Gᵀ` (done once, by the CPU
//! backend: [`WinogradWeights`]). Then for each of the a² transform positions ξ one GEMM
//! `M_ξ (F × tiles) = U_ξ (F × C) · V_ξ (C × tiles)`, and every output tile is `Aᵀ M A`. That is
//! a²/m² multiplies per output instead of 9: 16/4 for F(2,3) (2.25× fewer), 36/16 for F(4,3) (4×).
//!
//! Tiles are processed in blocks of whole tile rows (of any image of the batch), so the scratch
//! (V and M for one block) stays bounded. The transforms are written as "rows of a small matrix
//! times lanes of tiles" ([`mix`]) over contiguous lanes, so they vectorise (simd128, AVX2).

use crate::backend::cpu::gemm::{gemm, MatRef};

/// Whether this build has the Winograd path: every build. In wasm32 it made resnet18_v1 ~20%
/// faster (Node 20, 247 vs 312 ms on a loaded machine; 64ch 56²: 32 vs 39 ms, 128ch 28²: 32 vs
/// 60 ms) for 4.1 KB of the gzipped package, which fits since the wasm builds rebuild std for
/// size (scripts/build-wasm.sh). Setting this to false removes the code from the build.
pub const AVAILABLE: bool = true;
use crate::ops::Scratch;

/// The transform matrices of one F(m×m, 3×3) variant, row-major: `bt` a×a, `g` a×3, `at` m×a.
#[derive(Debug, PartialEq)]
pub struct Tiles {
    pub m: usize,
    bt: &'static [f32],
    g: &'static [f32],
    at: &'static [f32],
}

impl Tiles {
    /// The input tile side, m + 2.
    pub fn a(&self) -> usize {
        self.m + 2
    }
}

/// F(2×2, 3×3).
pub const F2: Tiles = Tiles {
    m: 2,
    #[rustfmt::skip]
    bt: &[
        1.0, 0.0, -1.0, 0.0,
        0.0, 1.0, 1.0, 0.0,
        0.0, -1.0, 1.0, 0.0,
        0.0, 1.0, 0.0, -1.0,
    ],
    #[rustfmt::skip]
    g: &[
        1.0, 0.0, 0.0,
        0.5, 0.5, 0.5,
        0.5, -0.5, 0.5,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    at: &[
        1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, -1.0,
    ],
};

/// F(4×4, 3×3) with the points 0, ±1, ±2, ∞.
pub const F4: Tiles = Tiles {
    m: 4,
    #[rustfmt::skip]
    bt: &[
        4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
        0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
        0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
        0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
        0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
        0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    g: &[
        1.0 / 4.0, 0.0, 0.0,
        -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
        -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
        1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
        1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    at: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ],
};

/// The transformed weights of one convolution: `u[(ξ·F + f)·C + c]` = `(G g_{f,c} Gᵀ)[ξ]`, i.e.
/// a² row-major `F × C` matrices.
#[derive(Debug)]
pub struct WinogradWeights {
    pub tiles: &'static Tiles,
    pub filters: usize,
    pub channels: usize,
    u: Vec<f32>,
}

impl WinogradWeights {
    /// Transforms `w` (`(F, C, 3, 3)`, `filters·channels·9` values).
    pub fn new(tiles: &'static Tiles, w: &[f32], filters: usize, channels: usize) -> Self {
        let a = tiles.a();
        let mut u = vec![0.0f32; a * a * filters * channels];
        let g_ = tiles.g;
        for (fc, g) in w.chunks_exact(9).take(filters * channels).enumerate() {
            for (xi, o) in u
                .iter_mut()
                .skip(fc)
                .step_by(filters * channels)
                .enumerate()
            {
                let (i, j) = (xi / a, xi % a);
                *o = (0..9)
                    .map(|rs| g_[i * 3 + rs / 3] * g[rs] * g_[j * 3 + rs % 3])
                    .sum();
            }
        }
        WinogradWeights {
            tiles,
            filters,
            channels,
            u,
        }
    }

    /// Bytes held (for messages and docs).
    pub fn bytes(&self) -> usize {
        self.u.len() * 4
    }
}

/// `dst[dst_at(r)..][..len] = Σ_c coef[r·cols + c] · src[src_at(c)..][..len]` for every row r of
/// `coef`: a small constant matrix applied to `cols` lanes of `len` values. (`dyn`: one copy of
/// the vectorised loops in the wasm package, whatever the caller.)
fn mix(
    coef: &[f32],
    cols: usize,
    len: usize,
    src: &[f32],
    src_at: &dyn Fn(usize) -> usize,
    dst: &mut [f32],
    dst_at: &dyn Fn(usize) -> usize,
) {
    for (r, row) in coef.chunks_exact(cols).enumerate() {
        let d = &mut dst[dst_at(r)..][..len];
        d.fill(0.0);
        for (c, &k) in row.iter().enumerate() {
            if k != 0.0 {
                for (o, &v) in d.iter_mut().zip(&src[src_at(c)..][..len]) {
                    *o += k * v;
                }
            }
        }
    }
}

/// The sizes of one Winograd convolution: data `(batch, C, h, w)`, output `(batch, F, ho, wo)`
/// with `ho = h + 2·pad_h − 2`, `wo = w + 2·pad_w − 2`.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub pad_h: usize,
    pub pad_w: usize,
}

/// Scratch f32s are budgeted at about this many per block (V and M), as for im2col.
const BLOCK: usize = 256 * 1024;
/// ... but a block has at least this many tiles, so the GEMMs are not too narrow: matrixmultiply
/// packs `U_ξ` on every call, which dominated with 64-tile blocks (measured: 196 tiles, i.e. a
/// 56² image in F(4,3), ran 64ch 56² in 2.9 ms instead of 3.9 ms).
const MIN_TILES: usize = 196;

/// Tile rows per block and the scratch (`a`, `b`) a convolution takes.
fn blocking(t: &Tiles, channels: usize, filters: usize, d: &Dims) -> (usize, usize, usize) {
    let (m, a) = (t.m, t.a());
    let (ho, wo) = (d.h + 2 * d.pad_h - 2, d.w + 2 * d.pad_w - 2);
    let (th, tw) = (ho.div_ceil(m), wo.div_ceil(m));
    let rows_total = d.batch * th;
    let per_row = a * a * (channels + filters) * tw;
    let rows = (BLOCK / per_row.max(1))
        .max(MIN_TILES.div_ceil(tw.max(1)))
        .clamp(1, rows_total.max(1));
    let t = rows * tw;
    let strip = a * rows * m * (tw + 1);
    (
        rows,
        a * a * channels * t + 2 * strip + m * (tw + 1),
        a * a * filters * t + m * (a + m) * t,
    )
}

/// Scratch f32s [`conv3x3`] takes (all in `a`).
pub fn scratch_len(t: &Tiles, channels: usize, filters: usize, d: &Dims) -> usize {
    let (_, sa, sb) = blocking(t, channels, filters, d);
    sa.saturating_add(sb)
}

/// `y += conv3x3(x, w)` with stride 1, dilation 1, one group: `x` is `(batch, C, h, w)`, `y`
/// `(batch, F, ho, wo)` and already holds the bias (or zeros), `u` the transformed weights.
pub fn conv3x3(x: &[f32], u: &WinogradWeights, y: &mut [f32], d: &Dims, scratch: &mut Scratch) {
    let t = u.tiles;
    let (m, a) = (t.m, t.a());
    let (c_n, f_n) = (u.channels, u.filters);
    let (h, w) = (d.h, d.w);
    let (ho, wo) = (h + 2 * d.pad_h - 2, w + 2 * d.pad_w - 2);
    let (th, tw) = (ho.div_ceil(m), wo.div_ceil(m));
    if ho == 0 || wo == 0 || d.batch == 0 {
        return;
    }
    let (rows_per_block, sa, sb) = blocking(t, c_n, f_n, d);
    let (sa, sb) = Scratch::take(&mut scratch.a, sa + sb).split_at_mut(sa);
    let lane = tw + 1; // deinterleaved input columns per (row, phase): one spare tile
    for first in (0..d.batch * th).step_by(rows_per_block) {
        let rows = rows_per_block.min(d.batch * th - first);
        let tn = rows * tw; // tiles in this block
        let strip = a * rows * m * lane;
        let (v, rest) = sa.split_at_mut(a * a * c_n * tn);
        let (r, rest) = rest.split_at_mut(strip);
        let (t1, line) = rest.split_at_mut(strip);
        let line = &mut line[..m * lane];
        let (mx, rest) = sb.split_at_mut(a * a * f_n * tn);
        let (o1, o2) = rest.split_at_mut(m * a * tn);

        // Input transform, channel by channel: V[ξ][c][tile].
        for c in 0..c_n {
            // r[k][row][phase][t'] = x[n, c, ty·m + k − pad_h, t'·m + phase − pad_w] (0 outside).
            for k in 0..a {
                for row in 0..rows {
                    let (n, ty) = ((first + row) / th, (first + row) % th);
                    let iy = (ty * m + k) as isize - d.pad_h as isize;
                    let dst = &mut r[(k * rows + row) * m * lane..][..m * lane];
                    if iy < 0 || iy >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    // The zero-padded input row, then its m phases.
                    let src = &x[((n * c_n + c) * h + iy as usize) * w..][..w];
                    let (pad, len) = (
                        d.pad_w.min(m * lane),
                        (m * lane - d.pad_w.min(m * lane)).min(w),
                    );
                    line[..pad].fill(0.0);
                    line[pad..pad + len].copy_from_slice(&src[..len]);
                    line[pad + len..].fill(0.0);
                    for (tp, chunk) in line.chunks_exact(m).enumerate() {
                        for (phase, &v) in chunk.iter().enumerate() {
                            dst[phase * lane + tp] = v;
                        }
                    }
                }
            }
            // t1[i] = Σ_k Bᵀ[i][k] r[k] over the whole strip, then per tile row
            // V[i·a + j][c][row·tw + tx] = Σ_l Bᵀ[j][l] t1[i][row][l mod m][tx + l div m].
            let len = rows * m * lane;
            mix(t.bt, a, len, r, &|k| k * len, t1, &|i| i * len);
            for i in 0..a {
                for row in 0..rows {
                    let base = (i * rows + row) * m * lane;
                    mix(
                        t.bt,
                        a,
                        tw,
                        t1,
                        &|l| base + (l % m) * lane + l / m,
                        v,
                        &|j| ((i * a + j) * c_n + c) * tn + row * tw,
                    );
                }
            }
        }

        // M_ξ = U_ξ · V_ξ.
        for xi in 0..a * a {
            gemm(
                f_n,
                c_n,
                tn,
                1.0,
                MatRef::row_major(&u.u[xi * f_n * c_n..][..f_n * c_n], c_n),
                MatRef::row_major(&v[xi * c_n * tn..][..c_n * tn], tn),
                0.0,
                &mut mx[xi * f_n * tn..][..f_n * tn],
                tn,
            );
        }

        // Output transform, filter by filter: o1[p][j] = Σ_i Aᵀ[p][i] M[i·a + j][f],
        // o2[p][q] = Σ_j Aᵀ[q][j] o1[p][j]; then y[.., ty·m + p, tx·m + q] += o2[p][q].
        for f in 0..f_n {
            for j in 0..a {
                mix(
                    t.at,
                    a,
                    tn,
                    mx,
                    &|i| ((i * a + j) * f_n + f) * tn,
                    o1,
                    &|p| (p * a + j) * tn,
                );
            }
            for p in 0..m {
                mix(t.at, a, tn, o1, &|j| (p * a + j) * tn, o2, &|q| {
                    (p * m + q) * tn
                });
            }
            for row in 0..rows {
                let (n, ty) = ((first + row) / th, (first + row) % th);
                let plane = &mut y[(n * f_n + f) * ho * wo..][..ho * wo];
                for p in 0..m.min(ho - ty * m) {
                    let out = &mut plane[(ty * m + p) * wo..][..wo];
                    for (tx, chunk) in out.chunks_mut(m).enumerate() {
                        for (q, o) in chunk.iter_mut().enumerate() {
                            *o += o2[(p * m + q) * tn + row * tw + tx];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::attrs::Attrs;
    use crate::ops::conv::tests::Lcg;
    use crate::ops::conv::{ConvOp, Convolution};
    use crate::ops::Operator;
    use crate::tensor::{View, ViewMut};

    fn conv(c: usize, f: usize, pad: (usize, usize), bias: bool) -> Convolution {
        let pad = format!("({}, {})", pad.0, pad.1);
        let f = f.to_string();
        let attrs = [
            ("kernel", "(3, 3)"),
            ("pad", pad.as_str()),
            ("num_filter", f.as_str()),
            ("no_bias", if bias { "False" } else { "True" }),
        ];
        let _ = c;
        match ConvOp::parse("Convolution", &Attrs::from_pairs(&attrs)) {
            Ok(Some(ConvOp::Convolution(c))) => c,
            other => panic!("{other:?}"),
        }
    }

    /// Runs `op` on `x` with (`tiles`) or without Winograd; returns the output.
    fn run(
        op: &Convolution,
        xs: &[usize],
        x: &[f32],
        w: &[f32],
        b: &[f32],
        u: Option<&WinogradWeights>,
        scratch: &mut Scratch,
    ) -> Vec<f32> {
        let mut slots = vec![Some(xs.to_vec()), None, None];
        slots.truncate(if op.no_bias { 2 } else { 3 });
        let ys = ConvOp::Convolution(op.clone())
            .infer_shape(&mut slots)
            .unwrap()
            .remove(0);
        let ws = slots[1].clone().unwrap();
        let fs = [op.num_filter];
        let mut inputs = vec![
            View { shape: xs, data: x },
            View {
                shape: &ws,
                data: w,
            },
        ];
        if !op.no_bias {
            inputs.push(View {
                shape: &fs,
                data: b,
            });
        }
        let mut y = vec![f32::NAN; crate::tensor::numel(&ys)];
        let mut outs = [ViewMut {
            shape: &ys,
            data: &mut y,
        }];
        op.forward_with(&inputs, &mut outs, scratch, u).unwrap();
        y
    }

    #[test]
    fn matches_im2col_on_random_shapes() {
        let mut rng = Lcg(7);
        let mut scratch = Scratch::default();
        for case in 0..60 {
            let (n, c, f) = (rng.range(1, 3), rng.range(1, 21), rng.range(1, 19));
            let pad = (rng.range(0, 2), rng.range(0, 2));
            let (h, w) = (
                rng.range(3 - 2 * pad.0.min(1), 17),
                rng.range(3 - 2 * pad.1.min(1), 17),
            );
            let op = conv(c, f, pad, case % 3 != 0);
            let xs = [n, c, h, w];
            let x = rng.values(n * c * h * w);
            let wt = rng.values(f * c * 9);
            let b = rng.values(f);
            let want = run(&op, &xs, &x, &wt, &b, None, &mut scratch);
            for tiles in [&F2, &F4] {
                let u = WinogradWeights::new(tiles, &wt, f, c);
                let got = run(&op, &xs, &x, &wt, &b, Some(&u), &mut scratch);
                let err = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs())
                    .fold(0.0f32, f32::max);
                // Sums of up to 9·20 products of values in [-1, 1].
                let tol = if tiles.m == 2 { 2e-5 } else { 2e-4 };
                assert!(
                    err <= tol * (c as f32).sqrt() * 3.0,
                    "F({},3) x {xs:?} f {f} pad {pad:?}: max diff {err}",
                    tiles.m
                );
            }
        }
    }

    #[test]
    fn heuristic_and_weights_shape() {
        let op = conv(64, 64, (1, 1), false);
        assert!(op.winograd_tiles(&[1, 64, 56, 56]).is_some());
        assert!(op.winograd_tiles(&[1, 3, 56, 56]).is_none());
        assert_eq!(op.winograd_tiles(&[2, 64, 28, 28]), Some(&F2));
        assert!(op.winograd_tiles(&[1, 64, 7, 7]).is_none());
        assert!(op.winograd_weights(&[1, 64, 56, 56], &[0.0; 10]).is_none());
        let u = op
            .winograd_weights(&[1, 64, 56, 56], &vec![0.5; 64 * 64 * 9])
            .unwrap();
        assert_eq!(u.bytes(), u.tiles.a().pow(2) * 64 * 64 * 4);
    }

    /// ResNet-18's 3×3 layers, im2col vs F(2,3) vs F(4,3), medians of alternated runs:
    /// `cargo test --lib winograd::tests::bench -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_resnet_layers() {
        let mut rng = Lcg(1);
        let mut scratch = Scratch::default();
        let only: usize = std::env::var("LAYER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        for (c, hw) in [(64, 56), (128, 28), (256, 14), (512, 7)] {
            if only != 0 && only != c {
                continue;
            }
            let op = conv(c, c, (1, 1), false);
            let xs = [1, c, hw, hw];
            let (x, w) = (rng.values(c * hw * hw), rng.values(c * c * 9));
            let mut times = [vec![], vec![], vec![]];
            let s = std::time::Instant::now();
            let (u2, u4) = (
                WinogradWeights::new(&F2, &w, c, c),
                WinogradWeights::new(&F4, &w, c, c),
            );
            println!(
                "weight transforms: {:.1} ms",
                s.elapsed().as_secs_f64() * 1e3
            );
            for _ in 0..std::env::var("REPS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(15)
            {
                for (i, t) in [None, Some(&u2), Some(&u4)].into_iter().enumerate() {
                    let s = std::time::Instant::now();
                    run(&op, &xs, &x, &w, &[], t, &mut scratch);
                    times[i].push(s.elapsed().as_secs_f64() * 1e3);
                }
            }
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let [a, b, d] = times.map(|mut v| med(&mut v));
            println!("{c}ch {hw}x{hw}: im2col {a:.3} ms, F2 {b:.3} ms, F4 {d:.3} ms ");
        }
    }
}
