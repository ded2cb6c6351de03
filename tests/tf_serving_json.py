"""TF Serving's REST predict JSON, in Python, for tests without a model server.

Follows ``tensorflow_serving/util/json_tensor.cc`` (FillPredictRequestFromJson
and MakeJsonFromTensors): a request has ``"instances"`` (row format: one item
per batch element; objects keyed by input name, or bare values when the
signature has one input) or ``"inputs"`` (columnar: the whole batch, an
object keyed by input name or a bare value for one input). ``{"b64": ...}``
is base64 bytes for string inputs. The response is ``{"predictions": [...]}``
for rows (objects keyed by output name when there are several outputs) or
``{"outputs": ...}`` for columns; string outputs whose name ends in
``_bytes`` come back as ``{"b64": ...}``.
"""

import base64
import json

import numpy as np


def _is_b64(v):
    return isinstance(v, dict) and list(v) == ["b64"] and isinstance(v["b64"], str)


def _leaf(v, dtype):
    if dtype == "string":
        if _is_b64(v):
            return base64.b64decode(v["b64"], validate=True)
        if isinstance(v, str):
            return v.encode()
        raise ValueError(f"JSON value {v!r} is not of expected type string")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"JSON value {v!r} is not of expected type {dtype}")
    return v


def _tensor(value, dtype):
    """A dense tensor from nested lists: shape from the first elements, as
    GetDenseTensorShape; every list must have the size of its level."""
    shape, v = [], value
    while isinstance(v, list):
        shape.append(len(v))
        v = v[0] if v else None
    flat = []

    def fill(v, level):
        if not isinstance(v, list):
            if level != len(shape):
                raise ValueError(f"value found at level {level + 1}, expected {len(shape)}")
            flat.append(_leaf(v, dtype))
            return
        if level >= len(shape) or len(v) != shape[level]:
            raise ValueError(f"list of unexpected size {len(v)} at level {level}")
        for x in v:
            fill(x, level + 1)

    fill(value, 0)
    arr = np.empty(len(flat), object) if dtype == "string" else np.array(flat, dtype)
    if dtype == "string":
        arr[:] = flat
    return arr.reshape(shape)


def parse_predict_request(body, input_dtypes):
    """(signature_name or None, {input name: ndarray}, "row" | "columnar").

    Args:
      body: the request JSON text.
      input_dtypes: {input name: numpy dtype name or "string"} of the signature.
    """
    doc = json.loads(body)
    names = sorted(input_dtypes)
    if ("instances" in doc) == ("inputs" in doc):
        raise ValueError("expecting exactly one of 'instances' or 'inputs'")
    if "instances" in doc:
        items = doc["instances"]
        if not isinstance(items, list) or not items:
            raise ValueError("'instances' must be a non-empty list")
        objects = isinstance(items[0], dict) and not _is_b64(items[0])
        if not objects and len(names) > 1:
            raise ValueError("instances is a plain list, but the signature has several inputs")
        per_name = {n: [] for n in names}
        for item in items:
            if objects != (isinstance(item, dict) and not _is_b64(item)):
                raise ValueError("mixed objects and values in 'instances'")
            if objects and sorted(item) != names:
                raise ValueError(f"instance keys {sorted(item)} must be {names}")
            for n in names:
                per_name[n].append(_tensor(item[n] if objects else item, input_dtypes[n]))
        tensors = {}
        for n, parts in per_name.items():
            if len({p.shape for p in parts}) != 1:
                raise ValueError(f"instances of {n!r} differ in shape")
            tensors[n] = np.stack(parts)
        return doc.get("signature_name"), tensors, "row"
    value = doc["inputs"]
    if not isinstance(value, dict) or _is_b64(value):
        if len(names) > 1:
            raise ValueError("inputs is a plain value, but the signature has several inputs")
        return doc.get("signature_name"), {names[0]: _tensor(value, input_dtypes[names[0]])}, \
            "columnar"
    missing = [n for n in names if n not in value]
    if missing:
        raise ValueError(f"missing named inputs {missing}")
    return doc.get("signature_name"), \
        {n: _tensor(value[n], input_dtypes[n]) for n in names}, "columnar"


def _json_value(x, as_bytes):
    if isinstance(x, np.ndarray):
        return [_json_value(v, as_bytes) for v in x]
    if isinstance(x, bytes):
        return {"b64": base64.b64encode(x).decode()} if as_bytes else x.decode()
    return x.item() if hasattr(x, "item") else x


def predict_response(outputs, fmt):
    """The response JSON text for {output name: ndarray}."""
    names = sorted(outputs)
    as_bytes = {n: n.endswith("_bytes") for n in names}
    if fmt == "row":
        rows = []
        for i in range(len(outputs[names[0]])):
            vals = {n: _json_value(outputs[n][i], as_bytes[n]) for n in names}
            rows.append(vals if len(names) > 1 else vals[names[0]])
        return json.dumps({"predictions": rows})
    cols = {n: _json_value(outputs[n], as_bytes[n]) for n in names}
    return json.dumps({"outputs": cols if len(names) > 1 else cols[names[0]]})


def serve(saved_model_dir, bodies):
    """Answers REST predict bodies with a SavedModel as TF Serving would: the
    response JSON text, or {"error": message, "type": error class} on failure."""
    import tensorflow as tf

    model = tf.saved_model.load(saved_model_dir)
    answers = []
    for body in bodies:
        name = json.loads(body).get("signature_name") or "serving_default"
        sig = model.signatures[name]
        dtypes = {k: s.dtype.name for k, s in sig.structured_input_signature[1].items()}
        try:
            _, tensors, fmt = parse_predict_request(body, dtypes)
            out = sig(**{k: tf.constant(v, dtype=sig.structured_input_signature[1][k].dtype)
                         for k, v in tensors.items()})
            answers.append(predict_response({k: v.numpy() for k, v in out.items()}, fmt))
        except (tf.errors.OpError, ValueError) as e:
            answers.append(json.dumps({"error": str(e)[:500], "type": type(e).__name__}))
    return answers


if __name__ == "__main__":
    # python tf_serving_json.py SAVED_MODEL_DIR BODIES.json ANSWERS.json, in a
    # fresh process where kcolor and export cannot be imported: the SavedModel
    # must stand on its own, as in a model server.
    import sys

    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("kcolor", "export"):
                raise ImportError(f"{name} is blocked: the SavedModel must not need it")

    sys.meta_path.insert(0, _Block())
    with open(sys.argv[2]) as f:
        bodies = json.load(f)
    with open(sys.argv[3], "w") as f:
        json.dump(serve(sys.argv[1], bodies), f)
