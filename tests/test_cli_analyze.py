"""`voice-trainer analyze` end to end: real files, real model, and every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from speech import espeak, needs_espeak, tone, write
from textnorm import allowed_errors, assert_same_speech, norm_words

pytestmark = needs_espeak


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    return espeak("Thank you for calling. Let me look at your order right now.",
                  tmp_path_factory.mktemp("a") / "speech.wav", speed=150)


def test_help_and_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("voice-trainer ")
    proc = run_cli("analyze", "--help")
    assert proc.returncode == 0 and "--json" in proc.stdout and "--channel" in proc.stdout


@pytest.mark.whisper
def test_json_lines_for_several_files(tmp_path, speech_wav):
    flac = tmp_path / "s.flac"
    import soundfile as sf

    x, sr = sf.read(speech_wav)
    sf.write(flac, np.stack([x, np.zeros_like(x)], axis=1), sr)  # stereo: speech left, silence right
    proc = run_cli("analyze", str(speech_wav), str(flac), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["schema_version"] >= 1
        assert {"file", "duration_s", "transcript", "words"} <= row.keys()
        assert "order" in row["transcript"].lower()
        assert {"word", "start", "end", "probability"} == set(row["words"][0])
        # which model files produced it: Whisper first, checked against the manifest, with a short hash
        whisper = row["model_files"][0]
        assert whisper["model"] == "whisper-tiny.en" and whisper["verified"] and len(whisper["sha256"]) == 12
        assert {"silero-vad-v6", "swift-f0"} <= {m["model"] for m in row["model_files"]}
    right = run_cli("analyze", str(flac), "--channel", "right", "--json")
    assert right.returncode == 0 and json.loads(right.stdout)["words"] == []


@pytest.mark.whisper
def test_text_output_shows_timed_words(speech_wav):
    proc = run_cli("analyze", str(speech_wav))
    assert proc.returncode == 0
    assert "order" in proc.stdout.lower() and "@" in proc.stdout


@pytest.mark.whisper
def test_long_file_in_chunks_matches_whole(tmp_path, speech_wav):
    import soundfile as sf

    x, sr = sf.read(speech_wav)
    gap = np.zeros(int(sr * 0.6))
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([x, gap, x, gap, x]), sr)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[audio]\nchunk_s = 6.0\n")
    whole = json.loads(run_cli("analyze", str(long), "--json").stdout)
    chunked = json.loads(run_cli("--config", str(cfg), "analyze", str(long), "--json").stdout)

    # Whisper decodes each chunk on its own, so a word may come out differently (compared after one
    # normalisation, textnorm.py, within its stated tolerance); none is lost or doubled at a cut
    assert_same_speech(chunked["words"], whole["words"])
    n_whole, n_chunked = len(norm_words(whole["words"])), len(norm_words(chunked["words"]))
    assert n_whole >= 30
    assert abs(n_chunked - n_whole) <= allowed_errors(norm_words(whole["words"]))
    # the sentence is there three times: its last word appears in the last third as often as in the first
    third = len(x) / sr
    for row in (whole, chunked):
        parts = [norm_words([w for w in row["words"] if i * (third + 0.6) <= w["start"] < (i + 1) * (third + 0.6)])
                 for i in range(3)]
        assert min(len(p) for p in parts) >= 0.8 * max(len(p) for p in parts), parts
    starts = [w["start"] for w in chunked["words"]]
    assert starts == sorted(starts) and starts[-1] > 2 * len(x) / sr  # times continue across the chunks
    assert abs(chunked["duration_s"] - whole["duration_s"]) < 0.01


@pytest.mark.whisper
def test_silence_is_an_empty_transcript(tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(16000 * 3, np.float32), 16000)
    proc = run_cli("analyze", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["transcript"] == "" and row["words"] == []


def test_env_selects_model(tmp_path, speech_wav):
    proc = run_cli("analyze", str(speech_wav), "--json", env={"VOICE_TRAINER_MODEL": "nonesuch"})
    assert_one_line_error(proc, "unknown model 'nonesuch'")


@pytest.mark.parametrize(
    "setup,needle",
    [
        ("missing", "no such file"),
        ("textfile", "not an audio file"),
        ("truncated", "truncated"),
        ("empty", "empty"),
        ("short", "0.20 s"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, setup, needle):
    path = tmp_path / "in.wav"
    if setup == "textfile":
        path.write_text("hello, I am a text file\n" * 10)
    elif setup == "truncated":
        full = write(tmp_path / "full.wav", tone(200.0, 2.0, 16000), 16000, subtype="PCM_16")
        path.write_bytes(full.read_bytes()[:20000])
    elif setup == "empty":
        path.write_bytes(b"")
    elif setup == "short":
        write(path, tone(200.0, 0.2, 16000), 16000)
    assert_one_line_error(run_cli("analyze", str(path)), str(path), needle)


@pytest.mark.parametrize(
    "args,needle",
    [
        (("--model", "gigantic"), "unknown model"),
        (("--channel", "middle"), "invalid choice"),
        (("--bogus",), "unrecognized arguments"),
    ],
)
def test_bad_options_one_line_exit_2(speech_wav, args, needle):
    assert_one_line_error(run_cli("analyze", str(speech_wav), *args), needle)


@pytest.mark.whisper
def test_one_bad_file_among_many_does_not_stop_the_rest(tmp_path, speech_wav):
    proc = run_cli("analyze", str(tmp_path / "nope.wav"), str(speech_wav), "--json")
    assert proc.returncode == 2
    assert len(proc.stdout.splitlines()) == 1 and "no such file" in proc.stderr
