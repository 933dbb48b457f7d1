"""Every threshold and weight of voice-trainer, as one tree of dataclasses with documented defaults.

Each analysis room owns one section. A user overrides any value from a TOML file whose tables mirror the
sections, for example::

    [tone]
    raised_voice_db = 4.0

    [turns]
    min_interruption_s = 0.6

The file is found from ``--config FILE``, else ``$VOICE_TRAINER_CONFIG``, else
``$XDG_CONFIG_HOME/voice-trainer/config.toml`` (``~/.config/voice-trainer/config.toml``) when it exists.
Unknown keys and wrongly typed values are errors, so a typo never silently does nothing.

This module imports nothing of ours.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------------------------------------------
# Sections. Units are in the field names (_s seconds, _hz hertz, _db decibels, _st semitones, _wpm words/minute).
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class AudioConfig:
    """Decoding and resampling."""

    sample_rate_hz: int = 16_000
    """Rate every track is resampled to before analysis (Whisper's rate)."""
    min_duration_s: float = 0.5
    """Shorter input is rejected: too short to hold a spoken answer."""
    chunk_s: float = 300.0
    """Long files are decoded and transcribed in chunks of this length, so memory stays bounded."""


@dataclass
class TranscribeConfig:
    """Whisper model choice and decoding options."""

    model: str = "tiny.en"
    """``tiny.en`` | ``base`` | a local CTranslate2 folder | a faster-whisper model name. ``$VOICE_TRAINER_MODEL``
    overrides this default."""
    language: str = "en"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0
    """0 means: the number of cores this process may use."""
    vad_filter: bool = True
    """Silero VAD before decoding; keeps Whisper from inventing words in silence."""
    vad_min_silence_ms: int = 500
    no_speech_prob_max: float = 0.6
    """Segments whose no-speech probability is above this AND whose mean log-probability is below
    ``low_logprob`` are dropped as likely hallucinations."""
    low_logprob: float = -1.0


@dataclass
class ToneConfig:
    """Calmness thresholds (filled in by the tone analysis)."""


@dataclass
class ListeningConfig:
    """Active-listening analysis (filled in by the listening analysis)."""


@dataclass
class TurnsConfig:
    """Turn-taking thresholds (filled in by the turn-taking analysis)."""


@dataclass
class CallerConfig:
    """The simulated caller's anger dynamics (filled in by the caller)."""


@dataclass
class TTSConfig:
    """Caller voice rendering (filled in by the TTS module)."""


@dataclass
class PracticeConfig:
    """Live practice: end of turn, answer length, devices (filled in by the practice session)."""


@dataclass
class Config:
    """The whole configuration tree."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    tone: ToneConfig = field(default_factory=ToneConfig)
    listening: ListeningConfig = field(default_factory=ListeningConfig)
    turns: TurnsConfig = field(default_factory=TurnsConfig)
    caller: CallerConfig = field(default_factory=CallerConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    practice: PracticeConfig = field(default_factory=PracticeConfig)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/voice-trainer/config.toml`` (``~/.config/...`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "voice-trainer" / "config.toml"


def config_dir() -> Path:
    """The user's voice-trainer config folder (voice profiles live here)."""
    return default_config_path().parent


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voice-trainer`` (``~/.cache/voice-trainer`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "voice-trainer"


def _check_type(value: object, hint: object, where: str) -> object:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (inner,) = typing.get_args(hint)[:1]
        items = [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return dict(value)
    return value


def _apply(obj: object, table: dict, where: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in table.items():
        if key not in names:
            known = ", ".join(sorted(names)) or "(none)"
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {known}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table")
            _apply(current, value, f"{where}.{key}")
        else:
            setattr(obj, key, _check_type(value, hints[key], f"{where}.{key}"))


def config_from_dict(data: dict, where: str = "config") -> Config:
    """Build a :class:`Config` from defaults overridden by a nested dict (as read from TOML)."""
    cfg = Config()
    _apply(cfg, data, where)
    return cfg


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the configuration.

    Parameters
    ----------
    path : path-like, optional
        A TOML file. When None, ``$VOICE_TRAINER_CONFIG`` or the default path is used if it exists; otherwise
        the built-in defaults are returned.

    Raises
    ------
    ConfigError
        The file is missing (when given explicitly), is not valid TOML, or has unknown keys or wrong types.
    """
    explicit = path is not None or bool(os.environ.get("VOICE_TRAINER_CONFIG"))
    p = Path(path or os.environ.get("VOICE_TRAINER_CONFIG") or default_config_path())
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: config file not found")
        cfg = Config()
    else:
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
        cfg = config_from_dict(data, where=str(p))
    env_model = os.environ.get("VOICE_TRAINER_MODEL")
    if env_model:
        cfg.transcribe.model = env_model
    return cfg


def to_dict(cfg: object) -> dict:
    """The config (or one section) as a plain nested dict, for session records."""
    return dataclasses.asdict(cfg)
