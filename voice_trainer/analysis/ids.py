"""Identifiers shared between the listening analysis, the turn analysis, the caller and the report.

One place for the strings that name what an agent did in a turn. The listening analysis reports technique and
red-flag ids from here; the simulated caller (``caller.py``) reacts to them; scenario files may refer to them
(``reactions.requires``, ``reactions.triggers``, ``reactions.soothers``). Using a string that is not listed here
is an error wherever ids are accepted, so a typo never silently does nothing.

Each technique id maps to the number of the technique in ``docs/techniques.md`` (1-10), so feedback can tie a
tip to a technique.

This module imports nothing.
"""

from __future__ import annotations

# --- Techniques (what a good agent does) -----------------------------------------------------------------------
LET_VENT = "let_vent"
"""Stayed quiet (backchannels only) while the caller vented. Technique 1."""
ACKNOWLEDGE = "acknowledge"
"""Acknowledged the caller's specific feeling and situation (not a bare stock phrase). Technique 2."""
PARAPHRASE = "paraphrase"
"""Restated the caller's concrete facts in the agent's own words. Technique 3."""
OWNERSHIP = "ownership"
"""Took ownership ("let me fix this") instead of deflecting. Technique 5."""
QUESTION = "question"
"""Asked a targeted or open question to break the problem down. Technique 6."""
RESOLUTION_TIMELINE = "resolution_timeline"
"""Said what will be done and when ("today I'll..., within 24 hours you'll..."). Technique 7."""
CHOICES = "choices"
"""Offered the caller options (refund or replacement). Technique 8."""
CONFIRM = "confirm"
"""Checked that the caller agrees before acting. Technique 8."""
THANKS = "thanks"
"""Thanked the caller for their patience or for raising the problem; offered follow-up. Technique 9."""
REFERRAL = "referral"
"""Offered a supervisor or specialist calmly. Technique 10."""
BOUNDARY = "boundary"
"""Set a calm boundary on abusive language ("I want to help, and I need us to keep this respectful"). Technique 10."""
EXPLAIN_LIMIT = "explain_limit"
"""Said plainly what cannot be done, together with what can. Technique 7."""
BREAK_DOWN = "break_down"
"""Split the problem into steps. Technique 6."""
FOLLOW_UP = "follow_up"
"""Offered to follow up (a call back, an email with the result). Technique 9."""

TECHNIQUES: dict[str, int] = {
    LET_VENT: 1,
    ACKNOWLEDGE: 2,
    PARAPHRASE: 3,
    OWNERSHIP: 5,
    QUESTION: 6,
    RESOLUTION_TIMELINE: 7,
    EXPLAIN_LIMIT: 7,
    CHOICES: 8,
    CONFIRM: 8,
    THANKS: 9,
    FOLLOW_UP: 9,
    REFERRAL: 10,
    BOUNDARY: 10,
    BREAK_DOWN: 6,
}
"""Technique id -> technique number in docs/techniques.md (aliases included, see ``ALIASES``)."""

# --- Red flags (what costs points and angers the caller) ------------------------------------------------------
BLAME = "blame"
"""Blamed the caller ("you should have..."). Technique 5."""
CALM_DOWN = "calm_down"
"""Told the caller to calm down. Technique 5."""
POLICY_WALL = "policy_wall"
"""Used policy as a wall ("it's our policy") with no way forward. Technique 5."""
NOT_MY_DEPARTMENT = "not_my_department"
"""Deflected ("that's not my department"). Technique 5."""
DISMISSIVE = "dismissive"
"""Dismissed the problem or the feeling ("it's only a few days"). Technique 2."""
SARCASM = "sarcasm"
"""Sarcastic wording. Technique 4."""
OVER_PROMISE = "over_promise"
"""Promised what the agent cannot guarantee. Technique 7."""
NOTHING_I_CAN_DO = "nothing_i_can_do"
""""There's nothing I can do" with no alternative offered. Technique 7."""
STOCK_PHRASE = "stock_phrase"
"""A bare stock phrase ("I understand") with nothing specific after it. Technique 2."""
ARGUING = "arguing"
"""Argued with the caller about what happened. Technique 5."""
REFUSED_REFERRAL = "refused_referral"
"""Refused a supervisor or specialist the caller asked for. Technique 10."""

RE_ASKED = "re_asked"
"""Asked for something the caller had already said. Technique 3."""

# found by the learned detectors only (listening_model.py)
DEFENSIVE = "defensive"
"""Defended the company or themselves instead of handling the problem ("we get thousands of claims"). Technique 5."""
MINIMISING = "minimising"
"""Played the problem down ("it's only one night"). Technique 2."""
PATRONISING = "patronising"
"""Talked down to the caller ("let me explain it slowly"). Technique 4."""
RETALIATION = "retaliation"
"""Hit back or threatened to end the call. Technique 4."""

RED_FLAGS: dict[str, int] = {
    BLAME: 5,
    CALM_DOWN: 5,
    POLICY_WALL: 5,
    NOT_MY_DEPARTMENT: 5,
    DISMISSIVE: 2,
    SARCASM: 4,
    OVER_PROMISE: 7,
    NOTHING_I_CAN_DO: 7,
    STOCK_PHRASE: 2,
    ARGUING: 5,
    REFUSED_REFERRAL: 10,
    RE_ASKED: 3,
    DEFENSIVE: 5,
    MINIMISING: 2,
    PATRONISING: 4,
    RETALIATION: 4,
}
"""Red-flag id -> technique number in docs/techniques.md whose opposite it is (aliases included)."""

ALIASES: dict[str, str] = {
    "resolution": RESOLUTION_TIMELINE,
    "invite_venting": LET_VENT,
    "guarantee": OVER_PROMISE,
}
"""Other names for the same id (the listening lexicon's category names) -> the canonical id used here."""
for _alias, _canon in ALIASES.items():
    (TECHNIQUES if _canon in TECHNIQUES else RED_FLAGS)[_alias] = (TECHNIQUES | RED_FLAGS)[_canon]


def canonical(id_: str) -> str:
    """The canonical id for ``id_`` (aliases resolved; other ids unchanged)."""
    return ALIASES.get(id_, id_)

# --- Call outcomes -------------------------------------------------------------------------------------------
RESOLVED = "resolved"
REFERRED = "referred"
HUNG_UP = "hung_up"
OUTCOMES = (RESOLVED, REFERRED, HUNG_UP)


def check_ids(ids: object, known: dict[str, int] | tuple[str, ...], what: str) -> tuple[str, ...]:
    """Return ``ids`` as a tuple of canonical ids, raising ``ValueError`` naming any id not in ``known``.

    Parameters
    ----------
    ids : iterable of str
        The ids to check.
    known : dict or tuple
        The allowed ids (``TECHNIQUES`` or ``RED_FLAGS``).
    what : str
        Name used in the error message, e.g. ``"technique"``.
    """
    if isinstance(ids, str):
        raise ValueError(f"{what} ids must be a list of strings, not the single string {ids!r}")
    out = tuple(ids)  # type: ignore[arg-type]
    bad = [i for i in out if i not in known]
    if bad:
        raise ValueError(f"unknown {what} id(s) {', '.join(map(repr, bad))}; known: {', '.join(sorted(known))}")
    return tuple(canonical(i) for i in out)
