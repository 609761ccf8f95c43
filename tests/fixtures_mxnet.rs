//! Every committed fixture case, compared with MXNet 1.9.1's outputs. Run one group with
//! `cargo test --test fixtures_mxnet ops -- --nocapture`; filter cases with `CASE=substring`.

mod common;

#[test]
fn ops() {
    common::run_group("ops");
}

/// The same cases with Winograd convolution off (on by default; see `Model::set_winograd`).
#[test]
fn ops_without_winograd() {
    common::run_group_with("ops", &mut |m, inputs| {
        m.set_winograd(false);
        m.run(inputs)
    });
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
