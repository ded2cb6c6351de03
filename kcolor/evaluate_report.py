"""The HTML report of ``kcolor evaluate --html``: the table (with the
natural-colour figures, top-1/top-5 and FD, when computed), then the photos
the model did worst and best on (by PSNR), ground truth beside the result.
Images are inlined, so the page is one self-contained file."""

import base64
import html
import io

from PIL import Image

from kcolor import atomic


def _img(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _rows(title, items):
    cells = "".join(
        f"<figure>{_img(pred)}{_img(true)}<figcaption>PSNR {p:.2f} dB — "
        "colorized | ground truth</figcaption></figure>"
        for p, true, pred in items
    )
    return f"<h2>{html.escape(title)}</h2><div class='grid'>{cells}</div>"


_NATURAL = """<p>Natural colour: top-1 and top-5 are the accuracy (%) of an ImageNet classifier
(EfficientNet-Lite2) on the photos with a known label, colorized, gray and in their true colours;
FD is the Fréchet distance of its pooled features to those of the true photos (lower: closer
to real colour; 0 for the truth).</p>"""


def write(path, table, worst, best, folder, size):
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>kcolor evaluate: {html.escape(str(folder))}</title><style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
pre {{ background: #f4f4f4; padding: .8em; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} img {{ width: 192px; margin-right: 2px; }}
figcaption {{ font-size: .85em; color: #444; }}
</style></head><body>
<h1>kcolor evaluate</h1>
<p>{html.escape(str(folder))}, photos squashed to {size} × {size}.</p>
<pre>{html.escape(table)}</pre>
{_NATURAL if "| FD |" in table else ""}
{_rows(f"The {len(worst)} worst photos", worst)}
{_rows(f"The {len(best)} best photos", best)}
</body></html>
"""
    atomic.write_text(path, page)
