#!/usr/bin/env python3
"""CPU latency of mxnet-web next to MXNet 1.9.1, measured in the same run, as a ratio.

    cargo build --release && .venv/bin/python scripts/bench.py [--runs 20] [--models resnet18_v1,mobilenetv2_1_0]

Uses the model-zoo fixtures in tests/fixtures/big (generate with tests/fixtures/generate.py --big).
MXNet runs the same exported files through SymbolBlock.imports, hybridized with static_alloc
(its fastest inference path), on the same random input. Reports medians in ms; ratio > 1 means
mxnet-web is slower. Timings on a shared machine are noisy: compare ratios, not absolute numbers.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIG = os.path.join(REPO, "tests", "fixtures", "big")


def mxnet_median(case_dir, case, runs, warmup):
    import mxnet as mx
    import numpy as np
    from mxnet import gluon
    names = [i["name"] for i in case["inputs"]]
    net = gluon.nn.SymbolBlock.imports(os.path.join(case_dir, case["symbol"]), names,
                                       os.path.join(case_dir, case["params"]))
    net.hybridize(static_alloc=True, static_shape=True)
    xs = [mx.nd.array(np.load(os.path.join(case_dir, i["file"]))) for i in case["inputs"]]
    for _ in range(warmup):
        net(*xs)[0].wait_to_read() if isinstance(net(*xs), (list, tuple)) else net(*xs).wait_to_read()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = net(*xs)
        (out[0] if isinstance(out, (list, tuple)) else out).wait_to_read()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def ours_median(case_dir, case, runs, warmup, threads):
    import numpy as np
    shapes = []
    for i in case["inputs"]:
        shape = np.load(os.path.join(case_dir, i["file"])).shape
        shapes += ["--shape", "%s=%s" % (i["name"], ",".join(map(str, shape)))]
    exe = os.path.join(REPO, "target", "release", "mxnet-web")
    env = dict(os.environ, MATMUL_NUM_THREADS=str(threads))
    out = subprocess.run([exe, "bench", "--backend", "cpu", "--symbol", os.path.join(case_dir, case["symbol"]),
                          "--params", os.path.join(case_dir, case["params"]), "--runs", str(runs),
                          "--warmup", str(warmup)] + shapes, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit("mxnet-web bench failed: " + out.stderr)
    return float(re.search(r"median_ms ([\d.]+)", out.stdout).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--models", default="resnet18_v1,mobilenetv2_1_0")
    ap.add_argument("--threads", default="1", help="comma list of thread counts for both runtimes")
    a = ap.parse_args()
    print("%-18s %7s %12s %12s %8s" % ("model", "threads", "mxnet ms", "ours ms", "ratio"))
    for name in a.models.split(","):
        d = os.path.join(BIG, name)
        case = json.load(open(os.path.join(d, "case.json")))
        for threads in [int(t) for t in a.threads.split(",")]:
            # MXNet's thread count is fixed at import: measure it in a child with OMP_NUM_THREADS set.
            code = ("import json,sys; sys.path.insert(0, %r); import bench; "
                    "print(bench.mxnet_median(%r, json.load(open(%r)), %d, %d))"
                    % (os.path.dirname(__file__), d, os.path.join(d, "case.json"), a.runs, a.warmup))
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MXNET_ENGINE_TYPE="NaiveEngine")
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                sys.exit(r.stderr)
            mx_ms = float(r.stdout.strip().splitlines()[-1])
            ours = ours_median(d, case, a.runs, a.warmup, threads)
            print("%-18s %7d %12.2f %12.2f %8.2f" % (name, threads, mx_ms, ours, ours / mx_ms))


if __name__ == "__main__":
    main()
