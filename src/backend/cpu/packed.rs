//! GEMM with a pre-packed left operand: `C = A·B + beta·C` where `A` is a layer's weight,
//! packed once per plan step ([`PackedA`]) into the micro-kernel's panel layout.
//!
//! # Why our own
//!
//! matrixmultiply (the GEMM before this one, see [`super::gemm`]) packs both operands on every
//! call. For a convolution
//! the left operand is the weight, the same on every forward, and for the late layers of a
//! network it is the big one: ResNet-18's 512-channel 3×3 convolutions multiply a 512×4608
//! weight (9.4 MB) by a 4608×49 im2col matrix, so repacking the weight costs more memory
//! traffic than the product reads. Packing it once and streaming it from the packed copy
//! removes that, and the micro-kernel can be the one the target wants:
//!
//! - x86-64 with AVX2 + FMA (detected at run time): 6×16 tiles, 12 `ymm` accumulators, one FMA
//!   per multiply-add;
//! - wasm32 with `simd128`: 4×8 tiles in `v128`s, a multiply and an add (8 accumulators, so
//!   V8's 16 `xmm` registers hold the tile);
//! - elsewhere: the same tile as plain Rust loops, left to the compiler's vectoriser.
//!
//! Blocking is the usual one (Goto & van de Geijn): depth blocks of [`KC`] so an `MR × KC`
//! panel of A stays in L1 across a `KC × NC` block of B (packed into `NR`-wide panels, in L2).
//! Every element of C is the same sequence of operations however the product is split between
//! threads (the depth blocking is fixed), so results are bit-identical for any thread count.

use std::cell::RefCell;

use super::gemm::MatRef;
use crate::ops::epilogue::Epilogue;

/// Rows of A (and C) per micro-tile.
#[cfg(not(target_arch = "wasm32"))]
pub const MR: usize = 6;
/// Columns of B (and C) per micro-tile.
#[cfg(not(target_arch = "wasm32"))]
pub const NR: usize = 16;
#[cfg(target_arch = "wasm32")]
pub const MR: usize = 4;
#[cfg(target_arch = "wasm32")]
pub const NR: usize = 8;

/// Depth per block.
const KC: usize = 256;
/// Row panels of A per block: MC_PANELS·MR × KC floats (96 KB natively) stay in L2 while a B
/// micro-panel (KC × NR) stays in L1.
const MC_PANELS: usize = 16;
/// Columns of B per packed block (KC × NC floats: 512 KB).
const NC: usize = 256;

/// Products smaller than this many multiply-adds run on one thread.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// An `m × k` matrix in micro-panels of [`MR`] rows: panel `q` holds rows `q·MR ..`, stored
/// column by column (`data[q·MR·k + p·MR + i] = A[q·MR + i][p]`), the last one zero-padded.
#[derive(Debug, Clone, Default)]
pub struct PackedA {
    m: usize,
    k: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs `a` (`m × k`, any strides).
    ///
    /// # Panics
    /// When `a` does not fit its slice (callers size it from validated shapes).
    pub fn new(a: MatRef, m: usize, k: usize) -> PackedA {
        let mut packed = PackedA::default();
        packed.repack(a, m, k, 1.0);
        packed
    }

    /// Packs `alpha · a` into this buffer (reusing its allocation).
    ///
    /// # Panics
    /// When `a` does not fit its slice.
    pub fn repack(&mut self, a: MatRef, m: usize, k: usize, alpha: f32) {
        assert!(a.fits(m, k), "PackedA: A ({m}×{k}) does not fit its buffer");
        let panels = m.div_ceil(MR);
        self.data.clear();
        self.data.resize(panels * MR * k, 0.0);
        for (q, panel) in self
            .data
            .chunks_exact_mut(MR * k.max(1))
            .enumerate()
            .take(panels)
        {
            for i in 0..MR.min(m - q * MR) {
                let row = q * MR + i;
                for p in 0..k {
                    let v = a.data[row * a.row_stride + p * a.col_stride];
                    panel[p * MR + i] = if alpha == 1.0 { v } else { alpha * v };
                }
            }
        }
        (self.m, self.k) = (m, k);
    }

    /// Rows (`m`).
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Depth (`k`).
    pub fn depth(&self) -> usize {
        self.k
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}

/// What happens to each tile of C once its sum is complete, while the tile is in cache: a
/// convolution's bias, residual and activation (the store of a fused epilogue), instead of
/// passes over C before and after the product.
#[derive(Debug, Clone, Copy, Default)]
pub struct Finish<'a> {
    /// `bias[i]` is added to row `i` of C.
    pub bias: Option<&'a [f32]>,
    /// Then the epilogue: `residual` (laid out as C, same `ldc`) added when
    /// `epilogue.residual`, and the activation applied.
    pub epilogue: Epilogue,
    pub residual: Option<&'a [f32]>,
}

impl Finish<'_> {
    fn is_identity(&self) -> bool {
        self.bias.is_none() && self.epilogue.is_identity()
    }
}

/// `C = A·B + beta·C`, then [`Finish`]: `A` packed (`m × k`), `B` `k × n` (any strides), `C`
/// row-major with row stride `ldc`. With `beta == 0`, C's previous contents are ignored (may be
/// stale or NaN).
///
/// # Panics
/// When `B`, `C`, the bias or the residual does not fit its slice (an internal invariant, as
/// for [`super::gemm::gemm`]).
pub fn gemm_packed(
    a: &PackedA,
    n: usize,
    b: MatRef,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
    finish: &Finish,
) {
    let (m, k) = (a.m, a.k);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        b.fits(k, n),
        "gemm_packed: B ({k}×{n}) does not fit its buffer"
    );
    let c_fits = |len: usize| {
        ldc >= n
            && (m - 1)
                .checked_mul(ldc)
                .and_then(|r| r.checked_add(n))
                .is_some_and(|e| e <= len)
    };
    assert!(
        c_fits(c.len()),
        "gemm_packed: C ({m}×{n}, ldc {ldc}) does not fit its buffer"
    );
    assert!(
        finish.bias.map_or(true, |b| b.len() >= m)
            && (!finish.epilogue.residual || finish.residual.is_some_and(|r| c_fits(r.len()))),
        "gemm_packed: the bias or the residual does not fit its buffer"
    );
    let c = super::pool::SharedMut(c.as_mut_ptr());
    let panels = m.div_ceil(MR);
    let threads = super::pool::threads();
    if threads <= 1 || m.saturating_mul(k).saturating_mul(n) < PARALLEL_MIN_MACS {
        // SAFETY: C was checked above to hold every element the block writes.
        unsafe { block(a, 0..panels, 0..n, b, beta, c.0, ldc, finish) };
        return;
    }
    // Split the wider side (in micro-tiles) into a few blocks per thread: a descheduled thread
    // then delays the job by a small block. Splitting rows repacks B in every task, so columns
    // are preferred when there are enough of them.
    let col_tiles = n.div_ceil(NR);
    let tasks = threads * 3;
    if col_tiles >= 2 * threads || col_tiles >= panels {
        let per = col_tiles.div_ceil(tasks).max(2) * NR;
        super::pool::parallel_for(n.div_ceil(per), |t| {
            #[allow(clippy::redundant_locals)]
            let c = c;
            let cols = t * per..((t + 1) * per).min(n);
            // SAFETY: tasks write disjoint column ranges of the checked C.
            unsafe { block(a, 0..panels, cols, b, beta, c.0, ldc, finish) };
        });
    } else {
        let per = panels.div_ceil(tasks).max(1);
        super::pool::parallel_for(panels.div_ceil(per), |t| {
            #[allow(clippy::redundant_locals)]
            let c = c;
            let rows = t * per..((t + 1) * per).min(panels);
            // SAFETY: tasks write disjoint row panels of the checked C.
            unsafe { block(a, rows, 0..n, b, beta, c.0, ldc, finish) };
        });
    }
}

/// [`gemm_packed`] on the calling thread only, writing through a pointer: for callers that run
/// several products side by side whose outputs interleave (rows of one, columns of another).
///
/// # Safety
/// `B` fits its slice; C (`m × n`, row stride `ldc`, `ldc ≥ n`) is valid for writes at `c`, and
/// no other thread touches those elements meanwhile.
pub unsafe fn gemm_packed_serial(
    a: &PackedA,
    n: usize,
    b: MatRef,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    if a.m == 0 || n == 0 {
        return;
    }
    assert!(
        b.fits(a.k, n),
        "gemm_packed: B ({}×{n}) does not fit its buffer",
        a.k
    );
    block(
        a,
        0..a.m.div_ceil(MR),
        0..n,
        b,
        beta,
        c,
        ldc,
        &Finish::default(),
    );
}

thread_local! {
    /// Each thread's packed block of B (KC × NC floats once grown).
    static B_PANELS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The product restricted to row panels `panels` of A and columns `cols` of B.
///
/// # Safety
/// C (`m × n`, row stride `ldc`) must be valid for writes at `c`, and no other thread may touch
/// the rows and columns written here; `finish`'s bias and residual fit (as `gemm_packed`
/// checks).
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    a: &PackedA,
    panels: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    b: MatRef,
    beta: f32,
    c: *mut f32,
    ldc: usize,
    finish: &Finish,
) {
    let (m, k) = (a.m, a.k);
    let kernel = micro_kernel();
    B_PANELS.with(|buf| {
        let mut buf = buf.borrow_mut();
        if buf.len() < KC * NC {
            buf.resize(KC * NC, 0.0);
        }
        let mut jc = cols.start;
        while jc < cols.end {
            let nc = NC.min(cols.end - jc);
            if k == 0 {
                // C = beta·C (A·B is empty), then the finish.
                for q in panels.clone() {
                    for i in q * MR..(q * MR + MR).min(m) {
                        let row = std::slice::from_raw_parts_mut(c.add(i * ldc + jc), nc);
                        scale(row, beta);
                    }
                    if !finish.is_identity() {
                        finish_tile(finish, c, ldc, q * MR, MR.min(m - q * MR), jc, nc);
                    }
                }
            }
            let mut pc = 0;
            while pc < k {
                let kc = KC.min(k - pc);
                pack_b(b, pc, kc, jc, nc, &mut buf);
                let beta_here = if pc == 0 { beta } else { 1.0 };
                let last_depth = pc + kc == k;
                // A block of MC_PANELS row panels (in L2) against each B micro-panel (in L1).
                let mut qc = panels.start;
                while qc < panels.end {
                    let q_end = (qc + MC_PANELS).min(panels.end);
                    for t in 0..nc.div_ceil(NR) {
                        let width = NR.min(nc - t * NR);
                        let (b_panel, ldb) = (buf.as_ptr().add(t * NR * kc), NR);
                        for q in qc..q_end {
                            let a_panel = a.data.as_ptr().add(q * MR * k + pc * MR);
                            let rows = MR.min(m - q * MR);
                            let c_tile = c.add(q * MR * ldc + jc + t * NR);
                            if rows == MR && width == NR {
                                kernel(kc, a_panel, b_panel, ldb, c_tile, ldc, beta_here);
                            } else {
                                edge_tile(
                                    kernel, kc, a_panel, b_panel, ldb, c_tile, ldc, beta_here,
                                    rows, width,
                                );
                            }
                            if last_depth && !finish.is_identity() {
                                finish_tile(finish, c, ldc, q * MR, rows, jc + t * NR, width);
                            }
                        }
                    }
                    qc = q_end;
                }
                pc += kc;
            }
            jc += nc;
        }
    });
}

/// A tile cut by C's edge: computed whole into a local tile, then the `rows × width` part that
/// exists is written.
///
/// # Safety
/// As the kernel, for the `rows × width` part of C's tile.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn edge_tile(
    kernel: MicroKernel,
    kc: usize,
    a_panel: *const f32,
    b_panel: *const f32,
    ldb: usize,
    c_tile: *mut f32,
    ldc: usize,
    beta: f32,
    rows: usize,
    width: usize,
) {
    let mut tile = [0.0f32; MR * NR];
    kernel(kc, a_panel, b_panel, ldb, tile.as_mut_ptr(), NR, 0.0);
    for (i, tile_row) in tile.chunks_exact(NR).enumerate().take(rows) {
        let row = std::slice::from_raw_parts_mut(c_tile.add(i * ldc), width);
        for (cv, &v) in row.iter_mut().zip(tile_row) {
            *cv = if beta == 0.0 { v } else { beta * *cv + v };
        }
    }
}

/// Applies `finish` to the `rows × width` tile of C at (`row0`, `col0`).
///
/// # Safety
/// As [`block`], for that tile.
#[inline(never)]
unsafe fn finish_tile(
    finish: &Finish,
    c: *mut f32,
    ldc: usize,
    row0: usize,
    rows: usize,
    col0: usize,
    width: usize,
) {
    let residual = finish.residual.filter(|_| finish.epilogue.residual);
    let act = finish.epilogue.act;
    for i in row0..row0 + rows {
        let row = std::slice::from_raw_parts_mut(c.add(i * ldc + col0), width);
        let bias = finish.bias.map_or(0.0, |b| b[i]);
        match residual {
            Some(r) => {
                let r = &r[i * ldc + col0..][..width];
                for (v, &add) in row.iter_mut().zip(r) {
                    *v = act.apply(*v + bias + add);
                }
            }
            None if finish.bias.is_some() => {
                for v in row.iter_mut() {
                    *v = act.apply(*v + bias);
                }
            }
            None => act.apply_slice(row),
        }
    }
}

/// `y = beta · y`, where `beta == 0` overwrites (stale NaNs must not survive).
fn scale(y: &mut [f32], beta: f32) {
    if beta == 0.0 {
        y.fill(0.0);
    } else if beta != 1.0 {
        y.iter_mut().for_each(|v| *v *= beta);
    }
}

/// Packs `B[pc .. pc+kc, jc .. jc+nc]` into `NR`-wide panels, each `kc × NR` row by row, the
/// last one zero-padded.
fn pack_b(b: MatRef, pc: usize, kc: usize, jc: usize, nc: usize, buf: &mut [f32]) {
    let tiles = nc.div_ceil(NR);
    let full = nc / NR;
    if b.col_stride == 1 {
        // Row by row, so B is read sequentially (a panel at a time would read one short piece
        // of each of `kc` rows, which large row strides map onto few cache sets).
        for p in 0..kc {
            let src = &b.data[(pc + p) * b.row_stride + jc..][..nc];
            for t in 0..full {
                // Fixed-size copies: vector moves, not a `memcpy` call per piece.
                let piece: &[f32; NR] = src[t * NR..][..NR].try_into().expect("NR values");
                buf[t * NR * kc + p * NR..][..NR].copy_from_slice(piece);
            }
            if full < tiles {
                let dst = &mut buf[full * NR * kc + p * NR..][..NR];
                let rest = &src[full * NR..];
                dst[..rest.len()].copy_from_slice(rest);
                dst[rest.len()..].fill(0.0);
            }
        }
        return;
    }
    for t in 0..tiles {
        let width = NR.min(nc - t * NR);
        let panel = &mut buf[t * NR * kc..][..NR * kc];
        for (p, dst) in panel.chunks_exact_mut(NR).enumerate() {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = if j < width {
                    b.data[(pc + p) * b.row_stride + (jc + t * NR + j) * b.col_stride]
                } else {
                    0.0
                };
            }
        }
    }
}

/// A micro-kernel: `C[MR × NR] = A_panel · B_panel + beta·C` over depth `kc`, where the A panel
/// is `kc` columns of `MR` values and the B panel `kc` rows of `NR` values, `ldb` apart (`NR`
/// when packed; B's row stride when read in place); C has row stride `ldc` and `beta == 0`
/// ignores its contents.
type MicroKernel = unsafe fn(usize, *const f32, *const f32, usize, *mut f32, usize, f32);

/// The fastest micro-kernel this machine runs.
fn micro_kernel() -> MicroKernel {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return x86::kernel_avx2_fma;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return wasm::kernel_simd128;
    #[allow(unreachable_code)]
    kernel_portable
}

/// The plain-Rust micro-kernel.
///
/// # Safety
/// The A panel holds `kc·MR` values, B `kc` rows of `NR` at stride `ldb`; C is valid for an `MR × NR` tile at stride `ldc`.
unsafe fn kernel_portable(
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    beta: f32,
) {
    let a = std::slice::from_raw_parts(a, kc * MR);
    let mut acc = [[0.0f32; NR]; MR];
    for (p, ap) in a.chunks_exact(MR).enumerate() {
        let bp = std::slice::from_raw_parts(b.add(p * ldb), NR);
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    store(&acc, c, ldc, beta);
}

/// Writes an accumulated tile: `C = acc + beta·C` (`beta == 0`: `C = acc`).
///
/// # Safety
/// C is valid for an `MR × NR` tile at stride `ldc`.
#[inline(always)]
unsafe fn store(acc: &[[f32; NR]; MR], c: *mut f32, ldc: usize, beta: f32) {
    for (i, acc_row) in acc.iter().enumerate() {
        let row = std::slice::from_raw_parts_mut(c.add(i * ldc), NR);
        if beta == 0.0 {
            row.copy_from_slice(acc_row);
        } else {
            for (cv, &v) in row.iter_mut().zip(acc_row) {
                *cv = beta * *cv + v;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    const _: () = assert!(MR == 6 && NR == 16);

    /// 6×16 with AVX2 + FMA: two `ymm` per row of C, 12 accumulators, 2 loads of B and 6
    /// broadcasts of A per 12 FMAs.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; otherwise as [`super::kernel_portable`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel_avx2_fma(
        kc: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        beta: f32,
    ) {
        let mut acc = [_mm256_setzero_ps(); 2 * MR];
        let (mut a, mut b) = (a, b);
        for _ in 0..kc {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            for i in 0..MR {
                let ai = _mm256_broadcast_ss(&*a.add(i));
                acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
            }
            a = a.add(MR);
            b = b.add(ldb);
        }
        let beta_v = _mm256_set1_ps(beta);
        for i in 0..MR {
            let row = c.add(i * ldc);
            let (mut v0, mut v1) = (acc[2 * i], acc[2 * i + 1]);
            if beta != 0.0 {
                v0 = _mm256_fmadd_ps(beta_v, _mm256_loadu_ps(row), v0);
                v1 = _mm256_fmadd_ps(beta_v, _mm256_loadu_ps(row.add(8)), v1);
            }
            _mm256_storeu_ps(row, v0);
            _mm256_storeu_ps(row.add(8), v1);
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::{MR, NR};
    use std::arch::wasm32::*;

    const _: () = assert!(MR == 4 && NR == 8);

    /// 4×8 with simd128: two `v128` per row of C, 8 accumulators; a multiply and an add per
    /// multiply-add (simd128 has no FMA).
    ///
    /// # Safety
    /// As [`super::kernel_portable`].
    pub unsafe fn kernel_simd128(
        kc: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        beta: f32,
    ) {
        let mut acc = [f32x4_splat(0.0); 2 * MR];
        let (mut a, mut b) = (a, b);
        for _ in 0..kc {
            let b0 = v128_load(b as *const v128);
            let b1 = v128_load(b.add(4) as *const v128);
            for i in 0..MR {
                let ai = v128_load32_splat(a.add(i) as *const u32);
                acc[2 * i] = f32x4_add(acc[2 * i], f32x4_mul(ai, b0));
                acc[2 * i + 1] = f32x4_add(acc[2 * i + 1], f32x4_mul(ai, b1));
            }
            a = a.add(MR);
            b = b.add(ldb);
        }
        let beta_v = f32x4_splat(beta);
        for i in 0..MR {
            let row = c.add(i * ldc);
            let (mut v0, mut v1) = (acc[2 * i], acc[2 * i + 1]);
            if beta != 0.0 {
                v0 = f32x4_add(f32x4_mul(beta_v, v128_load(row as *const v128)), v0);
                v1 = f32x4_add(f32x4_mul(beta_v, v128_load(row.add(4) as *const v128)), v1);
            }
            v128_store(row as *mut v128, v0);
            v128_store(row.add(4) as *mut v128, v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Checks against a naive product in f64 for shapes around the tile and block edges, both
    /// B layouts and both kinds of beta.
    #[test]
    fn matches_naive_product() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (MR, 3, NR),
            (MR + 1, KC + 3, NR + 5),
            (13, 2 * KC, 2 * NC + 7),
            (64, 147, 301),
            (7, 0, 9),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let packed = PackedA::new(MatRef::row_major(&a, k), m, k);
            for transposed in [false, true] {
                let bt: Vec<f32> = if transposed {
                    (0..n * k).map(|i| b[(i % k) * n + i / k]).collect()
                } else {
                    b.clone()
                };
                let bref = if transposed {
                    MatRef::transposed(&bt, k)
                } else {
                    MatRef::row_major(&bt, n)
                };
                for beta in [0.0f32, 1.0, 0.5] {
                    let ldc = n + 3;
                    let before = values(m * ldc, 3);
                    let mut c = before.clone();
                    if beta == 0.0 {
                        c.iter_mut().for_each(|v| *v = f32::NAN);
                    }
                    gemm_packed(&packed, n, bref, beta, &mut c, ldc, &Finish::default());
                    for i in 0..m {
                        for j in 0..n {
                            let mut want: f64 = (0..k)
                                .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                                .sum();
                            if beta != 0.0 {
                                want += beta as f64 * before[i * ldc + j] as f64;
                            }
                            let got = c[i * ldc + j] as f64;
                            assert!(
                                (got - want).abs() <= 1e-4 * (1.0 + k as f64).sqrt(),
                                "{m}×{k}×{n} beta {beta} transposed {transposed}: \
                                 C[{i}][{j}] = {got}, want {want}"
                            );
                        }
                        // Padding columns of C are untouched.
                        for j in n..ldc {
                            if i * ldc + j < c.len() && beta != 0.0 {
                                assert_eq!(c[i * ldc + j], before[i * ldc + j]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The finish (bias per row, residual, activation) equals the same steps done after the
    /// product, across depth blocks and edge tiles.
    #[test]
    fn finish_applies_bias_residual_and_activation() {
        use crate::ops::epilogue::FusedAct;
        let (m, k, n) = (MR + 2, KC + 5, NR + 3);
        let ldc = n + 1;
        let a = values(m * k, 6);
        let b = values(k * n, 7);
        let bias = values(m, 8);
        let residual = values(m * ldc, 9);
        let packed = PackedA::new(MatRef::row_major(&a, k), m, k);
        for act in [
            FusedAct::None,
            FusedAct::Relu,
            FusedAct::Clip { lo: -0.5, hi: 0.5 },
        ] {
            for with_residual in [false, true] {
                let mut plain = vec![0.0; m * ldc];
                let bref = MatRef::row_major(&b, n);
                gemm_packed(&packed, n, bref, 0.0, &mut plain, ldc, &Finish::default());
                let epilogue = Epilogue {
                    residual: with_residual,
                    act,
                };
                let mut fused = vec![f32::NAN; m * ldc];
                let finish = Finish {
                    bias: Some(&bias),
                    epilogue,
                    residual: with_residual.then_some(&residual[..]),
                };
                gemm_packed(&packed, n, bref, 0.0, &mut fused, ldc, &finish);
                for i in 0..m {
                    for j in 0..n {
                        let mut want = plain[i * ldc + j] + bias[i];
                        if with_residual {
                            want += residual[i * ldc + j];
                        }
                        let want = act.apply(want);
                        let got = fused[i * ldc + j];
                        assert!(
                            (got - want).abs() <= 1e-5,
                            "{act:?} {i},{j}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn any_thread_count_gives_the_same_bits() {
        let (m, k) = (70, 300);
        let a = values(m * k, 4);
        let b = values(k * 530, 5);
        let packed = PackedA::new(MatRef::row_major(&a, k), m, k);
        // Many columns: the split is over column blocks; few: over row panels.
        for (n, what) in [(530, "gemm_packed"), (20, "gemm_packed rows")] {
            super::super::pool::assert_thread_count_invariant(what, || {
                let mut c = vec![0.0; m * n];
                let b = MatRef::row_major(&b, n);
                gemm_packed(&packed, n, b, 0.0, &mut c, n, &Finish::default());
                c
            });
        }
    }
}
