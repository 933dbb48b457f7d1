"""Hostile input (issue 35): nested, huge, endless, unreadable, wrongly typed or escape-laden files get one clear
line and exit code 2 (or work as a user expects), never "internal error", a hang, a runaway or a replaced device."""

from __future__ import annotations

import builtins
import errno
import io
import json
import math
import os
import shutil
import stat
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from speech import tone, write

from voice_trainer.cli import main as cli_main

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "audio_samples"
SR = 16_000
ESC = "\x1b"


def run_cli(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "internal error" not in lines[0] and "Traceback" not in text, text
    return lines[0]


def fails_with_one_line(capsys, argv: list[str]) -> str:
    """Run the CLI in-process; it must exit 2 with one line on stderr."""
    rc = cli_main(argv)
    err = capsys.readouterr().err
    assert rc == 2, (rc, err)
    return one_line(err)


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    """One demo session (two turns with their WAVs), copied by each test that changes it."""
    root = tmp_path_factory.mktemp("demo")
    assert cli_main(["demo", "--set", "good", "--session-dir", str(root)]) == 0
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


@pytest.fixture
def session(session_dir, tmp_path) -> Path:
    return Path(shutil.copytree(session_dir, tmp_path / "sessions" / session_dir.name))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- 1. nesting ---------------------------------------------------------------------------------------------------


DEEP = 5000  # far beyond Python's recursion limit, far beyond voice_trainer.inputs.MAX_NESTING


@pytest.mark.parametrize("case", ["config", "config-dotted", "scenario", "run-script", "texts", "review-file",
                                  "session-file", "profile", "lexicon"])
def test_deeply_nested_files_are_refused_with_one_line(tmp_path, capsys, case):
    f = tmp_path / "deep.toml"
    argv: list[str]
    if case == "config":
        f.write_text(f"[tone]\nraised_voice_db = {nested(DEEP)}\n")
        argv = ["--config", str(f), "analyze", "--text", "hi"]
    elif case == "config-dotted":  # nesting tomllib builds without recursion
        f.write_text("tone." + ".".join(["a"] * DEEP) + " = 1\n")
        argv = ["--config", str(f), "analyze", "--text", "hi"]
    elif case == "scenario":
        f.write_text(f'id = "deep"\nfacts = {nested(DEEP)}\n')
        argv = ["scenarios", "show", str(f)]
    elif case == "run-script":
        f.write_text(f'scenario = "double-charge"\nseed = {nested(DEEP)}\n')
        argv = ["run", str(f), "--no-session"]
    elif case == "texts":
        f = tmp_path / "deep.jsonl"
        f.write_text('{"agent": ' + nested(DEEP) + "}\n")
        argv = ["analyze", "--texts", str(f)]
    elif case == "review-file":
        f = tmp_path / "review.json"
        f.write_text('{"kind": "call_review", "turns": ' + nested(DEEP) + "}\n")
        argv = ["report", str(f)]
    elif case == "session-file":  # no turn files to rebuild it from
        d = tmp_path / "sess"
        d.mkdir()
        (d / "session.json").write_text('{"status": ' + nested(DEEP) + "}\n")
        f = d / "session.json"
        argv = ["report", str(d)]
    elif case == "profile":
        from voice_trainer.errors import UserError
        from voice_trainer.profile import load_profile

        f = tmp_path / "profile.json"
        f.write_text('{"format": ' + nested(DEEP) + "}\n")
        with pytest.raises(UserError, match="nested more than 64 levels"):
            load_profile(f)
        return
    else:  # lexicon, named by the config
        lex = tmp_path / "lexicon.toml"
        lex.write_text(f"x = {nested(DEEP)}\n")
        f.write_text(f'[listening]\nlexicon_file = "{lex}"\n')
        f = lex
        argv = ["--config", str(tmp_path / "deep.toml"), "analyze", "--text", "I understand."]
    line = fails_with_one_line(capsys, argv)
    assert str(f) in line and "nested more than 64 levels" in line, line


def test_nesting_depth_counts_without_recursion():
    from voice_trainer.inputs import MAX_NESTING, NestingError, loads_json, nesting_depth

    assert nesting_depth({"a": [1, {"b": []}]}) == 4 and nesting_depth(5) == 0
    assert loads_json(nested(MAX_NESTING)) is not None
    with pytest.raises(NestingError):
        loads_json(nested(MAX_NESTING + 1))


# --- 2. permissions -----------------------------------------------------------------------------------------------


@pytest.fixture
def lock(monkeypatch):
    """``lock(path)`` makes a file or folder unreadable: mode 000, and, for root (whom file modes do not stop),
    EACCES from ``os.stat`` of what is inside a locked folder and from opening or listing a locked path."""
    locked: list[tuple[Path, int]] = []

    def denied(p: object, inside_only: bool) -> bool:
        if isinstance(p, int):
            return False
        q = Path(os.path.abspath(os.fspath(p)))
        for path, mode in locked:
            if q == path and not inside_only:
                return True
            if stat.S_ISDIR(mode) and path in q.parents:
                return True
        return False

    def guard(fn, inside_only: bool):
        def wrapped(p, *a, **k):
            if denied(p, inside_only):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(p))
            return fn(p, *a, **k)
        return wrapped

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "stat", guard(os.stat, inside_only=True))
        for mod, name in ((os, "open"), (os, "scandir"), (os, "listdir"), (builtins, "open"), (io, "open")):
            monkeypatch.setattr(mod, name, guard(getattr(mod, name), inside_only=False))

    def do(path: Path) -> Path:
        path = Path(os.path.abspath(path))
        locked.append((path, path.stat().st_mode))
        path.chmod(0)
        return path

    yield do
    for path, mode in locked:
        path.chmod(stat.S_IMODE(mode))


def test_unreadable_config_folder(tmp_path, capsys, monkeypatch, lock):
    cfg_home = tmp_path / "config"
    (cfg_home / "voice-trainer").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg_home))
    monkeypatch.delenv("VOICE_TRAINER_CONFIG", raising=False)
    lock(cfg_home)
    line = fails_with_one_line(capsys, ["analyze", "--text", "I understand."])
    assert "config.toml" in line and "Permission denied" in line and "XDG_CONFIG_HOME" in line, line


def test_unreadable_config_folder_when_looking_for_the_voice_profile(tmp_path, capsys, monkeypatch, lock):
    from voice_trainer.config import Config
    from voice_trainer.errors import UserError
    from voice_trainer.profile import resolve_baseline

    cfg_home = tmp_path / "config"
    (cfg_home / "voice-trainer").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg_home))
    lock(cfg_home)
    with pytest.raises(UserError, match="voice-profile.json: cannot look for the stored voice profile"):
        resolve_baseline(None, Config())


def test_unreadable_audio_file(tmp_path, capsys, lock):
    wav = lock(write(tmp_path / "a.wav", tone(200.0, 1.0, SR), SR))
    line = fails_with_one_line(capsys, ["analyze", str(wav), "--json"])
    assert str(wav) in line and "Permission denied" in line and "permissions" in line, line


@pytest.mark.whisper
def test_unreadable_session_folder(session, capsys, lock):
    lock(session)
    line = fails_with_one_line(capsys, ["report", str(session)])
    assert str(session) in line and "Permission denied" in line, line


def test_unreadable_scenario_file(tmp_path, capsys, lock):
    f = tmp_path / "late-package.toml"
    shutil.copy(REPO / "scenarios" / "late-package.toml", f)
    lock(f)
    line = fails_with_one_line(capsys, ["scenarios", "show", str(f)])
    assert str(f) in line and "Permission denied" in line, line


# --- 3. wrongly typed session fields --------------------------------------------------------------------------


def set_session_fields(folder: Path, **values) -> None:
    p = folder / "session.json"
    data = json.loads(p.read_text())
    data.update(values)
    p.write_text(json.dumps(data))


@pytest.mark.whisper
@pytest.mark.parametrize("field, value", [("status", 5), ("started_at", [1]), ("session_id", True),
                                          ("mode", {"a": 1}), ("scores", [1, 2]), ("turns", "x"),
                                          ("anger_trajectory", ["high"])])
def test_wrongly_typed_session_fields_are_ignored_with_a_note(session, capsys, field, value):
    set_session_fields(session, **{field: value})
    assert cli_main(["report", str(session)]) == 0
    out = capsys.readouterr()
    assert "internal error" not in out.err
    if field != "turns":  # the turn list is rebuilt from the turn files without a note
        assert f"ignored '{field}'" in out.out, out.out
    csv, html = session.parent / "p.csv", session.parent / "p.html"
    assert cli_main(["progress", str(session.parent), "--csv", str(csv), "--html", str(html)]) == 0
    assert "internal error" not in capsys.readouterr().err
    assert csv.exists() and html.exists()


@pytest.mark.whisper
@pytest.mark.parametrize("field, value", [("tone", 5), ("caller", "x"), ("reaction", [1]), ("nudges", 5),
                                          ("duration_s", [1])])
def test_wrongly_typed_turn_fields_are_ignored_with_a_note(session, capsys, field, value):
    p = session / "turn_01.json"
    p.write_text(json.dumps({**json.loads(p.read_text()), field: value}))
    assert cli_main(["report", str(session)]) == 0
    out = capsys.readouterr()
    assert "internal error" not in out.err
    assert "Turn 1 " in out.out  # the turn is kept, without the damaged fact
    if field != "duration_s":
        assert f"turn_01.json: ignored '{field}'" in out.out, out.out


@pytest.mark.whisper
def test_batch_csv_over_a_session_folder(session, tmp_path):
    """The CSV summary of a session row used to fail ("'list' object has no attribute 'get'") after its header."""
    out, csv = tmp_path / "r.jsonl", tmp_path / "r.csv"
    proc = run_cli("batch", str(session), "--out", str(out), "--csv", str(csv), timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = csv.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{session},session,ok,"), rows


def test_csv_row_of_a_damaged_result_row():
    from voice_trainer.batch import csv_row

    assert csv_row({"input": "x", "result": {"turns": [1], "tone": "x", "scores": None}})["interruptions"] == ""
    assert csv_row({"input": "x", "result": [1]})["calmness"] == ""


# --- 4. and 5. bounds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("toml, says", [
    ("[transcribe]\nbeam_size = 100000\n", "transcribe.beam_size: must be between 1 and 16, got 100000"),
    ("[audio]\nchunk_s = 1e-9\n", "audio.chunk_s: must be between 1 and 3600, got 1e-09"),
    ("[transcribe]\ncpu_threads = -1\n", "transcribe.cpu_threads: must be between 0 and 256, got -1"),
    ("[report]\naudio_compression = 5\n", "report.audio_compression: must be between 0 and 1, got 5.0"),
    ("[report]\ncurve_points = 1000000000\n", "report.curve_points: must be between 2 and 100000"),
    ("[session]\nmax_turns = 100000000\n", "session.max_turns: must be between 0 and 1000"),
    ("[transcribe]\ncompute_type = \"bogus\"\n", "transcribe.compute_type: 'bogus' is not one of 'default', 'auto'"),
])
def test_config_settings_are_bounded_and_named(tmp_path, capsys, toml, says):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    line = fails_with_one_line(capsys, ["--config", str(cfg), "analyze", "--text", "I understand.", "--json"])
    assert f"{cfg}: {says}" in line, line
    assert "pip install" not in line


def test_every_numeric_setting_has_a_range_holding_its_default():
    import dataclasses

    from voice_trainer.config import Config, allowed_range

    cfg = Config()
    for section in dataclasses.fields(cfg):
        sec = getattr(cfg, section.name)
        for f in dataclasses.fields(sec):
            v = getattr(sec, f.name)
            values = list(v) if isinstance(v, list | tuple) else [v]
            for x in values:
                if isinstance(x, int | float) and not isinstance(x, bool):
                    rng = allowed_range(f.name, x)
                    assert rng is not None, f"{section.name}.{f.name} has no declared range"
                    assert rng[0] <= x <= rng[1], (f"{section.name}.{f.name}", x, rng)


@pytest.mark.parametrize("start", ["1e308", "-1e308", "601"])
def test_run_script_start_is_bounded(tmp_path, capsys, monkeypatch, start):
    import voice_trainer.speech.transcribe as tr

    monkeypatch.setattr(tr, "load_model", lambda *a, **k: pytest.fail("the call started"))
    script = tmp_path / "s.toml"
    script.write_text(f'scenario = "double-charge"\n[[answers]]\nfile = "{SAMPLES / "double-charge_good_1.wav"}"\n'
                      f"start_s = {start}\n")
    line = fails_with_one_line(capsys, ["run", str(script), "--no-session"])
    assert f"{script}:4: start_s must be between -600 and 600 seconds" in line, line


def test_answer_start_after_at_is_bounded():
    from voice_trainer.call.session import AnswerSpec
    from voice_trainer.errors import UserError

    with pytest.raises(UserError, match="between -600 and 600 seconds"):
        AnswerSpec.parse("a.wav@1e308")


# --- 6. endless, blocking and oversized inputs -------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path) -> Path:
    p = tmp_path / "pipe.toml"
    os.mkfifo(p)
    return p


def test_config_from_a_device_or_a_fifo_is_refused_at_once(fifo):
    for path, kind in (("/dev/zero", "a character device"), (str(fifo), "a named pipe")):
        proc = run_cli("--config", path, "analyze", "--text", "hi", timeout=60)
        line = one_line(proc.stderr)
        assert proc.returncode == 2 and path in line and kind in line and "not a regular file" in line, line


@pytest.mark.parametrize("argv", [["scenarios", "show", "{fifo}"], ["run", "{fifo}", "--no-session"],
                                  ["analyze", "{fifo}"], ["analyze", "/dev/zero"]])
def test_inputs_that_are_fifos_or_devices_are_refused(fifo, argv):
    proc = run_cli(*[a.format(fifo=fifo) for a in argv], timeout=60)
    line = one_line(proc.stderr)
    assert proc.returncode == 2 and ("named pipe" in line or "character device" in line), line
    assert "empty" not in line


def test_oversized_text_input_is_refused(tmp_path, capsys, monkeypatch):
    import voice_trainer.inputs as inputs

    monkeypatch.setattr(inputs, "MAX_INPUT_BYTES", 1000)
    cfg = tmp_path / "c.toml"
    cfg.write_text("# padding\n" * 200)
    line = fails_with_one_line(capsys, ["--config", str(cfg), "analyze", "--text", "hi"])
    assert str(cfg) in line and "larger than 1,000 bytes" in line, line


def test_texts_line_length_is_bounded(tmp_path, capsys, monkeypatch):
    import voice_trainer.cli.analyze as analyze

    monkeypatch.setattr(analyze, "MAX_LINE_CHARS", 100)
    f = tmp_path / "t.jsonl"
    f.write_text('{"agent": "' + "a" * 500 + '"}\n')
    line = fails_with_one_line(capsys, ["analyze", "--texts", str(f)])
    assert f"{f}:1: the line is longer than 100 characters" in line, line


# --- 7. outputs never replace special files -----------------------------------------------------------------------


@pytest.mark.whisper
def test_outputs_refuse_special_files(session, tmp_path, capsys):
    targets = [tmp_path / "out.fifo"]
    os.mkfifo(targets[0])
    dev = tmp_path / "full"
    try:  # our own device node (/dev/full's numbers), so that replacing it would harm nothing; needs root
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        targets.append(dev)
    except PermissionError:
        pass
    for target in targets:
        mode = target.stat().st_mode
        for opt in ("--vtt", "--srt", "--html"):
            line = fails_with_one_line(capsys, ["report", str(session), opt, str(target)])
            assert str(target) in line and "not a regular file" in line, line
            assert target.stat().st_mode == mode  # still the pipe or the device
    line = fails_with_one_line(capsys, ["batch", str(session), "--out", str(targets[0])])
    assert "not a regular file" in line, line


def test_atomic_writer_refuses_a_fifo(tmp_path):
    from voice_trainer.atomic import write_text_atomic

    p = tmp_path / "x.txt"
    os.mkfifo(p)
    with pytest.raises(OSError, match="named pipe"):
        write_text_atomic(p, "hi")
    assert stat.S_ISFIFO(p.stat().st_mode) and [q.name for q in tmp_path.iterdir()] == ["x.txt"]


# --- 8. impossible WAV headers ------------------------------------------------------------------------------------


def wav_with_header(path: Path, bits: int, block_align: int, channels: int = 1, seconds: float = 2.0) -> Path:
    data = bytes(int(SR * seconds))
    fmt = struct.pack("<HHIIHH", 1, channels, SR, SR * block_align, block_align, bits)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE" + b"fmt "
                     + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


@pytest.mark.parametrize("bits, align", [(7, 1), (12, 2), (16, 1)])
def test_wav_with_an_impossible_sample_size_is_refused(tmp_path, capsys, bits, align):
    wav = wav_with_header(tmp_path / "odd.wav", bits, align)
    line = fails_with_one_line(capsys, ["analyze", str(wav), "--json"])
    assert str(wav) in line and f"claims {bits} bits per sample" in line and "16-bit WAV" in line, line


# --- 9. messages --------------------------------------------------------------------------------------------------


def test_random_bytes_as_mp3_give_one_line(tmp_path):
    for seed in range(3):  # libmpg123's "Note: Illegal Audio-MPEG-Header ..." lines depend on the bytes
        f = tmp_path / f"noise{seed}.mp3"
        f.write_bytes(np.random.default_rng(seed).bytes(20_000))
        proc = run_cli("analyze", str(f))
        assert proc.returncode == 2, proc.stderr
        assert one_line(proc.stderr).endswith("use WAV, FLAC, OGG, MP3 or M4A")


def test_a_json_line_with_stray_c1_characters_stays_whole_json():
    """Mojibake carries lone C1 characters (a doubly encoded closing quote ends in U+009D); json.dumps writes
    them raw. The terminal filter drops them one by one and keeps the rest of the line: valid JSON, one line."""
    import json

    from voice_trainer.cli.terminal import strip_controls

    for text in ("x\x9b", "he said \u00e2\u20ac\x9dfine", "tail \x9d", "\x1b]0;no end"):
        line = json.dumps({"note": text, "after": 1}, ensure_ascii=False) + "\n"
        out = strip_controls(line)
        assert out.endswith("\n") and out.count("\n") == 1, repr(out)
        assert json.loads(out)["after"] == 1, repr(out)
    assert strip_controls("a\x1b[2Jb\x1b]0;title\x07c\x1b[31md") == "abcd"  # whole sequences still go


def test_silencing_the_decoders_from_many_threads_gives_stderr_back():
    """The web server and batch decode in several threads at once: each silences fd 2 while its decoder runs, and
    when all are done stderr is what it was (not the null device another thread put there)."""
    import os
    import threading
    import time

    from voice_trainer.audio.files import quiet_decoders

    before = os.fstat(2)
    inside: list[bool] = []

    def work() -> None:
        for _ in range(100):
            with quiet_decoders():
                inside.append(os.path.samestat(os.fstat(2), os.stat(os.devnull)))
                time.sleep(0.0002)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(inside) and len(inside) == 800  # silenced while any decoder runs...
    assert os.path.samestat(os.fstat(2), before)  # ...and given back afterwards


# --- 10. terminal escapes -----------------------------------------------------------------------------------------


def test_scenario_title_escapes_are_not_printed(tmp_path, capsys):
    text = (REPO / "scenarios" / "late-package.toml").read_text()
    f = tmp_path / "late-package.toml"
    f.write_text(text.replace('title = "A birthday present two weeks late"',
                              'title = "Evil \\u001b[31mred\\u001b]0;owned\\u0007 \\u009b2J"'))
    assert cli_main(["scenarios", "show", str(f)]) == 0
    out = capsys.readouterr().out
    assert "late-package: Evil red" in out and ESC not in out and "\x9b" not in out and "\x07" not in out


@pytest.mark.whisper
def test_note_escapes_are_not_printed_by_report(session, capsys):
    assert cli_main(["note", str(session), "-", "calm \x1b[2J\x1b[Hdown \r\x08please"]) == 0
    set_session_fields(session, scenario={"id": "double-charge", "title": "Title \u001b[31mred"})
    capsys.readouterr()
    assert cli_main(["report", str(session)]) == 0
    out = capsys.readouterr().out
    assert "calm down please" in out and "Title red" in out, out
    assert not any(c in out for c in (ESC, "\r", "\x08")), repr(out[:300])


def test_error_lines_carry_no_escapes(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text('[tone]\n"bad\\u001b[2Jkey" = 1\n')
    line = fails_with_one_line(capsys, ["--config", str(f), "analyze", "--text", "hi"])
    assert ESC not in line and "unknown key" in line


# --- 11. generated hostile values ---------------------------------------------------------------------------------


def toml_value(v: object) -> str:
    """A TOML literal for ``v`` (tables as inline tables)."""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_doc(data: dict) -> str:
    return "".join(f"{json.dumps(str(k))} = {toml_value(v)}\n" for k, v in data.items())


texts = st.lists(st.one_of(st.sampled_from(["\x1b[2J", "\x1b[31m", "\x9b", "\x07", "\r", "\x08", "\x00"]),
                           st.characters(blacklist_categories=("Cs",))), max_size=12).map("".join)
"""Text, often with terminal escapes and control characters."""
scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
                    texts)


class Raw(str):
    """Text written into a file as it is (an array nested thousands deep, which a writer would recurse over)."""


hostile = st.one_of(
    st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(texts, inner, max_size=3)), max_leaves=8),
    st.integers(65, 3000).map(lambda d: Raw(nested(d))),
)
"""Any JSON/TOML value: wrong types, NaN and infinities, huge numbers, control characters, deep nesting."""
out_of_every_range = st.one_of(
    st.floats(min_value=1e7, allow_infinity=True), st.floats(max_value=-1e7, allow_infinity=True),
    st.just(float("nan")), st.integers(min_value=10**7, max_value=2**63 - 1),
    st.integers(min_value=-2**63, max_value=-10**7), texts, st.booleans(), st.lists(scalars, max_size=3),
    st.integers(65, 3000).map(lambda d: Raw(nested(d))),
)
"""A value no numeric setting accepts (every range lies within -1e7..1e7)."""
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


def numeric_settings() -> list[tuple[str, str]]:
    import dataclasses

    from voice_trainer.config import Config

    cfg = Config()
    return [(s.name, f.name) for s in dataclasses.fields(cfg) for f in dataclasses.fields(getattr(cfg, s.name))
            if isinstance(getattr(getattr(cfg, s.name), f.name), int | float)
            and not isinstance(getattr(getattr(cfg, s.name), f.name), bool)]


@FUZZ
@given(key=st.sampled_from(numeric_settings()), value=out_of_every_range)
def test_fuzz_config_values(tmp_path, capsys, key, value):
    cfg = tmp_path / "fuzz.toml"
    cfg.write_text(f"[{key[0]}]\n{key[1]} = {toml_value(value)}\n", encoding="utf-8")
    line = fails_with_one_line(capsys, ["--config", str(cfg), "analyze", "--text", "hi", "--json"])
    assert line.startswith(f"voice-trainer: error: {cfg}") and ESC not in line


SCENARIO = tomllib.loads((REPO / "scenarios" / "late-package.toml").read_text())


def paths(data: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path (dict keys and list indexes) into ``data``."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


def replaced(data: object, path: tuple, value: object) -> object:
    data = json.loads(json.dumps(data))
    target = data
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return data


@FUZZ
@given(path=st.sampled_from(paths(SCENARIO)), value=hostile)
def test_fuzz_scenario_files(tmp_path, capsys, path, value):
    f = tmp_path / "late-package.toml"
    f.write_text(toml_doc(replaced(SCENARIO, path, value)), encoding="utf-8")
    rc = cli_main(["scenarios", "show", str(f)])
    out = capsys.readouterr()
    assert rc in (0, 2) and ESC not in out.out, (rc, out.err)
    if rc == 2:
        assert one_line(out.err).startswith(f"voice-trainer: error: {f}")


SCRIPT = {"scenario": "double-charge", "seed": 3, "max_turns": 2, "pass_mark": 50,
          "answers": [{"file": str(SAMPLES / "double-charge_good_1.wav"), "start_s": 1.0}]}


@FUZZ
@given(key=st.sampled_from(["seed", "max_turns", "pass_mark", "start_s", "title", "unknown\x1b"]),
       value=st.one_of(out_of_every_range, st.lists(hostile, max_size=2), st.dictionaries(texts, hostile)))
def test_fuzz_run_scripts(tmp_path, capsys, monkeypatch, key, value):
    import voice_trainer.speech.transcribe as tr

    if key == "title" and isinstance(value, str):
        value = [value]  # a string is a valid title
    if key == "seed" and isinstance(value, int) and not isinstance(value, bool):
        value = value + 0.5  # any whole number is a valid seed
    monkeypatch.setattr(tr, "load_model", lambda *a, **k: pytest.fail("the call started"))
    script = tmp_path / "s.toml"
    lines = [f'{k} = {toml_value(v)}' for k, v in SCRIPT.items() if k != "answers" and k != key]
    answer = {**SCRIPT["answers"][0]}
    if key == "start_s":
        answer.pop("start_s")
    body = "\n".join(lines) + "\n"
    if key not in ("start_s",):
        body += f"{json.dumps(key)} = {toml_value(value)}\n"
    body += "[[answers]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in answer.items())
    if key == "start_s":
        body += f"start_s = {toml_value(value)}\n"
    script.write_text(body, encoding="utf-8")
    line = fails_with_one_line(capsys, ["run", str(script), "--no-session"])
    assert line.startswith(f"voice-trainer: error: {script}") and ESC not in line


@pytest.mark.whisper
@FUZZ
@given(data=st.data())
def test_fuzz_session_files(session_dir, session, capsys, data):
    name = data.draw(st.sampled_from(["session.json", "turn_01.json"]))
    p = session / name
    record = json.loads((session_dir / name).read_text())
    key = data.draw(st.sampled_from(sorted(record)))
    value = data.draw(hostile)
    text = json.dumps({**record, key: "\0raw" if isinstance(value, Raw) else value}, allow_nan=True)
    p.write_text(text.replace('"\\u0000raw"', value) if isinstance(value, Raw) else text)
    rc = cli_main(["report", str(session), "--json"])
    out = capsys.readouterr()
    assert rc in (0, 2), (key, value, out.err)
    if rc == 2:
        one_line(out.err)
    else:
        json.loads(out.out)
    rc = cli_main(["report", str(session)])
    out = capsys.readouterr()
    assert rc in (0, 2) and ESC not in out.out, (key, value, out.err)
