//! Recurrent operators: the fused `RNN` operator (modes `lstm`, `gru`, `rnn_relu`,
//! `rnn_tanh`; several layers; bidirectional; LSTM projection; `state_outputs`).
//!
//! `_rnn_param_concat` (which Gluon's `rnn.LSTM/GRU/RNN` use to build the flat parameter
//! vector) is Concat at inference: it is an alias in [`crate::ops::canonical_name`].
//!
//! Semantics (MXNet 1.9.1, checked by the `rnn_*` fixtures). Data is `(T, N, I)` (Gluon's `NTC`
//! layout is a `SwapAxis` around the operator). With `G` gates, hidden size `H` and `P` the
//! projection size (`H` without projection), layer `l` of direction `d` (0 forward, 1 reverse)
//! reads a flat `parameters` vector laid out as
//! - every weight first, for `l` in layers, `d` in directions: `W_i (G·H, I_l)`,
//!   `W_h (G·H, P)` and, with projection, `W_r (P, H)`; `I_0 = I`, `I_l = D·P` after that;
//! - then every bias, in the same order: `b_i (G·H)`, `b_h (G·H)`.
//!
//! With `x = W_i·x_t + b_i` and `r = W_h·h + b_h` split per gate:
//! - lstm (gates i, f, g, o): `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`, then
//!   `h' = W_r·h'` with projection. `lstm_state_clip_min/max/nan` are accepted and inert, as
//!   on MXNet 1.9.1's CPU (only its cuDNN path clips; `rnn_lstm_clip` checks this);
//! - gru (gates r, z, n): `n = tanh(x_n + σ(x_r + r_r)·r_n)`, `z = σ(x_z + r_z)`,
//!   `h' = (1 − z)·n + z·h`;
//! - rnn_relu / rnn_tanh: `h' = act(x + r)`.
//!
//! The reverse direction runs from `t = T − 1` down to 0; the output of a layer is
//! `(T, N, D·P)` with the directions side by side. Outputs: the last layer's output, then with
//! `state_outputs` the final `h` `(L·D, N, P)` and, for lstm, the final `c` `(L·D, N, H)`.
//! Initial states are inputs `state` and (lstm) `state_cell`. A state whose shape has a 0 where
//! the batch size belongs (what Gluon's `begin_state` writes as `_zeros(shape=(L·D, 0, H))` in
//! an exported graph, MXNet filling the 0 from this operator) is a zero state.
//! `use_sequence_length=True` adds a last input `sequence_length (N,)` which MXNet 1.9.1's CPU
//! operator ignores (every sequence runs all T steps; only cuDNN honours the lengths), and so
//! do we: `rnn_lstm_sequence_length` checks it. Dropout `p` is inert at inference.

use crate::backend::cpu::gemm::{gemm, MatRef};
use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::{InputRole, Operator, Scratch};
use crate::tensor::{numel, View, ViewMut};

/// The cell type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnMode {
    Lstm,
    Gru,
    RnnRelu,
    RnnTanh,
}

impl RnnMode {
    pub fn gates(self) -> usize {
        match self {
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
            RnnMode::RnnRelu | RnnMode::RnnTanh => 1,
        }
    }
}

/// The fused `RNN` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnOp {
    pub mode: RnnMode,
    /// `state_size`: H.
    pub hidden: usize,
    pub layers: usize,
    pub bidirectional: bool,
    pub projection: Option<usize>,
    pub state_outputs: bool,
    /// `use_sequence_length`: a `sequence_length` input exists (and is ignored, see above).
    pub use_sequence_length: bool,
}

/// Where the weights of one (layer, direction) lie in the flat parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellParams {
    /// Input size of this layer.
    pub input: usize,
    pub w_i: usize,
    pub w_h: usize,
    /// With projection only.
    pub w_r: Option<usize>,
    pub b_i: usize,
    pub b_h: usize,
}

impl RnnOp {
    pub fn dirs(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// The size of the recurrent state `h` (P, or H without projection).
    pub fn state_width(&self) -> usize {
        self.projection.unwrap_or(self.hidden)
    }

    fn has_cell(&self) -> bool {
        self.mode == RnnMode::Lstm
    }

    /// Per (layer, direction), in `layer * dirs + dir` order, the offsets of its weights; and
    /// the total length of the parameter vector.
    pub fn param_layout(&self, input_size: usize) -> (Vec<CellParams>, usize) {
        let (g, h, p, d) = (
            self.mode.gates(),
            self.hidden,
            self.state_width(),
            self.dirs(),
        );
        let mut cells = Vec::with_capacity(self.layers * d);
        let mut at = 0;
        for l in 0..self.layers {
            let input = if l == 0 { input_size } else { d * p };
            for _ in 0..d {
                let w_i = at;
                at += g * h * input;
                let w_h = at;
                at += g * h * p;
                let w_r = self.projection.map(|_| {
                    let o = at;
                    at += p * h;
                    o
                });
                cells.push(CellParams {
                    input,
                    w_i,
                    w_h,
                    w_r,
                    b_i: 0,
                    b_h: 0,
                });
            }
        }
        for c in &mut cells {
            c.b_i = at;
            at += g * h;
            c.b_h = at;
            at += g * h;
        }
        (cells, at)
    }

    /// Output shapes for data `(T, N, I)`.
    fn output_shapes(&self, t: usize, n: usize) -> Vec<Vec<usize>> {
        let (p, ld) = (self.state_width(), self.layers * self.dirs());
        let mut outs = vec![vec![t, n, self.dirs() * p]];
        if self.state_outputs {
            outs.push(vec![ld, n, p]);
            if self.has_cell() {
                outs.push(vec![ld, n, self.hidden]);
            }
        }
        outs
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A state input's shape against the expected one: equal, or with 0 in unknown dims (a zero
/// state from `_zeros`). Returns true when it is such a zero state.
fn check_state(name: &str, given: &[usize], want: &[usize]) -> Result<bool> {
    let ok = given.len() == want.len() && given.iter().zip(want).all(|(g, w)| g == w || *g == 0);
    if !ok {
        return Err(Error::shape(format!(
            "RNN: {name} has shape {}, expected {} (layers × directions, batch, state size)",
            fmt_shape(given),
            fmt_shape(want)
        )));
    }
    Ok(given != want)
}

impl Operator for RnnOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        if op != "RNN" {
            return Ok(None);
        }
        let mode = match attrs.choice("mode", &["lstm", "gru", "rnn_relu", "rnn_tanh"], "")? {
            "lstm" => RnnMode::Lstm,
            "gru" => RnnMode::Gru,
            "rnn_relu" => RnnMode::RnnRelu,
            "rnn_tanh" => RnnMode::RnnTanh,
            _ => return Err(Error::attr("mode", "", "is required")),
        };
        let positive = |key: &str| -> Result<usize> {
            let v = attrs.int_req(key)?;
            if v < 1 {
                return Err(Error::attr(key, &v.to_string(), "must be at least 1"));
            }
            Ok(v as usize)
        };
        let hidden = positive("state_size")?;
        let layers = positive("num_layers")?;
        let projection = match attrs.opt_int("projection_size")? {
            None => None,
            Some(v) if v >= 1 => Some(v as usize),
            Some(v) => {
                return Err(Error::attr(
                    "projection_size",
                    &v.to_string(),
                    "must be ≥ 1",
                ))
            }
        };
        if projection.is_some() && mode != RnnMode::Lstm {
            return Err(Error::attr(
                "projection_size",
                attrs.raw("projection_size").unwrap_or(""),
                "projection is only defined for mode='lstm'",
            ));
        }
        // Inert on MXNet's CPU path (see the module docs).
        attrs.opt_float("lstm_state_clip_min")?;
        attrs.opt_float("lstm_state_clip_max")?;
        attrs.bool_or("lstm_state_clip_nan", false)?;
        let use_sequence_length = attrs.bool_or("use_sequence_length", false)?;
        let p = attrs.float_or("p", 0.0)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::attr("p", &p.to_string(), "must be in [0, 1]"));
        }
        attrs.bool_or("cudnn_off", false)?;
        attrs.bool_or("cudnn_algo_verbose", false)?;
        Ok(Some(RnnOp {
            mode,
            hidden,
            layers,
            bidirectional: attrs.bool_or("bidirectional", false)?,
            projection,
            state_outputs: attrs.bool_or("state_outputs", false)?,
            use_sequence_length,
        }))
    }

    fn name(&self) -> &'static str {
        "RNN"
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        let mut v = vec![
            ("data".to_string(), InputRole::Data),
            ("parameters".to_string(), InputRole::Weight),
            ("state".to_string(), InputRole::Data),
        ];
        if self.has_cell() {
            v.push(("state_cell".to_string(), InputRole::Data));
        }
        if self.use_sequence_length {
            v.push(("sequence_length".to_string(), InputRole::Data));
        }
        v
    }

    fn num_outputs(&self) -> usize {
        match (self.state_outputs, self.has_cell()) {
            (false, _) => 1,
            (true, false) => 2,
            (true, true) => 3,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        if inputs.len() != self.inputs().len() {
            return Err(Error::shape(format!(
                "RNN: expected {} inputs, got {}",
                self.inputs().len(),
                inputs.len()
            )));
        }
        let data = inputs[0]
            .clone()
            .ok_or_else(|| Error::shape("RNN: the shape of data is unknown"))?;
        if data.len() != 3 {
            return Err(Error::shape(format!(
                "RNN: data must be (sequence length, batch, input size), got {}",
                fmt_shape(&data)
            )));
        }
        let (t, n, i) = (data[0], data[1], data[2]);
        let (_, total) = self.param_layout(i);
        match &inputs[1] {
            None => inputs[1] = Some(vec![total]),
            Some(s) if numel(s) == total && s.len() == 1 => {}
            Some(s) => {
                return Err(Error::shape(format!(
                    "RNN: parameters has shape {}, expected ({total},) for input size {i}",
                    fmt_shape(s)
                )))
            }
        }
        let ld = self.layers * self.dirs();
        if self.use_sequence_length {
            let k = inputs.len() - 1;
            match &inputs[k] {
                None => inputs[k] = Some(vec![n]),
                Some(s) if *s == [n] => {}
                Some(s) => {
                    return Err(Error::shape(format!(
                        "RNN: sequence_length has shape {}, expected ({n},)",
                        fmt_shape(s)
                    )))
                }
            }
        }
        let states: &[(usize, &str, usize)] = if self.has_cell() {
            &[(2, "state", 0), (3, "state_cell", 1)]
        } else {
            &[(2, "state", 0)]
        };
        for &(k, name, which) in states {
            let width = if which == 0 {
                self.state_width()
            } else {
                self.hidden
            };
            let want = vec![ld, n, width];
            match &inputs[k] {
                None => inputs[k] = Some(want),
                Some(s) => {
                    check_state(name, s, &want)?;
                }
            }
        }
        Ok(self.output_shapes(t, n))
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        if inputs.len() != self.inputs().len() || outputs.len() != self.num_outputs() {
            return Err(Error::shape(format!(
                "RNN: called with {} inputs and {} outputs",
                inputs.len(),
                outputs.len()
            )));
        }
        let x = &inputs[0];
        let (t_len, n, i) = (x.shape[0], x.shape[1], x.shape[2]);
        let (cells, total) = self.param_layout(i);
        let params = inputs[1].data;
        if params.len() != total {
            return Err(Error::shape(format!(
                "RNN: parameters hold {} values, expected {total}",
                params.len()
            )));
        }
        let (g, h, p, d) = (
            self.mode.gates(),
            self.hidden,
            self.state_width(),
            self.dirs(),
        );
        let gh = g * h;
        let ld = self.layers * d;
        let h0 = inputs[2].data;
        let c0 = if self.has_cell() { inputs[3].data } else { &[] };
        let h0_zero = h0.len() != ld * n * p;
        let c0_zero = c0.len() != ld * n * h;

        let layer_len = t_len * n * d * p;
        let need = 2 * layer_len + t_len * n * gh + n * gh + 2 * n * h + n * p;
        let buf = Scratch::take(&mut scratch.a, need);
        let (bufs, rest) = buf.split_at_mut(2 * layer_len);
        let (gx, rest) = rest.split_at_mut(t_len * n * gh);
        let (gr, rest) = rest.split_at_mut(n * gh);
        let (c, rest) = rest.split_at_mut(n * h);
        let (hraw, hcur) = rest.split_at_mut(n * h);
        let (buf0, buf1) = bufs.split_at_mut(layer_len);
        let (out0, states) = outputs.split_at_mut(1);
        let out = &mut *out0[0].data;
        let mut hn_store: Option<&mut [f32]> = None;
        let mut cn_store: Option<&mut [f32]> = None;
        for (k, s) in states.iter_mut().enumerate() {
            if k == 0 {
                hn_store = Some(&mut *s.data);
            } else {
                cn_store = Some(&mut *s.data);
            }
        }

        let (mut prev, mut next) = (buf0, buf1);
        for l in 0..self.layers {
            // Layer input and output (ping-pong between the two scratch buffers).
            let last = l + 1 == self.layers;
            let input: &[f32] = if l == 0 { x.data } else { &*prev };
            let output: &mut [f32] = if last { &mut *out } else { &mut *next };
            for dir in 0..d {
                let cell = cells[l * d + dir];
                let ci = cell.input;
                // gx = input · W_iᵀ + b_i for every time step at once.
                gemm(
                    t_len * n,
                    ci,
                    gh,
                    1.0,
                    MatRef::row_major(input, ci),
                    MatRef::transposed(&params[cell.w_i..cell.w_i + gh * ci], ci),
                    0.0,
                    gx,
                    gh,
                );
                let b_i = &params[cell.b_i..cell.b_i + gh];
                let b_h = &params[cell.b_h..cell.b_h + gh];
                for row in gx.chunks_exact_mut(gh) {
                    for (v, b) in row.iter_mut().zip(b_i) {
                        *v += b;
                    }
                }
                let s = l * d + dir;
                if h0_zero {
                    hcur.fill(0.0);
                } else {
                    hcur.copy_from_slice(&h0[s * n * p..(s + 1) * n * p]);
                }
                if c0_zero {
                    c.fill(0.0);
                } else {
                    c.copy_from_slice(&c0[s * n * h..(s + 1) * n * h]);
                }
                for step in 0..t_len {
                    let t = if dir == 0 { step } else { t_len - 1 - step };
                    gemm(
                        n,
                        p,
                        gh,
                        1.0,
                        MatRef::row_major(hcur, p),
                        MatRef::transposed(&params[cell.w_h..cell.w_h + gh * p], p),
                        0.0,
                        gr,
                        gh,
                    );
                    for b in 0..n {
                        let xr = &gx[(t * n + b) * gh..(t * n + b + 1) * gh];
                        let rr = &mut gr[b * gh..(b + 1) * gh];
                        for (v, bias) in rr.iter_mut().zip(b_h) {
                            *v += bias;
                        }
                        let hb = &mut hcur[b * p..(b + 1) * p];
                        match self.mode {
                            RnnMode::Lstm => {
                                let cb = &mut c[b * h..(b + 1) * h];
                                let hr = &mut hraw[b * h..(b + 1) * h];
                                for j in 0..h {
                                    let ig = sigmoid(xr[j] + rr[j]);
                                    let fg = sigmoid(xr[h + j] + rr[h + j]);
                                    let gg = (xr[2 * h + j] + rr[2 * h + j]).tanh();
                                    let og = sigmoid(xr[3 * h + j] + rr[3 * h + j]);
                                    let cv = fg * cb[j] + ig * gg;
                                    cb[j] = cv;
                                    hr[j] = og * cv.tanh();
                                }
                                if self.projection.is_none() {
                                    hb.copy_from_slice(hr);
                                }
                            }
                            RnnMode::Gru => {
                                for j in 0..h {
                                    let r = sigmoid(xr[j] + rr[j]);
                                    let z = sigmoid(xr[h + j] + rr[h + j]);
                                    let nn = (xr[2 * h + j] + r * rr[2 * h + j]).tanh();
                                    hb[j] = (1.0 - z) * nn + z * hb[j];
                                }
                            }
                            RnnMode::RnnRelu => {
                                for j in 0..h {
                                    hb[j] = (xr[j] + rr[j]).max(0.0);
                                }
                            }
                            RnnMode::RnnTanh => {
                                for j in 0..h {
                                    hb[j] = (xr[j] + rr[j]).tanh();
                                }
                            }
                        }
                    }
                    if let Some(w_r) = cell.w_r {
                        // h = hraw · W_rᵀ
                        gemm(
                            n,
                            h,
                            p,
                            1.0,
                            MatRef::row_major(hraw, h),
                            MatRef::transposed(&params[w_r..w_r + p * h], h),
                            0.0,
                            hcur,
                            p,
                        );
                    }
                    for b in 0..n {
                        let at = (t * n + b) * d * p + dir * p;
                        output[at..at + p].copy_from_slice(&hcur[b * p..(b + 1) * p]);
                    }
                }
                if let Some(hn) = hn_store.as_deref_mut() {
                    hn[s * n * p..(s + 1) * n * p].copy_from_slice(hcur);
                }
                if let Some(cn) = cn_store.as_deref_mut() {
                    cn[s * n * h..(s + 1) * n * h].copy_from_slice(c);
                }
            }
            std::mem::swap(&mut prev, &mut next);
        }
        Ok(())
    }

    fn flops(&self, inputs: &[Vec<usize>], _outputs: &[Vec<usize>]) -> u64 {
        let Some(x) = inputs.first().filter(|s| s.len() == 3) else {
            return 0;
        };
        let (t, n, i) = (x[0] as u64, x[1] as u64, x[2] as u64);
        let (cells, _) = self.param_layout(i as usize);
        let (gh, p, h) = (
            (self.mode.gates() * self.hidden) as u64,
            self.state_width() as u64,
            self.hidden as u64,
        );
        cells
            .iter()
            .map(|c| {
                let proj = if c.w_r.is_some() { p * h } else { 0 };
                2 * t * n * (gh * c.input as u64 + gh * p + proj)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(attrs: &[(&str, &str)]) -> RnnOp {
        RnnOp::parse("RNN", &Attrs::from_pairs(attrs))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn parameter_layout_matches_gluon_order() {
        // lstm, 2 layers, bidirectional, projection 5, hidden 8, input 4 (Gluon's concat order).
        let o = op(&[
            ("mode", "lstm"),
            ("state_size", "8"),
            ("num_layers", "2"),
            ("bidirectional", "True"),
            ("projection_size", "5"),
        ]);
        let (cells, total) = o.param_layout(4);
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[0].w_h, 32 * 4);
        assert_eq!(cells[0].w_r, Some(32 * 4 + 32 * 5));
        assert_eq!(cells[1].w_i, 32 * 4 + 32 * 5 + 5 * 8);
        assert_eq!(cells[2].input, 10);
        let weights = 2 * (32 * 4 + 32 * 5 + 40) + 2 * (32 * 10 + 32 * 5 + 40);
        assert_eq!(cells[0].b_i, weights);
        assert_eq!(total, weights + 4 * 64);
    }

    #[test]
    fn shapes_and_zero_states() {
        let o = op(&[
            ("mode", "gru"),
            ("state_size", "3"),
            ("num_layers", "1"),
            ("state_outputs", "True"),
        ]);
        let mut ins = vec![Some(vec![5, 2, 4]), None, Some(vec![1, 0, 3])];
        let outs = o.infer_shape(&mut ins).unwrap();
        assert_eq!(outs, vec![vec![5, 2, 3], vec![1, 2, 3]]);
        assert_eq!(ins[1], Some(vec![3 * 3 * 4 + 3 * 3 * 3 + 2 * 9]));
        let mut bad = vec![Some(vec![5, 2, 4]), None, Some(vec![2, 2, 3])];
        assert!(o.infer_shape(&mut bad).is_err());
    }

    /// A state of shape (L·D, 0, H) (Gluon's `_zeros` begin state) is the zero state.
    #[test]
    fn empty_states_are_zero_states() {
        let o = op(&[
            ("mode", "lstm"),
            ("state_size", "3"),
            ("num_layers", "2"),
            ("bidirectional", "True"),
            ("state_outputs", "True"),
        ]);
        let (t, n, i) = (4, 2, 3);
        let (_, total) = o.param_layout(i);
        let x: Vec<f32> = (0..t * n * i)
            .map(|k| ((k * 7 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let w: Vec<f32> = (0..total)
            .map(|k| ((k * 13 % 17) as f32 - 8.0) / 20.0)
            .collect();
        let zeros = vec![0.0f32; 4 * n * 3];
        let run = |state_shape: &[usize], state: &[f32]| -> Vec<Vec<f32>> {
            let shapes = [vec![t, n, 6], vec![4, n, 3], vec![4, n, 3]];
            let mut bufs: Vec<Vec<f32>> = shapes.iter().map(|s| vec![f32::NAN; numel(s)]).collect();
            let (xs, ws) = ([t, n, i], [total]);
            let ins = [
                View {
                    shape: &xs,
                    data: &x,
                },
                View {
                    shape: &ws,
                    data: &w,
                },
                View {
                    shape: state_shape,
                    data: state,
                },
                View {
                    shape: state_shape,
                    data: state,
                },
            ];
            let mut outs: Vec<ViewMut> = bufs
                .iter_mut()
                .zip(&shapes)
                .map(|(b, s)| ViewMut { shape: s, data: b })
                .collect();
            o.forward(&ins, &mut outs, &mut Scratch::default()).unwrap();
            bufs
        };
        let explicit = run(&[4, n, 3], &zeros);
        let empty = run(&[4, 0, 3], &[]);
        assert_eq!(explicit, empty);
        assert!(explicit.iter().flatten().all(|v| v.is_finite()));
    }

    #[test]
    fn sequence_length_is_a_last_input_and_projection_needs_lstm() {
        let o = op(&[
            ("mode", "gru"),
            ("state_size", "3"),
            ("num_layers", "1"),
            ("use_sequence_length", "True"),
        ]);
        let names: Vec<String> = o.inputs().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["data", "parameters", "state", "sequence_length"]);
        assert!(RnnOp::parse(
            "RNN",
            &Attrs::from_pairs(&[
                ("mode", "gru"),
                ("state_size", "3"),
                ("num_layers", "1"),
                ("projection_size", "2"),
            ]),
        )
        .is_err());
    }
}
