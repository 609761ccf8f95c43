//! Dense tensors.
//!
//! All computation happens in `f32` (see README, "dtypes"): parameters stored as f16, bf16, f64 or
//! integers are converted once when the model is loaded. [`DType`] records what a file held so
//! `inspect` can report it and the params writer can round-trip it.

use crate::error::{fmt_shape, Error, Result};

/// Element types of MXNet's NDArray files (mshadow `TypeFlag`, spec §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    F16,
    U8,
    I32,
    I8,
    I64,
    Bool,
    I16,
    U16,
    U32,
    U64,
    BF16,
}

impl DType {
    /// Decodes mshadow's `type_flag`.
    pub fn from_flag(flag: i32) -> Option<DType> {
        Some(match flag {
            0 => DType::F32,
            1 => DType::F64,
            2 => DType::F16,
            3 => DType::U8,
            4 => DType::I32,
            5 => DType::I8,
            6 => DType::I64,
            7 => DType::Bool,
            8 => DType::I16,
            9 => DType::U16,
            10 => DType::U32,
            11 => DType::U64,
            12 => DType::BF16,
            _ => return None,
        })
    }

    /// mshadow's `type_flag` for this dtype.
    pub fn flag(self) -> i32 {
        match self {
            DType::F32 => 0,
            DType::F64 => 1,
            DType::F16 => 2,
            DType::U8 => 3,
            DType::I32 => 4,
            DType::I8 => 5,
            DType::I64 => 6,
            DType::Bool => 7,
            DType::I16 => 8,
            DType::U16 => 9,
            DType::U32 => 10,
            DType::U64 => 11,
            DType::BF16 => 12,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 | DType::Bool => 1,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 => 8,
        }
    }

    /// The name MXNet/numpy uses.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I8 => "int8",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::I16 => "int16",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::BF16 => "bfloat16",
        }
    }

    /// Parses a dtype name as written in operator attributes (`Cast(dtype='int32')`).
    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "float32" => DType::F32,
            "float64" => DType::F64,
            "float16" => DType::F16,
            "uint8" => DType::U8,
            "int32" => DType::I32,
            "int8" => DType::I8,
            "int64" => DType::I64,
            "bool" => DType::Bool,
            "int16" => DType::I16,
            "uint16" => DType::U16,
            "uint32" => DType::U32,
            "uint64" => DType::U64,
            "bfloat16" => DType::BF16,
            _ => return None,
        })
    }

    /// Decodes little-endian raw bytes of this dtype into f32 values.
    /// `bytes.len()` must be a multiple of [`DType::size`].
    pub fn decode_to_f32(self, bytes: &[u8], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(bytes.len() / self.size());
        macro_rules! each {
            ($n:expr, $conv:expr) => {
                for c in bytes.chunks_exact($n) {
                    out.push($conv(c));
                }
            };
        }
        match self {
            DType::F32 => each!(4, |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::F64 => each!(8, |c: &[u8]| f64::from_le_bytes(c.try_into().unwrap())
                as f32),
            DType::F16 => each!(2, |c: &[u8]| half::f16::from_le_bytes([c[0], c[1]])
                .to_f32()),
            DType::BF16 => each!(2, |c: &[u8]| half::bf16::from_le_bytes([c[0], c[1]])
                .to_f32()),
            DType::U8 => each!(1, |c: &[u8]| c[0] as f32),
            DType::I8 => each!(1, |c: &[u8]| c[0] as i8 as f32),
            DType::Bool => each!(1, |c: &[u8]| if c[0] != 0 { 1.0 } else { 0.0 }),
            DType::I16 => each!(2, |c: &[u8]| i16::from_le_bytes([c[0], c[1]]) as f32),
            DType::U16 => each!(2, |c: &[u8]| u16::from_le_bytes([c[0], c[1]]) as f32),
            DType::I32 => each!(4, |c: &[u8]| i32::from_le_bytes(c.try_into().unwrap())
                as f32),
            DType::U32 => each!(4, |c: &[u8]| u32::from_le_bytes(c.try_into().unwrap())
                as f32),
            DType::I64 => each!(8, |c: &[u8]| i64::from_le_bytes(c.try_into().unwrap())
                as f32),
            DType::U64 => each!(8, |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap())
                as f32),
        }
    }

    /// Encodes f32 values as little-endian bytes of this dtype (used by the params writer).
    /// Integer dtypes truncate toward zero and saturate.
    pub fn encode_from_f32(self, values: &[f32], out: &mut Vec<u8>) {
        for &v in values {
            match self {
                DType::F32 => out.extend_from_slice(&v.to_le_bytes()),
                DType::F64 => out.extend_from_slice(&(v as f64).to_le_bytes()),
                DType::F16 => out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes()),
                DType::BF16 => out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes()),
                DType::U8 => out.push(v as u8),
                DType::I8 => out.push(v as i8 as u8),
                DType::Bool => out.push((v != 0.0) as u8),
                DType::I16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
                DType::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
                DType::I32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
                DType::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
                DType::I64 => out.extend_from_slice(&(v as i64).to_le_bytes()),
                DType::U64 => out.extend_from_slice(&(v as u64).to_le_bytes()),
            }
        }
    }
}

/// A dense row-major f32 tensor that owns its data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    /// Builds a tensor, checking that `data` holds exactly `prod(shape)` values.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Tensor> {
        let n = crate::dims::checked_numel(&shape, "tensor")?;
        if n != data.len() {
            return Err(Error::shape(format!(
                "shape {} needs {} values but {} were given",
                fmt_shape(&shape),
                n,
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: Vec<usize>) -> Tensor {
        let n = numel(&shape);
        Tensor {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// A borrowed view.
    pub fn view(&self) -> View<'_> {
        View {
            shape: &self.shape,
            data: &self.data,
        }
    }
}

/// Number of elements of a shape (1 for the 0-d shape `()`). Saturates instead of wrapping:
/// shapes from files and attributes are validated with [`crate::dims`], and a product that
/// does not fit then compares as "too large", never as a small count.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

/// A borrowed read-only tensor: what kernels receive as inputs.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

/// A borrowed writable tensor: what kernels receive as outputs. The shape was fixed by shape
/// inference; `data.len() == prod(shape)`. Kernels must overwrite every element (buffers are
/// reused between nodes and hold stale values).
#[derive(Debug)]
pub struct ViewMut<'a> {
    pub shape: &'a [usize],
    pub data: &'a mut [f32],
}

/// Row-major strides of a shape, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_flags_round_trip() {
        for flag in 0..=12 {
            let d = DType::from_flag(flag).unwrap();
            assert_eq!(d.flag(), flag);
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_flag(13), None);
    }

    #[test]
    fn decode_encode_round_trip() {
        let vals = [1.0f32, -2.5, 0.0, 3.0];
        for d in [DType::F32, DType::F64, DType::F16, DType::BF16] {
            let mut bytes = Vec::new();
            d.encode_from_f32(&vals, &mut bytes);
            assert_eq!(bytes.len(), vals.len() * d.size());
            let mut back = Vec::new();
            d.decode_to_f32(&bytes, &mut back);
            assert_eq!(back, vals, "{}", d.name());
        }
        // bfloat16 is the upper half of the f32 bits: 1.0 -> 0x3f80 (spec §1.3).
        let mut b = Vec::new();
        DType::BF16.encode_from_f32(&[1.0], &mut b);
        assert_eq!(b, [0x80, 0x3f]);
    }

    #[test]
    fn tensor_checks_size() {
        assert!(Tensor::new(vec![2, 3], vec![0.0; 6]).is_ok());
        let e = Tensor::new(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert!(e.to_string().contains("(2, 3)"), "{e}");
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
    }
}
