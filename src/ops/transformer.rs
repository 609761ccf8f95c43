//! Operators of Transformer / BERT exports (GluonNLP): the interleaved attention matmuls,
//! `_contrib_div_sqrt_dim` and `_contrib_arange_like`.
//!
//! Interleaved layouts (`heads` = H, head size D):
//! - self-attention: `queries_keys_values (T, B, H·3·D)`, each head's q, k, v side by side:
//!   element `[t, b, (h·3 + s)·D + d]` with s = 0 (q), 1 (k), 2 (v);
//! - encoder-decoder: `queries (Tq, B, H·D)` and `keys_values (Tk, B, H·2·D)` with s = 0 (k),
//!   1 (v).
//!
//! `*_qk` give `(B·H, Tq, Tk)` scores `q·k / √D` (row `b·H + h`); `*_valatt` take
//! `attention (B·H, Tq, Tk)` and give `(Tq, B, H·D)` with `out[t, b, h·D + d] =
//! Σ_j att[b·H + h, t, j]·v[j, b, h, d]`.
//! `div_sqrt_dim(data) = data / √(last axis)`. `arange_like(data, start=0, step=1, repeat=1,
//! axis=None)`: data's shape (or `(data.shape[axis],)`) filled with
//! `start + step·⌊i / repeat⌋` in flat order.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// Which interleaved matmul.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interleaved {
    SelfQk,
    SelfValAtt,
    EncDecQk,
    EncDecValAtt,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransformerOp {
    Matmul {
        kind: Interleaved,
        heads: usize,
    },
    DivSqrtDim,
    ArangeLike {
        start: f64,
        step: f64,
        repeat: usize,
        axis: Option<i64>,
    },
}

/// Index helpers shared by both backends: the geometry of an interleaved matmul.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub heads: usize,
    pub head_dim: usize,
    pub batch: usize,
    pub tq: usize,
    pub tk: usize,
}

impl TransformerOp {
    /// The geometry of an interleaved matmul from its input shapes.
    pub fn geometry(kind: Interleaved, heads: usize, ins: &[&[usize]]) -> Result<Geometry> {
        let name = kind_name(kind);
        let three = |s: &[usize], what: &str| -> Result<()> {
            if s.len() != 3 {
                return Err(Error::shape(format!(
                    "{name}: {what} must be 3-D (seq_len, batch, features), got {}",
                    fmt_shape(s)
                )));
            }
            Ok(())
        };
        let per_head = |s: &[usize], k: usize, what: &str| -> Result<usize> {
            if s[2] % (heads * k) != 0 {
                return Err(Error::shape(format!(
                    "{name}: {what} {} has a last axis not divisible by heads × {k} = {}",
                    fmt_shape(s),
                    heads * k
                )));
            }
            Ok(s[2] / (heads * k))
        };
        let g = match kind {
            Interleaved::SelfQk | Interleaved::SelfValAtt => {
                let qkv = ins[0];
                three(qkv, "queries_keys_values")?;
                Geometry {
                    heads,
                    head_dim: per_head(qkv, 3, "queries_keys_values")?,
                    batch: qkv[1],
                    tq: qkv[0],
                    tk: qkv[0],
                }
            }
            Interleaved::EncDecQk => {
                let (q, kv) = (ins[0], ins[1]);
                three(q, "queries")?;
                three(kv, "keys_values")?;
                let d = per_head(q, 1, "queries")?;
                if per_head(kv, 2, "keys_values")? != d || kv[1] != q[1] {
                    return Err(Error::shape(format!(
                        "{name}: queries {} and keys_values {} disagree",
                        fmt_shape(q),
                        fmt_shape(kv)
                    )));
                }
                Geometry {
                    heads,
                    head_dim: d,
                    batch: q[1],
                    tq: q[0],
                    tk: kv[0],
                }
            }
            Interleaved::EncDecValAtt => {
                let kv = ins[0];
                three(kv, "keys_values")?;
                Geometry {
                    heads,
                    head_dim: per_head(kv, 2, "keys_values")?,
                    batch: kv[1],
                    tq: ins[1].get(1).copied().unwrap_or(0),
                    tk: kv[0],
                }
            }
        };
        if matches!(kind, Interleaved::SelfValAtt | Interleaved::EncDecValAtt) {
            let want = [g.batch * heads, g.tq, g.tk];
            let att = ins[1];
            let ok = if kind == Interleaved::SelfValAtt {
                att == want
            } else {
                att.len() == 3 && att[0] == want[0] && att[2] == want[2]
            };
            if !ok {
                return Err(Error::shape(format!(
                    "{name}: attention has shape {}, expected {}",
                    fmt_shape(att),
                    fmt_shape(&want)
                )));
            }
        }
        Ok(g)
    }
}

fn kind_name(kind: Interleaved) -> &'static str {
    match kind {
        Interleaved::SelfQk => "_contrib_interleaved_matmul_selfatt_qk",
        Interleaved::SelfValAtt => "_contrib_interleaved_matmul_selfatt_valatt",
        Interleaved::EncDecQk => "_contrib_interleaved_matmul_encdec_qk",
        Interleaved::EncDecValAtt => "_contrib_interleaved_matmul_encdec_valatt",
    }
}

/// The values of `arange_like` for `n` elements.
pub fn arange_values(start: f64, step: f64, repeat: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (start + step * (i / repeat) as f64) as f32)
        .collect()
}

impl Operator for TransformerOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let kind = match op {
            "_contrib_interleaved_matmul_selfatt_qk" => Interleaved::SelfQk,
            "_contrib_interleaved_matmul_selfatt_valatt" => Interleaved::SelfValAtt,
            "_contrib_interleaved_matmul_encdec_qk" => Interleaved::EncDecQk,
            "_contrib_interleaved_matmul_encdec_valatt" => Interleaved::EncDecValAtt,
            "_contrib_div_sqrt_dim" => return Ok(Some(TransformerOp::DivSqrtDim)),
            "_contrib_arange_like" => {
                let repeat = attrs.int_or("repeat", 1)?;
                if repeat < 1 {
                    return Err(Error::attr(
                        "repeat",
                        &repeat.to_string(),
                        "must be at least 1",
                    ));
                }
                attrs.str("ctx");
                return Ok(Some(TransformerOp::ArangeLike {
                    start: attrs.float_or("start", 0.0)?,
                    step: attrs.float_or("step", 1.0)?,
                    repeat: repeat as usize,
                    axis: attrs.opt_int("axis")?,
                }));
            }
            _ => return Ok(None),
        };
        let heads = attrs.int_req("heads")?;
        if heads < 1 {
            return Err(Error::attr(
                "heads",
                &heads.to_string(),
                "must be at least 1",
            ));
        }
        Ok(Some(TransformerOp::Matmul {
            kind,
            heads: heads as usize,
        }))
    }

    fn name(&self) -> &'static str {
        match self {
            TransformerOp::Matmul { kind, .. } => kind_name(*kind),
            TransformerOp::DivSqrtDim => "_contrib_div_sqrt_dim",
            TransformerOp::ArangeLike { .. } => "_contrib_arange_like",
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let names: &[&str] = match self {
            TransformerOp::Matmul { kind, .. } => match kind {
                Interleaved::SelfQk => &["queries_keys_values"],
                Interleaved::SelfValAtt => &["queries_keys_values", "attention"],
                Interleaved::EncDecQk => &["queries", "keys_values"],
                Interleaved::EncDecValAtt => &["keys_values", "attention"],
            },
            TransformerOp::DivSqrtDim => &["data"],
            TransformerOp::ArangeLike { .. } => &["data"],
        };
        names
            .iter()
            .map(|n| (n.to_string(), InputRole::Data))
            .collect()
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        let op = self.name();
        let shapes: Vec<Vec<usize>> = inputs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.clone()
                    .ok_or_else(|| Error::shape(format!("{op}: the shape of input {i} is unknown")))
            })
            .collect::<Result<_>>()?;
        Ok(vec![match self {
            TransformerOp::Matmul { kind, heads } => {
                let refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
                let g = TransformerOp::geometry(*kind, *heads, &refs)?;
                match kind {
                    Interleaved::SelfQk | Interleaved::EncDecQk => {
                        vec![g.batch * g.heads, g.tq, g.tk]
                    }
                    Interleaved::SelfValAtt | Interleaved::EncDecValAtt => {
                        vec![g.tq, g.batch, g.heads * g.head_dim]
                    }
                }
            }
            TransformerOp::DivSqrtDim => {
                if shapes[0].is_empty() {
                    return Err(Error::shape(format!("{op}: data must have an axis")));
                }
                shapes[0].clone()
            }
            TransformerOp::ArangeLike { axis, .. } => match axis {
                None => shapes[0].clone(),
                Some(a) => vec![shapes[0][resolve_axis(*a, shapes[0].len(), op)?]],
            },
        }])
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        _scratch: &mut Scratch,
    ) -> Result<()> {
        let y = &mut *outputs[0].data;
        match *self {
            TransformerOp::DivSqrtDim => {
                let x = &inputs[0];
                let s = (*x.shape.last().unwrap_or(&1) as f32).sqrt();
                for (o, v) in y.iter_mut().zip(x.data) {
                    *o = v / s;
                }
            }
            TransformerOp::ArangeLike {
                start,
                step,
                repeat,
                ..
            } => {
                y.copy_from_slice(&arange_values(start, step, repeat, y.len()));
            }
            TransformerOp::Matmul { kind, heads } => {
                let shapes: Vec<&[usize]> = inputs.iter().map(|v| v.shape).collect();
                let g = TransformerOp::geometry(kind, heads, &shapes)?;
                let (h_n, d, b_n) = (g.heads, g.head_dim, g.batch);
                match kind {
                    Interleaved::SelfQk | Interleaved::EncDecQk => {
                        // q and k element offsets of (t, b, h, d).
                        let (q_data, k_data) = match kind {
                            Interleaved::SelfQk => (inputs[0].data, inputs[0].data),
                            _ => (inputs[0].data, inputs[1].data),
                        };
                        let (q_stride, q_sub) = match kind {
                            Interleaved::SelfQk => (3 * d, 0),
                            _ => (d, 0),
                        };
                        let (k_stride, k_sub) = match kind {
                            Interleaved::SelfQk => (3 * d, d),
                            _ => (2 * d, 0),
                        };
                        let scale = 1.0 / (d as f32).sqrt();
                        for b in 0..b_n {
                            for h in 0..h_n {
                                for i in 0..g.tq {
                                    let q = (i * b_n + b) * h_n * q_stride + h * q_stride + q_sub;
                                    let qv = &q_data[q..q + d];
                                    for j in 0..g.tk {
                                        let k =
                                            (j * b_n + b) * h_n * k_stride + h * k_stride + k_sub;
                                        let kv = &k_data[k..k + d];
                                        let dot: f32 =
                                            qv.iter().zip(kv).map(|(a, c)| a * scale * c).sum();
                                        y[((b * h_n + h) * g.tq + i) * g.tk + j] = dot;
                                    }
                                }
                            }
                        }
                    }
                    Interleaved::SelfValAtt | Interleaved::EncDecValAtt => {
                        let (v_data, att) = (inputs[0].data, inputs[1].data);
                        let (v_stride, v_sub) = match kind {
                            Interleaved::SelfValAtt => (3 * d, 2 * d),
                            _ => (2 * d, d),
                        };
                        y.fill(0.0);
                        for b in 0..b_n {
                            for h in 0..h_n {
                                for i in 0..g.tq {
                                    let o = (i * b_n + b) * h_n * d + h * d;
                                    let arow = &att[((b * h_n + h) * g.tq + i) * g.tk..][..g.tk];
                                    for (j, &a) in arow.iter().enumerate() {
                                        let v =
                                            (j * b_n + b) * h_n * v_stride + h * v_stride + v_sub;
                                        for (out, &vv) in
                                            y[o..o + d].iter_mut().zip(&v_data[v..v + d])
                                        {
                                            *out += a * vv;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn flops(&self, inputs: &[Vec<usize>], outputs: &[Vec<usize>]) -> u64 {
        match self {
            TransformerOp::Matmul { kind, .. } => {
                let out = outputs.first().map_or(0, |s| numel(s)) as u64;
                let k = match kind {
                    Interleaved::SelfQk | Interleaved::EncDecQk => {
                        inputs[0].get(2).copied().unwrap_or(0) as u64
                    }
                    _ => inputs[1].get(2).copied().unwrap_or(0) as u64,
                };
                let heads_div = match self {
                    TransformerOp::Matmul { heads, kind } => match kind {
                        Interleaved::SelfQk => 3 * *heads as u64,
                        Interleaved::EncDecQk => *heads as u64,
                        _ => 1,
                    },
                    _ => 1,
                };
                2 * out * k / heads_div.max(1)
            }
            _ => 0,
        }
    }
}
