"""How close ``propagate_ops`` (keras.ops, fixed iterations) comes to the
exact sparse solve ``propagate`` (SciPy), and how long each takes.

    python -m kcolor.hints.agreement [FOLDER] [--photos 96] [--size 256]
        [--points 1,5,10] [--iterations 20,30,40] [--sigma 3 --lam_area 0.8]

For each photo (spread over FOLDER's sorted list; default the ImageNet
samples in /work/shared/data/imagenet_samples): squashed to size x size
(bilinear), true Lab by ``kcolor.color``, n evaluation hints
(``sampler.sample_eval``, seeded by the file name), both solvers at the
network's output stride as ``propagate_at_stride`` does (``downsample`` to
64 x 64 for 256, solve, ``upsample_bilinear``, hinted pixels kept), all
photos in one batch for ``propagate_ops``. Reported per point count and
iteration count, as JSON lines:

* ``mean_abs_dab``: mean |ab_ops - ab_exact| over the 64 x 64 pixels and
  both channels, all photos; ``worst_photo_dab``: the largest photo mean;
* ``psnr_exact``, ``psnr_ops``: mean PSNR (dB) of the colour photo (the
  photo's own L at size x size and the upsampled ab, uint8) against the
  true photo; ``dpsnr_mean``, ``dpsnr_min``, ``dpsnr_max``: ops minus
  exact, the mean and the extremes over photos; ``psnr_gray``: the gray
  photo (ab = 0), for scale;
* ``psnr_ops_vs_exact``: the ops photo against the exact one (mean of
  per-photo MSE, as dB);

and the time of one solve at the stride size: SciPy (factorisation
included) and the compiled keras.ops graph (batch 1, after warm-up; under
TensorFlow also with XLA at the default iterations).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

DEFAULT_FOLDER = "/work/shared/data/imagenet_samples"


def load_photos(folder, n, size):
    """[(name, lab [size, size, 3] float32)] for n photos spread over the folder."""
    from PIL import Image

    from kcolor import color, imageio

    out = []
    for path in imageio.spread(imageio.list_images(folder), n):
        rgb = imageio.read_rgb(path)
        small = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))
        out.append((os.path.basename(path),
                    color.rgb_to_lab(small.astype(np.float32) / 255.0, np).astype(np.float32)))
    return out


def _rgb8(lab):
    from kcolor import color

    return np.round(color.lab_to_rgb(np.asarray(lab, np.float32), np) * 255.0)


def _psnr(mse):
    return float(10.0 * np.log10(255.0**2 / max(float(mse), 1e-12)))


def _compiled(fn, xla=False):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=xla)
    return fn


def _time_ms(fn, args, repeat=10):
    for _ in range(3):
        np.asarray(fn(*args))
    t = time.perf_counter()
    for _ in range(repeat):
        np.asarray(fn(*args))
    return round(1000 * (time.perf_counter() - t) / repeat, 2)


def measure(photos, points=(1, 5, 10), iterations=(20, 30, 40), stride=4, sigma=None,
            lam_area=None):
    """Yields one dict a (points, iterations) pair, then one of timings.
    ``sigma``, ``lam_area``: the propagation's (default the original one, σ =
    5 and a decay of 1e-6; ``kcolor.hints.model.decay``)."""
    from kcolor.hints import propagate as prop
    from kcolor.hints import sampler
    from kcolor.hints.model import decay

    size = photos[0][1].shape[0]
    sigma = prop.SIGMA if sigma is None else float(sigma)
    lam = decay(size // stride, size // stride, prop.LAM, lam_area)
    truth8 = [_rgb8(lab) for _, lab in photos]
    gray8 = [_rgb8(np.concatenate([lab[..., :1], 0 * lab[..., 1:]], -1)) for _, lab in photos]
    solvers = {n: _compiled(lambda L, h, m, n=n: prop.propagate_ops(L, h, m, n, sigma, lam))
               for n in iterations}
    scipy_times = []
    for n_points in points:
        L_c, hint_c, m_c, exact = [], [], [], []
        L_full, masks, hints = [], [], []
        for name, lab in photos:
            hint, mask = sampler.sample_eval(lab[..., 1:], n_points, sampler.seed_for(name))
            lc, hc, mc = prop.downsample(lab[..., :1], hint, mask, stride)
            t = time.perf_counter()
            exact.append(prop.propagate(lc, hc, mc, sigma, lam))
            scipy_times.append(time.perf_counter() - t)
            L_c.append(lc), hint_c.append(hc), m_c.append(mc)
            L_full.append(lab[..., :1]), masks.append(mask), hints.append(hint)
        L_c, hint_c, m_c = (np.stack(a).astype(np.float32) for a in (L_c, hint_c, m_c))
        exact = np.stack(exact)

        def photo(ab_c, i):
            ab = prop.upsample_bilinear(ab_c, size, size)
            ab = np.where(masks[i] > 0.5, hints[i], ab)  # keep_hints
            return _rgb8(np.concatenate([L_full[i], ab], -1))

        ex8 = [photo(exact[i], i) for i in range(len(photos))]
        mse_ex = np.array([np.mean((e - t) ** 2) for e, t in zip(ex8, truth8)])
        mse_gray = np.array([np.mean((g - t) ** 2) for g, t in zip(gray8, truth8)])
        for n_it in iterations:
            ops_ab = np.asarray(solvers[n_it](L_c, hint_c, m_c))
            d = np.abs(ops_ab - exact)
            op8 = [photo(ops_ab[i], i) for i in range(len(photos))]
            mse_op = np.array([np.mean((o - t) ** 2) for o, t in zip(op8, truth8)])
            mse_oe = np.array([np.mean((o - e) ** 2) for o, e in zip(op8, ex8)])
            ps_ex = np.array([_psnr(m) for m in mse_ex])
            ps_op = np.array([_psnr(m) for m in mse_op])
            yield {"points": n_points, "iterations": n_it, "photos": len(photos),
                   "mean_abs_dab": round(float(d.mean()), 4),
                   "worst_photo_dab": round(float(d.mean((1, 2, 3)).max()), 4),
                   "psnr_gray": round(float(np.mean([_psnr(m) for m in mse_gray])), 3),
                   "psnr_exact": round(float(ps_ex.mean()), 3),
                   "psnr_ops": round(float(ps_op.mean()), 3),
                   "dpsnr_mean": round(float((ps_op - ps_ex).mean()), 4),
                   "dpsnr_min": round(float((ps_op - ps_ex).min()), 4),
                   "dpsnr_max": round(float((ps_op - ps_ex).max()), 4),
                   "psnr_ops_vs_exact": round(_psnr(mse_oe.mean()), 2)}
    one = tuple(a[:1] for a in (L_c, hint_c, m_c))
    timing = {"scipy_ms": round(1000 * float(np.median(scipy_times)), 2)}
    for n_it in iterations:
        timing[f"ops_{n_it}_ms"] = _time_ms(solvers[n_it], one)
    import keras

    if keras.backend.backend() == "tensorflow":
        xla = _compiled(lambda L, h, m: prop.propagate_ops(L, h, m, sigma=sigma, lam=lam),
                        xla=True)
        timing[f"ops_{prop.ITERATIONS}_xla_ms"] = _time_ms(xla, one)

    yield {"timing_at": f"{size // stride}x{size // stride}", "backend": keras.backend.backend(),
           "sigma": sigma, "lam": lam, **timing}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=DEFAULT_FOLDER)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--points", default="1,5,10")
    parser.add_argument("--iterations", default="20,30,40")
    parser.add_argument("--sigma", type=float, default=None,
                        help="affinity width (default 5; the trained lite_hints: 3)")
    parser.add_argument("--lam_area", type=float, default=None,
                        help="decay times the cells (default none: a decay of 1e-6; the "
                        "trained lite_hints: 0.8)")
    args = parser.parse_args(argv)
    photos = load_photos(args.folder, args.photos, args.size)
    for row in measure(photos, [int(v) for v in args.points.split(",")],
                       [int(v) for v in args.iterations.split(",")], sigma=args.sigma,
                       lam_area=args.lam_area):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
