// Elementwise operators: unary math, scalar ops, activations, Cast, clip (entry `map`); binary
// and broadcasting binary ops (entry `binary`); add_n (`accumulate`); where (`where_select`).
// Semantics follow src/ops/elementwise.rs and src/ops/activation.rs (the CPU reference); the
// special functions are f32 approximations accurate to ~1e-6 relative.

@group(0) @binding(0) var<uniform> p: ElementwiseParams;

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
// Op tables (the codes UNARY_*, BINARY_*, MAP_* are declared in src/backend/webgpu/wgsl.rs)
// ---------------------------------------------------------------------------------------------

fn unary(op: u32, x: f32) -> f32 {
    switch op {
        case UNARY_ABS: { return abs(x); }
        case UNARY_SIGN: { return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
        case UNARY_NEGATIVE: { return -x; }
        case UNARY_RECIPROCAL: { return 1.0 / x; }
        case UNARY_SQUARE: { return x * x; }
        case UNARY_SQRT: { return sqrt(x); }
        case UNARY_RSQRT: { return 1.0 / sqrt(x); }
        case UNARY_CBRT: { return cbrt_(x); }
        case UNARY_RCBRT: { return 1.0 / cbrt_(x); }
        case UNARY_EXP: { return exp(x); }
        case UNARY_EXPM1: { return expm1_(x); }
        case UNARY_LOG: { return log(x); }
        case UNARY_LOG2: { return log2(x); }
        case UNARY_LOG10: { return log2(x) * 0.301029996; }
        case UNARY_LOG1P: { return log1p_(x); }
        case UNARY_SIN: { return sin_(x); }
        case UNARY_COS: { return cos_(x); }
        case UNARY_TAN: { return sin_(x) / cos_(x); }
        case UNARY_ARCSIN: { return asin_(x); }
        case UNARY_ARCCOS: { return acos_(x); }
        case UNARY_ARCTAN: { return atan_(x); }
        case UNARY_SINH: { return sinh_(x); }
        case UNARY_COSH: { let e = exp(abs(x)); return 0.5 * (e + 1.0 / e); }
        case UNARY_TANH: { return tanh_(x); }
        case UNARY_ARCSINH: { return asinh_(x); }
        case UNARY_ARCCOSH: { return acosh_(x); }
        case UNARY_ARCTANH: { return atanh_(x); }
        case UNARY_DEGREES: { return x * 57.2957795; }
        case UNARY_RADIANS: { return x * 0.0174532925; }
        case UNARY_FLOOR: { return floor(x); }
        case UNARY_CEIL: { return ceil(x); }
        case UNARY_ROUND: { return round_away_(x); }
        case UNARY_RINT: {
            let lo = floor(x);
            let hi = ceil(x);
            return select(hi, lo, x - lo <= hi - x);
        }
        case UNARY_TRUNC, UNARY_FIX: { return trunc(x); }
        case UNARY_ERF: { return erf_(x); }
        case UNARY_ERFINV: { return erfinv_(x); }
        case UNARY_GAMMA: { return gamma_(x); }
        case UNARY_GAMMALN: { return lgamma_(x); }
        case UNARY_RELU: { return select(0.0, x, is_nan(x) || x > 0.0); }
        case UNARY_SIGMOID: { return 1.0 / (1.0 + exp(-x)); }
        case UNARY_SOFTSIGN: { return x / (1.0 + abs(x)); }
        case UNARY_LOGICAL_NOT: { return flag(x == 0.0 && !is_nan(x)); }
        default: { return f_nan(); }
    }
}

fn binop(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case BINARY_ADD: { return a + b; }
        case BINARY_SUB: { return a - b; }
        case BINARY_MUL: { return a * b; }
        case BINARY_DIV: { return a / b; }
        case BINARY_MAXIMUM: { return select(b, a, is_nan(a) || a > b); }
        case BINARY_MINIMUM: { return select(b, a, is_nan(a) || a < b); }
        case BINARY_POWER: { return pow_(a, b); }
        case BINARY_HYPOT: { return hypot_(a, b); }
        case BINARY_MOD: { return mod_(a, b); }
        case BINARY_EQUAL: { return flag(a == b && !is_nan(a)); }
        case BINARY_NOT_EQUAL: { return flag(a != b || is_nan(a) || is_nan(b)); }
        case BINARY_GREATER: { return flag(a > b && !is_nan(a) && !is_nan(b)); }
        case BINARY_GREATER_EQUAL: { return flag(a >= b && !is_nan(a) && !is_nan(b)); }
        case BINARY_LESSER: { return flag(a < b && !is_nan(a) && !is_nan(b)); }
        case BINARY_LESSER_EQUAL: { return flag(a <= b && !is_nan(a) && !is_nan(b)); }
        case BINARY_LOGICAL_AND: { return flag(truthy(a) && truthy(b)); }
        case BINARY_LOGICAL_OR: { return flag(truthy(a) || truthy(b)); }
        case BINARY_LOGICAL_XOR: { return flag(truthy(a) != truthy(b)); }
        // PReLU: `b` is the slope of a's channel.
        case BINARY_PRELU: { return select(a * b, a, a > 0.0); }
        // Integer-tensor division: truncation toward zero, x / 0 = 0 (see BinaryFn::IntDiv).
        // i32 arithmetic where both operands fit (exact), else the f32 quotient truncated.
        case BINARY_INT_DIV: {
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
    if (op < MAP_SCALAR_RHS) {
        return unary(op, x);
    }
    if (op < MAP_SCALAR_LHS) {
        return binop(op - MAP_SCALAR_RHS, x, p.a);
    }
    if (op < MAP_CLIP) {
        return binop(op - MAP_SCALAR_LHS, p.a, x);
    }
    switch op {
        // clip(a_min = a, a_max = b); NaN passes through.
        case MAP_CLIP: { return clip_(x, p.a, p.b); }
        // hard_sigmoid(alpha = a, beta = b)
        case MAP_HARD_SIGMOID: {
            let y = p.a * x + p.b;
            return select(select(y, 0.0, y < 0.0), 1.0, y > 1.0);
        }
        case MAP_CAST: { return cast_to(bitcast<u32>(p.a), x); }
        case MAP_IDENTITY: { return x; }
        // softrelu: log(1 + e^x)
        case MAP_SOFTRELU: { return select(log1p_(exp(x)), x, x > 20.0); }
        // LeakyReLU leaky / rrelu (slope = a)
        case MAP_LEAKY: { return leaky_(x, p.a); }
        // elu (slope = a)
        case MAP_ELU: { return select(p.a * expm1_(x), x, x > 0.0); }
        // selu
        case MAP_SELU: { return 1.05070099 * select(1.67326324 * expm1_(x), x, x > 0.0); }
        // gelu (erf form)
        case MAP_GELU: { return 0.5 * x * (1.0 + erf_(x * 0.707106781)); }
        // fill with a
        case MAP_FILL: { return p.a; }
        // Activation(relu): NaN -> 0
        case MAP_ACT_RELU: { return relu_(x); }
        // smooth_l1 (sigma = a)
        case MAP_SMOOTH_L1: {
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
