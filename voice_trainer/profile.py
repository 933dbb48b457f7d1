"""The trainee's voice profile: their calm voice, measured once, stored as JSON in the config folder.

``voice-trainer calibrate`` writes it; ``analyze`` and practice sessions read it as the tone baseline. This module
does the file I/O (atomic JSON writing, validation on reading) and turns a calm recording into a baseline; the
measuring itself is :mod:`voice_trainer.tone`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .analysis import tone
from .atomic import write_json_atomic
from .audio import files as audio_io
from .config import Config, config_dir
from .errors import UserError
from .inputs import NestingError, loads_json, read_input_text

PROFILE_NAME = "voice-profile.json"
PROFILE_FORMAT = "voice-trainer/voice-profile"
PROFILE_VERSION = 1


def default_profile_path() -> Path:
    """``<config folder>/voice-profile.json`` (``~/.config/voice-trainer/voice-profile.json``)."""
    return config_dir() / PROFILE_NAME


def save_profile(baseline: tone.Baseline, path: str | os.PathLike | None = None, *, extra: dict | None = None) -> Path:
    """Write a baseline as a voice profile, atomically (temporary file, fsync, rename).

    Parameters
    ----------
    baseline : tone.Baseline
        The measured calm voice.
    path : path-like, optional
        Default :func:`default_profile_path`.
    extra : dict, optional
        More fields to store (e.g. the recording's duration).

    Returns
    -------
    Path
        Where the profile was written.
    """
    p = Path(path) if path is not None else default_profile_path()
    data = {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": baseline.source,
        "pitch_tracker": "swift-f0",
        "measures": baseline.measures.to_dict(),
        **(extra or {}),
    }
    try:
        write_json_atomic(p, data, indent=2)
    except OSError as exc:
        raise UserError(
            f"{p}: cannot write the voice profile ({exc.strerror}); choose another path with --out"
        ) from None
    return p


def load_profile(path: str | os.PathLike) -> tone.Baseline:
    """Read a voice profile written by :func:`save_profile`.

    Raises
    ------
    UserError
        Missing, unreadable, not JSON, or not a voice profile.
    """
    p = Path(path)
    redo = "run `voice-trainer calibrate` to record it again"
    try:
        data = loads_json(read_input_text(p))
    except FileNotFoundError:
        raise UserError(f"{p}: no such voice profile; {redo}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read the voice profile ({exc}); {redo}") from None
    except NestingError as exc:
        raise UserError(f"{p}: the voice profile is {exc}; {redo}") from None
    except json.JSONDecodeError:
        raise UserError(f"{p}: the voice profile is not valid JSON; {redo}") from None
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT or not isinstance(data.get("measures"), dict):
        raise UserError(f"{p}: not a voice-trainer voice profile; {redo}")
    if int(data.get("version", 0)) > PROFILE_VERSION:
        raise UserError(f"{p}: voice profile version {data.get('version')} is newer than this voice-trainer; upgrade")
    try:
        measures = tone.ToneMeasures.from_dict(data["measures"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"{p}: the voice profile has a damaged value ({exc}); {redo}") from None
    return tone.Baseline(measures, "profile", str(p))


def baseline_from_audio_file(path: str | os.PathLike, cfg: Config, transcriber=None) -> tone.Baseline:
    """Measure a recording of the trainee's calm voice (any format :mod:`voice_trainer.audio` reads).

    Parameters
    ----------
    path : path-like
        The recording.
    cfg : Config
    transcriber : Transcriber, optional
        When given, Whisper's word timings give the baseline pace; otherwise pace has no personal baseline.
    """
    sr = audio_io.ANALYSIS_RATE
    x = audio_io.load(path, sample_rate=sr, min_duration_s=cfg.audio.min_duration_s)
    words = transcriber.transcribe(x).words if transcriber is not None else []
    return tone.baseline_from_audio(x, sr, words, kind="recording", source=str(path), config=cfg.tone)


def check_baseline(baseline: tone.Baseline, cfg: Config, name: str) -> None:
    """Raise :class:`UserError` when a calibration recording holds too little voiced speech to be a baseline."""
    m = baseline.measures
    if m.pitch_median_hz is None:
        raise UserError(
            f"{name}: only {m.voiced_s:.1f} s of voiced speech (need at least {cfg.tone.min_voiced_s:g} s); "
            "speak in your normal voice for the whole recording, close to the microphone"
        )


def check_calibration(baseline: tone.Baseline, cfg: Config, name: str) -> None:
    """Raise :class:`UserError` when a calibration recording does not sound like a person's speaking voice.

    A voice profile is the yardstick for every later calmness score, so ``calibrate`` refuses: too little voiced
    speech, a pitch or level outside what a speaking voice gives, clipping, and a steady tone (a test tone, a
    square wave, a hum: no intonation). Thresholds: ``[tone] calibration_*`` in the config.
    """
    tc = cfg.tone
    m = baseline.measures
    again = "record a few sentences in your normal speaking voice, close to the microphone, and try again"
    check_baseline(baseline, cfg, name)
    if m.voiced_s < tc.calibration_min_voiced_s:
        raise UserError(f"{name}: only {m.voiced_s:.1f} s of voiced speech (need at least "
                        f"{tc.calibration_min_voiced_s:g} s for a voice profile); {again}")
    if m.clipped_fraction > tc.calibration_max_clipped:
        raise UserError(f"{name}: {100 * m.clipped_fraction:.0f}% of the samples are clipped (at full scale); "
                        f"turn the input level down and {again[0].lower()}{again[1:]}")
    lo_db, hi_db = tc.calibration_level_dbfs
    if m.level_dbfs is None or not lo_db <= m.level_dbfs <= hi_db:
        level = "unmeasured" if m.level_dbfs is None else f"{m.level_dbfs:.1f} dBFS"
        raise UserError(f"{name}: speech level {level} is outside {lo_db:g} to {hi_db:g} dBFS, not a voice "
                        f"recorded at a usable level; {again}")
    lo_hz, hi_hz = tc.calibration_pitch_hz
    if not lo_hz <= m.pitch_median_hz <= hi_hz:  # type: ignore[operator]  (check_baseline: not None)
        raise UserError(f"{name}: median pitch {m.pitch_median_hz:.0f} Hz is outside {lo_hz:g}-{hi_hz:g} Hz, not a "
                        f"speaking voice; {again}")
    if m.pitch_range_st is None or m.pitch_range_st < tc.calibration_min_pitch_range_st:
        rng = 0.0 if m.pitch_range_st is None else m.pitch_range_st
        raise UserError(f"{name}: the pitch hardly moves ({rng:.2f} semitones; speech moves at least "
                        f"{tc.calibration_min_pitch_range_st:g}), so this is a steady tone, not speech; {again}")


def resolve_baseline(spec: str | None, cfg: Config, transcriber=None) -> tone.Baseline | None:
    """The baseline for ``analyze``: ``--baseline`` (a profile JSON or a calm recording), else the stored profile.

    Returns None when neither exists (the tone result then says ``baseline: none``).
    """
    if spec:
        p = Path(spec)
        if p.suffix.lower() == ".json":
            return load_profile(p)
        b = baseline_from_audio_file(p, cfg, transcriber)
        check_baseline(b, cfg, str(p))
        return b
    stored = default_profile_path()
    try:
        exists = stored.exists()
    except OSError as exc:  # a config folder this user may not enter
        raise UserError(f"{stored}: cannot look for the stored voice profile ({exc.strerror}); fix the folder's "
                        "permissions, set $XDG_CONFIG_HOME, or give --baseline") from None
    return load_profile(stored) if exists else None
