//! Compute kernels: which WGSL file and entry point each one is, its binding signature, and the
//! cache of shader modules, bind-group layouts and pipelines (one pipeline per kernel for the
//! lifetime of the context: shapes travel in uniforms, never in the shader source).
//!
//! Binding convention shared by every shader (declared once in `shaders/common.wgsl`):
//! `@binding(0)` the uniform block `p` (at most [`UNIFORM_BYTES`] bytes), `@binding(1..=6)`
//! read-only inputs `in0..in5`, `@binding(8..=10)` read-write outputs `out0..out2`, all
//! `array<f32>` (integer data such as gather indices is stored as `i32` bit patterns), except
//! that conv.wgsl and gemm.wgsl also build with `in1` an `array<f16>` for weights stored in half
//! precision ([`Kernel::with_f16_weights`]). A kernel's layout lists only the bindings it uses.

use std::collections::HashMap;

use super::wgsl::*;
use crate::error::{Error, Result};

/// Bytes of uniform data per dispatch (every shader's `P` struct fits).
pub(crate) const UNIFORM_BYTES: u64 = 256;
/// Binding number of the first output.
pub(crate) const FIRST_OUTPUT_BINDING: u32 = 8;
/// Workgroup size of the one-thread-per-element kernels.
pub(crate) const LINEAR_WG: u32 = 256;

/// A shader of `shaders/` as embedded: comments and indentation removed by `build.rs`.
macro_rules! shader {
    ($file:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/shaders/", $file))
    };
}

const COMMON: &str = shader!("common.wgsl");

/// The shader families: each variant with its file under `shaders/`, named once, and the
/// declarations shared with Rust (uniform blocks, code tables: see `wgsl.rs`) that its source
/// uses.
macro_rules! families {
    ($($variant:ident => $file:literal [$($decl:ty),* $(,)?]),* $(,)?) => {
        /// The shader files (one per kernel family).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Family {
            $($variant),*
        }

        impl Family {
            #[cfg(test)]
            const ALL: &'static [Family] = &[$(Family::$variant),*];

            fn source(self) -> &'static str {
                match self {
                    $(Family::$variant => shader!($file)),*
                }
            }

            /// The WGSL declarations generated from Rust that this family uses.
            fn declarations(self) -> &'static [&'static str] {
                match self {
                    $(Family::$variant => &[$(<$decl as Declared>::WGSL),*]),*
                }
            }

            /// (name, size) of the declarations that this family uses (size 0: codes).
            #[cfg(test)]
            fn declared(self) -> &'static [(&'static str, usize)] {
                match self {
                    $(Family::$variant => &[$((<$decl as Declared>::NAME, <$decl as Declared>::SIZE)),*]),*
                }
            }

            fn file(self) -> &'static str {
                match self {
                    $(Family::$variant => $file),*
                }
            }
        }
    };
}

families! {
    Copy => "copy.wgsl" [CopyParams],
    Elementwise => "elementwise.wgsl" [ElementwiseParams, Unary, Binary, MapCode],
    Gemm => "gemm.wgsl" [GemmParams, GemmBias, GemmTiling],
    Conv => "conv.wgsl" [ConvParams, ConvVariant, ConvTiling],
    Pool => "pool.wgsl" [PoolParams, PoolMode],
    Norm => "norm.wgsl" [NormParams, NormCode],
    Softmax => "softmax.wgsl" [SoftmaxParams, SoftmaxFlags],
    Reduce => "reduce.wgsl" [ReduceParams, TopkParams, ReduceCode, TopkRet],
    Index => "index.wgsl" [IndexParams, IndexModeCode],
    Detection => "detection.wgsl" [DetectionParams, DetectionFlags, RoiFlags],
    Rnn => "rnn.wgsl" [RnnParams, RnnCell],
    Resize => "resize.wgsl" [ResizeParams],
    Nlp => "nlp.wgsl" [NlpParams, SequenceCode, AttentionCode],
}

impl Family {
    /// The WGSL module of this family: `common.wgsl`, the generated declarations (on the line
    /// that separates the two files, so a compile error's line number stays the line in
    /// `shaders/<file>` after `common.wgsl`'s lines) and the family's file. With `in1_f16`,
    /// the `in1` binding holds f16 values (`enable f16;` goes first, on common.wgsl's first
    /// line, so line numbers do not move).
    fn module_source(self, in1_f16: bool) -> String {
        // common.wgsl's own
        let (cast, epilogue) = (<Cast as Declared>::WGSL, <EpilogueCode as Declared>::WGSL);
        let (enable, in1) = if in1_f16 {
            ("enable f16;", "f16")
        } else {
            ("", "f32")
        };
        format!(
            "{enable}{COMMON}{cast}{epilogue}alias In1={in1};{}\n{}",
            self.declarations().concat(),
            self.source()
        )
    }

    /// Whether this family's file reads `in1` only through `in1_f32`, so that it also builds
    /// with `in1` in f16 (its kernels' weights).
    const fn reads_in1_as_f32(self) -> bool {
        matches!(self, Family::Conv | Family::Gemm)
    }
}

/// One compute entry point with its binding signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Kernel {
    pub family: Family,
    pub entry: &'static str,
    pub inputs: u32,
    pub outputs: u32,
    /// `in1` (the weights of convolutions and FullyConnected) is an `array<f16>`.
    pub in1_f16: bool,
}

macro_rules! kernels {
    ($($name:ident = $family:ident :: $entry:literal ($inputs:literal -> $outputs:literal);)*) => {
        $(pub(crate) const $name: Kernel = Kernel { family: Family::$family, entry: $entry, inputs: $inputs, outputs: $outputs, in1_f16: false };)*
    };
}

kernels! {
    // copy.wgsl: data movement
    STRIDED_COPY = Copy::"strided_copy"(1 -> 1);
    GATHER_INDEX = Copy::"gather_index"(2 -> 1);
    FILL = Copy::"fill"(0 -> 1);
    // elementwise.wgsl
    MAP = Elementwise::"map"(1 -> 1);
    BINARY = Elementwise::"binary"(2 -> 1);
    ACCUMULATE = Elementwise::"accumulate"(1 -> 1);
    WHERE = Elementwise::"where_select"(3 -> 1);
    // gemm.wgsl
    GEMM = Gemm::"gemm"(4 -> 1);
    GEMV = Gemm::"gemv"(4 -> 1);
    // conv.wgsl
    CONV = Conv::"conv_igemm"(4 -> 1);
    CONV_GEMV = Conv::"conv_gemv"(4 -> 1);
    CONV_DEPTHWISE = Conv::"conv_depthwise"(4 -> 1);
    DECONV = Conv::"deconv"(3 -> 1);
    // pool.wgsl
    POOL = Pool::"pool"(1 -> 1);
    // norm.wgsl
    BATCH_NORM = Norm::"batch_norm"(5 -> 1);
    BATCH_NORM_STATS = Norm::"batch_norm_stats"(2 -> 2);
    ROW_NORM = Norm::"row_norm"(3 -> 3);
    LRN = Norm::"lrn"(1 -> 1);
    // softmax.wgsl
    SOFTMAX = Softmax::"softmax"(2 -> 1);
    // reduce.wgsl
    REDUCE = Reduce::"reduce"(1 -> 1);
    TOPK = Reduce::"topk"(1 -> 2);
    // index.wgsl
    TAKE = Index::"take"(2 -> 1);
    PICK = Index::"pick"(2 -> 1);
    ONE_HOT = Index::"one_hot"(1 -> 1);
    // detection.wgsl
    BOX_DECODE = Detection::"box_decode"(2 -> 1);
    BOX_ENCODE = Detection::"box_encode"(6 -> 2);
    SORT_INIT = Detection::"sort_init"(0 -> 1);
    SORT_STEP = Detection::"sort_step"(1 -> 1);
    BOX_NMS = Detection::"box_nms"(2 -> 2);
    MBD_CANDIDATES = Detection::"mbd_candidates"(3 -> 1);
    MBD_COMPACT = Detection::"mbd_compact"(1 -> 2);
    MBD_NMS = Detection::"mbd_nms"(3 -> 1);
    GATHER_ND = Detection::"gather_nd"(3 -> 1);
    ROI_ALIGN = Detection::"roi_align"(2 -> 1);
    ROI_POOL = Detection::"roi_pool"(2 -> 1);
    // rnn.wgsl
    RNN_INPUT = Rnn::"rnn_input"(2 -> 1);
    RNN_RECUR = Rnn::"rnn_recur"(3 -> 3);
    // resize.wgsl
    BILINEAR = Resize::"bilinear"(1 -> 1);
    ADAPTIVE_AVG = Resize::"adaptive_avg"(1 -> 1);
    // nlp.wgsl
    SEQUENCE = Nlp::"sequence"(2 -> 1);
    INTERLEAVED_QK = Nlp::"interleaved_qk"(2 -> 1);
    INTERLEAVED_VALATT = Nlp::"interleaved_valatt"(2 -> 1);
    DIV_SCALAR = Nlp::"div_scalar"(1 -> 1);
}

impl Kernel {
    /// `file::entry`, for messages.
    pub fn describe(&self) -> String {
        let half = if self.in1_f16 { " (f16 weights)" } else { "" };
        format!("{}::{}{half}", self.family.file(), self.entry)
    }

    /// This kernel reading its weights (`in1`) from an f16 buffer when `half` (only conv.wgsl's
    /// and gemm.wgsl's kernels can: [`KernelCache::pipeline`] refuses the others).
    pub fn with_f16_weights(self, half: bool) -> Kernel {
        Kernel {
            in1_f16: half,
            ..self
        }
    }
}

/// Cached GPU objects, created on first use.
#[derive(Default)]
pub(crate) struct KernelCache {
    modules: HashMap<(Family, bool), wgpu::ShaderModule>,
    layouts: HashMap<(u32, u32), (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    pipelines: HashMap<(Kernel, Option<u32>), wgpu::ComputePipeline>,
}

impl KernelCache {
    /// The bind-group layout for `inputs` read-only and `outputs` read-write storage buffers.
    pub fn layout(
        &mut self,
        device: &wgpu::Device,
        inputs: u32,
        outputs: u32,
    ) -> wgpu::BindGroupLayout {
        self.layout_pair(device, inputs, outputs).0.clone()
    }

    fn layout_pair(
        &mut self,
        device: &wgpu::Device,
        inputs: u32,
        outputs: u32,
    ) -> &(wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        self.layouts.entry((inputs, outputs)).or_insert_with(|| {
            let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            };
            let mut entries = vec![wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }];
            entries.extend((0..inputs).map(|i| storage(1 + i, true)));
            entries.extend((0..outputs).map(|i| storage(FIRST_OUTPUT_BINDING + i, false)));
            let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&format!("mxnet-web {inputs}in/{outputs}out")),
                entries: &entries,
            });
            let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: None,
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            });
            (bgl, pl)
        })
    }

    /// The compute pipeline of `kernel` (compiling its shader file on first use), specialised
    /// with the pipeline constant `OP = spec` when given: kernels that switch on an op code
    /// (elementwise maps, reductions, pooling modes) then compile to straight-line code, which
    /// matters for compilers that cannot hoist a uniform switch (llvmpipe runs every case).
    pub fn pipeline(
        &mut self,
        device: &wgpu::Device,
        kernel: Kernel,
        spec: Option<u32>,
    ) -> Result<wgpu::ComputePipeline> {
        if let Some(p) = self.pipelines.get(&(kernel, spec)) {
            return Ok(p.clone());
        }
        if kernel.in1_f16 && !kernel.family.reads_in1_as_f32() {
            return Err(Error::Backend(format!(
                "{} cannot read f16 weights",
                kernel.describe()
            )));
        }
        let module = self
            .modules
            .entry((kernel.family, kernel.in1_f16))
            .or_insert_with(|| {
                let source = kernel.family.module_source(kernel.in1_f16);
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.family.file()),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
            })
            .clone();
        let layout = self
            .layout_pair(device, kernel.inputs, kernel.outputs)
            .1
            .clone();
        let constants: Vec<(&str, f64)> = spec.map(|v| ("OP", v as f64)).into_iter().collect();
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.entry),
            layout: Some(&layout),
            module: &module,
            entry_point: Some(kernel.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                // Every kernel writes its workgroup memory before reading it.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        self.pipelines.insert((kernel, spec), pipeline.clone());
        Ok(pipeline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::naga;

    /// Every family's module (common.wgsl, the declarations generated from Rust, its file)
    /// parses and validates, and every uniform block has the same size in WGSL as in Rust.
    #[test]
    fn generated_declarations_validate_and_match_rust_layouts() {
        let f16_variants = Family::ALL
            .iter()
            .filter(|f| f.reads_in1_as_f32())
            .map(|&f| (f, true));
        for (family, in1_f16) in Family::ALL.iter().map(|&f| (f, false)).chain(f16_variants) {
            let source = family.module_source(in1_f16);
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{}: {}", family.file(), e.emit_to_string(&source)));
            let caps = if in1_f16 {
                naga::valid::Capabilities::SHADER_FLOAT16
            } else {
                naga::valid::Capabilities::empty()
            };
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
                .validate(&module)
                .unwrap_or_else(|e| panic!("{}: {}", family.file(), e.emit_to_string(&source)));
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).expect("layout");
            for &(name, size) in family.declared() {
                if size == 0 {
                    continue;
                }
                let (handle, _) = module
                    .types
                    .iter()
                    .find(|(_, t)| t.name.as_deref() == Some(name))
                    .unwrap_or_else(|| panic!("{}: no struct {name}", family.file()));
                assert_eq!(
                    layouter[handle].size as usize,
                    size,
                    "{}: WGSL size of {name}",
                    family.file()
                );
            }
        }
    }

    /// Line numbers: the generated declarations take the line between common.wgsl and the
    /// family's file, as the blank line did before.
    #[test]
    fn declarations_keep_line_numbers() {
        for &family in Family::ALL {
            let lines = family
                .module_source(family.reads_in1_as_f32())
                .lines()
                .count();
            assert_eq!(
                lines,
                COMMON.lines().count() + 1 + family.source().lines().count(),
                "{}",
                family.file()
            );
        }
    }
}
