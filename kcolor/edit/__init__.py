"""``kcolor edit``: put colour hint points on photos in a browser, see the
hint-aware model's colours live, and save what ``kcolor colorize --hints``
would write.

* ``kcolor.edit.session``: the photos, the model and what a request does
  with them (preview, save), with no HTTP;
* ``kcolor.edit.server``: a local web server (``http.server``) around a
  session: one token, the Host header checked, no client paths;
* ``kcolor.edit.page``: the page, plain HTML, CSS and JavaScript served by
  the server (no build step, nothing from the network).

Nothing is imported here: ``kcolor edit`` imports ``server`` when it runs.
"""
