"""Choosing a preset's saturation: the gain at which a colorizer's outputs
reach a target colourfulness, as a fraction of the ground truth's, on photos
set aside for it (training photos; never the validation set it is scored on).

A regression colorizer predicts something near the conditional mean or
median of ab, which is grayer than the truth; a gain > 1
(``kcolor.decode.saturate``) buys colour for a little PSNR. With
``mean_saturation`` = 1 the gain scales only each pixel's departure from its
photo's mean colour, which buys the same colour for less PSNR than scaling ab
itself (docs/MODEL_CARD.md). ``sweep`` prices each gain once (the network
runs once; only the cheap scoring repeats) and ``choose`` picks the gain for
a target ratio by linear interpolation between the swept gains.
"""

import numpy as np

from kcolor import callbacks, decode

GAINS = tuple(round(1.0 + 0.1 * i, 1) for i in range(11))  # 1.0, 1.1, …, 2.0


def sweep(predict_ab, dataset, gains=GAINS, mean_saturation=None):
    """One row per gain: ``gain``, ``psnr``, ``gray_psnr`` and ``ratio`` (the
    outputs' colourfulness / the truth's) of ``predict_ab`` saturated by gain
    (``decode.saturate(ab, gain, mean_saturation)``) on ``dataset`` (batches
    of (L, RGB), ``kcolor.data.validation_dataset``)."""
    batches = [(np.asarray(L), np.asarray(rgb)) for L, rgb in dataset]
    if not batches:
        raise ValueError("no photos to choose the saturation on")
    predictions = [np.asarray(predict_ab(L)) for L, _ in batches]
    rows = []
    for gain in gains:
        remaining = iter(predictions)
        model, gray = callbacks.evaluate_colorizer(
            lambda L: decode.saturate(next(remaining), gain, mean_saturation, xp=np), batches)
        rows.append({"gain": float(gain), "psnr": model["psnr"], "gray_psnr": gray["psnr"],
                     "ratio": model["colorfulness"] / gray["true_colorfulness"]})
    return rows


def bracket(rows, target):
    """(lo, hi, t): the two neighbouring swept rows whose colourfulness ratios
    enclose ``target`` and its fraction t of the way from lo to hi; None when
    the sweep does not reach it."""
    rows = sorted(rows, key=lambda r: r["gain"])
    for lo, hi in zip(rows, rows[1:]):
        if lo["ratio"] <= target <= hi["ratio"] and hi["ratio"] > lo["ratio"]:
            return lo, hi, (target - lo["ratio"]) / (hi["ratio"] - lo["ratio"])
    return None


def choose(rows, target):
    """The gain whose colourfulness ratio is ``target``, interpolated between
    the two swept gains around it; the first gain when even it is more
    colourful. Raises ValueError when no swept gain reaches the target."""
    rows = sorted(rows, key=lambda r: r["gain"])
    if rows[0]["ratio"] >= target:
        return rows[0]["gain"]
    found = bracket(rows, target)
    if found is not None:
        lo, hi, t = found
        return round(lo["gain"] + t * (hi["gain"] - lo["gain"]), 3)
    raise ValueError(f"no gain up to {rows[-1]['gain']} reaches {target:.2f}x the truth's "
                     f"colourfulness (it reaches {rows[-1]['ratio']:.2f}x)")


def choose_for_model(model, folder, target, size, limit=500, temperature=0.38,
                     mean_saturation=None):
    """(gain, note): the gain at which ``model``'s outputs reach ``target`` ×
    the truth's colourfulness on ``limit`` photos of ``folder`` squashed to
    ``size`` (with ``mean_saturation`` fixed); prints the sweep's table."""
    import os

    from kcolor import data

    inference = decode.build_inference_model(model, temperature, 1.0)
    photos = data.validation_dataset(folder, size, limit=limit, squash=True)
    rows = sweep(inference.predict_on_batch, photos, mean_saturation=mean_saturation)
    print(table(rows))
    gain = choose(rows, target)
    how = "" if mean_saturation is None else f" (photo's mean colour x{mean_saturation})"
    note = (f"saturation {gain}{how} reaches {target}x the truth's colourfulness on {limit} photos "
            f"of {os.path.basename(os.path.normpath(folder))}/")
    return gain, note


def table(rows):
    """The sweep as a Markdown table."""
    lines = ["| gain | PSNR (dB) | gain over gray (dB) | colourfulness / truth |",
             "|---|---|---|---|"]
    lines += [f"| {r['gain']:.1f} | {r['psnr']:.2f} | {r['psnr'] - r['gray_psnr']:+.2f} | "
              f"{r['ratio']:.3f} |" for r in rows]
    return "\n".join(lines)
