"""Listening analysis: a table of good and poor agent replies (our own wording), negation, evidence offsets and
timings, paraphrase with few shared words, order checks over a call, the score, the user lexicon and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voice_trainer.analysis.listening.detect import CallTurn, analyze_call, analyze_listening
from voice_trainer.analysis.transcript import Word
from voice_trainer.config import ListeningConfig
from voice_trainer.errors import UserError

LATE = "My order 4471 still hasn't arrived after two weeks and nobody ever called me back!"
BILLED = "I've been billed twice this month and nobody answers my emails."
ABUSIVE = "This is useless, you idiots! Get me your manager right now!"

# (reply, caller line, technique or red-flag id that must be found)
FOUND = [
    ("Please take your time and tell me everything that happened.", LATE, "invite_venting"),
    ("Two weeks with no word from us is really frustrating.", LATE, "acknowledge"),
    ("I'm so sorry about this.", LATE, "acknowledge"),
    ("You must be exhausted after chasing this for so long.", LATE, "acknowledge"),
    ("So your order 4471 is two weeks late and no one phoned you back.", LATE, "paraphrase"),
    ("It sounds like you're worried the money won't come back.", BILLED, "paraphrase"),
    ("What happened when you tried to log in this morning?", "I can't get into my account.", "question"),
    ("Let's take this one step at a time. First, can you tell me the error you see?", "It's broken.", "break_down"),
    ("That was our mistake, and I'm going to fix it for you.", LATE, "ownership"),
    ("Leave it with me.", LATE, "ownership"),
    ("I'll issue the refund today and you'll see it within three business days.", BILLED, "resolution"),
    ("I can send a replacement or refund the full amount, whichever you prefer.", LATE, "choices"),
    ("Would you rather have a new unit or your money back?", LATE, "choices"),
    ("Shall I go ahead with the replacement?", LATE, "confirm"),
    ("Does that work for you?", LATE, "confirm"),
    ("Thank you for your patience while I checked that.", LATE, "thanks"),
    ("I'll call you back tomorrow morning with an update.", LATE, "follow_up"),
    ("Let me transfer you to my supervisor, she can authorise that.", ABUSIVE, "referral"),
    ("I want to help you, but I need you to stop swearing at me.", ABUSIVE, "boundary"),
    # red flags
    ("You should have read the terms before you ordered.", LATE, "blame"),
    ("If you had checked the tracking page you'd know.", LATE, "blame"),
    ("Sir, calm down.", LATE, "calm_down"),
    ("There's no need to get so worked up.", LATE, "calm_down"),
    ("Just relax, it's only a parcel.", LATE, "calm_down"),
    ("Usually it's their own router settings.", "My internet keeps dropping.", "blame"),  # cause put on customers
    ("It's company policy, there's nothing else to say.", BILLED, "policy_wall"),
    ("That's not my department.", BILLED, "not_my_department"),
    ("I just work here.", BILLED, "not_my_department"),
    ("It's not a big deal, these things happen.", LATE, "dismissive"),
    ("There's nothing I can do about it.", LATE, "dismissive"),
    ("Oh great, another one of these calls.", LATE, "sarcasm"),
    ("Good luck with that.", LATE, "sarcasm"),
    ("Don't talk to me like that.", ABUSIVE, "sarcasm"),
    ("I guarantee this will never happen again.", LATE, "guarantee"),
    ("I promise it will be there tomorrow.", LATE, "guarantee"),
    ("I understand.", LATE, "stock_phrase"),
    ("I apologise for any inconvenience.", LATE, "stock_phrase"),
    ("I understand. It's our policy, you should have read the terms.", LATE, "stock_phrase"),
    ("I understand. It's our policy, you should have read the terms.", LATE, "policy_wall"),
    ("No, I'm not going to get my manager.", ABUSIVE, "refused_referral"),
    ("What is your order number?", "My order number is 55821 and it never came.", "re_asked"),
]

# (reply, caller line, id that must NOT be found): negations, rescues and specific follow-ups
NOT_FOUND = [
    ("I'm not going to tell you to calm down; you have every reason to be angry.", LATE, "calm_down"),
    ("Going for a walk always helps me relax after a long day.", LATE, "calm_down"),  # what helps, not an order
    ("Congratulations on the new baby!", LATE, "sarcasm"),  # sincere
    ("I'm sure you did everything you could.", LATE, "sarcasm"),  # reassurance, not "sure you did"
    ("It's usually their own decision to cancel, and we respect that.", LATE, "blame"),
    ("It's not your fault at all.", LATE, "blame"),
    ("I can't guarantee the exact hour, but it will arrive tomorrow.", LATE, "guarantee"),
    ("I would never say it's not a big deal.", LATE, "dismissive"),
    ("Our policy doesn't allow refunds after 30 days, but what I can do is offer store credit today.", BILLED,
     "policy_wall"),
    ("That's not my department, so I'll transfer you to the billing team right now.", BILLED, "not_my_department"),
    ("I understand. You've waited two weeks for order 4471 and that's not acceptable.", LATE, "stock_phrase"),
    ("I understand you've been billed twice and nobody replied to your emails.", BILLED, "stock_phrase"),
    ("Can you confirm order 55821 for me?", "My order number is 55821 and it never came.", "re_asked"),
    ("I was charged twice once, I know the feeling.", BILLED, "paraphrase"),  # self-disclosure, not a restatement
    ("Maybe you could try resetting the router?", "My internet keeps dropping.", "paraphrase"),  # advice
    ("Is that right?", LATE, "question"),  # a check of a restatement, not a question to explore
    ("You should have read the terms.", LATE, "resolution"),  # a blame quote is not also a next step
]


def ids(result) -> set[str]:
    return {d.id for d in result.techniques} | {d.id for d in result.red_flags}


@pytest.mark.parametrize("reply,caller,wanted", FOUND, ids=[f"{w}:{r[:30]}" for r, _, w in FOUND])
def test_found(reply, caller, wanted):
    r = analyze_listening(reply, caller_text=caller)
    assert wanted in ids(r), (reply, sorted(ids(r)))
    d = r.found(wanted)[0]
    assert reply[d.char_start:d.char_end] == d.text and d.text
    assert 0.0 < d.confidence <= 1.0 and 1 <= d.technique <= 10


@pytest.mark.parametrize("reply,caller,unwanted", NOT_FOUND, ids=[f"{u}:{r[:30]}" for r, _, u in NOT_FOUND])
def test_not_found(reply, caller, unwanted):
    r = analyze_listening(reply, caller_text=caller)
    assert unwanted not in ids(r), (reply, [d.to_dict() for d in r.found(unwanted)])


def test_red_flags_carry_a_tip_tied_to_a_technique():
    r = analyze_listening("Calm down. You should have read the email. I guarantee it.", caller_text=LATE)
    assert {"calm_down", "blame", "guarantee"} <= {f.id for f in r.red_flags}
    for f in r.red_flags:
        assert f.tip and f.technique in (5, 7)


@pytest.mark.parametrize(
    "caller,reply",
    [
        # almost no shared words: billed~charged, twice~second time, emails~messages, answers~unanswered
        (BILLED, "So you were charged a second time and your messages went unanswered."),
        # numbers by value and synonyms: parcel~package, two weeks~14 days
        ("The parcel was supposed to come two weeks ago.", "So the package is 14 days overdue, you said."),
        # a named product, restated by name
        ("My new Zenbook keeps shutting down when I unplug it.",
         "So the Zenbook switches off once the charger is out?"),
    ],
)
def test_paraphrase_with_few_shared_words(caller, reply):
    r = analyze_listening(reply, caller_text=caller)
    paras = r.found("paraphrase")
    assert paras, reply
    assert paras[0].detail["kind"] in ("restatement", "overlap")
    assert len(paras[0].detail["caller_words"]) >= 1


def test_paraphrase_needs_the_callers_facts_not_just_a_frame():
    caller = "My parcel never arrived and the tracking says delivered."
    on_topic = analyze_listening("So you were told it was delivered but nothing came.", caller_text=caller)
    off_topic = analyze_listening("So you'd like to change your password.", caller_text=caller)
    assert on_topic.found("paraphrase")[0].detail["caller_words"]
    assert on_topic.found("paraphrase")[0].confidence > max(
        [d.confidence for d in off_topic.found("paraphrase")], default=0.0)


def test_facts_coverage_drives_the_paraphrase_component():
    facts = ["order 4471", "two weeks late", "no call back"]
    full = analyze_listening("So order 4471 is two weeks late and nobody called you back.", facts=facts)
    part = analyze_listening("So order 4471 is late.", facts=facts)
    pf = {c.id: c for c in full.score.components}["paraphrase"]
    pp = {c.id: c for c in part.score.components}["paraphrase"]
    assert pf.value == pytest.approx(1.0)
    assert pp.value < 1.0 and pp.points < pf.points
    assert "call back" in pp.tip or "two weeks" in pp.tip


def test_word_timings_become_evidence_seconds():
    text = "I'm sorry. Calm down please."
    words = [Word("I'm", 0.0, 0.2), Word("sorry.", 0.2, 0.6), Word("Calm", 1.0, 1.3), Word("down", 1.3, 1.6),
             Word("please.", 1.6, 2.0)]
    r = analyze_listening(text, words=words)
    flag = r.found("calm_down")[0]
    assert (flag.start, flag.end) == (1.0, 1.6)
    # without the text, the words alone are enough
    r2 = analyze_listening("", words=words)
    assert r2.found("calm_down")[0].start == 1.0


def test_good_reply_scores_far_above_poor_reply():
    good = analyze_listening(
        "I'm so sorry, two weeks without any word is really frustrating. So order 4471 hasn't arrived and nobody "
        "called you back. That's on us and I'll fix it: I'll send a replacement today by express, or I can refund "
        "you right now. Which would you prefer?", caller_text=LATE)
    poor = analyze_listening(
        "Calm down. You should have checked the tracking. It's our policy to wait 21 days, nothing I can do.",
        caller_text=LATE)
    assert good.score.value is not None and poor.score.value is not None
    assert good.score.value >= 80 and poor.score.value <= 40
    assert good.score.value - poor.score.value >= 40
    for c in good.score.components + poor.score.components:
        assert c.tip and (c.withheld or c.technique)


def test_components_are_withheld_not_zero_when_not_applicable():
    r = analyze_listening("What happened when you tried to log in?", caller_text="I can't log in.")
    comps = {c.id: c for c in r.score.components}
    assert comps["referral"].withheld and comps["thanks_follow_up"].withheld
    no_caller = analyze_listening("I see.")
    assert {c.id: c for c in no_caller.score.components}["paraphrase"].withheld


def test_to_dict_schema():
    d = analyze_listening("I'll send it today. Thank you!", caller_text=LATE).to_dict()
    assert 0 <= d["score"] <= 100
    for t in d["techniques"]:
        assert {"id", "text", "start", "end", "confidence", "char_start", "char_end", "technique"} <= set(t)
    assert isinstance(d["red_flags"], list) and isinstance(d["components"], list)
    json.dumps(d)


def test_call_order_checks():
    good = analyze_call([
        ("caller", LATE),
        ("agent", "I'm really sorry, two weeks with no call back is not okay. So order 4471 never came?"),
        ("caller", "Yes! Exactly."),
        ("agent", "I can send a new one today or refund you now, whichever you prefer."),
        ("caller", "The refund."),
        ("agent", "Shall I go ahead with the refund to your card? Thank you for your patience."),
    ])
    bad = analyze_call([
        CallTurn("caller", LATE),
        CallTurn("agent", "Shall I go ahead and refund it?"),
        CallTurn("caller", "Whatever."),
        CallTurn("agent", "I'll refund it today. I'm sorry about the wait."),
    ])
    g = {c.id: c for c in good.order}
    b = {c.id: c for c in bad.order}
    assert g["order_ack_before_solution"].points == g["order_ack_before_solution"].weight
    assert g["order_choices_before_confirm"].points == g["order_choices_before_confirm"].weight
    assert g["order_thanks_at_close"].points == g["order_thanks_at_close"].weight
    assert b["order_ack_before_solution"].points == 0 and b["order_ack_before_solution"].evidence
    assert b["order_choices_before_confirm"].points == 0
    assert b["order_thanks_at_close"].points == 0
    assert good.score.value > bad.score.value
    d = good.to_dict()
    assert [t["turn"] for t in d["turns"]] == [1, 3, 5] and len(d["order"]) == 3


def test_call_rejects_unknown_speaker():
    with pytest.raises(UserError, match="speaker"):
        analyze_call([("customer", "hello")])


def test_user_lexicon_extends_the_builtin_one(tmp_path):
    lex = tmp_path / "lex.toml"
    lex.write_text('[red_flags.blame]\npatterns = ["read the manual"]\n')
    reply = "Read the manual, it's all there."
    assert "blame" not in ids(analyze_listening(reply))
    cfg = ListeningConfig(lexicon_file=str(lex))
    assert "blame" in ids(analyze_listening(reply, config=cfg))
    assert "calm_down" in ids(analyze_listening("Calm down.", config=cfg))  # built-in patterns kept


def test_user_lexicon_sets_the_rule_confidences_and_factors(tmp_path):
    caller = "My order number is 55821 and it never came."
    reply = "So your order 55821 never came. What is your order number?"
    base = analyze_listening(reply, caller_text=caller)
    para = next(c for c in base.score.components if c.id == "paraphrase")
    assert "re_asked" in [f.id for f in base.red_flags] and para.points == pytest.approx(0.5 * para.weight)
    lex = tmp_path / "lex.toml"
    lex.write_text("[confidence]\nre_asked = 0.9\n[credit]\nreasked_paraphrase = 0.25\n")
    mine = analyze_listening(reply, caller_text=caller, config=ListeningConfig(lexicon_file=str(lex)))
    assert next(f for f in mine.red_flags if f.id == "re_asked").confidence == pytest.approx(0.9)
    para = next(c for c in mine.score.components if c.id == "paraphrase")
    assert para.points == pytest.approx(0.25 * para.weight)


@pytest.mark.parametrize(
    "content,needle",
    [
        ('[red_flags.blame]\npatterns = ["(unclosed"]\n', "bad regular expression"),
        ('[red_flags.blame]\npatterns = ["{nosuchset} x"]\n', "unknown set"),
        ("not toml [", "not valid TOML"),
        ("[confidence]\nre_asked = 1.5\n", r"\[confidence\] re_asked = 1.5: must be a number from 0 to 1"),
        ('[credit]\nreasked_paraphrase = "half"\n', r"\[credit\] reasked_paraphrase"),
    ],
)
def test_bad_user_lexicon_is_a_user_error(tmp_path, content, needle):
    lex = tmp_path / "lex.toml"
    lex.write_text(content)
    with pytest.raises(UserError, match=needle):
        analyze_listening("hi", config=ListeningConfig(lexicon_file=str(lex)))
    with pytest.raises(UserError, match="not found"):
        analyze_listening("hi", config=ListeningConfig(lexicon_file=str(tmp_path / "missing.toml")))


# --- CLI -------------------------------------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_text_json():
    p = cli("analyze", "--text", "I'm not going to tell you to calm down. So you were billed twice?",
            "--caller-text", BILLED, "--json")
    assert p.returncode == 0, p.stderr
    rec = json.loads(p.stdout)
    lis = rec["listening"]
    assert 0 <= lis["score"] <= 100
    assert "paraphrase" in {t["id"] for t in lis["techniques"]}
    assert "calm_down" not in {f["id"] for f in lis["red_flags"]}


def test_cli_texts_jsonl_and_malformed_line(tmp_path):
    f = tmp_path / "replies.jsonl"
    f.write_text(
        json.dumps({"agent": "Calm down.", "caller": LATE}) + "\n"
        + "{not json\n"
        + json.dumps({"agent": "So order 4471 is two weeks late?", "caller": LATE, "facts": ["order 4471"]}) + "\n"
        + json.dumps({"caller": "no agent"}) + "\n"
    )
    p = cli("analyze", "--texts", str(f), "--json")
    assert p.returncode == 2
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["line"] for x in lines] == [1, 3]
    assert lines[0]["listening"]["red_flags"][0]["id"] == "calm_down"
    assert lines[1]["listening"]["facts"][0]["covered"] is True
    errs = p.stderr.strip().splitlines()
    assert len(errs) == 2 and f"{f}:2" in errs[0] and f"{f}:4" in errs[1]


@pytest.mark.parametrize(
    "args,needle",
    [
        ((), "nothing to analyse"),
        (("--texts", "/nonexistent/x.jsonl"), "cannot read"),
        (("a.wav", "--text", "hi"), "not both"),
    ],
)
def test_cli_text_mode_errors_are_one_line(args, needle):
    p = cli("analyze", *args)
    assert p.returncode == 2
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


@pytest.mark.whisper
@pytest.mark.slow
def test_cli_audio_gains_listening_with_word_timings(tmp_path):
    from speech import ESPEAK, espeak

    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (./bootstrap.sh installs it)")
    wav = espeak("I am so sorry. So your order was charged twice. Calm down.", tmp_path / "reply.wav", speed=150,
                 voice="en")
    p = cli("analyze", str(wav), "--caller-text", "You charged my order twice!", "--json")
    assert p.returncode == 0, p.stderr
    lis = json.loads(p.stdout)["listening"]
    assert 0 <= lis["score"] <= 100
    flags = {f["id"]: f for f in lis["red_flags"]}
    assert "calm_down" in flags
    assert flags["calm_down"]["start"] is not None and flags["calm_down"]["end"] > flags["calm_down"]["start"]
    assert any(t["id"] == "acknowledge" and t["start"] is not None for t in lis["techniques"])
