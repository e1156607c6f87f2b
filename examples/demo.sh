#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded default data set.
# A fresh project in examples/demo-project, scikit-learn's handwritten digits
# as samples, MobileNet (alpha 0.25) features, a few epochs, then the usual
# follow-ups: list, predict and plots.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$here/demo-project"
weights="$here/../../shared/weights/mobilenet_2_5_224_tf_no_top.h5"

rm -rf "$project"
mkdir -p "$project"
# Keras looks for ImageNet weights in $KERAS_HOME/models; seed it with the
# shared offline copy when present, else Keras downloads as usual.
export KERAS_HOME="${KERAS_HOME:-$project/.keras}"
mkdir -p "$KERAS_HOME/models"
if [ -f "$weights" ]; then cp "$weights" "$KERAS_HOME/models/"; fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

cd "$project"
step ml new digits
cd digits
step ml download:digits
step ml train --architecture=mobilenet --alpha=0.25 --size=96 --epochs=20 --batch-size=32 \
     --optimizer=adam --learning-rate=0.002
step ml list
name="$(ml list --columns=instance --output=csv | sed -n 2p)"
step ml @"$name" predict samples/3/00[0-2]3.png samples/7/0007.png --labels=3
step ml @"$name" plot:roc
step ml @"$name" plot:pr
step ml @"$name" plot:confusion-matrix
printf '\nDemo project: %s\n' "$project/digits"
