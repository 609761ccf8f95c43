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

use std::cell::RefCell;

use crate::backend::cpu::gemm::MatRef;
use crate::backend::cpu::packed::{gemm_packed_serial, Finish, PackedA};
use crate::backend::cpu::pool;

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

/// The transformed weights of one convolution: for each of the a² transform positions ξ, the
/// `F × C` matrix `U_ξ[f][c] = (G g_{f,c} Gᵀ)[ξ]`, packed for the GEMM.
#[derive(Debug)]
pub struct WinogradWeights {
    pub tiles: &'static Tiles,
    pub filters: usize,
    pub channels: usize,
    u: Vec<PackedA>,
}

impl WinogradWeights {
    /// Transforms `w` (`(F, C, 3, 3)`, `filters·channels·9` values).
    pub fn new(tiles: &'static Tiles, w: &[f32], filters: usize, channels: usize) -> Self {
        let a = tiles.a();
        let g_ = tiles.g;
        let mut u_xi = vec![0.0f32; filters * channels];
        let u = (0..a * a)
            .map(|xi| {
                let (i, j) = (xi / a, xi % a);
                for (o, g) in u_xi.iter_mut().zip(w.chunks_exact(9)) {
                    *o = (0..9)
                        .map(|rs| g_[i * 3 + rs / 3] * g[rs] * g_[j * 3 + rs % 3])
                        .sum();
                }
                PackedA::new(MatRef::row_major(&u_xi, channels), filters, channels)
            })
            .collect();
        WinogradWeights {
            tiles,
            filters,
            channels,
            u,
        }
    }

    /// Bytes held (for messages and docs).
    pub fn bytes(&self) -> usize {
        self.u.iter().map(PackedA::bytes).sum()
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
/// ... but a block has at least this many tiles, so the GEMMs are not too narrow (measured with
/// matrixmultiply, which packed `U_ξ` on every call: 196 tiles, i.e. a 56² image in F(4,3), ran
/// 64ch 56² in 2.9 ms instead of 3.9 ms with 64-tile blocks).
const MIN_TILES: usize = 196;

/// Tile rows per block, and the scratch f32s for V and M of one block.
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
    (rows, a * a * channels * t, a * a * filters * t)
}

/// The per-thread scratch of one channel's input transform (`r`, `t1`, `line`) or one filter's
/// output transform (`o1`, `o2`), in f32s.
fn transform_scratch(t: &Tiles, rows: usize, tw: usize) -> usize {
    let (m, a) = (t.m, t.a());
    let strip = a * rows * m * (tw + 1);
    (2 * strip + m * (tw + 1)).max(m * (a + m) * rows * tw)
}

/// Scratch f32s [`conv3x3`] takes: V and M in the shared scratch, plus one transform scratch
/// per thread.
pub fn scratch_len(t: &Tiles, channels: usize, filters: usize, d: &Dims) -> usize {
    let (rows, sv, sm) = blocking(t, channels, filters, d);
    let tw = (d.w + 2 * d.pad_w - 2).div_ceil(t.m);
    let per_thread = transform_scratch(t, rows, tw);
    sv.saturating_add(sm)
        .saturating_add(per_thread.saturating_mul(pool::threads()))
}

thread_local! {
    /// Each thread's transform scratch (grown once, reused).
    static TRANSFORM: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `y = conv3x3(x, w)` then `finish` (bias per filter, residual laid out as `y`, activation)
/// with stride 1, dilation 1, one group: `x` is `(batch, C, h, w)`, `y` `(batch, F, ho, wo)`
/// (its contents are ignored), `u` the transformed weights.
///
/// Per block of tile rows: the input transform runs channel by channel, the a² GEMMs
/// `M_ξ = U_ξ · V_ξ` side by side, and the output transform filter by filter, each spread over
/// the thread pool. V is stored `[c][ξ][tile]` and M `[f][ξ][tile]`, so each channel's and each
/// filter's part is contiguous; the GEMMs read and write them with strides.
pub fn conv3x3(
    x: &[f32],
    u: &WinogradWeights,
    y: &mut [f32],
    d: &Dims,
    finish: &Finish,
    scratch: &mut Scratch,
) {
    let t = u.tiles;
    let (m, a) = (t.m, t.a());
    let (c_n, f_n) = (u.channels, u.filters);
    let (h, w) = (d.h, d.w);
    let (ho, wo) = (h + 2 * d.pad_h - 2, w + 2 * d.pad_w - 2);
    let (th, tw) = (ho.div_ceil(m), wo.div_ceil(m));
    if ho == 0 || wo == 0 || d.batch == 0 {
        return;
    }
    assert!(
        x.len() >= d.batch * c_n * h * w
            && y.len() >= d.batch * f_n * ho * wo
            && finish.bias.map_or(true, |b| b.len() >= f_n)
            && (!finish.epilogue.residual || finish.residual.is_some_and(|r| r.len() >= y.len())),
        "winograd::conv3x3: operands smaller than their shapes"
    );
    let (rows_per_block, sv, sm) = blocking(t, c_n, f_n, d);
    let (v_all, m_all) = Scratch::take(&mut scratch.a, sv + sm).split_at_mut(sv);
    let per_thread = transform_scratch(t, rows_per_block, tw);
    let y_ptr = pool::SharedMut(y.as_mut_ptr());
    for first in (0..d.batch * th).step_by(rows_per_block) {
        let rows = rows_per_block.min(d.batch * th - first);
        let tn = rows * tw; // tiles in this block
        let block = Block {
            t,
            d,
            first,
            rows,
            th,
            tw,
            tn,
        };
        let v = &mut v_all[..a * a * c_n * tn];
        pool::for_each_chunk_mut(v, a * a * tn, |c, vc| {
            TRANSFORM.with(|s| {
                let mut s = s.borrow_mut();
                input_transform(x, c, c_n, &block, vc, Scratch::take(&mut s, per_thread))
            })
        });
        let v: &[f32] = v;

        // M_ξ = U_ξ · V_ξ, the a² products side by side.
        let mx = pool::SharedMut(m_all.as_mut_ptr());
        pool::parallel_for(a * a, |xi| {
            #[allow(clippy::redundant_locals)]
            let mx = mx;
            let v_xi = MatRef {
                data: &v[xi * tn..],
                row_stride: a * a * tn,
                col_stride: 1,
            };
            // SAFETY: M has a²·F·tn values; product ξ writes the columns ξ·tn .. (ξ+1)·tn of
            // each of its F rows (stride a²·tn), which no other task writes.
            unsafe { gemm_packed_serial(&u.u[xi], tn, v_xi, 0.0, mx.0.add(xi * tn), a * a * tn) };
        });
        let mx: &[f32] = &m_all[..a * a * f_n * tn];

        pool::parallel_for(f_n, |f| {
            #[allow(clippy::redundant_locals)]
            let y_ptr = y_ptr;
            TRANSFORM.with(|s| {
                let mut s = s.borrow_mut();
                let mf = &mx[f * a * a * tn..][..a * a * tn];
                // SAFETY: task f writes only the planes of filter f (checked to lie in y).
                unsafe {
                    output_transform(
                        mf,
                        f,
                        f_n,
                        &block,
                        finish,
                        y_ptr.0,
                        Scratch::take(&mut s, per_thread),
                    )
                }
            })
        });
    }
}

/// One block of tile rows of [`conv3x3`].
struct Block<'a> {
    t: &'static Tiles,
    d: &'a Dims,
    /// First tile row (over the batch: image `first / th`, row `first % th`).
    first: usize,
    rows: usize,
    th: usize,
    tw: usize,
    tn: usize,
}

/// Channel `c`'s input transform into `vc` (`V[c]`, laid out `[ξ][tile]`).
fn input_transform(x: &[f32], c: usize, c_n: usize, b: &Block, vc: &mut [f32], s: &mut [f32]) {
    let (t, d) = (b.t, b.d);
    let (m, a) = (t.m, t.a());
    let (h, w, rows, tw, tn) = (d.h, d.w, b.rows, b.tw, b.tn);
    let lane = tw + 1; // deinterleaved input columns per (row, phase): one spare tile
    let strip = a * rows * m * lane;
    let (r, rest) = s.split_at_mut(strip);
    let (t1, line) = rest.split_at_mut(strip);
    let line = &mut line[..m * lane];
    // r[k][row][phase][t'] = x[n, c, ty·m + k − pad_h, t'·m + phase − pad_w] (0 outside).
    for k in 0..a {
        for row in 0..rows {
            let (n, ty) = ((b.first + row) / b.th, (b.first + row) % b.th);
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
    // V[c][i·a + j][row·tw + tx] = Σ_l Bᵀ[j][l] t1[i][row][l mod m][tx + l div m].
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
                vc,
                &|j| (i * a + j) * tn + row * tw,
            );
        }
    }
}

/// Filter `f`'s output transform of `mf` (`M[f]`, laid out `[ξ][tile]`) into its planes of `y`:
/// `o1[p][j] = Σ_i Aᵀ[p][i] M[i·a + j]`, `o2[p][q] = Σ_j Aᵀ[q][j] o1[p][j]`, then
/// `y[.., ty·m + p, tx·m + q] = bias[f] + o2[p][q]` and the epilogue, line by line.
///
/// # Safety
/// `y` holds `(batch, F, ho, wo)` values and no other thread touches filter `f`'s planes.
#[allow(clippy::too_many_arguments)]
unsafe fn output_transform(
    mf: &[f32],
    f: usize,
    f_n: usize,
    b: &Block,
    finish: &Finish,
    y: *mut f32,
    s: &mut [f32],
) {
    let (t, d) = (b.t, b.d);
    let (m, a) = (t.m, t.a());
    let (rows, tw, tn) = (b.rows, b.tw, b.tn);
    let (ho, wo) = (d.h + 2 * d.pad_h - 2, d.w + 2 * d.pad_w - 2);
    let (o1, o2) = s[..m * (a + m) * tn].split_at_mut(m * a * tn);
    for j in 0..a {
        mix(t.at, a, tn, mf, &|i| (i * a + j) * tn, o1, &|p| {
            (p * a + j) * tn
        });
    }
    for p in 0..m {
        mix(t.at, a, tn, o1, &|j| (p * a + j) * tn, o2, &|q| {
            (p * m + q) * tn
        });
    }
    let bias = finish.bias.map_or(0.0, |b| b[f]);
    let residual = finish.residual.filter(|_| finish.epilogue.residual);
    for row in 0..rows {
        let (n, ty) = ((b.first + row) / b.th, (b.first + row) % b.th);
        let plane_at = (n * f_n + f) * ho * wo;
        let plane = std::slice::from_raw_parts_mut(y.add(plane_at), ho * wo);
        for p in 0..m.min(ho - ty * m) {
            let line = (ty * m + p) * wo;
            let out = &mut plane[line..][..wo];
            for (tx, chunk) in out.chunks_mut(m).enumerate() {
                for (q, o) in chunk.iter_mut().enumerate() {
                    *o = bias + o2[(p * m + q) * tn + row * tw + tx];
                }
            }
            // The epilogue on the line just written, while it is in cache.
            finish
                .epilogue
                .apply(out, residual.map(|r| &r[plane_at + line..][..wo]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::attrs::Attrs;
    use crate::ops::conv::tests::Lcg;
    use crate::ops::conv::{ConvOp, Convolution, PreparedWeights};
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
        u: Option<&PreparedWeights>,
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
                let u = PreparedWeights::Winograd(WinogradWeights::new(tiles, &wt, f, c));
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
        assert_eq!(op.winograd_tiles(&[1, 64, 7, 7]), Some(&F2));
        assert!(op.winograd_tiles(&[1, 64, 6, 6]).is_none());
        assert!(op
            .prepare_weights(&[1, 64, 56, 56], &[0.0; 10], true)
            .is_none());
        let u = op
            .prepare_weights(&[1, 64, 56, 56], &vec![0.5; 64 * 64 * 9], true)
            .unwrap();
        let PreparedWeights::Winograd(u) = u else {
            panic!("{u:?}")
        };
        assert!(u.bytes() >= u.tiles.a().pow(2) * 64 * 64 * 4);
        let packed = op.prepare_weights(&[1, 64, 56, 56], &vec![0.5; 64 * 64 * 9], false);
        assert!(
            matches!(packed, Some(PreparedWeights::Gemm(_))),
            "{packed:?}"
        );
    }

    /// ResNet-18's 3×3 layers, im2col (weights packed per call, and prepacked) vs F(2,3) vs
    /// F(4,3), medians of alternated runs:
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
            let mut times = [vec![], vec![], vec![], vec![]];
            let s = std::time::Instant::now();
            let (u2, u4) = (
                PreparedWeights::Winograd(WinogradWeights::new(&F2, &w, c, c)),
                PreparedWeights::Winograd(WinogradWeights::new(&F4, &w, c, c)),
            );
            let packed = op.prepare_weights(&xs, &w, false).unwrap();
            println!(
                "weight transforms: {:.1} ms",
                s.elapsed().as_secs_f64() * 1e3
            );
            for _ in 0..std::env::var("REPS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(15)
            {
                for (i, t) in [None, Some(&packed), Some(&u2), Some(&u4)]
                    .into_iter()
                    .enumerate()
                {
                    let s = std::time::Instant::now();
                    run(&op, &xs, &x, &w, &[], t, &mut scratch);
                    times[i].push(s.elapsed().as_secs_f64() * 1e3);
                }
            }
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let [a, p, b, d] = times.map(|mut v| med(&mut v));
            println!(
                "{c}ch {hw}x{hw}: im2col {a:.3} ms, im2col packed {p:.3} ms, F2 {b:.3} ms, \
                 F4 {d:.3} ms"
            );
        }
    }
}
