"""``voice-trainer calibrate``: record (or read) about 15 s of the trainee's calm voice and store a voice profile.

Calmness is judged against this profile: pitch in semitones and loudness and spectral tilt in dB relative to it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..analysis.tone import Baseline, baseline_from_audio
from ..audio import files as audio_io
from ..config import Config
from ..errors import UserError
from ..profile import baseline_from_audio_file, check_calibration, default_profile_path, save_profile
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args

PASSAGE = (
    "Hello, thanks for calling. I'm reading this in my everyday voice, the way I would chat with a colleague "
    "over coffee. Yesterday the weather turned mild, so I walked home the long way, past the bakery and the old "
    "library, and thought about what to cook for dinner."
)
"""A neutral text to read aloud (our own wording): everyday vowels and consonants, no emotion."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="record your calm voice once, as the baseline for tone feedback",
        description="Record about 15 s of your normal, calm voice (or read a recording with --from) and store a "
        "voice profile. Tone feedback compares your pitch, loudness and vocal effort with it.",
    )
    p.add_argument("--from", dest="from_file", metavar="FILE", help="use this recording instead of the microphone")
    p.add_argument("--seconds", type=float, metavar="S", help="recording length (default 15)")
    p.add_argument("--out", metavar="FILE", help=f"where to write the profile (default {default_profile_path()})")
    add_model_options(p)
    p.set_defaults(run=run)


MIC_HINT = "record yourself with any app and run: voice-trainer calibrate --from FILE"


def input_rate() -> int:
    """Native sample rate (Hz) of the default input device.

    Raises
    ------
    UserError
        No input device, or PortAudio is missing.
    """
    try:
        import sounddevice as sd

        return int(sd.query_devices(kind="input")["default_samplerate"])
    except Exception as exc:  # PortAudioError, ValueError (no default device), OSError (no PortAudio library)
        reason = str(exc).split("\n")[0][:80] or type(exc).__name__
        raise UserError(f"no microphone found ({reason}); {MIC_HINT}") from None


def record(seconds: float, sample_rate: int) -> np.ndarray:
    """Record from the default input at its native rate (latency 'high') and resample to ``sample_rate`` Hz.

    Raises
    ------
    UserError
        No input device, or the device cannot be opened.
    """
    import soxr

    rate = input_rate()
    try:
        import sounddevice as sd

        data = sd.rec(int(seconds * rate), samplerate=rate, channels=1, dtype="float32", latency="high")
        sd.wait()
    except Exception as exc:  # PortAudioError: device busy or gone
        reason = str(exc).split("\n")[0][:80] or type(exc).__name__
        raise UserError(f"could not record from the microphone ({reason}); {MIC_HINT}") from None
    x = np.ascontiguousarray(data[:, 0])
    return x if rate == sample_rate else soxr.resample(x, rate, sample_rate).astype(np.float32)


def _measure_recording(cfg: Config, transcriber: Transcriber, seconds: float) -> Baseline:
    sr = audio_io.ANALYSIS_RATE
    input_rate()  # fail before asking the trainee to read
    print("Read this aloud in your normal, calm voice (keep talking until the recording stops):\n", file=sys.stderr)
    print(f"  {PASSAGE}\n", file=sys.stderr)
    print(f"Recording {seconds:g} s ...", file=sys.stderr, flush=True)
    x = record(seconds, sr)
    print("done.", file=sys.stderr)
    words = transcriber.transcribe(x).words
    return baseline_from_audio(x, sr, words, kind="profile", source="microphone", config=cfg.tone)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    seconds = args.seconds if args.seconds is not None else cfg.tone.calibration_s
    if seconds < 3:
        raise UserError(f"--seconds {seconds:g} is too short for a voice profile; use at least 3 (15 is best)")
    transcriber = Transcriber(cfg.transcribe)
    if args.from_file:
        baseline = baseline_from_audio_file(args.from_file, cfg, transcriber)
        name = args.from_file
    else:
        baseline = _measure_recording(cfg, transcriber, seconds)
        name = "the recording"
    check_calibration(baseline, cfg, name)
    m = baseline.measures
    path = save_profile(
        baseline, args.out, extra={"duration_s": round(m.duration_s, 2), "voiced_s": round(m.voiced_s, 2)}
    )
    pace = "not measured" if m.pace_wpm is None else f"{m.pace_wpm:.0f} wpm"
    print(
        f"voice profile saved to {path}: pitch {m.pitch_median_hz:.0f} Hz (range {m.pitch_range_st:.1f} st), "
        f"level {m.level_dbfs:.1f} dBFS, tilt {m.tilt_db:.1f} dB, pace {pace}, "
        f"from {m.voiced_s:.1f} s of voiced speech"
    )
    return 0
