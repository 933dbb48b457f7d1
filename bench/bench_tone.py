"""Tone analysis speed against transcription, and the pitch-tracker comparison behind the choice of swift-f0.

1. Pitch trackers (swift-f0, librosa pYIN, librosa YIN) on signals with known F0 (sine and voice-like harmonic
   tones 80-440 Hz, clean and with noise at 10 dB SNR) and on white noise (should be unvoiced): median and worst
   error in cents, voiced recall, false voicing. On real speech (RAVDESS clips of eval_dir("emotion-speech-dev"),
   no ground truth) the trackers' agreement and octave-jump rate. Speed on 10 s of speech, first call and warm.
2. Tone analysis of a 10 s answer (the first 10 s of eval_dir("transcribed-speech-dev")/jfk.wav) against its
   Whisper transcription, both warm: the target is tone <= 10% of transcription.

    .venv/bin/python bench/bench_tone.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._eval import eval_dir  # noqa: E402
from voice_trainer.analysis import tone  # noqa: E402
from voice_trainer.audio import files as audio_io  # noqa: E402
from voice_trainer.config import ToneConfig, load_config  # noqa: E402

SR = 16_000
HOP = tone.HOP
FMIN, FMAX = 50.0, 800.0


def track_swift(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """swift-f0 as voice-trainer uses it (peak-normalised input, periodicity check for pure tones)."""
    fr = tone.measure_frames(x, SR, ToneConfig())
    return np.nan_to_num(fr.f0_hz.astype(float)), fr.voiced


def track_swift_raw(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = tone._swift().detect(x, SR, fmin=FMIN, fmax=FMAX)
    return r.pitch_hz, r.confidence >= 0.5


def track_pyin(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    f, v, _ = librosa.pyin(x, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024, hop_length=HOP)
    return np.nan_to_num(f), v


def track_yin(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    f = librosa.yin(x, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024, hop_length=HOP)
    return f, np.ones(len(f), bool)  # YIN has no voicing decision


TRACKERS = {
    "swift-f0 (ours)": track_swift,
    "swift-f0 raw": track_swift_raw,
    "pyin": track_pyin,
    "yin": track_yin,
}


def harmonic(f0: float, dur: float = 2.0) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12) if k * f0 < SR / 2)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def known_tones() -> list[tuple[str, float, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for f0 in (80.0, 110.0, 150.0, 220.0, 300.0, 440.0):
        t = np.arange(2 * SR) / SR
        out.append(("sine", f0, (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)))
        h = harmonic(f0)
        out.append(("harmonic", f0, h))
        noise = rng.normal(0, np.sqrt(np.mean(h**2) / 10), len(h)).astype(np.float32)  # 10 dB SNR
        out.append(("harmonic+noise", f0, h + noise))
    return out


def tone_accuracy() -> None:
    tones = known_tones()
    noise = np.random.default_rng(1).normal(0, 0.05, 2 * SR).astype(np.float32)
    print("Known tones (18 signals: sine / harmonic / harmonic at 10 dB SNR, F0 80-440 Hz), 2 s each")
    print(f"  {'tracker':16s} {'median err':>10s} {'worst err':>10s} {'voiced recall':>14s} {'noise voiced':>13s}")
    for name, fn in TRACKERS.items():
        med, recall = [], []
        for _kind, f0, x in tones:
            f, v = fn(x)
            core = slice(8, len(f) - 8)
            fv = f[core][v[core] & (f[core] > 0)]
            recall.append(float(v[core].mean()))
            med.append(float(np.median(np.abs(1200 * np.log2(fv / f0)))) if len(fv) else float("inf"))
        _, nv = fn(noise)
        print(f"  {name:16s} {np.median(med):8.1f} c {max(med):8.1f} c {min(recall):6.2f} (min) "
              f"{np.mean(recall):.2f}  {nv.mean():10.2f}")
    print("  (err: median |error| in cents over voiced frames of each signal; worst = the worst signal; recall:")
    print("   share of frames voiced, worst signal and mean; noise voiced: share of white-noise frames voiced)\n")


def speech_agreement(quick: bool) -> np.ndarray:
    d = eval_dir("emotion-speech-dev")
    files = sorted(d.glob("*.wav"))
    if quick:
        files = files[::4]
    clips = [audio_io.load(f, sample_rate=SR) for f in files]
    tracks = {name: [fn(x) for x in clips] for name, fn in TRACKERS.items() if name != "swift-f0 raw"}
    print(f"Real speech: {len(clips)} RAVDESS clips (no ground truth: agreement between trackers)")
    names = list(tracks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = agree = 0
            diffs = []
            for (fa, va), (fb, vb) in zip(tracks[a], tracks[b], strict=True):
                n = min(len(fa), len(fb))
                m = va[:n] & vb[:n] & (fa[:n] > 0) & (fb[:n] > 0)
                c = np.abs(1200 * np.log2(fa[:n][m] / fb[:n][m]))
                both += int(m.sum())
                agree += int((c < 50).sum())
                diffs.extend(c.tolist())
            print(f"  {a:16s} vs {b:6s}: {both:5d} frames voiced by both, {100 * agree / max(both, 1):5.1f}% "
                  f"within 50 cents, median difference {np.median(diffs):5.1f} cents")
    for name in names:
        jumps = frames = 0
        voiced = 0
        for f, v in tracks[name]:
            voiced += int(v.sum())
            st = 12 * np.log2(np.where(v & (f > 0), f, np.nan))
            dj = np.abs(np.diff(st))
            ok = np.isfinite(dj)
            frames += int(ok.sum())
            jumps += int((dj[ok] > 6).sum())
        print(f"  {name:16s}: {voiced:5d} voiced frames, octave-scale jumps (>6 st between adjacent voiced frames) "
              f"{100 * jumps / max(frames, 1):.2f}%")
    print()
    return np.concatenate(clips)


def tracker_speed(speech: np.ndarray) -> None:
    import librosa

    x = np.resize(speech, 10 * SR).astype(np.float32)
    print("Speed on 10 s of speech (one process, 2 shared cores)")
    for name, fn in [("pyin", lambda: librosa.pyin(x, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024,
                                                    hop_length=HOP)),
                     ("yin", lambda: librosa.yin(x, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024, hop_length=HOP)),
                     ("swift-f0 raw", lambda: tone._swift().detect(x, SR, fmin=FMIN, fmax=FMAX)),
                     ("tone frames", lambda: tone.measure_frames(x, SR))]:
        runs = []
        for _ in range(4):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        print(f"  {name:14s} warm {min(runs[1:]):.3f} s  (this process's call #1 {runs[0]:.3f} s)")
    print("  (first-call numbers are only 'first' for trackers not already used above in this process)\n")


def tone_vs_transcription() -> None:
    from voice_trainer.speech.transcribe import Transcriber

    cfg = load_config()
    x = audio_io.load(eval_dir("transcribed-speech-dev") / "jfk.wav", sample_rate=SR)[: 10 * SR]
    tr = Transcriber(cfg.transcribe)
    tr.transcribe(x)  # load + warm
    tone.warm_up(cfg.tone)
    t_asr, t_tone = [], []
    words = []
    for _ in range(5):  # interleaved, so a change in the machine's load hits both alike
        t0 = time.perf_counter()
        words = tr.transcribe(x).words
        t_asr.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = tone.score_calmness(tone.summarize(tone.measure_frames(x, SR, cfg.tone), words, cfg.tone), None,
                                  cfg.tone)
        t_tone.append(time.perf_counter() - t0)
    a, t = float(np.median(t_asr)), float(np.median(t_tone))
    print(f"10 s answer (jfk.wav, {len(words)} words), warm, median of runs, model {tr.model_name}")
    print(f"  transcription {a:.3f} s   tone analysis {t:.3f} s   ratio {100 * t / a:.1f}% (target <= 10%)")
    print(f"  fastest runs: transcription {min(t_asr):.3f} s, tone {min(t_tone):.3f} s, "
          f"ratio {100 * min(t_tone) / min(t_asr):.1f}%")
    m = res.measures
    print(f"  measured: pitch {m.pitch_median_hz:.0f} Hz, range {m.pitch_range_st:.1f} st, level {m.level_dbfs:.1f} "
          f"dBFS, tilt {m.tilt_db:.1f} dB, pace {m.pace_wpm:.0f} wpm, {m.pause_count} pauses")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the speech clips")
    args = ap.parse_args()
    t0 = time.perf_counter()
    import librosa

    librosa.pyin(np.zeros(SR // 4, np.float32), fmin=FMIN, fmax=FMAX, sr=SR)  # measure compile separately
    print(f"pyin first call (numba compilation) in this process: {time.perf_counter() - t0:.2f} s "
          f"(incl. importing librosa)\n")
    tone_accuracy()
    speech = speech_agreement(args.quick)
    tracker_speed(speech)
    tone_vs_transcription()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
