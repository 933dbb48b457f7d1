"""The session folder: atomic per-turn writing, and reading back what a killed run left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from voice_trainer.errors import UserError
from voice_trainer.store import (
    SCHEMA_VERSION,
    SessionRecord,
    SessionWriter,
    TurnRecord,
    load_session,
    load_turn_audio,
)

SR = 16_000


def turn_audio(i: int, seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Distinct, reproducible tracks for turn ``i``: a tone for the caller, another for the trainee."""
    t = np.arange(int(seconds * SR)) / SR
    return (
        (0.5 * np.sin(2 * np.pi * (200 + 10 * i) * t)).astype(np.float32),
        (0.3 * np.sin(2 * np.pi * (500 + 10 * i) * t)).astype(np.float32),
    )


def header() -> SessionRecord:
    return SessionRecord(
        scenario={"id": "late-package", "title": "A birthday present two weeks late"},
        settings={"difficulty": 2, "max_turns": 50},
        model="tiny.en",
        mode="file",
        anger_trajectory=[60.0],
    )


def turn(index: int, text: str, *, caller_text: str = "", anger_after: float | None = None,
         barge_in_s: float | None = None, **more) -> TurnRecord:
    """A turn record in the turn schema with only the facts a test needs."""
    facts = {"caller": {"line": {"text": caller_text}}, "answer": {"barge_in_s": barge_in_s},
             "transcript": {"text": text, "words": []}, "reaction": {"anger_after": anger_after}, **more}
    return TurnRecord(index=index, facts=facts)


def test_turns_and_session_round_trip(tmp_path):
    w = SessionWriter(tmp_path / "s", header())
    for i in (1, 2):
        ref, mic = turn_audio(i)
        w.write_turn(
            turn(i, f"answer {i}", caller_text=f"line {i}", anger_after=60.0 - 10 * i,
                 barge_in_s=0.5 if i == 2 else None, tone={"calmness": 70 + i}),
            ref,
            mic,
        )  # fmt: skip
    w.finish("completed", scores={"overall": 81}, outcome="resolved")
    rec = load_session(tmp_path / "s")
    assert rec.status == "completed" and rec.schema_version == SCHEMA_VERSION and not rec.recovered
    assert [t.index for t in rec.turns] == [1, 2] and rec.turns[1].barge_in_s == 0.5
    assert rec.anger_trajectory == [60.0, 50.0, 40.0] and rec.scores == {"overall": 81}
    assert rec.turns[0].facts["tone"] == {"calmness": 71} and rec.turns[0].caller_text == "line 1"
    assert SessionRecord.from_dict(json.loads(json.dumps(rec.to_dict()))).to_dict() == rec.to_dict()
    ref, mic, sr = load_turn_audio(tmp_path / "s", rec.turns[1])
    want_ref, want_mic = turn_audio(2)
    assert sr == SR and np.max(np.abs(ref - want_ref)) < 1e-3 and np.max(np.abs(mic - want_mic)) < 1e-3
    with pytest.raises(UserError, match="already holds a session"):
        SessionWriter(tmp_path / "s", header())


def test_reads_back_a_damaged_folder(tmp_path):
    d = tmp_path / "s"
    w = SessionWriter(d, header())
    w.write_turn(turn(1, "one"), *turn_audio(1))
    w.write_turn(turn(2, "two"), *turn_audio(2))
    (d / "session.json").write_text('{"schema_version": 1, "status": "in_prog')  # torn by hand
    (d / ".turn_03.wav.abc.tmp.wav").write_bytes(b"RIFF")  # a temporary file from a killed writer
    (d / "turn_03.json").write_text(json.dumps({"index": 3, "wav": "turn_03.wav"}))  # JSON without its WAV
    rec = load_session(d)
    assert [t.trainee_text for t in rec.turns] == ["one", "two"]
    assert any("session.json unreadable" in r for r in rec.recovered)
    assert any("tmp" in r for r in rec.recovered) and any("turn_03.json" in r for r in rec.recovered)
    with pytest.raises(UserError):
        load_session(tmp_path / "empty-nothing-here")


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from test_store import header, turn, turn_audio
    from voice_trainer.store import SessionWriter
    w = SessionWriter(sys.argv[1], header())
    i = 0
    while True:
        i += 1
        ref, mic = turn_audio(i, seconds=4.0)
        w.write_turn(turn(i, f"answer {i}", anger_after=float(i)), ref, mic)
        print(i, flush=True)
    """
)


def test_sigkill_mid_session_keeps_every_completed_turn(tmp_path):
    d = tmp_path / "killed"
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(d), tests_dir], stdout=subprocess.PIPE, text=True)
    done = [int(proc.stdout.readline()) for _ in range(3)]  # three turns reported complete...
    proc.send_signal(signal.SIGKILL)  # ...then killed, most likely in the middle of writing another
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    rec = load_session(d)
    # the writer never finished it, and is gone: read back as interrupted (what report and progress show)
    assert rec.status == "interrupted" and any("killed" in r for r in rec.recovered)
    from voice_trainer.report.progress import progress_rows

    assert [r["status"] for r in progress_rows(d)[0]] == ["interrupted"]  # what `progress` lists
    got = [t.index for t in rec.turns]
    assert got[: len(done)] == done and got == list(range(1, len(got) + 1))
    for t in rec.turns:
        ref, mic, _ = load_turn_audio(d, t)
        want_ref, want_mic = turn_audio(t.index, seconds=4.0)
        assert len(ref) == len(want_ref) and np.max(np.abs(ref - want_ref)) < 1e-3
        assert np.max(np.abs(mic - want_mic)) < 1e-3 and t.trainee_text == f"answer {t.index}"
