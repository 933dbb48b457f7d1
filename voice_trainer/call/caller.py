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
* ``resolved`` when the agent makes a concrete offer (``choices`` or ``resolution_timeline``) while anger is at or
  below ``accept_below`` and every technique in ``reactions.requires`` has been used at some point.

Otherwise the next stage is ``negotiate`` (an offer was not accepted), ``details`` (the agent listened, asked or
acknowledged) or ``vent`` (nothing useful yet). The line is drawn from the stage and the anger band with a
seeded random generator, avoiding repeats, so a given seed and the same observations replay the same call.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from ..analysis import ids
from ..config import CallerConfig
from .scenarios import BANDS, Scenario

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
    """

    interrupted: bool = False
    red_flags: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    calmness: float | None = None
    raised_voice: bool = False
    dead_air_s: float = 0.0
    paraphrased_facts: int = 0

    def __post_init__(self) -> None:
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
    ``raised_voice``, ``tense_tone``, ``calm_tone``, ``dead_air``, ``no_progress``, ``clamp``."""
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
    if obs.calmness is not None and obs.calmness >= config.calm_calmness:
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
    """Lines said so far (to avoid repeats)."""


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

        offered = any(t in techniques for t in _OFFERS)
        requirements_met = all(st.uses.get(t, 0) > 0 for t in r.requires)
        if st.anger >= r.hang_up_at:
            stage = "hung_up"
        elif ids.REFERRAL in techniques:
            stage = "referred"
        elif offered and st.anger <= r.accept_below and requirements_met:
            stage = "resolved"
        elif st.turn >= r.max_turns:
            stage = "hung_up"
        elif offered:
            stage = "negotiate"
        elif techniques & set(_PROGRESS):
            stage = "details"
        else:
            stage = "vent"
        if cut_in and stage not in ("hung_up", "referred", "resolved"):
            stage = "interrupt"
        st.stage = stage
        if stage in ("hung_up", "referred", "resolved"):
            st.outcome = {"hung_up": ids.HUNG_UP, "referred": ids.REFERRED, "resolved": ids.RESOLVED}[stage]
        self.trajectory.append(AngerStep(st.turn, round(before, 3), round(st.anger, 3), changes, stage))
        return self._line(stage)

    def _line(self, stage: str) -> CallerLine:
        band = self.band
        options = list(self.scenario.lines_for(stage, band))
        fresh = [o for o in options if o not in self.state.said] or options
        text = fresh[self._rng.randrange(len(fresh))]
        self.state.said.append(text)
        limit = None if self.ended else cut_in_limit(self.state.anger, self.scenario.difficulty, self.config,
                                                         self.scenario.reactions.interrupt_after_s)
        return CallerLine(text, stage, band, round(self.state.anger, 3), self.state.turn, self.ended,
                          self.state.outcome, limit)

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
            "trajectory": [
                asdict(s) | {"changes": [asdict(c) | {"delta": round(c.delta, 3)} for c in s.changes]}
                for s in self.trajectory
            ],
        }


__all__ = ["BANDS", "AngerChange", "AngerStep", "Caller", "CallerLine", "CallerState", "TurnObservation",
           "anger_update", "band_of"]
