"""The session folder: written atomically as each turn ends, read back whatever state a crash left it in.

Layout of one session folder::

    session.json        the session: scenario, settings, model, status, scores, anger trajectory, turn index
    turn_01.wav         stereo 16 kHz 16-bit: caller (the played reference) left, trainee (microphone) right
    turn_01.json        that turn's record (the turn schema below)
    turn_02.wav ...

The turn schema (``turn_NN.json``, ``schema_version`` 2; this is its one description). Every fact is stored
once; times are seconds from the start of the turn's WAV::

    schema_version, index, wav, duration_s, written_at      the store's own facts
    caller       {line: {text, stage, band, anger, final, outcome}, start_s, end_s, pushed_on}
    answer       {source ("microphone" or the answer file), start_s, barge_in_s, speech_end_s,
                  end_reason (silence | no_speech | max_length | file), extra (device alignment, latency...)}
    transcript   {text, words: [{word, start, end, probability}]}
    tone         ToneResult.to_dict(): calmness (the turn's calmness score), components with evidence, measures
    listening    ListeningResult.to_dict(): score, techniques, red_flags, facts, components with evidence
    turns        TurnsResult.to_dict(): interruptions, latencies, dead air, talk share, segments
    turn_taking  Score.to_dict(): score, components with evidence
    echo         EchoEstimate.to_dict() ({} when not estimated)
    observation  what the caller reacted to (techniques, red flags, interrupted, calmness, dead air)
    reaction     {anger_before, anger_after, changes: [{reason, delta, detail}], reply: caller line or null}
    nudges       the short feedback shown after the turn
    timings_s    seconds per analysis stage

The three turn scores are ``tone.calmness``, ``listening.score`` and ``turn_taking.score``. Schema 1 kept texts,
timings and anger both at the top level and under ``analysis``, and copied every turn into ``session.json``;
:func:`migrate_turn` reads it into this layout, so readers see one shape.

Every file is written to a temporary name in the same folder, flushed and fsynced, then renamed over the final
name (``os.replace``), and the folder is fsynced: a reader sees either the old file or the new one, never a
half-written one. For each turn the WAV is written first, then its JSON, then ``session.json``; the turn's JSON
is the mark that the turn is complete. A killed run loses at most the turn in progress: :func:`load_session`
rebuilds the turn list from the ``turn_NN.json`` files, ignores temporary files, and tolerates a missing or
damaged ``session.json``.

Statuses: ``in_progress`` (being written; a session whose writer was killed is read back as ``interrupted``,
see :func:`writer_gone`), ``completed``, ``interrupted`` (Ctrl-C, or killed),
``device_lost`` (the audio device went away mid-call), ``failed`` (an error stopped it; ``error`` says which).
"""

from __future__ import annotations

import os
import re
import socket
import types
import typing
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .atomic import atomic_write, write_json_atomic  # noqa: F401 - write_json_atomic is part of this API
from .config import SAMPLE_RATE
from .errors import UserError
from .inputs import loads_json, read_input_text

SCHEMA_VERSION = 2
"""Version of ``session.json``: 2 lists the turns instead of copying them (1 is read too)."""
STATUSES = ("in_progress", "completed", "interrupted", "device_lost", "failed")
SESSION_FILE = "session.json"
TURN_RE = re.compile(r"^turn_(\d{2,})\.json$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_atomic_write = atomic_write


def write_turn_wav(path: str | os.PathLike, reference: np.ndarray, mic: np.ndarray, sample_rate: int) -> Path:
    """Write a turn's stereo WAV atomically: reference (caller) left, microphone (trainee) right, 16-bit PCM."""
    n = max(len(reference), len(mic))
    stereo = np.zeros((n, 2), np.float32)
    stereo[: len(reference), 0] = reference
    stereo[: len(mic), 1] = mic
    p = Path(path)

    def write(tmp: str) -> None:
        sf.write(tmp, np.clip(stereo, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")

    _atomic_write(p, write, ".wav")
    return p


# ---------------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------------


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a record field declares (one level into lists)."""
    if hint is Any:
        return True
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (int, str, bool):
        return type(value) is hint
    origin, args = typing.get_origin(hint) or hint, typing.get_args(hint)
    if origin is dict:
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list) and (not args or all(_fits(v, args[0]) for v in value))
    return True


def _kind(hint: Any) -> str:
    """A field's declared type in words, for a message."""
    words = {str: "text", int: "a whole number", float: "a number", bool: "true or false", dict: "a table",
             list: "a list", type(None): "null"}
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " or ".join(_kind(h) for h in typing.get_args(hint))
    return words.get(typing.get_origin(hint) or hint, str(hint))


def _from_known(cls: type, data: dict) -> dict:
    """The keys of ``data`` that are fields of ``cls`` (newer files may carry keys this version lacks)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


TURN_SCHEMA = 2
"""Version of the turn record (``turn_NN.json``); older records are migrated on read (:func:`migrate_turn`)."""
TURN_FACT_KINDS: dict[str, type] = {
    **dict.fromkeys(("caller", "answer", "transcript", "tone", "listening", "turns", "turn_taking", "echo",
                     "observation", "reaction", "timings_s"), dict),
    **dict.fromkeys(("nudges", "model_files"), list),
}
"""The shape of each top-level fact of the turn schema (see the module docstring); null stands for "none"."""


def drop_mistyped_facts(facts: dict[str, Any]) -> list[str]:
    """Remove the top-level facts whose JSON type is not the schema's (a hand-edited or damaged turn file), so
    readers see them as missing; returns what was removed, for a note."""
    bad = [k for k, kind in TURN_FACT_KINDS.items() if facts.get(k) is not None and not isinstance(facts[k], kind)]
    notes = [f"ignored {k!r} ({type(facts.pop(k)).__name__} where {_kind(TURN_FACT_KINDS[k])} belongs)" for k in bad]
    return notes


@dataclass
class TurnRecord:
    """One completed turn: the store's own facts (file, length, time written) and the turn's facts.

    ``facts`` is the turn in the turn schema (see the module docstring), as written by the call loop
    (``TurnResult.to_dict()``); the properties below read the few fields the store and the reports need.
    """

    index: int
    """1-based turn number (``turn_01``)."""
    facts: dict[str, Any] = field(default_factory=dict)
    wav: str = ""
    """File name of the stereo WAV, relative to the session folder."""
    duration_s: float = 0.0
    written_at: str = ""

    @property
    def name(self) -> str:
        return f"turn_{self.index:02d}"

    def _part(self, key: str) -> dict:
        v = self.facts.get(key)
        return v if isinstance(v, dict) else {}

    @property
    def model_files(self) -> list[dict]:
        """The model files that produced this turn (model, file, short sha256, verified)."""
        v = self.facts.get("model_files")
        return list(v) if isinstance(v, list) else []

    @property
    def caller_text(self) -> str:
        return str((self._part("caller").get("line") or {}).get("text") or "")

    @property
    def trainee_text(self) -> str:
        return str(self._part("transcript").get("text") or "")

    @property
    def words(self) -> list[dict]:
        return list(self._part("transcript").get("words") or [])

    @property
    def barge_in_s(self) -> float | None:
        return self._part("answer").get("barge_in_s")

    @property
    def anger_before(self) -> float | None:
        return self._part("reaction").get("anger_before")

    @property
    def anger_after(self) -> float | None:
        return self._part("reaction").get("anger_after")

    @property
    def nudges(self) -> list[str]:
        return list(self.facts.get("nudges") or [])

    def to_dict(self) -> dict:
        facts = {k: v for k, v in self.facts.items() if k not in ("schema_version", "index", "wav", "duration_s",
                                                                  "written_at")}
        return {"schema_version": TURN_SCHEMA, "index": self.index, "wav": self.wav, "duration_s": self.duration_s,
                "written_at": self.written_at, **facts}

    @classmethod
    def from_dict(cls, data: dict) -> TurnRecord:
        if not isinstance(data, dict) or not isinstance(data.get("index"), int):
            raise ValueError("not a turn record (no integer 'index')")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > TURN_SCHEMA:
            raise ValueError(f"turn schema_version {version!r} is newer than this voice-trainer reads")
        data = migrate_turn(data) if version < TURN_SCHEMA else data
        facts = {k: v for k, v in data.items() if k not in ("schema_version", "index", "wav", "duration_s",
                                                            "written_at")}
        duration = data.get("duration_s")
        return cls(index=data["index"], facts=facts, wav=str(data.get("wav") or ""),
                   duration_s=float(duration) if _fits(duration, float) else 0.0,
                   written_at=str(data.get("written_at") or ""))


def migrate_turn(old: dict) -> dict:
    """A schema-1 turn record in the turn schema 2 layout.

    Schema 1 kept some facts twice: at the top level (``caller_text``, ``trainee_text``, ``words``, the timings,
    the anger, ``nudges``, ``source``) and again under ``analysis`` (rounded differently), with the three turn
    scores a third time under ``analysis.scores``. The top-level copy wins where both are present (it was the
    one written with more precision); ``analysis.scores`` is dropped (the scores live in their analyses).
    """
    a = old.get("analysis") if isinstance(old.get("analysis"), dict) else {}

    def first(*vals: Any) -> Any:
        return next((v for v in vals if v is not None), None)

    line = a.get("caller_line") or ({"text": old["caller_text"]} if old.get("caller_text") else None)
    return {
        "schema_version": TURN_SCHEMA,
        "index": old["index"],
        "wav": old.get("wav", ""),
        "duration_s": old.get("duration_s", 0.0),
        "written_at": old.get("written_at", ""),
        "caller": {"line": line, "start_s": old.get("caller_start_s"),
                   "end_s": first(old.get("caller_end_s"), a.get("caller_end_s")),
                   "pushed_on": bool(a.get("caller_pushed_on", False))},
        "answer": {"source": first(old.get("source"), a.get("answer_source"), "microphone"),
                   "start_s": first(old.get("answer_start_s"), a.get("answer_start_s")),
                   "barge_in_s": first(old.get("barge_in_s"), a.get("barge_in_s")),
                   "speech_end_s": a.get("speech_end_s"),
                   "end_reason": first(old.get("end_reason"), a.get("end_reason")),
                   "extra": {**(a.get("source_extra") or {}), **(old.get("extra") or {})}},
        "transcript": {"text": old.get("trainee_text") or a.get("transcript") or "",
                       "words": old.get("words") or a.get("words") or []},
        **{k: a.get(k) for k in ("tone", "listening", "turns", "turn_taking", "echo", "observation")},
        "reaction": {"anger_before": first(old.get("anger_before"), a.get("anger_before")),
                     "anger_after": first(old.get("anger_after"), a.get("anger_after")),
                     "changes": a.get("anger_changes") or [], "reply": a.get("reply")},
        "nudges": old.get("nudges") or a.get("nudges") or [],
        "timings_s": a.get("timings_s") or {},
    }


@dataclass
class SessionRecord:
    """A practice session as written to (and read back from) its folder."""

    schema_version: int = SCHEMA_VERSION
    session_id: str = ""
    status: str = "in_progress"
    mode: str = "live"
    """``live`` (microphone), ``file`` (``--answers``), ``demo``."""
    scenario: dict[str, Any] = field(default_factory=dict)
    """At least ``id`` and ``title``; whatever the scenario module gives."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Command-line settings and the config sections that shaped the session."""
    model: str | None = None
    model_files: list[dict] = field(default_factory=list)
    """The model files of the latest turn (each turn's record has its own)."""
    started_at: str = ""
    updated_at: str = ""
    ended_at: str | None = None
    anger_trajectory: list[float] = field(default_factory=list)
    """The caller's anger at the start and after each turn."""
    scores: dict[str, Any] = field(default_factory=dict)
    """The final scores' ``to_dict()`` (empty until the end)."""
    outcome: str | None = None
    """How the call ended: ``resolved``, ``referred``, ``hung_up``, ... (from the caller)."""
    error: str | None = None
    """Why the session stopped early (device lost, Ctrl-C)."""
    writer_pid: int | None = None
    """Process id of the program writing the session, and its host: a session still ``in_progress`` whose
    writer is gone (killed) is read back as ``interrupted`` by :func:`load_session`."""
    writer_host: str | None = None
    turns: list[TurnRecord] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """Filled by :func:`load_session` only: what it had to repair (never written)."""
    path: str | None = None
    """Filled by :func:`load_session` only: the folder read."""

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("turns", "recovered", "path")}
        out["turns"] = [{"index": t.index, "wav": t.wav, "json": f"{t.name}.json"} for t in self.turns]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> SessionRecord:
        if not isinstance(data, dict):
            raise ValueError("not a session record")
        version = data.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ValueError(f"session schema_version {version!r} is newer than this voice-trainer reads")
        kw = _from_known(cls, data)
        kw.pop("recovered", None)
        kw.pop("path", None)
        hints = typing.get_type_hints(cls)
        ignored = []
        for k in [k for k in kw if k != "turns"]:
            if not _fits(kw[k], hints[k]):  # a hand-edited or damaged value: the default, and a note saying so
                ignored.append(f"{SESSION_FILE}: ignored {k!r} ({type(kw.pop(k)).__name__} where "
                               f"{_kind(hints[k])} belongs)")
        turns = data.get("turns", [])
        # schema 2 lists the turns (their facts are in the turn files); schema 1 copied each turn here in full
        kw["turns"] = [TurnRecord.from_dict({"index": t.get("index"), "wav": t.get("wav", ""), "schema_version":
                                             TURN_SCHEMA}) for t in (turns if isinstance(turns, list) else [])
                       if isinstance(t, dict) and isinstance(t.get("index"), int)]
        kw["recovered"] = ignored
        kw["schema_version"] = SCHEMA_VERSION
        if not kw.get("scores") and isinstance(data.get("scorecard"), dict):  # the earliest session files
            kw["scores"] = data["scorecard"]
        if not kw.get("started_at") and isinstance(data.get("created_at"), str):
            kw["started_at"] = data["created_at"]
        return cls(**kw)

    @property
    def finished(self) -> bool:
        return self.status != "in_progress"


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------


class SessionWriter:
    """Write one session folder, turn by turn.

    Parameters
    ----------
    directory : path-like
        The session folder; created if missing. It must not already hold a session.
    record : SessionRecord
        The session's header (scenario, settings, model, mode, initial anger). Its turns must be empty.

    Examples
    --------
    >>> w = SessionWriter(folder, SessionRecord(scenario={"id": "late_package"}, model="tiny.en"))
    >>> w.write_turn(TurnRecord(index=1, facts={"transcript": {"text": "...", "words": []}}), reference, mic)
    >>> w.finish("completed", scores=score.to_dict())
    """

    def __init__(self, directory: str | os.PathLike, record: SessionRecord) -> None:
        self.dir = Path(directory)
        if (self.dir / SESSION_FILE).exists():
            raise UserError(f"{self.dir}: already holds a session; choose another --session-dir")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.dir}: cannot create the session folder ({exc.strerror})") from None
        if not os.access(self.dir, os.W_OK):
            raise UserError(f"{self.dir}: the session folder is not writable; choose another --session-dir")
        self.record = record
        if not record.session_id:
            record.session_id = self.dir.name
        record.started_at = record.started_at or _now()
        record.status = "in_progress"
        record.writer_pid, record.writer_host = os.getpid(), socket.gethostname()
        try:
            self._save()
        except OSError as exc:
            raise UserError(f"{self.dir}: cannot write {SESSION_FILE} ({exc.strerror}); free some disk space or "
                            "choose another --session-dir") from None

    def _save(self) -> None:
        self.record.updated_at = _now()
        write_json_atomic(self.dir / SESSION_FILE, self.record.to_dict())

    def _write_failed(self, exc: OSError, turn: TurnRecord) -> UserError:
        """The one-line error for a turn that could not be written: says what was kept."""
        kept = len({t.index for t in self.record.turns})
        return UserError(
            f"{self.dir}: cannot write turn {turn.index} ({exc.strerror or exc}); the session stopped there and "
            f"its {kept} finished turn(s) are kept in the folder: free some disk space, then run again "
            f"('voice-trainer report {self.dir}' shows what was kept)"
        )

    def write_turn(
        self, turn: TurnRecord, reference: np.ndarray, mic: np.ndarray, sample_rate: int = SAMPLE_RATE
    ) -> TurnRecord:
        """Write a completed turn: its stereo WAV, then its JSON, then the updated ``session.json``.

        ``turn.wav``, ``turn.duration_s`` and ``turn.written_at`` are filled in. When ``turn.anger_after`` is set
        it is appended to the anger trajectory.
        """
        turn.wav = f"{turn.name}.wav"
        turn.duration_s = round(max(len(reference), len(mic)) / sample_rate, 3)
        turn.written_at = _now()
        wav, js = self.dir / turn.wav, self.dir / f"{turn.name}.json"
        try:
            write_turn_wav(wav, reference, mic, sample_rate)
            write_json_atomic(js, turn.to_dict())
        except OSError as exc:  # e.g. the disk is full: nothing half-written of this turn is left behind
            if not js.exists():
                wav.unlink(missing_ok=True)
            raise self._write_failed(exc, turn) from None
        self.record.turns = [t for t in self.record.turns if t.index != turn.index] + [turn]
        if turn.anger_after is not None:
            self.record.anger_trajectory.append(float(turn.anger_after))
        try:
            self._save()
        except OSError as exc:  # the turn's own files are complete: reading the folder recovers it
            raise self._write_failed(exc, turn) from None
        return turn

    def update(self, **changes: Any) -> None:
        """Change header fields (``scores``, ``anger_trajectory``, ``outcome``, ...) and rewrite session.json."""
        for key, value in changes.items():
            if key in ("turns", "recovered", "path") or not hasattr(self.record, key):
                raise AttributeError(f"SessionRecord has no writable field {key!r}")
            setattr(self.record, key, value)
        try:
            self._save()
        except OSError as exc:
            kept = len({t.index for t in self.record.turns})
            raise UserError(f"{self.dir}: cannot update {SESSION_FILE} ({exc.strerror or exc}); the {kept} "
                            "finished turn(s) are kept in the folder: free some disk space, then run again") from None

    def update_turn_facts(self, index: int, facts: dict) -> None:
        """Rewrite the JSON of an already written turn with new facts (its WAV stays as it is).

        Used when something about a turn is only known after it was written (the latency of the caller's
        closing line, played after the last turn was saved).
        """
        turn = next((t for t in self.record.turns if t.index == index), None)
        if turn is None:
            raise KeyError(f"turn {index} was not written")
        turn.facts = facts
        try:
            write_json_atomic(self.dir / f"{turn.name}.json", turn.to_dict())
        except OSError as exc:
            raise self._write_failed(exc, turn) from None

    def finish(self, status: str = "completed", **changes: Any) -> SessionRecord:
        """Mark the session ended (``completed``, ``interrupted`` or ``device_lost``) and write it."""
        if status not in STATUSES or status == "in_progress":
            raise ValueError(f"status must be one of {STATUSES[1:]}, not {status!r}")
        self.record.status = status
        self.record.ended_at = _now()
        self.update(**changes)
        return self.record


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------


def writer_gone(record: SessionRecord) -> bool:
    """Whether the process that wrote an unfinished session is known to be gone (same host, no such process).

    Unknown (no writer recorded, or written on another host) counts as not gone.
    """
    if record.writer_pid is None or record.writer_host != socket.gethostname():
        return False
    if record.writer_pid == os.getpid():
        return False
    try:
        os.kill(int(record.writer_pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError, OSError):
        return False
    return False


def resolve_inside(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """``path`` with every symbolic link resolved, if it stays inside ``root`` (resolved too).

    For a server that reads and writes session folders under one root: a link leading out of it (``turn_08.wav
    -> /etc/passwd``, a linked session folder) is refused, one within it is followed. ``path`` need not exist
    (a file about to be written).

    Raises
    ------
    UserError
        ``path``, or a link on the way to it, leads outside ``root`` (or is a link loop).
    """
    r = Path(root).resolve()
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        raise UserError(f"{path}: cannot be resolved ({exc}); refused") from None
    if p != r and r not in p.parents:
        raise UserError(f"{Path(path).name}: a link leading outside the session folder {r.name}; refused")
    return p


def session_inside(directory: str | os.PathLike, root: str | os.PathLike) -> Path:
    """The session folder ``directory`` resolved, checked with :func:`resolve_inside` together with every entry
    directly in it (the files the report and the notes read and write).

    Raises
    ------
    UserError
        The folder or one of its entries leads outside ``root``.
    """
    d = resolve_inside(directory, root)
    try:
        entries = list(d.iterdir())
    except OSError as exc:
        raise UserError(f"{Path(directory).name}: cannot list the session folder ({exc.strerror})") from None
    for p in entries:
        resolve_inside(p, root)
    return d


def load_session(directory: str | os.PathLike) -> SessionRecord:
    """Read a session folder, also one left behind by a killed or crashed run.

    Every turn whose ``turn_NN.json`` parses and whose WAV exists is returned, in order, whether or not
    ``session.json`` lists it. Temporary files are ignored. What had to be repaired is listed in
    ``record.recovered``.

    Raises
    ------
    UserError
        Not a folder, or no session in it at all.
    """
    d = Path(directory)
    if not d.is_dir():
        raise UserError(f"{d}: not a session folder (no such folder)")
    recovered: list[str] = []
    record: SessionRecord | None = None
    sp = d / SESSION_FILE
    if sp.exists():
        try:
            record = SessionRecord.from_dict(loads_json(read_input_text(sp)))
            recovered += record.recovered
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            recovered.append(f"{SESSION_FILE} unreadable ({str(exc)[:80]}); rebuilt from the turn files")
    else:
        recovered.append(f"{SESSION_FILE} missing; rebuilt from the turn files")
    listed = {t.index: t for t in record.turns} if record else {}
    turns: dict[int, TurnRecord] = {}
    for p in sorted(d.iterdir()):
        m = TURN_RE.match(p.name)
        if not m:
            if ".tmp" in p.name:
                recovered.append(f"ignored the unfinished temporary file {p.name}")
            continue
        try:
            turn = TurnRecord.from_dict(loads_json(read_input_text(p)))
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            recovered.append(f"skipped {p.name} ({str(exc)[:60]})")
            continue
        recovered += [f"{p.name}: {note}" for note in drop_mistyped_facts(turn.facts)]
        if not (d / (turn.wav or f"{turn.name}.wav")).exists():
            recovered.append(f"skipped {p.name}: its WAV is missing")
            continue
        turns[turn.index] = turn
        if turn.index not in listed:
            recovered.append(f"{p.name} was written but not yet listed in {SESSION_FILE}")
    if record is None:
        if not turns:
            raise UserError(f"{d}: holds no voice-trainer session (no {SESSION_FILE}, no turn files)")
        record = SessionRecord(session_id=d.name)
    record.turns = [turns[i] for i in sorted(turns)]
    if record.status not in STATUSES:
        recovered.append(f"unknown status {record.status!r}")
    if record.status == "in_progress" and writer_gone(record):
        record.status = "interrupted"
        recovered.append(f"still marked in progress, but its writer (process {record.writer_pid}) is gone: "
                         "the session was killed; shown as interrupted")
    record.recovered = recovered
    record.path = str(d)
    return record


def load_turn_audio(directory: str | os.PathLike, turn: TurnRecord | int) -> tuple[np.ndarray, np.ndarray, int]:
    """A turn's ``(reference, mic, sample_rate)`` from its stereo WAV (float32 tracks)."""
    d = Path(directory)
    name = f"turn_{turn:02d}.wav" if isinstance(turn, int) else (turn.wav or f"{turn.name}.wav")
    try:
        data, sr = sf.read(str(d / name), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise UserError(f"{d / name}: cannot read the turn's audio ({exc})") from None
    if data.shape[1] < 2:
        raise UserError(f"{d / name}: expected a stereo turn file (caller left, trainee right)")
    return np.ascontiguousarray(data[:, 0]), np.ascontiguousarray(data[:, 1]), int(sr)
