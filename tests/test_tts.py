"""Caller voice: anger audibly changes rate, level and pitch; pyttsx3 quirks are contained; the cache works.

Renders are made with the real pyttsx3 + espeak-ng; references with the espeak-ng command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from voice_trainer.analysis import tone
from voice_trainer.call.scenarios import load_library
from voice_trainer.call.tts import VoiceSettings, cache_key, load_rendered, play, render_line, voice_for
from voice_trainer.cli import main
from voice_trainer.config import TTSConfig
from voice_trainer.errors import UserError

pytestmark = pytest.mark.slow
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def rms_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12))


def test_voice_for_moves_every_setting_with_anger():
    lo, hi = voice_for("en-us+f3", 10), voice_for("en-us+f3", 90)
    assert hi.rate_wpm > lo.rate_wpm and hi.volume > lo.volume and hi.pitch > lo.pitch
    assert voice_for("en-us", 150) == voice_for("en-us", 100)  # clipped
    cfg = TTSConfig(calm_rate_wpm=100, furious_rate_wpm=300)
    assert voice_for("en-us", 50, cfg).rate_wpm == 200


@needs_espeak
@pytest.mark.parametrize("sid", ["late-package", "abusive-caller"])
def test_anger_90_is_faster_louder_and_higher_than_anger_10(tmp_path, sid):
    sc = load_library()[sid]
    text = sc.lines_for("opening", "upset")[0]
    m = {}
    for anger in (10, 90):
        y = load_rendered(render_line(text, voice_for(sc.persona, anger), cache_root=tmp_path), 16_000)
        m[anger] = tone.summarize(tone.measure_frames(y, 16_000))
    calm, angry = m[10], m[90]
    assert angry.active_s < 0.85 * calm.active_s  # same words in clearly less speaking time: faster
    assert angry.level_dbfs > calm.level_dbfs + 3.0  # louder
    assert angry.pitch_median_hz > calm.pitch_median_hz * 1.15  # higher (more than 2.4 semitones)


@needs_espeak
def test_settings_never_leak_from_one_line_to_the_next(tmp_path):
    """pyttsx3 keeps one engine whose properties persist, and espeak-ng dropped properties sent while busy:
    every line, in an interleaved order, must sound like a fresh espeak-ng render with the same settings."""
    text = "You cut my gas off with a baby in the house."
    order = [("en-us+m4", 160, 0.5, 30), ("en-us+m4", 240, 1.0, 80), ("en-us+f3", 240, 0.5, 30),
             ("en-us+f3", 160, 1.0, 80), ("en-us+m4", 160, 0.5, 80), ("en-us+m4", 240, 0.5, 30)]
    for i, (voice, rate, volume, pitch) in enumerate(order):
        got, _ = sf.read(str(render_line(text, VoiceSettings(voice, rate, volume, pitch), cache=False,
                                         out=tmp_path / f"l{i}.wav")))
        ref_path = tmp_path / f"r{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-a", str(int(volume * 100)), "-p", str(pitch),
                        "-w", str(ref_path), text], check=True, capture_output=True)
        ref, _ = sf.read(str(ref_path))
        assert len(got) / len(ref) == pytest.approx(1.0, abs=0.03), (i, "duration")
        assert rms_db(got) == pytest.approx(rms_db(ref), abs=0.7), (i, "level")


@needs_espeak
def test_output_is_22050_hz_mono_and_loads_at_16k(tmp_path):
    p = render_line("Where is my parcel?", voice_for("en-us+f3", 50), cache_root=tmp_path)
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.format) == (22_050, 1, "WAV")
    y = load_rendered(p, sr=16_000)
    assert y.dtype == np.float32 and len(y) == pytest.approx(info.frames * 16_000 / 22_050, abs=2)


@needs_espeak
def test_cache_hit_costs_almost_nothing_and_keys_differ_by_settings(tmp_path):
    v = voice_for("en-gb+f2", 40)
    t0 = time.perf_counter()
    first = render_line("I have been charged twice this month.", v, cache_root=tmp_path)
    cold = time.perf_counter() - t0
    stamp = first.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = render_line("I have been  charged twice this month. ", v, cache_root=tmp_path)  # same after cleaning
    warm = time.perf_counter() - t0
    assert again == first and first.stat().st_mtime_ns == stamp
    assert warm < cold
    assert cache_key("x y", v) != cache_key("x y", voice_for("en-gb+f2", 41))
    assert cache_key("x y", v) != cache_key("x y z", v)
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary files left behind


@needs_espeak
def test_out_file_is_written_and_uncached_renders_go_elsewhere(tmp_path):
    out = tmp_path / "sub" / "line.wav"
    got = render_line("Okay, thank you.", voice_for("en-us", 20), out=out, cache_root=tmp_path / "cache")
    assert got == out and sf.info(str(out)).frames > 0
    assert len(list((tmp_path / "cache").glob("*.wav"))) == 1
    tmp = render_line("Okay, thank you.", voice_for("en-us", 20), cache=False)
    try:
        assert tmp.exists() and tmp.parent != tmp_path / "cache"
    finally:
        os.unlink(tmp)


def test_empty_text_is_refused_before_reaching_the_engine(tmp_path):
    for text in ("", "   ", "...", "\n"):
        with pytest.raises(UserError, match="nothing to say"):
            render_line(text, voice_for("en-us", 50), cache_root=tmp_path)
    assert not any(tmp_path.iterdir())


@needs_espeak
def test_unknown_voice_is_a_clear_error_not_the_previous_voice(tmp_path):
    render_line("First line.", voice_for("en-us+f3", 50), cache_root=tmp_path)
    with pytest.raises(UserError, match="not an espeak-ng voice"):
        render_line("Second line.", voice_for("xx-nowhere", 50), cache_root=tmp_path)


def test_play_without_a_usable_device_suggests_out(tmp_path):
    y = np.zeros(1600, np.float32)
    with pytest.raises(UserError, match=r"--out FILE\.wav"):
        play(y, 16_000, device="no-such-device-for-voice-trainer")


@needs_espeak
def test_say_command_writes_a_file_or_fails_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "line.wav"
    assert main(["say", "--scenario", "late-package", "--anger", "90", "--out", str(out)]) == 0
    assert sf.info(str(out)).frames > 0
    printed = capsys.readouterr().out
    assert "furious" in printed and "Dana Whitfield" in printed
    assert main(["say", "--scenario", "late-package", "--device", "no-such-device-for-voice-trainer"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--out" in err
    assert main(["say", "--scenario", "late-package", "--anger", "150", "--out", str(out)]) == 2
    assert "out of range" in capsys.readouterr().err
