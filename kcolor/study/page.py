"""``index.html`` of a study: ``page.html`` with the study's data inlined.

The data holds the photos as JPEG data URIs, in pairs whose two images are
called ``a`` and ``b`` in a random order: nothing in the page says which one is
real (``key.json`` does). The page's script randomises each participant's
trial order, sides and model rotation, and records the answers.
"""

import base64
import io
import json
import os

from PIL import Image

TEMPLATE = os.path.join(os.path.dirname(__file__), "page.html")
PLACEHOLDER = "__STUDY_DATA__"
JPEG_QUALITY = 92


def jpeg_uri(rgb):
    """A ``data:image/jpeg`` URI of uint8 RGB (quality 92, no chroma subsampling,
    so real and colorized photos lose the same, little, colour detail)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def render(data):
    """The page's HTML for ``data`` (a JSON-able dict; see ``make``)."""
    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    # "<" escaped so that no string in the data can close the <script> element.
    blob = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return template.replace(PLACEHOLDER, blob, 1)
