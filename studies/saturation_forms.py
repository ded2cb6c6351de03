"""Which saturation buys colour for the least PSNR? Scales ab itself (the
uniform gain) against scaling each pixel's departure from its photo's mean
colour with the mean kept (or scaled by other gains), on one set of photos:

    python studies/saturation_forms.py --model=lite --data_dir=../shared/data/train --limit=500

The network runs once at gain 1 (the preset's saturation is not applied);
``kcolor.saturation.sweep`` scores each form and gain. For each form the
table gives the swept rows and the PSNR over gray interpolated at
``--target`` × the truth's colourfulness. Run it on training photos to
choose, on val photos only to report.
"""

from absl import app, flags

flags.DEFINE_string("model", "lite", "Preset name or .keras file.")
flags.DEFINE_string("data_dir", "../shared/data/train", "Colour photos.")
flags.DEFINE_integer("limit", 500, "Photos, spread evenly over the folder.")
flags.DEFINE_integer("size", 128, "Photos are squashed to size x size.")
flags.DEFINE_list("mean_gains", ["uniform", "0.8", "1.0", "1.2"],
                  "Gains on the photo's mean colour; 'uniform': ab x gain.")
flags.DEFINE_list("gains", ["1.0", "1.2", "1.4", "1.6", "1.8"], "Gains swept.")
flags.DEFINE_float("target", 0.8, "Colourfulness ratio to interpolate the PSNR at.")
FLAGS = flags.FLAGS


def at_ratio(rows, target):
    """PSNR over gray interpolated at colourfulness ratio ``target`` (None outside the sweep)."""
    from kcolor import saturation

    found = saturation.bracket(rows, target)
    if found is None:
        return None
    lo, hi, t = found
    d = lambda r: r["psnr"] - r["gray_psnr"]  # noqa: E731
    return d(lo) + t * (d(hi) - d(lo))


def main(argv):
    import numpy as np

    from kcolor import colorize, data, decode, saturation

    model, cfg = colorize.load_model(FLAGS.model)
    inference = decode.build_inference_model(model, cfg.get("temperature", 0.38), 1.0)
    photos = [(np.asarray(L), np.asarray(rgb)) for L, rgb in
              data.validation_dataset(FLAGS.data_dir, FLAGS.size, limit=FLAGS.limit, squash=True)]
    predictions = [np.asarray(inference.predict_on_batch(L)) for L, _ in photos]
    gains = [float(g) for g in FLAGS.gains]
    print(f"{FLAGS.model} on {sum(len(L) for L, _ in photos)} photos of "
          f"{FLAGS.data_dir}, squashed to {FLAGS.size} px\n")
    print("| photo's mean colour | gain on the rest | PSNR − gray (dB) | colourfulness × truth |")
    print("|---|---|---|---|")
    summary = []
    for form in FLAGS.mean_gains:
        mean_gain = None if form == "uniform" else float(form)
        remaining = iter(predictions)  # sweep runs the 'network' once
        rows = saturation.sweep(lambda L: next(remaining), photos, gains, mean_gain)
        label = "× the same gain (ab × gain)" if mean_gain is None else f"× {mean_gain}"
        for r in rows:
            print(f"| {label} | {r['gain']:.1f} | {r['psnr'] - r['gray_psnr']:+.2f} | "
                  f"{r['ratio']:.3f} |")
        summary.append((label, at_ratio(rows, FLAGS.target)))
    print(f"\nPSNR − gray at {FLAGS.target} × the truth's colourfulness (interpolated):")
    for label, d in summary:
        print(f"  mean colour {label}: " + ("outside the sweep" if d is None else f"{d:+.2f} dB"))


if __name__ == "__main__":
    app.run(main)
