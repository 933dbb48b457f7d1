"""Turn-taking of a two-party call: interruptions, response latency, dead air, talk share, monologues.

Pure analysis: speech segments of the caller's and the agent's tracks (seconds, e.g. from
:func:`voice_trainer.vad.speech_segments`), optionally their recognised words, in; a :class:`TurnsResult` out.
Both a stereo call recording and a live practice session feed it the same way: in practice the caller's
segments are the playback times of the caller's lines and the agent's come from the (echo-suppressed)
microphone track, all on one clock.

Definitions (thresholds in :class:`~voice_trainer.config.TurnsConfig`):

* A stretch of speech is *substantial* when it holds ``min_interruption_words`` (3) words or more, or lasts
  ``min_interruption_s`` (0.5 s) or more, unless it is a *backchannel*: at most ``backchannel_max_words`` (2)
  words, all listening tokens ("mm-hm", "okay", "right", "I see").
* An *interruption* by the agent is a substantial agent segment that starts while a caller segment is under
  way and overlaps caller speech for ``tail_overlap_s`` (0.3 s) or more; a shorter overlap at the caller's
  last words is ordinary turn-taking. Caller interruptions are the mirror image.
* *Turns*: a party holds the floor from its first substantial speech after the other party's turn until the
  other party takes the floor. Short speech after which the floor holder goes on (within
  ``backchannel_resume_s``) is a backchannel and does not take the floor.
* *Response latency*: for every floor transfer caller -> agent, the agent turn's start minus the caller
  turn's end (negative when the agent started before the caller finished).
* *Dead air*: silence on both tracks of ``dead_air_s`` (3 s) or more while the caller waits for the agent:
  after the caller's speech when the agent speaks next or the caller's last words were a question, or inside
  the agent's own turn. Silence between two stretches of the caller's speech (the caller venting, the agent
  listening) and silence after the agent's speech before the caller answers are not dead air.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import TurnsConfig
from .scoring import Component, Evidence

CALLER, AGENT = "caller", "agent"


class _HasWord(Protocol):
    word: str
    start: float
    end: float


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


@dataclass
class Span:
    """One speech segment of one party, with the words recognised in it (times in seconds)."""

    speaker: str
    start: float
    end: float
    words: list[str] | None = None
    """Words in this segment; None when no transcript was given (or none of its words fell here)."""
    untranscribed: bool = False
    """True when a transcript was given but none of its words fell in this segment (the recogniser left a
    short sound such as "mm-hm" untranscribed)."""

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def text(self) -> str:
        return " ".join(self.words or [])

    @property
    def n_words(self) -> int | None:
        return None if self.words is None else len(self.words)

    def to_dict(self) -> dict:
        return {"start": _r(self.start), "end": _r(self.end), "text": self.text, "words": self.n_words}


@dataclass
class Interruption:
    """One party starting to talk over the other.

    Attributes
    ----------
    by : str
        ``"agent"`` or ``"caller"``: who cut in.
    start, end : float
        The cutting-in speech segment (seconds).
    overlap_s : float
        Seconds during which both talked.
    words : int or None
        Words in the cutting-in speech (None when no transcript was given).
    text : str
        Those words.
    interrupted_text : str
        The other party's words during the overlap (what was talked over).
    """

    by: str
    start: float
    end: float
    overlap_s: float
    words: int | None
    text: str
    interrupted_text: str = ""

    def to_dict(self) -> dict:
        return {
            "start": _r(self.start),
            "end": _r(self.end),
            "words": self.words,
            "text": self.text,
            "overlap_s": _r(self.overlap_s),
            "interrupted_text": self.interrupted_text,
        }


@dataclass
class SimultaneousStart:
    """Both parties starting to speak at (almost) the same moment: nobody cut in on anybody.

    Attributes
    ----------
    caller_start, agent_start : float
        Start of each party's speech segment (seconds).
    overlap_s : float
        Seconds during which both talked.
    """

    caller_start: float
    agent_start: float
    overlap_s: float

    def to_dict(self) -> dict:
        return {"caller_start": _r(self.caller_start), "agent_start": _r(self.agent_start),
                "start": _r(min(self.caller_start, self.agent_start)), "overlap_s": _r(self.overlap_s)}


@dataclass
class ResumedAnswer(SimultaneousStart):
    """The agent going on with its previous answer after a pause, just as the caller started to reply.

    Not cutting in: the caller took the floor at the agent's pause (live practice ends an answer after a short
    silence). Attributes as :class:`SimultaneousStart` (seconds).
    """

    def to_dict(self) -> dict:
        return {"caller_start": _r(self.caller_start), "agent_start": _r(self.agent_start),
                "after_s": _r(self.agent_start - self.caller_start), "overlap_s": _r(self.overlap_s)}


@dataclass
class Latency:
    """One floor transfer from the caller to the agent."""

    caller_end: float
    agent_start: float
    caller_text: str = ""

    @property
    def latency_s(self) -> float:
        return self.agent_start - self.caller_end

    def to_dict(self) -> dict:
        return {
            "caller_end": _r(self.caller_end),
            "agent_start": _r(self.agent_start),
            "latency_s": _r(self.latency_s),
            "caller_text": self.caller_text,
        }


@dataclass
class DeadAir:
    """Silence on both tracks while the caller waits for the agent.

    ``after`` is ``"caller"`` (the caller finished and got no answer) or ``"agent"`` (the agent went quiet in
    the middle of its own turn); ``caller_text`` quotes the caller's last words before the silence.
    """

    start: float
    end: float
    after: str
    caller_text: str = ""

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "start": _r(self.start),
            "end": _r(self.end),
            "duration_s": _r(self.duration_s),
            "after": self.after,
            "caller_text": self.caller_text,
        }


@dataclass
class Turn:
    """A stretch in which one party holds the floor."""

    speaker: str
    start: float
    end: float
    text: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {"speaker": self.speaker, "start": _r(self.start), "end": _r(self.end), "text": self.text}


@dataclass
class TurnsResult:
    """Everything measured about turn-taking in one call (times in seconds from the call's start)."""

    duration_s: float
    caller_segments: list[Span] = field(default_factory=list)
    agent_segments: list[Span] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    interruptions: list[Interruption] = field(default_factory=list)
    caller_interruptions: list[Interruption] = field(default_factory=list)
    simultaneous_starts: list[SimultaneousStart] = field(default_factory=list)
    resumed_answers: list[ResumedAnswer] = field(default_factory=list)
    backchannels: list[Span] = field(default_factory=list)
    response_latencies: list[Latency] = field(default_factory=list)
    dead_air: list[DeadAir] = field(default_factory=list)
    listening_pauses: list[tuple[float, float]] = field(default_factory=list)
    caller_speech_s: float = 0.0
    agent_speech_s: float = 0.0
    overlap_s: float = 0.0

    @property
    def talk_share(self) -> float | None:
        """Agent's share of all speech time, 0-1 (None when nobody spoke)."""
        total = self.caller_speech_s + self.agent_speech_s
        return None if total <= 0 else self.agent_speech_s / total

    def longest_monologue(self, speaker: str) -> Turn | None:
        """The longest turn of ``speaker`` (``"agent"`` or ``"caller"``), None when it has none."""
        own = [t for t in self.turns if t.speaker == speaker]
        return max(own, key=lambda t: t.duration) if own else None

    def latency_stats(self) -> dict[str, float | None]:
        vals = [x.latency_s for x in self.response_latencies]
        if not vals:
            return {"median_s": None, "mean_s": None, "max_s": None}
        return {"median_s": statistics.median(vals), "mean_s": statistics.fmean(vals), "max_s": max(vals)}

    def to_dict(self) -> dict:
        def mono(s: str) -> dict | None:
            t = self.longest_monologue(s)
            return None if t is None else {"start": _r(t.start), "end": _r(t.end), "duration_s": _r(t.duration)}

        share = self.talk_share
        silence = max(0.0, self.duration_s - self.caller_speech_s - self.agent_speech_s + self.overlap_s)
        return {
            "duration_s": _r(self.duration_s),
            "interruptions": [i.to_dict() for i in self.interruptions],
            "caller_interruptions": [i.to_dict() for i in self.caller_interruptions],
            "simultaneous_starts": [x.to_dict() for x in self.simultaneous_starts],
            "resumed_answers": [x.to_dict() for x in self.resumed_answers],
            "backchannels": [{"speaker": b.speaker, **b.to_dict()} for b in self.backchannels],
            "response_latencies": [x.to_dict() for x in self.response_latencies],
            "response_latency": {k: _r(v) for k, v in self.latency_stats().items()},
            "dead_air": [d.to_dict() for d in self.dead_air],
            "listening_pauses": [{"start": _r(a), "end": _r(b)} for a, b in self.listening_pauses],
            "talk_share": {
                "agent": _r(share),
                "caller": None if share is None else _r(1.0 - share),
                "agent_speech_s": _r(self.agent_speech_s),
                "caller_speech_s": _r(self.caller_speech_s),
                "overlap_s": _r(self.overlap_s),
                "silence_s": _r(silence),
            },
            "longest_monologue": {AGENT: mono(AGENT), CALLER: mono(CALLER)},
            "turns": [t.to_dict() for t in self.turns],
            "segments": {
                CALLER: [s.to_dict() for s in self.caller_segments],
                AGENT: [s.to_dict() for s in self.agent_segments],
            },
        }


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\w'-]+")


def _norm(word: str) -> str:
    return _TOKEN.sub("", word.lower()).strip("-'")


def _as_pairs(segments: Sequence[Any]) -> list[tuple[float, float]]:
    out = []
    for s in segments:
        a, b = (s.start, s.end) if hasattr(s, "start") else (s[0], s[1])
        if b > a:
            out.append((float(a), float(b)))
    return sorted(out)


def _spans(speaker: str, segments: Sequence[Any], words: Sequence[_HasWord] | None) -> list[Span]:
    pairs = _as_pairs(segments)
    spans = [Span(speaker, a, b, [] if words is not None else None) for a, b in pairs]
    if words is None or not spans:
        return spans
    for w in words:
        mid = 0.5 * (float(w.start) + float(w.end))
        best, dist = None, 0.3  # a word may sit up to 0.3 s outside a segment (Whisper timing slack)
        for sp in spans:
            d = 0.0 if sp.start <= mid <= sp.end else min(abs(mid - sp.start), abs(mid - sp.end))
            if d < dist or (d == 0.0 and best is None):
                best, dist = sp, d
            if d == 0.0:
                break
        if best is not None:
            best.words.append(w.word.strip())  # type: ignore[union-attr]
    for sp in spans:
        if not sp.words:
            sp.words = None  # the recogniser missed it (often a short "mm-hm"): judge by duration
            sp.untranscribed = True
    return spans


def _union_length(pairs: list[tuple[float, float]]) -> float:
    total, cur_a, cur_b = 0.0, None, None
    for a, b in sorted(pairs):
        if cur_b is None or a > cur_b:
            if cur_b is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None:
        total += cur_b - cur_a
    return total


def _overlap(a: float, b: float, spans: list[Span]) -> float:
    return sum(max(0.0, min(b, s.end) - max(a, s.start)) for s in spans)


def _words_in(a: float, b: float, words: Sequence[_HasWord] | None) -> str:
    if not words:
        return ""
    return " ".join(w.word.strip() for w in words if w.end > a and w.start < b)


def is_backchannel(span: Span, config: TurnsConfig) -> bool:
    """True when ``span`` is a listening token: few words, all from the list ("mm-hm", "okay", "I see"), or a
    short sound the recogniser left without words (under ``untranscribed_backchannel_s``)."""
    if span.untranscribed and span.duration < config.untranscribed_backchannel_s:
        return True
    if not span.words or len(span.words) > config.backchannel_max_words:
        return False
    lex = {_norm(w) for w in config.backchannel_words}
    return all(_norm(w) in lex for w in span.words)


def is_substantial(span: Span, config: TurnsConfig) -> bool:
    """True when ``span`` is long enough to take the floor or to count as cutting in."""
    if span.n_words is not None and span.n_words >= config.min_interruption_words:
        return True
    if is_backchannel(span, config):
        return False
    return span.duration >= config.min_interruption_s


def _interruptions(
    by: list[Span], other: list[Span], other_words: Sequence[_HasWord] | None, config: TurnsConfig
) -> list[Interruption]:
    found = []
    for s in by:
        if not any(o.start < s.start < o.end for o in other):
            continue
        if _simultaneous(s, other, config) is not None:
            continue  # both started together: reported as a simultaneous start, not as cutting in
        ov = _overlap(s.start, s.end, other)
        if ov < config.tail_overlap_s or not is_substantial(s, config):
            continue
        ov_end = max((min(s.end, o.end) for o in other if o.end > s.start and o.start < s.end), default=s.start)
        found.append(
            Interruption(
                by=s.speaker,
                start=s.start,
                end=s.end,
                overlap_s=ov,
                words=s.n_words,
                text=s.text,
                interrupted_text=_words_in(s.start, ov_end, other_words),
            )
        )
    return found


def _simultaneous(s: Span, other: list[Span], config: TurnsConfig) -> Span | None:
    """The other party's segment that started within ``simultaneous_start_s`` of ``s`` (either side), if any."""
    for o in other:
        if abs(o.start - s.start) < config.simultaneous_start_s and o.end > s.start and s.end > o.start:
            return o
    return None


def _simultaneous_starts(caller: list[Span], agent: list[Span], config: TurnsConfig) -> list[SimultaneousStart]:
    found = []
    for a in agent:
        o = _simultaneous(a, caller, config)
        if o is not None and is_substantial(a, config) and is_substantial(o, config):
            found.append(SimultaneousStart(o.start, a.start, _overlap(a.start, a.end, [o])))
    return found


def _resumed(caller: list[Span], agent: list[Span], within_s: float | None,
             config: TurnsConfig) -> list[tuple[Span, Span]]:
    """Agent segments that go on with the previous answer (see ``agent_resumes_within_s`` of
    :func:`analyze_turns`), each with the caller segment it overlaps; simultaneous starts are left to those."""
    if within_s is None or not caller:
        return []
    first = min(o.start for o in caller)
    found = []
    for a in agent:
        o = next((o for o in caller if o.start < a.start < o.end), None)
        if o is not None and a.start - first <= within_s and _simultaneous(a, caller, config) is None:
            found.append((a, o))
    return found


def _floor_turns(spans: list[Span], config: TurnsConfig) -> tuple[list[Turn], list[Span]]:
    """Group segments of both parties into floor-holding turns; returns (turns, backchannels)."""
    turns: list[Turn] = []
    backchannels: list[Span] = []
    parts: list[list[Span]] = []
    for i, s in enumerate(spans):
        if turns and s.speaker == turns[-1].speaker:
            turns[-1].end = max(turns[-1].end, s.end)
            parts[-1].append(s)
            continue
        if turns and not is_substantial(s, config):
            holder = turns[-1].speaker
            resumed = any(
                t.speaker == holder and t.start <= s.end + config.backchannel_resume_s for t in spans[i + 1 : i + 4]
            ) or any(t.speaker == holder and t.start < s.start < t.end for t in parts[-1])
            if resumed:
                backchannels.append(s)
                continue
        turns.append(Turn(s.speaker, s.start, s.end))
        parts.append([s])
    for t, ps in zip(turns, parts, strict=True):
        t.text = " ".join(p.text for p in ps if p.text)
    return turns, backchannels


def _ends_with_question(text: str) -> bool:
    return text.rstrip().endswith("?")


# ------------------------------------------------------------------------------------------------------------
# the analysis
# ------------------------------------------------------------------------------------------------------------


def analyze_turns(
    caller_segments: Sequence[Any],
    agent_segments: Sequence[Any],
    agent_words: Sequence[_HasWord] | None = None,
    caller_words: Sequence[_HasWord] | None = None,
    config: TurnsConfig | None = None,
    *,
    duration_s: float | None = None,
    awaiting_answer: bool = False,
    agent_resumes_within_s: float | None = None,
) -> TurnsResult:
    """Measure turn-taking between a caller and an agent.

    Parameters
    ----------
    caller_segments, agent_segments : sequence of SpeechSegment or (start, end) pairs
        Speech of each party in seconds on one shared clock.
    agent_words, caller_words : sequence of Word, optional
        Recognised words (``.word``, ``.start``, ``.end`` in seconds) of each party; they make backchannels
        recognisable and give every event its quote. Without them, events are judged by duration alone.
    config : TurnsConfig, optional
        Thresholds; defaults when None.
    duration_s : float, optional
        Length of the call in seconds (for the silence total); default the end of the last segment.
    awaiting_answer : bool
        The recording ends while the caller waits for the agent (a practice turn): silence after the caller's
        last words up to ``duration_s`` is dead air. False for whole calls, which simply end.
    agent_resumes_within_s : float, optional
        The recording starts where the agent's previous answer ended (live practice): agent speech starting
        while the caller talks, within this long (s) after the caller's first segment began, is the agent going
        on with that answer after a pause. It goes to ``resumed_answers``, never counts as cutting in, and no
        response latency is measured from it. None (file mode, whole calls): no such rule.

    Returns
    -------
    TurnsResult
    """
    c = config or TurnsConfig()
    caller = _spans(CALLER, caller_segments, caller_words)
    agent = _spans(AGENT, agent_segments, agent_words)
    everything = sorted(caller + agent, key=lambda s: (s.start, s.end))
    end = max((s.end for s in everything), default=0.0)
    duration = max(end, duration_s or 0.0)

    res = TurnsResult(duration_s=duration, caller_segments=caller, agent_segments=agent)
    cp, ap = [(s.start, s.end) for s in caller], [(s.start, s.end) for s in agent]
    res.caller_speech_s = _union_length(cp)
    res.agent_speech_s = _union_length(ap)
    res.overlap_s = res.caller_speech_s + res.agent_speech_s - _union_length(cp + ap)

    resumed = _resumed(caller, agent, agent_resumes_within_s, c)
    res.resumed_answers = [ResumedAnswer(o.start, a.start, _overlap(a.start, a.end, [o])) for a, o in resumed]
    going_on = {id(a) for a, _ in resumed}
    res.interruptions = _interruptions([a for a in agent if id(a) not in going_on], caller, caller_words, c)
    res.caller_interruptions = _interruptions(caller, agent, agent_words, c)
    res.simultaneous_starts = _simultaneous_starts(caller, agent, c)
    res.turns, res.backchannels = _floor_turns(everything, c)

    resumed_at = {a.start for a, _ in resumed}
    for prev, nxt in zip(res.turns, res.turns[1:], strict=False):
        if prev.speaker == CALLER and nxt.speaker == AGENT and nxt.start not in resumed_at:
            quote = _words_in(prev.end - 3.0, prev.end, caller_words)
            res.response_latencies.append(Latency(prev.end, nxt.start, quote))

    # mutual silences, each judged by who spoke before and after it
    covered_end = None
    last_speaker = None
    for s in everything:
        if covered_end is not None and s.start - covered_end >= c.dead_air_s:
            gap = (covered_end, s.start)
            before = _words_in(covered_end - 3.0, covered_end + 0.3, caller_words)
            if last_speaker == CALLER and (s.speaker == AGENT or _ends_with_question(before)):
                res.dead_air.append(DeadAir(gap[0], gap[1], CALLER, before))
            elif last_speaker == AGENT and s.speaker == AGENT:
                res.dead_air.append(DeadAir(gap[0], gap[1], AGENT, before))
            elif last_speaker == CALLER:
                res.listening_pauses.append(gap)
        if covered_end is None or s.end >= covered_end:
            covered_end, last_speaker = s.end, s.speaker
    if (awaiting_answer and last_speaker == CALLER and covered_end is not None
            and duration - covered_end >= c.dead_air_s):
        # the recording stops while the caller still waits: the silence to its end is dead air
        before = _words_in(covered_end - 3.0, covered_end + 0.3, caller_words)
        res.dead_air.append(DeadAir(covered_end, duration, CALLER, before))
    return res


def turn_components(result: TurnsResult, config: TurnsConfig | None = None) -> list[Component]:
    """Scorecard components for turn-taking: interruptions, dead air, response latency (weights in ``TurnsConfig``:
    30, 20, 20 by default).

    A component is withheld (not scored) when the call gives nothing to judge it on.
    """
    c = config or TurnsConfig()
    return [_interruptions_component(result, c), _dead_air_component(result, c), _latency_component(result, c)]


def _unanswered(result: TurnsResult) -> bool:
    """The caller finished a turn and got no answer at all."""
    return any(t.speaker == CALLER for t in result.turns) and not result.agent_segments


def _interruptions_component(result: TurnsResult, c: TurnsConfig) -> Component:
    has_caller = bool(result.caller_segments)
    n = len(result.interruptions)
    return Component(
        id="interruptions",
        label="Cutting in while the caller talks",
        points=max(0.0, c.weight_interruptions - c.interruption_penalty * n),
        weight=c.weight_interruptions,
        value=float(n),
        threshold=0.0,
        unit="count",
        technique=1,
        tip=(
            "Let the caller finish: keep to short 'mm-hm' sounds while they talk and start your answer once "
            "they stop."
            if n
            else "You let the caller finish every time; keep it up."
        ),
        withheld=("the caller did not speak, so there was nothing to cut into" if not has_caller else
                  "you did not speak, so letting the caller finish earns nothing" if not result.agent_segments
                  else None),
        evidence=[Evidence(text=i.text, start=i.start, end=i.end, value=i.overlap_s) for i in result.interruptions],
    )


def _dead_air_component(result: TurnsResult, c: TurnsConfig) -> Component:
    waits = [t for t in result.turns if t.speaker == CALLER]
    nd = len(result.dead_air)
    unanswered = _unanswered(result)
    return Component(
        id="dead_air",
        label="Silence while the caller waits",
        points=0.0 if unanswered else max(0.0, c.weight_dead_air - c.dead_air_penalty * nd),
        weight=c.weight_dead_air,
        value=float(nd),
        threshold=c.dead_air_s,
        unit="count",
        technique=7,
        tip=(
            "When you need a moment, say what you are doing and what comes next, so the caller is never left "
            "in silence."
            if nd
            else "No long silences while the caller waited."
        ),
        withheld=None if waits else "the caller never finished a turn, so there was no answer to wait for",
        evidence=[Evidence(d.caller_text, d.start, d.end, value=d.duration_s) for d in result.dead_air],
    )


def _latency_component(result: TurnsResult, c: TurnsConfig) -> Component:
    unanswered = _unanswered(result)
    stats = result.latency_stats()
    med = stats["median_s"]
    if med is None:
        pts = 0.0  # withheld below, or 0 when the caller waited and never got an answer
    else:
        over = max(0.0, med - c.slow_response_s) / c.slow_response_s
        pts = c.weight_response_latency * max(0.0, 1.0 - over)
    slow = [x for x in result.response_latencies if x.latency_s > c.slow_response_s]
    return Component(
        id="response_latency",
        label="Time to answer",
        points=pts,
        weight=c.weight_response_latency,
        value=med,
        threshold=c.slow_response_s,
        unit="s",
        technique=2,
        tip=(
            "Answer sooner: a quick acknowledgement of what the caller said shows you heard them while you "
            "think about the rest."
            if slow or unanswered
            else "Your answers came promptly after the caller finished."
        ),
        withheld=None if med is not None or unanswered else "the agent never answered after a caller's turn",
        evidence=[Evidence(x.caller_text, x.caller_end, x.agent_start, value=x.latency_s) for x in slow]
        or [Evidence(d.caller_text, d.start, d.end, value=d.duration_s) for d in result.dead_air if unanswered],
    )
