"""A colorization Turing test: ``kcolor study make`` and ``kcolor study score``.

``make`` picks colour photos, colorizes their gray versions and writes
``index.html`` (one self-contained file: images inlined, no server, no
network) that shows one real / colorized pair at a time and asks which photo
is real, plus ``key.json``, the answer key, which stays with the experimenter.
``score`` joins the participants' downloaded results with the key and reports
the fool rate (how often the colorized photo was chosen as real) with 95%
Wilson intervals, per participant and pooled, and compares models.

Modules: ``make`` (photos, colorization, attention checks, key), ``page``
(the HTML page from ``page.html``), ``score`` (results → table), ``stats``
(intervals and tests), ``command`` (the ``kcolor study`` flags).
"""

FORMAT = 1  # version of key.json and of the results files the page writes


class StudyError(ValueError):
    """A study that cannot be made or scored; str() names the file or folder."""
