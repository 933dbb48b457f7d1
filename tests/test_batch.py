"""`voice-trainer batch`: 20 recordings (2 corrupt), per-file equality, resume after a kill, CSV, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from speech import espeak, needs_espeak, tone, write

from voice_trainer.batch import content_hash, discover, read_results, run_batch
from voice_trainer.config import Config
from voice_trainer.pipeline import analyze_file
from voice_trainer.speech.transcribe import Transcriber

pytestmark = needs_espeak

PHRASES = [
    "I can see the order was placed on Monday.",
    "Let me check the tracking number for you.",
    "You were charged twice, I am sorry.",
    "I will send the replacement today.",
    "Thank you for waiting.",
    "Would a refund or a new unit work better?",
]


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    d = tmp_path_factory.mktemp("inbox")
    for i in range(18):
        espeak(PHRASES[i % len(PHRASES)], d / f"rec_{i:02d}.wav", speed=140 + 5 * i)
    (d / "corrupt_text.wav").write_text("not audio at all\n" * 50)
    full = write(d / "_full.tmp.wav", tone(220.0, 2.0, 16000), 16000, subtype="PCM_16")
    (d / "corrupt_truncated.wav").write_bytes(full.read_bytes()[:30000])
    full.unlink()
    return d


def test_discover_finds_the_twenty(inbox):
    assert len(discover([inbox])) == 20


@pytest.mark.whisper
def test_batch_matches_per_file_results_and_records_errors(inbox, tmp_path):
    cfg = Config()
    out = tmp_path / "results.jsonl"
    rows = run_batch([inbox], out, cfg)
    assert len(rows) == 20
    errors = sorted(r["input"] for r in rows if r["status"] == "error")
    assert [os.path.basename(e) for e in errors] == ["corrupt_text.wav", "corrupt_truncated.wav"]
    assert all(r["error"] for r in rows if r["status"] == "error")
    tr = Transcriber(cfg.transcribe)
    for row in rows:
        if row["status"] == "ok":
            assert row["kind"] == "recording"
            assert row["sha256"] == content_hash(row["input"])
            assert row["result"] == json.loads(json.dumps(analyze_file(row["input"], cfg, tr).to_dict()))
    assert run_batch([inbox], out, cfg) == []  # everything already done
    assert len(read_results(out)) == 20


@pytest.mark.whisper
def test_resume_after_kill_recomputes_nothing_done(inbox, tmp_path):
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "voice_trainer", "batch", str(inbox), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(read_results(out)) < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = read_results(out)
    assert 4 <= len(before) < 20
    done = {r["sha256"] for r in before}
    again = subprocess.run([*cmd, "--csv", str(tmp_path / "s.csv")], capture_output=True, text=True, timeout=300)
    assert again.returncode == 1  # two inputs failed
    assert "corrupt_text.wav" in again.stderr and "corrupt_truncated.wav" in again.stderr
    after = read_results(out)
    assert len(after) == 20
    assert len({r["sha256"] for r in after}) == 20
    assert not done & {r["sha256"] for r in after[len(before):]}
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0].startswith("input,kind,status") and len(lines) == 21
    assert "models" in lines[0].split(",") and sum("whisper-tiny.en model.bin" in line for line in lines) == 18


@pytest.mark.whisper
def test_two_local_workers_give_the_same_transcripts(inbox, tmp_path):
    files = sorted(inbox.glob("rec_0[0-5].wav"))
    one = {r["input"]: r for r in run_batch(files, tmp_path / "a.jsonl", Config(), workers=1)}
    two = {r["input"]: r for r in run_batch(files, tmp_path / "b.jsonl", Config(), workers=2)}
    assert one.keys() == two.keys()
    for k in one:
        assert two[k]["result"]["transcript"] == one[k]["result"]["transcript"]


@pytest.mark.whisper
def test_ray_actor_pool_on_a_local_ray(inbox, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is in the 'cluster' extra (./bootstrap.sh test installs it)")
    files = sorted(inbox.glob("rec_0[0-3].wav")) + [inbox / "corrupt_text.wav"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = run_batch(files, tmp_path / "ray.jsonl", Config(), workers=2, executor="ray")
    finally:
        ray.shutdown()
    local = {r["input"]: r for r in run_batch(files, tmp_path / "loc.jsonl", Config())}
    assert len(rows) == 5
    for r in rows:
        assert r["status"] == local[r["input"]]["status"]
        if r["status"] == "ok":
            assert r["result"]["transcript"] == local[r["input"]]["result"]["transcript"]


def test_bad_batch_output_is_a_one_line_error(inbox, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "batch", str(inbox), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.whisper
def test_stereo_call_row_equals_review(tmp_path):
    import numpy as np
    import soundfile as sf

    caller = espeak("My parcel is two weeks late and nobody called me back.", tmp_path / "c.wav", voice="en-us")
    agent = espeak("I am sorry, let me check that parcel for you right now.", tmp_path / "a.wav", voice="en+f3")
    c, sr = sf.read(caller)
    a, _ = sf.read(agent)
    n = len(c) + len(a) + sr
    left, right = np.zeros(n), np.zeros(n)
    left[: len(c)] = c
    right[len(c) + sr // 2: len(c) + sr // 2 + len(a)] = a
    call = tmp_path / "calls" / "call.wav"
    call.parent.mkdir()
    sf.write(call, np.stack([left, right], axis=1), sr)
    (row,) = run_batch([call.parent], tmp_path / "r.jsonl", Config())
    assert row["kind"] == "call"
    assert row["model_files"] == row["result"]["model_files"] and row["model_files"][0]["model"] == "whisper-tiny.en"
    review = subprocess.run([sys.executable, "-m", "voice_trainer", "review", str(call), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert review.returncode == 0, review.stderr
    assert row["result"] == json.loads(review.stdout)
