// Shared by every kernel file (prepended at load time).
//
// Bindings: 0 = the uniform block `p` (declared by each file as `P`), 1..6 = read-only inputs,
// 8..10 = read-write outputs. Every buffer is an array<f32>; integer data (gather indices) is
// stored as i32 bit patterns and read with bitcast. A kernel's bind-group layout lists only the
// bindings it uses, so declaring all of them here is harmless.
// The one exception: `in1` is an array of `In1`, an alias generated per module (kernels.rs):
// f32, or f16 in the conv.wgsl and gemm.wgsl modules built for weights stored in half precision
// (precision "f16"). Those files read in1 only through `in1_f32`.
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<In1>;
@group(0) @binding(3) var<storage, read> in2: array<f32>;
@group(0) @binding(4) var<storage, read> in3: array<f32>;
@group(0) @binding(5) var<storage, read> in4: array<f32>;
@group(0) @binding(8) var<storage, read_write> out0: array<f32>;
@group(0) @binding(9) var<storage, read_write> out1: array<f32>;
@group(0) @binding(10) var<storage, read_write> out2: array<f32>;

fn in1_f32(i: u32) -> f32 {
    return f32(in1[i]);
}

// One-thread-per-element kernels run 256 threads per workgroup on a 2-D grid of workgroups
// (x wraps at the device's 65535 limit); this is the flat element index.
const WG: u32 = 256u;
fn flat_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * WG + lid;
}
// The flat workgroup index, for one-workgroup-per-row kernels.
fn flat_group(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.z * nwg.x * nwg.y + wg.y * nwg.x + wg.x;
}

// NaN and infinities built from bits: WGSL lets compilers assume finite arithmetic, so tests on
// special values go through the bit patterns.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}
// The bits live in private variables: a constant expression that evaluates to NaN or infinity is a
// compile error in browsers' WGSL compilers (Tint), so these must stay runtime values.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn f_nan() -> f32 {
    return bitcast<f32>(NAN_BITS);
}
fn f_inf() -> f32 {
    return bitcast<f32>(INF_BITS);
}
// Hex float: the decimal 3.40282347e38 is not exactly representable and browsers reject it.
const F32_MAX: f32 = 0x1.fffffep+127f;

fn flag(c: bool) -> f32 {
    return select(0.0, 1.0, c);
}

// The activations a convolution or a GEMM can fuse (src/ops/epilogue.rs), shared with the
// unfused ops.
// relu: NaN -> 0.
fn relu_(x: f32) -> f32 {
    return select(0.0, x, x > 0.0);
}
fn leaky_(x: f32, slope: f32) -> f32 {
    return select(x * slope, x, x > 0.0);
}
// clip: NaN passes through.
fn clip_(x: f32, lo: f32, hi: f32) -> f32 {
    return select(select(x, lo, x < lo), hi, x > hi);
}

// The activation of a fused epilogue: `op` is a kernel's pipeline constant OP, whose low bits
// are EPILOGUE_* codes (constant per pipeline, so the branches fold away).
fn fused_act(x: f32, op: u32, a: f32, b: f32) -> f32 {
    let act = op & EPILOGUE_ACT_MASK;
    if (act == EPILOGUE_RELU) {
        return relu_(x);
    } else if (act == EPILOGUE_LEAKY) {
        return leaky_(x, a);
    } else if (act == EPILOGUE_CLIP) {
        return clip_(x, a, b);
    }
    return x;
}

fn truthy(x: f32) -> bool {
    return x != 0.0 || is_nan(x);
}


// Casts as src/ops/elementwise.rs::cast_value does (values stay f32).
// x rounded to binary16 (nearest-even) and back; overflow to ±inf.
fn to_f16(x: f32) -> f32 {
    if (is_nan(x) || is_inf(x)) {
        return x;
    }
    let a = abs(x);
    var r: f32;
    if (a >= 65520.0) {
        r = f_inf();
    } else if (a < 6.10351562e-05) {
        // Subnormal halves: multiples of 2^-24.
        r = round(a * 16777216.0) * 5.96046448e-08;
    } else {
        let e = i32((bitcast<u32>(a) >> 23u) & 0xffu) - 127;
        let q = exp2(f32(e - 10));
        r = round(a / q) * q;
    }
    return select(r, -r, x < 0.0);
}

// x86 cvttss2si semantics: truncation; NaN and out-of-range give i32::MIN.
fn to_i32_x86(x: f32) -> i32 {
    if (is_nan(x) || x >= 2147483648.0 || x < -2147483648.0) {
        return i32(-2147483647) - 1;
    }
    return i32(trunc(x));
}

fn to_i64_x86(x: f32) -> f32 {
    if (is_nan(x) || x >= 9.223372e18 || x < -9.223372e18) {
        return -9.223372e18;
    }
    return trunc(x);
}

// The codes CAST_* are declared in src/backend/webgpu/wgsl.rs (with every family's own).
fn cast_to(code: u32, x: f32) -> f32 {
    switch code {
        case CAST_F32: { return x; }
        case CAST_F16: { return to_f16(x); }
        case CAST_BF16: { return bitcast<f32>(bitcast<u32>(x) & 0xffff0000u); }
        case CAST_BOOL: { return flag(truthy(x)); }
        case CAST_I32: { return f32(to_i32_x86(x)); }
        case CAST_I64: { return to_i64_x86(x); }
        case CAST_U8: { return f32(bitcast<u32>(to_i32_x86(x)) & 0xffu); }
        case CAST_I8: { return f32((to_i32_x86(x) << 24u) >> 24u); }
        case CAST_I16: { return f32((to_i32_x86(x) << 16u) >> 16u); }
        case CAST_U16: { return f32(bitcast<u32>(to_i32_x86(x)) & 0xffffu); }
        case CAST_U32: {
            let v = to_i64_x86(x);
            if (v == -9.223372e18) {
                return 0.0;
            }
            return v - floor(v / 4294967296.0) * 4294967296.0;
        }
        case CAST_U64: {
            let v = to_i64_x86(x);
            return select(v, v + 18446744073709551616.0, v < 0.0);
        }
        default: { return f_nan(); }
    }
}


// One step of K for a thread's 8×8 register tile (conv.wgsl's conv_igemm, gemm.wgsl's gemm):
// rows a0 (4) and a1 (4) times columns b0 (4) and b1 (4), 64 multiply-adds. Only constant indices
// touch `acc`, so it stays in registers.
fn tile8x8_step(acc: ptr<function, array<array<vec4<f32>, 2>, 8>>, a0: vec4<f32>, a1: vec4<f32>,
                b0: vec4<f32>, b1: vec4<f32>) {
    (*acc)[0][0] = fma(vec4<f32>(a0.x), b0, (*acc)[0][0]);
    (*acc)[0][1] = fma(vec4<f32>(a0.x), b1, (*acc)[0][1]);
    (*acc)[1][0] = fma(vec4<f32>(a0.y), b0, (*acc)[1][0]);
    (*acc)[1][1] = fma(vec4<f32>(a0.y), b1, (*acc)[1][1]);
    (*acc)[2][0] = fma(vec4<f32>(a0.z), b0, (*acc)[2][0]);
    (*acc)[2][1] = fma(vec4<f32>(a0.z), b1, (*acc)[2][1]);
    (*acc)[3][0] = fma(vec4<f32>(a0.w), b0, (*acc)[3][0]);
    (*acc)[3][1] = fma(vec4<f32>(a0.w), b1, (*acc)[3][1]);
    (*acc)[4][0] = fma(vec4<f32>(a1.x), b0, (*acc)[4][0]);
    (*acc)[4][1] = fma(vec4<f32>(a1.x), b1, (*acc)[4][1]);
    (*acc)[5][0] = fma(vec4<f32>(a1.y), b0, (*acc)[5][0]);
    (*acc)[5][1] = fma(vec4<f32>(a1.y), b1, (*acc)[5][1]);
    (*acc)[6][0] = fma(vec4<f32>(a1.z), b0, (*acc)[6][0]);
    (*acc)[6][1] = fma(vec4<f32>(a1.z), b1, (*acc)[6][1]);
    (*acc)[7][0] = fma(vec4<f32>(a1.w), b0, (*acc)[7][0]);
    (*acc)[7][1] = fma(vec4<f32>(a1.w), b1, (*acc)[7][1]);
}
