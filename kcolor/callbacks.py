"""Callbacks of the fit recipes: validation metrics and the learning-curve PNG."""

import csv
import os

import keras
import numpy as np
from keras import ops

from kcolor import color, decode, metrics


def evaluate_colorizer(predict_ab, dataset, on_batch=None, on_predictions=None):
    """Mean metrics of a model and of the gray baseline (ab = 0).

    Args:
      predict_ab: L [B, h, w, 1] → ab at the same size, e.g. the
        ``predict_on_batch`` of ``decode.build_inference_model``.
      dataset: batches of (L, RGB) (``kcolor.data.validation_dataset``);
        anything after RGB in a batch (names) is passed to ``on_predictions``.
      on_batch: optional ``f(rgb_true, rgb_pred, per_image_metrics)``.
      on_predictions: optional ``f(batch, rgb_pred, rgb_gray)``: the batch as
        the dataset gave it (numpy), the model's and the gray baseline's sRGB.
    Returns:
      (model metrics, gray metrics): dicts name → float; the gray dict also
      holds ``true_colorfulness``, the ground truth's colourfulness.
    """
    sums, gray_sums, n = {}, {"true_colorfulness": 0.0}, 0
    for batch in dataset:
        batch = tuple(np.asarray(x) for x in batch)
        L, rgb = batch[0], batch[1]
        preds = []
        lab_true = ops.convert_to_numpy(color.rgb_to_lab(rgb))
        ab = ops.convert_to_numpy(predict_ab(L))
        gray_sums["true_colorfulness"] += float(np.sum(ops.convert_to_numpy(metrics.colorfulness(rgb))))
        for out, ab_pred in ((sums, ab), (gray_sums, np.zeros_like(ab))):
            lab_pred = np.concatenate([L, ab_pred], -1)
            rgb_pred = ops.convert_to_numpy(color.lab_to_rgb(lab_pred))
            preds.append(rgb_pred)
            scores = metrics.all_metrics(rgb, lab_true, rgb_pred, lab_pred)
            for k, v in scores.items():
                out[k] = out.get(k, 0.0) + float(np.sum(v))
            if on_batch is not None and out is sums:
                on_batch(rgb, rgb_pred, scores)
        if on_predictions is not None:
            on_predictions(batch, *preds)
        n += len(L)
    if n == 0:
        raise ValueError("validation set is empty")
    return {k: v / n for k, v in sums.items()}, {k: v / n for k, v in gray_sums.items()}


class ValidationMetrics(keras.callbacks.Callback):
    """At each epoch end, adds ``val_psnr``, ``val_ssim``, ``val_auc``,
    ``val_colorfulness`` (and the gray baseline's as ``gray_*``, plus the
    ground truth's colourfulness as ``true_colorfulness``) to the logs, so
    CSVLogger, ModelCheckpoint and the plot see them. Place it first.
    """

    def __init__(self, dataset, temperature=0.38):
        super().__init__()
        self.dataset = dataset
        self.temperature = temperature
        self._gray = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        inference = decode.build_inference_model(self.model, self.temperature)
        scores, gray = evaluate_colorizer(inference.predict_on_batch, self.dataset)
        if self._gray is None:
            self._gray = {("gray_" + k if k in metrics.NAMES else k): v for k, v in gray.items()}
        logs.update({f"val_{k}": v for k, v in scores.items()})
        logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs.update(self._gray)
        print(
            "\n  val: " + "  ".join(f"{k} {v:.4g}" for k, v in scores.items())
            + "\n  gray: " + "  ".join(f"{k} {self._gray['gray_' + k]:.4g}" for k in scores)
            + f"  true colorfulness {self._gray['true_colorfulness']:.4g}"
        )


class LearningCurvePlot(keras.callbacks.Callback):
    """Redraws ``png_path`` from the CSV log at each epoch end: the loss,
    and each validation metric against its gray baseline."""

    def __init__(self, csv_path, png_path, title=""):
        super().__init__()
        self.csv_path, self.png_path, self.title = csv_path, png_path, title

    def on_epoch_end(self, epoch, logs=None):
        plot_learning_curves(self.csv_path, self.png_path, self.title)


def plot_learning_curves(csv_path, png_path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    if not os.path.exists(csv_path):
        return
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]

    def col(name):
        return [float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows]

    panels = ["loss"] + [m for m in metrics.NAMES if f"val_{m}" in rows[0]]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), squeeze=False)
    for ax, name in zip(axes[0], panels):
        if name == "loss":
            ax.plot(epochs, col("loss"), "o-", label="train loss")
        else:
            ax.plot(epochs, col(f"val_{name}"), "o-", label="model (val)")
            if f"gray_{name}" in rows[0]:
                ax.plot(epochs, col(f"gray_{name}"), "--", color="gray", label="gray (ab = 0)")
            if name == "colorfulness" and "true_colorfulness" in rows[0]:
                ax.plot(epochs, col("true_colorfulness"), ":", color="green", label="ground truth")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = png_path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)
