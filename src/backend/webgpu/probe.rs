//! Deriving the index map of a data-movement operator from its CPU `forward`.
//!
//! Every shape operator (transpose, slice, tile, Pad, ...) writes each output element from one
//! input element or from a constant. Rather than restating each operator's rules for the GPU,
//! the executor runs the operator's own CPU kernel once, at build time, on inputs whose values
//! encode their positions, and reads the map back from the outputs. Three runs make the encoding
//! exact for tensors of up to 2^36 elements:
//!
//! - run A: `x[i] = i mod 4096 + 1`, run B: `x[i] = i div 4096 + 1` (both exact in f32);
//! - run C: `x[i] = −(i mod 4096 + 1)`: an output that is the same in A and C is a constant.
//!
//! The map is then fitted to a strided view (what `strided_copy` executes) when it is one, and
//! kept as an explicit gather table otherwise.

use crate::error::{fmt_shape, Error, Result};
use crate::ops::{Op, Scratch};
use crate::tensor::{numel, View, ViewMut};

const BASE: usize = 4096;

/// How one output is produced from input 0.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IndexMap {
    /// `out[i] = in[offset + Σ i_k·strides_k]` for the row-major multi-index `i` of `shape`.
    Strided {
        shape: Vec<usize>,
        strides: Vec<i64>,
        offset: i64,
    },
    /// `out[i] = idx[i] >= 0 ? in[idx[i]] : constant`.
    Table { idx: Vec<i32>, constant: f32 },
    /// Output values that do not depend on the input (e.g. `shape_array`).
    Constant(Vec<f32>),
}

/// Runs `op` on index-encoded copies of input 0 (other inputs are zeros of their shapes) and
/// returns the index map of every output.
pub(crate) fn probe(
    op: &Op,
    in_shapes: &[Vec<usize>],
    out_shapes: &[Vec<usize>],
) -> Result<Vec<IndexMap>> {
    let n_in = in_shapes.first().map_or(0, |s| numel(s));
    if n_in / BASE >= (1 << 24) {
        return Err(Error::Unsupported(format!(
            "{}: input too large to derive its index map",
            op.name()
        )));
    }
    let run = |encode: &dyn Fn(usize) -> f32| -> Result<Vec<Vec<f32>>> {
        let data0: Vec<f32> = (0..n_in).map(encode).collect();
        let others: Vec<Vec<f32>> = in_shapes
            .iter()
            .skip(1)
            .map(|s| vec![0.0; numel(s)])
            .collect();
        let mut views = vec![View {
            shape: in_shapes.first().map_or(&[][..], |s| &s[..]),
            data: &data0,
        }];
        for (s, d) in in_shapes.iter().skip(1).zip(&others) {
            views.push(View { shape: s, data: d });
        }
        let mut outs: Vec<Vec<f32>> = out_shapes
            .iter()
            .map(|s| vec![f32::NAN; numel(s)])
            .collect();
        {
            let mut out_views: Vec<ViewMut> = outs
                .iter_mut()
                .zip(out_shapes)
                .map(|(d, s)| ViewMut { shape: s, data: d })
                .collect();
            op.forward(&views, &mut out_views, &mut Scratch::default())?;
        }
        Ok(outs)
    };
    let a = run(&|i| (i % BASE + 1) as f32)?;
    let b = run(&|i| (i / BASE + 1) as f32)?;
    let c = run(&|i| -((i % BASE + 1) as f32))?;

    let mut maps = Vec::with_capacity(out_shapes.len());
    for (k, shape) in out_shapes.iter().enumerate() {
        let (a, b, c) = (&a[k], &b[k], &c[k]);
        let mut idx: Vec<i64> = Vec::with_capacity(a.len());
        let mut constant: Option<f32> = None;
        let mut constants = 0usize;
        for e in 0..a.len() {
            if a[e].to_bits() == c[e].to_bits() {
                constants += 1;
                idx.push(-1);
                match constant {
                    None => constant = Some(a[e]),
                    Some(v) if v.to_bits() == a[e].to_bits() => {}
                    Some(_) => constant = Some(f32::NAN), // several constants: only Constant() can hold them
                }
                continue;
            }
            let (lo, hi) = (a[e], b[e]);
            let valid = lo == -c[e]
                && lo >= 1.0
                && lo <= BASE as f32
                && hi >= 1.0
                && hi.fract() == 0.0
                && lo.fract() == 0.0;
            if !valid {
                return Err(Error::Backend(format!(
                    "{}: output {k} {} is not a copy of its input (cannot derive an index map)",
                    op.name(),
                    fmt_shape(shape)
                )));
            }
            idx.push((hi as i64 - 1) * BASE as i64 + (lo as i64 - 1));
        }
        if constants == a.len() && !a.is_empty() {
            maps.push(IndexMap::Constant(a.clone()));
            continue;
        }
        if constants == 0 {
            if let Some((shape, strides, offset)) = fit_strided(&idx) {
                maps.push(IndexMap::Strided {
                    shape,
                    strides,
                    offset,
                });
                continue;
            }
        }
        let constant = constant.unwrap_or(0.0);
        if constant.is_nan() && constants > 0 && a.iter().any(|v| !v.is_nan()) {
            // Mixed constants that differ: keep the whole output as constants where they are,
            // which a single gather constant cannot express.
            return Err(Error::Unsupported(format!(
                "{}: output mixes several constants with copies",
                op.name()
            )));
        }
        let idx = idx
            .into_iter()
            .map(|v| {
                i32::try_from(v).map_err(|_| {
                    Error::Unsupported(format!("{}: gather index {v} too large", op.name()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        maps.push(IndexMap::Table { idx, constant });
    }
    Ok(maps)
}

/// Finds `shape`, `strides`, `offset` with `map[i] = offset + Σ i_k·strides_k` over the row-major
/// multi-index of `shape` (at most 16 axes), or None.
pub(crate) fn fit_strided(map: &[i64]) -> Option<(Vec<usize>, Vec<i64>, i64)> {
    let n = map.len();
    if n == 0 {
        return Some((vec![0], vec![0], 0));
    }
    let offset = map[0];
    // Axes from the innermost out: (size, stride).
    let mut axes: Vec<(usize, i64)> = Vec::new();
    let mut block = 1usize;
    while block < n {
        let stride = map[block] - offset;
        let limit = n / block;
        // Longest run of block starts on this progression.
        let mut run = 1usize;
        while run < limit && map[run * block] - offset == run as i64 * stride {
            run += 1;
        }
        // The axis size must divide what is left; take the largest divisor within the run.
        let size = (1..=run).rev().find(|d| limit % d == 0).unwrap_or(1);
        if size == 1 {
            return None;
        }
        axes.push((size, stride));
        block *= size;
        if axes.len() > 16 {
            return None;
        }
    }
    let shape: Vec<usize> = axes.iter().rev().map(|a| a.0).collect();
    let strides: Vec<i64> = axes.iter().rev().map(|a| a.1).collect();
    // Verify every element.
    let mut pos = vec![0usize; shape.len()];
    let mut expect = offset;
    for (i, &m) in map.iter().enumerate() {
        if m != expect {
            return None;
        }
        if i + 1 == n {
            break;
        }
        // Increment the multi-index.
        let mut k = shape.len();
        while k > 0 {
            k -= 1;
            pos[k] += 1;
            expect += strides[k];
            if pos[k] < shape[k] {
                break;
            }
            expect -= strides[k] * shape[k] as i64;
            pos[k] = 0;
        }
    }
    Some((shape, strides, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_transpose_and_tile() {
        // (2, 3) transposed: rows of the output walk the input's columns.
        assert_eq!(
            fit_strided(&[0, 3, 1, 4, 2, 5]),
            Some((vec![3, 2], vec![1, 3], 0))
        );
        // tile (3,) twice: a stride-0 outer axis.
        assert_eq!(
            fit_strided(&[0, 1, 2, 0, 1, 2]),
            Some((vec![2, 3], vec![0, 1], 0))
        );
        // contiguous
        assert_eq!(fit_strided(&[5, 6, 7, 8]), Some((vec![4], vec![1], 5)));
        // reflect padding is not strided
        assert_eq!(fit_strided(&[1, 0, 1, 2, 1]), None);
    }
}
