//! `cargo +nightly fuzz run npy`: the `.npy` reader (every dtype, order and endianness, hostile
//! headers) must never panic or allocate more than the file describes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mxnet_web::format::npy::read_npy(data, "fuzz.npy");
});
