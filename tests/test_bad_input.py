"""Every bad input a user can give gets one clear line and exit code 2 (never a traceback or "internal error"),
and nothing half-written is left behind."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from speech import needs_espeak, tone, write

from voice_trainer.cli import main as cli_main

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "audio_samples"
SR = 16_000


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "internal error" not in lines[0] and "Traceback" not in proc.stderr
    return lines[0]


# --- audio and calibration -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused_naming_the_file(tmp_path, capsys, bad):
    x = tone(200.0, 2.0, SR)
    x[SR // 2: SR // 2 + 10] = bad
    path = write(tmp_path / "float.wav", x, SR, subtype="FLOAT")
    assert cli_main(["analyze", str(path), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    err = out.err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "NaN or infinity" in err[0]
    profile = tmp_path / "p.json"
    assert cli_main(["calibrate", "--from", str(path), "--out", str(profile)]) == 2
    assert "NaN or infinity" in capsys.readouterr().err and not profile.exists()


def square(freq_hz: float, dur_s: float) -> np.ndarray:
    return np.sign(np.sin(2 * np.pi * freq_hz * np.arange(int(dur_s * SR)) / SR)).astype(np.float32) * 0.999


@pytest.mark.whisper
@pytest.mark.parametrize("name, signal, says", [
    ("square", square(200.0, 6.0), "clipped"),
    ("quiet-square", square(200.0, 6.0) * 0.1, "steady tone"),
    ("sine", tone(200.0, 6.0, SR, amp=0.3), "steady tone"),
    ("whistle", tone(600.0, 6.0, SR, amp=0.3), "Hz"),
    ("one-syllable", np.concatenate([tone(150.0, 0.6, SR, amp=0.2), np.zeros(5 * SR, np.float32)]), "voiced"),
])
def test_calibrate_refuses_what_is_not_speech(tmp_path, capsys, name, signal, says):
    path = write(tmp_path / f"{name}.wav", signal, SR)
    profile = tmp_path / "p.json"
    assert cli_main(["calibrate", "--from", str(path), "--out", str(profile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and says in err[0], err
    assert not profile.exists()


@pytest.mark.whisper
def test_calibrate_accepts_a_real_calm_voice(tmp_path, capsys):
    profile = tmp_path / "p.json"
    assert cli_main(["calibrate", "--from", str(SAMPLES / "baseline_calm.wav"), "--out", str(profile)]) == 0
    assert profile.exists() and "voice profile saved" in capsys.readouterr().out


def test_analyze_rejects_a_short_clip_before_loading_the_model(tmp_path, capsys, monkeypatch):
    import voice_trainer.speech.transcribe as tr

    def no_model(*a, **k):
        raise AssertionError("the model was loaded for a clip that is too short")

    monkeypatch.setattr(tr, "load_model", no_model)
    path = write(tmp_path / "short.wav", tone(200.0, 0.1, SR), SR)
    assert cli_main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only 0.10 s" in err[0] and str(path) in err[0]


# --- config and JSON --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("toml, says", [
    ("[tone]\nraised_voice_db = -1e309\n", "tone.raised_voice_db: must be a finite number"),
    ("[tone]\nraised_voice_db = nan\n", "tone.raised_voice_db: must be a finite number"),
    ("[practice]\nend_silence_s = -5\n", "practice.end_silence_s: must be above 0"),
    ("[tone]\nraised_voice_db = 20.0\n", "tone.raised_voice_db: must be below tone.raised_voice_full_db"),
    ("[listening]\nmin_confidence = 1.5\n", "listening.min_confidence: must be between 0 and 1"),
    ("[session]\nmax_turns = \"8\"\n", "session.max_turns: expected int"),
    ("[turns]\ndead_air_s = -1\n", "turns.dead_air_s: must not be negative"),
    ("[tone]\npitch_range_percentiles = [95.0, 5.0]\n", "tone.pitch_range_percentiles: the first value"),
])
def test_config_values_are_checked_for_type_finiteness_and_range(tmp_path, capsys, toml, says):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    assert cli_main(["--config", str(cfg), "analyze", "--text", "I understand.", "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    err = out.err.strip().splitlines()
    assert len(err) == 1 and f"{cfg}: {says}" in err[0], err


def test_json_output_is_strict_json(capsys):
    from voice_trainer.cli.common import print_json_line

    print_json_line({"a": float("nan"), "b": [float("-inf"), 1.5], "c": {"d": float("inf")}})
    line = capsys.readouterr().out
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}")) == {
        "a": None, "b": [None, 1.5], "c": {"d": None}}


# --- commands ---------------------------------------------------------------------------------------------------


@needs_espeak
def test_say_out_naming_a_folder(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for cache in ([], ["--no-cache"]):
        proc = run_cli("say", "--scenario", "double-charge", "--out", str(folder), *cache,
                       env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        line = one_error_line(proc)
        assert str(folder) in line and "is a folder" in line
        assert list(folder.iterdir()) == [] and not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.mark.parametrize("key, value", [("seed", '"3"'), ("max_turns", '"2"'), ("pass_mark", '"70"'),
                                        ("pass_mark", "170"), ("max_turns", "0"), ("seed", "1.5")])
def test_run_script_values_are_checked_before_the_call_starts(tmp_path, monkeypatch, capsys, key, value):
    import voice_trainer.speech.transcribe as tr

    monkeypatch.setattr(tr, "load_model", lambda *a, **k: pytest.fail("the call started"))
    script = tmp_path / "s.toml"
    script.write_text(f'scenario = "double-charge"\n{key} = {value}\n[[answers]]\n'
                      f'file = "{SAMPLES / "double-charge_good_1.wav"}"\n')
    assert cli_main(["run", str(script), "--no-session"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{script}:2: {key} must be" in err[0], err


def test_answer_start_that_is_not_a_number():
    from voice_trainer.call.session import AnswerSpec
    from voice_trainer.errors import UserError

    with pytest.raises(UserError, match=r"a\.wav@abc: the time after '@' must be seconds"):
        AnswerSpec.parse("a.wav@abc")
    with pytest.raises(UserError, match="not 'nan'"):
        AnswerSpec.parse("a.wav@nan")
    assert AnswerSpec.parse("a.wav@-1.5") == AnswerSpec("a.wav", -1.5)
    assert AnswerSpec.parse("a.wav") == AnswerSpec("a.wav", None)


def test_scenarios_validate_a_missing_file():
    proc = run_cli("scenarios", "validate", "nope.toml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "nope.toml: no such scenario file; check the path"


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only filesystem (root ignores file modes, so chmod is not enough)."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)


def test_batch_out_in_a_read_only_folder(tmp_path, read_only_dir):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "a.wav", tone(200.0, 1.0, SR), SR)
    out = read_only_dir / "results.jsonl"
    line = one_error_line(run_cli("batch", str(inbox), "--out", str(out)))
    assert str(out) in line and "cannot write the results file" in line and "choose another --out" in line


def test_batch_error_line_names_the_input_once():
    from voice_trainer.cli.batch import error_line

    long = "/data/" + "a-long-folder-name/" * 8 + "bad.wav"
    row = {"input": long, "error": f"{long}: not an audio file that can be decoded (Invalid data); use WAV"}
    assert error_line(row) == row["error"] and error_line(row).count(long) == 1
    assert error_line({"input": long, "error": "ValueError: x"}) == f"{long}: ValueError: x"


def test_decoder_message_does_not_repeat_or_cut_the_path(tmp_path):
    d = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    d.mkdir(parents=True)
    garbage = d / "garbage.wav"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    line = one_error_line(run_cli("analyze", str(garbage)))
    assert line.count(str(garbage)) == 1 and line.endswith("use WAV, FLAC, OGG, MP3 or M4A")


@pytest.mark.whisper
def test_disk_full_during_demo_keeps_every_finished_turn(tmp_path, monkeypatch, capsys):
    import voice_trainer.store as store

    real = store.write_turn_wav
    calls = []

    def fill_up(path, *a, **k):
        calls.append(path)
        if len(calls) == 2:  # the disk fills up while the second turn is written
            real(path, *a, **k)  # the WAV lands ...
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))  # ... then the disk is full
        return real(path, *a, **k)

    monkeypatch.setattr(store, "write_turn_wav", fill_up)
    assert cli_main(["demo", "--set", "good", "--session-dir", str(tmp_path)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "No space left on device" in err[0] and "1 finished turn(s) are kept" in err[0], err
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    names = sorted(p.name for p in folder.iterdir())
    assert "turn_01.wav" in names and "turn_01.json" in names
    assert not [n for n in names if n.startswith("turn_02")], names  # nothing half-written of the failed turn
    assert not [n for n in names if ".tmp" in n or n.startswith(".")], names
    from voice_trainer.store import load_session

    assert [t.index for t in load_session(folder).turns] == [1]


def test_a_full_filesystem_is_reported_as_disk_full(tmp_path):
    """A real small tmpfs: libsndfile's "System error" becomes No space left on device."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "small"
    d.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        from voice_trainer.store import write_turn_wav

        x = tone(200.0, 5.0, SR)
        with pytest.raises(OSError) as exc:
            write_turn_wav(d / "turn_01.wav", x, x, SR)
        assert exc.value.errno == errno.ENOSPC
        assert list(d.iterdir()) == []  # the temporary file is gone
    finally:
        subprocess.run(["umount", str(d)], check=False)


# --- progress ---------------------------------------------------------------------------------------------------


@pytest.mark.whisper
def test_progress_bar_on_a_terminal_only_never_in_json_stdout(tmp_path):
    import pty

    x = np.concatenate([tone(180.0, 1.0, SR, amp=0.2), np.zeros(SR // 2, np.float32)] * 3)
    path = write(tmp_path / "long.wav", x, SR)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[audio]\nchunk_s = 1.0\n")
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    shown = bytearray()

    def drain() -> None:  # read the terminal while the command runs (a full pty buffer would block it)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed the terminal
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "--config", str(cfg), "analyze", str(path),
                           "--json"], stdout=subprocess.PIPE, stderr=slave, env=env, timeout=300)
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    shown = bytes(shown)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["duration_s"] == pytest.approx(4.5, abs=0.01)  # stdout: just the JSON line
    assert b"analysing long.wav" in shown and b" s" in shown, shown[-500:]  # the bar, on the terminal
    piped = run_cli("--config", str(cfg), "analyze", str(path), "--json")
    assert piped.returncode == 0 and "analysing" not in piped.stderr  # not a terminal: no bar
