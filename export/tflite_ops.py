"""The operators a .tflite file uses, read from its flatbuffer's operator codes.

A model that only uses builtin ops runs on the plain LiteRT runtime (phones,
``ai-edge-litert``); a CUSTOM code (Flex ops from TensorFlow, or any other
custom op) would need a runtime built with that op.
"""


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def operators(tflite_bytes):
    """Sorted names of the operators used: builtin names such as ``CONV_2D``;
    custom ops as ``CUSTOM:<custom code>`` (e.g. ``CUSTOM:FlexConv2D``)."""
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(tflite_bytes, 0)
    found = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Codes < 127 live in the deprecated int8 field, newer ones in the int32 field.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            found.add(f"CUSTOM:{(code.CustomCode() or b'').decode()}")
        else:
            found.add(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(found)


def non_builtin(tflite_bytes):
    """The custom (including Flex) operators of a .tflite file; [] if none."""
    return [op for op in operators(tflite_bytes) if op.startswith("CUSTOM:")]
