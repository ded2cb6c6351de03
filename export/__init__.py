"""Exporting kcolor models for serving: a TF Serving SavedModel with warm-up
requests (``saved_model``, ``warmup``), TFLite files from float32 to full
int8 (``tflite``) with JSON sidecars, and the ``kcolor export`` command
(``command``). Exports need the TensorFlow backend; ``kcolor.lite`` runs the
``.tflite`` files without TensorFlow."""
