"""Scenario files: the schema, validation with ``FILE:LINE`` messages, and where scenarios are found.

A scenario is a TOML file (data, never code: it is parsed with :mod:`tomllib` and its strings are used as they
are, never formatted or evaluated). Layout::

    id = "late-package"            # lower-case letters, digits and "-"; must equal the file name's stem
    title = "A birthday present two weeks late"
    difficulty = 1                 # 1 easy .. 3 hard
    goal = "resolve"               # "resolve" (the call should end resolved) or "refer" (supervisor referral)
    summary = "..."                # optional: one or two sentences for the trainee
    facts = ["...", "..."]         # what the agent should acknowledge and paraphrase (short strings)
    resolutions = ["...", "..."]   # outcomes the agent may acceptably offer
    cannot_grant = ["..."]         # optional: demands the agent must decline (saying what can be done instead)

    [persona]
    name = "Dana"
    voice = "en-us+f3"             # espeak-ng voice name (+variant); other drivers pick the closest voice
    anger = 70                     # starting anger 0-100

    [reactions]                    # all optional; how this caller reacts
    hang_up_at = 95                # anger at or above which the caller hangs up
    accept_below = 40              # a concrete offer is accepted only when anger is at or below this
    anger_floor = 0                # anger never falls below this (an abusive caller cannot be placated)
    max_turns = 10                 # the caller gives up (hangs up) after this many agent turns
    requires = ["acknowledge"]     # technique ids the agent must have used before an offer is accepted
    triggers = { policy_wall = 1.5 }   # red-flag id -> weight (default 1) on the anger rise
    soothers = { paraphrase = 1.5 }    # technique id -> weight (default 1) on the anger fall
    interrupt_after_s = 12         # the caller cuts in after the agent talked this long (s) without acknowledging
                                   # them (from anger caller.cut_in_from_anger; default by difficulty)

    [details]                      # optional: what this caller knows, in their own words, told when asked
    order_number = "It's order 44721."      # keys: see understand.DETAIL_KEYS (order_number, account_number,
    order_date = "I ordered it on the 2nd." # reference, name, address, email, phone, order_date, date, amount,
                                            # card, item, tried); unknown keys are errors

    [lines.opening]                # one table per stage; one list per anger band (calm, upset, furious, any)
    calm = ["..."]
    upset = ["..."]
    furious = ["..."]

Stages: ``opening`` (first line), ``vent`` (nothing useful heard yet), ``details`` (the agent is listening or
asking), ``negotiate`` (an offer was made but not accepted), ``interrupt`` (the caller cuts in: the agent talked
past ``reactions.interrupt_after_s`` without acknowledging them; optional, generic lines otherwise), and the
closing stages ``resolved``, ``referred``, ``hung_up``. Every stage needs at least one band; a missing band falls
back to ``any`` and then to the nearest band.

Built-in scenarios live in the repository's top-level ``scenarios/`` folder. The package reaches them through
``voice_trainer/data/scenarios``, a symbolic link to that folder, which setuptools follows when it builds a
wheel, so an installed package carries the same files as package data. Where the link is not a folder (a
checkout without symlink support) the repository folder is used directly. Users add their own folders with
``--scenarios-dir`` or the ``caller.scenario_dirs`` config key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis import ids
from ..errors import UserError
from ..inputs import NestingError, loads_toml, read_input_bytes
from .understand import DETAIL_KEYS

STAGES = ("opening", "vent", "details", "negotiate", "interrupt", "resolved", "referred", "hung_up")
OPTIONAL_STAGES = ("interrupt",)
"""Stages a scenario may leave out; the caller then uses ``DEFAULT_LINES`` for them."""
DEFAULT_LINES: dict[str, dict[str, tuple[str, ...]]] = {
    "interrupt": {
        "calm": ("Sorry, can I just stop you there for a second?",),
        "upset": ("Hang on, hang on. You're not listening to what I'm saying.",
                  "Can I get a word in here? That's not what I asked."),
        "furious": ("Stop. Just stop talking and listen to me for once!",
                    "No, no, no. You're just reading me a script. Listen to me!"),
    },
}
CLOSING_STAGES = {ids.RESOLVED: "resolved", ids.REFERRED: "referred", ids.HUNG_UP: "hung_up"}
BANDS = ("calm", "upset", "furious")
BAND_KEYS = (*BANDS, "any")
GOALS = ("resolve", "refer")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
VOICE_RE = re.compile(r"^[A-Za-z0-9_./ ()-]{1,64}(\+[A-Za-z0-9_-]{1,32})?$")
MAX_LINE_CHARS = 400
"""A caller line longer than this is an error (TTS of very long lines is slow and unnatural on a phone)."""

TOP_KEYS = ("id", "title", "difficulty", "goal", "summary", "facts", "resolutions", "cannot_grant", "persona",
            "reactions", "lines", "examples", "details")
EXAMPLE_KEYS = ("acknowledge", "restate", "ask", "ownership", "next_step", "choices", "thank", "boundary",
                "let_finish", "steady_voice")
"""Keys of the optional ``[examples]`` table: better wording for this situation, one line per technique, used in
the feedback's tips and the session focus (``report/composer.py``)."""
REQUIRED_TOP = ("id", "title", "difficulty", "persona", "facts", "resolutions", "lines")
PERSONA_KEYS = ("name", "voice", "anger")
REACTION_KEYS = ("hang_up_at", "accept_below", "anger_floor", "max_turns", "requires", "triggers", "soothers",
                 "interrupt_after_s")


@dataclass(frozen=True)
class Persona:
    """Who is calling."""

    name: str
    voice: str
    """espeak-ng voice name, optionally with a variant (``en-us+f3``)."""
    anger: int
    """Starting anger, 0-100."""


@dataclass(frozen=True)
class Reactions:
    """How this caller reacts (see the module docstring)."""

    hang_up_at: int = 95
    accept_below: int = 40
    anger_floor: int = 0
    max_turns: int = 10
    requires: tuple[str, ...] = ()
    triggers: dict[str, float] = field(default_factory=dict)
    soothers: dict[str, float] = field(default_factory=dict)
    interrupt_after_s: int | None = None
    """Seconds the agent may talk without acknowledging the caller before the caller cuts in (None: the
    difficulty's default, ``caller.cut_in_after_s``)."""


@dataclass(frozen=True)
class Scenario:
    """One validated scenario."""

    id: str
    title: str
    difficulty: int
    goal: str
    summary: str
    persona: Persona
    facts: tuple[str, ...]
    resolutions: tuple[str, ...]
    cannot_grant: tuple[str, ...]
    lines: dict[str, dict[str, tuple[str, ...]]]
    reactions: Reactions
    source: str = ""
    """The file it was read from."""
    examples: dict[str, str] = field(default_factory=dict)
    """Better wording for this situation by technique (keys: ``EXAMPLE_KEYS``)."""
    details: dict[str, str] = field(default_factory=dict)
    """What the caller knows (keys: ``understand.DETAIL_KEYS``), in the caller's words: the answer when the agent
    asks for it. Empty: the caller has no details to give (it answers questions with its stage lines)."""

    def lines_for(self, stage: str, band: str) -> tuple[str, ...]:
        """The caller's possible lines for ``stage`` at anger ``band`` (falls back to ``any``, then the nearest
        band)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
        if band not in BANDS:
            raise ValueError(f"unknown band {band!r}; known: {', '.join(BANDS)}")
        table = self.lines.get(stage) or DEFAULT_LINES[stage]
        if band in table:
            return table[band]
        if "any" in table:
            return table["any"]
        i = BANDS.index(band)
        for d in (1, 2):
            for j in (i - d, i + d):
                if 0 <= j < len(BANDS) and BANDS[j] in table:
                    return table[BANDS[j]]
        raise AssertionError("validated scenario has a stage without lines")  # pragma: no cover

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "difficulty": self.difficulty,
            "goal": self.goal,
            "summary": self.summary,
            "persona": {"name": self.persona.name, "voice": self.persona.voice, "anger": self.persona.anger},
            "facts": list(self.facts),
            "resolutions": list(self.resolutions),
            "cannot_grant": list(self.cannot_grant),
            "reactions": {
                "hang_up_at": self.reactions.hang_up_at,
                "accept_below": self.reactions.accept_below,
                "anger_floor": self.reactions.anger_floor,
                "max_turns": self.reactions.max_turns,
                "requires": list(self.reactions.requires),
                "triggers": dict(self.reactions.triggers),
                "soothers": dict(self.reactions.soothers),
                "interrupt_after_s": self.reactions.interrupt_after_s,
            },
            "lines": {s: {b: list(v) for b, v in t.items()} for s, t in self.lines.items()},
            "examples": dict(self.examples),
            "details": dict(self.details),
            "source": self.source,
        }


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # about the whole file (it cannot be read): no line to point at
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ScenarioError(UserError):
    """A scenario file that cannot be used. ``problems`` lists everything found; the message is the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problem(s); run `voice-trainer scenarios validate`)" if len(
            problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


# --------------------------------------------------------------------------------------------------------------
# Finding the line of a key in the TOML source
# --------------------------------------------------------------------------------------------------------------

_HEADER_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_INLINE_KEY_RE = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class _LineIndex:
    """Maps key paths (``("persona", "anger")``) to the 1-based line where they are defined."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.where: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for n, raw in enumerate(self.lines, start=1):
            m = _HEADER_RE.match(raw)
            if m and not raw.lstrip().startswith("#"):
                table = _split_key(m.group(1))
                for k in range(1, len(table) + 1):  # [lines.opening] also locates "lines"
                    self.where.setdefault(table[:k], n)
                continue
            m = _KEY_RE.match(raw)
            if m:
                path = table + _split_key(m.group(1))
                for k in range(len(table) + 1, len(path) + 1):
                    self.where.setdefault(path[:k], n)
                for k in _INLINE_KEY_RE.findall(raw[m.end():]):  # keys of an inline table on the same line
                    self.where.setdefault(path + _split_key(k), n)

    def line(self, path: Sequence[str | int], value: object = None) -> int:
        """Line of the longest known prefix of ``path``; for list items, the line holding the item's text."""
        keys = tuple(p for p in path if isinstance(p, str))
        for k in range(len(keys), 0, -1):
            if keys[:k] in self.where:
                n = self.where[keys[:k]]
                if isinstance(value, str) and value and k == len(keys):
                    for m in range(n, min(n + 200, len(self.lines) + 1)):
                        if value in self.lines[m - 1]:
                            return m
                return n
        return 1


# --------------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, file: str, text: str):
        self.file = file
        self.index = _LineIndex(text)
        self.problems: list[Problem] = []

    def err(self, path: Sequence[str | int], message: str, value: object = None) -> None:
        self.problems.append(Problem(self.file, self.index.line(path, value), message))

    @staticmethod
    def name(path: Sequence[str | int]) -> str:
        out = ""
        for p in path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out

    def unknown(self, table: dict, allowed: Iterable[str], path: tuple[str, ...]) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                where = f" in [{'.'.join(path)}]" if path else ""
                self.err((*path, key), f"unknown key {key!r}{where}; allowed: {', '.join(allowed)}")

    def text(self, value: object, path: tuple, *, max_chars: int = MAX_LINE_CHARS) -> str | None:
        if not isinstance(value, str):
            self.err(path, f"{self.name(path)} must be a string, not {_tname(value)}")
            return None
        if not value.strip():
            self.err(path, f"{self.name(path)} is empty")
            return None
        if len(value) > max_chars:
            self.err(path, f"{self.name(path)} is {len(value)} characters long; the limit is {max_chars}", value)
            return None
        return value.strip()

    def integer(self, value: object, path: tuple, lo: int, hi: int) -> int | None:
        if type(value) is not int:
            self.err(path, f"{self.name(path)} must be a whole number {lo}-{hi}, not {_tname(value)} {value!r}")
            return None
        if not lo <= value <= hi:
            self.err(path, f"{self.name(path)} = {value} is out of range {lo}-{hi}")
            return None
        return value

    def texts(self, value: object, path: tuple, *, required: bool = True) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.err(path, f"{self.name(path)} must be a list of strings, not {_tname(value)}")
            return ()
        if required and not value:
            self.err(path, f"{self.name(path)} is an empty list; give at least one")
        out = []
        for i, v in enumerate(value):
            if not isinstance(v, str):
                self.err(path, f"{self.name((*path, i))} must be a string, not {_tname(v)}")
            elif not v.strip():
                self.err(path, f"{self.name((*path, i))} is an empty string")
            elif len(v) > MAX_LINE_CHARS:
                self.err(path, f"{self.name((*path, i))} is {len(v)} characters long; the limit is "
                               f"{MAX_LINE_CHARS}", v)
            else:
                out.append(v.strip())
        return tuple(out)

    def id_list(self, value: object, path: tuple, known: dict[str, int], what: str) -> tuple[str, ...]:
        items = self.texts(value, path, required=False)
        for v in items:
            if v not in known:
                self.err(path, f"unknown {what} id {v!r} in {self.name(path)}; known: {', '.join(sorted(known))}", v)
        return tuple(ids.canonical(v) for v in items if v in known)

    def weights(self, value: object, path: tuple, known: dict[str, int], what: str) -> dict[str, float]:
        if not isinstance(value, dict):
            self.err(path, f"{self.name(path)} must be a table of {what} id = weight, not {_tname(value)}")
            return {}
        out = {}
        for k, w in value.items():
            if k not in known:
                self.err((*path, k), f"unknown {what} id {k!r} in {self.name(path)}; known: {', '.join(sorted(known))}")
            elif isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 5:
                self.err((*path, k), f"{self.name((*path, k))} must be a number 0-5, not {w!r}")
            else:
                out[ids.canonical(k)] = float(w)
        return out


def _tname(v: object) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "true/false", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)


def parse_scenario(text: str, file: str = "<scenario>", expect_id: str | None = None) -> Scenario:
    """Parse and validate the text of a scenario file.

    Parameters
    ----------
    text : str
        The TOML source.
    file : str
        Name used in messages.
    expect_id : str, optional
        When given (the file's stem), the ``id`` key must equal it.

    Raises
    ------
    ScenarioError
        With every problem found, each as ``FILE:LINE: what is wrong``.
    """
    data = _load_toml(text, file)
    c = _Checker(file, text)
    c.unknown(data, TOP_KEYS, ())
    for key in REQUIRED_TOP:
        if key not in data:
            c.problems.append(Problem(file, 1, f"missing required key {key!r}"))
    sid, title, difficulty, goal, summary = _header(c, data, expect_id)
    facts = c.texts(data.get("facts", ["x"]), ("facts",))
    for i, f in enumerate(facts):
        if len(f) > 120:
            c.err(("facts",), f"facts[{i}] is {len(f)} characters; keep facts short (at most 120)", f)
    resolutions = c.texts(data.get("resolutions", ["x"]), ("resolutions",))
    cannot_grant = c.texts(data.get("cannot_grant", []), ("cannot_grant",), required=False)
    persona = _persona(c, data)
    reactions = _reactions(c, data, persona, goal)
    lines = _lines(c, data)
    examples = _examples(c, data)
    details = _details(c, data)
    if c.problems:
        c.problems.sort(key=lambda pr: pr.line)
        raise ScenarioError(c.problems)
    return Scenario(sid, title, difficulty, goal, summary, persona, facts, resolutions, cannot_grant, lines,
                    reactions, file, examples, details)


def _load_toml(text: str, file: str) -> dict:
    """The TOML table, or a ScenarioError naming the line TOML stopped at."""
    try:
        return loads_toml(text)
    except NestingError as exc:
        raise ScenarioError([Problem(file, 0, str(exc))]) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m.group(1)) if m else 1
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) if m else msg
        raise ScenarioError([Problem(file, line, f"not valid TOML: {reason}")]) from None


def _header(c: _Checker, data: dict, expect_id: str | None) -> tuple[str, str, int, str, str]:
    """id, title, difficulty, goal and summary."""
    sid = c.text(data.get("id", "x"), ("id",), max_chars=64) or ""
    if "id" in data and sid and not ID_RE.match(sid):
        c.err(("id",), f"id {sid!r} must be lower-case letters, digits and '-' (like 'late-package')")
    elif "id" in data and sid and expect_id is not None and sid != expect_id:
        c.err(("id",), f"id {sid!r} does not match the file name; rename the file to {sid}.toml or change the id")
    title = c.text(data.get("title", "x"), ("title",), max_chars=120) or ""
    difficulty = c.integer(data.get("difficulty", 1), ("difficulty",), 1, 3) or 1
    goal = data.get("goal", "resolve")
    if goal not in GOALS:
        c.err(("goal",), f"goal must be one of {', '.join(map(repr, GOALS))}, not {goal!r}")
        goal = "resolve"
    summary = ""
    if "summary" in data:
        summary = c.text(data["summary"], ("summary",), max_chars=600) or ""
    return sid, title, difficulty, goal, summary


def _persona(c: _Checker, data: dict) -> Persona:
    p = data.get("persona", {})
    if not isinstance(p, dict):
        c.err(("persona",), "persona must be a table with name, voice and anger")
        return Persona("", "", 50)
    c.unknown(p, PERSONA_KEYS, ("persona",))
    for key in PERSONA_KEYS:
        if "persona" in data and key not in p:
            c.err(("persona",), f"persona is missing {key!r}")
    name = c.text(p.get("name", "x"), ("persona", "name"), max_chars=60) or ""
    voice = c.text(p.get("voice", "en"), ("persona", "voice"), max_chars=100) or ""
    if voice and not VOICE_RE.match(voice):
        c.err(("persona", "voice"), f"persona.voice {voice!r} is not a voice name (like 'en-us' or 'en-us+f3')")
    anger = c.integer(p.get("anger", 50), ("persona", "anger"), 0, 100)
    return Persona(name, voice, 50 if anger is None else anger)


def _reactions(c: _Checker, data: dict, persona: Persona, goal: str) -> Reactions:
    r = data.get("reactions", {})
    if not isinstance(r, dict):
        c.err(("reactions",), "reactions must be a table")
        return Reactions()
    c.unknown(r, REACTION_KEYS, ("reactions",))
    d = Reactions()
    vals = {k: c.integer(r.get(k, getattr(d, k)), ("reactions", k), 0, 100) for k in
            ("hang_up_at", "accept_below", "anger_floor")}
    max_turns = c.integer(r.get("max_turns", d.max_turns), ("reactions", "max_turns"), 1, 50)
    requires = c.id_list(r.get("requires", []), ("reactions", "requires"), ids.TECHNIQUES, "technique")
    triggers = c.weights(r.get("triggers", {}), ("reactions", "triggers"), ids.RED_FLAGS, "red-flag")
    soothers = c.weights(r.get("soothers", {}), ("reactions", "soothers"), ids.TECHNIQUES, "technique")
    interrupt_after = None
    if "interrupt_after_s" in r:
        interrupt_after = c.integer(r["interrupt_after_s"], ("reactions", "interrupt_after_s"), 3, 120)
    if None in vals.values():
        return Reactions()
    if not vals["anger_floor"] < vals["hang_up_at"]:
        c.err(("reactions", "anger_floor"), "reactions.anger_floor must be below reactions.hang_up_at")
    if not vals["accept_below"] < vals["hang_up_at"]:
        c.err(("reactions", "accept_below"), "reactions.accept_below must be below reactions.hang_up_at")
    if persona.anger >= vals["hang_up_at"]:
        c.err(("persona", "anger"), f"persona.anger {persona.anger} is at or above reactions.hang_up_at "
                                    f"{vals['hang_up_at']}: the caller would hang up at once")
    if goal == "resolve" and vals["anger_floor"] > vals["accept_below"]:
        c.err(("reactions", "anger_floor"), "goal is 'resolve' but anger_floor is above accept_below, so "
                                            "no offer could ever be accepted; use goal = 'refer'")
    return Reactions(vals["hang_up_at"], vals["accept_below"], vals["anger_floor"], max_turns or 10,
                     requires, triggers, soothers, interrupt_after)


def _lines(c: _Checker, data: dict) -> dict[str, dict[str, tuple[str, ...]]]:
    """The caller's lines per stage and anger band."""
    lines: dict[str, dict[str, tuple[str, ...]]] = {}
    ln = data.get("lines", {})
    if not isinstance(ln, dict):
        c.err(("lines",), "lines must be a table of stages ([lines.opening], ...)")
        return lines
    c.unknown(ln, STAGES, ("lines",))
    for stage in STAGES:
        if stage in OPTIONAL_STAGES and stage not in ln:
            continue
        if "lines" in data and stage not in ln:
            c.err(("lines",), f"lines.{stage} is missing; every stage needs lines ({', '.join(STAGES)})")
            continue
        t = ln.get(stage, {"any": ["x"]})
        if not isinstance(t, dict):
            c.err(("lines", stage), f"lines.{stage} must be a table of bands ({', '.join(BAND_KEYS)})")
            continue
        c.unknown(t, BAND_KEYS, ("lines", stage))
        if not any(b in t for b in BAND_KEYS):
            c.err(("lines", stage), f"lines.{stage} has no band; give at least one of {', '.join(BAND_KEYS)}")
        lines[stage] = {b: c.texts(t[b], ("lines", stage, b)) for b in BAND_KEYS if b in t}
    return lines


def _examples(c: _Checker, data: dict) -> dict[str, str]:
    """Example wordings per technique, used in tips."""
    examples: dict[str, str] = {}
    ex = data.get("examples", {})
    if not isinstance(ex, dict):
        c.err(("examples",), "examples must be a table of lines (" + ", ".join(EXAMPLE_KEYS) + ")")
        return examples
    c.unknown(ex, EXAMPLE_KEYS, ("examples",))
    for k in EXAMPLE_KEYS:
        if k in ex:
            examples[k] = c.text(ex[k], ("examples", k)) or ""
    return examples


def _details(c: _Checker, data: dict) -> dict[str, str]:
    """What the caller knows, by detail key, in the caller's words."""
    details: dict[str, str] = {}
    d = data.get("details", {})
    if not isinstance(d, dict):
        c.err(("details",), "details must be a table of lines (" + ", ".join(DETAIL_KEYS) + ")")
        return details
    c.unknown(d, DETAIL_KEYS, ("details",))
    for k in DETAIL_KEYS:
        if k in d:
            details[k] = c.text(d[k], ("details", k)) or ""
    return details


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read and validate one scenario file.

    Raises
    ------
    ScenarioError
        Unreadable file or any schema problem (``FILE:LINE: ...``).
    """
    p = Path(path)
    if not p.exists():
        raise ScenarioError([Problem(str(p), 0, "no such scenario file; check the path")])
    try:
        raw = read_input_bytes(p)
    except OSError as exc:
        raise ScenarioError([Problem(str(p), 0, f"cannot read the file ({exc.strerror or exc}); check the path")]) \
            from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(str(p), line, "not UTF-8 text; save the file as UTF-8")]) from None
    return parse_scenario(text, str(p), expect_id=p.stem)


# --------------------------------------------------------------------------------------------------------------
# The library: built-in folder plus user folders
# --------------------------------------------------------------------------------------------------------------


def builtin_dir() -> Path:
    """The folder of built-in scenarios (package data in a wheel, the repository's ``scenarios/`` otherwise)."""
    here = Path(__file__).resolve().parent.parent  # the voice_trainer package folder
    packaged = here / "data" / "scenarios"
    if packaged.is_dir():
        return packaged
    return here.parent / "scenarios"


def scenario_dirs(extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Folders searched for scenarios: the built-in one, then ``extra`` in order."""
    return [builtin_dir(), *(Path(e).expanduser() for e in extra)]


def scenario_files(extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Every ``*.toml`` in the scenario folders, in search order (sorted within a folder).

    Raises
    ------
    UserError
        A user folder that does not exist.
    """
    files: list[Path] = []
    for i, d in enumerate(scenario_dirs(extra)):
        if not d.is_dir():
            if i == 0:
                continue
            raise UserError(f"{d}: scenarios folder not found; check --scenarios-dir or caller.scenario_dirs")
        files.extend(sorted(d.glob("*.toml")))
    return files


def load_library(extra: Iterable[str | os.PathLike] = ()) -> dict[str, Scenario]:
    """All scenarios by id, built-in first.

    Raises
    ------
    ScenarioError
        Any invalid file, or the same id in two files.
    """
    out: dict[str, Scenario] = {}
    problems: list[Problem] = []
    for f in scenario_files(extra):
        try:
            s = load_scenario(f)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        if s.id in out:
            problems.append(Problem(str(f), 1, f"duplicate scenario id {s.id!r} (also in {out[s.id].source}); "
                                               "rename one of them"))
            continue
        out[s.id] = s
    if problems:
        raise ScenarioError(problems)
    return out


def get_scenario(sid: str, extra: Iterable[str | os.PathLike] = ()) -> Scenario:
    """The scenario with id ``sid`` (a path to a ``.toml`` file also works).

    Raises
    ------
    UserError
        No such scenario (the message lists the known ids), or the file is invalid.
    """
    if sid.endswith(".toml") or os.sep in sid:
        return load_scenario(sid)
    extra = list(extra)
    for f in scenario_files(extra):
        if f.stem == sid:
            return load_scenario(f)
    known = ", ".join(sorted(f.stem for f in scenario_files(extra))) or "(none)"
    raise UserError(f"no scenario {sid!r}; known: {known} (see `voice-trainer scenarios list`)")
