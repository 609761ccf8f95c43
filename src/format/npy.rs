//! `.npy` files for the CLI's inputs and outputs (float32; other numeric dtypes are converted on
//! read). Uses the `npyz` crate.

use std::io::Cursor;

use npyz::WriterBuilder;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Reads an `.npy` file's bytes as an f32 tensor (C order required).
pub fn read_npy(bytes: &[u8], file: &str) -> Result<Tensor> {
    let err = |msg: String| Error::Npy {
        file: file.to_string(),
        msg,
    };
    let npy = npyz::NpyFile::new(Cursor::new(bytes))
        .map_err(|e| err(format!("not a valid .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let dtype = npy.dtype();
    let descr = match &dtype {
        npyz::DType::Plain(t) => t.to_string(),
        other => return Err(err(format!("unsupported dtype {other:?}"))),
    };
    let data: Vec<f32> = match descr.trim_start_matches(['<', '|', '=']) {
        "f4" => npy.into_vec::<f32>().map_err(|e| err(e.to_string()))?,
        "f8" => npy
            .into_vec::<f64>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "f2" => npy
            .into_vec::<half::f16>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v.to_f32())
            .collect(),
        "i4" => npy
            .into_vec::<i32>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "i8" => npy
            .into_vec::<i64>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "u1" => npy
            .into_vec::<u8>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "i1" => npy
            .into_vec::<i8>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "b1" => npy
            .into_vec::<bool>()
            .map_err(|e| err(e.to_string()))?
            .into_iter()
            .map(|v| v as u8 as f32)
            .collect(),
        _ => return Err(err(format!("unsupported dtype '{descr}' (use float32)"))),
    };
    Tensor::new(shape, data).map_err(|e| err(e.to_string()))
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
}
