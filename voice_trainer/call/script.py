"""Scripted runs: a scenario, canned answer files and the expected ranges, as a TOML file.

Used by ``voice-trainer run SCRIPT.toml`` (trainers' own canned suites, CI) and by ``voice-trainer demo``.
Example::

    scenario = "double-charge"        # a scenario id (built-in or from --scenarios-dir)
    seed = 0
    baseline = "baseline_calm.wav"    # optional: a calm clip or a voice profile JSON
    pass_mark = 60                    # optional: the overall score needed to pass

    [[answers]]
    file = "good_1.wav"               # paths are relative to this file
    [[answers]]
    file = "poor_1.wav"
    start_s = -1.5                    # optional: seconds from the start of the caller's line; negative = that
                                      # many seconds before the caller finishes (talking over them)

    [expect]                          # optional: [min, max] ranges; every one must hold to pass
    overall = [60, 100]
    calmness = [70, 100]
    listening = [50, 100]
    turn_taking = [80, 100]
    interruptions = [0, 0]            # agent interruptions over the call
    final_anger = [0, 50]
    outcome = ["resolved", "referred"]

A script file is data, never code; unknown keys are errors.
"""

from __future__ import annotations

import contextlib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import MAX_COUNT
from ..errors import UserError
from ..inputs import NestingError, loads_toml, read_input_text
from .session import MAX_ANSWER_START_S, AnswerSpec

TOP_KEYS = {"scenario", "seed", "baseline", "pass_mark", "answers", "expect", "title", "max_turns"}
ANSWER_KEYS = {"file", "start_s", "note"}
RANGE_KEYS = ("overall", "calmness", "listening", "turn_taking", "interruptions", "final_anger")
EXPECT_KEYS = {*RANGE_KEYS, "outcome"}


@dataclass
class RunScript:
    """A parsed run script (paths resolved against the script's folder)."""

    path: str
    scenario: str
    answers: list[AnswerSpec]
    seed: int = 0
    baseline: str | None = None
    pass_mark: float | None = None
    max_turns: int | None = None
    title: str = ""
    expect: dict[str, Any] = field(default_factory=dict)


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(f"{key}") or f"[{key}" in line:
            return i
    return 1


def load_script(path: str | os.PathLike) -> RunScript:
    """Read and check a run script; every problem is a ``FILE:LINE: what is wrong`` UserError."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such run script")
    try:
        text = read_input_text(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read the run script ({getattr(exc, 'strerror', None) or 'not UTF-8 text'}); "
                        "give a .toml run script") from None
    try:
        data = loads_toml(text)
    except NestingError as exc:
        raise UserError(f"{p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or 1
        raise UserError(f"{p}:{line}: not valid TOML ({str(exc).split(' (at')[0]})") from None

    def bad(key: str, msg: str) -> UserError:
        return UserError(f"{p}:{_line_of(text, key)}: {msg}")

    for k in data:
        if k not in TOP_KEYS:
            raise bad(k, f"unknown key {k!r}; allowed: {', '.join(sorted(TOP_KEYS))}")
    if not isinstance(data.get("scenario"), str):
        raise bad("scenario", "'scenario' (a scenario id) is required")
    answers = data.get("answers")
    if not isinstance(answers, list) or not answers:
        raise bad("answers", "at least one [[answers]] table with a 'file' is required")
    specs = []
    for a in answers:
        if not isinstance(a, dict) or not isinstance(a.get("file"), str):
            raise bad("answers", "each [[answers]] needs file = \"...\"")
        for k in a:
            if k not in ANSWER_KEYS:
                raise bad(k, f"unknown key {k!r} in [[answers]]; allowed: {', '.join(sorted(ANSWER_KEYS))}")
        start = a.get("start_s")
        if start is not None and (isinstance(start, bool) or not isinstance(start, int | float)
                                  or not math.isfinite(start)):
            raise bad("start_s", "start_s must be a number of seconds")
        if start is not None and abs(start) > MAX_ANSWER_START_S:
            raise bad("start_s", f"start_s must be between {-MAX_ANSWER_START_S:g} and {MAX_ANSWER_START_S:g} "
                      f"seconds, not {start!r}")
        f = Path(a["file"])
        specs.append(AnswerSpec(str(f if f.is_absolute() else p.parent / f), None if start is None else float(start)))
    expect = data.get("expect", {})
    if not isinstance(expect, dict):
        raise bad("expect", "[expect] must be a table")
    for k, v in expect.items():
        if k not in EXPECT_KEYS:
            raise bad(k, f"unknown key {k!r} in [expect]; allowed: {', '.join(sorted(EXPECT_KEYS))}")
        if k == "outcome":
            if isinstance(v, str):
                expect[k] = [v]
            elif not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise bad(k, "outcome must be a string or a list of strings")
        elif not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                                and math.isfinite(x) for x in v) and v[0] <= v[1]):
            raise bad(k, f"{k} must be a range [min, max]")
    # checked here, before the call starts: a wrong type would otherwise surface only after the whole call ran
    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: object) -> bool:
        return (is_int(v) or isinstance(v, float)) and math.isfinite(v)  # type: ignore[arg-type]

    if "seed" in data and not is_int(data["seed"]):
        raise bad("seed", f"seed must be a whole number (e.g. seed = 3), not {data['seed']!r}")
    if "max_turns" in data and not (is_int(data["max_turns"]) and 1 <= data["max_turns"] <= MAX_COUNT):
        raise bad("max_turns", f"max_turns must be a whole number of turns from 1 to {MAX_COUNT} (the limit of "
                  f"session.max_turns), not {data['max_turns']!r}")
    if "pass_mark" in data and not (is_num(data["pass_mark"]) and 0 <= data["pass_mark"] <= 100):
        raise bad("pass_mark", f"pass_mark must be a number from 0 to 100, not {data['pass_mark']!r}")
    for key in ("title", "baseline"):
        if key in data and not isinstance(data[key], str):
            raise bad(key, f"{key} must be a string in quotes, not {data[key]!r}")
    baseline = data.get("baseline")
    if baseline is not None:
        b = Path(baseline)
        baseline = str(b if b.is_absolute() else p.parent / b)
    return RunScript(
        path=str(p), scenario=data["scenario"], answers=specs, seed=int(data.get("seed", 0)), baseline=baseline,
        pass_mark=data.get("pass_mark"), max_turns=data.get("max_turns"), title=str(data.get("title", "")),
        expect=expect,
    )


@dataclass
class Check:
    """One expectation and whether it held."""

    name: str
    expected: Any
    actual: Any
    passed: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "expected": self.expected, "actual": self.actual, "passed": self.passed}


def check_expectations(script: RunScript, session: dict) -> list[Check]:
    """Compare a session's results (``SessionResult.to_dict()``) with the script's expectations and pass mark."""
    card = session["scorecard"]
    actual: dict[str, Any] = {
        "overall": card.get("overall"),
        "calmness": card.get("calmness"),
        "listening": card.get("listening"),
        "turn_taking": card.get("turn_taking"),
        "interruptions": sum(len(t["turns"]["interruptions"]) for t in session["turns"]),
        "final_anger": session["caller"]["anger"],
        "outcome": session.get("outcome"),
    }
    checks = []
    for k, v in script.expect.items():
        got = actual[k]
        if k == "outcome":
            ok = got in v
        else:
            ok = got is not None and v[0] <= got <= v[1]
        checks.append(Check(k, v, got, ok))
    if script.pass_mark is not None:
        got = actual["overall"]
        checks.append(Check("pass_mark", script.pass_mark, got, got is not None and got >= script.pass_mark))
    return checks


def default_session_dir(prefix: str) -> Path:
    """``./sessions/<prefix>-YYYYmmdd-HHMMSS`` (a new folder each run)."""
    import time

    base = Path("sessions") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    p, n = base, 1
    while p.exists():
        n += 1
        p = base.with_name(f"{base.name}-{n}")
    return p


def execute(script: RunScript, cfg, transcriber, *, session_dir: str | os.PathLike | None, mode: str = "file",
            scenarios_dirs: tuple = (), on_event=None):
    """Run a script through the same call loop as live practice, keeping the session folder.

    Returns
    -------
    (SessionResult, list of Check, Path or None)
    """
    from ..profile import resolve_baseline
    from .scenarios import get_scenario
    from .session import FileAnswers, SessionFolder, run_session

    scenario = get_scenario(script.scenario, scenarios_dirs)
    answers = FileAnswers(script.answers, cfg)
    baseline = resolve_baseline(script.baseline, cfg, transcriber) if script.baseline else None
    folder = None
    if session_dir is not None:
        folder = SessionFolder(session_dir, scenario, cfg, mode=mode, model=transcriber.model_name, seed=script.seed,
                               settings={"script": script.path, "answers": [a.path for a in script.answers],
                                         "baseline": script.baseline})
    try:
        result = run_session(scenario, cfg, transcriber, answers, baseline=baseline, seed=script.seed,
                             max_turns=script.max_turns, writer=folder, on_event=on_event)
    except BaseException as exc:
        if folder is not None:
            interrupted = isinstance(exc, KeyboardInterrupt)
            with contextlib.suppress(OSError, UserError):  # best effort: the disk may be what failed
                folder.finish("interrupted" if interrupted else "failed",
                              error="stopped with Ctrl-C" if interrupted else f"{type(exc).__name__}: {exc}")
        raise
    if folder is not None:
        folder.finish("completed", result)
    return result, check_expectations(script, result.to_dict()), (folder.dir if folder else None)
