"""An HTML contact sheet of a colorize run: each input beside its output."""

import html
import os
import urllib.parse

from kcolor import atomic

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kcolor: {n} photos</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; }}
h1 {{ font-size: 1.3em; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 1.2em; align-items: start; }}
figure {{ margin: 0; background: white; padding: .6em; border: 1px solid #ddd; }}
.pair {{ display: flex; gap: .4em; }}
.pair img {{ width: 50%; height: auto; object-fit: contain; background: #eee; }}
figcaption {{ font-size: .85em; color: #444; margin-top: .4em; word-break: break-all; }}
</style></head><body>
<h1>kcolor: {n} photos — input (left), colorized (right)</h1>
<div class="grid">
{figures}
</div></body></html>
"""

_FIGURE = """<figure><div class="pair"><img src="{src}" alt="input {name}" loading="lazy">\
<img src="{dst}" alt="colorized {name}" loading="lazy"></div>\
<figcaption>{name}</figcaption></figure>"""


def _href(path, folder):
    return urllib.parse.quote(os.path.relpath(os.path.abspath(path), os.path.abspath(folder)))


def write(entries, output_dir, name="index.html"):
    """Writes ``output_dir/name`` for (input path, output path) pairs; returns its path."""
    figures = "\n".join(
        _FIGURE.format(src=html.escape(_href(src, output_dir)), dst=html.escape(_href(dst, output_dir)),
                       name=html.escape(os.path.relpath(dst, output_dir)))
        for src, dst in entries
    )
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, name)
    atomic.write_text(path, _PAGE.format(n=len(entries), figures=figures))
    return path
