"""`voice-trainer report` / `note` / `progress` on a session made by the real call loop in file mode (espeak-ng
answers, real Whisper, real analyses), on a reviewed call, and on bad input."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from report_session import make_session, transcriber
from rich.console import Console
from speech import needs_espeak

from voice_trainer.config import Config
from voice_trainer.errors import UserError
from voice_trainer.report import add_note, load_notes, print_scorecard, session_summary, write_html
from voice_trainer.report.curves import envelope, turn_curves
from voice_trainer.report.feedback import turn_feedback
from voice_trainer.report.progress import csv_text, progress_rows, trend
from voice_trainer.report.record import load_record

pytestmark = [needs_espeak, pytest.mark.slow]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    return make_session(tmp_path_factory.mktemp("report"))


def copy_session(session: Path, dest: Path) -> Path:
    shutil.copytree(session, dest)
    (dest / "notes.json").unlink(missing_ok=True)
    return dest


def turn_json(session: Path, n: int) -> dict:
    return json.loads((session / f"turn_{n:02d}.json").read_text())


# ---------------------------------------------------------------------------------------------------------------
# summary (report --json)
# ---------------------------------------------------------------------------------------------------------------


def test_summary_has_the_sessions_scores_and_evidence(session):
    s = session_summary(session, Config())
    saved = json.loads((session / "session.json").read_text())["scores"]
    assert s["scores"] == {k: saved[k] for k in ("overall", "calmness", "listening", "turn_taking", "outcome_score")}
    assert s["scores_source"] == "scorecard"
    assert [t["index"] for t in s["turns"]] == [1, 2, 3]
    assert s["model_files"][0]["model"] == "whisper-tiny.en" and s["model_files"][0]["verified"]
    assert all(turn_json(session, n)["model_files"] == s["model_files"] for n in (1, 2, 3))
    assert len(s["anger"]["trajectory"]) == 4  # start + after each turn
    t1, t2, t3 = (turn_json(session, n) for n in (1, 2, 3))
    assert s["anger"]["end"] == pytest.approx(t3["reaction"]["anger_after"], abs=0.01)

    # turn 2: the policy line is a red flag with its quote, time and technique; the barge-in an interruption
    change2 = s["turns"][1]["to_change"]
    flag = t2["listening"]["red_flags"][0]
    item = next(i for i in change2 if i["quote"] == flag["text"])
    assert item["start"] == pytest.approx(flag["start"]) and item["technique"] == flag["technique"] == 5
    assert item["technique_name"] and item["tip"]
    intr = t2["turns"]["interruptions"]
    assert intr, "the answer started 1.5 s before the caller finished"
    it = next(i for i in change2 if i["technique"] == 1)
    assert it["start"] == pytest.approx(intr[0]["start"]) and it["number"] == f"{intr[0]['overlap_s']:.1f} s of overlap"

    # turn 3: the 3.6 s wait is dead air, with its duration
    dead = t3["turns"]["dead_air"][0]
    # (the composer may show more urgent points first; the candidate carries the evidence)
    _good3, change3 = turn_feedback(load_record(session).turns[2], Config().report, limit=100)
    d_item = next(i.to_dict() for i in change3 if i.what.startswith("Dead air"))
    assert d_item["start"] == pytest.approx(dead["start"])
    assert d_item["number"] == f"{dead['duration_s']:.1f} s of silence"
    assert 3.0 <= dead["duration_s"] <= 4.5
    # ...and its choices/thanks are listed as done well, quoted with times
    good3 = s["turns"][2]["went_well"]
    for d in t3["listening"]["techniques"]:
        if d["id"] in ("choices", "thanks"):
            assert any(g["quote"] == d["text"] and g["start"] == pytest.approx(d["start"]) for g in good3)
    # turn 1 set the calm baseline (no voice profile was given)
    good1, _ = turn_feedback(load_record(session).turns[0], Config().report, limit=100)
    assert any("baseline" in g.what and "Hz" in g.number for g in good1)
    assert t1["tone"]["baseline"]["kind"] == "session"
    assert s["turns"][0]["scores"]["calmness"] is None  # not judged against itself


def test_report_json_cli_prints_the_same_summary(session):
    proc = run_cli("report", str(session), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    got = json.loads(lines[0])
    want = json.loads(json.dumps(session_summary(session, Config())))
    assert got == want


# ---------------------------------------------------------------------------------------------------------------
# terminal scorecard
# ---------------------------------------------------------------------------------------------------------------


def test_terminal_scorecard_shows_scores_quotes_times_and_notes(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    add_note(s, 2, "Policy line again: practise the 'what I can do' phrasing.", "Ana")
    add_note(s, None, "Good recovery by the end.")
    console = Console(record=True, width=220, color_system=None)
    print_scorecard(s, console)
    text = console.export_text()
    saved = json.loads((s / "session.json").read_text())["scores"]
    for k in ("overall", "calmness", "listening", "turn_taking"):
        assert f"{saved[k]:.0f}" in text
    flag = turn_json(s, 2)["listening"]["red_flags"][0]
    assert f'at {flag["start"]:.1f} s "{flag["text"]}"' in text
    assert "T5 Stay non-defensive" in text and "T1 Let the caller vent" in text
    assert "Trainer note (Ana): Policy line again" in text
    assert "Trainer note: Good recovery by the end." in text
    assert text.index("Turn 2") < text.index("Policy line again") < text.index("Turn 3")


# ---------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------


def _section(html: str, n: int) -> str:
    a = html.index(f'<section class="turn" id="turn-{n}">')
    return html[a: html.index("</section>", a)]


def test_html_has_players_plots_timestamps_and_notes(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    add_note(s, 3, "Answer sooner here.")
    out = write_html(s, tmp_path / "out" / "report.html")
    html = out.read_text()
    # one embedded stereo player per turn, holding exactly the turn's WAV
    srcs = re.findall(r'<audio id="audio-(\d)" controls preload="metadata" src="data:audio/wav;base64,([^"]+)"', html)
    assert [n for n, _ in srcs] == ["1", "2", "3"]
    for n, b64 in srcs:
        assert base64.b64decode(b64) == (s / f"turn_{int(n):02d}.wav").read_bytes()
    data, sr = sf.read(io.BytesIO(base64.b64decode(srcs[0][1])))
    assert sr == 16_000 and data.shape[1] == 2
    assert html.count('<svg class="turnplot"') == 3
    assert 'class="chart anger"' in html
    # scores
    saved = json.loads((s / "session.json").read_text())["scores"]
    for k in ("overall", "calmness", "listening", "turn_taking"):
        assert re.search(rf'id="score-{k}">[^<]*<b class="\w+">{saved[k]:.0f}</b>', html), k
    # every recognised word of turn 2 seeks audio-2 at its start time
    sec2 = _section(html, 2)
    words = turn_json(s, 2)["transcript"]["words"]
    times = [float(t) for t in re.findall(r'class="w[^"]*"[^>]*data-t="([\d.]+)"[^>]*data-audio="audio-2"', sec2)]
    assert len(times) >= len(words) - 1
    assert all(any(abs(t - w["start"]) < 1e-3 for w in words) for t in times)
    # the red flag is highlighted; the interruption and (turn 3) the dead air are marked on the plot
    flag = turn_json(s, 2)["listening"]["red_flags"][0]
    assert re.search(r'<span class="w flag"[^>]*>', sec2)
    assert flag["text"].split()[-1].strip(".,") in sec2
    assert '<rect x=' in sec2 and 'class="intr"' in sec2
    assert 'class="dead"' in _section(html, 3)
    assert "band" in sec2 and 'class="pitch"' in sec2 and 'class="level"' in sec2
    assert "Answer sooner here." in _section(html, 3)
    # offline: nothing fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_html_links_audio_relatively_when_asked(session, tmp_path):
    out = write_html(session, tmp_path / "r.html", embed_audio=False)
    html = out.read_text()
    srcs = re.findall(r'<audio id="audio-\d" controls preload="metadata" src="([^"]+)"', html)
    assert len(srcs) == 3 and not any(x.startswith("data:") for x in srcs)
    assert all((tmp_path / x).resolve().exists() for x in srcs)


def test_script_in_a_transcript_renders_as_text(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    evil = "<script>alert(1)</script>"
    t = turn_json(s, 1)
    t["transcript"]["text"] = f"{evil} I am sorry"
    t["transcript"]["words"][0]["word"] = evil
    t["listening"]["techniques"].append(
        {"id": "acknowledge", "technique": 2, "label": evil, "text": evil, "start": 0.1, "end": 0.5,
         "char_start": 0, "char_end": len(evil), "confidence": 1.0})
    (s / "turn_01.json").write_text(json.dumps(t))
    sj = json.loads((s / "session.json").read_text())
    sj["scenario"]["title"] = '<img src=x onerror="alert(2)">'
    sj["scenario"]["summary"] = "</script><script>alert(3)</script>"
    (s / "session.json").write_text(json.dumps(sj))
    add_note(s, 1, "<b onclick=alert(4)>x</b>")
    html = write_html(s, tmp_path / "r.html").read_text()
    assert html.count("<script>") == 1  # only the report's own script
    assert "<script>alert" not in html and "<img src=x" not in html and "<b onclick" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(html, 1)
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert "&lt;b onclick=alert(4)&gt;x&lt;/b&gt;" in html
    # the terminal and JSON reports keep the text as it was said
    assert session_summary(s)["turns"][0]["transcript"].startswith(evil)


# ---------------------------------------------------------------------------------------------------------------
# notes
# ---------------------------------------------------------------------------------------------------------------


def test_notes_are_stored_atomically_and_validated(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    proc = run_cli("note", str(s), "2", "Slow down after the policy line")
    assert proc.returncode == 0, proc.stderr
    assert run_cli("note", str(s), "-", "Whole call: good close").returncode == 0
    notes = load_notes(s)
    assert [(n["turn"], n["text"]) for n in notes] == [(2, "Slow down after the policy line"),
                                                         (None, "Whole call: good close")]
    assert json.loads((s / "notes.json").read_text())["schema_version"] == 1
    assert not [p for p in s.iterdir() if ".tmp" in p.name]
    summ = session_summary(s)
    assert summ["notes"][0]["text"] == "Whole call: good close"
    assert summ["turns"][1]["notes"][0]["text"] == "Slow down after the policy line"
    for args, msg in (((s, "9", "x"), "has no turn 9"), ((s, "two", "x"), "turn must be a number"),
                      ((s, "1", "   "), "empty")):
        proc = run_cli("note", *map(str, args))
        assert proc.returncode == 2 and msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with pytest.raises(UserError, match="has no turn 4"):
        add_note(s, 4, "x")
    (s / "notes.json").write_text("{broken")
    summ = session_summary(s)  # a corrupted notes file is a warning: the report still renders, without the notes
    assert summ["notes"] == [] and any("corrupted notes file" in w for w in summ["warnings"])
    with pytest.raises(UserError, match="corrupted notes file"):  # and is never overwritten by a new note
        add_note(s, 1, "x")


# ---------------------------------------------------------------------------------------------------------------
# bad input and damaged sessions
# ---------------------------------------------------------------------------------------------------------------


def test_bad_input_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "session.json").write_text('{"status": "compl')
    other = tmp_path / "x.json"
    other.write_text('{"hello": 1}')
    for target, msg in ((empty, "not a session folder"), (bad, "corrupted session file"),
                        (tmp_path / "missing", "no such session folder"), (other, "not a 'review --json' result")):
        proc = run_cli("report", str(target))
        assert proc.returncode == 2, proc.stderr
        assert msg in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr


def test_killed_session_is_reported_from_its_turn_files(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    (s / "session.json").unlink()
    (s / "turn_03.json").unlink()
    summ = session_summary(s)
    assert [t["index"] for t in summ["turns"]] == [1, 2]
    assert summ["scores_source"] == "turns"
    t1, t2 = (turn_json(s, n)["listening"]["score"] for n in (1, 2))
    assert summ["scores"]["listening"] == pytest.approx((t1 + t2) / 2, abs=0.06)
    assert any("session.json missing" in r for r in summ["recovered"])
    assert write_html(s, tmp_path / "r.html").read_text().count("<audio ") == 2


# ---------------------------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------------------------


def test_progress_orders_sessions_and_writes_csv_and_html(session, tmp_path):
    root = tmp_path / "trainee"
    dates = {"b_later": ("2031-05-02T10:00:00+00:00", 80.0), "a_earlier": ("2031-05-01T10:00:00+00:00", 40.0)}
    for name, (when, listening) in dates.items():
        d = copy_session(session, root / name)
        sj = json.loads((d / "session.json").read_text())
        sj["started_at"] = when
        sj["scores"]["listening"] = listening
        (d / "session.json").write_text(json.dumps(sj))
    rows, skipped = progress_rows(root)
    assert skipped == []
    assert [r["created_at"] for r in rows] == sorted(d for d, _ in dates.values())
    assert [Path(r["path"]).name for r in rows] == ["b_later", "a_earlier"][::-1]
    assert [r["listening"] for r in rows] == [40.0, 80.0]
    tr = trend(rows)
    assert tr["listening"]["change"] == 40.0 and tr["listening"]["slope_per_session"] == 40.0
    parsed = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert [float(r["listening"]) for r in parsed] == [40.0, 80.0]
    proc = run_cli("progress", str(root), "--csv", str(tmp_path / "p.csv"), "--html", str(tmp_path / "p.html"))
    assert proc.returncode == 0, proc.stderr
    assert "40 -> 80 (+40" in proc.stdout
    assert (tmp_path / "p.csv").read_text() == csv_text(rows)
    page = (tmp_path / "p.html").read_text()
    assert page.count('class="line s') == 4 and "<script" not in page
    proc = run_cli("progress", str(tmp_path / "nothing-here"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr


# ---------------------------------------------------------------------------------------------------------------
# a reviewed call (review --json saved to a file)
# ---------------------------------------------------------------------------------------------------------------


def test_report_of_a_review_result(tmp_path):
    from callsynth import SR, angry_call

    from voice_trainer.review import review_file

    call = angry_call(tmp_path)
    wav = tmp_path / "call.wav"
    sf.write(str(wav), call.stereo("left"), SR)
    review = review_file(wav, Config(), transcriber()).to_dict()
    rj = tmp_path / "call.review.json"
    rj.write_text(json.dumps(review))
    summ = session_summary(rj)
    assert summ["kind"] == "call_review"
    assert summ["model_files"] == review["model_files"] and review["model_files"][0]["model"] == "whisper-tiny.en"
    n_agent = sum(1 for t in review["turns"]["turns"] if t["speaker"] == "agent")
    assert len(summ["turns"]) == n_agent >= 2
    assert summ["scores"]["turn_taking"] == review["turn_taking_score"]["score"]
    # the synthesized call's interruptions appear as things to change, at their times
    starts = [i["start"] for t in summ["turns"] for i in t["to_change"] if i["technique"] == 1 and i["start"]]
    for want in call.interruption_onsets:
        assert any(abs(s - want) <= 0.15 for s in starts), (starts, call.interruption_onsets)
    html = write_html(rj, tmp_path / "call.html").read_text()
    assert html.count("<audio ") == 1 and 'id="audio-call"' in html
    assert f"models: whisper-tiny.en model.bin {review['model_files'][0]['sha256']}" in html
    assert html.count('<svg class="turnplot"') == n_agent
    assert 'data-audio="audio-call"' in html
    add_note(rj, 1, "check the opening")
    assert (tmp_path / "call.review.json.notes.json").exists()
    console = Console(record=True, width=200, color_system=None)
    print_scorecard(rj, console)
    assert "check the opening" in console.export_text()


# ---------------------------------------------------------------------------------------------------------------
# curves (pure, synthetic signals with known answers)
# ---------------------------------------------------------------------------------------------------------------


def test_curves_follow_a_known_voice():
    sr = 16_000
    t = np.arange(int(2.0 * sr)) / sr
    voice = sum(0.3 / k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 6)).astype(np.float32)
    agent = np.concatenate([np.zeros(sr, np.float32), voice])  # 1 s silence, then 2 s of a 150 Hz voice
    caller = np.concatenate([voice, np.zeros(sr, np.float32)])
    c = turn_curves(caller, agent, sr, Config())
    assert c.duration_s == pytest.approx(3.0)
    voiced = [f for tt, f in c.pitch if f is not None and 1.2 < tt < 2.8]
    assert len(voiced) > 50 and np.median(voiced) == pytest.approx(150, rel=0.03)
    assert all(f is None for tt, f in c.pitch if tt < 0.9)
    rms_db = 20 * np.log10(np.sqrt(np.mean(voice**2)))
    lv = [v for tt, v in c.level if v is not None and 1.3 < tt < 2.7]
    assert np.median(lv) == pytest.approx(rms_db, abs=1.5)
    assert all(v is None for tt, v in c.level if tt < 0.9)
    # envelopes: the caller talks first, the trainee after
    half = len(c.env_t) // 3
    assert max(c.caller_env[:half]) > 0.3 and max(c.agent_env[:half]) == 0.0
    assert envelope(np.array([0.0, -0.5, 0.25, 0.1], np.float32), 2).tolist() == [0.5, 0.25]


def test_corrupted_notes_are_a_warning_and_the_report_still_renders(session, tmp_path):
    s = copy_session(session, tmp_path / "s")
    (s / "notes.json").write_text('{"schema_version": 1, "notes": [{"turn": 1, "te')  # torn write
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "report", str(s)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    warn = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warn) == 1 and "warning" in warn[0] and "notes.json" in warn[0], proc.stderr
    assert "Overall" in proc.stdout or "overall" in proc.stdout.lower()
    summ = subprocess.run([sys.executable, "-m", "voice_trainer", "report", str(s), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert summ.returncode == 0 and any("notes.json" in w for w in json.loads(summ.stdout)["warnings"])
    # adding a note refuses rather than overwrite the notes it could not read
    added = subprocess.run([sys.executable, "-m", "voice_trainer", "note", str(s), "1", "hello"], capture_output=True,
                           text=True, timeout=120)
    assert added.returncode == 2 and "corrupted notes file" in added.stderr
    assert (s / "notes.json").read_text().endswith('"te')


@pytest.mark.parametrize("data", [
    {"kind": "call_review", "turns": "oops"},
    {"kind": "call_review", "turns": {"turns": [{"speaker": "agent", "start": "abc", "end": 1}]}},
    {"kind": "call_review", "agent": [1, 2], "turns": {"turns": [{"speaker": "agent", "start": 0, "end": 1}]}},
])
def test_report_on_a_malformed_review_result_is_one_line(tmp_path, data):
    bad = tmp_path / "review.json"
    bad.write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "report", str(bad)], capture_output=True,
                          text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert str(bad) in lines[0] and "review" in lines[0] and "internal error" not in lines[0]
