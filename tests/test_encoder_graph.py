"""The sentence encoder's rewritten graph (int8 embedding lookups): same vectors, built once into the cache."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from voice_trainer import model_files
from voice_trainer.analysis.listening import sentence_encoder as se
from voice_trainer.analysis.listening.encoder_graph import (
    RUNTIME_DATA,
    RUNTIME_FILE,
    dequantize_weights,
    gather_before_dequantize,
)

SENTENCES = [
    "I understand this is really frustrating for you.",
    "So the parcel is a week late and nobody called you back about it.",
    "Did you read the instructions?",
    "Hi",
    "I'll refund the forty pounds today and send you the reference by email before five o'clock this afternoon.",
]


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model_files.forget()
    yield tmp_path / "voice-trainer"
    model_files.forget()


def test_rewrite_keeps_tables_int8_and_dequantizes_the_other_weights():
    model = onnx.load(str(se._package_model_path()))
    assert gather_before_dequantize(model) == 2
    assert dequantize_weights(model) == 36  # 6 layers x (q, k, v, out, 2 feed-forward matrices)
    inits = {t.name: t for t in model.graph.initializer}
    gathers = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in inits]
    int8_tables = [n.input[0] for n in gathers if inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert len(int8_tables) == 2 and any("word_embeddings" in t for t in int8_tables)
    # nothing dequantises a whole table any more
    produced_from_tables = [n for n in model.graph.node if n.op_type == "Cast" and n.input[0] in int8_tables]
    assert produced_from_tables == []
    assert not any(n.op_type == "Cast" and n.input[0] in inits for n in model.graph.node)
    # the only int8 weights left are the two tables
    int8_left = sorted(t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8)
    assert int8_left == sorted(int8_tables)
    assert gather_before_dequantize(model) == 0 and dequantize_weights(model) == 0  # nothing left to do


def test_runtime_graph_gives_bit_identical_vectors(fresh_cache):
    package = se.SentenceEncoder(se._package_model_path())
    runtime = se.SentenceEncoder()  # builds the rewritten file into the (empty) cache first
    folder = fresh_cache / "models" / "minilm-int8-gather"
    assert (folder / RUNTIME_FILE).is_file() and (folder / RUNTIME_DATA).stat().st_size > 20e6
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no build leftovers
    a, b = package(SENTENCES), runtime(SENTENCES)
    assert a.shape == b.shape == (len(SENTENCES), 384)
    assert np.array_equal(a, b)


def test_damaged_runtime_file_is_rebuilt(fresh_cache):
    path = se._model_path()
    assert not model_files.problems(se.RUNTIME_ENCODER_ID, path.parent)
    with open(path.parent / RUNTIME_DATA, "r+b") as fh:  # damage the weights: same size, different bytes
        fh.seek(1000)
        fh.write(b"\x00" * 64)
    model_files.forget()
    assert model_files.problems(se.RUNTIME_ENCODER_ID, path.parent)
    before = os.stat(path.parent / RUNTIME_DATA).st_ino
    assert se._model_path() == path
    assert os.stat(path.parent / RUNTIME_DATA).st_ino != before  # written anew: a new file renamed over the old
    model_files.forget()
    assert not model_files.problems(se.RUNTIME_ENCODER_ID, path.parent)
