"""Start-up and memory plumbing (issue 18): the CLI imports only the chosen command, models load in the background
in a fixed order, and freed heap memory goes back to the OS. Speed and memory figures: bench/bench_startup.py."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from voice_trainer import preload
from voice_trainer.cli import COMMANDS, chosen_command
from voice_trainer.config import Config
from voice_trainer.errors import UserError
from voice_trainer.speech import transcribe
from voice_trainer.speech.transcribe import Transcriber


@pytest.mark.parametrize(("argv", "expected"), [
    (["analyze", "a.wav"], "analyze"),
    (["--config", "analyze", "demo"], "demo"),  # --config's value is not the command
    (["--config=x.toml", "review", "call.wav"], "review"),
    (["--help"], None),
    (["--version"], None),
    ([], None),
    (["analyz"], None),  # unknown: the whole parser reports it with the list of commands
])
def test_chosen_command(argv: list[str], expected: str | None) -> None:
    assert chosen_command(argv) == expected


def _modules_after(argv: list[str]) -> set[str]:
    code = ("import sys; from voice_trainer.cli import build_parser, chosen_command; "
            f"build_parser(chosen_command({argv!r})); print(' '.join(sys.modules))")
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def test_one_command_imports_only_its_module() -> None:
    mods = _modules_after(["analyze", "x.wav"])
    assert "voice_trainer.cli.analyze" in mods
    others = {f"voice_trainer.cli.{c}" for c in COMMANDS} - {"voice_trainer.cli.analyze"}
    assert not mods & others
    assert not {"voice_trainer.call.session", "librosa", "scipy.signal", "numba"} & mods
    assert others <= _modules_after(["--help"])  # the full parser still lists every command


def test_release_returns_freed_heap() -> None:
    """100 MiB freed in blocks below glibc's mmap threshold, between blocks still in use, stay in RSS until
    :func:`memory.release`."""
    code = (
        "import numpy as np\n"
        "from voice_trainer import memory\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
        "pairs = [(np.ones(100_000 // 8), np.ones(1_000 // 8)) for _ in range(1000)]\n"
        "pins = [small for _big, small in pairs]\n"  # small blocks between the big ones pin the heap
        "del pairs\n"
        "before = rss(); ok = memory.release(); print(ok, before - rss())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "False":
        pytest.skip("not glibc: release() does nothing here")
    assert float(out[1]) > 50  # MiB handed back


@pytest.mark.whisper
@pytest.mark.slow
def test_preload_builds_encoder_then_whisper_and_the_first_use_waits() -> None:
    from voice_trainer.analysis.listening import sentence_encoder

    cfg = Config()
    tr = Transcriber(cfg.transcribe)
    loading = preload.start(cfg, tr)
    # the loading lock is taken before start() returns: a first use of Whisper here waits for the preloader
    got = transcribe.loading_lock().acquire(blocking=False)
    if got:
        transcribe.loading_lock().release()
    assert not got or loading.done.is_set()
    model = tr.model  # waits, then reuses the model the preloader loaded
    assert loading.wait(120)
    assert sentence_encoder.get_encoder() is sentence_encoder.get_encoder()
    assert tr.model is model is transcribe.load_model(cfg.transcribe.model, compute_type=cfg.transcribe.compute_type)
    parked = [t for t in threading.enumerate() if t.name == "voice-trainer-preload"]
    assert parked and all(t.daemon for t in parked)  # kept alive on purpose (see preload's docstring)


def test_preload_error_surfaces_where_the_model_is_used(tmp_path) -> None:
    cfg = Config()
    cfg.listening.learned_model = False
    tr = Transcriber(cfg.transcribe)
    tr.config.model = str(tmp_path)  # an empty folder: not a Whisper model
    loading = preload.start(cfg, tr, listening=False)
    assert loading.wait(60)  # the preloader swallowed the error ...
    with pytest.raises(UserError, match="not a complete CTranslate2"):
        _ = tr.model  # ... and the user gets it, as one line, where the model is needed


def test_limit_arenas_caps_glibc_heaps_unless_the_user_chose() -> None:
    code = ("import os, sys; from voice_trainer import memory; a = memory.limit_arenas(); "
            "os.environ['MALLOC_ARENA_MAX'] = '4'; print(a, memory.limit_arenas())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "False":
        pytest.skip("not glibc: limit_arenas() does nothing here")
    assert out == ["True", "False"]  # capped; and $MALLOC_ARENA_MAX, when set, is left to glibc
