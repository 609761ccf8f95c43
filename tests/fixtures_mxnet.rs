//! Every committed fixture case, compared with MXNet 1.9.1's outputs. Run one group with
//! `cargo test --test fixtures_mxnet ops -- --nocapture`; filter cases with `CASE=substring`.

mod common;

#[test]
fn ops() {
    common::run_group("ops");
}

#[test]
fn flows() {
    common::run_group("flows");
}

#[test]
fn legacy() {
    common::run_group("legacy");
}

#[test]
fn models() {
    common::run_group("models");
}
