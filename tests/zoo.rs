//! Whole Gluon model-zoo networks (random weights, randomised BatchNorm statistics) against
//! MXNet 1.9.1. Their params are too big to commit: `tests/fixtures/generate.py --big` writes them
//! to `tests/fixtures/big/` (CI does). Without them these tests skip with a message, unless
//! `MXNET_WEB_REQUIRE_BIG=1` (set by `.ci/run`), which makes a missing model a failure.

mod common;

fn zoo(name: &str) {
    let dir = common::fixtures_dir().join("big").join(name);
    if !dir.join("case.json").exists() {
        if std::env::var("MXNET_WEB_REQUIRE_BIG").as_deref() == Ok("1") {
            panic!(
                "{} is missing: run .venv/bin/python tests/fixtures/generate.py --big",
                dir.display()
            );
        }
        eprintln!(
            "SKIP {name}: {} not generated (run .venv/bin/python tests/fixtures/generate.py --big)",
            dir.display()
        );
        return;
    }
    let start = std::time::Instant::now();
    let o = common::run_case(&dir);
    println!(
        "{} {:<30} {} ({:.1} s)",
        if o.ok { "ok  " } else { "FAIL" },
        o.name,
        o.detail,
        start.elapsed().as_secs_f32()
    );
    assert!(o.ok, "{}: {}", o.name, o.detail);
}

#[test]
fn resnet18_v1() {
    zoo("resnet18_v1");
}

#[test]
fn resnet50_v2() {
    zoo("resnet50_v2");
}

#[test]
fn mobilenet1_0() {
    zoo("mobilenet1_0");
}

#[test]
fn mobilenetv2_1_0() {
    zoo("mobilenetv2_1_0");
}

#[test]
fn squeezenet1_1() {
    zoo("squeezenet1_1");
}

#[test]
fn densenet121() {
    zoo("densenet121");
}

#[test]
fn inceptionv3() {
    zoo("inceptionv3");
}

/// Legacy graphs from public repositories (MXNet 0.9–0.11) whose weights are not published:
/// random weights of the shapes MXNet infers, too big to commit.
#[test]
fn legacy_keyky_mobilenet_v2() {
    zoo("legacy_keyky_mobilenet_v2");
}

#[test]
fn legacy_lightened_cnn() {
    zoo("legacy_lightened_cnn");
}

#[test]
fn legacy_miaow1988_squeezenet_v1_2() {
    zoo("legacy_miaow1988_squeezenet_v1_2");
}

/// GluonCV detectors (issue 10): box_nms / box_decode / _arange heads, compared per output head.
#[test]
fn det_ssd_512_mobilenet1_0_voc() {
    zoo("det_ssd_512_mobilenet1_0_voc");
}

#[test]
fn det_yolo3_mobilenet1_0_voc() {
    zoo("det_yolo3_mobilenet1_0_voc");
}

/// CenterNet: heatmap peaks (max pooling + broadcast_equal), topk, int64 div/mod decoding,
/// gather_nd (128x128 input).
#[test]
fn det_center_net_resnet18_v1b_voc() {
    zoo("det_center_net_resnet18_v1b_voc");
}

/// Faster R-CNN: RPN (box_decode, box_nms), ROIAlign, ResNet-50 layer4 per proposal, per-class
/// box_decode and box_nms (128x128 input, 16 RPN proposals instead of 300).
#[test]
fn det_faster_rcnn_resnet50_v1b_voc() {
    zoo("det_faster_rcnn_resnet50_v1b_voc");
}

/// GluonCV segmentation (issue 10): FCN at two input sizes and Fast-SCNN (random weights).
#[test]
fn fcn_resnet50_voc() {
    zoo("fcn_resnet50_voc");
}

#[test]
fn fcn_resnet50_voc_96() {
    zoo("fcn_resnet50_voc_96");
}

#[test]
fn fastscnn_citys() {
    zoo("fastscnn_citys");
}
