"""The simulated caller: a deterministic state machine driven by what the agent did in each turn.

Pure logic: no audio, no files, no TTS. The session loop fills a :class:`TurnObservation` from the tone,
listening and turn-taking analyses, calls :meth:`Caller.respond`, and gets the caller's next
:class:`CallerLine` (text, stage, anger band, whether the call is over). Voicing the line is ``tts.py``'s job.

Anger (0-100) rises on interruptions, red flags, a raised voice, a tense tone and dead air; it falls on
acknowledgement, paraphrase, ownership, concrete choices with a timeline and a calm tone (coefficients in
:class:`voice_trainer.config.CallerConfig`, per-caller weights in the scenario's ``[reactions]``). Each change is
recorded with its reason in :attr:`Caller.trajectory` for the report.

The call ends:

* ``hung_up`` when anger reaches the scenario's ``hang_up_at`` or the turn limit passes;
* ``referred`` when the agent offers a referral (whether that was right is for the report: compare with
  ``scenario.goal``);
* ``resolved`` when the agent makes a concrete offer while anger is at or below ``accept_below`` and every
  technique in ``reactions.requires`` has been used at some point. With the agent's words known
  (``TurnObservation.text``) a concrete offer is one that names one of the scenario's ``resolutions``
  (:func:`understand.offers_heard`), and the acceptance says that offer back in the agent's own words (what and
  when) before the scenario's generic ``resolved`` line; without words, the ``choices`` or
  ``resolution_timeline`` technique counts as an offer (as before).

Otherwise the next stage is ``details`` with the detail asked for (a question matching a key of the scenario's
``[details]``; asked again, the caller says it again, annoyed, and anger rises by ``asked_again_up``),
``negotiate`` (a promise without what or when gets "how? by when?"; an offer outside the resolutions gets pushed
back on; an acceptable offer made too early is negotiated), ``details`` (the agent listened, asked or
acknowledged) or ``vent`` (nothing useful yet). The line is drawn from the stage and the anger band with a
seeded random generator, so a given seed and the same observations replay the same call. No line is said again
within ``NO_REPEAT_WITHIN`` of the caller's lines: when the band's lines are used up, another band's lines of the
stage follow, then a used line with a lead-in ("Like I said, ...") not used recently.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from ..analysis import ids
from ..config import CallerConfig
from . import understand
from .scenarios import BANDS, DEFAULT_LINES, Scenario

_GOOD_DOWN = {  # technique id -> CallerConfig attribute holding its fall
    ids.ACKNOWLEDGE: "acknowledge_down",
    ids.OWNERSHIP: "ownership_down",
    ids.QUESTION: "question_down",
    ids.CHOICES: "choices_down",
    ids.RESOLUTION_TIMELINE: "timeline_down",
    ids.CONFIRM: "confirm_down",
    ids.THANKS: "thanks_down",
    ids.LET_VENT: "let_vent_down",
    ids.BOUNDARY: "boundary_down",
    ids.EXPLAIN_LIMIT: "explain_limit_down",
    ids.REFERRAL: "referral_down",
    ids.BREAK_DOWN: "question_down",  # breaking the problem down counts like a targeted question (technique 6)
    ids.FOLLOW_UP: "thanks_down",  # an offer to follow up counts like thanks at the close (technique 9)
}
_OFFERS = (ids.CHOICES, ids.RESOLUTION_TIMELINE)
NO_REPEAT_WITHIN = 3
"""The caller never says a line again within this many of its own lines."""
_LEADS = {  # lead-ins that make a used-up line new (the caller saying it again, with feeling)
    "calm": ("Like I said,", "Again,", "As I mentioned,", "Just to repeat,", "I'll say it again:", "Honestly,"),
    "upset": ("Look,", "Like I said,", "I'm telling you,", "Again,", "Listen,", "I'll say it again:"),
    "furious": ("Listen to me!", "I'm telling you again!", "Look!", "For the last time,", "Again!", "Seriously,"),
}
_GENERIC: dict[str, dict[str, tuple[str, ...]]] = {
    "follow_up": {  # a promise with no what or when (techniques.md: vague promises are not resolutions)
        "calm": ("How, exactly? And by when?", "Okay, but what will you actually do, and when?",
                 "Sort it out how? When will I hear something?"),
        "upset": ("That's what the last person said. What are you going to do, and by when?",
                  "How? By when? I need something concrete.", "Fix it how? I want to know what and when."),
        "furious": ("How? By when? Don't just tell me you'll sort it!",
                    "Words! What are you actually going to do, and when?",
                    "I've heard 'we'll sort it' before. What, and by when?"),
    },
    "push_back": {  # an offer that is not among the scenario's resolutions
        "calm": ("Hm, that doesn't really solve my problem.", "I'm not sure that helps me. Is there nothing else?"),
        "upset": ("That's not what I'm asking for.", "No, that doesn't fix anything for me."),
        "furious": ("That's no use to me at all!", "No! That doesn't solve anything!"),
    },
    "answer_again": {  # asked for a detail the caller already gave
        "calm": ("I told you already:", "As I said before:", "I did mention it:"),
        "upset": ("I told you already:", "I've already said this:", "Again?"),
        "furious": ("I told you already!", "Are you even listening? I said it:", "How many times?"),
    },
}
_PROGRESS = (ids.ACKNOWLEDGE, ids.PARAPHRASE, ids.QUESTION, ids.BREAK_DOWN, ids.OWNERSHIP, ids.LET_VENT,
             ids.BOUNDARY, ids.EXPLAIN_LIMIT)


@dataclass(frozen=True)
class TurnObservation:
    """What the agent did in one turn, as measured by the analyses.

    Parameters
    ----------
    interrupted : bool
        The agent cut in while the caller was speaking (turn-taking analysis).
    red_flags : tuple of str
        Red-flag ids from :mod:`voice_trainer.ids` (``RED_FLAGS``) found in the agent's words.
    techniques : tuple of str
        Technique ids from :mod:`voice_trainer.ids` (``TECHNIQUES``) found in the agent's words.
    calmness : float or None
        Calmness 0-1 (1 = calm) from the tone analysis; None when it was withheld (not measured).
    raised_voice : bool
        The tone analysis found the voice raised above the agent's baseline.
    dead_air_s : float
        Seconds of silence after the caller finished before the agent spoke.
    paraphrased_facts : int
        How many of the scenario's facts the agent restated in this turn.
    raised_pitch : bool
        The tone analysis found the pitch raised above the agent's baseline.
    rushed_pace : bool
        The tone analysis found the pace rushed against the agent's baseline (or the guideline without one).
    text : str
        The agent's words in this turn (the transcript). The caller matches them against the scenario's details
        (questions) and resolutions (offers); empty: words unknown, the caller goes by ``techniques`` alone.
    """

    interrupted: bool = False
    red_flags: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    calmness: float | None = None
    raised_voice: bool = False
    dead_air_s: float = 0.0
    paraphrased_facts: int = 0
    raised_pitch: bool = False
    rushed_pace: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"text must be a string, not {type(self.text).__name__}")
        object.__setattr__(self, "red_flags", ids.check_ids(self.red_flags, ids.RED_FLAGS, "red-flag"))
        object.__setattr__(self, "techniques", ids.check_ids(self.techniques, ids.TECHNIQUES, "technique"))
        if self.calmness is not None and not 0.0 <= self.calmness <= 1.0:
            raise ValueError(f"calmness must be within 0-1 or None, got {self.calmness}")
        if self.dead_air_s < 0 or self.paraphrased_facts < 0:
            raise ValueError("dead_air_s and paraphrased_facts must not be negative")


@dataclass(frozen=True)
class AngerChange:
    """One reason the anger moved in a turn (``delta`` in anger points, + is angrier)."""

    reason: str
    """Machine-readable cause: ``interrupted``, ``red_flag:<id>``, ``technique:<id>``, ``paraphrased_facts``,
    ``raised_voice``, ``raised_pitch``, ``rushed_pace``, ``tense_tone``, ``calm_tone``, ``dead_air``,
    ``no_progress``, ``asked_again:<detail>``, ``clamp``."""
    delta: float
    detail: str
    """Human-readable explanation."""


@dataclass(frozen=True)
class AngerStep:
    """The anger before and after one agent turn, with every change that made the difference."""

    turn: int
    before: float
    after: float
    changes: tuple[AngerChange, ...]
    stage: str
    """The stage the caller moved to after this turn."""


@dataclass(frozen=True)
class CallerLine:
    """What the caller says next."""

    text: str
    stage: str
    band: str
    anger: float
    turn: int
    """0 for the opening line, then the number of agent turns so far."""
    final: bool = False
    """True when the call is over after this line."""
    outcome: str | None = None
    """``resolved`` | ``referred`` | ``hung_up`` when ``final``."""
    cut_in_after_s: float | None = None
    """How long (s, from the agent's first word) the caller lets the agent talk without acknowledging them
    before cutting in (:func:`cut_in_at`); None: the caller lets the agent finish (anger below
    ``cut_in_from_anger``, or a closing line)."""
    kind: str = "line"
    """How the line was made: ``line`` (a scenario line), ``varied`` (a scenario line with a lead-in, so it is not
    said again too soon), ``answer`` / ``answer_again`` (a detail the agent asked for / asked for again),
    ``follow_up`` (a promise without what or when), ``push_back`` (an offer the caller does not want) or ``accept``
    (the acceptance, naming the offer heard)."""


def cut_in_at(speech_start_s: float | None, speech_end_s: float | None, acknowledged_s: float | None,
              limit_s: float | None) -> float | None:
    """When the caller cuts in, or None (pure function; all times in seconds on one clock).

    The caller cuts in ``limit_s`` after the agent's first word when the agent is still talking then and has
    not acknowledged them (acknowledged or restated what they said) before that moment.
    """
    if limit_s is None or speech_start_s is None or speech_end_s is None:
        return None
    t = speech_start_s + limit_s
    if speech_end_s <= t or (acknowledged_s is not None and acknowledged_s <= t):
        return None
    return t


def cut_in_limit(anger: float, difficulty: int, config: CallerConfig, scenario_s: float | None = None
                 ) -> float | None:
    """The caller's patience (s) with an agent talking on without acknowledging them, or None below
    ``cut_in_from_anger``: the scenario's ``interrupt_after_s`` or the difficulty's default, shortened by
    ``cut_in_furious_factor`` in the furious band."""
    if anger < config.cut_in_from_anger:
        return None
    by_difficulty = config.cut_in_after_s
    base = float(scenario_s) if scenario_s is not None else float(
        by_difficulty[min(max(difficulty, 1), len(by_difficulty)) - 1])
    if band_of(anger, config) == "furious":
        base *= config.cut_in_furious_factor
    return round(base, 2)


def band_of(anger: float, config: CallerConfig) -> str:
    """The anger band (``calm`` | ``upset`` | ``furious``) for an anger value."""
    if anger >= config.band_furious_at:
        return "furious"
    if anger >= config.band_upset_at:
        return "upset"
    return "calm"


def anger_update(
    anger: float,
    obs: TurnObservation,
    config: CallerConfig,
    *,
    difficulty: int = 2,
    triggers: dict[str, float] | None = None,
    soothers: dict[str, float] | None = None,
    uses: dict[str, int] | None = None,
    floor: float = 0.0,
) -> tuple[float, tuple[AngerChange, ...]]:
    """The caller's anger after one agent turn (pure function).

    Parameters
    ----------
    anger : float
        Anger before the turn, 0-100.
    obs : TurnObservation
        What the agent did.
    config : CallerConfig
        Coefficients.
    difficulty : int
        Scenario difficulty 1-3 (scales rises and falls).
    triggers, soothers : dict, optional
        Per-caller weights on red flags and techniques (default 1).
    uses : dict, optional
        How many times each technique was used in earlier turns (for the repeat decay). Not modified.
    floor : float
        Anger never falls below this (an abusive caller's floor); rises are unaffected.

    Returns
    -------
    anger : float
        New anger, within ``[0, 100]``.
    changes : tuple of AngerChange
        Every contribution with its reason, in the order applied.
    """
    triggers = triggers or {}
    soothers = soothers or {}
    uses = uses or {}
    d = min(max(int(difficulty), 1), 3) - 1
    up_scale = config.difficulty_up_scale[d]
    down_scale = config.difficulty_down_scale[d] * max(0.0, 1.0 - config.calm_resistance * anger / 100.0)
    changes: list[AngerChange] = []

    def up(reason: str, amount: float, detail: str) -> None:
        if amount > 0:
            changes.append(AngerChange(reason, round(amount * up_scale, 3), detail))

    def down(reason: str, amount: float, detail: str) -> None:
        if amount > 0:
            changes.append(AngerChange(reason, -round(amount * down_scale, 3), detail))

    if obs.interrupted:
        up("interrupted", config.interrupt_up, "the agent cut in while the caller was speaking")
    for flag in dict.fromkeys(obs.red_flags):
        up(f"red_flag:{flag}", config.red_flag_up * triggers.get(flag, 1.0), f"red flag: {flag.replace('_', ' ')}")
    if obs.raised_voice:
        up("raised_voice", config.raised_voice_up, "the agent's voice was raised")
    if obs.raised_pitch:
        up("raised_pitch", config.raised_pitch_up, "the agent's pitch was raised")
    if obs.rushed_pace:
        up("rushed_pace", config.rushed_pace_up, "the agent was rushing")
    if obs.calmness is not None and obs.calmness <= config.tense_calmness:
        up("tense_tone", config.tense_tone_up, f"tense tone (calmness {obs.calmness:.2f})")
    if obs.dead_air_s > config.dead_air_s:
        extra = min(config.dead_air_up_max, config.dead_air_up_per_s * (obs.dead_air_s - config.dead_air_s))
        up("dead_air", extra, f"{obs.dead_air_s:.1f} s of dead air before the agent answered")

    techniques = tuple(dict.fromkeys(obs.techniques))

    def decay(t: str) -> float:
        return max(config.repeat_floor, config.repeat_decay ** uses.get(t, 0))

    for t in techniques:
        if t == ids.PARAPHRASE:
            continue
        amount = getattr(config, _GOOD_DOWN[t]) * soothers.get(t, 1.0) * decay(t)
        down(f"technique:{t}", amount, f"{t.replace('_', ' ')}" + (" (used before)" if uses.get(t) else ""))
    if ids.PARAPHRASE in techniques or obs.paraphrased_facts > 0:
        n = min(obs.paraphrased_facts, config.paraphrase_max_facts)
        base = config.paraphrase_down if ids.PARAPHRASE in techniques else 0.0
        amount = (base + config.paraphrase_fact_down * n) * soothers.get(ids.PARAPHRASE, 1.0) * decay(ids.PARAPHRASE)
        down("technique:paraphrase", amount, f"paraphrased {obs.paraphrased_facts} of the caller's facts")
    if ids.CHOICES in techniques and ids.RESOLUTION_TIMELINE in techniques:
        down("choices_with_timeline", config.choices_timeline_bonus, "concrete choices with a timeline")
    strained = obs.raised_voice or obs.raised_pitch or obs.rushed_pace  # heard raised: never also "calm"
    if obs.calmness is not None and obs.calmness >= config.calm_calmness and not strained:
        down("calm_tone", config.calm_tone_down, f"calm tone (calmness {obs.calmness:.2f})")
    if not techniques and not obs.red_flags and not obs.paraphrased_facts:
        up("no_progress", config.no_progress_up, "nothing in the answer moved the call forward")

    total = sum(c.delta for c in changes)
    new = anger + total
    low = min(floor, anger) if total < 0 else 0.0  # the floor only stops falls
    clamped = min(100.0, max(low, new))
    if clamped != new:
        why = "anger floor of this caller" if clamped == low and low > 0 else "anger stays within 0-100"
        changes.append(AngerChange("clamp", clamped - new, why))
    return clamped, tuple(changes)


@dataclass
class CallerState:
    """Everything that changes during a call (a snapshot is recorded in the session)."""

    anger: float
    turn: int = 0
    stage: str = "opening"
    outcome: str | None = None
    uses: dict[str, int] = field(default_factory=dict)
    """How many turns each technique was used in."""
    said: list[str] = field(default_factory=list)
    """Lines said so far (none is said again within ``NO_REPEAT_WITHIN`` lines)."""
    heard: list[str] = field(default_factory=list)
    """What the agent told the caller, turn by turn (their words; empty where unknown)."""
    given: dict[str, str] = field(default_factory=dict)
    """Details the caller has told the agent (``[details]`` key -> the words)."""
    asked: dict[str, int] = field(default_factory=dict)
    """How many times the agent asked for each detail."""
    offers: list[int] = field(default_factory=list)
    """The scenario resolutions (indices) the agent has offered so far, in order."""
    accepted: str | None = None
    """The agent's words the caller accepted (the call ended resolved on them)."""


class Caller:
    """An upset customer following one scenario.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    config : CallerConfig, optional
        Dynamics coefficients (defaults when None).
    seed : int
        Seed for choosing among equivalent lines; same seed + same observations = same call.
    anger : float, optional
        Starting anger (defaults to the persona's).
    """

    def __init__(self, scenario: Scenario, config: CallerConfig | None = None, *, seed: int = 0,
                 anger: float | None = None):
        self.scenario = scenario
        self.config = config or CallerConfig()
        self.seed = seed
        self._rng = random.Random(seed)
        start = float(scenario.persona.anger if anger is None else anger)
        if not 0.0 <= start <= 100.0:
            raise ValueError(f"starting anger must be within 0-100, got {start}")
        self.start_anger = start
        self.state = CallerState(anger=start)
        self.trajectory: list[AngerStep] = []
        self._opened = False

    # -- queries ---------------------------------------------------------------------------------------------
    @property
    def anger(self) -> float:
        return self.state.anger

    @property
    def band(self) -> str:
        return band_of(self.state.anger, self.config)

    @property
    def ended(self) -> bool:
        return self.state.outcome is not None

    @property
    def outcome(self) -> str | None:
        return self.state.outcome

    # -- the call ----------------------------------------------------------------------------------------------
    def opening(self) -> CallerLine:
        """The caller's first line (call once, before the first agent turn)."""
        if self._opened:
            raise RuntimeError("opening() was already called for this caller")
        self._opened = True
        return self._line("opening")

    def respond(self, obs: TurnObservation, cut_in: bool = False) -> CallerLine:
        """Update anger from the agent's turn and return the caller's next line.

        ``cut_in``: the caller cut the agent off (:func:`cut_in_at`); unless the call ends, the line comes
        from the ``interrupt`` stage.

        Raises
        ------
        RuntimeError
            The call has already ended, or ``opening()`` was not called first.
        """
        if not self._opened:
            raise RuntimeError("call opening() before respond()")
        if self.ended:
            raise RuntimeError(f"the call has ended ({self.state.outcome})")
        st, sc, r = self.state, self.scenario, self.scenario.reactions
        before = st.anger
        st.anger, changes = anger_update(
            st.anger, obs, self.config, difficulty=sc.difficulty, triggers=r.triggers, soothers=r.soothers,
            uses=st.uses, floor=float(r.anger_floor),
        )
        st.turn += 1
        techniques = set(obs.techniques)
        if obs.paraphrased_facts > 0:
            techniques.add(ids.PARAPHRASE)
        for t in techniques:
            st.uses[t] = st.uses.get(t, 0) + 1

        heard = bool(obs.text.strip())
        st.heard.append(obs.text.strip())
        offers = understand.offers_heard(obs.text, sc.resolutions) if heard else ()
        asked = understand.details_asked(obs.text, tuple(sc.details)) if heard and sc.details else ()
        for k in asked:
            st.asked[k] = st.asked.get(k, 0) + 1
        again = [k for k in asked if k in st.given]
        if again:  # asking for what the caller already said: recorded like any other change, with its reason
            changes = self._asked_again(changes, again)
        for o in offers:
            if o.resolution not in st.offers:
                st.offers.append(o.resolution)
        offered_technique = any(t in techniques for t in _OFFERS)
        # with the words known, only an offer of one of the scenario's resolutions is an offer the caller can take
        offered = bool(offers) if heard else offered_technique
        vague = heard and not offers and (understand.is_vague_promise(obs.text) or (
            ids.OWNERSHIP in techniques and not offered_technique))
        requirements_met = all(st.uses.get(t, 0) > 0 for t in r.requires)
        kind = "line"
        if st.anger >= r.hang_up_at:
            stage = "hung_up"
        elif ids.REFERRAL in techniques:
            stage = "referred"
        elif offered and st.anger <= r.accept_below and requirements_met:
            stage = "resolved"
        elif st.turn >= r.max_turns:
            stage = "hung_up"
        elif asked:
            stage, kind = "details", "answer"
        elif vague:
            stage, kind = "negotiate", "follow_up"
        elif heard and offered_technique and not offers:
            stage, kind = "negotiate", "push_back"
        elif offered:
            stage = "negotiate"
        elif techniques & set(_PROGRESS):
            stage = "details"
        else:
            stage = "vent"
        if cut_in and stage not in ("hung_up", "referred", "resolved"):
            stage, kind = "interrupt", "line"
        st.stage = stage
        if stage in ("hung_up", "referred", "resolved"):
            st.outcome = {"hung_up": ids.HUNG_UP, "referred": ids.REFERRED, "resolved": ids.RESOLVED}[stage]
        self.trajectory.append(AngerStep(st.turn, round(before, 3), round(st.anger, 3), changes, stage))
        if stage == "resolved" and offers:
            return self._accept(offers)
        if kind == "answer":
            return self._answer(asked)
        if kind in ("follow_up", "push_back"):
            return self._emit(_GENERIC[kind][self.band], stage, kind)
        return self._line(stage)

    def _asked_again(self, changes: tuple[AngerChange, ...], keys: list[str]) -> tuple[AngerChange, ...]:
        """Add the rise for details asked for again (scaled like other rises) and re-clamp."""
        st, cfg = self.state, self.config
        d = min(max(int(self.scenario.difficulty), 1), 3) - 1
        extra = [AngerChange(f"asked_again:{k}", round(cfg.asked_again_up * cfg.difficulty_up_scale[d], 3),
                             f"asked again for the {k.replace('_', ' ')}, which the caller already gave")
                 for k in keys]
        new = st.anger + sum(c.delta for c in extra)
        clamped = min(100.0, max(0.0, new))
        if clamped != new:
            extra.append(AngerChange("clamp", clamped - new, "anger stays within 0-100"))
        st.anger = clamped
        return (*changes, *extra)

    # -- what the caller says ------------------------------------------------------------------------------------
    def _recent(self) -> list[str]:
        return self.state.said[-NO_REPEAT_WITHIN:]

    def _choose(self, *pools: tuple[str, ...] | list[str]) -> tuple[str, str]:
        """A line from the first pool with one not said within the last ``NO_REPEAT_WITHIN`` lines; when every
        pool is used up, the first pool's line with a lead-in not used recently. Returns (text, kind)."""
        recent = self._recent()
        for pool in pools:
            fresh = list(dict.fromkeys(o for o in pool if o not in recent))
            if fresh:
                return fresh[self._rng.randrange(len(fresh))], "line"
        base = [o for pool in pools for o in pool]
        for lead in _LEADS[self.band]:
            varied = [f"{lead} {o[:1].lower()}{o[1:]}" for o in base]
            fresh = [v for v in varied if v not in recent]
            if fresh:
                return fresh[self._rng.randrange(len(fresh))], "varied"
        raise AssertionError("no line left to say")  # pragma: no cover - more leads than lines can be used up

    def _emit(self, pool: tuple[str, ...], stage: str, kind: str) -> CallerLine:
        text, how = self._choose(pool)
        return self._finish(text, stage, kind if how == "line" else "varied")

    def _finish(self, text: str, stage: str, kind: str) -> CallerLine:
        self.state.said.append(text)
        band = self.band
        limit = None if self.ended else cut_in_limit(self.state.anger, self.scenario.difficulty, self.config,
                                                         self.scenario.reactions.interrupt_after_s)
        return CallerLine(text, stage, band, round(self.state.anger, 3), self.state.turn, self.ended,
                          self.state.outcome, limit, kind)

    def _line(self, stage: str) -> CallerLine:
        band = self.band
        table = self.scenario.lines.get(stage) or DEFAULT_LINES[stage]
        own = self.scenario.lines_for(stage, band)
        others = tuple(o for b in (*BANDS, "any") for o in table.get(b, ()) if o not in own)
        text, kind = self._choose(own, others)
        return self._finish(text, stage, kind)

    def _answer(self, keys: tuple[str, ...]) -> CallerLine:
        """The details asked for, in the caller's words (``I told you already`` for one given before)."""
        st = self.state
        again = [k for k in keys if k in st.given]
        parts = [self.scenario.details[k] for k in keys]
        body = " ".join(parts)
        if again:
            pool = tuple(f"{lead} {body}" for lead in _GENERIC["answer_again"][self.band])
            kind = "answer_again"
        else:
            pool = (body,)
            kind = "answer"
        for k in keys:
            st.given.setdefault(k, self.scenario.details[k])
        text, how = self._choose(pool)
        return self._finish(text, "details", kind if how == "line" else "varied")

    def _accept(self, offers: tuple[understand.Offer, ...]) -> CallerLine:
        """Accept the offer heard, naming only what (and when) the agent said."""
        chosen = offers[0]
        words = understand.in_callers_words(chosen.words)
        if chosen.when and chosen.when.lower() not in words.lower():
            words = f"{words}, {chosen.when}"
        self.state.accepted = chosen.words
        generic = self.scenario.lines_for("resolved", self.band)
        pool = tuple(f"So {words}. {g}" for g in generic)
        text, how = self._choose(pool)
        return self._finish(text, "resolved", "accept" if how == "line" else "varied")

    @property
    def wants(self) -> tuple[str, ...]:
        """The scenario's resolutions the agent has not offered yet."""
        return tuple(r for i, r in enumerate(self.scenario.resolutions) if i not in self.state.offers)

    def to_dict(self) -> dict:
        """Record for the session/report: scenario id, seed, outcome and the anger trajectory with reasons."""
        return {
            "scenario": self.scenario.id,
            "seed": self.seed,
            "start_anger": self.start_anger,
            "anger": round(self.state.anger, 3),
            "band": self.band,
            "stage": self.state.stage,
            "turns": self.state.turn,
            "outcome": self.state.outcome,
            "goal": self.scenario.goal,
            "details_given": sorted(self.state.given),
            "details_asked": dict(self.state.asked),
            "offers_heard": [self.scenario.resolutions[i] for i in self.state.offers],
            "wants": list(self.wants),
            "accepted": self.state.accepted,
            "trajectory": [
                asdict(s) | {"changes": [asdict(c) | {"delta": round(c.delta, 3)} for c in s.changes]}
                for s in self.trajectory
            ],
        }


__all__ = ["BANDS", "NO_REPEAT_WITHIN", "AngerChange", "AngerStep", "Caller", "CallerLine", "CallerState",
           "TurnObservation",
           "anger_update", "band_of"]
