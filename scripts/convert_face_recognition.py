#!/usr/bin/env python3
"""Converts face-api's pretrained face recognition network to MXNet files (both save flows).

Source: the npm package @vladmandic/face-api (MIT), `model/face_recognition_model.bin` +
`face_recognition_model-weights_manifest.json`: the tfjs port (face-api.js, Vincent Muehler) of
dlib's `dlib_face_recognition_resnet_model_v1` (Davis E. King, public domain), a ResNet-34-like
network with 29 convolutions that maps a 150x150 aligned face crop to a 128-d descriptor; two
descriptors closer than 0.6 (Euclidean) are the same person by dlib's convention. Weights are
stored uint8-quantised per tensor (value = q * scale + min, computed by tfjs's decodeWeights in
float64 and stored as float32; we do exactly the same), a few tensors plain float32.

The network below is face-api's `FaceRecognitionNet.forwardInput`
(src/faceRecognitionNet/*.ts), layer by layer, in NCHW:

  input  RGB pixels 0..255, (N, 3, 150, 150)
         (x - [122.782, 117.001, 104.298]) / 255
  conv32_down   7x7 stride 2 'valid' conv + bias, scale (x * w + b per channel), ReLU -> 72x72
                max pool 3x3 stride 2 'valid'                                         -> 35x35
  conv32_1..3   residual: conv3x3+scale+ReLU, conv3x3+scale, + x, ReLU
  conv64_down   residual down: conv3x3 stride 2 'valid' (+scale+ReLU), conv3x3 (+scale);
                shortcut: 2x2 stride-2 average pool, channels zero-padded (32 -> 64) -> 17x17
  conv64_1..3, conv128_down (-> 8x8), conv128_1..2, conv256_down (-> 4x4: the 3x3 conv output
  is zero-padded by one row at the bottom and one column at the right to the pooled 4x4, as
  face-api does), conv256_1..2, conv256_down_out (-> 2x2, same padding of the 1x1 output)
  mean over the spatial axes -> (N, 256); fully connected 256 -> 128 without bias.

The 'same' 3x3 convolutions pad 1 on every side (tfjs 'same' with stride 1). 'valid' pooling and
convolutions drop the remainder, as MXNet's 'valid' convention does, so every shape matches.
The "scale" layers are dlib's affine layers (frozen batch normalisation): kept as they are
(broadcast_mul + broadcast_add of (1, C, 1, 1) parameters) rather than folded into the
convolutions, so the files hold the original tensors.

Written to www/models/face_recognition/ (OUT):
  face_recognition-symbol.json, face_recognition-0000.params   Gluon `export()` (arg: keys)
  face_recognition_old.json, face_recognition_old.params       `sym.tojson()` + `save_params()`
Parameter names follow the manifest: `conv32_1/conv1/conv/filters` -> `conv32_1_conv1_conv_weight`
(transposed HWIO -> OIHW), `.../scale/weights` -> `..._scale_weight` (reshaped to (1, C, 1, 1)),
`fc` -> `fc_weight` (transposed to (128, 256)); the input mean is the fixed parameter `input_mean` (1, 3, 1, 1).

And a reference for the check test (tests/js/face-recognition.test.mjs), FIXTURE:
  inputs.npy        (7, 150, 150, 3) uint8 RGB, NHWC as face-api takes them: four aligned crops
                    of the face in www/assets/astronaut.jpg (decoded by MXNet's image reader,
                    aligned as www/js/facealign.js does, from MTCNN's landmarks: plain, shifted
                    landmarks, mirrored photo, brighter photo) and three synthetic non-faces
  inputs.json       their names
  descriptors.npy   (7, 128) float32: MXNet 1.9.1's descriptors for them from the exported files

The test runs face-api's own code (tfjs CPU backend, in Chromium) on the same inputs and on
aligned face crops, and compares with MXNet's and mxnet-web's descriptors (max |diff| <= 1e-4).

Run: `.venv/bin/python scripts/convert_face_recognition.py [--package DIR]` where DIR is the
unpacked npm package (default: node_modules/@vladmandic/face-api, a pinned devDependency; or
`npm pack @vladmandic/face-api@1.7.15 && tar xzf vladmandic-face-api-1.7.15.tgz` -> package/).
Deterministic: two runs write byte-identical files.
"""

import os

os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

try:
    import mxnet as mx
    from mxnet import gluon, nd
    from mxnet.gluon import nn
except ImportError as err:  # pragma: no cover
    sys.exit(f"error: {err}. Run with the project venv: .venv/bin/python {sys.argv[0]}")

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "www/models/face_recognition"
FIXTURE = REPO / "tests/fixtures/face_recognition"
NAME = "face_recognition"
SIZE = 150
MEAN_RGB = [122.782, 117.001, 104.298]
STAGES = [
    # (block name, channels, downsampling)
    ("conv32_1", 32, False),
    ("conv32_2", 32, False),
    ("conv32_3", 32, False),
    ("conv64_down", 64, True),
    ("conv64_1", 64, False),
    ("conv64_2", 64, False),
    ("conv64_3", 64, False),
    ("conv128_down", 128, True),
    ("conv128_1", 128, False),
    ("conv128_2", 128, False),
    ("conv256_down", 256, True),
    ("conv256_1", 256, False),
    ("conv256_2", 256, False),
    ("conv256_down_out", 256, True),
]


# ------------------------------------------------------------------------------------------
# The weights
# ------------------------------------------------------------------------------------------


def read_weights(package):
    """The manifest's tensors, dequantised exactly as tfjs's io.decodeWeights does."""
    model = package / "model"
    manifest = json.loads((model / f"{NAME}_model-weights_manifest.json").read_text())
    weights = {}
    for group in manifest:
        data = b"".join((model / p).read_bytes() for p in group["paths"])
        at = 0
        for spec in group["weights"]:
            shape = spec["shape"]
            count = int(np.prod(shape))
            if spec["dtype"] != "float32":
                raise ValueError(f"{spec['name']}: dtype {spec['dtype']} is not float32")
            q = spec.get("quantization")
            if q is None:
                values = np.frombuffer(data, "<f4", count, at)
                at += 4 * count
            elif q["dtype"] == "uint8":
                raw = np.frombuffer(data, np.uint8, count, at)
                at += count
                # JavaScript: Float32Array[i] = q * scale + min, in float64, then rounded to float32.
                values = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                raise ValueError(f"{spec['name']}: unsupported quantisation {q['dtype']}")
            weights[spec["name"]] = values.reshape(shape)
        if at != len(data):
            raise ValueError(f"{group['paths']}: {len(data) - at} bytes left after the manifest's tensors")
    return weights


def to_mxnet(weights):
    """Manifest names and layouts -> our parameter names and MXNet layouts."""
    params = {}
    for name, value in weights.items():
        if name == "fc":
            params["fc_weight"] = value.T.copy()  # (256, 128) -> (128, 256)
            continue
        layer, kind, what = name.rsplit("/", 2)
        prefix = layer.replace("/", "_")
        if (kind, what) == ("conv", "filters"):
            params[f"{prefix}_conv_weight"] = value.transpose(3, 2, 0, 1).copy()  # HWIO -> OIHW
        elif (kind, what) == ("conv", "bias"):
            params[f"{prefix}_conv_bias"] = value
        elif (kind, what) == ("scale", "weights"):
            params[f"{prefix}_scale_weight"] = value.reshape(1, -1, 1, 1)
        elif (kind, what) == ("scale", "biases"):
            params[f"{prefix}_scale_bias"] = value.reshape(1, -1, 1, 1)
        else:
            raise ValueError(f"unexpected tensor {name}")
    return params


# ------------------------------------------------------------------------------------------
# The network (face-api's FaceRecognitionNet, NCHW)
# ------------------------------------------------------------------------------------------


class Scale(nn.HybridBlock):
    """dlib's affine layer: x * weight + bias per channel."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(1, channels, 1, 1))
            self.bias = self.params.get("bias", shape=(1, channels, 1, 1))

    def hybrid_forward(self, F, x, weight, bias):
        return F.broadcast_add(F.broadcast_mul(x, weight), bias)


class ConvLayer(nn.HybridBlock):
    """face-api's convLayer: conv2d + bias, scale, optional ReLU."""

    def __init__(self, channels, in_channels, kernel, stride, padding, relu, **kwargs):
        super().__init__(**kwargs)
        self.relu = relu
        with self.name_scope():
            self.conv = nn.Conv2D(channels, kernel, stride, padding, in_channels=in_channels, prefix="conv_")
            self.scale = Scale(channels, prefix="scale_")

    def hybrid_forward(self, F, x):
        out = self.scale(self.conv(x))
        return F.relu(out) if self.relu else out


class Residual(nn.HybridBlock):
    """face-api's residual / residualDown."""

    def __init__(self, channels, in_channels, down, in_size, **kwargs):
        super().__init__(**kwargs)
        self.down = down
        # face-api concatenates zeros shaped like the pooled shortcut: the channels double.
        self.pad_channels = channels - in_channels
        if self.pad_channels not in (0, in_channels):
            raise ValueError(f"{self.prefix}: {in_channels} -> {channels} channels")
        # residualDown: the strided 'valid' conv can come out one smaller than the 2x2 pool;
        # face-api then appends a zero row (bottom) and a zero column (right).
        conv_size = (in_size - 3) // 2 + 1
        pool_size = in_size // 2
        self.pad_spatial = down and conv_size != pool_size
        if self.pad_spatial and pool_size != conv_size + 1:
            raise ValueError(f"{self.prefix}: conv {conv_size} vs pool {pool_size}")
        self.out_size = pool_size if down else in_size
        with self.name_scope():
            if down:
                self.conv1 = ConvLayer(channels, in_channels, 3, 2, 0, True, prefix="conv1_")
            else:
                self.conv1 = ConvLayer(channels, in_channels, 3, 1, 1, True, prefix="conv1_")
            self.conv2 = ConvLayer(channels, channels, 3, 1, 1, False, prefix="conv2_")

    def hybrid_forward(self, F, x):
        out = self.conv2(self.conv1(x))
        shortcut = x
        if self.down:
            shortcut = F.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", pooling_convention="valid")
            if self.pad_spatial:
                out = F.pad(out, mode="constant", constant_value=0, pad_width=(0, 0, 0, 0, 0, 1, 0, 1))
            if self.pad_channels:
                shortcut = F.concat(shortcut, F.zeros_like(shortcut), dim=1)
        return F.relu(out + shortcut)


class FaceRecognitionNet(nn.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            # A fixed parameter (not gluon's Constant, whose symbol attribute embeds a Python id).
            self.input_mean = self.params.get("input_mean", shape=(1, 3, 1, 1), grad_req="null", differentiable=False)
            self.conv32_down = ConvLayer(32, 3, 7, 2, 0, True, prefix="conv32_down_")
            size = ((SIZE - 7) // 2 + 1 - 3) // 2 + 1  # conv 7x7/2 valid, then max pool 3x3/2 valid
            channels = 32
            self.stages = []
            for name, out_channels, down in STAGES:
                block = Residual(out_channels, channels, down, size, prefix=f"{name}_")
                self.register_child(block, name)
                self.stages.append(block)
                size = block.out_size
                channels = out_channels
            self.fc = nn.Dense(128, use_bias=False, in_units=256, prefix="fc_")

    def hybrid_forward(self, F, x, input_mean):
        x = F.broadcast_sub(x, input_mean) / 255
        x = self.conv32_down(x)
        x = F.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", pooling_convention="valid")
        for block in self.stages:
            x = block(x)
        x = F.mean(x, axis=(2, 3))
        return self.fc(x)


# ------------------------------------------------------------------------------------------
# Reference inputs
# ------------------------------------------------------------------------------------------


# The demo's alignment (www/js/facealign.js): MTCNN's five points (eyes, nose, mouth corners) are
# mapped by the least-squares similarity transform onto this template of the 150x150 crop.
TEMPLATE = np.array([[52.5, 56], [97.5, 56], [75, 82], [56, 102], [94, 102]])
# MTCNN's landmarks on www/assets/astronaut.jpg, as the demo's detector finds them (CPU backend).
PHOTO_LANDMARKS = np.array([[203.7, 100.3], [247.1, 102.7], [224.0, 126.7], [201.1, 138.5], [245.4, 141.1]])


def similarity(src, dst):
    """(a, b, tx, ty) with dst ~ [[a, -b], [b, a]] src + t, least squares (as facealign.js)."""
    ps, qs = src - src.mean(0), dst - dst.mean(0)
    norm = (ps**2).sum()
    a = (ps * qs).sum() / norm
    b = (ps[:, 0] * qs[:, 1] - ps[:, 1] * qs[:, 0]).sum() / norm
    t = dst.mean(0) - np.array([a * src.mean(0)[0] - b * src.mean(0)[1], b * src.mean(0)[0] + a * src.mean(0)[1]])
    return a, b, t


def align(image, landmarks):
    """The 150x150 crop of `image` (HWC uint8) through the similarity transform, bilinear, black outside."""
    a, b, t = similarity(landmarks, TEMPLATE)
    det = a * a + b * b
    v, u = np.mgrid[0:SIZE, 0:SIZE] + 0.5  # destination pixel centres
    du, dv = u - t[0], v - t[1]
    x = (a * du + b * dv) / det - 0.5  # inverse rotation-scale, back to pixel indices
    y = (-b * du + a * dv) / det - 0.5
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    h, w = image.shape[:2]

    def at(yy, xx):
        inside = ((xx >= 0) & (xx < w) & (yy >= 0) & (yy < h))[..., None]
        return np.where(inside, image[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)].astype(np.float64), 0.0)

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def reference_inputs():
    """Deterministic 150x150 RGB images (NHWC) and their names: four aligned crops of the face in
    the bundled photo (plain, landmarks shifted by a few pixels, mirrored photo, brighter photo),
    then three synthetic non-faces (smooth noise, a gradient with shapes, a flat grey)."""
    photo = mx.image.imread(str(REPO / "www/assets/astronaut.jpg")).asnumpy()  # RGB
    mirrored = photo[:, ::-1]
    width = photo.shape[1]
    mirror_pts = PHOTO_LANDMARKS[[1, 0, 2, 4, 3]] * [-1, 1] + [width, 0]
    brighter = np.clip(photo.astype(np.float64) * 1.3, 0, 255)
    images = [
        ("face: aligned", align(photo, PHOTO_LANDMARKS)),
        ("face: landmarks shifted (+4, -3) px", align(photo, PHOTO_LANDMARKS + [4, -3])),
        ("face: mirrored photo", align(mirrored, mirror_pts)),
        ("face: photo 1.3x brighter", align(brighter, PHOTO_LANDMARKS)),
    ]
    rng = np.random.RandomState(20261204)
    # Smooth noise: 10x10 random colours upsampled bilinearly.
    coarse = rng.uniform(0, 255, (10, 10, 3))
    t = (np.arange(SIZE) + 0.5) * 10 / SIZE - 0.5
    i0 = np.clip(np.floor(t).astype(int), 0, 9)
    i1 = np.clip(i0 + 1, 0, 9)
    f = np.clip(t - np.floor(t), 0, 1)
    rows = coarse[i0] * (1 - f)[:, None, None] + coarse[i1] * f[:, None, None]
    images.append(("synthetic: smooth noise", rows[:, i0] * (1 - f)[None, :, None] + rows[:, i1] * f[None, :, None]))
    # A gradient with a bright disc and a dark bar (face-sized structures).
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    grad = np.stack([xx * 255 / SIZE, yy * 255 / SIZE, (xx + yy) * 127 / SIZE], axis=-1)
    grad[(xx - 75) ** 2 + (yy - 70) ** 2 < 40**2] = [230, 190, 160]
    grad[(yy > 95) & (yy < 105) & (xx > 50) & (xx < 100)] = [60, 20, 30]
    images.append(("synthetic: gradient and shapes", grad))
    images.append(("synthetic: flat grey", np.full((SIZE, SIZE, 3), 128.0)))
    names = [n for n, _ in images]
    return names, np.clip(np.round(np.stack([im for _, im in images])), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", type=Path, default=REPO / "node_modules/@vladmandic/face-api")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--fixture", type=Path, default=FIXTURE)
    args = ap.parse_args()
    if not (args.package / "model").is_dir():
        sys.exit(f"error: {args.package}/model not found: npm ci (or npm pack @vladmandic/face-api@1.7.15 and pass --package)")
    version = json.loads((args.package / "package.json").read_text())["version"]

    weights = read_weights(args.package)
    params = to_mxnet(weights)

    with mx.name.NameManager():
        net = FaceRecognitionNet(prefix="")
    net.initialize(mx.init.Zero())
    net.hybridize(static_alloc=False)
    net(nd.zeros((1, 3, SIZE, SIZE)))  # resolve deferred shapes
    ours = net.collect_params()
    expected = set(ours.keys()) - {"input_mean"}
    if expected != set(params):  # before input_mean joins them
        sys.exit(f"error: names differ: only in the net {sorted(expected - set(params))}, only in the manifest {sorted(set(params) - expected)}")
    params["input_mean"] = np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1)
    for name, value in params.items():
        if ours[name].shape != value.shape:
            sys.exit(f"error: {name}: net {ours[name].shape} vs manifest {value.shape}")
        ours[name].set_data(nd.array(value))

    args.out.mkdir(parents=True, exist_ok=True)
    names, inputs = reference_inputs()
    x = nd.array(inputs.transpose(0, 3, 1, 2).astype(np.float32))
    direct = net(x).asnumpy()

    prefix = str(args.out / NAME)
    net.export(prefix, epoch=0)
    symbol = net(mx.sym.var("data"))
    (args.out / f"{NAME}_old.json").write_text(symbol.tojson())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="save_params is deprecated")
        net.save_params(str(args.out / f"{NAME}_old.params"))

    # Reload both flows from their files alone; they must agree with the net exactly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"], f"{prefix}-0000.params")
        old = gluon.SymbolBlock.imports(str(args.out / f"{NAME}_old.json"), ["data"], str(args.out / f"{NAME}_old.params"))
    a = exported(x).asnumpy()
    b = old(x).asnumpy()
    if not (np.array_equal(a, direct) and np.array_equal(b, direct)):
        sys.exit(f"error: reloaded files differ: {np.abs(a - direct).max()} / {np.abs(b - direct).max()}")

    args.fixture.mkdir(parents=True, exist_ok=True)
    np.save(args.fixture / "inputs.npy", inputs)
    np.save(args.fixture / "descriptors.npy", a.astype(np.float32))
    (args.fixture / "inputs.json").write_text(json.dumps({"names": names}, indent=1) + "\n")

    n = sum(v.size for v in weights.values())
    print(f"@vladmandic/face-api {version}: {len(weights)} tensors, {n:,} parameters")
    for f in sorted(args.out.iterdir()):
        print(f"  {f.relative_to(REPO)}  {f.stat().st_size:,} bytes  sha256 {sha256(f)}")
    print(f"reference descriptors ({args.fixture.relative_to(REPO)}), distance to the first face:")
    for name, d in zip(names, a):
        print(f"  {np.linalg.norm(d - a[0]):.4f}  {name}")
    print("export() and tojson + save_params reload identically")


if __name__ == "__main__":
    main()
