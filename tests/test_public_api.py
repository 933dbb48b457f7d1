"""The small public API: four names, imported lazily, and the one turn analysis behind every mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "audio_samples"


def test_import_is_cheap_and_the_names_resolve():
    code = ("import sys, voice_trainer as vt; n = len([m for m in sys.modules if m.startswith('voice_trainer')]); "
            "print(n, vt.analyze_turn.__module__, vt.analyze_file.__module__, vt.review_call.__module__, "
            "vt.Session.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "voice_trainer.analysis.core", "voice_trainer.pipeline", "voice_trainer.review",
                   "voice_trainer.call.session"]


@pytest.fixture(scope="module")
def transcriber():
    from voice_trainer.speech.transcribe import Transcriber

    return Transcriber()


@pytest.mark.whisper
@pytest.mark.slow
def test_analyze_turn_on_a_placed_answer(transcriber):
    """File mode's placement and the core: the answer follows a 2 s caller line; nothing overlaps."""
    from voice_trainer import analyze_turn
    from voice_trainer.analysis.core import CallContext
    from voice_trainer.audio.files import load
    from voice_trainer.call.session import place_answer
    from voice_trainer.config import Config

    cfg = Config()
    answer = load(SAMPLES / "double-charge_good_1.wav")
    caller = (0.3 * np.sin(2 * np.pi * 180 * np.arange(32_000) / 16_000)).astype(np.float32)  # 2 s "line"
    ta = place_answer(caller, answer, None, 50.0, cfg)
    res = analyze_turn(ta, CallContext(caller_text="You charged me twice this month."), cfg, transcriber)
    assert "charged" in res.transcript.text.lower() and res.transcript.words[0].start >= 2.0
    assert res.tone is not None and res.listening.score.value is not None
    assert res.turn_taking.value is not None and not res.turns.interruptions
    assert res.echo is not None and not res.echo.detected  # estimated once, nothing to remove


@pytest.mark.whisper
@pytest.mark.slow
def test_session_runs_a_call_and_keeps_it(transcriber, tmp_path):
    from voice_trainer import Session
    from voice_trainer.call.session import FileAnswers
    from voice_trainer.config import Config
    from voice_trainer.store import load_session

    cfg = Config()
    answers = FileAnswers([str(SAMPLES / "double-charge_good_1.wav")], cfg)
    result = Session("double-charge", answers, cfg, transcriber=transcriber, max_turns=1,
                     folder=tmp_path / "s").run()
    assert len(result.turns) == 1 and result.scorecard.overall is not None
    rec = load_session(tmp_path / "s")
    assert rec.status == "completed" and rec.mode == "file" and [t.index for t in rec.turns] == [1]
    assert rec.turns[0].trainee_text == result.turns[0].transcript.text
