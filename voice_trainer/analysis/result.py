"""The one result type of an analysed recording, and its JSON form (the schema users see).

Later stages add their objects (``tone``, ``listening``, ``turns``) to the same result; each of those is a
dataclass with its own ``to_dict()``. ``schema_version`` changes whenever a key is renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .transcript import Transcript, Word

SCHEMA_VERSION = 1


class HasToDict(Protocol):
    def to_dict(self) -> dict: ...


@dataclass
class AnalysisResult:
    """Everything known about one analysed recording (times in seconds)."""

    file: str | None
    duration_s: float
    transcript: Transcript = field(default_factory=Transcript)
    model: str | None = None
    model_files: list[dict] | None = None
    """The model files that produced this result (``model_files.used()``: model, file, short sha256, verified)."""
    channel: str | None = None
    tone: HasToDict | None = None
    listening: HasToDict | None = None
    turns: HasToDict | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> list[Word]:
        return self.transcript.words

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "file": self.file,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "model_files": self.model_files,
            "channel": self.channel,
            "language": self.transcript.language,
            "transcript": self.transcript.text,
            "words": [w.to_dict() for w in self.transcript.words],
        }
        for name in ("tone", "listening", "turns"):
            part = getattr(self, name)
            if part is not None:
                out[name] = part.to_dict()
        out.update(self.extra)
        return out
