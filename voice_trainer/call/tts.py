"""The caller's voice: pyttsx3 rendering, an on-disk cache, and playback through sounddevice.

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

    def to_dict(self) -> dict:
        return asdict(self)


def default_driver() -> str:
    """The pyttsx3 driver for this platform: espeak on Linux, sapi5 on Windows, nsss on macOS."""
    if sys.platform == "win32":
        return "sapi5"
    if sys.platform == "darwin":
        return "nsss"
    return "espeak"


def voice_for(persona: object, anger: float, config: TTSConfig | None = None) -> VoiceSettings:
    """Voice settings for a persona at an anger level.

    Parameters
    ----------
    persona : Persona or str
        A scenario persona (its ``voice`` is used) or a voice name.
    anger : float
        0-100 (clipped); rate, volume and pitch move linearly from the calm to the furious end of ``config``.
    config : TTSConfig, optional
        Mapping ends; defaults when None.
    """
    cfg = config or TTSConfig()
    a = min(max(float(anger), 0.0), 100.0) / 100.0
    voice = persona if isinstance(persona, str) else persona.voice  # type: ignore[attr-defined]

    def lerp(lo: float, hi: float) -> float:
        return round(lo + (hi - lo) * a, 2)

    return VoiceSettings(
        voice=voice,
        rate_wpm=lerp(cfg.calm_rate_wpm, cfg.furious_rate_wpm),
        volume=min(1.0, max(0.0, lerp(cfg.calm_volume, cfg.furious_volume))),
        pitch=min(100.0, max(0.0, lerp(cfg.calm_pitch, cfg.furious_pitch))),
        driver=cfg.driver,
    )


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

    try:
        engine_version = md.version("pyttsx3")
    except md.PackageNotFoundError:  # pragma: no cover
        engine_version = "?"
    payload = {
        "v": CACHE_VERSION,
        "text": _clean(text),
        "voice": voice.to_dict() | {"driver": voice.driver or default_driver()},
        "pyttsx3": engine_version,
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
