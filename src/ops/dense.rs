//! FullyConnected, dot and batch_dot (spec §4.2 "FullyConnected", §4.3 "dot" / "batch_dot").
//!
//! Each is one GEMM per batch item (see [`crate::backend::cpu::gemm`]); transposes never copy:
//! they only change the strides the GEMM reads with.

use crate::backend::cpu::gemm::{gemm, MatRef};
use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::conv::{
    check_count, check_len, check_residual, data_shape, expect_inputs, expect_param_shape,
};
use crate::ops::epilogue::Epilogue;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// Operators of this family.
#[derive(Debug, Clone, PartialEq)]
pub enum DenseOp {
    FullyConnected(FullyConnected),
    Dot(Dot),
    BatchDot(Dot),
}

/// `FullyConnected` (spec §4.2, pitfall §5.3): `y = x·Wᵀ + b`.
///
/// - inputs `data`, `weight (num_hidden, K)`, `bias (num_hidden,)` unless `no_bias`;
/// - attributes: `num_hidden` (required), `no_bias=False`, **`flatten=True`**;
/// - `flatten=True`: x is read as `(N, K)` with K the product of all non-batch dims (so a
///   `(N, C, 1, 1)` input needs no Flatten node; a 1-D `(N,)` input has K = 1); output
///   `(N, num_hidden)`;
/// - `flatten=False`: applied to the last axis; output `x.shape[:-1] + (num_hidden,)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FullyConnected {
    pub num_hidden: usize,
    pub no_bias: bool,
    pub flatten: bool,
    /// Ops fused into the store by [`crate::optimize::fuse_epilogues`] (none when parsed). With
    /// a residual, the op has one more input, last: a tensor of the output's shape.
    pub epilogue: Epilogue,
}

impl FullyConnected {
    fn parse(attrs: &Attrs) -> Result<FullyConnected> {
        let num_hidden = attrs.int_req("num_hidden")?;
        if num_hidden < 1 {
            return Err(Error::attr(
                "num_hidden",
                &num_hidden.to_string(),
                "must be a positive integer",
            ));
        }
        Ok(FullyConnected {
            num_hidden: usize::try_from(num_hidden)
                .map_err(|_| Error::attr("num_hidden", &num_hidden.to_string(), "too large"))?,
            no_bias: attrs.bool_or("no_bias", false)?,
            flatten: attrs.bool_or("flatten", true)?,
            epilogue: Epilogue::default(),
        })
    }

    /// `(rows, K)`: the data read as a `rows × K` matrix.
    fn plan(&self, data: &[usize]) -> Result<(usize, usize)> {
        let Some((&last, leading)) = data.split_last() else {
            return Err(Error::shape(
                "FullyConnected needs data with at least one axis, got ()",
            ));
        };
        if self.flatten {
            Ok((data[0], numel(&data[1..])))
        } else {
            Ok((numel(leading), last))
        }
    }

    fn output_shape(&self, data: &[usize]) -> Vec<usize> {
        let mut out = if self.flatten {
            data[..1].to_vec()
        } else {
            data[..data.len() - 1].to_vec()
        };
        out.push(self.num_hidden);
        out
    }

    /// Data, weight and bias (unless `no_bias`): the inputs before a fused residual.
    fn param_inputs(&self) -> usize {
        if self.no_bias {
            2
        } else {
            3
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let params = self.param_inputs();
        expect_inputs(
            "FullyConnected",
            inputs,
            params + usize::from(self.epilogue.residual),
        )?;
        let data = data_shape("FullyConnected", inputs, 0)?;
        let (_, k) = self.plan(&data)?;
        expect_param_shape(
            &mut inputs[1],
            vec![self.num_hidden, k],
            "FullyConnected weight",
        )?;
        if !self.no_bias {
            expect_param_shape(&mut inputs[2], vec![self.num_hidden], "FullyConnected bias")?;
        }
        let out = self.output_shape(&data);
        if self.epilogue.residual {
            check_residual("FullyConnected", inputs, params, &out)?;
        }
        Ok(vec![out])
    }

    fn forward(&self, inputs: &[View], outputs: &mut [ViewMut]) -> Result<()> {
        let (inputs, residual) = match (self.epilogue.residual, inputs.split_last()) {
            (true, Some((r, rest))) => (rest, Some(r)),
            _ => (inputs, None),
        };
        let want = self.param_inputs();
        let ([x, w, rest @ ..], [y]) = (inputs, outputs) else {
            return Err(Error::shape(
                "FullyConnected: expected data, weight (and bias) and one output",
            ));
        };
        if inputs.len() != want {
            return Err(Error::shape(format!(
                "FullyConnected: expected {want} inputs, got {}",
                inputs.len()
            )));
        }
        let (rows, k) = self.plan(x.shape)?;
        let hidden = self.num_hidden;
        check_len("FullyConnected", "data", x.data, x.shape)?;
        check_count("FullyConnected", "weight", w.data, hidden * k)?;
        check_count("FullyConnected", "output", y.data, rows * hidden)?;
        let bias = rest.first();
        if let Some(b) = bias {
            check_count("FullyConnected", "bias", b.data, hidden)?;
        }
        match bias {
            Some(b) => y
                .data
                .chunks_exact_mut(hidden)
                .for_each(|row| row.copy_from_slice(b.data)),
            None => y.data.fill(0.0),
        }
        // y (rows × hidden) = x (rows × K) · Wᵀ (K × hidden), W stored (hidden, K) row-major.
        gemm(
            rows,
            k,
            hidden,
            1.0,
            MatRef::row_major(x.data, k),
            MatRef::transposed(w.data, k),
            if bias.is_some() { 1.0 } else { 0.0 },
            y.data,
            hidden,
        );
        if let Some(r) = residual {
            check_count("FullyConnected", "residual", r.data, rows * hidden)?;
        }
        self.epilogue.apply(y.data, residual.map(|r| r.data));
        Ok(())
    }

    fn flops(&self, inputs: &[Vec<usize>]) -> u64 {
        let Some(x) = inputs.first() else { return 0 };
        (2 * numel(x) as u64).saturating_mul(self.num_hidden as u64)
    }
}

/// `dot` and `batch_dot` (spec §4.3): inputs `lhs`, `rhs`; `transpose_a=False`,
/// `transpose_b=False`.
///
/// **dot** is tensordot over one axis: the last axis of lhs with the first axis of rhs, so
/// `(a..., K)·(K, b...) → (a..., b...)`. `transpose_a` contracts lhs's *first* axis instead
/// (`(K, a...)`, the output keeps `a...` in order: `(2,3,4)ᵀ·(2,5) → (3,4,5)`) and
/// `transpose_b` rhs's *last* axis (`(b..., K)`). A 1-D operand contributes no output axes; two
/// vectors give shape `(1,)` and cannot be transposed (MXNet: "Cannot transpose vectors").
///
/// **batch_dot** multiplies matching batches: `(B..., M, K)·(B..., K, N) → (B..., M, N)` with at
/// least 3 axes on both sides and equal leading dims; the transposes swap the last two axes of
/// their operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    pub transpose_a: bool,
    pub transpose_b: bool,
}

/// One product: `batch` independent `m×k · k×n` GEMMs.
struct Product<'s> {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    /// The leading output dims: lhs's kept axes (dot) or the batch axes (batch_dot).
    lead: &'s [usize],
    /// dot: rhs's kept axes, which follow `lead` in the output.
    rhs_kept: &'s [usize],
}

impl Dot {
    fn parse(attrs: &Attrs) -> Result<Dot> {
        Ok(Dot {
            transpose_a: attrs.bool_or("transpose_a", false)?,
            transpose_b: attrs.bool_or("transpose_b", false)?,
        })
    }

    fn dot_plan<'s>(&self, a: &'s [usize], b: &'s [usize]) -> Result<Product<'s>> {
        let mismatch = || {
            Error::shape(format!(
                "dot: shapes {} and {} do not match",
                fmt_shape(a),
                fmt_shape(b)
            ))
        };
        if a.is_empty() || b.is_empty() {
            return Err(mismatch());
        }
        if a.len() == 1 && b.len() == 1 && (self.transpose_a || self.transpose_b) {
            return Err(Error::shape(format!(
                "dot: cannot transpose vectors ({} and {})",
                fmt_shape(a),
                fmt_shape(b)
            )));
        }
        // Split each operand into (kept axes, contracted axis).
        let (a_kept, ka) = if self.transpose_a {
            (&a[1..], a[0])
        } else {
            (&a[..a.len() - 1], a[a.len() - 1])
        };
        let (b_kept, kb) = if self.transpose_b {
            (&b[..b.len() - 1], b[b.len() - 1])
        } else {
            (&b[1..], b[0])
        };
        if ka != kb {
            return Err(mismatch());
        }
        Ok(Product {
            batch: 1,
            m: numel(a_kept),
            k: ka,
            n: numel(b_kept),
            lead: a_kept,
            rhs_kept: b_kept,
        })
    }

    fn batch_dot_plan<'s>(&self, a: &'s [usize], b: &'s [usize]) -> Result<Product<'s>> {
        if a.len() < 3 || a.len() != b.len() {
            return Err(Error::shape(format!(
                "batch_dot needs two operands with the same number (at least 3) of axes, got {} and {}",
                fmt_shape(a),
                fmt_shape(b)
            )));
        }
        let r = a.len() - 2;
        if a[..r] != b[..r] {
            return Err(Error::shape(format!(
                "batch_dot: the leading batch dims of {} and {} must be equal",
                fmt_shape(a),
                fmt_shape(b)
            )));
        }
        let (m, ka) = if self.transpose_a {
            (a[r + 1], a[r])
        } else {
            (a[r], a[r + 1])
        };
        let (kb, n) = if self.transpose_b {
            (b[r + 1], b[r])
        } else {
            (b[r], b[r + 1])
        };
        if ka != kb {
            return Err(Error::shape(format!(
                "batch_dot: shapes {} and {} do not match (transpose_a={}, transpose_b={})",
                fmt_shape(a),
                fmt_shape(b),
                self.transpose_a,
                self.transpose_b
            )));
        }
        Ok(Product {
            lead: &a[..r],
            rhs_kept: &[],
            batch: numel(&a[..r]),
            m,
            k: ka,
            n,
        })
    }

    fn infer_shape(
        &self,
        batched: bool,
        inputs: &mut [Option<Vec<usize>>],
    ) -> Result<Vec<Vec<usize>>> {
        let op = if batched { "batch_dot" } else { "dot" };
        expect_inputs(op, inputs, 2)?;
        let (a, b) = (data_shape(op, inputs, 0)?, data_shape(op, inputs, 1)?);
        let p = if batched {
            self.batch_dot_plan(&a, &b)?
        } else {
            self.dot_plan(&a, &b)?
        };
        let mut out = p.lead.to_vec();
        if batched {
            out.extend_from_slice(&[p.m, p.n]);
        } else {
            out.extend_from_slice(p.rhs_kept);
            if out.is_empty() {
                out.push(1); // vector · vector
            }
        }
        Ok(vec![out])
    }

    fn forward(&self, batched: bool, inputs: &[View], outputs: &mut [ViewMut]) -> Result<()> {
        let op = if batched { "batch_dot" } else { "dot" };
        let ([a, b], [y]) = (inputs, outputs) else {
            return Err(Error::shape(format!(
                "{op}: expected 2 inputs and 1 output"
            )));
        };
        let p = if batched {
            self.batch_dot_plan(a.shape, b.shape)?
        } else {
            self.dot_plan(a.shape, b.shape)?
        };
        check_len(op, "lhs", a.data, a.shape)?;
        check_len(op, "rhs", b.data, b.shape)?;
        check_count(op, "output", y.data, p.batch * p.m * p.n)?;
        let (m, k, n) = (p.m, p.k, p.n);
        for i in 0..p.batch {
            let a_i = &a.data[i * m * k..][..m * k];
            let b_i = &b.data[i * k * n..][..k * n];
            // lhs is stored (M, K), or (K, M) when transposed; rhs (K, N), or (N, K).
            let lhs = if self.transpose_a {
                MatRef::transposed(a_i, m)
            } else {
                MatRef::row_major(a_i, k)
            };
            let rhs = if self.transpose_b {
                MatRef::transposed(b_i, k)
            } else {
                MatRef::row_major(b_i, n)
            };
            gemm(
                m,
                k,
                n,
                1.0,
                lhs,
                rhs,
                0.0,
                &mut y.data[i * m * n..][..m * n],
                n.max(1),
            );
        }
        Ok(())
    }

    fn flops(&self, batched: bool, inputs: &[Vec<usize>]) -> u64 {
        let [a, b] = inputs else { return 0 };
        let p = if batched {
            self.batch_dot_plan(a, b)
        } else {
            self.dot_plan(a, b)
        };
        p.map_or(0, |p| {
            [p.batch, p.m, p.k, p.n]
                .iter()
                .fold(2u64, |acc, &d| acc.saturating_mul(d as u64))
        })
    }
}

impl Operator for DenseOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        Ok(Some(match op {
            "FullyConnected" => DenseOp::FullyConnected(FullyConnected::parse(attrs)?),
            "dot" => DenseOp::Dot(Dot::parse(attrs)?),
            "batch_dot" => DenseOp::BatchDot(Dot::parse(attrs)?),
            _ => return Ok(None),
        }))
    }

    fn name(&self) -> &'static str {
        match self {
            DenseOp::FullyConnected(_) => "FullyConnected",
            DenseOp::Dot(_) => "dot",
            DenseOp::BatchDot(_) => "batch_dot",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        match self {
            DenseOp::FullyConnected(fc) => {
                let mut v = vec![
                    ("data".to_string(), InputRole::Data),
                    ("weight".to_string(), InputRole::Weight),
                ];
                if !fc.no_bias {
                    v.push(("bias".to_string(), InputRole::Weight));
                }
                if fc.epilogue.residual {
                    v.push(("residual".to_string(), InputRole::Data));
                }
                v
            }
            DenseOp::Dot(_) | DenseOp::BatchDot(_) => {
                vec![
                    ("lhs".to_string(), InputRole::Data),
                    ("rhs".to_string(), InputRole::Data),
                ]
            }
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        match self {
            DenseOp::FullyConnected(fc) => fc.infer_shape(inputs),
            DenseOp::Dot(d) => d.infer_shape(false, inputs),
            DenseOp::BatchDot(d) => d.infer_shape(true, inputs),
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        match self {
            DenseOp::FullyConnected(fc) => fc.forward(inputs, outputs),
            DenseOp::Dot(d) => d.forward(false, inputs, outputs),
            DenseOp::BatchDot(d) => d.forward(true, inputs, outputs),
        }
    }

    fn flops(&self, inputs: &[Vec<usize>], _outputs: &[Vec<usize>]) -> u64 {
        match self {
            DenseOp::FullyConnected(fc) => fc.flops(inputs),
            DenseOp::Dot(d) => d.flops(false, inputs),
            DenseOp::BatchDot(d) => d.flops(true, inputs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::tests::{assert_close, check_mx_cases, run_op, Lcg, MxCase};
    use crate::ops::Op;

    /// Outputs of MXNet 1.9.1 for inputs `gen(shape_i, i)` (see `conv::tests::gen`).
    #[rustfmt::skip]
    const MX_CASES: &[MxCase] = &[
        MxCase { name: "fc_flatten_4d", op: "FullyConnected", attrs: &[("num_hidden", "3")], inputs: &[&[2, 2, 2, 2], &[3, 8], &[3]], out_shape: &[2, 3], expected: &[1.7684759, -1.7883673, 2.403729, -0.05149752, 1.472155, -2.1901183] },
        MxCase { name: "fc_no_flatten_3d", op: "FullyConnected", attrs: &[("num_hidden", "4"), ("flatten", "False")], inputs: &[&[2, 3, 5], &[4, 5], &[4]], out_shape: &[2, 3, 4], expected: &[2.4274392, -2.219777, -0.7914331, 2.1798189, 2.7561955, -0.4639815, -2.0879495, 1.1386377, -2.6314635, 2.9111335, 1.4394116, -4.18069, 0.009352922, -0.7049598, 0.7917155, -0.20759916, 3.9414454, -2.0869548, -2.3786483, 2.9218383, -0.8666636, 2.290867, 0.016490549, -2.7761374] },
        MxCase { name: "fc_no_bias_batch1", op: "FullyConnected", attrs: &[("num_hidden", "5"), ("no_bias", "True")], inputs: &[&[1, 7], &[5, 7]], out_shape: &[1, 5], expected: &[1.6095722, -3.278456, 3.974891, -3.492301, 1.9738321] },
        MxCase { name: "fc_1d_flatten", op: "FullyConnected", attrs: &[("num_hidden", "2")], inputs: &[&[3], &[2, 1], &[2]], out_shape: &[3, 2], expected: &[0.5155014, 0.17075182, 0.86393887, 0.5305893, 1.165217, 0.84172446] },
        MxCase { name: "dot_2d", op: "dot", attrs: &[], inputs: &[&[2, 3], &[3, 4]], out_shape: &[2, 4], expected: &[-0.47853157, -0.6750409, -0.7801866, -0.7797377, 0.3507888, -0.0750923, -0.49080998, -0.84009886] },
        MxCase { name: "dot_ta", op: "dot", attrs: &[("transpose_a", "True")], inputs: &[&[3, 2], &[3, 4]], out_shape: &[2, 4], expected: &[-0.6571616, -0.9981717, -1.2040839, -1.247029, -0.19927238, -0.6057074, -0.9301628, -1.1287249] },
        MxCase { name: "dot_tb", op: "dot", attrs: &[("transpose_b", "True")], inputs: &[&[2, 3], &[4, 3]], out_shape: &[2, 4], expected: &[0.9612542, 0.12225774, -0.85252756, -0.88043016, 2.711431, 0.942602, -1.8731534, -2.6084406] },
        MxCase { name: "dot_ta_tb", op: "dot", attrs: &[("transpose_a", "True"), ("transpose_b", "True")], inputs: &[&[3, 2], &[4, 3]], out_shape: &[2, 4], expected: &[1.5592273, 0.2301664, -1.354535, -1.4347856, 2.0971212, 0.5503638, -1.6076701, -1.9801017] },
        MxCase { name: "dot_nd", op: "dot", attrs: &[], inputs: &[&[2, 3, 4], &[4, 2, 2]], out_shape: &[2, 3, 2, 2], expected: &[-0.94148725, -0.8293885, -0.60503584, -0.29879445, 0.3123583, 0.0987355, -0.12825067, -0.33787876, 0.99813133, 0.84729344, 0.58177847, 0.23752238, -0.13135399, 0.054915484, 0.23375227, 0.38095176, -1.0219516, -0.83733493, -0.5393891, -0.16843936, -0.053970054, -0.20676053, -0.3315669, -0.41149718] },
        MxCase { name: "dot_nd_ta", op: "dot", attrs: &[("transpose_a", "True")], inputs: &[&[2, 3, 4], &[2, 5]], out_shape: &[3, 4, 5], expected: &[0.00809728, 0.35582003, 0.6553842, 0.8662452, 0.95986396, 0.35680473, 0.72751987, 0.99976856, 1.1367034, 1.1197906, 0.65722036, 1.0007533, 1.2088389, 1.253314, 1.1281588, 0.86868423, 1.1385394, 1.2542987, 1.2002945, 0.98383605, 0.96257585, 1.1222297, 1.129995, 0.9848207, 0.70635563, 0.92618734, 0.95403135, 0.85275173, 0.6360561, 0.33327338, 0.76444364, 0.6567093, 0.4600925, 0.20120434, -0.08491589, 0.4992361, 0.27050483, 0.005162001, -0.26087955, -0.49161223, 0.16645935, -0.15231127, -0.4504672, -0.6876546, -0.83177114, -0.18884692, -0.55451274, -0.8451278, -1.0213588, -1.0593537, -0.5185936, -0.8816635, -1.1254042, -1.2168269, -1.1435578, -0.7781512, -1.0894853, -1.2533627, -1.2476033, -1.0729866] },
        MxCase { name: "dot_nd_ta_tb", op: "dot", attrs: &[("transpose_a", "True"), ("transpose_b", "True")], inputs: &[&[2, 3, 2], &[2, 3, 2]], out_shape: &[3, 2, 2, 3], expected: &[0.79264903, 0.53215003, -0.0066969227, -0.54204094, -0.7938635, -0.6304455, 0.8699053, 0.6726259, 0.12352088, -0.49019334, -0.8475056, -0.76151913, 0.82942396, 0.72206503, 0.2370207, -0.37200037, -0.78644186, -0.7895248, 0.676684, 0.6737761, 0.31844088, -0.20345892, -0.6189369, -0.71067196, 0.43235803, 0.5342947, 0.3567616, -0.007380241, -0.36766174, -0.5356331, 0.12951443, 0.32249898, 0.3467963, 0.18969733, -0.066625245, -0.2880987] },
        MxCase { name: "dot_vec_vec", op: "dot", attrs: &[], inputs: &[&[5], &[5]], out_shape: &[1], expected: &[1.9119378] },
        MxCase { name: "dot_vec_mat", op: "dot", attrs: &[], inputs: &[&[3], &[3, 4]], out_shape: &[4], expected: &[-0.47853157, -0.6750409, -0.7801866, -0.7797377] },
        MxCase { name: "dot_mat_vec_tb", op: "dot", attrs: &[("transpose_b", "True")], inputs: &[&[4, 3], &[3]], out_shape: &[4], expected: &[0.9612542, 2.711431, 1.4500839, -1.421838] },
        MxCase { name: "batch_dot", op: "batch_dot", attrs: &[], inputs: &[&[2, 2, 3], &[2, 3, 4]], out_shape: &[2, 2, 4], expected: &[-0.47853157, -0.6750409, -0.7801866, -0.7797377, 0.3507888, -0.0750923, -0.49080998, -0.84009886, 0.13022222, 0.43136182, 0.67411864, 0.8256367, -0.8608872, -0.75734454, -0.55129874, -0.27063733] },
        MxCase { name: "batch_dot_ta_tb", op: "batch_dot", attrs: &[("transpose_a", "True"), ("transpose_b", "True")], inputs: &[&[2, 3, 2], &[2, 4, 3]], out_shape: &[2, 2, 4], expected: &[1.5592273, 0.2301664, -1.354535, -1.4347856, 2.0971212, 0.5503638, -1.6076701, -1.9801017, -0.54644525, 0.061733976, 0.6013467, 0.4730575, -0.39515322, -0.642445, -0.17618792, 0.48575702] },
        MxCase { name: "batch_dot_4d_tb", op: "batch_dot", attrs: &[("transpose_b", "True")], inputs: &[&[2, 2, 2, 3], &[2, 2, 4, 3]], out_shape: &[2, 2, 2, 4], expected: &[0.9612542, 0.12225774, -0.85252756, -0.88043016, 2.711431, 0.942602, -1.8731534, -2.6084406, -0.46670592, 1.0242637, 1.3776072, 0.20087418, 0.031540368, -1.300374, -1.1879929, 0.24386454, 2.4483461, 2.1613703, -0.5261896, -2.629323, 0.7725033, 0.9166402, 0.04268594, -0.87867856, 1.0792233, -0.88811564, -1.869045, -0.7740692, 1.7838932, -0.93559575, -2.61594, -1.39082] },
    ];

    #[test]
    fn matches_mxnet() {
        check_mx_cases(MX_CASES);
    }

    fn parse(op: &str, attrs: &[(&str, &str)]) -> Result<Op> {
        Op::parse(op, &Attrs::from_pairs(attrs))
    }

    #[test]
    fn fully_connected_attributes_and_shapes() {
        let Op::Dense(DenseOp::FullyConnected(fc)) =
            parse("FullyConnected", &[("num_hidden", "7")]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            fc,
            FullyConnected {
                num_hidden: 7,
                no_bias: false,
                flatten: true,
                epilogue: Epilogue::default(),
            }
        );
        assert!(parse("FullyConnected", &[])
            .unwrap_err()
            .to_string()
            .contains("num_hidden"));
        assert!(parse("FullyConnected", &[("num_hidden", "0")]).is_err());
        assert!(parse(
            "FullyConnected",
            &[("num_hidden", "2"), ("flatten", "maybe")]
        )
        .is_err());

        let op = parse("FullyConnected", &[("num_hidden", "7")]).unwrap();
        let mut ins = vec![Some(vec![2, 3, 4]), None, None];
        assert_eq!(op.infer_shape(&mut ins).unwrap(), vec![vec![2, 7]]);
        assert_eq!(
            (ins[1].clone(), ins[2].clone()),
            (Some(vec![7, 12]), Some(vec![7]))
        );
        assert_eq!(op.flops(&[vec![2, 3, 4]], &[vec![2, 7]]), 2 * 24 * 7);
        // 1-D data with flatten: (N,) is N rows of one feature.
        assert_eq!(
            op.infer_shape(&mut [Some(vec![5]), None, None]).unwrap(),
            vec![vec![5, 7]]
        );

        let op = parse(
            "FullyConnected",
            &[
                ("num_hidden", "7"),
                ("flatten", "False"),
                ("no_bias", "True"),
            ],
        )
        .unwrap();
        assert_eq!(op.inputs().len(), 2);
        let mut ins = vec![Some(vec![2, 3, 4]), None];
        assert_eq!(op.infer_shape(&mut ins).unwrap(), vec![vec![2, 3, 7]]);
        assert_eq!(ins[1], Some(vec![7, 4]));
        assert_eq!(
            op.infer_shape(&mut [Some(vec![5]), None]).unwrap(),
            vec![vec![7]]
        );
        let e = op
            .infer_shape(&mut [Some(vec![2, 3, 4]), Some(vec![7, 5])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("(7, 5)") && e.contains("(7, 4)"), "{e}");
        assert!(op.infer_shape(&mut [Some(vec![]), None]).is_err());
    }

    #[test]
    fn fully_connected_matches_direct_loops() {
        let mut rng = Lcg(3);
        for case in 0..100 {
            let (rows, k, hidden) = (rng.range(1, 5), rng.range(1, 40), rng.range(1, 20));
            let no_bias = case % 2 == 0;
            let x = rng.values(rows * k);
            let w = rng.values(hidden * k);
            let b = rng.values(hidden);
            let h = hidden.to_string();
            let attrs = [
                ("num_hidden", h.as_str()),
                ("flatten", "False"),
                ("no_bias", if no_bias { "True" } else { "False" }),
            ];
            let mut shapes = vec![vec![rows, k], vec![hidden, k]];
            let mut data = vec![x.clone(), w.clone()];
            if !no_bias {
                shapes.push(vec![hidden]);
                data.push(b.clone());
            }
            let (_, y) = run_op("FullyConnected", &attrs, &shapes, &data).unwrap();
            let want: Vec<f32> = (0..rows * hidden)
                .map(|i| {
                    let (r, j) = (i / hidden, i % hidden);
                    let s: f64 = (0..k)
                        .map(|p| x[r * k + p] as f64 * w[j * k + p] as f64)
                        .sum();
                    (s + if no_bias { 0.0 } else { b[j] as f64 }) as f32
                })
                .collect();
            assert_close(&format!("case {case}"), &y, &want, 1e-5);
        }
    }

    #[test]
    fn dot_shapes() {
        let shape = |attrs: &[(&str, &str)], a: &[usize], b: &[usize]| {
            parse("dot", attrs)
                .unwrap()
                .infer_shape(&mut [Some(a.to_vec()), Some(b.to_vec())])
        };
        let ta = [("transpose_a", "True")];
        let tb = [("transpose_b", "True")];
        let both = [("transpose_a", "True"), ("transpose_b", "True")];
        assert_eq!(shape(&[], &[3], &[3]).unwrap(), vec![vec![1]]);
        assert_eq!(shape(&[], &[3], &[3, 4]).unwrap(), vec![vec![4]]);
        assert_eq!(shape(&[], &[4, 3], &[3]).unwrap(), vec![vec![4]]);
        assert_eq!(shape(&ta, &[3], &[3, 4]).unwrap(), vec![vec![4]]);
        assert_eq!(
            shape(&tb, &[2, 3, 4], &[5, 6, 4]).unwrap(),
            vec![vec![2, 3, 5, 6]]
        );
        assert_eq!(
            shape(&both, &[2, 3, 4], &[5, 6, 2]).unwrap(),
            vec![vec![3, 4, 5, 6]]
        );
        assert_eq!(
            shape(&ta, &[2, 3, 4], &[2, 5]).unwrap(),
            vec![vec![3, 4, 5]]
        );
        assert!(shape(&ta, &[3], &[3])
            .unwrap_err()
            .to_string()
            .contains("transpose"));
        let e = shape(&[], &[2, 3], &[4, 5]).unwrap_err().to_string();
        assert!(e.contains("(2, 3)") && e.contains("(4, 5)"), "{e}");
        assert!(shape(&[], &[], &[3]).is_err());
        let op = parse("dot", &[("forward_stype", "None")]).unwrap();
        assert_eq!(
            op.inputs()
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["lhs", "rhs"]
        );
        assert_eq!(
            op.flops(&[vec![2, 3], vec![3, 4]], &[vec![2, 4]]),
            2 * 2 * 3 * 4
        );
    }

    #[test]
    fn batch_dot_shapes() {
        let shape = |attrs: &[(&str, &str)], a: &[usize], b: &[usize]| {
            parse("batch_dot", attrs)
                .unwrap()
                .infer_shape(&mut [Some(a.to_vec()), Some(b.to_vec())])
        };
        assert_eq!(
            shape(&[], &[2, 3, 4, 5], &[2, 3, 5, 6]).unwrap(),
            vec![vec![2, 3, 4, 6]]
        );
        let both = [("transpose_a", "True"), ("transpose_b", "True")];
        assert_eq!(
            shape(&both, &[2, 5, 4], &[2, 6, 5]).unwrap(),
            vec![vec![2, 4, 6]]
        );
        assert!(shape(&[], &[4, 5], &[5, 6]).is_err());
        assert!(shape(&[], &[1, 4, 5], &[2, 5, 6])
            .unwrap_err()
            .to_string()
            .contains("(1, 4, 5)"));
        assert!(shape(&[], &[2, 4, 5], &[2, 1, 5, 6]).is_err());
        assert!(shape(&[], &[2, 4, 5], &[2, 6, 5]).is_err());
    }

    /// Every transpose combination of dot and batch_dot against index arithmetic.
    #[test]
    fn products_match_direct_loops() {
        let mut rng = Lcg(5);
        for case in 0..200 {
            let batched = case % 2 == 1;
            let (ta, tb) = (case % 4 >= 2, rng.range(0, 1) == 1);
            let (batch, m, k, n) = (
                if batched { rng.range(1, 3) } else { 1 },
                rng.range(1, 6),
                rng.range(1, 20),
                rng.range(1, 6),
            );
            let a_shape = if ta { vec![k, m] } else { vec![m, k] };
            let b_shape = if tb { vec![n, k] } else { vec![k, n] };
            let (a_shape, b_shape) = if batched {
                (
                    [&[batch][..], &a_shape].concat(),
                    [&[batch][..], &b_shape].concat(),
                )
            } else {
                (a_shape, b_shape)
            };
            let a = rng.values(numel(&a_shape));
            let b = rng.values(numel(&b_shape));
            let attrs = [
                ("transpose_a", if ta { "True" } else { "False" }),
                ("transpose_b", if tb { "True" } else { "False" }),
            ];
            let (ys, y) = run_op(
                if batched { "batch_dot" } else { "dot" },
                &attrs,
                &[a_shape.clone(), b_shape.clone()],
                &[a.clone(), b.clone()],
            )
            .unwrap();
            let mut want = Vec::new();
            for bi in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let s: f64 = (0..k)
                            .map(|p| {
                                let av = if ta {
                                    a[bi * m * k + p * m + i]
                                } else {
                                    a[bi * m * k + i * k + p]
                                };
                                let bv = if tb {
                                    b[bi * k * n + j * k + p]
                                } else {
                                    b[bi * k * n + p * n + j]
                                };
                                av as f64 * bv as f64
                            })
                            .sum();
                        want.push(s as f32);
                    }
                }
            }
            assert_eq!(numel(&ys), want.len());
            assert_close(
                &format!("case {case} {a_shape:?}x{b_shape:?} ta={ta} tb={tb}"),
                &y,
                &want,
                1e-5,
            );
        }
    }
}
