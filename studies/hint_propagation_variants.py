"""Which propagation should the hint-aware model build on? Training-free
variants of Levin et al.'s propagation, scored on training-side photos only
(never imagenet_samples or a val folder), SIGGRAPH 2017's protocol.

    python studies/hint_propagation_variants.py --photos=120 --size=256

Variants (all at the output stride, 4 × 4 cells, then bilinear to the size,
hinted pixels kept):
* ``gray``: the baseline, affinity exp(-ΔL²/2σ²), σ = 5, decay 1e-6 to gray;
* ``gray s=…``: other σ;
* ``auto-aff c=…``: the affinity also reads lite's automatic ab,
  exp(-ΔL²/2σ² - |Δab_auto|²/2c²): an edge lite's colour shows but
  lightness does not stops the hint;
* ``to-auto λ=…``: decay towards lite's ab instead of gray, held by λ per
  cell: far from every hint, lite's colour;
* ``blend λ=…``: r · gray + (1 - r) · auto, r a hint's reach (1 spread with
  decay λ).
* ``norm λ=…``: a, b and 1 spread with decay λ in one solve, ab / reach
  (normalised propagation: a weighted mean of the hints, each by how
  strongly it reaches the cell); ``norm+auto``: ab + (1 - reach) · auto.

Prints the mean PSNR gain over lite's automatic colour per count.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kcolor import color, imageio, metrics  # noqa: E402
from kcolor.hints import propagate as P  # noqa: E402
from kcolor.hints import sampler  # noqa: E402


def solve(F, hint, mask, lam=1e-6, prior=None):
    """Levin's solve over feature image F [h, w, k] (already divided by
    their widths): weights exp(-|ΔF|²/2); decay lam towards ``prior``
    [h, w, C] (0 if None). hint [h, w, C], mask [h, w, 1]."""
    h, w = F.shape[:2]
    right = np.zeros((h, w))
    down = np.zeros((h, w))
    right[:, :-1] = np.exp(-0.5 * np.square(F[:, 1:] - F[:, :-1]).sum(-1))
    down[:-1, :] = np.exp(-0.5 * np.square(F[1:, :] - F[:-1, :]).sum(-1))
    return P.solve_weights(right, down, hint, mask[..., 0] > 0.5, lam, prior)


def load(folders, photos, size, seed=0):
    from PIL import Image

    files = []
    for f in folders:
        files += imageio.spread(imageio.list_images(f), photos // len(folders))
    rgbs = []
    for f in files:
        im = Image.fromarray(imageio.read_rgb(f)).resize((size, size), Image.BICUBIC)
        rgbs.append(np.asarray(im))
    return files, np.stack(rgbs)


def main():
    from absl import app, flags

    flags.DEFINE_integer("photos", 120, "Photos.")
    flags.DEFINE_integer("size", 256, "Working size.")
    flags.DEFINE_list("folders", ["../shared/data/diverse/train", "../shared/data/train"],
                      "Training-side folders.")
    flags.DEFINE_list("counts", ["1", "5", "10", "50"], "Points.")
    flags.DEFINE_list("variants", ["gray:5:0:1e-6", "gray:3:0:1e-6", "gray:5:5:1e-6",
                                   "auto:5:0:1e-3", "blend:5:0:1e-3", "norm:5:0:1e-3",
                                   "norm+auto:5:0:1e-3"],
                      "kind:sigma:c:lam, kind one of gray, auto (decay to lite's ab), blend, "
                      "norm, norm+auto; c > 0 adds lite's ab to the affinity.")
    F = flags.FLAGS

    def run(argv):
        from kcolor import decode, presets

        files, rgb8 = load(F.folders, F.photos, F.size)
        rgb = rgb8.astype(np.float32) / 255.0
        lab = np.asarray(color.rgb_to_lab(rgb, np), np.float32)
        L, ab = lab[..., :1], lab[..., 1:]
        model, cfg = presets.load("lite")
        dec = decode.Decoding.from_config(cfg)
        auto4 = []
        for i in range(0, len(L), 32):
            a = np.asarray(model.predict_on_batch(L[i:i + 32]))
            auto4.append(np.asarray(decode.saturate(a, dec.saturation, dec.mean_saturation,
                                                    np)))
        auto4 = np.concatenate(auto4).astype(np.float64)
        s = F.size

        def score(i, ab4, hint=None, mask=None):
            ab_full = P.upsample_bilinear(ab4, s, s)
            if mask is not None:
                ab_full = np.where(mask > 0.5, hint, ab_full)
            out = np.asarray(color.lab_to_rgb(np.concatenate([L[i], ab_full], -1), np))
            return float(metrics.psnr(rgb[i][None], out[None].astype(np.float32))[0])

        base = np.array([score(i, auto4[i]) for i in range(len(L))])
        variants = {}
        for spec in F.variants:  # kind:sigma:c:lam (c 0: L alone)
            kind, sig, c, lam = spec.split(":")
            variants[spec] = (kind, float(sig), float(c), float(lam))
        res = {k: {} for k in variants}
        for n in [int(c) for c in F.counts]:
            gains = {k: [] for k in variants}
            for i, f in enumerate(files):
                hint, mask = sampler.sample_eval(ab[i], n, sampler.seed_for(os.path.basename(f)))
                L4, h4, m4 = P.downsample(L[i], hint, mask)
                for k, (kind, sig, c, lam) in variants.items():
                    Fe = L4 / sig
                    if c:
                        Fe = np.concatenate([Fe, auto4[i] / c], -1)
                    if kind == "gray":
                        x = solve(Fe, h4, m4, lam)
                    elif kind == "auto":
                        x = solve(Fe, h4, m4, lam, prior=auto4[i])
                    elif kind.startswith("norm"):
                        x3 = solve(Fe, np.concatenate([h4, m4], -1), m4, lam)
                        r = x3[..., 2:]
                        x = x3[..., :2] / np.maximum(r, 1e-3)
                        if kind == "norm+auto":
                            x = x3[..., :2] + (1 - r) * auto4[i]
                    else:
                        g = solve(Fe, h4, m4, 1e-6)
                        r = solve(Fe, m4, m4, lam)
                        x = r * g + (1 - r) * auto4[i]
                    gains[k].append(score(i, x, hint, mask) - base[i])
            for k in variants:
                res[k][n] = float(np.mean(gains[k]))
            print(f"{n} points done", file=sys.stderr, flush=True)
        counts = [int(c) for c in F.counts]
        print(f"{len(files)} photos at {s}; lite automatic {base.mean():.2f} dB")
        print("| variant | " + " | ".join(f"{n}" for n in counts) + " |")
        for k in variants:
            print(f"| {k} | " + " | ".join(f"{res[k][n]:+.2f}" for n in counts) + " |")

    app.run(run)


if __name__ == "__main__":
    main()
