//! The `.params` file: MXNet's NDArray list format (spec §1).
//!
//! ```text
//! u64 magic 0x112 | u64 reserved | u64 n | n × record | u64 n_names (0 or n) | n_names × (u64 len, bytes)
//! ```
//! Records come in four versions, told apart by their first u32 (spec §1.2): V2 `0xF993FAC9`
//! (MXNet 1.x), V3 `0xF993FACA` (numpy semantics, 0-d scalars), V1 `0xF993FAC8` (int64 dims, no
//! storage type) and legacy (that u32 *is* ndim, followed by u32 dims). Sparse records are refused.
//!
//! Every size read from the file is checked against the bytes that remain before anything is
//! allocated, so a truncated or hostile file is an error, never a panic or a huge allocation.

use crate::error::{fmt_shape, Error, Result};
use crate::tensor::DType;

/// `kMXAPINDArrayListMagic`.
pub const LIST_MAGIC: u64 = 0x112;
/// Record magics.
pub const V1_MAGIC: u32 = 0xF993_FAC8;
pub const V2_MAGIC: u32 = 0xF993_FAC9;
pub const V3_MAGIC: u32 = 0xF993_FACA;

/// Which record layout to write (the reader accepts all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordVersion {
    Legacy,
    V1,
    V2,
    V3,
}

/// One array of a params file, decoded to f32 (its stored dtype is kept for reporting).
#[derive(Debug, Clone, PartialEq)]
pub struct NDArray {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<f32>,
}

/// A decoded params file: arrays with their names (empty names for an unnamed list).
#[derive(Debug, Clone, Default)]
pub struct ParamsFile {
    pub arrays: Vec<NDArray>,
    /// Either empty (an unnamed list, `mx.nd.save(f, [a, b])`) or one name per array.
    pub names: Vec<String>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    file: &'a str,
}

impl<'a> Reader<'a> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Params {
            file: self.file.to_string(),
            msg: msg.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(self.err(format!(
                "truncated: {what} needs {n} bytes at offset {} but only {left} remain",
                self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().unwrap_or([0; 4]),
        ))
    }

    fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(self.u32(what)? as i32)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or([0; 8]),
        ))
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// `TShape`: i32 ndim then ndim × i64. Returns `None` for an unknown shape (ndim -1).
    fn tshape(&mut self, what: &str) -> Result<Option<Vec<i64>>> {
        let ndim = self.i32(what)?;
        if ndim < 0 {
            return Ok(None);
        }
        let ndim = ndim as usize;
        if ndim * 8 > self.remaining() {
            return Err(self.err(format!(
                "{what}: ndim {ndim} is larger than the rest of the file"
            )));
        }
        let mut dims = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            dims.push(self.u64(what)? as i64);
        }
        Ok(Some(dims))
    }
}

/// Reads a params file. `file` names it in error messages.
pub fn read_params(bytes: &[u8], file: &str) -> Result<ParamsFile> {
    let mut r = Reader {
        bytes,
        pos: 0,
        file,
    };
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(r.err(
            "this is a ZIP (.npz) archive, as MXNet 2.x writes under numpy semantics; \
             mxnet-web reads MXNet 1.x params files (re-save with mx.nd.save in MXNet 1.x)",
        ));
    }
    if bytes.len() < 8 {
        return Err(r.err(format!(
            "too short to be an MXNet params file ({} bytes)",
            bytes.len()
        )));
    }
    let magic = r.u64("magic")?;
    if magic != LIST_MAGIC {
        return Err(r.err(format!(
            "Invalid NDArray file format: magic is {magic:#x}, expected 0x112 (is this an MXNet .params file?)"
        )));
    }
    let _reserved = r.u64("reserved field")?;
    let n = r.u64("array count")?;
    // Every record takes at least 4 bytes: bound n before reserving.
    if n > (r.remaining() / 4) as u64 {
        return Err(r.err(format!("declares {n} arrays, more than the file can hold")));
    }
    let mut arrays = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let a = read_record(&mut r).map_err(|e| match e {
            Error::Params { file, msg } => Error::Params {
                file,
                msg: format!("array {i}: {msg}"),
            },
            e => e,
        })?;
        arrays.push(a);
    }
    let n_names = r.u64("name count")?;
    if n_names != 0 && n_names != n {
        return Err(r.err(format!(
            "Invalid NDArray file format: {n_names} names for {n} arrays (must be 0 or equal)"
        )));
    }
    let mut names = Vec::with_capacity(n_names as usize);
    for i in 0..n_names as usize {
        let len = r.u64("name length")?;
        if len > r.remaining() as u64 {
            return Err(r.err(format!(
                "name {i}: length {len} is larger than the rest of the file"
            )));
        }
        let b = r.take(len as usize, "name")?;
        let s =
            std::str::from_utf8(b).map_err(|_| r.err(format!("name {i} is not valid UTF-8")))?;
        names.push(s.to_string());
    }
    // Attach names to errors about sparse records we could only report by index.
    Ok(ParamsFile { arrays, names })
}

fn checked_numel(r: &Reader, dims: &[i64]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in dims {
        if d < 0 {
            return Err(r.err(format!("negative dimension {d} in shape {dims:?}")));
        }
        n = n
            .checked_mul(d as usize)
            .ok_or_else(|| r.err(format!("shape {dims:?} overflows")))?;
    }
    Ok(n)
}

fn read_data(r: &mut Reader, dims: Vec<i64>) -> Result<NDArray> {
    let _dev_type = r.i32("context")?;
    let _dev_id = r.i32("context")?;
    let flag = r.i32("type flag")?;
    let dtype =
        DType::from_flag(flag).ok_or_else(|| r.err(format!("unknown dtype flag {flag}")))?;
    let numel = checked_numel(r, &dims)?;
    let nbytes = numel
        .checked_mul(dtype.size())
        .ok_or_else(|| r.err(format!("shape {dims:?} overflows")))?;
    if nbytes > r.remaining() {
        return Err(r.err(format!(
            "truncated: shape {} of {} needs {nbytes} bytes of data but only {} remain",
            fmt_shape(&dims.iter().map(|&d| d as usize).collect::<Vec<_>>()),
            dtype.name(),
            r.remaining()
        )));
    }
    let raw = r.take(nbytes, "data")?;
    let mut data = Vec::new();
    dtype.decode_to_f32(raw, &mut data);
    Ok(NDArray {
        shape: dims.into_iter().map(|d| d as usize).collect(),
        dtype,
        data,
    })
}

fn read_record(r: &mut Reader) -> Result<NDArray> {
    let head = r.u32("record header")?;
    match head {
        V2_MAGIC | V3_MAGIC => {
            let stype = r.i32("storage type")?;
            if stype != 0 {
                let kind = match stype {
                    1 => "row_sparse",
                    2 => "csr",
                    _ => return Err(r.err(format!("unknown storage type {stype} (corrupt file?)"))),
                };
                return Err(r.err(format!(
                    "sparse storage type '{kind}' ({stype}) is not supported: mxnet-web needs dense parameters \
                     (convert with .tostype('default') before saving)"
                )));
            }
            let shape = r.tshape("shape")?;
            let dims = match shape {
                None => return Err(r.err("array with unknown shape (a 'none' NDArray)")),
                Some(d) if d.is_empty() && head == V2_MAGIC => {
                    return Err(r.err("empty (none) NDArray: ndim 0 in a V2 record"))
                }
                Some(d) => d,
            };
            read_data(r, dims)
        }
        V1_MAGIC => {
            let dims = match r.tshape("shape")? {
                Some(d) if !d.is_empty() => d,
                _ => return Err(r.err("empty (none) NDArray in a V1 record")),
            };
            read_data(r, dims)
        }
        ndim => {
            // Legacy record: the u32 just read is ndim, followed by u32 dims.
            let ndim = ndim as usize;
            if ndim == 0 {
                return Err(r.err("empty (none) NDArray in a legacy record"));
            }
            if ndim > 32 || ndim * 4 > r.remaining() {
                return Err(r.err(format!(
                    "unrecognised record header {head:#010x} (not a V1/V2/V3 magic, and too large for a legacy ndim)"
                )));
            }
            let mut dims = Vec::with_capacity(ndim);
            for _ in 0..ndim {
                dims.push(r.u32("shape")? as i64);
            }
            read_data(r, dims)
        }
    }
}

/// Writes a params file (dense records, f32 values encoded as each array's `dtype`).
/// `names` must be empty or one per array. Used by tests and tools.
pub fn write_params(arrays: &[NDArray], names: &[String], version: RecordVersion) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&LIST_MAGIC.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u64).to_le_bytes());
    for a in arrays {
        match version {
            RecordVersion::Legacy => {
                out.extend_from_slice(&(a.shape.len() as u32).to_le_bytes());
                for &d in &a.shape {
                    out.extend_from_slice(&(d as u32).to_le_bytes());
                }
            }
            RecordVersion::V1 | RecordVersion::V2 | RecordVersion::V3 => {
                let magic = match version {
                    RecordVersion::V1 => V1_MAGIC,
                    RecordVersion::V2 => V2_MAGIC,
                    _ => V3_MAGIC,
                };
                out.extend_from_slice(&magic.to_le_bytes());
                if version != RecordVersion::V1 {
                    out.extend_from_slice(&0i32.to_le_bytes()); // dense
                }
                out.extend_from_slice(&(a.shape.len() as i32).to_le_bytes());
                for &d in &a.shape {
                    out.extend_from_slice(&(d as i64).to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&1i32.to_le_bytes()); // dev_type cpu
        out.extend_from_slice(&0i32.to_le_bytes()); // dev_id
        out.extend_from_slice(&a.dtype.flag().to_le_bytes());
        a.dtype.encode_from_f32(&a.data, &mut out);
    }
    out.extend_from_slice(&(names.len() as u64).to_le_bytes());
    for n in names {
        out.extend_from_slice(&(n.len() as u64).to_le_bytes());
        out.extend_from_slice(n.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize], dtype: DType) -> NDArray {
        let n: usize = shape.iter().product();
        NDArray {
            shape: shape.to_vec(),
            dtype,
            data: (0..n).map(|i| i as f32 - 1.0).collect(),
        }
    }

    #[test]
    fn round_trips_every_version_and_dtype() {
        let dtypes = [
            DType::F32,
            DType::F64,
            DType::F16,
            DType::BF16,
            DType::I32,
            DType::I8,
            DType::I64,
            DType::F32,
        ];
        let arrays: Vec<NDArray> = dtypes
            .iter()
            .enumerate()
            .map(|(i, &d)| arr(&[2, i + 1], d))
            .collect();
        let names: Vec<String> = (0..arrays.len()).map(|i| format!("arg:p{i}")).collect();
        for v in [
            RecordVersion::Legacy,
            RecordVersion::V1,
            RecordVersion::V2,
            RecordVersion::V3,
        ] {
            let bytes = write_params(&arrays, &names, v);
            let back = read_params(&bytes, "t.params").unwrap();
            assert_eq!(back.arrays, arrays, "{v:?}");
            assert_eq!(back.names, names);
        }
        // Unnamed list.
        let bytes = write_params(&arrays[..1], &[], RecordVersion::V2);
        assert!(read_params(&bytes, "t.params").unwrap().names.is_empty());
    }

    #[test]
    fn v3_scalar_from_spec() {
        // Spec §1.2 example record: a 0-d f32 scalar 3.5.
        let mut b = Vec::new();
        b.extend_from_slice(&LIST_MAGIC.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&[
            0xca, 0xfa, 0x93, 0xf9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0x60, 0x40,
        ]);
        b.extend_from_slice(&0u64.to_le_bytes());
        let p = read_params(&b, "s.params").unwrap();
        assert_eq!(p.arrays[0].shape, Vec::<usize>::new());
        assert_eq!(p.arrays[0].data, vec![3.5]);
    }

    #[test]
    fn bad_files_are_errors() {
        let good = write_params(
            &[arr(&[4, 3], DType::F32)],
            &["arg:w".into()],
            RecordVersion::V2,
        );
        // Every truncation is an error, never a panic.
        for cut in 0..good.len() {
            let e = read_params(&good[..cut], "cut.params")
                .unwrap_err()
                .to_string();
            assert!(e.contains("cut.params"), "{e}");
        }
        let mut bad_magic = good.clone();
        bad_magic[0] = 0x13;
        assert!(read_params(&bad_magic, "m.params")
            .unwrap_err()
            .to_string()
            .contains("magic"));
        // Huge declared dims must not allocate.
        let mut huge = good.clone();
        huge[24 + 12..24 + 20].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(read_params(&huge, "h.params").is_err());
        // Wrong name count.
        let mut names = write_params(&[arr(&[1], DType::F32)], &[], RecordVersion::V2);
        let len = names.len();
        names[len - 8..].copy_from_slice(&5u64.to_le_bytes());
        assert!(read_params(&names, "n.params")
            .unwrap_err()
            .to_string()
            .contains("names"));
        // Unknown dtype flag.
        let mut dt = good.clone();
        let off = 24 + 4 + 4 + 4 + 16 + 8;
        dt[off..off + 4].copy_from_slice(&99i32.to_le_bytes());
        assert!(read_params(&dt, "d.params")
            .unwrap_err()
            .to_string()
            .contains("dtype"));
        assert!(read_params(b"PK\x03\x04rest", "z.params")
            .unwrap_err()
            .to_string()
            .contains("ZIP"));
    }

    #[test]
    fn sparse_is_refused() {
        let mut b = Vec::new();
        b.extend_from_slice(&LIST_MAGIC.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&V2_MAGIC.to_le_bytes());
        b.extend_from_slice(&1i32.to_le_bytes());
        b.extend_from_slice(&[0; 32]);
        let e = read_params(&b, "sp.params").unwrap_err().to_string();
        assert!(e.contains("row_sparse"), "{e}");
    }
}
