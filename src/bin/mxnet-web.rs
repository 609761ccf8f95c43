//! `mxnet-web`: run, inspect and benchmark MXNet models from the command line.
//!
//! ```text
//! mxnet-web run --symbol net-symbol.json --params net-0000.params --input data=x.npy --out out/
//! mxnet-web run net --epoch 0 --input data=x.npy --out out/          # Gluon export naming
//! mxnet-web inspect net-symbol.json net-0000.params --shape data=1,3,224,224
//! mxnet-web bench net --epoch 0 --shape data=1,3,224,224 --runs 20
//! ```
//! Outputs are written as `DIR/out_0.npy`, `DIR/out_1.npy`, ... (float32), one per graph head.
//! Any failure exits non-zero with the error on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mxnet_web::backend::ProfileClock;
use mxnet_web::format::npy::{read_npy, write_npy};
use mxnet_web::format::params::read_params;
use mxnet_web::format::symbol::parse_symbol;
use mxnet_web::graph::Graph;
use mxnet_web::model::{export_file_names, version_string, BackendChoice};
use mxnet_web::ops::Op;
use mxnet_web::{BindOptions, Error, Model, Precision, Result, Tensor};

#[derive(Parser)]
#[command(
    name = "mxnet-web",
    version,
    about = "Run and inspect Apache MXNet / Gluon models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a forward pass and write each output as DIR/out_N.npy.
    Run(RunArgs),
    /// Summarise symbol and/or params files.
    Inspect(InspectArgs),
    /// Time forward passes (median of --runs after --warmup).
    Bench(BenchArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Backend {
    Cpu,
    Webgpu,
    Auto,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum PrecisionArg {
    F32,
    F16,
}

#[derive(Args)]
struct ModelArgs {
    /// Gluon export prefix: loads PREFIX-symbol.json and PREFIX-EPOCH.params.
    prefix: Option<String>,
    /// Epoch of the params file with PREFIX.
    #[arg(long, default_value_t = 0)]
    epoch: u32,
    /// Symbol JSON file.
    #[arg(long)]
    symbol: Option<PathBuf>,
    /// Params file.
    #[arg(long)]
    params: Option<PathBuf>,
    /// Tolerate parameters missing from the params file.
    #[arg(long)]
    allow_missing: bool,
    /// Tolerate params-file keys that match no graph variable.
    #[arg(long)]
    ignore_extra: bool,
    /// Rename params-file keys starting with FROM to start with TO (repeatable; either may be empty).
    #[arg(long = "prefix-map", value_name = "FROM=TO")]
    prefix_map: Vec<String>,
    /// Backend: cpu (the reference), webgpu, or auto (WebGPU when a hardware adapter is found
    /// and the model fits it, else the CPU; a software renderer such as llvmpipe counts as no
    /// GPU; stderr says which ran and why).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// WebGPU only: f16 stores the weights of convolutions and FullyConnected layers in half
    /// precision (needs the device's shader-f16, else they stay f32 and stderr says so);
    /// activations and accumulation stay f32. The CPU backend is always f32.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
    /// Most memory a forward pass may take (activations + kernel scratch), e.g. 4G, 512M or
    /// bytes; default 16G or 3/4 of the RAM, whichever is smaller. Larger plans are refused
    /// before anything is allocated.
    #[arg(long = "memory-limit", value_name = "BYTES")]
    memory_limit: Option<String>,
    /// CPU threads (the calling thread included) for GEMM blocks, depthwise planes and
    /// im2col; default $MXNET_WEB_THREADS, else $MATMUL_NUM_THREADS, else min(4, cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: Option<u64>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// An input as NAME=FILE.npy (repeatable, in input order); a bare FILE.npy is named "data".
    #[arg(long = "input", value_name = "NAME=FILE.npy", required = true)]
    inputs: Vec<String>,
    /// Output directory (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Also print a summary of each output (shape, range, top entries).
    #[arg(long)]
    print: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// Symbol JSON and/or params files (a Gluon prefix also works with --epoch).
    files: Vec<PathBuf>,
    /// Epoch when a prefix is given.
    #[arg(long, default_value_t = 0)]
    epoch: u32,
    /// Input shapes as NAME=D1,D2,... (repeatable) to report output shapes and FLOPs.
    #[arg(long = "shape", value_name = "NAME=SHAPE")]
    shapes: Vec<String>,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input shapes as NAME=D1,D2,... (repeatable, in input order); random normal data.
    #[arg(long = "shape", value_name = "NAME=SHAPE", required = true)]
    shapes: Vec<String>,
    /// Timed runs.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Also time every step of one more forward and list the slowest: CPU, the host clock
    /// around each step; WebGPU, GPU timestamps where the adapter has `timestamp-query`, else
    /// the host time of one submit per step.
    #[arg(long)]
    profile: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Inspect(a) => cmd_inspect(a),
        Command::Bench(a) => cmd_bench(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn model_files(m: &ModelArgs) -> Result<(PathBuf, PathBuf)> {
    match (&m.prefix, &m.symbol, &m.params) {
        (Some(p), None, None) => {
            let (s, w) = export_file_names(p, m.epoch);
            Ok((s.into(), w.into()))
        }
        (None, Some(s), Some(p)) => Ok((s.clone(), p.clone())),
        (Some(_), _, _) => Err(Error::Input(
            "give either PREFIX or --symbol/--params, not both".into(),
        )),
        _ => Err(Error::Input(
            "give PREFIX (with --epoch) or both --symbol FILE and --params FILE".into(),
        )),
    }
}

fn load(m: &ModelArgs, input_names: Vec<String>) -> Result<Model> {
    let (symbol, params) = model_files(m)?;
    let opts = BindOptions {
        inputs: input_names,
        allow_missing: m.allow_missing,
        ignore_extra: m.ignore_extra,
        prefix_map: m
            .prefix_map
            .iter()
            .map(|s| BindOptions::parse_prefix_map(s))
            .collect::<Result<_>>()?,
    };
    let limit = m
        .memory_limit
        .as_deref()
        .map(mxnet_web::dims::parse_bytes)
        .transpose()?;
    if let Some(n) = m.threads {
        mxnet_web::backend::cpu::pool::set_threads(n as usize);
    }
    let mut model = Model::from_files(symbol, params, &opts)?;
    model.set_memory_limit(limit);
    let choice = match m.backend {
        Backend::Cpu => BackendChoice::Cpu,
        Backend::Webgpu => BackendChoice::WebGpu,
        Backend::Auto => BackendChoice::Auto,
    };
    model.set_precision(match m.precision {
        PrecisionArg::F32 => Precision::F32,
        PrecisionArg::F16 => Precision::F16,
    });
    model.set_backend_blocking(choice)?;
    if let Some(reason) = model.fallback_reason() {
        eprintln!("note: running on the CPU: {reason}");
    }
    if m.precision == PrecisionArg::F16 {
        if let Some(note) = model.precision_note() {
            eprintln!("note: {note}");
        } else if model.backend() == mxnet_web::model::Backend::Cpu {
            eprintln!("note: precision f16 applies to the WebGPU backend; the CPU runs f32");
        }
    }
    Ok(model)
}

fn parse_named<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n, v)),
        _ => Err(Error::Input(format!("{what} '{s}' must be NAME=VALUE"))),
    }
}

fn parse_shape(s: &str) -> Result<Vec<usize>> {
    s.trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| Error::Input(format!("bad dimension '{d}' in shape '{s}'")))
        })
        .collect()
}

fn cmd_run(a: RunArgs) -> Result<()> {
    let specs: Vec<(String, String)> = a
        .inputs
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((n, f)) => (n.to_string(), f.to_string()),
            None => ("data".to_string(), spec.clone()),
        })
        .collect();
    let mut model = load(&a.model, specs.iter().map(|s| s.0.clone()).collect())?;
    let mut tensors = Vec::new();
    for (_, file) in &specs {
        let bytes = std::fs::read(file).map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        tensors.push(read_npy(&bytes, file)?);
    }
    let outs = model.run(&tensors)?;
    std::fs::create_dir_all(&a.out).map_err(|source| Error::Io {
        path: a.out.display().to_string(),
        source,
    })?;
    for (i, t) in outs.iter().enumerate() {
        let path = a.out.join(format!("out_{i}.npy"));
        std::fs::write(&path, write_npy(t)?).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        if a.print {
            print_summary(i, t, &path);
        }
    }
    Ok(())
}

/// One output's shape, value range and, per row of the last axis, its largest entries.
fn print_summary(i: usize, t: &Tensor, path: &Path) {
    let (lo, hi) = t
        .data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    println!(
        "out_{i} {} min {lo:.4} max {hi:.4} -> {}",
        shape_str(&t.shape),
        path.display()
    );
    let last = t.shape.last().copied().unwrap_or(1).max(1);
    for (r, row) in t.data.chunks(last).take(4).enumerate() {
        let mut idx: Vec<usize> = (0..row.len()).collect();
        idx.sort_by(|&x, &y| row[y].total_cmp(&row[x]));
        let top: Vec<String> = idx
            .iter()
            .take(5)
            .map(|&k| format!("[{k}] {:.4}", row[k]))
            .collect();
        println!("  row {r}: top {}", top.join("  "));
    }
}

fn human_bytes(b: usize) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn shape_str(s: &[usize]) -> String {
    mxnet_web::error::fmt_shape(s)
}

fn cmd_inspect(a: InspectArgs) -> Result<()> {
    if a.files.is_empty() {
        return Err(Error::Input(
            "give a symbol JSON and/or params file (or a Gluon prefix)".into(),
        ));
    }
    let mut symbol: Option<PathBuf> = None;
    let mut params: Option<PathBuf> = None;
    for f in &a.files {
        if !f.exists() {
            // A Gluon prefix.
            let (s, p) = export_file_names(&f.display().to_string(), a.epoch);
            if Path::new(&s).exists() {
                symbol = Some(s.into());
                if Path::new(&p).exists() {
                    params = Some(p.into());
                }
                continue;
            }
            return Err(Error::Input(format!(
                "{} does not exist (neither a file nor a Gluon prefix)",
                f.display()
            )));
        }
        let bytes = std::fs::read(f).map_err(|source| Error::Io {
            path: f.display().to_string(),
            source,
        })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            symbol = Some(f.clone());
        } else {
            params = Some(f.clone());
        }
    }
    let mut shapes: Vec<(String, Vec<usize>)> = Vec::new();
    for s in &a.shapes {
        let (n, v) = parse_named(s, "--shape")?;
        shapes.push((n.to_string(), parse_shape(v)?));
    }

    if let Some(sym) = &symbol {
        let text = std::fs::read_to_string(sym).map_err(|source| Error::Io {
            path: sym.display().to_string(),
            source,
        })?;
        let name = sym.display().to_string();
        let raw = parse_symbol(&text, &name)?;
        let graph = Graph::from_raw(raw, &name)?;
        let n_ops = graph.nodes.iter().filter(|n| n.op().is_some()).count();
        println!("symbol   {name}");
        println!(
            "  written by MXNet {}{}",
            version_string(graph.version),
            if graph.version < 900 {
                " (pre-0.9: upgraded on load)"
            } else {
                ""
            }
        );
        println!(
            "  {} nodes, {} operators, {} outputs",
            graph.nodes.len(),
            n_ops,
            graph.heads.len()
        );

        // Inputs: variables absent from the params file (or all variables fed as Data without params).
        let file_params = match &params {
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|source| Error::Io {
                    path: p.display().to_string(),
                    source,
                })?;
                Some(read_params(&bytes, &p.display().to_string())?)
            }
            None => None,
        };
        let keys: Vec<String> = file_params
            .as_ref()
            .map(|f| {
                f.names
                    .iter()
                    .map(|n| mxnet_web::bind::strip_role(n).to_string())
                    .collect()
            })
            .unwrap_or_default();
        let roles = graph.variable_roles();
        let data_vars: Vec<String> = graph
            .variables()
            .filter(|v| {
                let n = &graph.nodes[*v].name;
                roles[v] == mxnet_web::ops::InputRole::Data && !keys.contains(n)
            })
            .map(|v| graph.nodes[v].name.clone())
            .collect();
        let input_names: Vec<String> = if shapes.is_empty() {
            data_vars.clone()
        } else {
            shapes.iter().map(|s| s.0.clone()).collect()
        };

        if let Some(pf) = file_params {
            let pname = params
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let opts = BindOptions {
                inputs: input_names.clone(),
                allow_missing: true,
                ignore_extra: true,
                prefix_map: vec![],
            };
            let model = Model::from_parts(graph, pf, &pname, &opts)?;
            let shape_list: Option<Vec<Vec<usize>>> = if shapes.is_empty() {
                None
            } else {
                Some(shapes.iter().map(|s| s.1.clone()).collect())
            };
            let info = model.info(shape_list.as_deref())?;
            print_info(&info);
            println!("params   {pname}");
            println!(
                "  {} arrays, {} values, {}",
                info.params.len(),
                info.param_count,
                human_bytes(info.param_bytes)
            );
            let missing = &model.bound().missing;
            if !missing.is_empty() {
                let g = &model.bound().graph;
                println!(
                    "  missing from the file: {}",
                    missing
                        .iter()
                        .map(|m| g.nodes[*m].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for (name, shape, dtype, role) in &info.params {
                println!(
                    "  {:<48} {:<20} {:<8} {:?}",
                    name,
                    shape_str(shape),
                    dtype,
                    role
                );
            }
        } else {
            println!("inputs   {}", input_names.join(", "));
            let mut counts = std::collections::BTreeMap::new();
            for n in &graph.nodes {
                if let Some(op) = n.op() {
                    *counts.entry(op.name()).or_insert(0usize) += 1;
                }
            }
            println!(
                "ops      {}",
                counts
                    .iter()
                    .map(|(k, v)| format!("{k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let families = Op::families(graph.nodes.iter().filter_map(|n| n.op()));
            println!("families {}", families_line(&families));
        }
    } else if let Some(p) = &params {
        let bytes = std::fs::read(p).map_err(|source| Error::Io {
            path: p.display().to_string(),
            source,
        })?;
        let pf = read_params(&bytes, &p.display().to_string())?;
        let total: usize = pf
            .arrays
            .iter()
            .map(|a| a.data.len() * a.dtype.size())
            .sum();
        println!("params   {}", p.display());
        println!(
            "  {} arrays{}, {}",
            pf.arrays.len(),
            if pf.names.is_empty() {
                " (unnamed list)"
            } else {
                ""
            },
            human_bytes(total)
        );
        for (i, arr) in pf.arrays.iter().enumerate() {
            let name = pf.names.get(i).cloned().unwrap_or_else(|| format!("[{i}]"));
            println!(
                "  {:<48} {:<20} {}",
                name,
                shape_str(&arr.shape),
                arr.dtype.name()
            );
        }
    }
    Ok(())
}

fn print_info(info: &mxnet_web::ModelInfo) {
    for (n, s) in &info.inputs {
        println!(
            "input    {n} {}",
            s.as_ref()
                .map(|s| shape_str(s))
                .unwrap_or_else(|| "(shape unknown: pass --shape NAME=D1,D2,...)".into())
        );
    }
    for (n, s) in &info.outputs {
        println!(
            "output   {n} {}",
            s.as_ref().map(|s| shape_str(s)).unwrap_or_default()
        );
    }
    println!(
        "ops      {}",
        info.op_counts
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("families {}", families_line(&info.op_families));
    if let Some(f) = info.flops {
        println!(
            "FLOPs    {:.3} G (2 per multiply-add; convolution, deconvolution, dense, dot)",
            f as f64 / 1e9
        );
    }
}

/// A small deterministic normal generator (Box–Muller over an xorshift), so benchmarks need no
/// extra dependency.
fn random_normal(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (next(), next());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect()
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let mut names = Vec::new();
    let mut shapes = Vec::new();
    for s in &a.shapes {
        let (n, v) = parse_named(s, "--shape")?;
        shapes.push(parse_shape(v)?);
        names.push(n.to_string());
    }
    let t0 = Instant::now();
    let mut model = load(&a.model, names)?;
    // Refuse shapes beyond the memory limit before allocating the random inputs.
    model.check_input_shapes(&shapes)?;
    let mut inputs = Vec::new();
    for (i, shape) in shapes.into_iter().enumerate() {
        let numel = mxnet_web::tensor::numel(&shape);
        inputs.push(Tensor::new(shape, random_normal(numel, 42 + i as u64))?);
    }
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    model.run(&inputs)?;
    let first_ms = t1.elapsed().as_secs_f64() * 1e3;
    for _ in 0..a.warmup {
        model.run(&inputs)?;
    }
    let mut times = Vec::with_capacity(a.runs);
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        model.run(&inputs)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|x, y| x.total_cmp(y));
    let median = times[times.len() / 2];
    println!("backend {}", model.backend().name());
    println!("precision {}", model.precision().name());
    #[cfg(feature = "webgpu")]
    if let Some(a) = model.gpu_adapter() {
        println!(
            "adapter {} ({}, {}; max binding {} MiB; shader-f16 {}; timestamp-query {}{})",
            a.name,
            a.backend,
            a.driver,
            a.max_binding_bytes >> 20,
            if a.shader_f16 { "yes" } else { "no" },
            if a.timestamp_query { "yes" } else { "no" },
            if a.software {
                "; software renderer"
            } else {
                ""
            }
        );
    }
    if let Some(r) = model.fallback_reason() {
        println!("fallback_reason {r}");
    }
    println!("load_ms {load_ms:.1}");
    println!("first_run_ms {first_ms:.2}");
    println!("median_ms {median:.2}");
    println!("min_ms {:.2}", times[0]);
    println!("runs {}", times.len());
    if a.profile {
        match model.profile_blocking(&inputs)? {
            Some(profile) => {
                let mut steps = profile.steps;
                let total: f64 = steps.iter().map(|s| s.1.as_secs_f64()).sum();
                steps.sort_by_key(|s| std::cmp::Reverse(s.1));
                let clock = match profile.clock {
                    ProfileClock::GpuTimestamps => "GPU timestamps",
                    ProfileClock::WallPerSubmit => "host time, one submit per step",
                    ProfileClock::HostPerStep => "host time per step",
                };
                println!(
                    "profile: {} steps, {:.2} ms in all ({clock}); slowest:",
                    steps.len(),
                    total * 1e3
                );
                for (label, d) in steps.iter().take(15) {
                    println!("  {:>9.3} ms  {label}", d.as_secs_f64() * 1e3);
                }
            }
            None => println!("profile: this backend is not profiled"),
        }
    }
    #[cfg(feature = "webgpu")]
    if let Some(st) = model.gpu_run_stats() {
        println!(
            "gpu_per_forward submits {} dispatches {} buffer_allocations {}",
            st.submits, st.dispatches, st.buffer_allocations
        );
    }
    Ok(())
}

/// `inspect`'s families line: `detection (_contrib_box_nms, …), recurrent (RNN), …`.
fn families_line(families: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    families
        .iter()
        .map(|(family, names)| format!("{family} ({})", names.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}
