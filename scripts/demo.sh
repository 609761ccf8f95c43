#!/usr/bin/env bash
# The quick-start demo: builds the CLI and runs bundled real models with it.
#  - MTCNN's O-Net (pretrained face detector weights, an MXNet 0.8 file from 2016) on a 48x48 crop;
#  - a small ResNet exported by Gluon (MXNet 1.9.1).
# Each run prints the model summary, then the outputs next to MXNet 1.9.1's recorded outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin mxnet-web
bin=target/release/mxnet-web
out=$(mktemp -d)

demo() {  # dir symbol params
  local dir=$1
  echo "=================== $dir"
  $bin inspect "$dir/$2" "$dir/$3" --shape "data=$(python3 -c "import sys,struct;d=open('$dir/in_data.npy','rb').read();h=d[10:10+struct.unpack('<H',d[8:10])[0]].decode();print(h.split('(')[1].split(')')[0].replace(' ','').rstrip(','))")" | head -12
  echo "--- mxnet-web run"
  $bin run --symbol "$dir/$2" --params "$dir/$3" --input "data=$dir/in_data.npy" --out "$out/$(basename "$dir")" --print
}

demo tests/fixtures/legacy/mtcnn_det3 det3-symbol.json det3-0001.params
demo tests/fixtures/models/tiny_resnet model-symbol.json model-0000.params
echo
echo "Outputs were written under $out (compare with tests/fixtures/*/out_N.npy, MXNet's own outputs)."
