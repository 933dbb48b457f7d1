"""The caller's voice: pyttsx3 (or piper) rendering, an on-disk cache, and playback through sounddevice.

Two engines (``[caller] engine``, ``voice-trainer say --engine``): ``pyttsx3`` on espeak-ng (the default, always
installed) and ``piper``, a natural neural voice (the optional extra ``pip install 'voice-trainer[voice]'``: the
piper-tts runtime and the joe voice, whose files are pinned in the model manifest as ``piper-joe``). Without the
extra, ``piper`` falls back to pyttsx3 with a one-line notice (:func:`resolve_engine`).

Piper has no emotion tags, so anger is applied to how the line is made and to its sound (:func:`voice_for`):
the phoneme length scale (rate), a pitch shift (the line is synthesised that much slower, then resampled up to
the original speed: higher by the same factor, same duration), and emphasis: loudness compression (a pushed,
louder voice) and, from emphasis 0.5, sentences said as exclamations; then the gain (``calm_volume`` to
``furious_volume``). The persona's espeak voice name picks piper's voice, speed and base pitch
(:func:`piper_persona`).

Anger 0-100 maps linearly to the speaking rate, volume and (espeak-ng only) pitch between the calm and furious
ends set in :class:`voice_trainer.config.TTSConfig`; the persona's voice name picks the voice. Every rendered
line is cached as ``<cache dir>/tts/<hash>.wav``, keyed by the text and every voice setting, so a practice
session or a batch run never renders the same line twice.

All of pyttsx3's quirks are handled here and nowhere else:

* ``pyttsx3.init()`` returns a cached engine whose properties persist between lines, so every render sets the
  voice, rate, volume and pitch again, under a lock (the engine is not re-entrant).
* Two ``save_to_file`` calls before one ``runAndWait`` write only the second file: one line per
  ``runAndWait``.
* ``say()`` plays through ``aplay``, which may be missing and then fails silently: we never call it; lines are
  rendered to a file and played with sounddevice.
* The espeak driver prints "Audio saved to ..." on stdout; that is swallowed.
* Output is 22,050 Hz mono 16-bit WAV (espeak-ng); other drivers may write other formats, which are converted
  to WAV.
* With espeak-ng, pyttsx3 runs the synthesis on espeak's own thread: ``runAndWait`` can return before the file
  is written, so we wait for the "finished-utterance" notification and for espeak's queue to drain.
* With espeak-ng, a property set while espeak's thread was still applying the previous one was silently lost
  (measured: the same duration at 160 and 240 wpm, or the same level at volume 0.5 and 1.0, depending on the
  order), so each property is sent only once espeak's queue is idle. Checked against ``espeak-ng`` command-line
  renders with the same settings in ``tests/test_tts.py``.
* Failures of queued commands (an unknown voice) are only reported through pyttsx3's "error" notification and
  leave the previous line's voice in place; errors are collected and raised, and voice names are resolved to
  espeak-ng identifiers first (espeak-ng rejects ``en-gb`` but accepts ``gmw/en``).
* Empty text has crashed it: empty or whitespace-only text is refused with a clear error.
* No SSML; ``pitch`` (0-100) is an espeak-ng property only and is not set on other drivers.

Files are written to a temporary name in the destination folder and renamed, so a cache entry or an output
file is either complete or absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_write
from ..audio.files import load, write_wav_atomic
from ..config import SAMPLE_RATE, TTSConfig, cache_dir
from ..errors import UserError

CACHE_VERSION = 1
"""Bump to invalidate every cached render (e.g. when rendering changes)."""
ESPEAK_RATE_HZ = 22_050


@dataclass(frozen=True)
class VoiceSettings:
    """Everything that determines how a line sounds (and so its cache key).

    Attributes
    ----------
    voice : str
        espeak-ng voice name with optional variant (``en-us+f3``); other drivers pick the closest installed voice.
    rate_wpm : float
        pyttsx3 ``rate``, words per minute.
    volume : float
        pyttsx3 ``volume``, 0-1.
    pitch : float
        pyttsx3 ``pitch``, 0-100 (espeak-ng only).
    driver : str
        pyttsx3 driver name; empty = platform default.
    """

    voice: str
    rate_wpm: float
    volume: float
    pitch: float
    driver: str = ""
    engine: str = "pyttsx3"
    """``pyttsx3`` or ``piper``; the fields below are piper's only."""
    length_scale: float = 1.0
    """piper: phoneme length scale (below 1: faster)."""
    semitones: float = 0.0
    """piper: pitch shift in semitones."""
    emphasis: float = 0.0
    """piper: 0-1, loudness compression and (from 0.5) exclamations."""

    def to_dict(self) -> dict:
        return asdict(self)


def default_driver() -> str:
    """The pyttsx3 driver for this platform: espeak on Linux, sapi5 on Windows, nsss on macOS."""
    if sys.platform == "win32":
        return "sapi5"
    if sys.platform == "darwin":
        return "nsss"
    return "espeak"


def voice_for(persona: object, anger: float, config: TTSConfig | None = None, engine: str = "pyttsx3"
              ) -> VoiceSettings:
    """Voice settings for a persona at an anger level.

    Parameters
    ----------
    persona : Persona or str
        A scenario persona (its ``voice`` is used) or a voice name.
    anger : float
        0-100 (clipped); rate, volume and pitch move linearly from the calm to the furious end of ``config``.
    config : TTSConfig, optional
        Mapping ends; defaults when None.
    engine : str
        ``pyttsx3`` or ``piper`` (resolve a configured engine with :func:`resolve_engine` first).
    """
    cfg = config or TTSConfig()
    a = min(max(float(anger), 0.0), 100.0) / 100.0
    voice = persona if isinstance(persona, str) else persona.voice  # type: ignore[attr-defined]

    def lerp(lo: float, hi: float) -> float:
        return round(lo + (hi - lo) * a, 2)

    volume = min(1.0, max(0.0, lerp(cfg.calm_volume, cfg.furious_volume)))
    if engine == "piper":
        name, speed, base_st = piper_persona(voice)
        return VoiceSettings(
            voice=name, rate_wpm=0.0, volume=volume, pitch=0.0, engine="piper",
            length_scale=round(speed * lerp(cfg.piper_calm_length_scale, cfg.piper_furious_length_scale), 3),
            semitones=round(base_st + lerp(cfg.piper_calm_semitones, cfg.piper_furious_semitones), 2),
            emphasis=min(1.0, max(0.0, lerp(cfg.piper_calm_emphasis, cfg.piper_furious_emphasis))),
        )
    if engine != "pyttsx3":
        raise UserError(f"unknown text-to-speech engine {engine!r}; use one of: {', '.join(ENGINES)}")
    return VoiceSettings(
        voice=voice,
        rate_wpm=lerp(cfg.calm_rate_wpm, cfg.furious_rate_wpm),
        volume=volume,
        pitch=min(100.0, max(0.0, lerp(cfg.calm_pitch, cfg.furious_pitch))),
        driver=cfg.driver,
    )


# ---------------------------------------------------------------------------------------------------------------
# piper: the natural voice (optional extra)
# ---------------------------------------------------------------------------------------------------------------

ENGINES = ("pyttsx3", "piper")
PIPER_VOICES = {"joe": "piper-joe"}
"""piper voice name -> its model manifest id (voice_trainer/data/model_manifest.json)."""
PIPER_VOICE = "joe"
"""The packaged piper voice every persona speaks with (the only one in the ``voice`` extra)."""
PIPER_SENTENCE_GAP_S = 0.12
"""Silence between two sentences of a piper line (scaled by the length scale)."""


def piper_persona(voice: str) -> tuple[str, float, float]:
    """A persona's espeak-ng voice name (``en-us+f3``) as piper's ``(voice, speed, semitones)``.

    One packaged voice (joe), made distinct per persona: an ``f`` variant is pitched 3 semitones up (``m`` or
    none: unchanged); the variant's number sets the pace, ``+x1`` the quickest talker (length x0.92) to ``+x7``
    the slowest (x1.16), 3 unchanged.
    """
    _, _, variant = voice.partition("+")
    variant = variant.strip().lower()
    semitones = 3.0 if variant.startswith("f") else 0.0
    digits = "".join(ch for ch in variant if ch.isdigit())
    speed = 1.0 + 0.04 * (min(max(int(digits), 1), 7) - 3) if digits else 1.0
    return PIPER_VOICE, round(speed, 3), semitones


def piper_available() -> bool:
    """Whether the ``voice`` extra (piper-tts and its voice package) is installed."""
    import importlib.util

    from .. import model_files

    try:
        return importlib.util.find_spec("piper") is not None and all(
            model_files.installed(model_files.entry(m)) for m in PIPER_VOICES.values())
    except (ImportError, ValueError):
        return False


_NOTICED: set[str] = set()


def resolve_engine(name: str, notice=None) -> str:
    """The engine that will speak: ``name``, or ``pyttsx3`` (with a one-line notice on stderr, once per process)
    when ``name`` is ``piper`` and the ``voice`` extra is not installed."""
    if name not in ENGINES:
        raise UserError(f"unknown text-to-speech engine {name!r}; use one of: {', '.join(ENGINES)}")
    if name == "piper" and not piper_available():
        if name not in _NOTICED:
            _NOTICED.add(name)
            msg = ("voice-trainer: the piper voice is not installed (pip install 'voice-trainer[voice]'); "
                   "the caller speaks with pyttsx3")
            (notice or (lambda m: print(m, file=sys.stderr)))(msg)
        return "pyttsx3"
    return name


_PIPER: dict[tuple[str, int], object] = {}
_PIPER_LOCK = threading.Lock()


def piper_voice(name: str = PIPER_VOICE, threads: int = 0) -> object:
    """The loaded ``piper.PiperVoice`` (checked against the model manifest first; one per process and threads).

    ``threads``: onnxruntime intra-op threads (0: its default)."""
    key = (name, int(threads))
    with _PIPER_LOCK:
        if key not in _PIPER:
            if not piper_available():
                raise UserError("the piper voice is not installed; pip install 'voice-trainer[voice]'")
            import onnxruntime
            from piper.config import PiperConfig
            from piper.voice import PiperVoice

            from .. import model_files

            model_id = PIPER_VOICES.get(name)
            if model_id is None:
                raise UserError(f"unknown piper voice {name!r}; use one of: {', '.join(PIPER_VOICES)}")
            model_files.verify(model_id, in_use=False)
            e = model_files.entry(model_id)
            folder = model_files.locate(e)
            opts = onnxruntime.SessionOptions()
            if threads:
                opts.intra_op_num_threads = int(threads)
                opts.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(folder / e.weights), sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
            config = json.loads((folder / f"{e.weights}.json").read_text(encoding="utf-8"))
            _PIPER[key] = PiperVoice(config=PiperConfig.from_dict(config), session=session)
        return _PIPER[key]


def piper_audio(text: str, voice: VoiceSettings, threads: int = 0) -> tuple[np.ndarray, int]:
    """Synthesise ``text`` with piper and apply the anger settings: float32 mono and its rate (22,050 Hz)."""
    import re

    import soxr
    from piper.config import SynthesisConfig

    pv = piper_voice(voice.voice, threads)
    ratio = 2.0 ** (voice.semitones / 12.0)
    said = re.sub(r"\.(\s|$)", r"!\1", text) if voice.emphasis >= 0.5 else text
    # slower by the pitch ratio, then resampled up by it: higher pitch at the intended duration
    syn = SynthesisConfig(length_scale=voice.length_scale * ratio, normalize_audio=True, volume=1.0)
    sr = int(pv.config.sample_rate)  # type: ignore[attr-defined]
    gap = np.zeros(int(PIPER_SENTENCE_GAP_S * voice.length_scale * ratio * sr), np.float32)
    parts: list[np.ndarray] = []
    for chunk in pv.synthesize(said, syn):  # type: ignore[attr-defined]
        if parts:
            parts.append(gap)
        parts.append(np.asarray(chunk.audio_float_array, np.float32).reshape(-1))
    if not parts:
        raise UserError(f"text-to-speech (piper) wrote no audio for {text[:40]!r}")
    y = np.concatenate(parts)
    if abs(ratio - 1.0) > 1e-6:
        y = soxr.resample(y, sr * ratio, sr).astype(np.float32)
    drive = 1.0 + 4.0 * float(voice.emphasis)  # emphasis: a compressed, pushed voice
    if drive > 1.0:
        y = np.tanh(drive * y) / np.tanh(drive)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 1e-8:
        y = y / peak
    return (y * float(voice.volume)).astype(np.float32), sr


# ---------------------------------------------------------------------------------------------------------------
# The engine (one per process, guarded by a lock)
# ---------------------------------------------------------------------------------------------------------------

_LOCK = threading.RLock()
_ENGINES: dict[str, object] = {}  # strong references: pyttsx3 keeps only weak ones
_ERRORS: dict[int, list] = {}  # exceptions pyttsx3 reported through its "error" notification, per engine
_DONE: dict[int, threading.Event] = {}  # set by the "finished-utterance" notification
_WAIT_S = 30.0  # longest wait for one line to finish rendering


def _engine(driver: str) -> object:
    name = driver or default_driver()
    if name not in _ENGINES:
        try:
            import pyttsx3

            engine = pyttsx3.init(driverName=name)
            engine.connect("error", lambda exception=None, **_: _ERRORS.setdefault(id(engine), []).append(exception))
            done = _DONE.setdefault(id(engine), threading.Event())
            engine.connect("finished-utterance", lambda **_: done.set())
            _ENGINES[name] = engine
        except Exception as exc:  # missing espeak-ng library, unknown driver, COM failure...
            hint = "install espeak-ng (apt install espeak-ng)" if name == "espeak" else "check the system TTS"
            raise UserError(f"text-to-speech engine {name!r} could not start ({str(exc)[:120]}); {hint}") from None
    return _ENGINES[name]


_ESPEAK_IDS: dict[str, str] = {}


def _espeak_voice_id(engine: object, name: str) -> str:
    """Map ``en-gb+f2`` to an identifier espeak-ng accepts (``gmw/en+f2``), or fail clearly.

    espeak-ng's SetVoiceByName rejects some language names (``en-gb``) and pyttsx3 only reports that through an
    "error" notification, leaving the previous line's voice in place; so names are resolved here first.
    """
    if name not in _ESPEAK_IDS:
        base, plus, variant = name.partition("+")
        b = base.strip().lower()
        voices = [(str(v.id).lower(), [str(x).lower() for x in (v.languages or [])])
                  for v in engine.getProperty("voices")]  # type: ignore[attr-defined]
        found = next((vid for vid, _ in voices if vid == b), None)
        found = found or next((vid for vid, _ in voices if vid.rsplit("/", 1)[-1] == b), None)
        found = found or next((vid for vid, langs in voices if b in langs and not vid.startswith("mb/")), None)
        if found is None:
            raise UserError(f"voice {name!r} is not an espeak-ng voice; pick one from `espeak-ng --voices=en` "
                            "(for example en-us, en-gb-scotland, en; a variant like +f3 or +m3 may follow)")
        _ESPEAK_IDS[name] = found + (plus + variant.strip() if variant.strip() else "")
    return _ESPEAK_IDS[name]


def _select_voice(engine: object, name: str, driver: str) -> None:
    if driver == "espeak":
        engine.setProperty("voice", _espeak_voice_id(engine, name))  # type: ignore[attr-defined]
        return
    # Other drivers: choose an installed voice with the same language, preferring the variant's gender.
    lang, _, variant = name.partition("+")
    lang = lang.lower().replace("_", "-")
    want = "female" if variant.startswith("f") else "male" if variant.startswith("m") else ""
    best, best_score = None, -1
    for v in engine.getProperty("voices"):  # type: ignore[attr-defined]
        langs = " ".join(str(x).lower() for x in (getattr(v, "languages", None) or []))
        text = f"{v.id} {v.name} {langs}".lower().replace("_", "-")
        score = (2 if lang in text else 1 if lang.split("-")[0] in text else 0) * 2
        score += 1 if want and want in str(getattr(v, "gender", "") or "").lower() else 0
        if score > best_score:
            best, best_score = v, score
    if best is not None:
        engine.setProperty("voice", best.id)  # type: ignore[attr-defined]


def _espeak_idle(timeout_s: float = _WAIT_S) -> None:
    """Wait until espeak-ng's command queue is empty (pyttsx3 runs it asynchronously)."""
    from pyttsx3.drivers import _espeak

    deadline = time.monotonic() + timeout_s
    while _espeak.IsPlaying() and time.monotonic() < deadline:
        time.sleep(0.002)


def _render_once(engine: object, text: str, voice: VoiceSettings, driver: str, tmp: Path) -> None:
    espeak = driver == "espeak"
    done = _DONE.setdefault(id(engine), threading.Event())
    settings: list[tuple[str, object]] = [("volume", float(voice.volume)), ("rate", int(round(voice.rate_wpm)))]
    if espeak:
        settings.append(("pitch", int(round(voice.pitch))))
        _espeak_idle()
    _select_voice(engine, voice.voice, driver)
    for name, value in settings:
        if espeak:  # a parameter sent while espeak-ng's thread is busy with the previous one can be lost
            _espeak_idle()
        engine.setProperty(name, value)  # type: ignore[attr-defined]
    if espeak:
        _espeak_idle()
    errors = _ERRORS.setdefault(id(engine), [])
    errors.clear()
    done.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.save_to_file(text, str(tmp))  # type: ignore[attr-defined]
        engine.runAndWait()  # type: ignore[attr-defined]  # exactly one file per runAndWait
        if espeak:  # runAndWait returns before espeak-ng's thread has written the file
            done.wait(_WAIT_S)
            _espeak_idle()
    if errors:  # pyttsx3 reports failures of queued commands only through an "error" notification
        raise UserError(f"text-to-speech failed ({str(errors[0])[:120]}); check the voice name and espeak-ng")


def _frames(path: Path) -> int:
    try:
        return sf.info(str(path)).frames if path.exists() and path.stat().st_size > 0 else 0
    except (sf.LibsndfileError, RuntimeError):
        return 0


def _synthesize(text: str, voice: VoiceSettings, out: Path, attempts: int = 2) -> None:
    """Render ``text`` into ``out`` (WAV) atomically.

    A render that left no audio is retried once before giving up.
    """
    if voice.engine == "piper":
        out.parent.mkdir(parents=True, exist_ok=True)
        y, sr = piper_audio(text, voice, _piper_threads)
        write_wav_atomic(out, y, sr)
        return
    driver = voice.driver or default_driver()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part.wav")
    try:
        with _LOCK:
            engine = _engine(driver)
            for _ in range(attempts):
                _render_once(engine, text, voice, driver, tmp)
                if _frames(tmp) > 0:
                    break
            else:
                raise UserError(f"text-to-speech wrote no audio for {text[:40]!r}; check that espeak-ng works "
                                "(`espeak-ng -w /tmp/t.wav hello`)")
        info = sf.info(str(tmp))
        if info.format != "WAV" or info.channels != 1:  # other drivers: normalise to mono WAV
            data, sr = sf.read(str(tmp), dtype="float32", always_2d=True)
            write_wav_atomic(out, data.mean(axis=1), sr)
            return
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


_piper_threads = 0
"""onnxruntime threads for piper renders (``[tts] piper_threads``; set by :func:`set_piper_threads`)."""


def set_piper_threads(n: int) -> None:
    global _piper_threads
    _piper_threads = int(n)


def _clean(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    cleaned = " ".join(text.split())
    if not any(ch.isalnum() for ch in cleaned):
        raise UserError("nothing to say: the caller line is empty; give some words")
    return cleaned


def cache_key(text: str, voice: VoiceSettings) -> str:
    """The cache file stem for a line: a hash of the text, every voice setting and the engine."""
    import importlib.metadata as md

    dist = "piper-tts" if voice.engine == "piper" else "pyttsx3"
    try:
        engine_version = md.version(dist)
    except md.PackageNotFoundError:  # pragma: no cover
        engine_version = "?"
    payload = {
        "v": CACHE_VERSION,
        "engine": voice.engine,
        "text": _clean(text),
        "voice": voice.to_dict() | ({"driver": voice.driver or default_driver()} if voice.engine == "pyttsx3" else {}),
        dist: engine_version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def tts_cache_dir() -> Path:
    """``config.cache_dir()/tts``: where rendered lines are kept."""
    return cache_dir() / "tts"


def render_line(
    text: str,
    voice: VoiceSettings,
    *,
    cache: bool = True,
    out: str | os.PathLike | None = None,
    cache_root: str | os.PathLike | None = None,
) -> Path:
    """Render a caller line to a WAV file (22,050 Hz mono with espeak-ng).

    Parameters
    ----------
    text : str
        What the caller says (plain text; no SSML).
    voice : VoiceSettings
        From :func:`voice_for`.
    cache : bool
        Reuse / store the render in the cache.
    out : path-like, optional
        Also write the line to this file (atomically). Without it, the cached file's path is returned, or a new
        temporary file (the caller deletes it) when ``cache`` is False.
    cache_root : path-like, optional
        Cache folder instead of :func:`tts_cache_dir` (tests, batch jobs).

    Returns
    -------
    Path
        The WAV file.

    Raises
    ------
    UserError
        Empty text, an unavailable voice or a TTS engine that cannot start or writes nothing.
    """
    text = _clean(text)
    if out is not None:
        _check_out(out)  # before rendering
    if cache:
        root = Path(cache_root) if cache_root is not None else tts_cache_dir()
        cached = root / f"{cache_key(text, voice)}.wav"
        if not cached.exists():
            _synthesize(text, voice, cached)
        if out is None:
            return cached
        dest = _check_out(out)
        try:  # atomic: a failed copy leaves no temporary file behind
            atomic_write(dest, lambda tmp: shutil.copyfile(cached, tmp), ".wav")
        except OSError as exc:
            raise UserError(f"{dest}: cannot write the WAV file ({exc.strerror}); choose another --out") from None
        return dest
    if out is not None:
        dest = _check_out(out)
    else:
        fd, name = tempfile.mkstemp(prefix="voice-trainer-line-", suffix=".wav")
        os.close(fd)
        dest = Path(name)
    try:
        _synthesize(text, voice, dest)
    except OSError as exc:
        raise UserError(f"{dest}: cannot write the WAV file ({exc.strerror}); choose another --out") from None
    return dest


def _check_out(out: str | os.PathLike) -> Path:
    """``out`` as a Path, or a UserError when it names a folder."""
    dest = Path(out)
    if dest.is_dir():
        raise UserError(f"{dest}: is a folder; give a file name for the WAV, such as {dest / 'line.wav'}")
    return dest


def load_rendered(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A rendered line as float32 mono at ``sr`` Hz (for analysis, mixing or duplex playback)."""
    return load(path, sample_rate=sr)


# ---------------------------------------------------------------------------------------------------------------
# Playback
# ---------------------------------------------------------------------------------------------------------------


NO_DEVICE_HINT = "write the line to a file instead with --out FILE.wav"


def play(audio: str | os.PathLike | np.ndarray, sr: int | None = None, device: int | str | None = None,
         *, blocking: bool = True) -> None:
    """Play a rendered line (a file, or a float32 array at ``sr`` Hz) through sounddevice.

    Raises
    ------
    UserError
        No usable output device (one line, suggesting ``--out``).
    """
    if isinstance(audio, np.ndarray):
        if sr is None:
            raise ValueError("sr is required when playing an array")
        data, rate = audio.astype(np.float32, copy=False), int(sr)
    else:
        data, rate = sf.read(str(audio), dtype="float32")
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise UserError(f"audio output unavailable (PortAudio: {exc}); {NO_DEVICE_HINT}") from None
    try:
        info = sd.query_devices(device, kind="output")
        try:
            sd.play(data, rate, device=device, blocking=blocking)
        except sd.PortAudioError:  # the device may refuse 22,050 Hz: resample to its own rate and retry
            import soxr

            native = int(info["default_samplerate"])
            sd.play(soxr.resample(data, rate, native), native, device=device, blocking=blocking)
    except (sd.PortAudioError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else "no output device"
        raise UserError(f"no audio output device could be opened ({reason}); {NO_DEVICE_HINT}") from None
