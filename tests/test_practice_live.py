"""Live practice end to end through real PortAudio devices on a private PulseAudio daemon.

The caller plays into the ``caller_out`` null sink; a virtual trainee listens to its monitor and plays canned
answers into ``mic_feed``, whose monitor is the default microphone. Turn 1 is played on purpose while the
caller still speaks.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from textnorm import TOLERANCE, allowed_errors, norm_words, word_errors
from virtual_trainee import Answer, VirtualTrainee

from voice_trainer.config import TranscribeConfig
from voice_trainer.speech.transcribe import Transcriber
from voice_trainer.store import load_session

pytestmark = [pytest.mark.whisper, pytest.mark.devices]
SAMPLES = Path(__file__).resolve().parent.parent / "audio_samples"
MANIFEST = tomllib.loads((SAMPLES / "manifest.toml").read_text(encoding="utf-8"))["answer"]
DEVICE_LOST_WITHIN_S = 2.0  # the target: the session says device_lost this soon after the unload


def _live_env(virtual_audio) -> dict:
    """The virtual devices' environment, with the user's model cache."""
    return {**virtual_audio.env, "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))}


def _live_call(virtual_audio, session: Path, answers: list, scenario: str = "double-charge",
               config: Path | None = None) -> subprocess.CompletedProcess:
    """A two-turn live practice call, the virtual trainee speaking ``answers`` into the virtual microphone."""
    env = _live_env(virtual_audio)
    trainee = VirtualTrainee(env, answers).start()
    try:
        return subprocess.run(
            [sys.executable, "-m", "voice_trainer", *(["--config", str(config)] if config else []), "practice",
             "--scenario", scenario, "--max-turns", "2", "--seed", "3", "--session-dir", str(session),
             "--baseline", str(SAMPLES / "baseline_calm.wav")],
            env=env, capture_output=True, text=True, timeout=240,
        )
    finally:
        trainee.stop()


def test_live_call_through_virtual_devices(virtual_audio, tmp_path):
    answers = [
        Answer(str(SAMPLES / "double-charge_poor_1.wav"), barge_in_after_s=1.2),  # talks over the caller
        # acknowledges first: by then the caller is angry enough to cut in on a long answer that does not (file
        # mode cuts good_2 off at 10.8 s of its 7.2 s patience; live, with its words transcribed in time, too)
        Answer(str(SAMPLES / "double-charge_good_1.wav")),
    ]
    session = tmp_path / "live"
    # A caller that does not react to the voice: heard shouting, the first answer alone ends the call (anger
    # 65 + 12 interrupted + 10 "calm down" + 8 raised voice + 6 raised pitch >= hang_up_at 95), and whether the
    # early reaction has the tone measured yet depends on timing. This test is about the live turn loop through
    # real devices over two turns; the caller's reaction to the voice is tested in test_caller.py.
    deaf = tmp_path / "deaf-caller.toml"
    deaf.write_text("[caller]\nraised_voice_up = 0\nraised_pitch_up = 0\nrushed_pace_up = 0\n")
    proc = _live_call(virtual_audio, session, answers, config=deaf)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = load_session(session)
    assert rec.status == "completed" and rec.mode == "live"
    assert [t.index for t in rec.turns] == [1, 2], [t.facts["reaction"] for t in rec.turns]
    t1, t2 = (t.facts for t in rec.turns)
    # what each answer says, within a stated Whisper tolerance. Turn 1 is spoken over the caller on purpose (double
    # talk: "calm down" came back as "compound" once, 2 of its 12 words): 25 %. Turn 2 through the virtual devices:
    # tiny.en with the record's settings missed 1-3 of its 24 words in 11 recordings at load 5-7 ("overdrawn" is
    # always "overgrown"; "ninety", "a", "now"), so 20 % (4 words) leaves one word of margin. The record decoded
    # with the live beam (1) instead, a bug this test found, missed 5-7.
    for t, wav, tol in ((t1, "double-charge_poor_1.wav", 0.25), (t2, "double-charge_good_1.wav", 0.20)):
        want = norm_words(next(a["text"] for a in MANIFEST if a["file"] == wav))
        got = set(norm_words(t["transcript"]["text"]))
        missing = [w for w in want if w not in got]
        assert len(missing) <= allowed_errors(want, tol), (wav, missing, t["transcript"]["text"])
    # and the record holds the whole answer as file mode hears it: the same words as a file-mode decode of the
    # turn's recorded microphone track (two decodings of the same speech: textnorm.TOLERANCE)
    mic, _sr = sf.read(str(session / rec.turns[1].wav), dtype="float32")
    again = Transcriber(TranscribeConfig()).transcribe(np.ascontiguousarray(mic[:, 1]))
    assert word_errors(norm_words(again.text), norm_words(t2["transcript"]["text"])) <= allowed_errors(
        norm_words(again.text)), (again.text, t2["transcript"]["text"])
    # the record's words are the answer decoded whole with file mode's settings (the reply's own quick decode
    # used a short window and a faster beam)
    for t in (t1, t2):
        assert t["transcript"]["decoding"] == {"beam_size": TranscribeConfig().beam_size, "window_s": 30.0,
                                               "temperature_fallback": True, "pieces": 1}, t["reaction"]["basis"]
    # the interruption placed on purpose: caught live (barge-in) and by the turn analysis
    assert t1["answer"]["barge_in_s"] is not None and 0.5 < t1["answer"]["barge_in_s"] < 4.0
    assert len(t1["turns"]["interruptions"]) == 1
    assert t2["turns"]["interruptions"] == []
    for t in rec.turns:
        info = sf.info(str(session / t.wav))
        assert info.channels == 2 and info.samplerate == 16000
        assert json.loads((session / f"{t.name}.json").read_text())["index"] == t.index
    assert rec.scores["overall"] is not None
    # each reply's latency is in the record of the turn it opens, split into where the time went
    extra = t2["answer"]["extra"]
    parts = extra["reply_parts_s"]
    assert extra["reply_latency_s"] >= parts["end_silence"] > 0.5  # the end-of-turn silence is part of it
    assert {"held_for_analysis", "between_turns", "to_first_sound"} <= set(parts)
    # which analysis the caller's reaction used is recorded; an early one names what it covered, and the turn's
    # own observation (the complete analysis) is kept beside it
    for t in (t1, t2):
        basis = t["reaction"]["basis"]
        assert basis["analysis"] in ("complete", "early")
        if basis["analysis"] == "early":
            assert 0 < basis["tone_until_s"] <= basis["words_until_s"] and set(basis["observation"]) == set(
                t["observation"])
    assert isinstance(extra["xruns"], int) and (session / "audio.log").exists()  # native messages went here


def test_no_microphone_is_one_line_error(no_audio_env, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "voice_trainer", "practice", "--scenario", "double-charge",
         "--session-dir", str(tmp_path / "s")],
        env=no_audio_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("ALSA lib")]
    assert len(lines) == 1, proc.stderr
    assert "voice-trainer devices" in lines[0] and "demo" in lines[0] and "--answers" in lines[0]
    assert "Traceback" not in proc.stderr


def _mic_module(va) -> str:
    mods = va.pactl("list", "short", "modules").stdout.splitlines()
    return next(m.split()[0] for m in mods if "sink_name=mic_feed" in m)


def test_unloaded_microphone_ends_the_call_as_device_lost(virtual_audio, tmp_path):
    # the microphone's module is unloaded mid-answer (turn 2): PulseAudio moves the recording to the caller's own
    # output monitor; the call must end as device_lost within DEVICE_LOST_WITHIN_S, turn 1 kept
    session = tmp_path / "lost"
    answers = [Answer(str(SAMPLES / "double-charge_poor_1.wav")), Answer(str(SAMPLES / "double-charge_good_2.wav")),
               Answer(str(SAMPLES / "double-charge_good_3.wav"))]
    env = _live_env(virtual_audio)
    trainee = VirtualTrainee(env, answers).start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "voice_trainer", "practice", "--scenario", "double-charge", "--max-turns", "3",
         "--seed", "3", "--session-dir", str(session), "--baseline", str(SAMPLES / "baseline_calm.wav")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    unloaded = ended = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            starts = [t for name, t in trainee.log if name == "answer_start"]
            if unloaded is None and len(starts) >= 2 and time.monotonic() >= starts[1] + 2.0:
                virtual_audio.pactl("unload-module", _mic_module(virtual_audio))
                unloaded = time.monotonic()
            if unloaded is not None and (session / "session.json").exists():
                with contextlib.suppress(ValueError, OSError):
                    if json.loads((session / "session.json").read_text())["status"] != "in_progress":
                        ended = time.monotonic()
                        break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=60)
    finally:
        trainee.stop()
        if proc.poll() is None:
            proc.kill()
        if not any("sink_name=mic_feed" in m for m in virtual_audio.pactl("list", "short", "modules").stdout
                   .splitlines()):
            virtual_audio.pactl("load-module", "module-null-sink", "sink_name=mic_feed")
    assert unloaded is not None, f"turn 2 never started: {err[-2000:]}"
    assert proc.returncode == 1, err[-2000:]
    rec = load_session(session)
    assert rec.status == "device_lost" and "microphone" in (rec.error or "")
    assert [t.index for t in rec.turns] == [1]  # the finished turn is kept; the cut answer is not scored
    assert ended is not None and ended - unloaded <= DEVICE_LOST_WITHIN_S, ended and ended - unloaded
    said = [ln for ln in out.splitlines() if "stopped working" in ln]
    assert len(said) == 1 and "Finished turns are saved" in said[0], out
    # nothing from the native audio libraries reached the terminal during the call
    assert not [ln for ln in (out + err).splitlines() if "ALSA lib" in ln or "underrun" in ln.lower()], err
    assert "Traceback" not in err


def _espeak(tmp_path: Path, text: str, name: str):
    import soxr

    path = tmp_path / name
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True, capture_output=True)
    x, rate = sf.read(str(path), dtype="float32")
    return soxr.resample(x, rate, 16000).astype(np.float32)


PAUSE_S = 1.0  # the pause: the trainee stops for about 1 s, then goes on


def test_words_after_a_pause_are_kept(virtual_audio, tmp_path):
    before = "I can see the charge went through twice on your card."
    after = "Let me refund the second payment for you today."
    a, b = _espeak(tmp_path, before, "a.wav"), _espeak(tmp_path, after, "b.wav")
    wav = tmp_path / "paused.wav"
    sf.write(str(wav), np.concatenate([a, np.zeros(int(PAUSE_S * 16000), np.float32), b]), 16000)
    session = tmp_path / "pause"
    proc = _live_call(virtual_audio, session, [Answer(str(wav)), Answer(str(SAMPLES / "double-charge_good_2.wav"))])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = load_session(session)
    t1 = rec.turns[0].facts
    # the words after the pause are not dropped: they are in the first answer (held open while it was analysed)
    # or, when the analysis was done sooner, in turn 2, where the caller waited for them or yielded to them
    heard = norm_words(t1["transcript"]["text"])
    later: list[str] = []
    if len(rec.turns) > 1:
        t2 = rec.turns[1].facts
        later = norm_words(t2["transcript"]["text"])
        if set(norm_words(after)) & set(later) and t2["answer"]["barge_in_s"] is not None:
            assert not t2["caller"]["pushed_on"]  # the caller yielded to the trainee going on
            # and the trainee going on with the answer is not scored as cutting in on the caller
            assert t2["turns"]["interruptions"] == [] and not t2["observation"]["interrupted"]
            assert t2["turns"]["resumed_answers"] or t2["turns"]["simultaneous_starts"]
    want = norm_words(after)
    missing = [w for w in want if w not in set(heard) | set(later)]
    assert len(missing) <= allowed_errors(want, TOLERANCE), (missing, t1["transcript"]["text"], later)
    assert t1["turns"]["interruptions"] == []


def test_the_caller_cuts_in_on_a_long_answer(virtual_audio, tmp_path):
    # two short answers that never acknowledge the caller, spoken as one long answer with a breath between
    a, _ = sf.read(str(SAMPLES / "late-package_poor_1.wav"), dtype="float32")
    b, rate = sf.read(str(SAMPLES / "late-package_poor_2.wav"), dtype="float32")
    long = tmp_path / "long.wav"
    sf.write(str(long), np.concatenate([a, np.zeros(int(0.4 * rate), np.float32), b]), rate)
    conf = tmp_path / "impatient.toml"
    conf.write_text("[caller]\ncut_in_after_s = [3.0, 3.0, 3.0]\n")  # shorter than the long answer
    session = tmp_path / "cut"
    proc = _live_call(virtual_audio, session, [Answer(str(long)), Answer(str(SAMPLES / "late-package_good_2.wav"))],
                      scenario="late-package", config=conf)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = load_session(session)
    t1 = rec.turns[0].facts
    assert t1["answer"]["end_reason"] == "caller_cut_in"  # the answer was cut while the trainee still talked
    cut = t1["reaction"]["caller_cut_in"]
    assert cut is not None and cut["limit_s"] == 3.0
    assert t1["reaction"]["reply"]["stage"] == "interrupt"
    if len(rec.turns) > 1:  # the interrupting line was played to the trainee
        assert rec.turns[1].facts["caller"]["line"]["stage"] == "interrupt"
