"""Live practice end to end through real PortAudio devices on a private PulseAudio daemon.

The caller plays into the ``caller_out`` null sink; a virtual trainee listens to its monitor and plays canned
answers into ``mic_feed``, whose monitor is the default microphone. Turn 1 is played on purpose while the
caller still speaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from virtual_trainee import Answer, VirtualTrainee

from voice_trainer.store import load_session

pytestmark = pytest.mark.devices
SAMPLES = Path(__file__).resolve().parent.parent / "audio_samples"


def test_live_call_through_virtual_devices(virtual_audio, tmp_path):
    answers = [
        Answer(str(SAMPLES / "double-charge_poor_1.wav"), barge_in_after_s=1.2),  # talks over the caller
        Answer(str(SAMPLES / "double-charge_good_2.wav")),
    ]
    session = tmp_path / "live"
    env = {**virtual_audio.env, "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))}
    trainee = VirtualTrainee(env, answers).start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "voice_trainer", "practice", "--scenario", "double-charge", "--max-turns", "2",
             "--seed", "3", "--session-dir", str(session), "--baseline", str(SAMPLES / "baseline_calm.wav")],
            env=env, capture_output=True, text=True, timeout=240,
        )
    finally:
        trainee.stop()
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = load_session(session)
    assert rec.status == "completed" and rec.mode == "live"
    assert [t.index for t in rec.turns] == [1, 2]
    t1, t2 = (t.facts for t in rec.turns)
    said1 = t1["transcript"]["text"].lower()
    assert "system" in said1 and "mistakes" in said1
    assert "refund" in t2["transcript"]["text"].lower()
    # the interruption placed on purpose: caught live (barge-in) and by the turn analysis
    assert t1["answer"]["barge_in_s"] is not None and 0.5 < t1["answer"]["barge_in_s"] < 4.0
    assert len(t1["turns"]["interruptions"]) == 1
    assert t2["turns"]["interruptions"] == []
    for t in rec.turns:
        info = sf.info(str(session / t.wav))
        assert info.channels == 2 and info.samplerate == 16000
        assert json.loads((session / f"{t.name}.json").read_text())["index"] == t.index
    assert rec.scores["overall"] is not None


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
