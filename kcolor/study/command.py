"""``kcolor study make`` and ``kcolor study score``: flags and entry points.

Usage:
  kcolor study make --photos=DIR --output=study/ [--model=M[,M2]] [--count=40] [--checks=4]
  kcolor study score [--key=study/key.json] [--max_missed=0] [--markdown=FILE] RESULTS.json...
"""

import sys

from absl import flags

FLAGS = flags.FLAGS
USAGE = __doc__[__doc__.index("Usage:"):]


def define_flags(sub):
    """Defines the flags of ``kcolor study SUB`` (none for an unknown SUB)."""
    if sub == "make":
        flags.DEFINE_string("photos", None, "Folder of colour photos to draw from (recursive).")
        flags.DEFINE_string("output", "study", "Folder for index.html and key.json.")
        flags.DEFINE_multi_string("model", None, "Preset, .keras, .tflite or SavedModel folder; "
                                  "give it twice or comma-separate two to compare models "
                                  "(default: the shipped model).")
        flags.DEFINE_integer("count", 40, "Photos (pairs) per participant.")
        flags.DEFINE_integer("checks", 4, "Attention checks: pairs with obviously wrong colours.")
        flags.DEFINE_integer("seed", 0, "Seed for the choice of photos.")
        flags.DEFINE_integer("display_size", 256, "Long side of the photos, in pixels.")
        flags.DEFINE_string("contact", None, "Who participants send their results to "
                            "(shown on the page, e.g. an e-mail address).")
        flags.DEFINE_bool("overwrite", False, "Replace a study already in --output.")
    elif sub == "score":
        flags.DEFINE_string("key", None, "The study's key.json (default: beside the first "
                            "results file or in its parent folder).")
        flags.DEFINE_integer("max_missed", 0, "Exclude participants who miss more attention "
                             "checks than this.")
        flags.DEFINE_string("markdown", None, "Also write the tables to this Markdown file.")


def run(argv):
    from kcolor.study import StudyError

    sub = argv[1] if len(argv) > 1 else None
    try:
        if sub == "make" and len(argv) == 2:
            return _make()
        if sub == "score" and len(argv) > 2:
            return _score(argv[2:])
    except StudyError as e:
        sys.exit(f"kcolor study {sub}: {e}")
    sys.exit(USAGE)


def _make():
    from kcolor.study import StudyError, make

    if not FLAGS.photos:
        raise StudyError("--photos=DIR is required")
    try:
        make.make(FLAGS.photos, FLAGS.output, FLAGS.model, FLAGS.count, FLAGS.checks, FLAGS.seed,
                  FLAGS.display_size, FLAGS.contact, FLAGS.overwrite)
    except (ValueError, FileNotFoundError) as e:  # a bad --model
        if isinstance(e, StudyError):
            raise
        raise StudyError(str(e)) from e


def _score(paths):
    from kcolor.study import score

    report = score.score(paths, FLAGS.key, FLAGS.max_missed, log=lambda m: print(m, file=sys.stderr))
    text = score.table(report)
    print(text)
    if FLAGS.markdown:
        with open(FLAGS.markdown, "w", encoding="utf-8") as f:
            f.write(text + "\n")
