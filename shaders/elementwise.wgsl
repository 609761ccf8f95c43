// Elementwise operators: unary math, scalar ops, activations, Cast, clip (entry `map`); binary
// and broadcasting binary ops (entry `binary`); add_n (`accumulate`); where (`where_select`).
// Semantics follow src/ops/elementwise.rs and src/ops/activation.rs (the CPU reference); the
// special functions are f32 approximations accurate to ~1e-6 relative.

struct P {
    n: u32,
    op: u32,
    rank: u32,       // binary: axes of the output shape (<= 8); 0 = same-shape fast path
    _pad0: u32,
    a: f32,          // map: first parameter (scalar, slope, alpha, a_min, cast code bits...)
    b: f32,          // map: second parameter (beta, a_max...)
    off0: u32,       // element offsets of in0, in1, in2 and out0
    off1: u32,
    off2: u32,
    off_out: u32,
    _pad1: u32,
    _pad2: u32,
    shape: array<vec4<u32>, 2>,   // output shape (binary / where)
    strides0: array<vec4<u32>, 2>, // element strides of in0 per output axis (0 = broadcast)
    strides1: array<vec4<u32>, 2>,
    strides2: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: P;

// The op code baked into a specialised pipeline (the uniform's `op` otherwise).
override OP: u32 = 0xffffffffu;
fn op_code() -> u32 {
    return select(p.op, OP, OP != 0xffffffffu);
}

// ---------------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------------

const PI: f32 = 3.14159265358979;
const LN2: f32 = 0.693147180559945;

fn expm1_(x: f32) -> f32 {
    if (abs(x) < 1e-5) {
        return x + 0.5 * x * x;
    }
    let u = exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    if (is_inf(u)) {
        return u;
    }
    return um1 * x / log(u);
}

fn log1p_(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    if (is_inf(u)) {
        return u;
    }
    return log(u) * x / (u - 1.0);
}

fn tanh_(x: f32) -> f32 {
    let a = abs(x);
    if (a < 0.4) {
        let x2 = x * x;
        // Taylor series of tanh up to x^11.
        return x * (1.0 + x2 * (-0.333333333 + x2 * (0.133333333 + x2 * (-0.0539682540 + x2 * (0.0218694885 + x2 * -0.00886323553)))));
    }
    if (a > 10.0) {
        return sign(x);
    }
    return sign(x) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

fn sinh_(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        let x2 = x * x;
        return x * (1.0 + x2 * (0.166666667 + x2 * (0.00833333333 + x2 * (0.000198412698 + x2 * 2.75573192e-6))));
    }
    let e = exp(abs(x));
    return sign(x) * 0.5 * (e - 1.0 / e);
}

fn asinh_(x: f32) -> f32 {
    let a = abs(x);
    var r: f32;
    if (a > 1e18) {
        r = log(a) + LN2;
    } else {
        r = log1p_(a + a * a / (1.0 + sqrt(1.0 + a * a)));
    }
    return select(r, -r, x < 0.0);
}

fn acosh_(x: f32) -> f32 {
    if (x < 1.0) {
        return f_nan();
    }
    if (x > 1e18) {
        return log(x) + LN2;
    }
    let t = x - 1.0;
    return log1p_(t + sqrt(2.0 * t + t * t));
}

fn atanh_(x: f32) -> f32 {
    return 0.5 * log1p_(2.0 * x / (1.0 - x));
}

// Cephes atanf: range reduction to |x| <= tan(π/8), then a degree-9 odd polynomial (~1e-7).
fn atan_(x: f32) -> f32 {
    let a = abs(x);
    var y = 0.0;
    var t = a;
    if (a > 2.41421356) {
        y = 1.57079633;
        t = -1.0 / a;
    } else if (a > 0.414213562) {
        y = 0.785398163;
        t = (a - 1.0) / (a + 1.0);
    }
    let z = t * t;
    y = y + ((((0.0805374449538 * z - 0.138776856032) * z + 0.199777106478) * z - 0.333329491539) * z * t + t);
    return select(y, -y, x < 0.0);
}

fn asin_(x: f32) -> f32 {
    if (abs(x) > 1.0) {
        return f_nan();
    }
    return atan_(x / sqrt((1.0 - x) * (1.0 + x)));
}

fn acos_(x: f32) -> f32 {
    if (abs(x) > 1.0) {
        return f_nan();
    }
    if (x == -1.0) {
        return PI;
    }
    return 2.0 * atan_(sqrt((1.0 - x) / (1.0 + x)));
}

fn erf_(x: f32) -> f32 {
    let a = abs(x);
    if (a < 0.5) {
        let x2 = x * x;
        // 2/sqrt(pi) · Σ (-1)^n x^(2n+1) / (n! (2n+1))
        return 1.12837917 * x * (1.0 + x2 * (-0.333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.00462962963 + x2 * (-0.000757575758 + x2 * 0.000106837607))))));
    }
    if (a > 6.0) {
        return sign(x);
    }
    // erfc by Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7).
    let t = 1.0 / (1.0 + 0.5 * a);
    let erfc = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return sign(x) * (1.0 - erfc);
}

fn erfinv_(x: f32) -> f32 {
    if (is_nan(x) || abs(x) > 1.0) {
        return f_nan();
    }
    if (abs(x) == 1.0) {
        return x * f_inf();
    }
    // M. Giles, "Approximating the erfinv function" (single precision).
    var w = -log((1.0 - x) * (1.0 + x));
    var r: f32;
    if (w < 5.0) {
        w = w - 2.5;
        r = 2.81022636e-08;
        r = 3.43273939e-07 + r * w;
        r = -3.5233877e-06 + r * w;
        r = -4.39150654e-06 + r * w;
        r = 0.00021858087 + r * w;
        r = -0.00125372503 + r * w;
        r = -0.00417768164 + r * w;
        r = 0.246640727 + r * w;
        r = 1.50140941 + r * w;
    } else {
        w = sqrt(w) - 3.0;
        r = -0.000200214257;
        r = 0.000100950558 + r * w;
        r = 0.00134934322 + r * w;
        r = -0.00367342844 + r * w;
        r = 0.00573950773 + r * w;
        r = -0.0076224613 + r * w;
        r = 0.00943887047 + r * w;
        r = 1.00167406 + r * w;
        r = 2.83297682 + r * w;
    }
    return r * x;
}

// ln Γ(x) for x > 0: shift to x >= 8, then Stirling's series.
fn lgamma_pos(x: f32) -> f32 {
    var y = x;
    var prod = 1.0;
    while (y < 8.0) {
        prod = prod * y;
        y = y + 1.0;
    }
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let series = inv * (0.0833333333 + inv2 * (-0.00277777778 + inv2 * (0.000793650794 + inv2 * -0.000595238095)));
    return (y - 0.5) * log(y) - y + 0.918938533 + series - log(prod);
}

// sin and cos with our own argument reduction and polynomials: WGSL only bounds the builtins'
// error within [-π, π] (2^-11 absolute), and browsers' compilers (SwiftShader) are that coarse.
// Cody–Waite reduction by π/2 in three parts, then Cephes' single-precision minimax polynomials
// on [-π/4, π/4]; accurate to a few ulp for |x| up to ~1e5.
fn sincos_reduced(x: f32) -> vec3<f32> {
    let j = round(x * 0.636619772);
    let r = ((x - j * 1.5703125) - j * 4.837512969970703125e-4) - j * 7.549789954891882e-8;
    let z = r * r;
    let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
    // Quadrant j mod 4 (j may be negative).
    let q = f32(i32(j) & 3);
    return vec3<f32>(s, c, q);
}
fn sin_(x: f32) -> f32 {
    let v = sincos_reduced(x);
    switch (u32(v.z)) {
        case 0u: { return v.x; }
        case 1u: { return v.y; }
        case 2u: { return -v.x; }
        default: { return -v.y; }
    }
}
fn cos_(x: f32) -> f32 {
    let v = sincos_reduced(x);
    switch (u32(v.z)) {
        case 0u: { return v.y; }
        case 1u: { return -v.x; }
        case 2u: { return -v.y; }
        default: { return v.x; }
    }
}

// sin(π x) with the argument reduced exactly first.
fn sinpi_(x: f32) -> f32 {
    let r = x - 2.0 * floor(x * 0.5);
    return sin_(PI * r);
}

fn gamma_(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    if (x == 0.0) {
        // ±∞ by the sign of zero.
        return select(f_inf(), -f_inf(), (bitcast<u32>(x) & 0x80000000u) != 0u);
    }
    if (x < 0.0 && floor(x) == x) {
        return f_nan();
    }
    if (x < 0.5) {
        // Reflection: Γ(x) = π / (sin(πx) Γ(1 − x)).
        return PI / (sinpi_(x) * exp(lgamma_pos(1.0 - x)));
    }
    if (x > 35.5) {
        return f_inf();
    }
    return exp(lgamma_pos(x));
}

fn lgamma_(x: f32) -> f32 {
    if (is_nan(x)) {
        return x;
    }
    if (x <= 0.0 && floor(x) == x) {
        return f_inf();
    }
    if (x < 0.5) {
        return log(PI / abs(sinpi_(x))) - lgamma_pos(1.0 - x);
    }
    return lgamma_pos(x);
}

fn cbrt_(x: f32) -> f32 {
    if (x == 0.0 || is_nan(x) || is_inf(x)) {
        return x;
    }
    let a = abs(x);
    var y = exp2(log2(a) / 3.0);
    y = y - (y * y * y - a) / (3.0 * y * y);
    return select(y, -y, x < 0.0);
}

// C powf semantics: pow(x, 0) = 1 and pow(1, y) = 1 even for NaN; negative bases need an integer
// exponent (odd exponents keep the sign).
fn pow_(a: f32, b: f32) -> f32 {
    if (b == 0.0 || a == 1.0) {
        return 1.0;
    }
    if (is_nan(a) || is_nan(b)) {
        return f_nan();
    }
    let ab = abs(a);
    if (a == 0.0) {
        if (b > 0.0) {
            let odd = floor(b) == b && (abs(b) < 16777216.0) && (i32(b) & 1) == 1;
            return select(0.0, a, odd);
        }
        let odd = floor(b) == b && (abs(b) < 16777216.0) && (i32(b) & 1) == 1;
        return select(f_inf(), select(f_inf(), -f_inf(), (bitcast<u32>(a) & 0x80000000u) != 0u), odd);
    }
    if (is_inf(b)) {
        if (ab == 1.0) {
            return 1.0;
        }
        if ((ab > 1.0) == (b > 0.0)) {
            return f_inf();
        }
        return 0.0;
    }
    let is_int = floor(b) == b;
    if (a < 0.0 && !is_int) {
        return f_nan();
    }
    var r: f32;
    if (is_int && abs(b) <= 64.0) {
        // Exact-ish repeated squaring for small integer exponents.
        var e = u32(abs(b));
        var base = ab;
        r = 1.0;
        loop {
            if (e == 0u) {
                break;
            }
            if ((e & 1u) == 1u) {
                r = r * base;
            }
            base = base * base;
            e = e >> 1u;
        }
        if (b < 0.0) {
            r = 1.0 / r;
        }
    } else {
        r = exp2(b * log2(ab));
    }
    let odd = is_int && abs(b) < 16777216.0 && (i32(b) & 1) == 1;
    return select(r, -r, a < 0.0 && odd);
}

fn hypot_(a: f32, b: f32) -> f32 {
    let x = abs(a);
    let y = abs(b);
    if (is_inf(x) || is_inf(y)) {
        return f_inf();
    }
    let m = max(x, y);
    let n = min(x, y);
    if (m == 0.0) {
        return 0.0;
    }
    let r = n / m;
    return m * sqrt(1.0 + r * r);
}

// Python-style modulo (sign of the divisor), 0 for a zero divisor.
fn mod_(a: f32, b: f32) -> f32 {
    if (b == 0.0) {
        return 0.0;
    }
    var r = a - b * trunc(a / b);
    if (abs(r) >= abs(b)) {
        r = 0.0;
    }
    // Integer-valued operands (integer tensors, CenterNet's index arithmetic): the f32 quotient
    // above is inexact past 2^24; i32 remainder is exact (the CPU computes fmod in f64).
    if (a == trunc(a) && b == trunc(b) && abs(a) < 2147483648.0 && abs(b) < 2147483648.0) {
        r = f32(i32(a) % i32(b));
    }
    if (r != 0.0 && ((r < 0.0) != (b < 0.0))) {
        r = r + b;
    }
    return r;
}

fn round_away_(x: f32) -> f32 {
    let t = trunc(x);
    if (abs(x - t) >= 0.5) {
        return t + sign(x);
    }
    return t;
}

// ---------------------------------------------------------------------------------------------
// Op tables (codes match src/backend/webgpu/lower/elementwise.rs)
// ---------------------------------------------------------------------------------------------

fn unary(op: u32, x: f32) -> f32 {
    switch op {
        case 0u: { return abs(x); }
        case 1u: { return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
        case 2u: { return -x; }
        case 3u: { return 1.0 / x; }
        case 4u: { return x * x; }
        case 5u: { return sqrt(x); }
        case 6u: { return 1.0 / sqrt(x); }
        case 7u: { return cbrt_(x); }
        case 8u: { return 1.0 / cbrt_(x); }
        case 9u: { return exp(x); }
        case 10u: { return expm1_(x); }
        case 11u: { return log(x); }
        case 12u: { return log2(x); }
        case 13u: { return log2(x) * 0.301029996; }
        case 14u: { return log1p_(x); }
        case 15u: { return sin_(x); }
        case 16u: { return cos_(x); }
        case 17u: { return sin_(x) / cos_(x); }
        case 18u: { return asin_(x); }
        case 19u: { return acos_(x); }
        case 20u: { return atan_(x); }
        case 21u: { return sinh_(x); }
        case 22u: { let e = exp(abs(x)); return 0.5 * (e + 1.0 / e); }
        case 23u: { return tanh_(x); }
        case 24u: { return asinh_(x); }
        case 25u: { return acosh_(x); }
        case 26u: { return atanh_(x); }
        case 27u: { return x * 57.2957795; }
        case 28u: { return x * 0.0174532925; }
        case 29u: { return floor(x); }
        case 30u: { return ceil(x); }
        case 31u: { return round_away_(x); }
        case 32u: {
            let lo = floor(x);
            let hi = ceil(x);
            return select(hi, lo, x - lo <= hi - x);
        }
        case 33u, 34u: { return trunc(x); }
        case 35u: { return erf_(x); }
        case 36u: { return erfinv_(x); }
        case 37u: { return gamma_(x); }
        case 38u: { return lgamma_(x); }
        case 39u: { return select(0.0, x, is_nan(x) || x > 0.0); }
        case 40u: { return 1.0 / (1.0 + exp(-x)); }
        case 41u: { return x / (1.0 + abs(x)); }
        case 42u: { return flag(x == 0.0 && !is_nan(x)); }
        default: { return f_nan(); }
    }
}

fn binop(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return a + b; }
        case 1u: { return a - b; }
        case 2u: { return a * b; }
        case 3u: { return a / b; }
        case 4u: { return select(b, a, is_nan(a) || a > b); }
        case 5u: { return select(b, a, is_nan(a) || a < b); }
        case 6u: { return pow_(a, b); }
        case 7u: { return hypot_(a, b); }
        case 8u: { return mod_(a, b); }
        case 9u: { return flag(a == b && !is_nan(a)); }
        case 10u: { return flag(a != b || is_nan(a) || is_nan(b)); }
        case 11u: { return flag(a > b && !is_nan(a) && !is_nan(b)); }
        case 12u: { return flag(a >= b && !is_nan(a) && !is_nan(b)); }
        case 13u: { return flag(a < b && !is_nan(a) && !is_nan(b)); }
        case 14u: { return flag(a <= b && !is_nan(a) && !is_nan(b)); }
        case 15u: { return flag(truthy(a) && truthy(b)); }
        case 16u: { return flag(truthy(a) || truthy(b)); }
        case 17u: { return flag(truthy(a) != truthy(b)); }
        // PReLU: `b` is the slope of a's channel.
        case 18u: { return select(a * b, a, a > 0.0); }
        // Integer-tensor division: truncation toward zero, x / 0 = 0 (see BinaryFn::IntDiv).
        // i32 arithmetic where both operands fit (exact), else the f32 quotient truncated.
        case 19u: {
            if (b == 0.0) { return 0.0; }
            if (abs(a) < 2147483648.0 && abs(b) < 2147483648.0) {
                return f32(i32(a) / i32(b));
            }
            return trunc(a / b);
        }
        default: { return f_nan(); }
    }
}

// Everything with one tensor operand. Codes: 0..63 unary functions, 64 + b: binary op b with the
// scalar `a` on the right, 96 + b: with `a` on the left, then the named ones below.
fn map_value(op: u32, x: f32) -> f32 {
    if (op < 64u) {
        return unary(op, x);
    }
    if (op < 96u) {
        return binop(op - 64u, x, p.a);
    }
    if (op < 128u) {
        return binop(op - 96u, p.a, x);
    }
    switch op {
        // clip(a_min = a, a_max = b); NaN passes through.
        case 128u: { return clip_(x, p.a, p.b); }
        // hard_sigmoid(alpha = a, beta = b)
        case 129u: {
            let y = p.a * x + p.b;
            return select(select(y, 0.0, y < 0.0), 1.0, y > 1.0);
        }
        case 130u: { return cast_to(bitcast<u32>(p.a), x); }
        case 131u: { return x; }
        // softrelu: log(1 + e^x)
        case 132u: { return select(log1p_(exp(x)), x, x > 20.0); }
        // LeakyReLU leaky / rrelu (slope = a)
        case 133u: { return leaky_(x, p.a); }
        // elu (slope = a)
        case 134u: { return select(p.a * expm1_(x), x, x > 0.0); }
        // selu
        case 135u: { return 1.05070099 * select(1.67326324 * expm1_(x), x, x > 0.0); }
        // gelu (erf form)
        case 136u: { return 0.5 * x * (1.0 + erf_(x * 0.707106781)); }
        // fill with a
        case 137u: { return p.a; }
        // Activation(relu): NaN -> 0
        case 139u: { return relu_(x); }
        // smooth_l1 (sigma = a)
        case 138u: {
            let s2 = p.a * p.a;
            if (s2 == 0.0) {
                return 0.5 * x * x * s2;
            }
            let inv = 1.0 / s2;
            if (x > inv) {
                return x - 0.5 * inv;
            }
            if (x < -inv) {
                return -x - 0.5 * inv;
            }
            return 0.5 * x * x * s2;
        }
        default: { return f_nan(); }
    }
}

@compute @workgroup_size(256)
fn map(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    out0[p.off_out + i] = map_value(op_code(), in0[p.off0 + i]);
}

// The element offsets of operand k for flat output index i (broadcast strides).
fn offsets(i: u32) -> vec3<u32> {
    var rem = i;
    var o = vec3<u32>(p.off0, p.off1, p.off2);
    for (var k = i32(p.rank) - 1; k >= 0; k--) {
        let ku = u32(k);
        let dim = p.shape[ku >> 2u][ku & 3u];
        let c = rem % dim;
        rem = rem / dim;
        o += c * vec3<u32>(p.strides0[ku >> 2u][ku & 3u], p.strides1[ku >> 2u][ku & 3u], p.strides2[ku >> 2u][ku & 3u]);
    }
    return o;
}

@compute @workgroup_size(256)
fn binary(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    var o = vec3<u32>(p.off0 + i, p.off1 + i, 0u);
    if (p.rank > 0u) {
        o = offsets(i);
    }
    out0[p.off_out + i] = binop(op_code(), in0[o.x], in1[o.y]);
}

// out += in (add_n after the first pair).
@compute @workgroup_size(256)
fn accumulate(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    out0[p.off_out + i] = out0[p.off_out + i] + in0[p.off0 + i];
}

// where(cond = in0, x = in1, y = in2): cond is broadcast by strides0.
@compute @workgroup_size(256)
fn where_select(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let o = offsets(i);
    out0[p.off_out + i] = select(in2[o.z], in1[o.y], truthy(in0[o.x]));
}
