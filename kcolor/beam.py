"""Batch colorization on Apache Beam: ``kcolor beam`` or ``python -m kcolor.beam``.

    kcolor beam --input=PHOTOS --output_dir=OUT [--model=small] [Beam options]

``--input`` (repeatable) is a photo, a folder (recursive), a glob, a list file
(one path a line, relative to the list's folder, ``#`` comments) or a TFRecord
shard pattern from ``kcolor prepare-data`` (``DIR/train-*.tfrecord``:
``tf.train.Example`` with the photo's bytes in ``image/encoded`` and its path
in ``image/source``). Paths may be local or on any Beam filesystem
(``gs://...`` needs ``apache-beam[gcp]``).

The pipeline:

1. read each photo (``kcolor.imageio``: EXIF orientation, alpha, 16-bit) and
   compute its full-size lightness L;
2. ``RunInference`` with ``ColorizerModelHandler`` (kcolor/beam_handler.py),
   batched by Beam's ``BatchElements`` (``--batch_size``): each L squashed to
   the model's working size, one prediction per batch, ab resized back;
3. join the photo's own L with its ab and write the result atomically to
   ``--output_dir`` under the input's relative name, in the input's format
   unless ``--format`` (an output that would replace an input is refused);
4. write ``--output_dir/manifest.jsonl``, one JSON object a line (in no
   particular order): ``{"input", "output", "status": "ok" | "error",
   "error"}`` (``output`` and ``error`` are null where they do not apply),
   plus ``"shard"`` for photos read from TFRecord shards.

A photo that cannot be read, colorized or written becomes a manifest row with
status "error" and a one-line error naming the file; the pipeline goes on.
The exit status is 1 when any photo failed, as for ``kcolor colorize``.

Every flag that is not kcolor's goes to Beam's ``PipelineOptions``: the
DirectRunner by default (``--direct_num_workers=2
--direct_running_mode=multi_processing`` for more cores), or
``--runner=DataflowRunner --project=... --region=... --temp_location=gs://...``,
``--runner=FlinkRunner --flink_master=...``; see docs/SCALING.md.
"""

import argparse
import glob
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time

try:
    import apache_beam as beam
except ModuleNotFoundError as e:  # an optional extra
    raise ModuleNotFoundError(f"{e}: kcolor beam needs the beam extra: "
                              "pip install 'kcolor[beam]'") from e
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.tfrecordio import ReadAllFromTFRecord
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from kcolor import atomic, colorize, colorize_files, imageio
from kcolor.beam_handler import ColorizerModelHandler

MANIFEST = "manifest.jsonl"
NAMESPACE = "kcolor"  # Beam metrics: photos_colorized, photos_failed
_ERROR = "error"
_RAW = CompressionTypes.UNCOMPRESSED
_SHARD = re.compile(r"\.tfrecords?(\.gz)?$")
_SHARD_NUMBER = re.compile(r"-\d+-of-\d+\.tfrecords?(\.gz)?$")


def _remote(path):
    return "://" in path


def _row(src, dst, error=None, shard=None):
    """A manifest row; ``output`` is null unless the photo was written."""
    row = {"input": src, "output": None if error else dst, "status": "error" if error else "ok",
           "error": error}
    if shard:
        row["shard"] = shard
    return row


def _message(e, path):
    """One line ``PATH: reason`` for exception ``e`` about ``path``."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if text.startswith(f"{path}: ") else f"{path}: {text}"


class _Named(io.BytesIO):
    """Encoded bytes that format as their path, so that ``imageio``'s errors
    read ``PATH: reason`` for photos from remote files and shards too."""

    def __init__(self, data, name):
        super().__init__(data)
        self._name = name

    def __str__(self):
        return self._name


# ---------------------------------------------------------------------------
# Inputs, resolved when the pipeline is built.
# ---------------------------------------------------------------------------

def _read_text(path):
    with FileSystems.open(path, compression_type=_RAW) as f:
        return f.read().decode("utf-8")


def _match(pattern):
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _expand_remote(item):
    """(path, relative name) of a remote photo, glob or folder (a path ending
    in / or naming no object and no photo)."""
    if glob.has_magic(item):
        return [(p, posixpath.basename(p)) for p in _match(item)]
    if item.lower().endswith(imageio.EXTENSIONS):
        return [(item, posixpath.basename(item))]
    folder = item.rstrip("/") + "/"
    return [(p, p[len(folder):]) for p in _match(folder + "**")
            if p.lower().endswith(imageio.EXTENSIONS)]


def _is_list(item):
    """A list file: an existing file that is no photo (by its name)."""
    if item.lower().endswith(imageio.EXTENSIONS) or glob.has_magic(item) or item.endswith("/"):
        return False
    return FileSystems.exists(item) if _remote(item) else os.path.isfile(item)


def _list_entries(path):
    """(photo, relative name) of a list file's lines: a relative line keeps
    its own path as the output name; folders and globs expand as inputs do."""
    join = posixpath.join if _remote(path) else os.path.join
    base = posixpath.dirname(path) if _remote(path) else os.path.dirname(os.path.abspath(path))
    found = []
    for line in _read_text(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        full = line if os.path.isabs(line) or _remote(line) else join(base, line)
        folder = full.endswith("/") or (not _remote(full) and os.path.isdir(full))
        if folder or glob.has_magic(full):
            found += _expand(full)
        elif os.path.isabs(line) or _remote(line) or os.path.normpath(line).startswith(".."):
            found.append((full, posixpath.basename(full)))
        else:
            found.append((full, os.path.normpath(line)))
    return found


def _expand(item):
    return _expand_remote(item) if _remote(item) else colorize_files.expand([item])


def _shard_root(shard):
    """The folder that ``kcolor prepare-data`` read the photos of ``shard``
    from (``input`` in ``PREFIX.manifest.json``), or None."""
    manifest = _SHARD_NUMBER.sub("", shard) + ".manifest.json"
    try:
        source = json.loads(_read_text(manifest))["input"]
    except Exception:  # no manifest (shards from elsewhere): names are basenames
        return None
    return os.path.dirname(source) if os.path.isfile(source) else source


def plan(inputs, output_dir, fmt=None):
    """What the pipeline will do with ``inputs``.

    Returns:
      (jobs: [(photo, output)], shards: [file], refused: manifest rows of
      photos whose output would replace an input, shard roots: {file: folder}).
    Raises:
      ValueError: unknown ``fmt``; FileNotFoundError: an input matches nothing.
    """
    colorize_files.output_path("check", output_dir, fmt)  # an unknown --format fails here
    found, shards = [], []
    for item in inputs:
        if _SHARD.search(item):
            matched = _match(item)
            if not matched:
                raise FileNotFoundError(f"{item}: no TFRecord shards match")
            shards += matched
        elif _is_list(item):
            found += _list_entries(item)
        else:
            found += _expand(item)
    if not found and not shards:
        raise FileNotFoundError(f"{', '.join(inputs)}: no photos")
    real = os.path.realpath
    inputs_seen = {p if _remote(p) else real(p) for p, _ in found}
    jobs, refused = [], []
    for src, rel in found:
        dst = colorize_files.output_path(rel, output_dir, fmt)
        if (dst if _remote(dst) else real(dst)) in inputs_seen:
            refused.append(_row(src, dst, f"{src}: output {dst} would overwrite an input; refused"))
        else:
            jobs.append((src, dst))
    return jobs, shards, refused, {s: _shard_root(s) for s in shards}


# ---------------------------------------------------------------------------
# The pipeline's steps.
# ---------------------------------------------------------------------------

def _lightness_of(data, src, dst, shard=None):
    """((input, output, alpha, shard), full-size L) of encoded photo or path ``data``."""
    rgb, alpha = imageio.read_rgb_alpha(data)
    return (src, dst, alpha, shard), colorize._lightness(rgb)


class ReadPhoto(beam.DoFn):
    """(photo, output) → ((photo, output, alpha, None), L), or an error row
    on the ``error`` output."""

    def process(self, job):
        src, dst = job
        try:
            if _remote(src):
                with FileSystems.open(src, compression_type=_RAW) as f:
                    data = _Named(f.read(), src)
            else:
                data = src
            photo = _lightness_of(data, src, dst)
        except Exception as e:  # one bad photo is a manifest row, never a failed pipeline
            yield beam.pvalue.TaggedOutput(_ERROR, _row(src, dst, _message(e, src)))
            return
        yield photo


class ReadRecord(beam.DoFn):
    """(shard, serialized tf.train.Example) → ((source, output, alpha, shard), L),
    or an error row on the ``error`` output. The output name is ``image/source``
    relative to the folder the shards were made from, else its file name."""

    def __init__(self, output_dir, fmt, roots):
        self.output_dir, self.fmt, self.roots = output_dir, fmt, roots

    def process(self, item):
        shard, record = item
        src, dst = f"{shard}: record", None
        try:
            from tensorflow.core.example import example_pb2

            feature = example_pb2.Example.FromString(record).features.feature
            data = feature["image/encoded"].bytes_list.value[0]
            source = feature["image/source"].bytes_list.value
            source = os.fsdecode(source[0]) if source else None
            if source:
                src = source
            else:  # no source path: name it after the shard and its bytes
                kind = feature["image/format"].bytes_list.value if "image/format" in feature else []
                src = (f"{shard}#{hashlib.sha1(data).hexdigest()[:16]}"
                       f".{kind[0].decode() if kind else 'png'}")
            dst = colorize_files.output_path(self._relative(shard, src), self.output_dir, self.fmt)
            photo = _lightness_of(_Named(data, src), src, dst, shard)
        except Exception as e:
            yield beam.pvalue.TaggedOutput(_ERROR, _row(src, dst, _message(e, src), shard))
            return
        yield photo

    def _relative(self, shard, src):
        root = self.roots.get(shard)
        if "#" in src and src.startswith(shard):
            return posixpath.basename(_SHARD_NUMBER.sub("", shard)) + "/" + src.split("#")[1]
        if root and src.startswith(root.rstrip("/") + "/"):
            return src[len(root.rstrip("/")) + 1:]
        return posixpath.basename(src)


def _write(rgb, alpha, dst, src):
    if not _remote(dst):
        if os.path.exists(dst) and not _remote(src) and os.path.exists(src) \
                and os.path.samefile(src, dst):
            raise ValueError("it would overwrite its input; refused")
        colorize.write_atomic(rgb, alpha, dst)
        return
    if dst == src:
        raise ValueError("it would overwrite its input; refused")
    with tempfile.TemporaryDirectory(prefix="kcolor-") as tmp:
        local = os.path.join(tmp, "out" + os.path.splitext(dst)[1])
        colorize.write_atomic(rgb, alpha, local)
        with open(local, "rb") as f, FileSystems.create(dst, compression_type=_RAW) as out:
            shutil.copyfileobj(f, out)


class WritePhoto(beam.DoFn):
    """((input, output, alpha, shard), PredictionResult(L, ab)) → a manifest row:
    the photo's L joined with its ab, written to its output."""

    def process(self, item):
        (src, dst, alpha, shard), result = item
        try:
            _write(colorize._join(result.example, result.inference), alpha, dst, src)
        except Exception as e:
            yield _row(src, dst, f"{src}: cannot write {dst}: {' '.join(str(e).split())}", shard)
            return
        yield _row(src, dst, shard=shard)


def _failed_batch(item):
    """Manifest rows of a batch that ``RunInference`` could not colorize."""
    batch, (_, _, trace) = item
    reason = trace[-1].strip() if trace else "inference failed"
    return [_row(src, dst, f"{src}: colorizing failed: {reason}", shard)
            for (src, dst, _, shard), _ in batch]


def _count(row):
    name = "photos_colorized" if row["status"] == "ok" else "photos_failed"
    beam.metrics.Metrics.counter(NAMESPACE, name).inc()
    return row


def build(pipeline, inputs, output_dir, model=None, size=None, temperature=None,
          saturation=None, batch_size=8, min_batch_size=None, fmt=None):
    """Adds the colorization of ``inputs`` to ``pipeline``; returns the
    PCollection of manifest rows (also written to ``output_dir/manifest.jsonl``)."""
    jobs, shards, refused, roots = plan(inputs, output_dir, fmt)
    remove_stale_temporaries(output_dir, jobs, shards)
    photos, errors = [], []
    if jobs:
        read = (pipeline | "Photos" >> beam.Create(jobs)
                | "Read" >> beam.ParDo(ReadPhoto()).with_outputs(_ERROR, main="photos"))
        photos.append(read.photos)
        errors.append(read[_ERROR])
    if shards:
        read = (pipeline | "Shards" >> beam.Create(shards)
                | "ReadShards" >> ReadAllFromTFRecord(with_filename=True)
                | "Decode" >> beam.ParDo(ReadRecord(output_dir, fmt, roots)).with_outputs(
                    _ERROR, main="photos"))
        photos.append(read.photos)
        errors.append(read[_ERROR])
    if refused:
        errors.append(pipeline | "Refused" >> beam.Create(refused))
    rows = errors
    if photos:
        handler = KeyedModelHandler(ColorizerModelHandler(
            model, size, temperature, saturation,
            min_batch_size=min(min_batch_size or batch_size, batch_size),
            max_batch_size=batch_size))
        colorized, failed = (photos | "AllPhotos" >> beam.Flatten()
                             | "Colorize" >> RunInference(handler).with_exception_handling())
        rows = [colorized | "Write" >> beam.ParDo(WritePhoto()),
                failed.failed_inferences | "FailedBatches" >> beam.FlatMap(_failed_batch), *errors]
    rows = rows | "Rows" >> beam.Flatten(pipeline=pipeline) | "Count" >> beam.Map(_count)
    _ = (rows | "Json" >> beam.Map(json.dumps)
         | "Manifest" >> beam.io.WriteToText(
             FileSystems.join(output_dir, MANIFEST[:-len(".jsonl")]), file_name_suffix=".jsonl",
             num_shards=1, shard_name_template=""))
    return rows


def remove_stale_temporaries(output_dir, jobs, shards):
    """Removes the temporary files (``kcolor.atomic``) that an earlier run
    killed mid-write left in the local output folders: those of ``jobs``, and
    with ``shards`` (whose outputs are named only as records are read) every
    folder under ``output_dir``. Remote outputs are written whole by their
    file system. Returns the removed paths."""
    if _remote(output_dir):
        return []
    folders = {output_dir} | {os.path.dirname(dst) for _, dst in jobs if not _remote(dst)}
    if shards:
        folders |= {root for root, _, _ in os.walk(output_dir)}
    return atomic.remove_stale(folders)


def _check_model(model):
    """Fails now, not on every worker, for a local model path that is missing."""
    if model is None or _remote(model) or os.path.exists(model):
        return
    from kcolor import presets

    if model not in presets.names():
        raise FileNotFoundError(f"{model}: no such model file, SavedModel folder or preset "
                                f"(presets: {', '.join(presets.names()) or 'none'})")


def run(inputs, output_dir, model=None, size=None, temperature=None, saturation=None,
        batch_size=8, min_batch_size=None, fmt=None, beam_args=()):
    """Builds and runs the pipeline (blocking).

    Returns:
      {"colorized": n, "failed": n, "seconds": wall time, "manifest": path}.
    """
    _check_model(model)
    t0 = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(list(beam_args)))
    build(pipeline, inputs, output_dir, model, size, temperature, saturation, batch_size,
          min_batch_size, fmt)
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - t0
    counts = {"photos_colorized": 0, "photos_failed": 0}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        if c.key.metric.name in counts:
            counts[c.key.metric.name] += c.committed if c.committed is not None else c.attempted
    return {"colorized": counts["photos_colorized"], "failed": counts["photos_failed"],
            "seconds": seconds, "manifest": FileSystems.join(output_dir, MANIFEST)}


def parser():
    p = argparse.ArgumentParser(
        prog="kcolor beam", allow_abbrev=False,
        description="Colorize photos with an Apache Beam pipeline (RunInference).",
        epilog="Every other flag goes to Beam's PipelineOptions, e.g. --runner=DataflowRunner "
               "--project=P --region=R --temp_location=gs://B/tmp, or --runner=FlinkRunner "
               "--flink_master=HOST:8081, or --direct_num_workers=2 "
               "--direct_running_mode=multi_processing. See docs/SCALING.md.")
    p.add_argument("--input", action="append", required=True, metavar="PATH",
                   help="Photo, folder, glob, list file (one path a line) or TFRecord shard "
                        "pattern (DIR/train-*.tfrecord); repeatable.")
    p.add_argument("--output_dir", required=True,
                   help="Where outputs and manifest.jsonl go (mirrors the inputs' names).")
    p.add_argument("--model", default=None,
                   help="Preset name, .keras file, .tflite file or SavedModel folder from "
                        "kcolor export (default: the shipped model).")
    p.add_argument("--size", type=int, default=None,
                   help="Working size the network sees (default: the model's; 128 for a "
                        "SavedModel).")
    p.add_argument("--temperature", type=float, default=None,
                   help="Annealed-mean temperature (default: the model's).")
    p.add_argument("--saturation", type=float, default=None,
                   help="Multiply the predicted ab (default: the model's).")
    p.add_argument("--batch_size", type=int, default=8, help="Most photos per prediction.")
    p.add_argument("--min_batch_size", type=int, default=None,
                   help="Fewest photos per prediction (default: --batch_size; lower lets Beam "
                        "adapt the batch).")
    p.add_argument("--format", default=None,
                   help="Output format for every photo (jpg, png, tiff, webp, bmp); default: "
                        "each input's own.")
    return p


def main(argv=None):
    args, beam_args = parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = run(args.input, args.output_dir, args.model, args.size, args.temperature,
                      args.saturation, args.batch_size, args.min_batch_size, args.format,
                      beam_args)
    except (ValueError, OSError) as e:  # bad flags or inputs, before any work
        sys.exit(f"kcolor beam: {e}")
    done, failed, seconds = summary["colorized"], summary["failed"], summary["seconds"]
    print(f"{done} colorized, {failed} failed in {seconds:.1f} s "
          f"({(done + failed) / seconds:.2f} photos/s, pipeline start included); "
          f"manifest: {summary['manifest']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
