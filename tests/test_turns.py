"""Turn-taking rules on hand-made segments with known answers (fast, no audio)."""

from __future__ import annotations

import json

import pytest

from voice_trainer.analysis.scoring import score_from_components
from voice_trainer.analysis.transcript import Word
from voice_trainer.analysis.turns import analyze_turns, turn_components
from voice_trainer.config import TurnsConfig


def words(text: str, start: float, end: float) -> list[Word]:
    """Spread the words of ``text`` evenly over [start, end]."""
    toks = text.split()
    step = (end - start) / len(toks)
    return [Word(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(toks)]


def test_agent_speech_over_the_caller_is_an_interruption_with_evidence():
    caller_w = words("I have been waiting for three weeks and nobody called", 0.0, 5.0)
    agent_w = words("Sir please calm down", 2.0, 3.5)
    r = analyze_turns([(0.0, 5.0)], [(2.0, 3.5)], agent_words=agent_w, caller_words=caller_w)
    assert len(r.interruptions) == 1
    i = r.interruptions[0]
    assert (i.start, i.end, i.words) == (2.0, 3.5, 4)
    assert i.text == "Sir please calm down"
    assert i.overlap_s == pytest.approx(1.5)
    assert "three" in i.interrupted_text
    assert r.caller_interruptions == []


def test_three_short_words_count_but_a_short_wordless_blip_does_not():
    r = analyze_turns([(0.0, 5.0)], [(2.0, 2.4)], agent_words=words("no no no", 2.0, 2.4))
    assert len(r.interruptions) == 1
    assert analyze_turns([(0.0, 5.0)], [(2.0, 2.4)]).interruptions == []


@pytest.mark.parametrize("token", ["Mm-hm.", "Okay.", "I see.", "Right"])
def test_backchannels_are_not_interruptions_even_when_long(token):
    seg = [(2.0, 2.8)]  # 0.8 s: long enough to count if it were not a listening token
    r = analyze_turns([(0.0, 5.0)], seg, agent_words=words(token, 2.0, 2.8))
    assert r.interruptions == []
    assert [b.start for b in r.backchannels] == [2.0]
    assert [t.speaker for t in r.turns] == ["caller"]  # the caller kept the floor


def test_without_words_duration_decides():
    assert len(analyze_turns([(0.0, 5.0)], [(2.0, 2.8)]).interruptions) == 1


def test_short_overlap_at_the_callers_last_words_is_turn_taking():
    cfg = TurnsConfig()
    r = analyze_turns([(0.0, 5.0)], [(5.0 - cfg.tail_overlap_s + 0.1, 8.0)])
    assert r.interruptions == []
    assert r.response_latencies[0].latency_s == pytest.approx(-cfg.tail_overlap_s + 0.1)
    r = analyze_turns([(0.0, 5.0)], [(5.0 - cfg.tail_overlap_s - 0.1, 8.0)])
    assert len(r.interruptions) == 1


def test_caller_interruptions_are_the_mirror_image():
    r = analyze_turns([(3.0, 6.0)], [(0.0, 4.0)], caller_words=words("no you listen to me", 3.0, 6.0))
    assert r.interruptions == []
    assert len(r.caller_interruptions) == 1 and r.caller_interruptions[0].start == 3.0


def test_dead_air_only_while_the_caller_waits():
    # caller finishes, agent answers 3.5 s later: dead air
    r = analyze_turns([(0.0, 2.0)], [(5.5, 7.0)])
    assert [(d.start, d.end, d.after) for d in r.dead_air] == [(2.0, 5.5, "caller")]
    # caller pauses 3.5 s and goes on venting: listening, not dead air
    r = analyze_turns([(0.0, 2.0), (5.5, 7.0)], [])
    assert r.dead_air == [] and r.listening_pauses == [(2.0, 5.5)]
    # ... unless the caller had asked a question and got no answer
    cw = words("are you even there?", 0.0, 2.0) + words("hello", 5.5, 7.0)
    r = analyze_turns([(0.0, 2.0), (5.5, 7.0)], [], caller_words=cw)
    assert len(r.dead_air) == 1 and r.dead_air[0].caller_text.endswith("there?")
    # agent goes quiet inside its own turn: dead air; agent waits for the caller: not
    assert len(analyze_turns([], [(0.0, 2.0), (5.5, 7.0)]).dead_air) == 1
    assert analyze_turns([(5.5, 7.0)], [(0.0, 2.0)]).dead_air == []
    # a 2.9 s gap is below the threshold
    assert analyze_turns([(0.0, 2.0)], [(4.9, 7.0)]).dead_air == []


def test_latency_talk_share_and_monologues():
    r = analyze_turns([(0.0, 4.0), (7.0, 8.0)], [(4.5, 6.0), (9.0, 12.0)], duration_s=13.0)
    assert [round(x.latency_s, 3) for x in r.response_latencies] == [0.5, 1.0]
    assert r.latency_stats()["median_s"] == pytest.approx(0.75)
    assert r.talk_share == pytest.approx(4.5 / 9.5)
    assert r.longest_monologue("caller").duration == pytest.approx(4.0)
    assert r.longest_monologue("agent").start == 9.0
    d = r.to_dict()
    assert d["talk_share"]["silence_s"] == pytest.approx(13.0 - 9.5)
    json.dumps(d)
    for key in ("interruptions", "caller_interruptions", "response_latencies", "dead_air", "talk_share"):
        assert key in d


def test_components_decompose_and_withhold():
    calm = analyze_turns([(0.0, 4.0)], [(4.5, 6.0)])
    comps = {c.id: c for c in turn_components(calm)}
    assert set(comps) == {"interruptions", "dead_air", "response_latency"}
    assert score_from_components(list(comps.values())).value == pytest.approx(100.0)
    rude = analyze_turns([(0.0, 10.0)], [(2.0, 4.0), (6.0, 8.0), (14.0, 15.0)])
    comps = {c.id: c for c in turn_components(rude)}
    assert comps["interruptions"].value == 2
    assert comps["interruptions"].points == pytest.approx(30.0 - 2 * TurnsConfig().interruption_penalty)
    assert len(comps["interruptions"].evidence) == 2 and comps["interruptions"].technique == 1
    assert comps["dead_air"].value == 1  # 10 s -> 14 s: the caller finished and waited 4 s
    assert score_from_components(list(comps.values())).value < 100.0
    alone = {c.id: c for c in turn_components(analyze_turns([], [(0.0, 3.0)]))}
    assert alone["interruptions"].withheld and alone["response_latency"].withheld


def test_a_short_untranscribed_sound_over_the_caller_is_a_backchannel_not_an_interruption():
    caller_w = words("I have been waiting for three weeks and nobody ever called me back", 0.0, 6.0)
    agent_w = words("I am so sorry about that", 6.5, 8.0)  # the transcript has no words at 2.0-2.8 s
    r = analyze_turns([(0.0, 6.0)], [(2.0, 2.8), (6.5, 8.0)], agent_words=agent_w, caller_words=caller_w)
    assert r.interruptions == []
    assert [(b.start, b.end) for b in r.backchannels] == [(2.0, 2.8)]
    # a longer wordless sound (1.5 s) is still judged by its duration: it cuts in
    r = analyze_turns([(0.0, 6.0)], [(2.0, 3.5), (6.5, 8.0)], agent_words=agent_w, caller_words=caller_w)
    assert [(i.start, i.end) for i in r.interruptions] == [(2.0, 3.5)]
    # without any transcript a 0.8 s sound is judged by duration alone, as before
    r = analyze_turns([(0.0, 6.0)], [(2.0, 2.8)])
    assert len(r.interruptions) == 1


def test_a_simultaneous_start_is_reported_as_such_not_as_an_interruption():
    caller_w = words("Hello is anybody there at all", 1.03, 3.0)
    agent_w = words("Good morning you are through to billing", 1.0, 3.2)
    r = analyze_turns([(1.03, 3.0)], [(1.0, 3.2)], agent_words=agent_w, caller_words=caller_w)
    assert r.caller_interruptions == [] and r.interruptions == []
    assert len(r.simultaneous_starts) == 1
    s = r.simultaneous_starts[0]
    assert (s.agent_start, s.caller_start) == (1.0, 1.03)
    assert s.overlap_s == pytest.approx(1.97)
    assert json.loads(json.dumps(r.to_dict()))["simultaneous_starts"][0]["start"] == 1.0
    # half a second apart is no longer simultaneous: the caller cut in on the agent
    caller_w = words("Hello is anybody there", 1.5, 3.0)
    r = analyze_turns([(1.5, 3.0)], [(1.0, 3.2)], agent_words=agent_w, caller_words=caller_w)
    assert r.simultaneous_starts == [] and len(r.caller_interruptions) == 1


def test_a_caller_left_without_any_answer_loses_every_turn_taking_point():
    caller_w = words("Where is my refund? I have waited three weeks", 0.0, 3.0)
    r = analyze_turns([(0.0, 3.0)], [], agent_words=[], caller_words=caller_w, duration_s=9.0, awaiting_answer=True)
    comps = {c.id: c for c in turn_components(r)}
    assert comps["interruptions"].withheld  # not praise for saying nothing
    assert comps["dead_air"].withheld is None and comps["dead_air"].points == 0.0
    assert comps["response_latency"].withheld is None and comps["response_latency"].points == 0.0
    assert score_from_components(list(comps.values())).value == 0.0
    # one answer, even a late one, earns turn-taking points again
    agent_w = words("I am sorry let me look", 4.0, 5.5)
    r = analyze_turns([(0.0, 3.0)], [(4.0, 5.5)], agent_words=agent_w, caller_words=caller_w, duration_s=9.0,
                      awaiting_answer=True)
    assert score_from_components(turn_components(r)).value > 50


def test_going_on_after_a_pause_as_the_caller_starts_is_a_resumed_answer_not_an_interruption():
    # live practice: the turn starts where the trainee's answer ended; the caller started its reply at the
    # trainee's pause (0.06 s) and the trainee went on 0.45 s later (the logged pause case)
    caller_w = words("I already said two", 0.06, 1.07)
    agent_w = words("Let me refund the second payment for you today", 0.514, 3.166)
    args = ([(0.06, 1.07)], [(0.514, 3.166)])
    plain = analyze_turns(*args, agent_words=agent_w, caller_words=caller_w)
    assert len(plain.interruptions) == 1 and plain.resumed_answers == []  # without the rule: cutting in
    r = analyze_turns(*args, agent_words=agent_w, caller_words=caller_w, agent_resumes_within_s=1.0)
    assert r.interruptions == [] and len(r.resumed_answers) == 1
    ra = r.resumed_answers[0]
    assert (ra.caller_start, ra.agent_start) == (0.06, 0.514) and ra.overlap_s == pytest.approx(1.07 - 0.514)
    assert r.response_latencies == []  # no negative "time to answer" from it
    assert score_from_components(turn_components(r)).value == 100.0
    assert r.to_dict()["resumed_answers"][0]["after_s"] == pytest.approx(0.454)
    # starting later in the caller's line is cutting in, rule or not
    late = analyze_turns([(0.06, 4.0)], [(1.5, 3.5)], agent_words=words("Let me refund the second payment", 1.5,
                                                                          3.5),
                         caller_words=words("I already said two charges on the same day", 0.06, 4.0),
                         agent_resumes_within_s=1.0)
    assert len(late.interruptions) == 1 and late.resumed_answers == []
