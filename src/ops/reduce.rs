//! Reductions, arg-reductions and sorting (spec §4.3, pitfall §5.15).
//!
//! | operator | attributes (defaults) | result |
//! |----------|-----------------------|--------|
//! | `sum` `mean` `max` `min` `prod` `nansum` `nanprod` (aliases `sum_axis`, `max_axis`, `min_axis`) | `axis=None`, `keepdims=False`, `exclude=False` | reduces over `axis` (int or tuple, negatives allowed; `None` or `()` = all axes; `exclude=True` reduces over the other axes). A full reduction has shape **(1,)**, not () |
//! | `norm` | `ord=2` (1 or 2 only), `axis=None`, `keepdims=False`, `out_dtype=None` | L1 / L2 norm over the axes, elementwise (never a matrix norm) |
//! | `argmax` `argmin` | `axis=None` (flatten), `keepdims=False` | **float** indices; ties → first; NaN counts as the extreme (first NaN wins) |
//! | `argmax_channel` | none | argmax over axis 1 |
//! | `topk` | `axis=-1` (`None` flattens), `k=1` (≤ 0: all), `ret_typ='indices'` (value, indices, both, mask), `is_ascend=False`, `dtype='float32'` | the k largest (smallest) along the axis; `both` has 2 outputs [values, indices] |
//! | `sort` / `argsort` | `axis=-1` (`None` flattens), `is_ascend=True`; argsort `dtype='float32'` | sorted values / their indices |
//!
//! Numerics follow MXNet 1.9.1's CPU kernels exactly, so that corner cases agree:
//! * sums (sum, mean, nansum, L1 norm) use f32 **Kahan** summation in row-major order; `sum`
//!   resets the compensation once the total is infinite, `nansum` does not (so
//!   `nansum([inf, 1])` is NaN in MXNet and here);
//! * `prod` multiplies in f32 (it can overflow where a wider type would not);
//! * the L2 norm uses the scaled sum of squares (`scale·sqrt(Σ(x/scale)²)`), which neither
//!   overflows nor underflows;
//! * `max`/`min` propagate NaN;
//! * `topk`/`sort`/`argsort` order rows with libstdc++'s `std::sort` (introsort) when
//!   `8·k > n`, else `std::partial_sort` (heap select), as MXNet does. Neither is stable:
//!   the order of tied values is what those algorithms produce, reproduced here step by step.

use crate::error::{fmt_shape, Error, Result};
use crate::format::attrs::Attrs;
use crate::ops::elementwise::cast_value;
use crate::ops::{resolve_axis, InputRole, Operator, Scratch};
use crate::tensor::{numel, DType, View, ViewMut};

/// Most dimensions a reduced tensor may have.
const MAX_DIMS: usize = 32;

/// Longest row `topk`/`sort` can order: indices are kept in f32 scratch, exact up to 2^24.
const MAX_SORT_LEN: usize = 1 << 24;

/// A plain (axis-set) reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    /// Sum ignoring NaN (all-NaN → 0).
    NanSum,
    /// Product ignoring NaN (all-NaN → 1).
    NanProd,
}

/// What `topk` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKReturn {
    Value,
    Indices,
    /// Two outputs: values, then indices.
    Both,
    /// The input's shape, 1 at the selected positions and 0 elsewhere.
    Mask,
}

/// A reduction-family operator with its parsed attributes.
#[derive(Debug, Clone)]
pub enum ReduceOp {
    /// `axes`: `None` (absent, "None" or "()") reduces everything.
    Reduce {
        kind: ReduceKind,
        axes: Option<Vec<i64>>,
        keepdims: bool,
        exclude: bool,
    },
    /// `ord` is 1 or 2.
    Norm {
        ord: u8,
        axes: Option<Vec<i64>>,
        keepdims: bool,
    },
    /// `argmax` (`max = true`) / `argmin`; `axis: None` flattens. `argmax_channel` (no
    /// attributes) is argmax over axis 1 without keepdims.
    ArgExtreme {
        name: &'static str,
        max: bool,
        axis: Option<i64>,
        keepdims: bool,
    },
    /// `topk`, `sort` (ret Value, k 0) and `argsort` (ret Indices, k 0). `axis: None` flattens;
    /// `k <= 0` means the whole axis. `index_dtype` emulates the `dtype` of the index output.
    TopK {
        name: &'static str,
        axis: Option<i64>,
        k: i64,
        ret: TopKReturn,
        ascending: bool,
        index_dtype: DType,
    },
}

/// Reads an `int or None` attribute whose default is an integer (`topk`'s `axis=-1`):
/// absent → `Some(default)`, `"None"` → `None`.
fn axis_or_none(attrs: &Attrs, key: &str, default: i64) -> Result<Option<i64>> {
    match attrs.raw(key) {
        None => Ok(Some(default)),
        Some(_) => attrs.opt_int(key),
    }
}

/// Reads the `dtype` of an index output (float32 by default).
fn index_dtype(attrs: &Attrs) -> Result<DType> {
    let name = attrs.choice(
        "dtype",
        &["float16", "float32", "float64", "int32", "int64", "uint8"],
        "float32",
    )?;
    DType::from_name(name).ok_or_else(|| Error::attr("dtype", name, "unknown dtype"))
}

/// Which input axes an axis-set reduction reduces (the axis rules of MXNet's
/// `ReduceAxesShapeImpl`): `None` or `()` means all of them whatever `exclude` says; listed
/// axes may be negative but not repeated or out of range; `exclude` flips the selection.
fn reduced_axes(
    op: &str,
    shape: &[usize],
    axes: Option<&[i64]>,
    exclude: bool,
) -> Result<[bool; MAX_DIMS]> {
    let nd = shape.len();
    if nd > MAX_DIMS {
        return Err(Error::shape(format!(
            "{op}: at most {MAX_DIMS} dimensions are supported"
        )));
    }
    let mut reduced = [false; MAX_DIMS];
    let axes = match axes {
        Some(a) if !a.is_empty() => a,
        _ => {
            reduced[..nd].fill(true);
            return Ok(reduced);
        }
    };
    let mut listed = [false; MAX_DIMS];
    for &a in axes {
        let r = if a < 0 { a + nd as i64 } else { a };
        if r < 0 || r >= nd as i64 {
            return Err(Error::shape(format!(
                "{op}: reduction axis {a} exceeds input dimensions {}",
                fmt_shape(shape)
            )));
        }
        if listed[r as usize] {
            return Err(Error::shape(format!(
                "{op}: reduction axes have duplicates {axes:?}"
            )));
        }
        listed[r as usize] = true;
    }
    for i in 0..nd {
        reduced[i] = listed[i] != exclude;
    }
    Ok(reduced)
}

/// The output shape of an axis-set reduction: reduced axes become 1 with `keepdims`, else they
/// are dropped, and a result with no axes left is (1,).
fn reduced_shape(shape: &[usize], reduced: &[bool; MAX_DIMS], keepdims: bool) -> Vec<usize> {
    if keepdims {
        return shape
            .iter()
            .zip(reduced)
            .map(|(&d, &r)| if r { 1 } else { d })
            .collect();
    }
    let kept: Vec<usize> = shape
        .iter()
        .zip(reduced)
        .filter(|(_, &r)| !r)
        .map(|(&d, _)| d)
        .collect();
    if kept.is_empty() {
        vec![1]
    } else {
        kept
    }
}

/// Number of output elements of an axis-set reduction (the product of the kept dims).
fn reduced_len(shape: &[usize], reduced: &[bool; MAX_DIMS]) -> usize {
    shape
        .iter()
        .zip(reduced)
        .filter(|(_, &r)| !r)
        .map(|(&d, _)| d)
        .product()
}

/// Shape of an arg-reduction / topk-style result along one axis (`None`: flattened).
fn along_axis_shape(shape: &[usize], axis: Option<usize>, keepdims: bool) -> Vec<usize> {
    match axis {
        None if keepdims => vec![1; shape.len()],
        None => vec![1],
        Some(a) if keepdims => shape
            .iter()
            .enumerate()
            .map(|(i, &d)| if i == a { 1 } else { d })
            .collect(),
        Some(a) => {
            let rest: Vec<usize> = shape
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != a)
                .map(|(_, &d)| d)
                .collect();
            if rest.is_empty() {
                vec![1]
            } else {
                rest
            }
        }
    }
}

impl ReduceOp {
    /// (outer, n, inner) around the op's single axis; `None` axis flattens to (1, size, 1).
    fn axis_layout(
        &self,
        shape: &[usize],
        axis: Option<i64>,
    ) -> Result<(Option<usize>, usize, usize, usize)> {
        match axis {
            None => Ok((None, 1, numel(shape), 1)),
            Some(a) => {
                let a = resolve_axis(a, shape.len(), self.name())?;
                Ok((
                    Some(a),
                    shape[..a].iter().product(),
                    shape[a],
                    shape[a + 1..].iter().product(),
                ))
            }
        }
    }

    /// topk's effective k for a row of `n` elements.
    fn effective_k(&self, k: i64, n: usize) -> Result<usize> {
        if k <= 0 {
            return Ok(n);
        }
        if k as u64 > n as u64 {
            return Err(Error::shape(format!(
                "{}: k must be smaller than {n}, got k = {k}",
                self.name()
            )));
        }
        Ok(k as usize)
    }
}

impl Operator for ReduceOp {
    fn parse(op: &str, attrs: &Attrs) -> Result<Option<Self>> {
        let kind = match op {
            "sum" => Some(ReduceKind::Sum),
            "mean" => Some(ReduceKind::Mean),
            "max" => Some(ReduceKind::Max),
            "min" => Some(ReduceKind::Min),
            "prod" => Some(ReduceKind::Prod),
            "nansum" => Some(ReduceKind::NanSum),
            "nanprod" => Some(ReduceKind::NanProd),
            _ => None,
        };
        if let Some(kind) = kind {
            return Ok(Some(ReduceOp::Reduce {
                kind,
                axes: attrs.ints("axis")?,
                keepdims: attrs.bool_or("keepdims", false)?,
                exclude: attrs.bool_or("exclude", false)?,
            }));
        }
        let parsed = match op {
            "norm" => {
                let ord = attrs.int_or("ord", 2)?;
                if ord != 1 && ord != 2 {
                    return Err(Error::attr(
                        "ord",
                        &ord.to_string(),
                        "norm only supports ord=1 and ord=2",
                    ));
                }
                let out_dtype = attrs.choice(
                    "out_dtype",
                    &[
                        "None", "float16", "float32", "float64", "int32", "int64", "int8",
                    ],
                    "None",
                )?;
                if out_dtype != "None" && out_dtype != "float32" {
                    // MXNet 1.9.1 itself fails at run time for these (TBlob dtype mismatch).
                    return Err(Error::Unsupported(format!(
                        "norm with out_dtype='{out_dtype}' (MXNet 1.9.1 cannot run it either)"
                    )));
                }
                ReduceOp::Norm {
                    ord: ord as u8,
                    axes: attrs.ints("axis")?,
                    keepdims: attrs.bool_or("keepdims", false)?,
                }
            }
            "argmax_channel" => ReduceOp::ArgExtreme {
                name: "argmax_channel",
                max: true,
                axis: Some(1),
                keepdims: false,
            },
            "argmax" | "argmin" => ReduceOp::ArgExtreme {
                name: if op == "argmax" { "argmax" } else { "argmin" },
                max: op == "argmax",
                axis: attrs.opt_int("axis")?,
                keepdims: attrs.bool_or("keepdims", false)?,
            },
            "topk" => ReduceOp::TopK {
                name: "topk",
                axis: axis_or_none(attrs, "axis", -1)?,
                k: attrs.int_or("k", 1)?,
                ret: match attrs.choice(
                    "ret_typ",
                    &["both", "indices", "mask", "value"],
                    "indices",
                )? {
                    "both" => TopKReturn::Both,
                    "mask" => TopKReturn::Mask,
                    "value" => TopKReturn::Value,
                    _ => TopKReturn::Indices,
                },
                ascending: attrs.bool_or("is_ascend", false)?,
                index_dtype: index_dtype(attrs)?,
            },
            "sort" => ReduceOp::TopK {
                name: "sort",
                axis: axis_or_none(attrs, "axis", -1)?,
                k: 0,
                ret: TopKReturn::Value,
                ascending: attrs.bool_or("is_ascend", true)?,
                index_dtype: DType::F32,
            },
            "argsort" => ReduceOp::TopK {
                name: "argsort",
                axis: axis_or_none(attrs, "axis", -1)?,
                k: 0,
                ret: TopKReturn::Indices,
                ascending: attrs.bool_or("is_ascend", true)?,
                index_dtype: index_dtype(attrs)?,
            },
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    fn name(&self) -> &'static str {
        match self {
            ReduceOp::Reduce { kind, .. } => match kind {
                ReduceKind::Sum => "sum",
                ReduceKind::Mean => "mean",
                ReduceKind::Max => "max",
                ReduceKind::Min => "min",
                ReduceKind::Prod => "prod",
                ReduceKind::NanSum => "nansum",
                ReduceKind::NanProd => "nanprod",
            },
            ReduceOp::Norm { .. } => "norm",
            ReduceOp::ArgExtreme { name, .. } | ReduceOp::TopK { name, .. } => name,
        }
    }

    fn inputs(&self) -> Vec<(String, InputRole)> {
        vec![("data".to_string(), InputRole::Data)]
    }

    fn num_outputs(&self) -> usize {
        match self {
            ReduceOp::TopK {
                ret: TopKReturn::Both,
                ..
            } => 2,
            _ => 1,
        }
    }

    fn infer_shape(&self, inputs: &mut [Option<Vec<usize>>]) -> Result<Vec<Vec<usize>>> {
        if inputs.len() != 1 {
            return Err(Error::shape(format!(
                "{} expects 1 input (data), got {}",
                self.name(),
                inputs.len()
            )));
        }
        let shape = inputs[0]
            .as_deref()
            .ok_or_else(|| Error::shape("the shape of input 'data' is unknown"))?;
        match self {
            ReduceOp::Reduce {
                axes,
                keepdims,
                exclude,
                ..
            } => {
                let reduced = reduced_axes(self.name(), shape, axes.as_deref(), *exclude)?;
                Ok(vec![reduced_shape(shape, &reduced, *keepdims)])
            }
            ReduceOp::Norm { axes, keepdims, .. } => {
                let reduced = reduced_axes(self.name(), shape, axes.as_deref(), false)?;
                Ok(vec![reduced_shape(shape, &reduced, *keepdims)])
            }
            ReduceOp::ArgExtreme { axis, keepdims, .. } => {
                let (axis, _, n, _) = self.axis_layout(shape, *axis)?;
                if n == 0 {
                    return Err(Error::shape(format!(
                        "{}: cannot reduce an empty axis of {}",
                        self.name(),
                        fmt_shape(shape)
                    )));
                }
                Ok(vec![along_axis_shape(shape, axis, *keepdims)])
            }
            ReduceOp::TopK { axis, k, ret, .. } => {
                let (axis, _, n, _) = self.axis_layout(shape, *axis)?;
                if n > MAX_SORT_LEN {
                    return Err(Error::Unsupported(format!(
                        "{}: rows longer than {MAX_SORT_LEN} elements are not supported",
                        self.name()
                    )));
                }
                let k = self.effective_k(*k, n)?;
                let selected = match axis {
                    None => vec![k],
                    Some(a) => shape
                        .iter()
                        .enumerate()
                        .map(|(i, &d)| if i == a { k } else { d })
                        .collect(),
                };
                Ok(match ret {
                    TopKReturn::Mask => vec![shape.to_vec()],
                    TopKReturn::Both => vec![selected.clone(), selected],
                    _ => vec![selected],
                })
            }
        }
    }

    fn forward(
        &self,
        inputs: &[View],
        outputs: &mut [ViewMut],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let x = inputs
            .first()
            .ok_or_else(|| Error::Backend(format!("{}: missing input 'data'", self.name())))?;
        if x.data.len() != numel(x.shape) {
            return Err(Error::shape(format!(
                "{}: data does not match its shape {}",
                self.name(),
                fmt_shape(x.shape)
            )));
        }
        // Checks that the planner gave buffers of the sizes infer_shape promised (without
        // allocating: forward runs on every inference).
        let check_outputs = |outputs: &[ViewMut], lens: &[usize]| -> Result<()> {
            if outputs.len() != lens.len()
                || outputs.iter().zip(lens).any(|(o, &n)| o.data.len() != n)
            {
                return Err(Error::shape(format!(
                    "{}: output buffers do not match the inferred shapes for input {}",
                    self.name(),
                    fmt_shape(x.shape)
                )));
            }
            Ok(())
        };
        match self {
            ReduceOp::Reduce {
                kind,
                axes,
                exclude,
                ..
            } => {
                let reduced = reduced_axes(self.name(), x.shape, axes.as_deref(), *exclude)?;
                check_outputs(outputs, &[reduced_len(x.shape, &reduced)])?;
                let out = &mut *outputs[0].data;
                let aux = Scratch::take(&mut scratch.a, out.len());
                match kind {
                    ReduceKind::Sum => reduce_axes::<KahanSum>(x, &reduced, out, aux),
                    ReduceKind::Mean => reduce_axes::<Mean>(x, &reduced, out, aux),
                    ReduceKind::Max => reduce_axes::<Maximum>(x, &reduced, out, aux),
                    ReduceKind::Min => reduce_axes::<Minimum>(x, &reduced, out, aux),
                    ReduceKind::Prod => reduce_axes::<Product>(x, &reduced, out, aux),
                    ReduceKind::NanSum => reduce_axes::<NanKahanSum>(x, &reduced, out, aux),
                    ReduceKind::NanProd => reduce_axes::<NanProduct>(x, &reduced, out, aux),
                }
            }
            ReduceOp::Norm { ord, axes, .. } => {
                let reduced = reduced_axes(self.name(), x.shape, axes.as_deref(), false)?;
                check_outputs(outputs, &[reduced_len(x.shape, &reduced)])?;
                let out = &mut *outputs[0].data;
                let aux = Scratch::take(&mut scratch.a, out.len());
                if *ord == 1 {
                    reduce_axes::<AbsKahanSum>(x, &reduced, out, aux)
                } else {
                    reduce_axes::<ScaledNorm2>(x, &reduced, out, aux)
                }
            }
            ReduceOp::ArgExtreme { max, axis, .. } => {
                let (_, outer, n, inner) = self.axis_layout(x.shape, *axis)?;
                check_outputs(outputs, &[outer * inner])?;
                let best = Scratch::take(&mut scratch.a, inner);
                arg_extreme(x.data, outer, n, inner, *max, best, outputs[0].data);
            }
            ReduceOp::TopK {
                axis,
                k,
                ret,
                ascending,
                index_dtype,
                ..
            } => {
                let (_, outer, n, inner) = self.axis_layout(x.shape, *axis)?;
                if n > MAX_SORT_LEN {
                    return Err(Error::Unsupported(format!(
                        "{}: rows longer than {MAX_SORT_LEN} elements",
                        self.name()
                    )));
                }
                let k = self.effective_k(*k, n)?;
                let selected = outer * k * inner;
                match ret {
                    TopKReturn::Mask => check_outputs(outputs, &[x.data.len()])?,
                    TopKReturn::Both => check_outputs(outputs, &[selected, selected])?,
                    _ => check_outputs(outputs, &[selected])?,
                }
                let spec = TopKSpec {
                    outer,
                    n,
                    inner,
                    k,
                    ret: *ret,
                    ascending: *ascending,
                    index_dtype: *index_dtype,
                };
                topk(x.data, &spec, outputs, scratch)?;
            }
        }
        Ok(())
    }

    fn is_view(&self) -> bool {
        false
    }
}

// ------------------------------------------------------------------------------------------------
// Axis-set reductions
// ------------------------------------------------------------------------------------------------

/// One of MXNet's reducers (mshadow `red::*`): per output element a value and an auxiliary
/// (the Kahan residual or the norm's scale).
trait Reducer {
    /// Initial (value, aux).
    const INIT: (f32, f32);
    fn step(value: &mut f32, aux: &mut f32, x: f32);
    /// The result from the final state; `count` is the number of reduced elements.
    fn finish(value: f32, _aux: f32, _count: usize) -> f32 {
        value
    }
}

/// `red::sum` with Kahan compensation; the residual is reset once the sum is infinite.
struct KahanSum;
impl Reducer for KahanSum {
    const INIT: (f32, f32) = (0.0, 0.0);
    #[inline(always)]
    fn step(sum: &mut f32, residual: &mut f32, x: f32) {
        let y = x - *residual;
        let t = *sum + y;
        *residual = if t.is_infinite() { 0.0 } else { (t - *sum) - y };
        *sum = t;
    }
}

/// `mean`: the Kahan sum divided by the count (in f32).
struct Mean;
impl Reducer for Mean {
    const INIT: (f32, f32) = (0.0, 0.0);
    #[inline(always)]
    fn step(sum: &mut f32, residual: &mut f32, x: f32) {
        KahanSum::step(sum, residual, x)
    }
    fn finish(sum: f32, _: f32, count: usize) -> f32 {
        sum / count as f32
    }
}

/// `red::nansum`: Kahan without the infinity reset; NaN inputs are skipped.
struct NanKahanSum;
impl Reducer for NanKahanSum {
    const INIT: (f32, f32) = (0.0, 0.0);
    #[inline(always)]
    fn step(sum: &mut f32, residual: &mut f32, x: f32) {
        if x.is_nan() {
            return;
        }
        let y = x - *residual;
        let t = *sum + y;
        *residual = (t - *sum) - y;
        *sum = t;
    }
}

/// L1 norm: Kahan sum of |x|.
struct AbsKahanSum;
impl Reducer for AbsKahanSum {
    const INIT: (f32, f32) = (0.0, 0.0);
    #[inline(always)]
    fn step(sum: &mut f32, residual: &mut f32, x: f32) {
        KahanSum::step(sum, residual, x.abs())
    }
}

/// `red::nrm2`: `scale·sqrt(Σ (|x|/scale)²)`, rescaled whenever a larger |x| arrives.
struct ScaledNorm2;
impl Reducer for ScaledNorm2 {
    const INIT: (f32, f32) = (0.0, 0.0);
    #[inline(always)]
    fn step(sum_sq: &mut f32, scale: &mut f32, x: f32) {
        if x != 0.0 {
            let a = x.abs();
            if *scale < a {
                let r = *scale / a;
                *sum_sq = 1.0 + *sum_sq * r * r;
                *scale = a;
            } else {
                let r = a / *scale;
                *sum_sq += r * r;
            }
        }
    }
    fn finish(sum_sq: f32, scale: f32, _: usize) -> f32 {
        scale * sum_sq.sqrt()
    }
}

/// `red::maximum`: once NaN, stays NaN; a NaN input wins (hence the negated comparisons).
struct Maximum;
#[allow(clippy::neg_cmp_op_on_partial_ord)]
impl Reducer for Maximum {
    const INIT: (f32, f32) = (f32::NEG_INFINITY, 0.0);
    #[inline(always)]
    fn step(m: &mut f32, _: &mut f32, x: f32) {
        if !m.is_nan() && !(*m >= x) {
            *m = x;
        }
    }
}

/// `red::minimum`: once NaN, stays NaN; a NaN input wins (hence the negated comparisons).
struct Minimum;
#[allow(clippy::neg_cmp_op_on_partial_ord)]
impl Reducer for Minimum {
    const INIT: (f32, f32) = (f32::INFINITY, 0.0);
    #[inline(always)]
    fn step(m: &mut f32, _: &mut f32, x: f32) {
        if !m.is_nan() && !(*m <= x) {
            *m = x;
        }
    }
}

struct Product;
impl Reducer for Product {
    const INIT: (f32, f32) = (1.0, 0.0);
    #[inline(always)]
    fn step(p: &mut f32, _: &mut f32, x: f32) {
        *p *= x;
    }
}

struct NanProduct;
impl Reducer for NanProduct {
    const INIT: (f32, f32) = (1.0, 0.0);
    #[inline(always)]
    fn step(p: &mut f32, _: &mut f32, x: f32) {
        if !x.is_nan() {
            *p *= x;
        }
    }
}

/// Reduces `x` over the axes flagged in `reduced` into `out` (whose length is the product of
/// the kept dims). `aux` holds one auxiliary per output element.
///
/// Adjacent axes with the same flag are merged first, so the data is a sequence of alternating
/// kept / reduced blocks. The input is then walked once in memory order, one innermost block
/// at a time: if the innermost block is kept, each run of it updates a contiguous range of
/// outputs elementwise; if it is reduced, each run folds into a single output. Every output
/// thus sees its inputs in row-major order, as MXNet's sequential reducer does.
fn reduce_axes<R: Reducer>(x: &View, reduced: &[bool; MAX_DIMS], out: &mut [f32], aux: &mut [f32]) {
    let (init_value, init_aux) = R::INIT;
    out.fill(init_value);
    aux.fill(init_aux);
    let total = x.data.len();
    if total == 0 || out.is_empty() {
        for (o, &a) in out.iter_mut().zip(aux.iter()) {
            *o = R::finish(*o, a, 0);
        }
        return;
    }
    // Merged blocks, innermost first: (extent, reduced?).
    let mut sizes = [1usize; MAX_DIMS];
    let mut is_reduced = [false; MAX_DIMS];
    let mut m = 0;
    for i in (0..x.shape.len()).rev() {
        let d = x.shape[i];
        if d == 1 {
            continue;
        }
        if m > 0 && is_reduced[m - 1] == reduced[i] {
            sizes[m - 1] *= d;
        } else {
            sizes[m] = d;
            is_reduced[m] = reduced[i];
            m += 1;
        }
    }
    let count = total / out.len();
    if m == 0 {
        // A single element.
        R::step(&mut out[0], &mut aux[0], x.data[0]);
    } else {
        // Output stride of each block (0 for reduced ones).
        let mut out_stride = [0usize; MAX_DIMS];
        let mut s = 1;
        for b in 0..m {
            if !is_reduced[b] {
                out_stride[b] = s;
                s *= sizes[b];
            }
        }
        let run = sizes[0];
        let inner_reduced = is_reduced[0];
        let mut idx = [0usize; MAX_DIMS];
        let mut out_off = 0usize;
        for chunk in x.data.chunks_exact(run) {
            if inner_reduced {
                let (v, a) = (&mut out[out_off], &mut aux[out_off]);
                for &val in chunk {
                    R::step(v, a, val);
                }
            } else {
                let lanes = out[out_off..out_off + run]
                    .iter_mut()
                    .zip(aux[out_off..out_off + run].iter_mut());
                for ((v, a), &val) in lanes.zip(chunk) {
                    R::step(v, a, val);
                }
            }
            // Advance the odometer over blocks 1..m.
            for b in 1..m {
                idx[b] += 1;
                out_off += out_stride[b];
                if idx[b] < sizes[b] {
                    break;
                }
                out_off -= out_stride[b] * sizes[b];
                idx[b] = 0;
            }
        }
    }
    for (o, &a) in out.iter_mut().zip(aux.iter()) {
        *o = R::finish(*o, a, count);
    }
}

/// argmax / argmin over the middle axis of (outer, n, inner): the first index holding the
/// extreme, where NaN beats everything (MXNet keeps the first NaN it meets). Indices are
/// written as floats. `best` is scratch of `inner` values.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(b >= v)` is true for NaN `v`, as in MXNet
fn arg_extreme(
    x: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    max: bool,
    best: &mut [f32],
    out: &mut [f32],
) {
    if n == 0 || inner == 0 {
        return;
    }
    for (block, out_block) in x
        .chunks_exact(n * inner)
        .zip(out.chunks_exact_mut(inner))
        .take(outer)
    {
        best.copy_from_slice(&block[..inner]);
        out_block.fill(0.0);
        for (k, row) in block.chunks_exact(inner).enumerate().skip(1) {
            for ((b, o), &v) in best.iter_mut().zip(out_block.iter_mut()).zip(row) {
                let replace = if max { !(*b >= v) } else { !(*b <= v) };
                if !b.is_nan() && replace {
                    *b = v;
                    *o = k as f32;
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// topk / sort / argsort
// ------------------------------------------------------------------------------------------------

struct TopKSpec {
    outer: usize,
    n: usize,
    inner: usize,
    k: usize,
    ret: TopKReturn,
    ascending: bool,
    index_dtype: DType,
}

/// MXNet's CPU `TopKSort` for every row along the axis: indices 0..n are ordered by value with
/// `std::sort` when `8k > n`, else `std::partial_sort` of the first k; comparisons are `>`
/// (descending) or `<` (ascending) on the values.
fn topk(x: &[f32], spec: &TopKSpec, outputs: &mut [ViewMut], scratch: &mut Scratch) -> Result<()> {
    let TopKSpec {
        outer,
        n,
        inner,
        k,
        ret,
        ascending,
        index_dtype,
    } = *spec;
    if n == 0 || inner == 0 || outer == 0 {
        return Ok(());
    }
    if let TopKReturn::Mask = ret {
        outputs[0].data.fill(0.0);
    }
    let full_sort = k * 8 > n;
    let row_values = Scratch::take(&mut scratch.a, if inner == 1 { 0 } else { n });
    let order = Scratch::take(&mut scratch.b, n);
    for o in 0..outer {
        for j in 0..inner {
            // The row's values, gathered when the axis is not the innermost one.
            let values: &[f32] = if inner == 1 {
                &x[o * n..(o + 1) * n]
            } else {
                for (t, v) in row_values.iter_mut().enumerate() {
                    *v = x[o * n * inner + t * inner + j];
                }
                row_values
            };
            for (t, slot) in order.iter_mut().enumerate() {
                *slot = t as f32;
            }
            let value_of = |i: f32| values[i as usize];
            if ascending {
                let less = |a: f32, b: f32| value_of(a) < value_of(b);
                if full_sort {
                    libstdcxx::sort(order, &less);
                } else {
                    libstdcxx::partial_sort(order, k, &less);
                }
            } else {
                let less = |a: f32, b: f32| value_of(a) > value_of(b);
                if full_sort {
                    libstdcxx::sort(order, &less);
                } else {
                    libstdcxx::partial_sort(order, k, &less);
                }
            }
            let selected = &order[..k];
            // Position t of the selected axis in an output of shape (outer, k, inner).
            let at = |t: usize| o * k * inner + t * inner + j;
            match ret {
                TopKReturn::Value => {
                    for (t, &i) in selected.iter().enumerate() {
                        outputs[0].data[at(t)] = value_of(i);
                    }
                }
                TopKReturn::Indices => {
                    for (t, &i) in selected.iter().enumerate() {
                        outputs[0].data[at(t)] = cast_value(i, index_dtype);
                    }
                }
                TopKReturn::Both => {
                    for (t, &i) in selected.iter().enumerate() {
                        outputs[0].data[at(t)] = value_of(i);
                        outputs[1].data[at(t)] = cast_value(i, index_dtype);
                    }
                }
                TopKReturn::Mask => {
                    for &i in selected {
                        outputs[0].data[o * n * inner + i as usize * inner + j] = 1.0;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Step-by-step ports of libstdc++'s `std::sort` and `std::partial_sort` (bits/stl_algo.h,
/// bits/stl_heap.h), which MXNet's CPU topk uses: reproducing them is the only way to order
/// tied values as MXNet does. `less` must be the comparator MXNet passes. Where libstdc++ relies
/// on sentinels that an inconsistent comparator (NaN values) can break, bounds checks are added;
/// they never trigger for a strict weak order.
mod libstdcxx {
    /// `_S_threshold`: ranges up to this size are left to the final insertion sort.
    const THRESHOLD: usize = 16;

    pub fn sort<T: Copy>(v: &mut [T], less: &impl Fn(T, T) -> bool) {
        let n = v.len();
        if n < 2 {
            return;
        }
        let depth_limit = 2 * (usize::BITS - 1 - n.leading_zeros()) as usize;
        introsort_loop(v, 0, n, depth_limit, less);
        final_insertion_sort(v, less);
    }

    /// Sorts the first `middle` elements of `v` (the smallest by `less`); the rest are left in
    /// heap-select order.
    pub fn partial_sort<T: Copy>(v: &mut [T], middle: usize, less: &impl Fn(T, T) -> bool) {
        let middle = middle.min(v.len());
        if middle == 0 {
            return;
        }
        heap_select(v, middle, less);
        sort_heap(&mut v[..middle], less);
    }

    fn introsort_loop<T: Copy>(
        v: &mut [T],
        first: usize,
        mut last: usize,
        mut depth_limit: usize,
        less: &impl Fn(T, T) -> bool,
    ) {
        while last - first > THRESHOLD {
            if depth_limit == 0 {
                let range = &mut v[first..last];
                let len = range.len();
                partial_sort(range, len, less);
                return;
            }
            depth_limit -= 1;
            let cut = unguarded_partition_pivot(v, first, last, less);
            introsort_loop(v, cut, last, depth_limit, less);
            last = cut;
        }
    }

    fn unguarded_partition_pivot<T: Copy>(
        v: &mut [T],
        first: usize,
        last: usize,
        less: &impl Fn(T, T) -> bool,
    ) -> usize {
        let mid = first + (last - first) / 2;
        move_median_to_first(v, first, first + 1, mid, last - 1, less);
        unguarded_partition(v, first + 1, last, first, less)
    }

    fn move_median_to_first<T: Copy>(
        v: &mut [T],
        result: usize,
        a: usize,
        b: usize,
        c: usize,
        less: &impl Fn(T, T) -> bool,
    ) {
        let (va, vb, vc) = (v[a], v[b], v[c]);
        let median = if less(va, vb) {
            if less(vb, vc) {
                b
            } else if less(va, vc) {
                c
            } else {
                a
            }
        } else if less(va, vc) {
            a
        } else if less(vb, vc) {
            c
        } else {
            b
        };
        v.swap(result, median);
    }

    /// Hoare partition of `[first, last)` around the value at `pivot` (which sits just before).
    fn unguarded_partition<T: Copy>(
        v: &mut [T],
        mut first: usize,
        mut last: usize,
        pivot: usize,
        less: &impl Fn(T, T) -> bool,
    ) -> usize {
        let end = last;
        loop {
            while first < end && less(v[first], v[pivot]) {
                first += 1;
            }
            last -= 1;
            while last > pivot && less(v[pivot], v[last]) {
                last -= 1;
            }
            if first >= last {
                return first;
            }
            v.swap(first, last);
            first += 1;
        }
    }

    fn final_insertion_sort<T: Copy>(v: &mut [T], less: &impl Fn(T, T) -> bool) {
        if v.len() > THRESHOLD {
            insertion_sort(&mut v[..THRESHOLD], less);
            for i in THRESHOLD..v.len() {
                unguarded_linear_insert(v, i, less);
            }
        } else {
            insertion_sort(v, less);
        }
    }

    fn insertion_sort<T: Copy>(v: &mut [T], less: &impl Fn(T, T) -> bool) {
        for i in 1..v.len() {
            let val = v[i];
            if less(val, v[0]) {
                v.copy_within(0..i, 1);
                v[0] = val;
            } else {
                unguarded_linear_insert(v, i, less);
            }
        }
    }

    fn unguarded_linear_insert<T: Copy>(
        v: &mut [T],
        mut last: usize,
        less: &impl Fn(T, T) -> bool,
    ) {
        let val = v[last];
        while last > 0 && less(val, v[last - 1]) {
            v[last] = v[last - 1];
            last -= 1;
        }
        v[last] = val;
    }

    fn heap_select<T: Copy>(v: &mut [T], middle: usize, less: &impl Fn(T, T) -> bool) {
        make_heap(&mut v[..middle], less);
        for i in middle..v.len() {
            if less(v[i], v[0]) {
                pop_heap(v, middle, i, less);
            }
        }
    }

    fn make_heap<T: Copy>(h: &mut [T], less: &impl Fn(T, T) -> bool) {
        let len = h.len();
        if len < 2 {
            return;
        }
        let mut parent = (len - 2) / 2;
        loop {
            let value = h[parent];
            adjust_heap(h, parent, len, value, less);
            if parent == 0 {
                return;
            }
            parent -= 1;
        }
    }

    /// Moves the heap top to `result` and re-heaps `v[..len]` with `v[result]`'s old value.
    fn pop_heap<T: Copy>(v: &mut [T], len: usize, result: usize, less: &impl Fn(T, T) -> bool) {
        let value = v[result];
        v[result] = v[0];
        adjust_heap(&mut v[..len], 0, len, value, less);
    }

    fn sort_heap<T: Copy>(h: &mut [T], less: &impl Fn(T, T) -> bool) {
        let mut last = h.len();
        while last > 1 {
            last -= 1;
            pop_heap(h, last, last, less);
        }
    }

    fn adjust_heap<T: Copy>(
        h: &mut [T],
        mut hole: usize,
        len: usize,
        value: T,
        less: &impl Fn(T, T) -> bool,
    ) {
        let top = hole;
        let mut child = hole;
        while child < (len - 1) / 2 {
            child = 2 * (child + 1);
            if less(h[child], h[child - 1]) {
                child -= 1;
            }
            h[hole] = h[child];
            hole = child;
        }
        if len % 2 == 0 && child == (len - 2) / 2 {
            child = 2 * (child + 1);
            h[hole] = h[child - 1];
            hole = child - 1;
        }
        push_heap(h, hole, top, value, less);
    }

    fn push_heap<T: Copy>(
        h: &mut [T],
        mut hole: usize,
        top: usize,
        value: T,
        less: &impl Fn(T, T) -> bool,
    ) {
        while hole > top {
            let parent = (hole - 1) / 2;
            if !less(h[parent], value) {
                break;
            }
            h[hole] = h[parent];
            hole = parent;
        }
        h[hole] = value;
    }
}

// ------------------------------------------------------------------------------------------------
// Tests (expected values from MXNet 1.9.1 unless noted)
// ------------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::excessive_precision)] // expected values are pasted from MXNet's printout
mod tests {
    use super::*;

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    fn parse(op: &str, pairs: &[(&str, &str)]) -> Result<ReduceOp> {
        let attrs = Attrs::from_pairs(pairs);
        let parsed = ReduceOp::parse(op, &attrs)?.expect("op of this family");
        attrs.finish()?;
        Ok(parsed)
    }

    fn shape_of(op: &str, pairs: &[(&str, &str)], shape: &[usize]) -> Result<Vec<usize>> {
        parse(op, pairs)?
            .infer_shape(&mut [Some(shape.to_vec())])
            .map(|mut v| v.remove(0))
    }

    fn run_all(op: &ReduceOp, shape: &[usize], data: &[f32]) -> Vec<(Vec<usize>, Vec<f32>)> {
        let out_shapes = op.infer_shape(&mut [Some(shape.to_vec())]).unwrap();
        let mut bufs: Vec<Vec<f32>> = out_shapes
            .iter()
            .map(|s| vec![f32::NAN; numel(s)])
            .collect();
        let mut outs: Vec<ViewMut> = bufs
            .iter_mut()
            .zip(&out_shapes)
            .map(|(b, s)| ViewMut { shape: s, data: b })
            .collect();
        op.forward(&[View { shape, data }], &mut outs, &mut Scratch::default())
            .unwrap();
        out_shapes.into_iter().zip(bufs).collect()
    }

    fn run(
        op: &str,
        pairs: &[(&str, &str)],
        shape: &[usize],
        data: &[f32],
    ) -> (Vec<usize>, Vec<f32>) {
        run_all(&parse(op, pairs).unwrap(), shape, data).remove(0)
    }

    fn assert_same(got: &[f32], want: &[f32]) {
        let same = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g == w || (g.is_nan() && w.is_nan()));
        assert!(same, "\n got {got:?}\nwant {want:?}");
    }

    fn arange(n: usize) -> Vec<f32> {
        (0..n).map(|v| v as f32).collect()
    }

    #[test]
    fn reduction_shapes() {
        let s = [2, 3, 4];
        type AttrList<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(AttrList, &[usize])] = &[
            (&[], &[1]),
            (&[("axis", "()")], &[1]),
            (&[("axis", "None")], &[1]),
            (&[("axis", "1")], &[2, 4]),
            (&[("axis", "-1")], &[2, 3]),
            (&[("axis", "(0, 2)")], &[3]),
            (&[("axis", "(2, 0)")], &[3]),
            (&[("axis", "1"), ("keepdims", "True")], &[2, 1, 4]),
            (&[("keepdims", "True")], &[1, 1, 1]),
            (&[("axis", "1"), ("exclude", "True")], &[3]),
            (&[("axis", "(0, 2)"), ("exclude", "True")], &[2, 4]),
            (
                &[("axis", "1"), ("exclude", "True"), ("keepdims", "True")],
                &[1, 3, 1],
            ),
            (&[("exclude", "True")], &[1]),
            (&[("axis", "()"), ("exclude", "True")], &[1]),
            (&[("axis", "(0, 1, 2)"), ("exclude", "True")], &[2, 3, 4]),
            (&[("axis", "(0, 1, 2)")], &[1]),
        ];
        for (attrs, want) in cases {
            assert_eq!(shape_of("sum", attrs, &s).unwrap(), *want, "{attrs:?}");
        }
        assert_eq!(shape_of("sum", &[("axis", "0")], &[5]).unwrap(), [1]);
        for bad in ["(1, 1)", "(1, -2)", "3", "-4"] {
            let e = shape_of("sum", &[("axis", bad)], &s)
                .unwrap_err()
                .to_string();
            assert!(e.contains("axis") || e.contains("axes"), "{bad}: {e}");
        }
        assert!(parse("sum", &[("axis", "(1, None)")]).is_err());
        assert!(parse("mean", &[("keepdims", "maybe")]).is_err());
        assert!(parse("max", &[("ord", "1")]).is_err());
    }

    #[test]
    fn reduction_values() {
        let x = arange(24);
        let s = [2, 3, 4];
        assert_same(&run("sum", &[], &s, &x).1, &[276.0]);
        assert_same(
            &run("sum", &[("axis", "1")], &s, &x).1,
            &[12., 15., 18., 21., 48., 51., 54., 57.],
        );
        assert_same(
            &run("sum", &[("axis", "(0, 2)")], &s, &x).1,
            &[60., 92., 124.],
        );
        assert_same(
            &run("sum", &[("axis", "1"), ("exclude", "True")], &s, &x).1,
            &[60., 92., 124.],
        );
        assert_same(
            &run("sum", &[("axis", "-1")], &s, &x).1,
            &[6., 22., 38., 54., 70., 86.],
        );
        assert_same(
            &run("sum", &[("axis", "0")], &s, &x).1,
            &(12..24).map(|v| (2 * v - 12) as f32).collect::<Vec<_>>(),
        );
        assert_same(
            &run("sum", &[("axis", "(0, 1, 2)"), ("exclude", "True")], &s, &x).1,
            &x,
        );
        assert_same(
            &run("mean", &[("axis", "(0, 1)")], &s, &x).1,
            &[10., 11., 12., 13.],
        );
        assert_same(
            &run("max", &[("axis", "1")], &s, &x).1,
            &[8., 9., 10., 11., 20., 21., 22., 23.],
        );
        assert_same(
            &run("min", &[("axis", "2"), ("keepdims", "True")], &s, &x).1,
            &[0., 4., 8., 12., 16., 20.],
        );
        assert_same(
            &run("prod", &[("axis", "1")], &[2, 2], &[1.5, 2.0, -3.0, 4.0]).1,
            &[3.0, -12.0],
        );
        // Size-1 dims and a (1,)-shaped result for a 1-D input.
        assert_same(
            &run("sum", &[("axis", "1")], &[2, 1, 3], &arange(6)).1,
            &[0., 1., 2., 3., 4., 5.],
        );
        assert_eq!(
            run("sum", &[], &[3], &[1.0, 2.0, 3.0]),
            (vec![1], vec![6.0])
        );
    }

    #[test]
    fn reductions_follow_mxnet_numerics() {
        // Kahan summation: [1e8] + [1]*100 = 100000096 (naive f32 gives 1e8); [1, 1e8, -1e8] = 0.
        let mut big = vec![1e8f32];
        big.extend(std::iter::repeat(1.0).take(100));
        assert_same(&run("sum", &[], &[101], &big).1, &[100000096.0]);
        assert_same(
            &run("sum", &[("axis", "0")], &[101, 1], &big).1,
            &[100000096.0],
        );
        assert_same(&run("mean", &[], &[101], &big).1, &[990099.94]);
        assert_same(&run("sum", &[], &[3], &[1.0, 1e8, -1e8]).1, &[0.0]);
        // Infinities: sum([3e38,3e38,-3e38]) = inf, sum([inf,-inf]) = nan; nansum([inf,1]) = nan
        // but nansum([1,inf]) = inf; prod overflows in f32.
        assert_same(&run("sum", &[], &[3], &[3e38, 3e38, -3e38]).1, &[INF]);
        assert_same(&run("sum", &[], &[2], &[INF, -INF]).1, &[NAN]);
        assert_same(&run("nansum", &[], &[2], &[INF, 1.0]).1, &[NAN]);
        assert_same(&run("nansum", &[], &[2], &[1.0, INF]).1, &[INF]);
        assert_same(&run("prod", &[], &[3], &[1e30, 1e30, 1e-30]).1, &[INF]);
        // MXNet on rows [1,3,3,2], [nan,1,nan,5], [2,2,2,2], [-inf]*4 along axis 1.
        let y = [
            1.0, 3.0, 3.0, 2.0, NAN, 1.0, NAN, 5.0, 2.0, 2.0, 2.0, 2.0, -INF, -INF, -INF, -INF,
        ];
        let along = |op: &str| run(op, &[("axis", "1")], &[4, 4], &y).1;
        assert_same(&along("max"), &[3.0, NAN, 2.0, -INF]);
        assert_same(&along("min"), &[1.0, NAN, 2.0, -INF]);
        assert_same(&along("sum"), &[9.0, NAN, 8.0, -INF]);
        assert_same(&along("nansum"), &[9.0, 6.0, 8.0, NAN]);
        assert_same(&along("nanprod"), &[18.0, 5.0, 16.0, INF]);
        assert_same(&along("prod"), &[18.0, NAN, 16.0, INF]);
        assert_same(&along("mean"), &[2.25, NAN, 2.0, -INF]);
        assert_same(&run("nansum", &[], &[2], &[NAN, NAN]).1, &[0.0]);
        assert_same(&run("nanprod", &[], &[1], &[NAN]).1, &[1.0]);
    }

    #[test]
    fn norms() {
        assert_eq!(shape_of("norm", &[], &[2, 3, 4]).unwrap(), [1]);
        assert_eq!(
            shape_of(
                "norm",
                &[("axis", "(0, 2)"), ("keepdims", "True")],
                &[2, 3, 4]
            )
            .unwrap(),
            [1, 3, 1]
        );
        assert_eq!(
            shape_of("norm", &[("axis", "-1"), ("keepdims", "True")], &[2, 3, 4]).unwrap(),
            [2, 3, 1]
        );
        let y = [1.0, 3.0, 3.0, 2.0];
        assert_same(&run("norm", &[], &[4], &y).1, &[4.7958317]);
        assert_same(&run("norm", &[("ord", "1")], &[4], &y).1, &[9.0]);
        let m = [-1.0, 2.0, 3.0, -4.0];
        assert_same(
            &run("norm", &[("ord", "1"), ("axis", "1")], &[2, 2], &m).1,
            &[3.0, 7.0],
        );
        assert_same(
            &run("norm", &[("ord", "1"), ("axis", "(0, 1)")], &[2, 2], &m).1,
            &[10.0],
        );
        assert_same(
            &run("norm", &[("axis", "(0, 1)")], &[2, 2], &m).1,
            &[5.477226],
        );
        // The scaled algorithm neither overflows nor underflows, and matches MXNet bit for bit.
        assert_same(&run("norm", &[], &[2], &[3e19, 4e19]).1, &[5e19]);
        assert_same(&run("norm", &[], &[2], &[3e-30, 4e-30]).1, &[5e-30]);
        assert_same(&run("norm", &[], &[7], &[0.1; 7]).1, &[0.26457512]);
        assert_same(&run("norm", &[], &[2], &[NAN, 1.0]).1, &[NAN]);
        assert_same(&run("norm", &[], &[2], &[INF, 1.0]).1, &[INF]);
        assert!(parse("norm", &[("ord", "3")]).is_err());
        assert!(parse("norm", &[("ord", "0")]).is_err());
        assert!(parse("norm", &[("out_dtype", "float32")]).is_ok());
        assert!(matches!(
            parse("norm", &[("out_dtype", "int32")]),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn argmax_and_argmin() {
        assert_eq!(shape_of("argmax", &[], &[2, 3, 4]).unwrap(), [1]);
        assert_eq!(
            shape_of("argmax", &[("keepdims", "True")], &[2, 3, 4]).unwrap(),
            [1, 1, 1]
        );
        assert_eq!(
            shape_of("argmax", &[("axis", "1")], &[2, 3, 4]).unwrap(),
            [2, 4]
        );
        assert_eq!(
            shape_of(
                "argmax",
                &[("axis", "-1"), ("keepdims", "True")],
                &[2, 3, 4]
            )
            .unwrap(),
            [2, 3, 1]
        );
        assert_eq!(shape_of("argmin", &[("axis", "0")], &[5]).unwrap(), [1]);
        let e = shape_of("argmax", &[("axis", "3")], &[2, 3, 4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("axis 3"), "{e}");
        // MXNet: rows [1,3,3,2], [nan,1,nan,5], [2,2,2,2], [-inf]*4.
        let y = [
            1.0, 3.0, 3.0, 2.0, NAN, 1.0, NAN, 5.0, 2.0, 2.0, 2.0, 2.0, -INF, -INF, -INF, -INF,
        ];
        assert_same(
            &run("argmax", &[("axis", "1")], &[4, 4], &y).1,
            &[1.0, 0.0, 0.0, 0.0],
        );
        assert_same(
            &run("argmin", &[("axis", "1")], &[4, 4], &y).1,
            &[0.0, 0.0, 0.0, 0.0],
        );
        assert_same(&run("argmax", &[], &[4, 4], &y).1, &[4.0]);
        assert_same(&run("argmax", &[], &[4], &[1.0, NAN, 5.0, NAN]).1, &[1.0]);
        assert_same(&run("argmin", &[], &[3], &[1.0, NAN, -5.0]).1, &[1.0]);
        // argmax_channel is argmax over axis 1 (MXNet: [[0,1,2],[3,5,5]] → [2,1]; (2,3,4) → (2,4)).
        assert_same(
            &run(
                "argmax_channel",
                &[],
                &[2, 3],
                &[0.0, 1.0, 2.0, 3.0, 5.0, 5.0],
            )
            .1,
            &[2.0, 1.0],
        );
        assert_eq!(shape_of("argmax_channel", &[], &[2, 3, 4]).unwrap(), [2, 4]);
        assert!(shape_of("argmax_channel", &[], &[4]).is_err());
        assert!(parse("argmax_channel", &[("axis", "0")]).is_err());
        // Along a middle axis.
        let x = [0.0, 5.0, 9.0, 1.0, 2.0, 7.0, -1.0, 4.0];
        assert_same(
            &run("argmax", &[("axis", "1")], &[2, 2, 2], &x).1,
            &[1.0, 0.0, 0.0, 0.0],
        );
        assert_same(
            &run("argmin", &[("axis", "0")], &[2, 2, 2], &x).1,
            &[0.0, 0.0, 1.0, 0.0],
        );
    }

    #[test]
    fn topk_shapes_and_attrs() {
        assert_eq!(shape_of("topk", &[], &[2, 3, 4]).unwrap(), [2, 3, 1]);
        assert_eq!(
            shape_of("topk", &[("k", "2"), ("axis", "None")], &[2, 3, 4]).unwrap(),
            [2]
        );
        assert_eq!(
            shape_of("topk", &[("k", "2"), ("axis", "1")], &[2, 3, 4]).unwrap(),
            [2, 2, 4]
        );
        assert_eq!(
            shape_of("topk", &[("k", "0")], &[2, 3, 4]).unwrap(),
            [2, 3, 4]
        );
        assert_eq!(
            shape_of("topk", &[("k", "-1")], &[2, 3, 4]).unwrap(),
            [2, 3, 4]
        );
        assert_eq!(
            shape_of("topk", &[("k", "0"), ("axis", "None")], &[2, 3, 4]).unwrap(),
            [24]
        );
        assert_eq!(
            shape_of("topk", &[("k", "2"), ("ret_typ", "mask")], &[2, 3, 4]).unwrap(),
            [2, 3, 4]
        );
        let both = parse("topk", &[("k", "2"), ("ret_typ", "both")]).unwrap();
        assert_eq!(both.num_outputs(), 2);
        assert_eq!(
            both.infer_shape(&mut [Some(vec![2, 3, 4])]).unwrap(),
            vec![vec![2, 3, 2], vec![2, 3, 2]]
        );
        let e = shape_of("topk", &[("k", "7")], &[2, 6])
            .unwrap_err()
            .to_string();
        assert!(e.contains("k = 7"), "{e}");
        assert!(parse("topk", &[("ret_typ", "values")]).is_err());
        assert!(parse("topk", &[("dtype", "int8")]).is_err());
        assert_eq!(shape_of("sort", &[("axis", "None")], &[2, 3]).unwrap(), [6]);
        assert_eq!(shape_of("argsort", &[], &[2, 3]).unwrap(), [2, 3]);
        assert!(parse("sort", &[("dtype", "int32")]).is_err());
    }

    #[test]
    fn topk_values_ties_and_nan_like_mxnet() {
        let x = [3.0, 1.0, 3.0, 2.0, 1.0, NAN, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0];
        let topk = |pairs: &[(&str, &str)]| run_all(&parse("topk", pairs).unwrap(), &[2, 6], &x);
        assert_same(&topk(&[("k", "3")])[0].1, &[0., 2., 3., 0., 1., 2.]);
        assert_same(
            &topk(&[("k", "3"), ("is_ascend", "True")])[0].1,
            &[1., 4., 3., 0., 1., 2.],
        );
        assert_same(
            &topk(&[("k", "3"), ("ret_typ", "value")])[0].1,
            &[3., 3., 2., 5., 5., 5.],
        );
        let both = topk(&[("k", "3"), ("ret_typ", "both")]);
        assert_same(&both[0].1, &[3., 3., 2., 5., 5., 5.]);
        assert_same(&both[1].1, &[0., 2., 3., 0., 1., 2.]);
        assert_same(
            &topk(&[("k", "2"), ("ret_typ", "mask")])[0].1,
            &[1., 0., 1., 0., 0., 0., 1., 1., 0., 0., 0., 0.],
        );
        assert_same(
            &topk(&[("k", "6")])[0].1,
            &[0., 2., 3., 1., 4., 5., 0., 1., 2., 3., 4., 5.],
        );
        assert_same(
            &topk(&[("k", "0")])[0].1,
            &[0., 2., 3., 1., 4., 5., 0., 1., 2., 3., 4., 5.],
        );
        // Flattened: the NaN breaks std::sort's ordering exactly as in MXNet ([6, 0, 2]).
        assert_same(&topk(&[("k", "3"), ("axis", "None")])[0].1, &[6., 0., 2.]);
        // Along axis 0.
        let r = run(
            "topk",
            &[("k", "1"), ("axis", "0"), ("ret_typ", "value")],
            &[2, 6],
            &x,
        );
        assert_eq!(r.0, [1, 6]);
        assert_same(&r.1, &[5., 5., 5., 5., 5., NAN]);
    }

    #[test]
    fn sort_and_argsort_like_mxnet() {
        let y = [2.0, 1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 0.0];
        assert_same(
            &run("sort", &[], &[8], &y).1,
            &[0., 1., 1., 1., 2., 2., 2., 3.],
        );
        assert_same(
            &run("argsort", &[], &[8], &y).1,
            &[7., 1., 3., 5., 0., 2., 6., 4.],
        );
        assert_same(
            &run("argsort", &[("is_ascend", "False")], &[8], &y).1,
            &[4., 0., 2., 6., 1., 3., 5., 7.],
        );
        assert_same(
            &run("topk", &[("k", "8")], &[8], &y).1,
            &[4., 0., 2., 6., 1., 3., 5., 7.],
        );
        // 40 elements: introsort is not stable. MXNet: argsort([0.5]*20 + [0.25]*20).
        let mut z = vec![0.5f32; 20];
        z.extend(std::iter::repeat(0.25).take(20));
        let want_asc = [
            30., 21., 22., 23., 24., 25., 26., 27., 28., 29., 20., 31., 32., 33., 34., 35., 36.,
            37., 38., 39., 10., 1., 2., 3., 4., 5., 6., 7., 8., 9., 0., 11., 12., 13., 14., 15.,
            16., 17., 18., 19.,
        ];
        assert_same(&run("argsort", &[], &[40], &z).1, &want_asc);
        let want_desc = [
            1., 0., 19., 18., 17., 16., 15., 14., 13., 12., 11., 9., 8., 7., 6., 5., 4., 3., 2.,
            10., 30., 31., 32., 33., 34., 35., 36., 37., 38., 39., 29., 28., 27., 26., 25., 24.,
            23., 22., 21., 20.,
        ];
        assert_same(&run("topk", &[("k", "40")], &[40], &z).1, &want_desc);
        // Index dtypes: uint8 wraps, float16 rounds (MXNet: [43 42 41], [3000 2998 2996]).
        assert_same(
            &run(
                "topk",
                &[("k", "3"), ("dtype", "uint8")],
                &[300],
                &arange(300),
            )
            .1,
            &[43., 42., 41.],
        );
        assert_same(
            &run(
                "topk",
                &[("k", "3"), ("dtype", "float16")],
                &[3000],
                &arange(3000),
            )
            .1,
            &[3000., 2998., 2996.],
        );
        assert_same(
            &run(
                "argsort",
                &[("is_ascend", "False"), ("dtype", "uint8")],
                &[300],
                &arange(300),
            )
            .1[..3],
            &[43., 42., 41.],
        );
    }

    #[test]
    fn libstdcxx_sort_is_a_correct_sort() {
        // Pseudo-random data with many ties; compare the multiset order with a reference sort.
        let mut seed = 12345u32;
        for n in [0usize, 1, 2, 5, 16, 17, 33, 100, 1000] {
            let vals: Vec<f32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
                    ((seed >> 16) % 13) as f32
                })
                .collect();
            let less = |a: usize, b: usize| vals[a] < vals[b];
            let mut idx: Vec<usize> = (0..n).collect();
            libstdcxx::sort(&mut idx, &less);
            let mut want = vals.clone();
            want.sort_by(|a, b| a.partial_cmp(b).unwrap());
            assert_eq!(
                idx.iter().map(|&i| vals[i]).collect::<Vec<_>>(),
                want,
                "sort n={n}"
            );
            for k in [1usize, 3, n / 2] {
                let mut idx: Vec<usize> = (0..n).collect();
                libstdcxx::partial_sort(&mut idx, k, &less);
                let k = k.min(n);
                assert_eq!(
                    idx[..k].iter().map(|&i| vals[i]).collect::<Vec<_>>(),
                    want[..k],
                    "partial n={n} k={k}"
                );
            }
        }
    }
}
