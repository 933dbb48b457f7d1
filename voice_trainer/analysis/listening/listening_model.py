"""Learned listening detectors: small linear heads over sentence vectors (all-MiniLM-L6-v2, ONNX).

Where phrase patterns plateau, these heads judge each sentence of the trainee's reply by meaning:

* ``restate`` (a pair model): does this sentence restate or reflect what the caller said? Features of the pair
  (:func:`pair_features`): the two sentence vectors' product and distance, their cosine, and a few lexical-overlap
  numbers (share of the caller's content words repeated, by stem).
* ``reflect`` (a sentence model): is the sentence a reflection in form, saying back what the caller said, feels,
  wants or believes ("so the weekends are the hard part", "you're not sure it's worth it") rather than a question
  for new information, advice, information, praise or filler? Features: the sentence vector and three form flags
  (:func:`form_features`). A reflection is reported as a restatement even when its words are not the caller's last
  line (callers' earlier lines and counselling-style complex reflections).
* ``acknowledge``: acknowledges or validates the caller's feeling or situation.
* ``ownership``: the agent takes the problem on ("I can refund ... and I'll cover the fee too").
* ``flag``: one softmax over "good" and the red flags whose wording varies (blame, including blaming questions;
  defensive; dismissive; minimising; sarcasm; patronising; retaliation or a threat to end the call;
  over-promising): the probability of a red flag is 1 - P(good), its type the likeliest flag.

Each head is logistic regression trained by ``training/train_listening.py`` on the team's own labelled sentences
(``training/data/``) and stored as package data (``data/listening_model/heads.npz`` + ``heads.json``); at run time a
head is a dot product and a sigmoid (or softmax) in numpy, and its probability is the finding's confidence.
Thresholds are in ``heads.json`` (chosen by the training script on cross-validated predictions) and can be
overridden in :class:`ListeningModelConfig`.

:func:`merge_learned` is the one hook the rule-based analysis calls: it adds learned findings where the rules found
none and drops rule red flags that only quote the caller's own words back ("you were promised guaranteed
delivery" restates; it promises nothing).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import snowballstemmer

from ...errors import UserError

__all__ = [
    "FLAG_TYPES",
    "Heads",
    "ListeningModelConfig",
    "SentenceJudgement",
    "judge_sentences",
    "load_heads",
    "merge_learned",
    "form_features",
    "pair_features",
]

FLAG_TYPES = ("blame", "defensive", "dismissive", "minimising", "sarcasm", "patronising", "retaliation",
              "over_promise")
"""Red-flag types the ``flag`` head tells apart (its rows 1..8; row 0 is "good")."""

FLAG_ID = {"over_promise": "guarantee"}
"""A learned type reported under an existing rule id (so the score groups and JSON keep their ids)."""

HEADS_DIR = "listening_model"


@dataclass
class ListeningModelConfig:
    """Thresholds of the learned listening detectors. ``None``: the value chosen at training time (heads.json)."""

    enabled: bool = True
    """Use the learned detectors (loads the sentence encoder on the first reply analysed)."""
    restate_threshold: float | None = None
    """Probability (0-1) from which a sentence counts as restating the caller's words."""
    reflect_threshold: float | None = None
    """Probability (0-1) from which a sentence counts as a reflection in form (reported as a restatement)."""
    acknowledge_threshold: float | None = None
    """Probability from which a sentence counts as acknowledging the caller's feeling or situation."""
    ownership_threshold: float | None = None
    """Probability from which a sentence counts as taking ownership."""
    red_flag_threshold: float | None = None
    """Probability from which a sentence is reported as a red flag (its type: the likeliest flag of the ``flag``
    head)."""
    quote_veto_threshold: float | None = None
    """A sentence that restates the caller with at least this probability is never a red flag: the agent is quoting
    the caller's own words back ("you were told it was guaranteed")."""
    flag_support_threshold: float | None = None
    """A learned red flag also needs a cosine of at least this to one of the labelled red-flag sentences: the head
    is not trusted on text unlike anything it was trained on."""
    pair_windows: bool = True
    """Also judge each two neighbouring sentences together for a red flag (a blaming question followed by "that's
    usually the reason" is a red flag only as a pair); costs one more encoded text per extra sentence."""
    flag_min_words: int = 4
    """A learned red flag needs a sentence (or pair of sentences) of at least this many words: the head was trained
    on whole sentences and is not trusted on a "Bye" or "Just ok?"."""
    restate_min_content_words: int = 1
    """A learned restatement needs at least this many content words: a backchannel ("Yeah.", "Mm-hmm.", "Okay.",
    "Right, right.") restates nothing, however close its vector is to a caller's "Yeah."."""
    frame_min_reflect: float = 0.1
    """A rule restatement found by its frame alone ("so you ...", a declarative question mark, none of the caller's
    words matched: ``kind="frame"``) is kept only when the reflection-form or the pair head gives the sentence at
    least this probability (0-1): the frame is weak evidence, and "So, um, you've got Donna around at the
    moment?" asks rather than reflects. 0 keeps every frame. Chosen on the "tune" half of AnnoMI's conversations
    (``bench/eval_listening.py``)."""
    quote_min_share: float = 0.3
    """... and repeats at least this share (0-1) of the content words of the caller's sentence it restates."""
    heads_dir: str = ""
    """A folder with ``heads.npz`` and ``heads.json`` to use instead of the packaged ones (empty: packaged)."""


# ---------------------------------------------------------------------------------------------------------------
# Heads
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Heads:
    """The trained linear heads and their metadata (``heads.json``)."""

    weights: dict[str, np.ndarray]
    bias: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    flag_examples: np.ndarray | None = None
    """Sentence vectors of the labelled red flags: a learned flag must be at least ``flag_support`` similar to one."""

    def prob(self, name: str, x: np.ndarray) -> np.ndarray:
        """Probabilities of head ``name`` for feature rows ``x``: ``(n,)`` for a binary head, ``(n, k)`` for a
        multi-class one."""
        w, b = self.weights[name], self.bias[name]
        z = x @ w.T + b
        if w.shape[0] == 1:
            return 1.0 / (1.0 + np.exp(-z[:, 0]))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


REQUIRED_HEADS = ("restate", "reflect", "acknowledge", "ownership", "flag")


def _heads_path(heads_dir: str = "") -> Path:
    if heads_dir:
        return Path(heads_dir)
    return Path(str(resources.files("voice_trainer") / "data" / HEADS_DIR))


@functools.cache
def _load_heads_cached(folder: str) -> Heads:
    base = Path(folder)
    jpath, npath = base / "heads.json", base / "heads.npz"
    hint = "reinstall voice-trainer, or rebuild them with training/train_listening.py"
    for p in (jpath, npath):
        if not p.is_file():
            raise UserError(f"listening model file missing: {p}; {hint}")
    if base == _heads_path():  # the shipped heads: size and sha256 against the manifest (model_files.py)
        from ...model_files import verify

        verify("listening-heads", base)
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
        with np.load(npath, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, json.JSONDecodeError) as e:
        raise UserError(f"listening model file unreadable in {base} ({type(e).__name__}: {e}); {hint}") from None
    weights, bias, labels = {}, {}, {}
    for name in REQUIRED_HEADS:
        spec = meta.get("heads", {}).get(name)
        w, b = arrays.get(f"{name}.w"), arrays.get(f"{name}.b")
        if spec is None or w is None or b is None:
            raise UserError(f"listening model in {base} has no head {name!r}; {hint}")
        if w.ndim != 2 or b.shape != (w.shape[0],) or w.shape[1] != spec.get("n_features"):
            raise UserError(f"listening model head {name!r} in {base} has the wrong shape {w.shape}; {hint}")
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise UserError(f"listening model head {name!r} in {base} holds non-finite numbers; {hint}")
        weights[name], bias[name] = w.astype(np.float32), b.astype(np.float32)
        labels[name] = list(spec.get("labels", []))
    ex = arrays.get("flag_examples")
    if ex is None or ex.ndim != 2 or ex.shape[1] != weights["flag"].shape[1]:
        raise UserError(f"listening model in {base} has no valid flag_examples; {hint}")
    return Heads(weights, bias, labels, {k: float(v) for k, v in meta.get("thresholds", {}).items()}, meta,
                 ex.astype(np.float32))


def load_heads(heads_dir: str | Path = "") -> Heads:
    """Load the heads from ``heads_dir`` (default: package data). Raises :class:`UserError` when a file is missing
    or corrupt, with what to do."""
    return _load_heads_cached(str(_heads_path(str(heads_dir))))


# ---------------------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------------------

_STEM = snowballstemmer.stemmer("english")
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset("""a an the and or but so if then than that this these those there here it its it's is are was were
be been being am do does did done have has had having i i'm i've i'd i'll me my mine we we're we've our ours you you're
you've you'd you'll your yours he she they them their his her him to of in on at for from with by about as into over
after before up down out off just really very too also not no yes yeah okay ok oh well can could would should will
shall may might must what which who whom when where why how all any some more most such only own same other again
get got go going gone come came say said tell told know like one thing things""".split())
_YOU_START = re.compile(r"^\W*(?:(?:so|and|okay|ok|right|well|oh|sounds like|it sounds like|it seems|it seems like|"
                        r"it looks like|i hear that|i hear|if i understand|what i'm hearing is)\W+)*(you|your|you're|"
                        r"you've|you'd|you'll)\b", re.IGNORECASE)
_SELF_START = re.compile(r"^\W*(?:(?:well|and|so|okay|ok)\W+)?(i|i'm|i've|i'd|i'll|we|we're|we'll|our|my|let me)\b",
                         re.IGNORECASE)

_LEAD = r"^\W*(?:(?:so|and|but|okay|ok|right|alright|well|oh|um+|uh+|erm|yeah|yes|mm-hmm|mm|hmm|now|then)\W+)*"
_WH_START = re.compile(_LEAD + r"(what|what's|how|how's|why|when|where|which|who|whose)\b", re.IGNORECASE)
"""A question for new information ("So, um, what would that look like?"), after spoken fillers."""
_AUX_START = re.compile(_LEAD + r"(do|does|did|is|are|was|were|have|has|had|can|could|would|will|should|shall|may|"
                        r"might|any|anything)\b", re.IGNORECASE)
"""A yes/no question by its word order ("Do you drink every day?"), after spoken fillers: unlike a declarative check
("So you drink every day?"), which may be a reflection."""

N_LEXICAL = 6
_FILLERS = frozenset("""uh huh um umm mm mmh mhm hmm hm ah er erm right alright exactly sure thanks thank great good
fine cool totally absolutely definitely gotcha wow""".split())
"""Backchannel words that carry no content of their own (with :data:`_STOP`): see
``ListeningModelConfig.restate_min_content_words``."""


def _content_stems(text: str) -> list[str]:
    return [_STEM.stemWord(w) for w in _WORDS.findall(text.lower()) if w not in _STOP]


def lexical_pair_features(caller: str, sentence: str) -> tuple[np.ndarray, list[str]]:
    """Lexical features of a (caller line, agent sentence) pair and the caller's words the sentence repeats.

    Returns ``[share of the caller's content stems repeated, share of the sentence's content stems taken from the
    caller, number repeated / 5 (capped at 1), sentence starts with "you" (after a restating opener), sentence
    starts with I/we, sentence is a question]`` and the repeated caller words (as the caller wrote them).
    """
    c_words = [w for w in _WORDS.findall(caller.lower()) if w not in _STOP]
    c_stems = {_STEM.stemWord(w) for w in c_words}
    s_stems = set(_content_stems(sentence))
    shared = c_stems & s_stems
    feats = np.array([
        len(shared) / max(len(c_stems), 1),
        len(shared) / max(len(s_stems), 1),
        min(len(shared) / 5.0, 1.0),
        1.0 if _YOU_START.search(sentence) else 0.0,
        1.0 if _SELF_START.search(sentence) else 0.0,
        1.0 if sentence.strip().endswith("?") else 0.0,
    ], np.float32)
    matched = list(dict.fromkeys(w for w in c_words if _STEM.stemWord(w) in shared))
    return feats, matched


def form_features(u: np.ndarray, sentence: str) -> np.ndarray:
    """Features of the ``reflect`` head: ``[u, starts with "you" (after a restating opener), starts with I/we, ends
    with a question mark, starts with a question word, starts as a yes/no question]`` (the last two after spoken
    fillers: "so, um, what ...", "okay, do you ...") for the unit sentence vector ``u`` ``(d,)`` -> ``(d + 5,)``.

    The two question-form flags tell a question for new information from a declarative check ("So it's mostly at
    weekends?"), which says the other person's words back with a question mark and may be a reflection.
    """
    return np.concatenate([u, [1.0 if _YOU_START.search(sentence) else 0.0,
                               1.0 if _SELF_START.search(sentence) else 0.0,
                               1.0 if sentence.strip().endswith("?") else 0.0,
                               1.0 if _WH_START.search(sentence) else 0.0,
                               1.0 if _AUX_START.search(sentence) else 0.0]]).astype(np.float32)


def pair_features(u: np.ndarray, v: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Features of the pair model: ``[u, u*v, |u-v|, cos(u, v), lexical...]`` for sentence vector ``u`` (agent)
    and ``v`` (caller), both unit length. Shapes: ``(d,)`` each and ``(N_LEXICAL,)`` -> ``(3d + 1 + N_LEXICAL,)``."""
    return np.concatenate([u, u * v, np.abs(u - v), [float(u @ v)], lexical]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Judging sentences
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SentenceJudgement:
    """The learned heads' view of one agent sentence (probabilities 0-1)."""

    text: str
    restate: float = 0.0
    reflect: float = 0.0
    """Probability that the sentence is a reflection in form (``reflect`` head)."""
    caller_sentence: str = ""
    caller_words: list[str] = field(default_factory=list)
    caller_share: float = 0.0
    acknowledge: float = 0.0
    ownership: float = 0.0
    red_flag: float = 0.0
    flag_type: str = ""
    flag_type_prob: float = 0.0
    flag_support: float = 0.0
    """Best cosine to a labelled red-flag sentence (how far the flag head is on familiar ground)."""


_SPLIT = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*|\n|$)")


def _caller_units(caller: str) -> list[str]:
    """The caller's sentences and, when there are several, the whole line."""
    sents = [m.group().strip() for m in _SPLIT.finditer(caller) if m.group().strip()]
    return sents + [caller.strip()] if len(sents) > 1 else sents


def judge_sentences(sentences: Sequence[str], caller_text: str = "", *, encoder: Any = None,
                    heads: Heads | None = None) -> list[SentenceJudgement]:
    """Run every head on each agent sentence (the pair head against each of the caller's sentences, best kept).

    Parameters
    ----------
    sentences : sequence of str
        The agent's sentences.
    caller_text : str
        The caller's preceding line(s); without it ``restate`` stays 0.
    encoder : callable, optional
        ``encoder(list_of_str) -> (n, 384)`` unit vectors; default the process-wide all-MiniLM-L6-v2 encoder.
    heads : Heads, optional
        Default: the packaged heads.
    """
    if not sentences:
        return []
    if encoder is None:
        from .sentence_encoder import get_encoder

        encoder = get_encoder()
    heads = heads or load_heads()
    units = _caller_units(caller_text) if caller_text.strip() else []
    vecs = encoder(list(sentences) + units)
    u_all, c_all = vecs[: len(sentences)], vecs[len(sentences):]
    out = [SentenceJudgement(s) for s in sentences]
    ack = heads.prob("acknowledge", u_all)
    refl = heads.prob("reflect", np.stack([form_features(u_all[i], s) for i, s in enumerate(sentences)]))
    own = heads.prob("ownership", u_all)
    flag = heads.prob("flag", u_all)  # softmax over "good" and the red-flag types
    types = heads.labels["flag"][1:]
    support = (u_all @ heads.flag_examples.T).max(axis=1)
    for i, j in enumerate(out):
        j.acknowledge, j.ownership, j.red_flag = float(ack[i]), float(own[i]), float(1.0 - flag[i, 0])
        j.reflect = float(refl[i])
        k = int(np.argmax(flag[i, 1:]))
        j.flag_type, j.flag_type_prob = types[k], float(flag[i, 1 + k] / max(j.red_flag, 1e-9))
        j.flag_support = float(support[i])
    if units:
        rows, where = [], []
        for i, s in enumerate(sentences):
            for k, c in enumerate(units):
                lex, matched = lexical_pair_features(c, s)
                rows.append(pair_features(u_all[i], c_all[k], lex))
                where.append((i, k, matched, float(lex[0])))
        p = heads.prob("restate", np.stack(rows))
        for (i, k, matched, share), pr in zip(where, p, strict=True):
            if pr > out[i].restate:
                out[i].restate, out[i].caller_sentence, out[i].caller_words = float(pr), units[k], matched
                out[i].caller_share = share
    return out


# ---------------------------------------------------------------------------------------------------------------
# The hook into the rule-based analysis
# ---------------------------------------------------------------------------------------------------------------

_LABELS = {
    "blame": ("Blamed the caller", 5,
              "Drop whose fault it was; describe what happened neutrally and say what you will do about it."),
    "defensive": ("Got defensive", 5,
                  "Don't defend the company or yourself; the caller needs their problem handled, not explained away."),
    "dismissive": ("Dismissed the problem", 2,
                   "Treat the caller's problem as real: name its impact and move to what can be done."),
    "minimising": ("Played the problem down", 2,
                   "Don't shrink the problem; say what it cost the caller and what you will do about it."),
    "sarcasm": ("Sarcasm", 4, "Keep an even, sincere tone; sarcasm raises the caller's anger every time."),
    "patronising": ("Talked down to the caller", 4,
                    "Speak to the caller as an equal: no pet names, no 'let me explain slowly', no telling them how "
                    "to feel."),
    "retaliation": ("Retaliated or threatened to end the call", 4,
                    "Set a calm boundary about language and keep offering help; don't threaten or punish the "
                    "caller."),
    "over_promise": ("Over-promised", 7,
                     "Promise only what you control; give a realistic time frame instead of a guarantee."),
}


def _groups() -> dict[str, str]:
    from .scoring import _RED_FLAG_GROUPS

    return {fid: gid for gid, _, _, ids in _RED_FLAG_GROUPS for fid in ids}


_GROUP_OF = _groups()
"""Red-flag id -> its score group (``scoring._RED_FLAG_GROUPS``): a learned flag is not added to a reply where a
rule already found a flag of the same group."""


def _thr(cfg: ListeningModelConfig, heads: Heads, name: str) -> float:
    v = getattr(cfg, f"{name}_threshold")
    return float(v) if v is not None else heads.thresholds[name]


def merge_learned(ctx: Any, found: dict[str, list], flags: list, caller_text: str,
                  cfg: ListeningModelConfig | None = None, *, encoder: Any = None) -> list:
    """Merge the learned findings into the rule findings of one reply; returns the new red-flag list.

    ``ctx`` is the rule analysis' context (``ctx.norm`` the lower-cased reply, ``ctx.sents`` its sentence spans,
    ``ctx.detection(id, technique, label, start, end, confidence, tip, **detail)`` makes a finding with offsets and
    times). ``found`` maps technique id to its findings and is extended in place.

    * A sentence the rules did not find as a paraphrase, acknowledgement or ownership, but the head does, is added
      (``kind="learned"``, the head's probability as confidence; a restatement carries the caller's sentence and
      the caller's words it repeats). A restatement comes from the pair head (``restate``) or the reflection-form
      head (``reflect``), and never on a sentence that carries a red flag.
    * A rule restatement found by its frame alone (``kind="frame"``: "so you ...?", none of the caller's words) is
      dropped when both the reflection-form and the pair head give the sentence less than ``frame_min_reflect``.
      A reflection in form that repeats none of the caller's words (pair head under its threshold) is as sure as
      a rule frame whose caller words are unknown at most (``frame_only`` in ``data/listening.toml``): "so you'd
      like to change your password" is a reflection in form, but of nothing this caller said;
      ``detail.reflection`` keeps the head's probability.
    * A sentence that quotes the caller (pair probability >= ``quote_veto_threshold`` and at least
      ``quote_min_share`` of the caller's content words repeated) drops rule red flags whose
      quoted words the caller said first, and, when it is also a reflection in form (``reflect`` head, at least
      as likely as a red flag), gets no learned red flag (reusing the caller's "forty pounds" to say it "isn't
      much" is no quote).
    * A sentence the red-flag head flags, with no rule flag on it, gets a learned red flag of the type the
      ``flag`` head finds likeliest; so do two neighbouring sentences read together (``pair_windows``), quoted
      together as the evidence. Rule flags are kept (they are exact).
    """
    cfg = cfg or ListeningModelConfig()
    if not cfg.enabled or not ctx.sents:
        return flags
    heads = load_heads(cfg.heads_dir)
    spans = [(s, e) for s, e in ctx.sents if ctx.norm[s:e].strip()]
    if not spans:
        return flags
    texts = [ctx.text[s:e].strip() for s, e in spans]
    windows = [f"{texts[i]} {texts[i + 1]}" for i in range(len(spans) - 1)] if cfg.pair_windows else []
    if encoder is None:
        from .sentence_encoder import get_encoder

        encoder = get_encoder()
    if windows:  # one encoder run for the sentences, the caller's and the windows (the encoder caches the vectors)
        encoder(texts + (_caller_units(caller_text) if caller_text.strip() else []) + windows)
    judged = judge_sentences(texts, caller_text, encoder=encoder, heads=heads)
    t_restate, t_ack, t_own = _thr(cfg, heads, "restate"), _thr(cfg, heads, "acknowledge"), _thr(cfg, heads,
                                                                                                  "ownership")
    t_reflect = _thr(cfg, heads, "reflect")
    t_flag, t_veto = _thr(cfg, heads, "red_flag"), _thr(cfg, heads, "quote_veto")
    t_support = _thr(cfg, heads, "flag_support")
    caller_low = caller_text.lower()

    def covered(tid: str, s: int, e: int) -> bool:
        return any(d.char_start < e and s < d.char_end for d in found.get(tid, []))

    quoting: list[tuple[int, int]] = []
    reflecting: list[tuple[int, int]] = []
    """Quoting sentences in the form of a reflection: no learned red flag ("Forty pounds isn't much" reuses the
    caller's words but is no reflection). Only when the reflection head is at least as sure as the red-flag head:
    "Four weeks isn't that long for a tablet repair" reuses the caller's words to play them down."""
    learned_paras = []
    unlike: list = []
    """Rule restatements by frame alone that both heads find unlike a restatement (``frame_min_reflect``)."""
    for (s, e), j in zip(spans, judged, strict=True):
        model = {"restate": round(j.restate, 3), "reflect": round(j.reflect, 3), "acknowledge": round(j.acknowledge, 3),
                 "ownership": round(j.ownership, 3), "red_flag": round(j.red_flag, 3)}
        for d in found.get("paraphrase", []):
            if d.char_start < e and s < d.char_end:
                d.detail.setdefault("model", model)
                if (d.detail.get("kind") == "frame" and s <= d.char_start
                        and max(j.reflect, j.restate) < cfg.frame_min_reflect):
                    unlike.append(d)
        n_content = sum(1 for w in _WORDS.findall(j.text.lower()) if w not in _STOP and w not in _FILLERS)
        if ((j.restate >= t_restate or j.reflect >= t_reflect) and not covered("paraphrase", s, e)
                and n_content >= cfg.restate_min_content_words):
            restated = j.restate >= t_restate or j.caller_share > 0
            conf = max(j.restate, j.reflect)
            if not restated:  # a reflection in form, none of the caller's words: as sure as a rule frame at most
                conf = min(conf, float(ctx.lex.confidence.get("frame_only", conf)))
            learned_paras.append(ctx.detection(
                "paraphrase", 3, "Restated the caller's words", s, e, conf, "", kind="learned",
                caller_words=j.caller_words if restated else [],
                caller_sentence=j.caller_sentence if restated else "", reflection=round(j.reflect, 3)))
        if j.acknowledge >= t_ack and not covered("acknowledge", s, e):
            found.setdefault("acknowledge", []).append(ctx.detection(
                "acknowledge", 2, "Acknowledged the feeling or situation", s, e, j.acknowledge, "", kind="learned"))
        if j.ownership >= t_own and not covered("ownership", s, e):
            found.setdefault("ownership", []).append(ctx.detection(
                "ownership", 5, "Took ownership", s, e, j.ownership, "", kind="learned"))
        if caller_low and j.restate >= t_veto and j.caller_share >= cfg.quote_min_share:
            quoting.append((s, e))
            if j.reflect >= t_reflect and j.reflect >= j.red_flag:
                reflecting.append((s, e))

    if unlike:
        found["paraphrase"] = [d for d in found["paraphrase"] if all(d is not u for u in unlike)]

    def quotes_caller(f: Any) -> bool:
        if not any(s <= f.char_start < e for s, e in quoting):
            return False
        words = _WORDS.findall(f.text.lower())
        key = [w for w in words if w not in _STOP] or words
        return bool(key) and all(re.search(rf"\b{re.escape(w)}", caller_low) for w in key)

    kept = [f for f in flags if not quotes_caller(f)]

    def flag(s: int, e: int, j: SentenceJudgement, window: bool = False) -> None:
        if j.red_flag < t_flag or j.flag_support < t_support or any(s <= q < e for q, _ in reflecting):
            return
        if len(_WORDS.findall(j.text.lower())) < cfg.flag_min_words:
            return
        over = [f for f in kept if f.char_start < e and s < f.char_end and f.id not in ("stock_phrase", "re_asked")]
        if over and window and all(f.detail.get("kind") == "learned" and f.confidence < j.red_flag for f in over):
            # the two sentences read together are the surer finding ("Did you charge it? Flat batteries are
            # nearly always the rider's doing." is blame as a pair; its second sentence alone reads as minimising)
            for f in over:
                kept.remove(f)
        elif over:
            return  # a rule (or the head, on a sentence of this pair) already flagged it
        group = _GROUP_OF.get(FLAG_ID.get(j.flag_type, j.flag_type))
        if any(f.detail.get("kind") != "learned" and f.id not in ("stock_phrase", "re_asked")
               and _GROUP_OF.get(f.id) == group for f in kept):
            return  # the rules already found this kind of red flag in the reply: one finding per problem
        if j.flag_type in ("retaliation", "patronising") and any(
                d.char_start < e and s < d.char_end for d in found.get("boundary", [])):
            return  # the rules found a calm boundary here ("I want to help, but I need you to stop swearing")
        label, tech, tip = _LABELS[j.flag_type]
        kept.append(ctx.detection(FLAG_ID.get(j.flag_type, j.flag_type), tech, label, s, e, j.red_flag, tip,
                                  kind="learned", flag_type=j.flag_type, type_confidence=round(j.flag_type_prob, 3)))

    for (s, e), j in zip(spans, judged, strict=True):
        flag(s, e, j)
    if windows:
        # two neighbouring sentences read together ("Did you check X? That's usually the reason."): the head was
        # trained on such one- and two-sentence items, and the evidence then quotes both sentences
        for i, j in enumerate(judge_sentences(windows, "", encoder=encoder, heads=heads)):
            flag(spans[i][0], spans[i + 1][1], j, window=True)
    # a sentence with a red flag on it earns no learned restatement ("Oh, I'm sure you're the only one..." is
    # second-person, but sarcasm, not a reflection)
    hard = [(f.char_start, f.char_end) for f in kept if f.id not in ("stock_phrase", "re_asked")]
    for d in learned_paras:
        if not any(a < d.char_end and d.char_start < b for a, b in hard):
            found.setdefault("paraphrase", []).append(d)
    return kept
