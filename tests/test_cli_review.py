"""`voice-trainer review` end to end on a synthesized stereo call, and its bad-input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from callsynth import SR, angry_call
from speech import needs_espeak

pytestmark = [needs_espeak, pytest.mark.slow]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True, env=dict(os.environ),
        timeout=300,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("review")
    call = angry_call(d)
    left = d / "caller_left.wav"
    right = d / "caller_right.wav"
    mono = d / "mono.wav"
    sf.write(str(left), call.stereo("left"), SR)
    sf.write(str(right), call.stereo("right"), SR)
    sf.write(str(mono), call.caller + call.agent, SR)
    return call, left, right, mono


@pytest.mark.whisper
def test_json_on_one_line_with_the_turns(files):
    call, left, _, _ = files
    proc = run_cli("review", str(left), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    t = d["turns"]
    assert len(t["interruptions"]) == 2
    for got, want in zip(t["interruptions"], call.interruption_onsets, strict=True):
        assert abs(got["start"] - want) <= 0.15
        assert set(got) >= {"start", "end", "words", "text"}
    assert t["caller_interruptions"] == []
    assert len(t["dead_air"]) == 1
    assert t["response_latencies"] and 0 < t["talk_share"]["agent"] < 1
    assert d["caller"]["channel"] == "left" and d["agent"]["channel"] == "right"
    assert "refund" in d["caller"]["transcript"].lower() and "refund" in d["agent"]["transcript"].lower()
    assert d["turn_taking_score"]["components"]


@pytest.mark.whisper
def test_caller_on_the_right(files):
    call, _, right, _ = files
    proc = run_cli("review", str(right), "--caller-channel", "right", "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert [round(i["start"]) for i in d["turns"]["interruptions"]] == [round(x) for x in call.interruption_onsets]
    assert d["caller"]["channel"] == "right"


@pytest.mark.whisper
def test_text_report(files):
    _, left, _, _ = files
    proc = run_cli("review", str(left))
    assert proc.returncode == 0, proc.stderr
    assert "agent interruptions: 2" in proc.stdout
    assert "dead air: 1" in proc.stdout


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0]


def test_mono_file_is_a_one_line_error(files):
    *_, mono = files
    assert_one_line_error(run_cli("review", str(mono)), "mono", "stereo")


def test_missing_file_and_bad_channel(tmp_path):
    assert_one_line_error(run_cli("review", str(tmp_path / "nope.wav")), "no such file")
    bad = tmp_path / "x.wav"
    sf.write(str(bad), np.zeros((SR, 2), np.float32), SR)
    proc = run_cli("review", str(bad), "--caller-channel", "middle")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
