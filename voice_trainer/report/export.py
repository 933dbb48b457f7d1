"""Transcript export for other tools: WebVTT and SRT with speaker labels (``caller`` / ``trainee``).

Pure: a loaded :class:`~voice_trainer.report.record.ReportRecord` in, text out. Times come from the turn
records: the caller's stretches from the turn-taking analysis (``TurnView.turns["turns"]``, speaker ``caller``)
and the trainee's words from Whisper's word timings, grouped into cues at pauses and sentence ends.

Clock: a reviewed call has one recording, so cue times are seconds in it. A practice session has one WAV per
turn; its transcript is laid out as if the turns were played back to back (turn 2 starts where turn 1's
recording ends), so each cue's time is the turn's offset plus the time in that turn's WAV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import UserError
from .record import ReportRecord, TurnView

CUE_GAP_S = 0.8
"""A pause between two of the trainee's words at least this long starts a new cue."""
CUE_MAX_S = 7.0
"""A trainee cue is closed at the first sentence end after this long (and at any word after twice this)."""
SPEAKERS = {"caller": "caller", "agent": "trainee"}


@dataclass(frozen=True)
class Cue:
    """One subtitle: ``start``/``end`` in seconds, ``speaker`` (``caller`` or ``trainee``), ``text``, ``turn``."""

    start: float
    end: float
    speaker: str
    text: str
    turn: int


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _cut_in_line(t: TurnView) -> dict | None:
    """The caller's cut-in line laid on this turn's audio (file mode), ``{"text", "start_s", "end_s"}``, or None."""
    line = (t.caller_cut_in or {}).get("line")
    return line if isinstance(line, dict) else None


def _turn_length(t: TurnView) -> float:
    """How long the turn's own recording is (s), from the turn-taking analysis or the last time it mentions.

    A cut-in line that runs past the analysed audio lengthened the recording to its end."""
    tt = t.turns or {}
    cut = _num((_cut_in_line(t) or {}).get("end_s")) or 0.0
    d = _num(tt.get("duration_s"))
    if d:
        return max(d, cut)
    ends = [_num(w.get("end")) for w in t.words] + [_num(s.get("end")) for s in tt.get("turns") or []
                                                   if isinstance(s, dict)]
    return max([e for e in ends if e is not None] + [0.0])


def _trainee_cues(t: TurnView, offset: float) -> list[Cue]:
    words = [(w, _num(w.get("start")), _num(w.get("end"))) for w in t.words]
    words = [(str(w.get("word", "")).strip(), s, e) for w, s, e in words if s is not None and e is not None]
    words = [x for x in words if x[0]]
    if not words:
        segs = [s for s in (t.turns or {}).get("turns") or [] if isinstance(s, dict) and s.get("speaker") == "agent"]
        a = _num(segs[0].get("start")) if segs else t.start_s
        b = _num(segs[-1].get("end")) if segs else t.end_s
        if t.transcript and a is not None and b is not None and b > a:
            return [Cue(offset + a, offset + b, "trainee", t.transcript.strip(), t.index)]
        return []
    cues: list[Cue] = []
    cur: list[tuple[str, float, float]] = []
    for w in words:
        if cur:
            dur = cur[-1][2] - cur[0][1]
            sentence_end = cur[-1][0].endswith((".", "?", "!"))
            if w[1] - cur[-1][2] >= CUE_GAP_S or (dur >= CUE_MAX_S and sentence_end) or dur >= 2 * CUE_MAX_S:
                cues.append(Cue(offset + cur[0][1], offset + cur[-1][2], "trainee",
                                " ".join(x[0] for x in cur), t.index))
                cur = []
        cur.append(w)
    cues.append(Cue(offset + cur[0][1], offset + cur[-1][2], "trainee", " ".join(x[0] for x in cur), t.index))
    return cues


def _caller_cues(t: TurnView, offset: float) -> list[Cue]:
    out = []
    for s in (t.turns or {}).get("turns") or []:
        if not isinstance(s, dict) or s.get("speaker") != "caller":
            continue
        a, b = _num(s.get("start")), _num(s.get("end"))
        text = str(s.get("text") or "").strip()
        if a is None or b is None or b <= a or not text:
            continue
        out.append(Cue(offset + a, offset + b, "caller", text, t.index))
    cut = _cut_in_line(t)  # the caller's cut-in, over the trainee's answer (session.voice_cut_in)
    if cut is not None:
        a, b, text = _num(cut.get("start_s")), _num(cut.get("end_s")), str(cut.get("text") or "").strip()
        if a is not None and b is not None and b > a and text:
            out.append(Cue(offset + a, offset + b, "caller", text, t.index))
    return out


def transcript_cues(rec: ReportRecord) -> list[Cue]:
    """Every caller and trainee cue of the record, ordered by start time (see the module doc for the clock)."""
    if rec.kind == "call_review" and isinstance(rec.extra.get("floor"), list):
        # the whole call: its caller stretches and all the agent's words (not only those inside agent turns)
        whole = TurnView(index=0, words=list(rec.extra.get("agent_words") or []),
                         turns={"turns": rec.extra["floor"]})
        cues = _caller_cues(whole, 0.0) + _trainee_cues(whole, 0.0)
        cues.sort(key=lambda c: (c.start, c.end))
        return cues
    cues: list[Cue] = []
    offset = 0.0
    for t in rec.turns:
        cues += _caller_cues(t, offset) + _trainee_cues(t, offset)
        if rec.kind == "session":
            offset += _turn_length(t)
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def _stamp(t: float, sep: str) -> str:
    ms = int(round(max(t, 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _clean(text: str) -> str:
    """One line of cue text: no blank lines (they end a cue) and no ``-->``."""
    return " ".join(text.split()).replace("-->", "->")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: list[Cue], title: str = "") -> str:
    """WebVTT: the ``WEBVTT`` header, then one cue per item with a voice span (``<v caller>``)."""
    head = "WEBVTT" + (f" - {_clean(title)}" if title else "") + "\n"
    body = []
    for i, c in enumerate(cues, 1):
        end = max(c.end, c.start + 0.001)
        body.append(f"\n{i}\n{_stamp(c.start, '.')} --> {_stamp(end, '.')}\n"
                    f"<v {c.speaker}>{_vtt_escape(_clean(c.text))}</v>\n")
    return head + "".join(body)


def to_srt(cues: list[Cue]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, the text prefixed with the speaker."""
    out = []
    for i, c in enumerate(cues, 1):
        end = max(c.end, c.start + 0.001)
        out.append(f"{i}\n{_stamp(c.start, ',')} --> {_stamp(end, ',')}\n{c.speaker}: {_clean(c.text)}\n")
    return "\n".join(out)


def write_transcript(rec: ReportRecord, path: str | os.PathLike, fmt: str) -> Path:
    """Write the record's transcript as ``vtt`` or ``srt`` atomically.

    Raises
    ------
    UserError
        The record has no timed speech to export, or the file cannot be written.
    """
    cues = transcript_cues(rec)
    if not cues:
        raise UserError(f"{rec.path}: no timed speech to export (no turn has words or speaker times)")
    text = to_vtt(cues, rec.title) if fmt == "vtt" else to_srt(cues)
    out = Path(path)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give the file to write (e.g. {out / ('transcript.' + fmt)})")
    try:
        return write_text_atomic(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the transcript ({exc.strerror})") from None
