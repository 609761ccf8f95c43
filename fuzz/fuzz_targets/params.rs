//! `cargo +nightly fuzz run params`: the `.params` reader must never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mxnet_web::format::params::read_params(data, "fuzz.params");
});
