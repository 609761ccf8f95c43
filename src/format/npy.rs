//! `.npy` files for the CLI's inputs and outputs. Inputs of every numeric dtype numpy writes
//! (float16/32/64, (u)int8/16/32/64, bool), either byte order and either memory order (C or
//! Fortran) are converted to a C-ordered f32 tensor; outputs are written as little-endian
//! float32. The header is parsed here (not by `npyz`) so that the declared shape is validated
//! with checked arithmetic against the data that is actually there (see [`crate::dims`]).

use npyz::WriterBuilder;

use crate::dims::{checked_numel, dim_from_u64, echo_name, fmt_dims};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const MAGIC: &[u8] = b"\x93NUMPY";

/// An element type of a `.npy` file: kind (`f`, `i`, `u`, `b`), size in bytes, big-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NpyType {
    kind: u8,
    size: usize,
    big_endian: bool,
}

impl NpyType {
    /// Parses a plain `descr` such as `<f4`, `>i8`, `|u1`, `|b1`, `=f2`.
    fn parse(descr: &str) -> Option<NpyType> {
        let b = descr.as_bytes();
        if b.len() < 3 {
            return None;
        }
        let big_endian = match b[0] {
            b'<' | b'|' => false,
            b'>' => true,
            b'=' => cfg!(target_endian = "big"),
            _ => return None,
        };
        let kind = b[1];
        let size: usize = std::str::from_utf8(&b[2..]).ok()?.parse().ok()?;
        let ok = match kind {
            b'f' => matches!(size, 2 | 4 | 8),
            b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
            b'b' => size == 1,
            _ => false,
        };
        ok.then_some(NpyType {
            kind,
            size,
            big_endian,
        })
    }

    /// Decodes one element.
    fn decode(self, c: &[u8]) -> f32 {
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(&c[..self.size]);
        if self.big_endian {
            buf[..self.size].reverse();
        }
        let b2 = [buf[0], buf[1]];
        let b4 = [buf[0], buf[1], buf[2], buf[3]];
        match (self.kind, self.size) {
            (b'f', 2) => half::f16::from_le_bytes(b2).to_f32(),
            (b'f', 4) => f32::from_le_bytes(b4),
            (b'f', _) => f64::from_le_bytes(buf) as f32,
            (b'i', 1) => buf[0] as i8 as f32,
            (b'i', 2) => i16::from_le_bytes(b2) as f32,
            (b'i', 4) => i32::from_le_bytes(b4) as f32,
            (b'i', _) => i64::from_le_bytes(buf) as f32,
            (b'u', 1) => buf[0] as f32,
            (b'u', 2) => u16::from_le_bytes(b2) as f32,
            (b'u', 4) => u32::from_le_bytes(b4) as f32,
            (b'u', _) => u64::from_le_bytes(buf) as f32,
            _ => (buf[0] != 0) as u8 as f32,
        }
    }
}

/// The parsed header dictionary.
#[derive(Debug)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Parses numpy's header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("the header is not a dictionary")?;
    let value_of = |key: &str| -> std::result::Result<&str, String> {
        let at = body
            .find(&format!("'{key}'"))
            .or_else(|| body.find(&format!("\"{key}\"")))
            .ok_or(format!("the header has no '{key}'"))?;
        let rest = body[at + key.len() + 2..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or(format!("the header's '{key}' has no value"))
    };
    let d = value_of("descr")?;
    let quote = d.chars().next().filter(|&c| c == '\'' || c == '"');
    let descr =
        match quote {
            Some(q) => d[1..]
                .split(q)
                .next()
                .filter(|_| d[1..].contains(q))
                .ok_or("unterminated 'descr'")?,
            None => return Err(
                "structured dtypes are not supported (descr must be a plain type such as '<f4')"
                    .into(),
            ),
        };
    let f = value_of("fortran_order")?;
    let fortran_order = if f.starts_with("True") {
        true
    } else if f.starts_with("False") {
        false
    } else {
        return Err("'fortran_order' must be True or False".into());
    };
    let s = value_of("shape")?;
    let inner = s
        .strip_prefix('(')
        .and_then(|t| t.split(')').next().filter(|_| t.contains(')')))
        .ok_or("'shape' must be a tuple")?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let part = part.trim_end_matches('L');
        shape.push(
            part.parse::<u64>()
                .map_err(|_| format!("'shape' entry '{}' is not a size", echo_name(part)))?,
        );
    }
    Ok(Header {
        descr: descr.to_string(),
        fortran_order,
        shape,
    })
}

/// Reads an `.npy` file's bytes as an f32 tensor in C order.
pub fn read_npy(bytes: &[u8], file: &str) -> Result<Tensor> {
    let err = |msg: String| Error::Npy {
        file: file.to_string(),
        msg,
    };
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err(err("not a valid .npy file (no \\x93NUMPY magic)".into()));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(err(format!("unsupported .npy format version {v}"))),
    };
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| err(format!("truncated: the header declares {header_len} bytes")))?;
    let text = String::from_utf8_lossy(&bytes[header_start..data_start]);
    let header = parse_header(&text).map_err(|m| err(format!("not a valid .npy header: {m}")))?;
    let ty = NpyType::parse(&header.descr).ok_or_else(|| {
        err(format!(
            "unsupported dtype '{}' (numeric dtypes: float16/32/64, (u)int8/16/32/64, bool)",
            echo_name(&header.descr)
        ))
    })?;
    let what = format!("npy file {file}");
    let shape = header
        .shape
        .iter()
        .map(|&d| dim_from_u64(d, format_args!("{what}: shape {}", fmt_dims(&header.shape))))
        .collect::<Result<Vec<usize>>>()?;
    let n = checked_numel(&shape, &what)?;
    let data = &bytes[data_start..];
    // n ≤ isize::MAX / 4, so n · 8 cannot overflow u64.
    let needed = n as u64 * ty.size as u64;
    if (data.len() as u64) < needed {
        return Err(err(format!(
            "truncated: shape {} of {} needs {needed} bytes of data but the file has {}",
            fmt_dims(&shape),
            header.descr,
            data.len()
        )));
    }
    let mut values: Vec<f32> = data
        .chunks_exact(ty.size)
        .take(n)
        .map(|c| ty.decode(c))
        .collect();
    if header.fortran_order && shape.len() > 1 {
        values = fortran_to_c(&values, &shape);
    }
    Tensor::new(shape, values).map_err(|e| err(e.to_string()))
}

/// Reorders column-major (Fortran) values into row-major order.
fn fortran_to_c(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let nd = shape.len();
    // Fortran strides: the first axis varies fastest.
    let mut f_strides = vec![1usize; nd];
    for i in 1..nd {
        f_strides[i] = f_strides[i - 1] * shape[i - 1];
    }
    let mut out = Vec::with_capacity(values.len());
    let mut idx = vec![0usize; nd];
    for _ in 0..values.len() {
        let at: usize = idx.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        out.push(values[at]);
        for k in (0..nd).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// Encodes an f32 tensor as `.npy` bytes.
pub fn write_npy(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()
        .map_err(|e| Error::Npy {
            file: "<output>".into(),
            msg: e.to_string(),
        })?;
    w.extend(t.data.iter().copied()).map_err(|e| Error::Npy {
        file: "<output>".into(),
        msg: e.to_string(),
    })?;
    w.finish().map_err(|e| Error::Npy {
        file: "<output>".into(),
        msg: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Tensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let b = write_npy(&t).unwrap();
        assert_eq!(read_npy(&b, "x.npy").unwrap(), t);
        assert!(read_npy(b"nope", "bad.npy")
            .unwrap_err()
            .to_string()
            .contains("bad.npy"));
    }

    /// An `.npy` file with the given header fields and raw data.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let f = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn every_dtype_and_byte_order() {
        let want = [1.0f32, -2.0, 3.0, 4.0, 0.0, 6.0];
        let ints = |size: usize, big: bool| -> Vec<u8> {
            want.iter()
                .flat_map(|&v| {
                    let le = (v as i64).to_le_bytes();
                    let mut c = le[..size].to_vec();
                    if big {
                        c.reverse();
                    }
                    c
                })
                .collect()
        };
        for big in [false, true] {
            let o = if big { '>' } else { '<' };
            for size in [1usize, 2, 4, 8] {
                let t = read_npy(
                    &npy(&format!("{o}i{size}"), false, "(2, 3)", &ints(size, big)),
                    "i.npy",
                )
                .unwrap();
                assert_eq!(t.data, want, "{o}i{size}");
            }
            let f4: Vec<u8> = want
                .iter()
                .flat_map(|v| {
                    if big {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect();
            let t = read_npy(&npy(&format!("{o}f4"), false, "(2, 3)", &f4), "f.npy").unwrap();
            assert_eq!(
                (t.shape.clone(), t.data),
                (vec![2, 3], want.to_vec()),
                "{o}f4"
            );
            let f8: Vec<u8> = want
                .iter()
                .flat_map(|&v| {
                    if big {
                        (v as f64).to_be_bytes()
                    } else {
                        (v as f64).to_le_bytes()
                    }
                })
                .collect();
            assert_eq!(
                read_npy(&npy(&format!("{o}f8"), false, "(6,)", &f8), "d.npy")
                    .unwrap()
                    .data,
                want
            );
            let f2: Vec<u8> = want
                .iter()
                .flat_map(|&v| {
                    let h = half::f16::from_f32(v);
                    if big {
                        h.to_be_bytes()
                    } else {
                        h.to_le_bytes()
                    }
                })
                .collect();
            assert_eq!(
                read_npy(&npy(&format!("{o}f2"), false, "(6,)", &f2), "h.npy")
                    .unwrap()
                    .data,
                want
            );
        }
        let u = read_npy(&npy("<u2", false, "(2,)", &[0xff, 0xff, 1, 0]), "u.npy").unwrap();
        assert_eq!(u.data, [65535.0, 1.0]);
        let b = read_npy(&npy("|b1", false, "(3,)", &[0, 1, 7]), "b.npy").unwrap();
        assert_eq!(b.data, [0.0, 1.0, 1.0]);
        // A 0-d scalar.
        let s = read_npy(&npy("<f4", false, "()", &2.5f32.to_le_bytes()), "s.npy").unwrap();
        assert_eq!((s.shape.len(), s.data), (0, vec![2.5]));
        for bad in ["<c8", "|O", "<U4", "|S3", "<f3"] {
            let e = read_npy(&npy(bad, false, "(1,)", &[0; 16]), "x.npy")
                .unwrap_err()
                .to_string();
            assert!(e.contains("unsupported dtype"), "{bad}: {e}");
        }
    }

    #[test]
    fn fortran_order_is_transposed() {
        // np.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores 1 4 2 5 3 6.
        let data: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = read_npy(&npy("<f4", true, "(2, 3)", &data), "f.npy").unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn hostile_headers_are_errors() {
        let data = vec![0u8; 192 * 4];
        // (2^62 + 1)·3·8·8 ≡ 192 (mod 2^64): must not pass for 192 values.
        let e = read_npy(
            &npy("<f4", false, "(4611686018427387905, 3, 8, 8)", &data),
            "w.npy",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("w.npy") && e.contains("4611686018427387905"),
            "{e}"
        );
        let e = read_npy(
            &npy("<f4", false, "(18446744073709551615,)", &data),
            "m.npy",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("m.npy"), "{e}");
        let e = read_npy(&npy("<f4", false, "(1000,)", &data), "t.npy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        assert!(read_npy(&npy("<f4", false, "(-1,)", &data), "n.npy").is_err());
        assert!(read_npy(&npy("<f4", false, "[2]", &data), "n.npy").is_err());
        // Every truncation of a good file is an error, never a panic.
        let good = npy("<f4", false, "(2, 3)", &[0; 24]);
        for cut in 0..good.len() {
            assert!(read_npy(&good[..cut], "cut.npy").is_err(), "{cut}");
        }
    }
}
