"""Plain result types for a transcription: words with timings (seconds), and the whole transcript."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Word:
    """One recognised word.

    Attributes
    ----------
    word : str
        The word as Whisper wrote it, stripped of surrounding spaces (punctuation kept).
    start, end : float
        Start and end time in seconds from the start of the analysed audio.
    probability : float
        Whisper's word probability, 0-1.
    """

    word: str
    start: float
    end: float
    probability: float = 1.0

    def to_dict(self) -> dict:
        return {
            "word": self.word,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "probability": round(self.probability, 3),
        }


@dataclass(frozen=True)
class Segment:
    """A stretch of speech Whisper decoded as one unit (times in seconds)."""

    start: float
    end: float
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


@dataclass
class Transcript:
    """A transcription: text, segments and words (times in seconds)."""

    text: str = ""
    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    language: str = "en"
    decoding: dict = field(default_factory=dict)
    """How the words were decoded (``beam_size``, ``window_s``: the encoder window, 30 for Whisper's own,
    ``temperature_fallback``, ``pieces``: separately decoded stretches); empty when not known."""
    word_timing: dict = field(default_factory=dict)
    """How the word times were checked against the trainee's voice activity
    (:func:`voice_trainer.analysis.word_timing.clamp_to_speech`: ``slack_s``, ``moved_starts``, ``moved_ends``,
    ``moved``); empty when they were not checked."""

    def shifted(self, offset_s: float) -> Transcript:
        """Return a copy with every time moved by ``offset_s`` seconds."""
        return Transcript(
            text=self.text,
            words=[Word(w.word, w.start + offset_s, w.end + offset_s, w.probability) for w in self.words],
            segments=[
                Segment(s.start + offset_s, s.end + offset_s, s.text, s.no_speech_prob, s.avg_logprob)
                for s in self.segments
            ],
            language=self.language,
            decoding=dict(self.decoding),
            word_timing=_shifted_timing(self.word_timing, offset_s),
        )

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "language": self.language,
            "words": [w.to_dict() for w in self.words],
            "segments": [asdict(s) for s in self.segments],
            "decoding": dict(self.decoding),
            "word_timing": dict(self.word_timing),
        }


def merge(parts: list[Transcript]) -> Transcript:
    """Join transcripts of consecutive chunks (already shifted to file time)."""
    if not parts:
        return Transcript()
    return Transcript(
        text=" ".join(p.text for p in parts if p.text).strip(),
        words=[w for p in parts for w in p.words],
        segments=[s for p in parts for s in p.segments],
        language=parts[0].language,
        decoding=merged_decoding([p.decoding for p in parts]),
        word_timing=_merged_timing(parts),
    )


def _shifted_timing(timing: dict, offset_s: float) -> dict:
    """``word_timing`` with the recorded times moved by ``offset_s`` seconds."""
    if not timing:
        return {}
    out = dict(timing)
    out["moved"] = [{**m, "whisper": [round(t + offset_s, 3) for t in m["whisper"]],
                     "voice": [round(t + offset_s, 3) for t in m["voice"]]} for m in timing.get("moved", [])]
    return out


def _merged_timing(parts: list[Transcript]) -> dict:
    """The ``word_timing`` of joined transcripts: counts added, moved words re-indexed (empty if none was checked)."""
    if not any(p.word_timing for p in parts):
        return {}
    out: dict = {"moved_starts": 0, "moved_ends": 0, "moved": []}
    n = 0
    for p in parts:
        t = p.word_timing
        out["moved_starts"] += t.get("moved_starts", 0)
        out["moved_ends"] += t.get("moved_ends", 0)
        out["moved"] += [{**m, "index": m["index"] + n} for m in t.get("moved", [])]
        if "slack_s" in t:
            out.setdefault("slack_s", t["slack_s"])
        n += len(p.words)
    return out


def merged_decoding(parts: list[dict]) -> dict:
    """The ``decoding`` of transcripts joined by :func:`merge`: each option's value if all parts agree (else a
    list of the parts' values), and the total of ``pieces``."""
    parts = [d for d in parts if d]
    if not parts:
        return {}
    out: dict = {}
    for key in dict.fromkeys(k for d in parts for k in d):
        values = [d.get(key) for d in parts]
        if key == "pieces":
            out[key] = sum(v or 0 for v in values)
        else:
            out[key] = values[0] if all(v == values[0] for v in values) else values
    return out
