//! Times the CPU backend's GEMM on the products convolutions make, two ways: `gemm` (packs both
//! operands on every call, as for dot, batch_dot and dense layers) and `gemm_packed` with the
//! weight packed once (as the CPU backend does per convolution). Prints medians of alternated
//! runs and the ratio prepacked / per-call (below 1: packing the weight once saves that much).
//!
//! `cargo run --release --example gemm_bench [-- --threads N]`; `SHAPE=MxKxN` times that
//! product only.

use std::time::Instant;

use mxnet_web::backend::cpu::gemm::{gemm, MatRef};
use mxnet_web::backend::cpu::packed::{gemm_packed, Finish, PackedA};
use mxnet_web::backend::cpu::pool;

/// Medians in ms of `f` and `g`, timed alternately (a load change on the machine hits both).
fn medians_ms(mut f: impl FnMut(), mut g: impl FnMut(), runs: usize) -> (f64, f64) {
    f();
    g();
    let time = |h: &mut dyn FnMut()| {
        let s = Instant::now();
        h();
        s.elapsed().as_secs_f64() * 1e3
    };
    let (mut tf, mut tg) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        tf.push(time(&mut f));
        tg.push(time(&mut g));
    }
    let median = |mut t: Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    (median(tf), median(tg))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    pool::set_threads(threads);
    println!("threads {}", pool::threads());
    println!("| m × k × n | gemm (packs A per call) | A prepacked | ratio |");
    println!("|---|---|---|---|");
    // (m, k, n): ResNet-18 conv0 / stage 1-4 3×3, MobileNet 1×1, a dense layer at batch 8.
    let only: Option<(usize, usize, usize)> = std::env::var("SHAPE").ok().and_then(|v| {
        let d: Vec<usize> = v.split('x').filter_map(|x| x.parse().ok()).collect();
        (d.len() == 3).then(|| (d[0], d[1], d[2]))
    });
    let shapes = [
        (48, 256, 64),
        (64, 147, 12544),
        (64, 576, 3136),
        (128, 1152, 784),
        (256, 2304, 196),
        (512, 4608, 49),
        (128, 128, 3136),
        (512, 512, 196),
        (1024, 1024, 49),
        (96, 16, 12544),
        (24, 144, 3136),
        (1000, 512, 8),
    ];
    for &(m, k, n) in only
        .as_slice()
        .iter()
        .chain(shapes.iter().filter(|_| only.is_none()))
    {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let runs = (2e9 / (2.0 * (m * k * n) as f64)).clamp(5.0, 200.0) as usize;
        let packed = PackedA::new(MatRef::row_major(&a, k), m, k);
        let mut c2 = c.clone();
        let (mm, pk) = medians_ms(
            || {
                gemm(
                    m,
                    k,
                    n,
                    1.0,
                    MatRef::row_major(&a, k),
                    MatRef::row_major(&b, n),
                    0.0,
                    &mut c,
                    n,
                )
            },
            || {
                gemm_packed(
                    &packed,
                    n,
                    MatRef::row_major(&b, n),
                    0.0,
                    &mut c2,
                    n,
                    &Finish::default(),
                )
            },
            runs,
        );
        let gflops = |ms: f64| 2.0 * (m * k * n) as f64 / ms / 1e6;
        println!(
            "| {m} × {k} × {n} | {mm:.3} ms ({:.0} GFLOP/s) | {pk:.3} ms ({:.0} GFLOP/s) | {:.2} |",
            gflops(mm),
            gflops(pk),
            pk / mm
        );
    }
}
