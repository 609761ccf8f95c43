//! Single-precision matrix multiply used by Convolution, Deconvolution, FullyConnected, dot,
//! batch_dot and the RNN cells: [`gemm`] (any strides) routes matrix–vector shapes to the
//! dot/axpy loops below and everything else to the packed GEMM of [`super::packed`], after
//! packing `A` into a per-thread buffer. Convolutions pack their weight once per plan step
//! instead and call [`super::packed::gemm_packed`] directly.
//!
//! # History: why our own GEMM
//!
//! Until December 2026 the general case was `matrixmultiply` 0.3, measured then against the
//! `gemm` crate (0.19) on this project's machine: matrixmultiply won on every conv-shaped
//! product natively (e.g. 64×576×3136 in 1.24 vs 1.95 ms) and in wasm32 (6.5 vs 19.3 ms), and
//! was the smaller dependency (8.3 vs 19 KB gzipped for a cdylib exporting one sgemm). It packs
//! both operands on every call, though, so every forward pass repacked every weight; the
//! packed GEMM (a 6×16 AVX2+FMA micro-kernel natively, 4×8 simd128 in wasm) packs each weight
//! once, is level with matrixmultiply when it packs per call too (`examples/gemm_bench.rs`), and
//! replacing matrixmultiply made the wasm package smaller. See [`super::packed`] for the
//! measurements.
//!
//! Matrix–vector products (FullyConnected at batch 1, `dot` with a vector) stay on the simple
//! dot/axpy loops below: memory-bound, ~10× faster than any packing path for those shapes.

use std::cell::RefCell;

use super::packed::{gemm_packed, Finish, PackedA};

/// A read-only matrix operand: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
///
/// Row-major storage has `col_stride == 1`; the transpose of a row-major matrix (a "transposed"
/// operand, e.g. a FullyConnected weight `(num_hidden, K)` used as `K × num_hidden`) has
/// `row_stride == 1`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix whose rows are `ld` elements apart: `(i, j)` at `data[i*ld + j]`.
    pub fn row_major(data: &'a [f32], ld: usize) -> MatRef<'a> {
        MatRef {
            data,
            row_stride: ld,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with row length `ld`: `(i, j)` at `data[j*ld + i]`.
    pub fn transposed(data: &'a [f32], ld: usize) -> MatRef<'a> {
        MatRef {
            data,
            row_stride: 1,
            col_stride: ld,
        }
    }

    /// True when a `rows × cols` matrix with these strides lies inside `data`.
    pub(crate) fn fits(&self, rows: usize, cols: usize) -> bool {
        if rows == 0 || cols == 0 {
            return true;
        }
        let last = (rows - 1).checked_mul(self.row_stride).and_then(|r| {
            (cols - 1)
                .checked_mul(self.col_stride)
                .and_then(|c| r.checked_add(c))
        });
        matches!(last, Some(l) if l < self.data.len())
    }
}

/// `C = alpha * A·B + beta * C` for row-major matrices with explicit row strides.
/// `A` is `m×k` (`a[i*lda + p]`), `B` is `k×n` (`b[p*ldb + j]`), `C` is `m×n` (`c[i*ldc + j]`).
/// With `beta == 0`, `C`'s previous contents are ignored (may be stale or NaN).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    gemm(
        m,
        k,
        n,
        alpha,
        MatRef::row_major(a, lda),
        MatRef::row_major(b, ldb),
        beta,
        c,
        ldc,
    );
}

/// `C = alpha * A·B + beta * C` with `A` (`m×k`) and `B` (`k×n`) given with arbitrary strides
/// (see [`MatRef`]) and `C` row-major with row stride `ldc`. With `beta == 0`, `C`'s previous
/// contents are ignored (may be stale or NaN).
///
/// # Panics
/// When an operand does not fit its slice. Callers size operands from validated shapes, so
/// this is an internal invariant, not an input check.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(a.fits(m, k), "gemm: A ({m}×{k}) does not fit its buffer");
    assert!(b.fits(k, n), "gemm: B ({k}×{n}) does not fit its buffer");
    assert!(
        ldc >= n
            && (m - 1)
                .checked_mul(ldc)
                .and_then(|r| r.checked_add(n))
                .is_some_and(|e| e <= c.len()),
        "gemm: C ({m}×{n}, ldc {ldc}) does not fit its buffer"
    );
    if k == 0 {
        for row in c.chunks_mut(ldc).take(m) {
            scale_in_place(&mut row[..n], beta);
        }
        return;
    }
    if gemv(m, k, n, alpha, a, b, beta, c, ldc) {
        return;
    }
    PACKED_A.with(|packed| {
        let mut packed = packed.borrow_mut();
        packed.repack(a, m, k, alpha);
        gemm_packed(&packed, n, b, beta, c, ldc, &Finish::default());
    });
}

thread_local! {
    /// Each thread's buffer for [`gemm`]'s packed `A` (grown once, reused).
    static PACKED_A: RefCell<PackedA> = RefCell::new(PackedA::default());
}

/// `y = beta * y`, where `beta == 0` overwrites (stale NaNs must not survive).
fn scale_in_place(y: &mut [f32], beta: f32) {
    if beta == 0.0 {
        y.fill(0.0);
    } else if beta != 1.0 {
        y.iter_mut().for_each(|v| *v *= beta);
    }
}

/// Matrix–vector special cases (m == 1 or n == 1) where every operand is contiguous along the
/// reduction or the output. Returns false when the shape is not one of them.
#[allow(clippy::too_many_arguments)]
fn gemv(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) -> bool {
    if m == 1 && a.col_stride == 1 {
        let x = &a.data[..k];
        let y = &mut c[..n];
        if b.row_stride == 1 {
            // y[j] = x · (column j of B), each column contiguous (FullyConnected at batch 1).
            for (j, yj) in y.iter_mut().enumerate() {
                let col = &b.data[j * b.col_stride..j * b.col_stride + k];
                let v = alpha * dot(x, col);
                *yj = if beta == 0.0 { v } else { v + beta * *yj };
            }
            return true;
        }
        if b.col_stride == 1 {
            // y = Σ_p x[p] · (row p of B): a sequence of contiguous axpys.
            scale_in_place(y, beta);
            for (p, &xp) in x.iter().enumerate() {
                axpy(
                    alpha * xp,
                    &b.data[p * b.row_stride..p * b.row_stride + n],
                    y,
                );
            }
            return true;
        }
    }
    if n == 1 && b.row_stride == 1 {
        let x = &b.data[..k];
        if a.col_stride == 1 {
            // c[i] = (row i of A) · x.
            for i in 0..m {
                let row = &a.data[i * a.row_stride..i * a.row_stride + k];
                let v = alpha * dot(row, x);
                let ci = &mut c[i * ldc];
                *ci = if beta == 0.0 { v } else { v + beta * *ci };
            }
            return true;
        }
        if a.row_stride == 1 && ldc == 1 {
            // c = Σ_p x[p] · (column p of A), columns contiguous.
            let y = &mut c[..m];
            scale_in_place(y, beta);
            for (p, &xp) in x.iter().enumerate() {
                axpy(
                    alpha * xp,
                    &a.data[p * a.col_stride..p * a.col_stride + m],
                    y,
                );
            }
            return true;
        }
    }
    false
}

/// Dot product with 16 independent partial sums so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (a_body, a_tail) = a.split_at(a.len() - a.len() % LANES);
    let (b_body, b_tail) = b.split_at(a_body.len());
    for (ca, cb) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    sum
}

/// `y += alpha * x`.
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product() {
        // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [f32::NAN; 4];
        sgemm(2, 2, 2, 1.0, &a, 2, &b, 2, 0.0, &mut c, 2);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    }

    /// Deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: MatRef,
        b: MatRef,
        beta: f32,
        c: &mut [f32],
        ldc: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a.data[i * a.row_stride + p * a.col_stride] as f64
                        * b.data[p * b.row_stride + j * b.col_stride] as f64;
                }
                let old = if beta == 0.0 {
                    0.0
                } else {
                    beta * c[i * ldc + j]
                };
                c[i * ldc + j] = alpha * s as f32 + old;
            }
        }
    }

    #[test]
    fn every_layout_and_vector_shape_matches_naive() {
        let shapes = [
            (1, 7, 33),
            (33, 7, 1),
            (1, 40, 1),
            (5, 19, 9),
            (17, 1, 4),
            (3, 0, 5),
            (1, 100, 37),
        ];
        let mut seed = 1;
        for &(m, k, n) in &shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    for &(alpha, beta) in &[(1.0f32, 0.0f32), (0.5, 2.0), (1.0, 1.0)] {
                        seed += 1;
                        let a_data = values(m * k + 3, seed);
                        let b_data = values(k * n + 3, seed + 100);
                        let a = if ta {
                            MatRef::transposed(&a_data, m)
                        } else {
                            MatRef::row_major(&a_data, k)
                        };
                        let b = if tb {
                            MatRef::transposed(&b_data, k)
                        } else {
                            MatRef::row_major(&b_data, n)
                        };
                        let ldc = n + 2;
                        let c0 = values(m * ldc, seed + 200);
                        let mut want = c0.clone();
                        naive(m, k, n, alpha, a, b, beta, &mut want, ldc);
                        let mut got = c0.clone();
                        gemm(m, k, n, alpha, a, b, beta, &mut got, ldc);
                        for i in 0..m {
                            for j in 0..n {
                                let (g, w) = (got[i * ldc + j], want[i * ldc + j]);
                                assert!(
                                    (g - w).abs() < 1e-4,
                                    "m{m} k{k} n{n} ta{ta} tb{tb} ({i},{j}): {g} vs {w}"
                                );
                            }
                            // The padding between rows of C is untouched.
                            for j in n..ldc.min(c0.len() - i * ldc) {
                                assert_eq!(got[i * ldc + j], c0[i * ldc + j]);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn beta_zero_ignores_nan() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        for (m, k, n) in [(1, 2, 1), (2, 1, 2)] {
            let mut c = [f32::NAN; 4];
            sgemm(m, k, n, 1.0, &a, k, &b, n, 0.0, &mut c, n);
            assert!(
                c[..m * n].iter().all(|v| v.is_finite()),
                "{m}x{k}x{n}: {c:?}"
            );
        }
    }

    #[test]
    fn threads_give_bit_identical_products() {
        // Conv-shaped (n ≥ m: column blocks) and dense-shaped (m > n: row blocks), with odd
        // sizes, transposed operands and beta ≠ 0.
        for (m, k, n, tb, beta) in [
            (64, 147, 3001, false, 0.0f32),
            (37, 300, 1000, true, 1.0),
            (520, 600, 49, false, 0.5),
            (300, 77, 301, true, 0.0),
        ] {
            let a_data = values(m * k, 7);
            let b_data = values(k * n, 8);
            let a = MatRef::row_major(&a_data, k);
            let b = if tb {
                MatRef::transposed(&b_data, k)
            } else {
                MatRef::row_major(&b_data, n)
            };
            let c0 = values(m * (n + 3), 9);
            super::super::pool::assert_thread_count_invariant(&format!("{m}x{k}x{n}"), || {
                let mut c = c0.clone();
                gemm(m, k, n, 1.0, a, b, beta, &mut c, n + 3);
                c
            });
        }
    }

    /// Throughput of conv-shaped products: `cargo test --release --lib gemm -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_conv_shapes() {
        for (m, k, n) in [
            (64, 576, 3136),
            (512, 4608, 49),
            (1000, 512, 1),
            (1, 512, 1000),
            (64, 147, 12544),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let mut c = vec![0.0; m * n];
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                sgemm(m, k, n, 1.0, &a, k, &b, n, 0.0, &mut c, n);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gflops = 2.0 * (m * k * n) as f64 / best / 1e9;
            println!("{m}x{k}x{n}: {:.3} ms, {gflops:.1} GFLOP/s", best * 1e3);
        }
    }
}
