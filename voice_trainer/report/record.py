"""Read what the reports show: a practice-session folder or a ``review --json`` result, as one plain record.

Both sources become a :class:`ReportRecord` (a list of :class:`TurnView`), so the terminal scorecard, the HTML
report and the JSON summary share one reader. Session folders are read with :func:`voice_trainer.store.load_session`
(which also recovers folders left behind by a killed run); each turn's analysis comes from its ``turn_NN.json``
(the ``analysis`` field written by the session loop, i.e. ``TurnResult.to_dict()``).

Times in a :class:`TurnView` are seconds on the clock of its audio file: the turn's WAV for a session, the
whole recording for a reviewed call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..inputs import loads_json, read_input_text
from .notes import MAX_NOTE_CHARS, load_notes, notes_path, write_notes

SESSION_FILE = "session.json"


@dataclass
class TurnView:
    """One trainee turn as the reports show it (plain dicts as written by the analyses' ``to_dict()``)."""

    index: int
    caller_text: str = ""
    transcript: str = ""
    words: list[dict] = field(default_factory=list)
    scores: dict[str, float | None] = field(default_factory=dict)
    tone: dict | None = None
    listening: dict | None = None
    turns: dict | None = None
    """Turn-taking analysis (``TurnsResult.to_dict()``): interruptions, dead air, latencies, segments."""
    turn_taking: dict | None = None
    """Turn-taking score (``Score.to_dict()``)."""
    anger_before: float | None = None
    anger_after: float | None = None
    anger_changes: list[dict] = field(default_factory=list)
    nudges: list[str] = field(default_factory=list)
    reply: str | None = None
    audio: Path | None = None
    """The stereo audio this turn is on (caller left, trainee right), when it exists."""
    start_s: float = 0.0
    end_s: float | None = None
    """The part of ``audio`` this turn covers (a reviewed call: one stretch of the recording)."""
    barge_in_s: float | None = None
    agent_channel: int = 1
    """0 = left, 1 = right: the trainee's channel in ``audio``."""
    caller_stage: str | None = None
    """The stage of the caller's line this turn answers (opening, vent, details, negotiate, ...), when recorded."""
    caller_cut_in: dict | None = None
    """The caller cut in on this answer: ``{"at_s", "limit_s"}`` (seconds on the turn's clock), when it did."""


def _model_files(value: Any) -> list[dict]:
    """``model_files`` as written by a result (a list of dicts); anything else (older files) is empty."""
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


@dataclass
class ReportRecord:
    """A session or a reviewed call, ready to report."""

    kind: str
    """``session`` or ``call_review``."""
    path: Path
    session_id: str = ""
    title: str = ""
    scenario: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    mode: str = ""
    created_at: str = ""
    model: str | None = None
    model_files: list[dict] = field(default_factory=list)
    """Which model files produced the scores (from the session or review file; empty in older files)."""
    outcome: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    """``overall``, ``calmness``, ``listening``, ``turn_taking`` (0-100 or None) and ``components`` per skill."""
    scores_source: str = "scorecard"
    """``scorecard`` (the end-of-call scores) or ``turns`` (mean of the turns' scores: no scorecard was saved)."""
    turns: list[TurnView] = field(default_factory=list)
    start_anger: float | None = None
    notes: list[dict] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Problems that did not stop the report (a corrupted notes file: shown without its notes)."""
    notes_error: str | None = None
    """Why the notes file could not be read (None: read, or there is none)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def notes_path(self) -> Path:
        return notes_path(self.path)

    def anger_points(self) -> list[tuple[int, float]]:
        """The caller's anger at the start (turn 0) and after each turn."""
        pts: list[tuple[int, float]] = []
        if self.start_anger is not None:
            pts.append((0, float(self.start_anger)))
        for t in self.turns:
            if t.anger_after is not None:
                pts.append((t.index, float(t.anger_after)))
        return pts


def _read_json(p: Path) -> Any:
    try:
        return loads_json(read_input_text(p))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot be read as JSON ({str(exc)[:80]}); give a session folder or a "
                        "'review --json' result") from None


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def load_record(path: str | os.PathLike) -> ReportRecord:
    """Read a session folder or a ``review --json`` result file.

    Raises
    ------
    UserError
        The path is missing, is neither a session folder nor a review result, or its JSON is corrupted.
    """
    p = Path(path)
    try:
        return _load_record(p)
    except OSError as exc:  # an unreadable folder or file (its permissions)
        raise UserError(f"{exc.filename or p}: cannot read it ({exc.strerror}); check its permissions") from None


def _load_record(p: Path) -> ReportRecord:
    if p.is_dir():
        rec = _load_session(p)
    elif p.is_file():
        data = _read_json(p)
        if isinstance(data, dict) and data.get("kind") == "call_review":
            try:
                rec = _load_review(p, data)
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                raise UserError(f"{p}: a damaged 'review --json' result ({type(exc).__name__}: {str(exc)[:80]}); "
                                "write it again with 'voice-trainer review CALL --json > FILE'") from None
        elif isinstance(data, dict) and "status" in data and ("scores" in data or "scorecard" in data):
            raise UserError(f"{p}: this is a session file; give its folder ({p.parent})")
        else:
            raise UserError(f"{p}: not a 'review --json' result (no \"kind\": \"call_review\"); give a session "
                            "folder or the output of 'voice-trainer review CALL --json'")
    else:
        raise UserError(f"{p}: no such session folder or review file")
    try:
        rec.notes = load_notes(p)
    except UserError as exc:  # the notes are extra: the report still renders, without them
        rec.notes_error = str(exc)
        rec.warnings.append(f"{exc} (the report is shown without the trainer's notes)")
    return rec


# ---------------------------------------------------------------------------------------------------------------
# Session folders
# ---------------------------------------------------------------------------------------------------------------


def _load_session(d: Path) -> ReportRecord:
    from ..store import TURN_RE, load_session

    sp = d / SESSION_FILE
    has_turns = any(TURN_RE.match(f.name) for f in d.iterdir())
    raw: dict = {}
    if sp.exists():
        try:
            raw = loads_json(read_input_text(sp))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            if not has_turns:
                raise UserError(f"{sp}: corrupted session file ({str(exc)[:80]}) and no turn files to rebuild "
                                "it from; this folder cannot be reported") from None
            raw = {}
    elif not has_turns:
        raise UserError(f"{d}: not a session folder (no {SESSION_FILE}); give the folder a practice session or "
                        "demo wrote")
    srec = load_session(d)
    scenario = srec.scenario if isinstance(srec.scenario, dict) else {}
    rec = ReportRecord(
        kind="session",
        path=d,
        session_id=srec.session_id or d.name,
        title=str(scenario.get("title") or scenario.get("id") or d.name),
        scenario=scenario,
        status=srec.status,
        mode=srec.mode,
        created_at=srec.started_at,
        model=srec.model,
        model_files=_model_files(srec.model_files or next((t.model_files for t in srec.turns if t.model_files), [])),
        outcome=srec.outcome,
        recovered=list(srec.recovered),
    )
    for tr in srec.turns:  # turn records come migrated to the one turn schema (store.py)
        f = tr.facts
        reaction = f.get("reaction") or {}
        reply = reaction.get("reply") or {}
        tv = TurnView(
            index=tr.index,
            caller_text=tr.caller_text,
            caller_stage=str(((f.get("caller") or {}).get("line") or {}).get("stage") or "") or None,
            transcript=tr.trainee_text,
            words=tr.words,
            scores=turn_scores(f),
            tone=f.get("tone"),
            listening=f.get("listening"),
            turns=f.get("turns"),
            turn_taking=f.get("turn_taking"),
            anger_before=_num(tr.anger_before),
            anger_after=_num(tr.anger_after),
            anger_changes=list(reaction.get("changes") or []),
            nudges=tr.nudges,
            reply=reply.get("text"),
            audio=(d / (tr.wav or f"{tr.name}.wav")),
            barge_in_s=_num(tr.barge_in_s),
            caller_cut_in=reaction.get("caller_cut_in") if isinstance(reaction.get("caller_cut_in"), dict) else None,
        )
        if not tv.audio.exists():
            tv.audio = None
        rec.turns.append(tv)
    if rec.turns and rec.turns[0].anger_before is not None:
        rec.start_anger = rec.turns[0].anger_before
    elif srec.anger_trajectory and len(srec.anger_trajectory) > len(rec.turns):
        rec.start_anger = float(srec.anger_trajectory[0])
    scores = srec.scores
    if isinstance(scores, dict) and any(scores.get(k) is not None for k in ("overall", "calmness", "listening",
                                                                             "turn_taking")):
        rec.scores = scores
        rec.outcome = rec.outcome or scores.get("outcome")
    else:
        rec.scores = _scores_from_turns(rec.turns)
        rec.scores_source = "turns"
    return rec


def turn_scores(facts: dict) -> dict:
    """A turn's three scores, read where they are stored: ``tone.calmness``, ``listening.score``,
    ``turn_taking.score`` (None where not measured)."""
    def val(part: str, key: str) -> float | None:
        d = facts.get(part)
        return _num(d.get(key)) if isinstance(d, dict) else None

    return {"calmness": val("tone", "calmness"), "listening": val("listening", "score"),
            "turn_taking": val("turn_taking", "score")}


def _mean(vals: list[float | None]) -> float | None:
    xs = [float(v) for v in vals if isinstance(v, int | float)]
    return round(sum(xs) / len(xs), 1) if xs else None


def _scores_from_turns(turns: list[TurnView]) -> dict:
    """Scores of a session that has no scorecard (killed run): the mean of its turns' scores per skill."""
    out: dict[str, Any] = {k: _mean([t.scores.get(k) for t in turns]) for k in ("calmness", "listening",
                                                                                "turn_taking")}
    out["overall"] = _mean([out[k] for k in ("calmness", "listening", "turn_taking")])
    out["components"] = {}
    return out


# ---------------------------------------------------------------------------------------------------------------
# review --json results
# ---------------------------------------------------------------------------------------------------------------


def _words_between(words: list[dict], a: float, b: float) -> list[dict]:
    out = []
    for w in words:
        s, e = _num(w.get("start")), _num(w.get("end"))
        if s is not None and e is not None and a <= 0.5 * (s + e) <= b:
            out.append(w)
    return out


def _load_review(p: Path, data: dict) -> ReportRecord:
    """A reviewed call: one :class:`TurnView` per agent turn, all on the recording's clock."""
    turns_d = data.get("turns") or {}
    floor = [t for t in turns_d.get("turns") or [] if isinstance(t, dict)]
    agent_words = list((data.get("agent") or {}).get("words") or [])
    listening = data.get("listening") or {}
    tone = data.get("tone") or {}
    audio = None
    f = data.get("file")
    if f:
        cand = [Path(f)] if Path(f).is_absolute() else [p.parent / f, Path(f)]
        audio = next((c for c in cand if c.exists()), None)
    agent_ch = 1 if (data.get("agent") or {}).get("channel", "right") == "right" else 0
    lturns = {int(t.get("turn", -1)): t for t in listening.get("turns") or [] if isinstance(t, dict)}
    tone_turns = [t for t in tone.get("turns") or [] if isinstance(t, dict)]
    rec = ReportRecord(
        kind="call_review",
        path=p,
        session_id=p.stem,
        title=f"Recorded call {Path(f).name if f else p.stem}",
        status="reviewed",
        mode="review",
        created_at=str(data.get("created_at") or ""),
        model=data.get("model"),
        model_files=_model_files(data.get("model_files")),
    )
    # the call's turns as analyze_call saw them (turns with text), to match listening turn indices
    call_idx = {}
    n = 0
    for i, t in enumerate(floor):
        ws = _words_between(agent_words if t.get("speaker") == "agent" else
                            list((data.get("caller") or {}).get("words") or []),
                            float(t.get("start", 0)), float(t.get("end", 0)))
        text = " ".join(str(w.get("word", "")) for w in ws) or str(t.get("text") or "")
        if text:
            call_idx[i] = n
            n += 1
    k = 0
    prev_end = 0.0
    last_caller = ""
    for i, t in enumerate(floor):
        if t.get("speaker") != "agent":
            last_caller = str(t.get("text") or "")
            continue
        k += 1
        a, b = float(t.get("start", 0.0)), float(t.get("end", 0.0))
        ws = _words_between(agent_words, a, b)
        text = " ".join(str(w.get("word", "")) for w in ws) or str(t.get("text") or "")
        lt = lturns.get(call_idx.get(i, -1))
        tt = next((x for x in tone_turns if abs(float(x.get("start", -9)) - a) < 0.05), None)
        span = (prev_end, b)
        sub = {
            "interruptions": [x for x in turns_d.get("interruptions") or [] if span[0] <= x.get("start", -1) <= b],
            "dead_air": [x for x in turns_d.get("dead_air") or [] if span[0] <= x.get("start", -1) <= b],
            "response_latencies": [x for x in turns_d.get("response_latencies") or []
                                   if abs(float(x.get("agent_start", -9)) - a) < 0.05],
        }
        scores = {
            "calmness": None if tt is None else tt.get("calmness"),
            "listening": None if lt is None else lt.get("score"),
            "turn_taking": None,
        }
        rec.turns.append(TurnView(
            index=k, caller_text=last_caller, transcript=text, words=ws, scores=scores, tone=tt, listening=lt,
            turns=sub, audio=audio, start_s=prev_end, end_s=b, agent_channel=agent_ch,
        ))
        prev_end = b
    calm = _mean([t.scores.get("calmness") for t in rec.turns])
    lis = _num(listening.get("score"))
    tts = _num((data.get("turn_taking_score") or {}).get("score"))
    comps = {
        "listening": listening.get("components") or [],
        "turn_taking": (data.get("turn_taking_score") or {}).get("components") or [],
        "calmness": [],
    }
    rec.scores = {"overall": _mean([calm, lis, tts]), "calmness": calm, "listening": lis, "turn_taking": tts,
                  "components": comps, "contagion": tone.get("contagion")}
    rec.extra = {"notes": data.get("notes") or [], "duration_s": data.get("duration_s"), "file": f,
                 # the whole call for the transcript export: every speaker stretch and every agent word
                 "floor": floor, "agent_words": agent_words}
    return rec


def add_note(path: str | os.PathLike, turn: int | None, text: str, author: str = "") -> dict:
    """Append a note to a session folder or review result (atomic rewrite of the notes file).

    Parameters
    ----------
    path : path-like
        Session folder or ``review --json`` result file.
    turn : int or None
        1-based turn number; None for the whole session. Must exist in the session.
    text : str
        The comment (plain text; it is escaped wherever it is shown).
    author : str
        Who wrote it (optional).

    Raises
    ------
    UserError
        Not a session, an unknown turn, or an empty note.
    """
    text = text.strip()
    if not text:
        raise UserError("the note is empty; give its text in quotes")
    if len(text) > MAX_NOTE_CHARS:
        raise UserError(f"the note is {len(text)} characters long; keep it under {MAX_NOTE_CHARS}")
    rec = load_record(path)
    if rec.notes_error:  # never overwrite notes that could not be read
        raise UserError(rec.notes_error)
    if turn is not None and turn not in {t.index for t in rec.turns}:
        have = ", ".join(str(t.index) for t in rec.turns) or "none"
        raise UserError(f"{path}: has no turn {turn} (turns: {have}); use '-' for a note on the whole session")
    note = {"turn": turn, "text": text, "author": author,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    notes = rec.notes + [note]
    write_notes(path, notes)
    return note


def record_from_review(data: dict, path: str | os.PathLike) -> ReportRecord:
    """A :class:`ReportRecord` of a ``review --json`` result held in memory (``path``: where it is, or would be,
    saved; the recording is looked up relative to it)."""
    if not isinstance(data, dict) or data.get("kind") != "call_review":
        raise UserError(f"{path}: not a call review result")
    return _load_review(Path(path), data)
