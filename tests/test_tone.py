"""Tone analysis on signals with known answers, on espeak-ng speech rendered here, and with the real Whisper."""

from __future__ import annotations

import json

import numpy as np
import pytest
from speech import ESPEAK, espeak, needs_espeak, tone, write

from voice_trainer import profile
from voice_trainer.analysis import tone as T
from voice_trainer.analysis.transcript import Word
from voice_trainer.cli import main as cli_main
from voice_trainer.config import ToneConfig, TranscribeConfig, config_from_dict
from voice_trainer.errors import UserError
from voice_trainer.speech.transcribe import Transcriber

SR = 16_000
SENTENCE = "Thank you for waiting. I have found your order and I will send the replacement today."


def harmonic(f0: float, dur_s: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    """A voice-like tone: ten harmonics falling off as 1/k."""
    t = np.arange(int(dur_s * sr)) / sr
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 11))
    return (amp * x / np.abs(x).max()).astype(np.float32)


def load16(path) -> np.ndarray:
    from voice_trainer.audio.files import load

    return load(path, sample_rate=SR)


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber(TranscribeConfig())


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """The same sentence from the same espeak-ng voice: calm, fast, and raised (louder, higher)."""
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed")
    d = tmp_path_factory.mktemp("tone")
    return {
        "calm": load16(espeak(SENTENCE, d / "calm.wav", speed=130, pitch=40, amplitude=60)),
        "calm2": load16(espeak("I understand. Let me check that for you and call you back within the hour.",
                               d / "calm2.wav", speed=135, pitch=40, amplitude=60)),
        "fast": load16(espeak(SENTENCE, d / "fast.wav", speed=260, pitch=40, amplitude=60)),
        "raised": load16(espeak(SENTENCE, d / "raised.wav", speed=130, pitch=90, amplitude=200)),
    }


# --- known answers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sr", [16_000, 44_100])
def test_220_hz_sine_reads_220_hz_within_1_percent(sr):
    m = T.summarize(T.measure_frames(tone(220.0, 2.0, sr, amp=0.3), sr))
    assert m.pitch_median_hz is not None
    assert abs(m.pitch_median_hz - 220.0) / 220.0 < 0.01
    assert m.pitch_range_st < 0.2  # a steady tone has no pitch range



def test_tracker_without_memory_arena_matches_stock_swift_f0():
    """Our pitch tracker (no onnxruntime memory arena, to hold less memory) gives swift-f0's own results exactly."""
    from swift_f0 import SwiftF0

    stock = SwiftF0(threads=1, spin=False)
    ours = T._swift()
    rng = np.random.default_rng(1)
    for y in (harmonic(140.0, 3.0), harmonic(230.0, 10.0) + 0.01 * rng.standard_normal(160_000).astype(np.float32)):
        a, b = stock.detect(y, SR, fmin=65, fmax=400), ours.detect(y, SR, fmin=65, fmax=400)
        assert np.array_equal(a.pitch_hz, b.pitch_hz) and np.array_equal(a.confidence, b.confidence)
        assert abs(np.median(b.pitch_hz[b.confidence > 0.9]) / (140.0 if len(y) == 48_000 else 230.0) - 1) < 0.02

@pytest.mark.parametrize("f0", [90.0, 140.0, 310.0])
def test_voice_like_tones_read_their_fundamental(f0):
    m = T.summarize(T.measure_frames(harmonic(f0, 1.5), SR))
    assert abs(m.pitch_median_hz - f0) / f0 < 0.01


def test_pitch_range_of_a_glide_is_its_span_in_semitones():
    # 150 Hz -> 300 Hz (12 st) exponential glide; 5th-95th percentile covers 90% of it = 10.8 st.
    t = np.arange(3 * SR) / SR
    f = 150.0 * 2.0 ** (t / 3.0)
    x = (0.3 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)
    m = T.summarize(T.measure_frames(x, SR))
    assert m.pitch_range_st == pytest.approx(10.8, abs=0.6)


def test_six_db_gain_reads_six_db_louder_on_a_tone():
    x = harmonic(180.0, 2.0, amp=0.1)
    a = T.summarize(T.measure_frames(x, SR))
    b = T.summarize(T.measure_frames(x * 10 ** (6 / 20), SR))
    assert b.level_dbfs - a.level_dbfs == pytest.approx(6.0, abs=0.5)


@needs_espeak
def test_six_db_gain_reads_six_db_louder_on_speech_and_keeps_pitch(renders):
    x = renders["calm"]
    a = T.summarize(T.measure_frames(x, SR))
    b = T.summarize(T.measure_frames(np.clip(x * 10 ** (6 / 20), -1, 1), SR))
    assert b.level_dbfs - a.level_dbfs == pytest.approx(6.0, abs=0.5)
    assert 12 * np.log2(b.pitch_median_hz / a.pitch_median_hz) == pytest.approx(0.0, abs=0.3)
    assert b.tilt_db == pytest.approx(a.tilt_db, abs=0.5)  # tilt is a ratio: gain does not move it


def test_active_level_ignores_surrounding_silence():
    x = harmonic(200.0, 1.5, amp=0.2)
    padded = np.concatenate([np.zeros(3 * SR, np.float32), x, np.zeros(3 * SR, np.float32)])
    a = T.summarize(T.measure_frames(x, SR))
    b = T.summarize(T.measure_frames(padded, SR))
    assert b.level_dbfs == pytest.approx(a.level_dbfs, abs=0.5)
    assert b.active_s == pytest.approx(a.active_s, abs=0.1)


def test_clipping_is_counted():
    x = np.clip(harmonic(200.0, 1.0, amp=2.0), -1.0, 1.0)
    assert T.summarize(T.measure_frames(x, SR)).clipped_fraction > 0.01
    assert T.summarize(T.measure_frames(harmonic(200.0, 1.0, amp=0.5), SR)).clipped_fraction == 0.0


def test_chunks_joined_equal_the_whole():
    x = np.concatenate([harmonic(160.0, 2.0), np.zeros(SR // 2, np.float32), harmonic(240.0, 2.0)])
    whole = T.summarize(T.measure_frames(x, SR))
    cut = 2 * SR + 1234  # not a multiple of the hop
    parts = T.ToneFrames.concat([T.measure_frames(x[:cut], SR), T.measure_frames(x[cut:], SR, offset_s=cut / SR)])
    joined = T.summarize(parts)
    assert np.all(np.diff(parts.t_s) > 0)
    assert joined.level_dbfs == pytest.approx(whole.level_dbfs, abs=0.1)
    assert joined.pitch_median_hz == pytest.approx(whole.pitch_median_hz, rel=0.01)
    assert joined.pitch_range_st == pytest.approx(whole.pitch_range_st, abs=0.3)


# --- withholding ----------------------------------------------------------------------------------------------


def test_noise_withholds_pitch_components_but_judges_level(renders):
    base = T.baseline_from_audio(renders["calm"], SR)
    noise = np.random.default_rng(0).normal(0, 0.05, 3 * SR).astype(np.float32)
    res = T.analyze_tone(noise, SR, baseline=base)
    comps = {c.id: c for c in res.calmness.components}
    for cid in ("raised_pitch", "pitch_swings", "vocal_effort"):
        assert comps[cid].withheld and "voiced" in comps[cid].withheld
        assert comps[cid].points == 0.0 and comps[cid].value is None
    assert comps["raised_voice"].withheld is None
    assert res.measures.pitch_median_hz is None
    assert res.calmness.value is not None  # from level alone, not zeroed by the withheld parts


def test_silence_is_withheld_not_crashed():
    res = T.analyze_tone(np.zeros(SR, np.float32), SR, baseline=T.Baseline(T.ToneMeasures(level_dbfs=-20.0), "x"))
    assert res.measures.level_dbfs is None
    assert res.calmness.value is None
    assert all(c.withheld for c in res.calmness.components)


def test_without_baseline_voice_components_and_calmness_are_withheld():
    res = T.analyze_tone(harmonic(200.0, 2.0), SR)
    d = res.to_dict()
    assert d["baseline"]["kind"] == "none"
    assert d["calmness"] is None and "baseline" in d["calmness_withheld"]
    assert d["pitch_median_hz"] == pytest.approx(200.0, rel=0.01)  # still measured and reported
    assert {c["id"] for c in d["components"] if c["withheld"]} >= {"raised_voice", "raised_pitch", "vocal_effort"}


# --- calmness against the baseline ----------------------------------------------------------------------------


@needs_espeak
def test_raised_voice_scores_below_calm_voice(renders):
    base = T.baseline_from_audio(renders["calm2"], SR)
    calm = T.analyze_tone(renders["calm"], SR, baseline=base)
    raised = T.analyze_tone(renders["raised"], SR, baseline=base)
    assert calm.calmness.value > raised.calmness.value
    rc = {c.id: c for c in raised.calmness.components}
    assert rc["raised_pitch"].points < rc["raised_pitch"].weight  # espeak pitch 40 -> 90 is several semitones
    assert rc["raised_voice"].points < rc["raised_voice"].weight  # amplitude 60 -> 200 is ~10 dB
    assert raised.deltas()["pitch_st"] > 2.0
    for c in raised.calmness.components:
        assert c.technique == 4 and c.tip


def test_thresholds_come_from_the_config():
    base = T.Baseline(T.ToneMeasures(level_dbfs=-30.0), "recording")
    m = T.ToneMeasures(level_dbfs=-25.0)  # +5 dB
    strict = config_from_dict({"tone": {"raised_voice_db": 1.0, "raised_voice_full_db": 5.0}}).tone
    lenient = config_from_dict({"tone": {"raised_voice_db": 6.0}}).tone
    s = {c.id: c for c in T.score_calmness(m, base, strict).calmness.components}["raised_voice"]
    n = {c.id: c for c in T.score_calmness(m, base, lenient).calmness.components}["raised_voice"]
    assert s.points == 0.0 and s.threshold == -29.0
    assert n.points == n.weight


# --- pace from real Whisper word timings ----------------------------------------------------------------------


@pytest.mark.whisper
@needs_espeak
def test_faster_render_has_faster_pace(renders, transcriber):
    slow_words = transcriber.transcribe(renders["calm"]).words
    fast_words = transcriber.transcribe(renders["fast"]).words
    slow = T.summarize(T.measure_frames(renders["calm"], SR), slow_words)
    fast = T.summarize(T.measure_frames(renders["fast"], SR), fast_words)
    assert slow.pace_wpm and fast.pace_wpm
    assert fast.pace_wpm > 1.4 * slow.pace_wpm  # espeak 130 -> 260 wpm
    assert fast.articulation_wpm >= fast.pace_wpm


def test_pauses_are_counted_and_timed():
    words = [Word("one", 0.1, 0.5), Word("two", 0.6, 1.0), Word("three", 2.0, 2.4), Word("four", 2.5, 2.9)]
    x = np.concatenate([harmonic(150, 1.0), np.zeros(SR, np.float32), harmonic(150, 1.0)])
    m = T.summarize(T.measure_frames(x, SR), words)
    assert m.pause_count == 1
    assert m.longest_pause_s == pytest.approx(1.0, abs=0.1)
    assert m.pace_wpm == pytest.approx(60 * 4 / 2.8, rel=0.01)
    assert m.articulation_wpm > m.pace_wpm


# --- contagion ------------------------------------------------------------------------------------------------


def _turns(levels, pitches):
    return [T.ToneMeasures(level_dbfs=lv, pitch_median_hz=p) for lv, p in zip(levels, pitches, strict=True)]


def test_contagion_detected_when_the_trainee_follows_the_caller():
    anger = [20, 40, 60, 80, 90]
    c = T.contagion(_turns([-30, -28, -25, -22, -20], [120, 125, 135, 145, 150]), anger)
    assert c.detected is True
    assert c.loudness_rise_db > 6 and c.loudness_r > 0.9 and c.pitch_rise_st > 2
    assert c.to_dict()["detected"] is True and c.component().points == 0


def test_no_contagion_when_the_trainee_stays_steady():
    anger = [20, 40, 60, 80, 90]
    c = T.contagion(_turns([-30, -30.5, -29.8, -30.2, -30], [120, 121, 119, 120, 120]), anger)
    assert c.detected is False
    assert c.component().points == c.component().weight


def test_contagion_withheld_with_too_few_turns():
    c = T.contagion(_turns([-30, -20], [120, 150]), [10, 90])
    assert c.detected is None and c.withheld


# --- profile and CLI ------------------------------------------------------------------------------------------


def test_profile_round_trip_and_bad_files(tmp_path):
    base = T.Baseline(T.summarize(T.measure_frames(harmonic(130.0, 2.0), SR)), "profile", "test")
    p = profile.save_profile(base, tmp_path / "p.json")
    back = profile.load_profile(p)
    assert back.kind == "profile"
    assert back.measures.pitch_median_hz == pytest.approx(base.measures.pitch_median_hz, abs=0.01)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        profile.load_profile(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(UserError, match="not a voice-trainer voice profile"):
        profile.load_profile(tmp_path / "other.json")


@pytest.mark.whisper
@needs_espeak
def test_calibrate_from_file_then_analyze_with_that_baseline(tmp_path, monkeypatch, capsys, renders, transcriber):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VOICE_TRAINER_CONFIG", raising=False)
    calm = write(tmp_path / "calm.wav", renders["calm2"], SR)
    raised = write(tmp_path / "raised.wav", renders["raised"], SR)
    assert cli_main(["calibrate", "--from", str(calm)]) == 0
    stored = tmp_path / "xdg" / "voice-trainer" / "voice-profile.json"
    assert stored.exists() and "voice profile saved" in capsys.readouterr().out
    assert cli_main(["analyze", "--json", str(raised), "--baseline", str(stored)]) == 0
    tone_out = json.loads(capsys.readouterr().out)["tone"]
    assert tone_out["baseline"]["kind"] == "profile"
    assert tone_out["calmness"] < 80
    for key in ("components", "pitch_median_hz", "pitch_range_st", "loudness_dbfs", "pace_wpm"):
        assert key in tone_out
    # Without --baseline the stored profile is used.
    assert cli_main(["analyze", "--json", str(raised)]) == 0
    assert json.loads(capsys.readouterr().out)["tone"]["baseline"]["source"] == str(stored)


@pytest.mark.whisper
def test_calibrate_rejects_a_recording_without_voice(tmp_path, capsys):
    noise = write(tmp_path / "noise.wav", np.random.default_rng(1).normal(0, 0.05, 3 * SR).astype(np.float32), SR)
    assert cli_main(["calibrate", "--from", str(noise), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "voiced speech" in err[0]
    assert not (tmp_path / "p.json").exists()


def test_config_rejects_unknown_tone_key():
    from voice_trainer.config import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"tone": {"raised_voice_dbb": 3.0}})
    assert ToneConfig().raised_voice_db < ToneConfig().raised_voice_full_db


def test_a_calm_wav_is_a_baseline_too(tmp_path):
    p = write(tmp_path / "calm.wav", harmonic(150.0, 2.0), SR)
    b = profile.resolve_baseline(str(p), config_from_dict({}))
    assert b.kind == "recording" and b.source == str(p)
    assert b.measures.pitch_median_hz == pytest.approx(150.0, rel=0.01)


@pytest.mark.whisper
@pytest.mark.devices
@needs_espeak
def test_calibrate_records_from_the_virtual_microphone(virtual_audio, tmp_path, capsys, renders, transcriber):
    speech = np.concatenate([renders["calm2"], renders["calm"], renders["calm2"]])
    wav = write(tmp_path / "calm.wav", speech, SR)
    out = tmp_path / "profile.json"
    virtual_audio.paplay(wav)
    assert cli_main(["calibrate", "--seconds", "6", "--out", str(out)]) == 0
    assert "voice profile saved" in capsys.readouterr().out
    recorded = profile.load_profile(out).measures
    direct = T.summarize(T.measure_frames(renders["calm2"], SR))
    assert 12 * abs(np.log2(recorded.pitch_median_hz / direct.pitch_median_hz)) < 1.0  # the same voice came through


def test_calibrate_without_a_microphone_is_a_one_line_error(no_audio_env, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "voice_trainer", "calibrate", "--out", str(tmp_path / "p.json")],
        capture_output=True, text=True, env=no_audio_env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--from FILE" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.json").exists()
