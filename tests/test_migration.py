"""Session folders written before the turn schema 2 are migrated on read: the reports see the same facts.

``data/session_v1`` holds the JSON of a real ``voice-trainer run`` session written by the previous code (turn
schema 1: facts at the top level and again under ``analysis``, every turn copied into ``session.json``). Its WAVs
are left out to keep the repository small; the test writes silent ones of the recorded lengths.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from voice_trainer.report.record import load_record
from voice_trainer.store import SCHEMA_VERSION, TURN_SCHEMA, TurnRecord, load_session, migrate_turn, write_turn_wav

V1 = Path(__file__).parent / "data" / "session_v1"
SR = 16_000


def v1_folder(tmp_path: Path) -> Path:
    d = tmp_path / "v1"
    shutil.copytree(V1, d)
    for f in sorted(d.glob("turn_*.json")):
        old = json.loads(f.read_text())
        n = int(round(old["duration_s"] * SR))
        write_turn_wav(d / old["wav"], np.zeros(n, np.float32), np.zeros(n, np.float32), SR)
    return d


def test_the_fixture_is_schema_1():
    old = json.loads((V1 / "turn_01.json").read_text())
    assert "schema_version" not in old and "analysis" in old and old["analysis"]["scores"]
    assert isinstance(json.loads((V1 / "session.json").read_text())["turns"][0]["analysis"], dict)


def test_old_turns_read_as_the_new_schema(tmp_path):
    d = v1_folder(tmp_path)
    rec = load_session(d)
    assert [t.index for t in rec.turns] == [1, 2, 3] and not rec.recovered
    for t in rec.turns:
        old = json.loads((d / f"{t.name}.json").read_text())
        assert "analysis" not in t.facts and "scores" not in t.facts
        assert t.caller_text == old["caller_text"] and t.trainee_text == old["trainee_text"]
        assert t.words == old["words"] and t.nudges == old["nudges"]
        assert (t.anger_before, t.anger_after, t.barge_in_s) == (old["anger_before"], old["anger_after"],
                                                                 old["barge_in_s"])
        assert t.facts["tone"] == old["analysis"]["tone"] and t.facts["listening"] == old["analysis"]["listening"]
        assert t.facts["reaction"]["changes"] == old["analysis"]["anger_changes"]
        assert t.facts["answer"]["source"] == old["source"] and t.facts["answer"]["end_reason"] == "file"
        # written back, the record is schema 2 and reads back to the same facts
        again = TurnRecord.from_dict(json.loads(json.dumps(t.to_dict())))
        assert t.to_dict()["schema_version"] == TURN_SCHEMA and again.facts == t.facts


def test_reports_show_the_same_scores_from_an_old_session(tmp_path):
    rec = load_record(v1_folder(tmp_path))
    assert rec.scores["overall"] == 86.4 and rec.scores_source == "scorecard"
    assert [t.scores for t in rec.turns] == [
        {"calmness": 100.0, "listening": 68.2, "turn_taking": 100.0},
        {"calmness": 82.6, "listening": 30.0, "turn_taking": 100.0},
        {"calmness": 100.0, "listening": 46.4, "turn_taking": 100.0},
    ]
    assert [t.anger_after for t in rec.turns] == [46.485, 57.182, 43.098] and rec.start_anger == 65.0
    assert rec.turns[1].barge_in_s == 2.059 and rec.turns[1].nudges[0].startswith("Avoid:")
    assert rec.turns[0].reply and rec.turns[0].anger_changes[0]["reason"] == "technique:acknowledge"


def test_a_turn_with_only_top_level_facts_migrates():
    new = migrate_turn({"index": 4, "trainee_text": "one", "anger_after": 12.0, "source": "a.wav"})
    assert new["transcript"] == {"text": "one", "words": []} and new["reaction"]["anger_after"] == 12.0
    assert new["answer"]["source"] == "a.wav" and new["tone"] is None


def test_session_json_lists_turns_instead_of_copying_them(tmp_path):
    d = v1_folder(tmp_path)
    rec = load_session(d)
    out = rec.to_dict()
    assert out["schema_version"] == SCHEMA_VERSION == 2
    assert out["turns"] == [{"index": i, "wav": f"turn_0{i}.wav", "json": f"turn_0{i}.json"} for i in (1, 2, 3)]
