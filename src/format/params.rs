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

use crate::dims::{checked_numel, shape_from_i64};
use crate::error::{fmt_shape, Error, Result};
use crate::tensor::DType;

/// `kMXAPINDArrayListMagic`.
pub const LIST_MAGIC: u64 = 0x112;
/// The most dimensions a record may have (legacy records: also the bound that tells an ndim
/// from a magic).
pub const MAX_NDIM: usize = 32;
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
        if ndim > MAX_NDIM as i32 {
            return Err(self.err(format!(
                "{what}: ndim {ndim} is not supported (at most {MAX_NDIM} dimensions)"
            )));
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

/// One record of a params file, located but not decoded: its data is
/// `bytes[offset..offset + shape.numel() · dtype.size()]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInfo {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub offset: usize,
}

/// A params file's structure (names, shapes, dtypes, data offsets), read without converting
/// any data: [`ParamsIndex::decode`] converts the records one actually needs, so records that
/// bind to nothing (`ignore_extra`) are never materialised.
#[derive(Debug, Clone)]
pub struct ParamsIndex<'a> {
    bytes: &'a [u8],
    pub records: Vec<RecordInfo>,
    /// Either empty (an unnamed list) or one name per record.
    pub names: Vec<String>,
}

impl ParamsIndex<'_> {
    /// Decodes record `i` to f32.
    pub fn decode(&self, i: usize) -> NDArray {
        let r = &self.records[i];
        // Sizes were checked against the file when the index was read.
        let n = r.shape.iter().product::<usize>() * r.dtype.size();
        let mut data = Vec::new();
        r.dtype
            .decode_to_f32(&self.bytes[r.offset..r.offset + n], &mut data);
        NDArray {
            shape: r.shape.clone(),
            dtype: r.dtype,
            data,
        }
    }

    /// Bytes the records whose name satisfies `keep` take once decoded to f32 (every record
    /// of an unnamed list), computed before decoding anything.
    pub fn decoded_bytes(&self, keep: impl Fn(&str) -> bool) -> u64 {
        self.records
            .iter()
            .enumerate()
            .filter(|(i, _)| self.names.get(*i).map_or(true, |n| keep(n)))
            .map(|(_, r)| crate::dims::f32_bytes(r.shape.iter().product()))
            .fold(0u64, u64::saturating_add)
    }

    /// Decodes every record.
    pub fn decode_all(&self) -> ParamsFile {
        self.decode_where(|_| true)
    }

    /// Decodes the records whose name satisfies `keep` (every record of an unnamed list); the
    /// others are dropped without being converted.
    pub fn decode_where(&self, keep: impl Fn(&str) -> bool) -> ParamsFile {
        if self.names.is_empty() {
            return ParamsFile {
                arrays: (0..self.records.len()).map(|i| self.decode(i)).collect(),
                names: vec![],
            };
        }
        let mut out = ParamsFile::default();
        for (i, name) in self.names.iter().enumerate() {
            if keep(name) {
                out.arrays.push(self.decode(i));
                out.names.push(name.clone());
            }
        }
        out
    }
}

/// Reads a params file. `file` names it in error messages.
pub fn read_params(bytes: &[u8], file: &str) -> Result<ParamsFile> {
    Ok(index_params(bytes, file)?.decode_all())
}

/// Reads a params file's structure without decoding its data (see [`ParamsIndex`]). Every size
/// is validated against the bytes, so decoding cannot fail afterwards.
pub fn index_params<'a>(bytes: &'a [u8], file: &str) -> Result<ParamsIndex<'a>> {
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
    let mut records = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        let a = read_record(&mut r).map_err(|e| match e {
            Error::Params { file, msg } => Error::Params {
                file,
                msg: format!("array {i}: {msg}"),
            },
            e => e,
        })?;
        records.push(a);
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
    Ok(ParamsIndex {
        bytes,
        records,
        names,
    })
}

/// Converts a record's dims to a shape: no negative dimension, no product beyond what a tensor
/// can hold (natively and on wasm32, where a 64-bit dim would otherwise truncate).
fn record_shape(r: &Reader, dims: &[i64]) -> Result<Vec<usize>> {
    shape_from_i64(dims, "shape").map_err(|e| r.err(e.to_string()))
}

fn read_data(r: &mut Reader, dims: Vec<i64>) -> Result<RecordInfo> {
    let _dev_type = r.i32("context")?;
    let _dev_id = r.i32("context")?;
    let flag = r.i32("type flag")?;
    let dtype =
        DType::from_flag(flag).ok_or_else(|| r.err(format!("unknown dtype flag {flag}")))?;
    let shape = record_shape(r, &dims)?;
    // numel ≤ isize::MAX / 4 and sizes ≤ 8: the product fits u64 everywhere.
    let nbytes = checked_numel(&shape, "shape")? as u64 * dtype.size() as u64;
    if nbytes > r.remaining() as u64 {
        return Err(r.err(format!(
            "truncated: shape {} of {} needs {nbytes} bytes of data but only {} remain",
            fmt_shape(&shape),
            dtype.name(),
            r.remaining()
        )));
    }
    let offset = r.pos;
    r.take(nbytes as usize, "data")?;
    Ok(RecordInfo {
        shape,
        dtype,
        offset,
    })
}

fn read_record(r: &mut Reader) -> Result<RecordInfo> {
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
            if ndim > MAX_NDIM || ndim * 4 > r.remaining() {
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

    /// A one-record V2 file declaring `dims` (f32) followed by `data_bytes` bytes of data.
    fn v2_file(dims: &[i64], data_bytes: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&LIST_MAGIC.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&V2_MAGIC.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&(dims.len() as i32).to_le_bytes());
        for d in dims {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&vec![0u8; data_bytes]);
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&5u64.to_le_bytes());
        b.extend_from_slice(b"arg:w");
        b
    }

    #[test]
    fn declared_dims_are_checked_against_the_bytes() {
        assert_eq!(
            read_params(&v2_file(&[4, 3, 3, 3], 432), "ok.params")
                .unwrap()
                .arrays[0]
                .shape,
            [4, 3, 3, 3]
        );
        // 4294967300 ≡ 4 (mod 2^32): on wasm32 the cast used to give (4, 3, 3, 3) and load.
        let e = read_params(&v2_file(&[4294967300, 3, 3, 3], 432), "w.params")
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.params"), "{e}");
        // Products that wrap mod 2^64.
        for dims in [
            [1i64 << 62, 4, 1, 1],
            [4611686018427387905, 3, 8, 8],
            [-1, -4, 1, 1],
        ] {
            assert!(
                read_params(&v2_file(&dims, 432), "p.params").is_err(),
                "{dims:?}"
            );
        }
        // Absurd ndim.
        let mut b = v2_file(&[1; 40], 4);
        assert!(read_params(&b, "nd.params")
            .unwrap_err()
            .to_string()
            .contains("ndim 40"));
        b.truncate(40);
        assert!(read_params(&b, "nd.params").is_err());
    }

    #[test]
    fn index_skips_unwanted_records() {
        let arrays = [arr(&[2, 2], DType::F16), arr(&[3], DType::F32)];
        let names = vec!["arg:keep".to_string(), "arg:drop".to_string()];
        let bytes = write_params(&arrays, &names, RecordVersion::V2);
        let idx = index_params(&bytes, "i.params").unwrap();
        assert_eq!(idx.records[1].shape, [3]);
        // Sizes as f32 are known before decoding: (2, 2) f16 → 16 bytes, (3,) → 12.
        assert_eq!(idx.decoded_bytes(|_| true), 28);
        assert_eq!(idx.decoded_bytes(|n| n.ends_with("keep")), 16);
        let kept = idx.decode_where(|n| n.ends_with("keep"));
        assert_eq!(kept.names, ["arg:keep"]);
        assert_eq!(kept.arrays, arrays[..1]);
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
