// Reductions (src/ops/reduce.rs): sum, mean, max, min, prod, nansum, nanprod, norm (L1, L2),
// argmax/argmin (entry `reduce`: one workgroup per output element), and topk/sort/argsort
// (entry `topk`: one thread per input element, ranked by counting).

@group(0) @binding(0) var<uniform> p: ReduceParams;

// The op code baked into a specialised pipeline (the uniform's `op` otherwise).
override OP: u32 = 0xffffffffu;

const RW: u32 = 64u;
var<workgroup> vals: array<f32, 64>;
var<workgroup> idxs: array<u32, 64>;

fn kept_offset(o: u32) -> u32 {
    var rem = o;
    var off = p.x_off;
    for (var k = i32(p.kept_rank) - 1; k >= 0; k--) {
        let ku = u32(k);
        let d = p.kept_shape[ku >> 2u][ku & 3u];
        off += (rem % d) * p.kept_strides[ku >> 2u][ku & 3u];
        rem = rem / d;
    }
    return off;
}

fn red_offset(r: u32) -> u32 {
    var rem = r;
    var off = 0u;
    for (var k = i32(p.red_rank) - 1; k >= 0; k--) {
        let ku = u32(k);
        let d = p.red_shape[ku >> 2u][ku & 3u];
        off += (rem % d) * p.red_strides[ku >> 2u][ku & 3u];
        rem = rem / d;
    }
    return off;
}

// Combines a candidate (v, i) into the running (a, ai) for arg reductions: NaN wins (first one),
// then the larger (argmax) / smaller (argmin) value, ties to the smaller index.
fn arg_better(v: f32, i: u32, a: f32, ai: u32, is_max: bool) -> bool {
    if (is_nan(a)) {
        return is_nan(v) && i < ai;
    }
    if (is_nan(v)) {
        return true;
    }
    if (v == a) {
        return i < ai;
    }
    return select((v < a), (v > a), is_max);
}

fn combine(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case REDUCE_MAX: { if (is_nan(a) || is_nan(b)) { return f_nan(); } return max(a, b); }
        case REDUCE_MIN: { if (is_nan(a) || is_nan(b)) { return f_nan(); } return min(a, b); }
        case REDUCE_PROD, REDUCE_NANPROD: { return a * b; }
        default: { return a + b; }
    }
}

fn identity(op: u32) -> f32 {
    switch op {
        case REDUCE_MAX: { return -f_inf(); }
        case REDUCE_MIN: { return f_inf(); }
        case REDUCE_PROD, REDUCE_NANPROD: { return 1.0; }
        default: { return 0.0; }
    }
}

@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let o = flat_group(wg, nwg);
    if (o >= p.n_out) {
        return;
    }
    let base = kept_offset(o);
    let op = select(p.op, OP, OP != 0xffffffffu);
    if (op >= REDUCE_ARGMAX) {
        let is_max = op == REDUCE_ARGMAX;
        var a = 0.0;
        var ai = 0xffffffffu;
        for (var r = lid; r < p.count; r += RW) {
            let v = in0[base + red_offset(r)];
            if (ai == 0xffffffffu || arg_better(v, r, a, ai, is_max)) {
                a = v;
                ai = r;
            }
        }
        vals[lid] = a;
        idxs[lid] = ai;
        workgroupBarrier();
        for (var s = RW / 2u; s > 0u; s = s >> 1u) {
            if (lid < s) {
                let bi = idxs[lid + s];
                if (bi != 0xffffffffu && (idxs[lid] == 0xffffffffu || arg_better(vals[lid + s], bi, vals[lid], idxs[lid], is_max))) {
                    vals[lid] = vals[lid + s];
                    idxs[lid] = bi;
                }
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            out0[p.y_off + o] = f32(select(idxs[0], 0u, idxs[0] == 0xffffffffu));
        }
        return;
    }
    // L2: scale by the largest magnitude first, so the squares cannot overflow.
    var scale = 1.0;
    if (op == REDUCE_L2) {
        var m = 0.0;
        for (var r = lid; r < p.count; r += RW) {
            m = max(m, abs(in0[base + red_offset(r)]));
        }
        vals[lid] = m;
        workgroupBarrier();
        for (var s = RW / 2u; s > 0u; s = s >> 1u) {
            if (lid < s) {
                vals[lid] = max(vals[lid], vals[lid + s]);
            }
            workgroupBarrier();
        }
        scale = vals[0];
        workgroupBarrier();
        if (scale == 0.0) {
            scale = 1.0;
        }
    }
    var acc = identity(op);
    for (var r = lid; r < p.count; r += RW) {
        var v = in0[base + red_offset(r)];
        if ((op == REDUCE_NANSUM || op == REDUCE_NANPROD) && is_nan(v)) {
            continue;
        }
        if (op == REDUCE_L1) {
            v = abs(v);
        } else if (op == REDUCE_L2) {
            let t = v / scale;
            v = t * t;
        }
        acc = combine(op, acc, v);
    }
    vals[lid] = acc;
    workgroupBarrier();
    for (var s = RW / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            vals[lid] = combine(op, vals[lid], vals[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        var y = vals[0];
        if (op == REDUCE_MEAN) {
            y = y / f32(p.count);
        } else if (op == REDUCE_L2) {
            y = scale * sqrt(y);
        }
        out0[p.y_off + o] = y;
    }
}

// topk over rows of (outer, n, inner): element t of a row goes to position
// #{u : u before t}, "before" = larger value (smaller when ascending), ties by index.
@group(0) @binding(0) var<uniform> q: TopkParams;

@compute @workgroup_size(256)
fn topk(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = flat_index(wg, nwg, lid);
    if (e >= q.total) {
        return;
    }
    let ii = e % q.inner;
    let t = (e / q.inner) % q.n;
    let o = e / (q.inner * q.n);
    let base = q.x_off + o * q.n * q.inner + ii;
    let v = in0[base + t * q.inner];
    var rank = 0u;
    for (var u = 0u; u < q.n; u++) {
        let w = in0[base + u * q.inner];
        var before: bool;
        if (q.ascending == 1u) {
            before = w < v || (w == v && u < t);
        } else {
            before = w > v || (w == v && u < t);
        }
        if (before) {
            rank++;
        }
    }
    if (q.ret == TOPK_MASK) {
        out0[e] = select(0.0, 1.0, rank < q.k);
        return;
    }
    if (rank >= q.k) {
        return;
    }
    let at = (o * q.k + rank) * q.inner + ii;
    let index = cast_to(q.cast_code, f32(t));
    switch q.ret {
        case TOPK_VALUE: { out0[at] = v; }
        case TOPK_INDICES: { out0[at] = index; }
        default: {
            out0[at] = v;
            out1[at] = index;
        }
    }
}
