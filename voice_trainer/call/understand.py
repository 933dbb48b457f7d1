"""What the simulated caller makes of the agent's words: questions for a detail, offers, vague promises.

Pure text rules (no models): the caller needs to know which of its details the agent asked for, which of the
scenario's ``resolutions`` the agent offered (and in which words, so the caller accepts exactly that), and whether
a promise had a concrete "what" at all. The rules are deliberately simple and conservative: a detail is only
"asked for" in a sentence that is a question, an offer only "matches" a resolution when it shares at least two of
its content words (or most of a short one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DETAIL_RULES: dict[str, str] = {
    "order_number": r"\border (?:number|no\b|id\b|reference|ref\b)|\border #",
    "account_number": r"\baccount (?:number|no\b|id\b)|\bcustomer (?:number|id\b)",
    "reference": r"\breference\b|\bref\b|\bticket\b|\bcase (?:number|id\b)|\bclaim number",
    "name": r"\b(?:your|full|the account holder's) name\b|\bwho am i speaking|\bspell (?:your|the) (?:sur)?name",
    "address": r"\baddress\b|\bpost ?code\b|\bzip\b",
    "email": r"\be-?mail (?:address)?\b(?!ed)",
    "phone": r"\b(?:phone|contact|mobile|callback) number\b|\bnumber (?:to|i can) (?:call|reach)",
    "order_date": r"\bwhen did you (?:order|place|buy|purchase|book)|\b(?:order|purchase|booking) date\b"
                  r"|\bdate of (?:the|your) (?:order|purchase|booking)",
    "date": r"\bwhen did (?:this|it|that|the \w+) (?:happen|start|stop|begin|fail|break)|\bwhat (?:date|day)\b"
            r"|\bsince when\b|\bhow long (?:ago|has)\b|\bwhich day\b",
    "amount": r"\bhow much\b|\bamount\b|\bwhat (?:was|were) (?:you )?(?:the )?charged?\b|\bprice\b|\bcost\b",
    "card": r"\blast (?:four|4) digits\b|\bwhich card\b|\bcard (?:number|ending)\b",
    "item": r"\bwhich (?:item|product|model|jacket|machine|one)\b|\bwhat (?:did you order|item|product|model)\b",
    "tried": r"\b(?:have|did) you (?:already )?(?:try|tried|restart|reinstall|reset|check)\b"
             r"|\bwhat (?:have|did) you (?:try|tried|done|do)\b|\banything else you(?:'ve| have)? tried\b",
}
"""Keys of a scenario's ``[details]`` table and the question wording that asks for each (lower-case regex)."""
DETAIL_KEYS = tuple(DETAIL_RULES)
_DETAIL_RE = {k: re.compile(v) for k, v in DETAIL_RULES.items()}

_QUESTION_START = re.compile(
    r"^(?:so |and |okay,? |ok,? |right,? |please,? )*(?:can|could|may|would|will|what|when|which|where|who|how|"
    r"do|did|does|is|are|have|has|tell me|give me|let me have|i need|i'll need|i will need)\b")
_SENTENCES = re.compile(r"[^.?!]+[.?!]?")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

_STOP = frozenset("""
a an the and or but if so to of in on at by for from with within into onto as is are was were be been being it its
it's this that these those there their they them i i'm i'll i've me my mine we we'll we're our us you you'll your
yours he she his her can could will would shall should may might must do does did done have has had not no yes
then than very just also too up out over about after before again all any some each more most what when which who
whom how why where here now that's let let's get got make made go going want would like okay ok well sure right
caller agent prefers prefer one two
""".split())
"""Words that say nothing about which resolution was offered."""
_SYNONYMS = {
    "ship": "send", "post": "send", "dispatch": "send", "mail": "send", "sent": "send", "sending": "send",
    "reimburse": "refund", "money": "refund", "repay": "refund", "refunded": "refund",
    "ring": "call", "phone": "call", "callback": "call", "rung": "call",
    "pickup": "collect", "pick": "collect", "collection": "collect", "courier": "collect",
    "replace": "replacement", "new": "replacement",
    "compensate": "credit", "compensation": "credit", "goodwill": "credit",
    "appointment": "slot", "visit": "slot", "engineer": "technician",
    "confirm": "confirmation", "written": "confirmation",
    "cancel": "waive", "remove": "waive", "drop": "waive",
    "mins": "minute", "hrs": "hour",
}


def _stem(w: str) -> str:
    w = w.removesuffix("'s")
    w = _SYNONYMS.get(w, w)
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > 4 + len(suffix) - 1 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    return _SYNONYMS.get(w, w)


def content_words(text: str) -> set[str]:
    """Stemmed words of ``text`` that carry meaning (no stop words), with a few synonyms folded together."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.findall(text or "") if s.strip()]


def is_question(sentence: str) -> bool:
    s = sentence.strip().lower()
    return s.endswith("?") or bool(_QUESTION_START.match(s))


def details_asked(text: str, keys) -> tuple[str, ...]:
    """The detail keys (of ``keys``, in their order) that a question in ``text`` asks for."""
    asked: list[str] = []
    questions = [s.lower() for s in sentences(text) if is_question(s)]
    for k in keys:
        rule = _DETAIL_RE.get(k)
        if rule is not None and any(rule.search(q) for q in questions):
            asked.append(k)
    return tuple(asked)


_TIME = re.compile(
    r"\b(?:today|tonight|tomorrow(?: morning| afternoon)?|this (?:morning|afternoon|evening|week)|right now|now|"
    r"by (?:the end of )?(?:today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|\w+ o'clock)|"
    r"(?:on |before |by )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"within (?:the |an? )?(?:\w+ )?(?:to \w+ )?(?:minutes?|hours?|days?|working days?|business days?|weeks?)|"
    r"in (?:\w+ )?(?:to \w+ )?(?:minutes?|hours?|days?|working days?|business days?|weeks?)|"
    r"at (?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?::\d\d)?(?: ?[ap]\.?m\.?)?)\b")
_VAGUE = re.compile(
    r"\b(?:sort (?:it|this|that|everything) out|sort it|take care of (?:it|this|that|everything)|"
    r"look into (?:it|this|that)|deal with (?:it|this|that)|handle (?:it|this|that)|"
    r"get (?:it|this|that) (?:fixed|sorted|resolved|done)|fix (?:it|this|that)|make (?:it|this|that) right|"
    r"do (?:my|our|everything) (?:best|i can|we can)|resolve (?:it|this|that)|see what i can do|"
    r"get to the bottom of)")
_OFFER_LEAD = re.compile(
    r"\b(?:(?:can|could|shall|should|may) (?:i|we)|i can|i could|i'll|i will|i am going to|i'm going to|we can|"
    r"we could|we'll|we will|we are going to|we're going to|let me|would you like me to|i'd like to|"
    r"i would like to)\s+")
_NOUN_LEAD = re.compile(r"\b(?:(?:i|we) can do is(?: this)?:?|would you like|how about|what about|"
                        r"i can offer you|i could offer you|can i offer you|i'd suggest|i suggest)\s+")


def when_of(text: str) -> str | None:
    """The first time expression in ``text`` (``today``, ``within 24 hours``, ``by Friday``), or None."""
    m = _TIME.search((text or "").lower())
    return m.group(0) if m else None


def is_vague_promise(text: str) -> bool:
    """The words promise to deal with it without saying how ("I'll sort it out", "I'll look into it")."""
    return bool(_VAGUE.search((text or "").lower()))


@dataclass(frozen=True)
class Offer:
    """One of the scenario's resolutions as the agent offered it."""

    resolution: int
    """Index into the scenario's ``resolutions``."""
    words: str
    """The agent's words that offered it (one clause)."""
    when: str | None
    """The time the agent gave for it (in that clause or its sentence), or None."""


_RESTATED = re.compile(r"\byou(?:'ve| have)? (?:want|wanted|'d like|would like|need|needed|asked for|were "
                       r"promised|paid for|were told|expected)\b")


def _clauses(sentence: str) -> list[str]:
    parts = re.split(r",\s*(?:or|and)\s+|\s+or\s+|;\s*|,\s*(?=(?:i|we|or|and|which|would|then)\b)", sentence)
    return [p.strip(" ,.?!") for p in parts if p and p.strip(" ,.?!")]


def _matches(clause_words: set[str], res_words: set[str]) -> bool:
    shared = clause_words & res_words
    return len(shared) >= 2 or (len(shared) >= 1 and len(res_words) <= 2)


def offers_heard(text: str, resolutions) -> tuple[Offer, ...]:
    """The scenario resolutions the agent offered in ``text`` (best match per clause, in the order spoken)."""
    res_words = [content_words(r) for r in resolutions]
    out: list[Offer] = []
    seen: set[int] = set()
    for sent in sentences(text):
        low = sent.lower()
        if _RESTATED.search(low) and not _OFFER_LEAD.search(low):
            continue  # "so you wanted a replacement before Saturday" restates the caller; it offers nothing
        for clause in _clauses(sent):
            cw = content_words(clause)
            scored = [(len(cw & rw), -i, i) for i, rw in enumerate(res_words) if _matches(cw, rw)]
            if not scored:
                continue
            i = max(scored)[2]
            if i in seen:
                continue
            seen.add(i)
            lead = _OFFER_LEAD.search(clause.lower())
            words = clause[lead.start():] if lead else clause  # from "I can ...": the offer, not what led to it
            alone = len(_clauses(sent)) == 1
            out.append(Offer(i, words, when_of(words) or (when_of(sent) if alone else None)))
    return tuple(out)


_SWAP = {"you": "me", "your": "my", "yours": "mine", "yourself": "myself", "i": "you", "i'll": "you'll",
         "i'm": "you're", "i've": "you've", "me": "you", "my": "your", "we": "you", "we'll": "you'll",
         "we're": "you're", "we've": "you've", "us": "you", "our": "your"}


_OPTIONS = re.compile(r"^(?:\w+ )?(?:options|choices|things)\b[,:]?\s*", re.IGNORECASE)


def in_callers_words(clause: str) -> str:
    """The agent's offer as the caller repeats it back ("I can send you a replacement today" -> "you'll send me
    a replacement today"). Only the agent's own words, with the persons swapped."""
    s = clause.strip(" ,.?!")
    lead = ""
    m = _NOUN_LEAD.search(s.lower())
    if m:  # "would you like a written confirmation" -> "a written confirmation"
        s = s[m.end():]
    else:
        m = _OFFER_LEAD.search(s.lower())
        if m:  # "I can send you ..." -> "you'll send me ..."
            s, lead = s[m.end():], "you'll "
    s = _OPTIONS.sub("", s)  # "two options, an express replacement" -> "an express replacement"
    words = [_SWAP.get(w.lower(), w) for w in s.split()]
    text = " ".join(words).strip()
    if lead and text.lower().startswith(("you'll ", "you will ")):
        lead = ""
    return (lead + text).strip()


__all__ = ["DETAIL_KEYS", "DETAIL_RULES", "Offer", "content_words", "details_asked", "in_callers_words",
           "is_question", "is_vague_promise", "offers_heard", "sentences", "when_of"]
