#!/usr/bin/env python3
"""Trains the two digit models of the in-browser demo (www/) with MXNet 1.9.1.

Data: the 1,797 handwritten digits that ship inside scikit-learn (`sklearn.datasets.load_digits`,
8x8 images of 4x4-block ink counts 0..16, from the UCI "optdigits" set). No download.

Models, both taking `data` of shape (N, 1, 16, 16): the 8x8 image divided by 16 and upsampled
2x bilinearly (`upsample16` below; the page's digits.js does the same arithmetic):

  * digits_cnn    a small CNN classifier; its exported graph ends in a softmax, so the page
                  reads class probabilities straight from the model.
  * digits_embed  a triplet-loss embedding network in the style of a face-embedding model:
                  `HybridSequential(prefix='')`, conv trunk, fully connected embedding, BatchNorm,
                  L2-normalised 32-d output. Trained with batch-hard triplet mining.

Everything lands in www/models/:
  digits_cnn-symbol.json, digits_cnn-0000.params          (Gluon `export()`)
  digits_embed-symbol.json, digits_embed-0000.params      (Gluon `export()`)
  digits_embed_old.json, digits_embed_old.params          (the old way: `sym.tojson()` +
                                                           `save_params()`, keys without arg:/aux:)
  digits_ref.json       200 test digits (20 per class) with labels: the page's nearest-neighbour
                        and PCA reference set, with MXNet's own predictions and embeddings
  README.md             accuracies (also printed)

Requirements: MXNet 1.9.1 (in /work/main/.venv, see scripts/mxnet-venv.sh) plus scikit-learn for
`load_digits` and scipy for the augmentation, installed into the same venv WITH numpy pinned
(MXNet 1.9.1 needs numpy < 1.24):

    .venv/bin/pip install numpy==1.23.5 "scikit-learn<1.4" "scikit-image<0.22"
    .venv/bin/python -c "import mxnet"        # still imports

Run: `.venv/bin/python scripts/train_digits.py` (about 20 seconds on 2 cores). Deterministic: every
random choice derives from SEED, and MXNet runs on its single-threaded NaiveEngine with one
OpenMP thread, so two runs write byte-identical files.
"""

import os

# Determinism first: these must be set before MXNet is imported.
os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")

import json
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np

try:
    import mxnet as mx
    from mxnet import autograd, gluon, nd
    from mxnet.gluon import nn
    from scipy import ndimage
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError as err:  # pragma: no cover - a message instead of a traceback
    sys.exit(f"{err}\nthis script needs MXNet 1.9.1, scikit-learn and scipy: see its docstring")

SEED = 20240611
OUT = Path(__file__).resolve().parent.parent / "www" / "models"
SIZE = 16  # model input: 16x16, the 8x8 digits upsampled 2x
EMBED_DIM = 32
REF_PER_CLASS = 20


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def upsample16(images8):
    """(N, 8, 8) ink counts 0..16 -> (N, 16, 16) float32 in [0, 1].

    Bilinear 2x with half-pixel centres and edge clamping (as cv2.resize INTER_LINEAR and the
    browser's digits.js `upsample16`): output pixel o samples input coordinate (o + 0.5) / 2 - 0.5.
    """
    x = np.asarray(images8, dtype=np.float32) / 16.0
    coords = (np.arange(SIZE, dtype=np.float32) + 0.5) / 2.0 - 0.5
    lo = np.clip(np.floor(coords).astype(int), 0, 7)
    hi = np.clip(lo + 1, 0, 7)
    frac = np.clip(coords - np.floor(coords), 0.0, 1.0).astype(np.float32)
    frac[coords < 0] = 0.0  # clamp at the top/left edge
    rows = x[:, lo, :] * (1 - frac)[None, :, None] + x[:, hi, :] * frac[None, :, None]
    return rows[:, :, lo] * (1 - frac)[None, None, :] + rows[:, :, hi] * frac[None, None, :]


def augment(batch, rng):
    """Random geometry and stroke thickness, so that digits drawn with a mouse (other slants,
    sizes, positions and pens than the NIST writers') classify well. batch: (N, 16, 16) in [0, 1].
    """
    out = np.empty_like(batch)
    centre = np.array([(SIZE - 1) / 2.0, (SIZE - 1) / 2.0])
    for i, img in enumerate(batch):
        angle = np.deg2rad(rng.uniform(-12, 12))
        scale = rng.uniform(0.8, 1.1)
        aspect = rng.uniform(0.8, 1.2)
        shear = rng.uniform(-0.2, 0.2)
        # Maps output coordinates (row, col) to input coordinates.
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        mat = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([1 / scale, 1 / (scale * aspect)])
        shift = rng.uniform(-1.5, 1.5, size=2)
        offset = centre - mat @ (centre + shift)
        warped = ndimage.affine_transform(img, mat, offset=offset, order=1, mode="constant", cval=0.0)
        pen = rng.random()
        if pen < 0.2:  # thicker pen
            warped = ndimage.grey_dilation(warped, size=(2, 2))
        elif pen < 0.35:  # thinner pen
            warped = np.clip(warped * 1.6 - 0.6, 0.0, 1.0)
        out[i] = np.clip(warped, 0.0, 1.0)
    return out


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def conv_block(channels):
    block = nn.HybridSequential(prefix="")
    block.add(nn.Conv2D(channels, 3, padding=1, use_bias=False), nn.BatchNorm(), nn.Activation("relu"))
    return block


def make_classifier():
    net = nn.HybridSequential(prefix="digits_cnn_")
    with net.name_scope():
        net.add(
            conv_block(32),
            conv_block(32),
            nn.MaxPool2D(2),  # 8x8
            conv_block(64),
            nn.MaxPool2D(2),  # 4x4
            conv_block(64),
            nn.MaxPool2D(2),  # 2x2
            nn.Flatten(),
            nn.Dense(64, activation="relu"),
            nn.Dropout(0.3),
            nn.Dense(10),
        )
    return net


class L2Normalize(nn.HybridBlock):
    """Unit-length rows, as face-embedding models end (insightface's fc1 + L2)."""

    def hybrid_forward(self, F, x):
        return F.L2Normalization(x, mode="instance")


def make_embedder():
    # prefix='' as in face-embedding model zoos: parameter names are the layers' own names
    # (conv0_weight, dense0_weight, ...), so `save_params` keys equal the symbol's argument names.
    net = nn.HybridSequential(prefix="")
    with net.name_scope():
        net.add(
            conv_block(32),
            nn.MaxPool2D(2),  # 8x8
            conv_block(64),
            nn.MaxPool2D(2),  # 4x4
            conv_block(64),
            nn.MaxPool2D(2),  # 2x2
            nn.Flatten(),
            nn.Dense(128, activation="relu"),
            nn.Dense(EMBED_DIM, use_bias=False),
            nn.BatchNorm(),
            L2Normalize(),
        )
    return net


class WithSoftmax(nn.HybridBlock):
    """The exported classifier: the trained net followed by a softmax over the 10 classes."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def hybrid_forward(self, F, x):
        return F.softmax(self.net(x), axis=1)


def predict(net, x, batch=256):
    outs = [net(nd.array(x[i : i + batch][:, None])).asnumpy() for i in range(0, len(x), batch)]
    return np.concatenate(outs)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def train_classifier(x_train, y_train, x_test, y_test, rng, epochs=30, batch=64):
    net = make_classifier()
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net.hybridize(static_alloc=True)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    schedule = mx.lr_scheduler.CosineScheduler(max_update=steps, base_lr=0.05, final_lr=0.0005)
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9, "wd": 5e-4, "lr_scheduler": schedule}
    )
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            data = nd.array(augment(x_train[idx], rng)[:, None])
            label = nd.array(y_train[idx])
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(len(idx))
            total += float(loss.sum().asscalar())
        if epoch % 10 == 9 or epoch == epochs - 1:
            acc = (predict(net, x_test).argmax(1) == y_test).mean()
            print(f"  classifier epoch {epoch + 1:2d}: loss {total / len(x_train):.4f}, test accuracy {acc:.4f}")
    return net


def batch_hard_indices(emb, labels):
    """For each anchor: its farthest same-class sample and its nearest other-class sample."""
    dist = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    same = labels[:, None] == labels[None, :]
    pos = np.where(same, dist, -np.inf)
    np.fill_diagonal(pos, -np.inf)
    neg = np.where(same, np.inf, dist)
    return pos.argmax(1), neg.argmin(1)


def train_embedder(x_train, y_train, rng, epochs=30, classes_per_batch=10, per_class=8, margin=0.4):
    net = make_embedder()
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net.hybridize(static_alloc=True)
    by_class = [np.flatnonzero(y_train == c) for c in range(10)]
    batches_per_epoch = len(x_train) // (classes_per_batch * per_class)
    steps = epochs * batches_per_epoch
    schedule = mx.lr_scheduler.CosineScheduler(max_update=steps, base_lr=0.003, final_lr=0.00003)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.003, "lr_scheduler": schedule})
    # ||a - p||^2 - ||a - n||^2 + margin, on unit vectors (squared distances in [0, 4]).
    triplet = gluon.loss.TripletLoss(margin=margin)
    for epoch in range(epochs):
        total = 0.0
        for _ in range(batches_per_epoch):
            # P classes x K samples: every anchor has positives and negatives in the batch.
            chosen = rng.choice(10, classes_per_batch, replace=False)
            idx = np.concatenate([rng.choice(by_class[c], per_class, replace=False) for c in chosen])
            data = nd.array(augment(x_train[idx], rng)[:, None])
            labels = y_train[idx]
            with autograd.record():
                emb = net(data)
                pos, neg = batch_hard_indices(emb.asnumpy(), labels)
                loss = triplet(emb, nd.take(emb, nd.array(pos)), nd.take(emb, nd.array(neg)))
            loss.backward()
            trainer.step(len(idx))
            total += float(loss.mean().asscalar())
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"  embedder epoch {epoch + 1:2d}: batch-hard triplet loss {total / batches_per_epoch:.4f}")
    return net


def nearest_neighbour_accuracy(query, query_labels, ref, ref_labels):
    """1-NN by cosine similarity (the embeddings are unit vectors)."""
    return (ref_labels[(query @ ref.T).argmax(1)] == query_labels).mean()


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    mx.random.seed(SEED)
    rng = np.random.default_rng(SEED)
    warnings.filterwarnings("ignore", message="save_params is deprecated")
    started = time.time()

    digits = load_digits()
    images8 = digits.images.astype(np.int64)  # (1797, 8, 8), 0..16
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=0.25, random_state=SEED % (2**32), stratify=labels
    )
    x_all = upsample16(images8)
    x_train, y_train = x_all[idx_train], labels[idx_train]
    x_test, y_test = x_all[idx_test], labels[idx_test]
    print(f"load_digits: {len(labels)} images, {len(idx_train)} train / {len(idx_test)} test (stratified, seed {SEED})")

    print("training the CNN classifier")
    classifier = train_classifier(x_train, y_train, x_test, y_test, rng)
    probs_test = predict(classifier, x_test)
    cnn_acc = (probs_test.argmax(1) == y_test).mean()
    x_test_aug = augment(x_test, np.random.default_rng(SEED + 1))
    cnn_acc_aug = (predict(classifier, x_test_aug).argmax(1) == y_test).mean()

    print("training the triplet-loss embedding network")
    embedder = train_embedder(x_train, y_train, rng)
    emb_train = predict(embedder, x_train)
    emb_test = predict(embedder, x_test)
    knn_acc = nearest_neighbour_accuracy(emb_test, y_test, emb_train, y_train)

    # The page's reference set: the first 20 test digits of each class.
    ref_rows = np.concatenate([np.flatnonzero(y_test == c)[:REF_PER_CLASS] for c in range(10)])
    others = np.setdiff1d(np.arange(len(y_test)), ref_rows)
    knn_ref_acc = nearest_neighbour_accuracy(emb_test[others], y_test[others], emb_test[ref_rows], y_test[ref_rows])

    OUT.mkdir(parents=True, exist_ok=True)
    deploy = WithSoftmax(classifier, prefix="digits_cnn_softmax_")
    deploy.hybridize(static_alloc=True)
    deploy(nd.zeros((1, 1, SIZE, SIZE)))
    deploy.export(str(OUT / "digits_cnn"), epoch=0)

    embedder(nd.zeros((1, 1, SIZE, SIZE)))
    embedder.export(str(OUT / "digits_embed"), epoch=0)
    # The old way, as pre-export face-embedding releases were saved: the symbol's JSON and the
    # parameters under their full names (no arg:/aux: prefixes).
    symbol = embedder(mx.sym.var("data"))
    (OUT / "digits_embed_old.json").write_text(symbol.tojson())
    embedder.save_params(str(OUT / "digits_embed_old.params"))

    reference = {
        "about": "200 test digits of sklearn.datasets.load_digits (20 per class), never trained on; "
        "images are 8x8 ink counts 0..16, row-major; mxnetPred / mxnetEmbed are MXNet 1.9.1's "
        "outputs of digits_cnn / digits_embed for them (embeddings rounded to 1e-5)",
        "shape": [8, 8],
        "images": images8[idx_test][ref_rows].reshape(len(ref_rows), 64).tolist(),
        "labels": y_test[ref_rows].tolist(),
        "mxnetPred": probs_test[ref_rows].argmax(1).tolist(),
        "mxnetEmbed": np.round(emb_test[ref_rows], 5).tolist(),
    }
    (OUT / "digits_ref.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")

    report = f"""# Digit models of the demo

Trained by `scripts/train_digits.py` (seed {SEED}) with MXNet {mx.__version__} on the 1,797 8x8
handwritten digits of `sklearn.datasets.load_digits`: {len(idx_train)} for training,
{len(idx_test)} held out (stratified split). Input: `data` (N, 1, 16, 16), the 8x8 ink counts / 16
upsampled 2x bilinearly. Training augments shifts, rotation, scale, shear and pen thickness.

| model | files | held-out test result |
|---|---|---|
| CNN classifier (softmax output) | `digits_cnn-symbol.json`, `digits_cnn-0000.params` (Gluon `export`) | accuracy **{cnn_acc * 100:.2f}%** ({int(round(cnn_acc * len(y_test)))}/{len(y_test)}); {cnn_acc_aug * 100:.2f}% on an augmented copy of the test set |
| triplet-loss embedding, {EMBED_DIM}-d, L2-normalised (`HybridSequential(prefix='')`) | `digits_embed-symbol.json`, `digits_embed-0000.params` (Gluon `export`); the same weights the old way: `digits_embed_old.json` (`tojson`) + `digits_embed_old.params` (`save_params`) | 1-nearest-neighbour accuracy **{knn_acc * 100:.2f}%** against the training embeddings; {knn_ref_acc * 100:.2f}% against the page's 200 reference digits |

`digits_ref.json`: the page's reference set (20 test digits per class) with MXNet's predictions and
embeddings for them.
"""
    (OUT / "README.md").write_text(report)
    print(f"classifier test accuracy: {cnn_acc:.4f} (augmented test set: {cnn_acc_aug:.4f})")
    print(f"embedding 1-NN accuracy: {knn_acc:.4f} vs train, {knn_ref_acc:.4f} vs the 200 references")
    print(f"wrote {OUT} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
