//! Single-precision matrix multiply used by Convolution, Deconvolution, FullyConnected and dot.

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
    if m == 0 || n == 0 {
        return;
    }
    assert!(m == 0 || a.len() >= (m - 1) * lda + k, "sgemm: A too small");
    assert!(k == 0 || b.len() >= (k - 1) * ldb + n, "sgemm: B too small");
    assert!(c.len() >= (m - 1) * ldc + n, "sgemm: C too small");
    if k == 0 {
        for i in 0..m {
            for v in &mut c[i * ldc..i * ldc + n] {
                *v = if beta == 0.0 { 0.0 } else { *v * beta };
            }
        }
        return;
    }
    // SAFETY: the asserts above bound every index matrixmultiply touches.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            lda as isize,
            1,
            b.as_ptr(),
            ldb as isize,
            1,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
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
}
