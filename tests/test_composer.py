"""The feedback composer: few, right, prioritised points per turn, aware of the call so far, and a session focus.

Turns are built from the real listening and turn-taking analyses of hand-written replies (no Whisper, no audio).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_trainer.analysis.listening.detect import analyze_listening
from voice_trainer.analysis.scoring import score_from_components
from voice_trainer.analysis.transcript import Word
from voice_trainer.analysis.turns import analyze_turns, turn_components
from voice_trainer.call.scenarios import ScenarioError, get_scenario, parse_scenario
from voice_trainer.config import ReportConfig
from voice_trainer.report.composer import compose, example_for, turn_stage
from voice_trainer.report.record import ReportRecord, TurnView

SCENARIO = get_scenario("double-charge").to_dict()


def words(text: str, start: float, end: float) -> list[Word]:
    toks = text.split()
    step = (end - start) / len(toks)
    return [Word(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(toks)]


def turn(index: int, caller: str, reply: str, *, stage: str | None = None, anger: float = 60.0,
         talk_over: bool = False, closing: bool = False) -> TurnView:
    """One turn as the report reads it: real listening and turn-taking analyses of the given words."""
    lis = analyze_listening(reply, words(reply, 5.0, 9.0), caller_text=caller, facts=SCENARIO["facts"],
                            closing=closing)
    a0 = 2.0 if talk_over else 5.0
    tt = analyze_turns([(0.0, 4.0)], [(a0, a0 + 4.0)], words(reply, a0, a0 + 4.0), words(caller, 0.0, 4.0),
                       duration_s=10.0, awaiting_answer=True)
    taking = score_from_components(turn_components(tt))
    return TurnView(index=index, caller_text=caller, transcript=reply, listening=lis.to_dict(), turns=tt.to_dict(),
                    turn_taking=taking.to_dict(), scores={"listening": lis.score.value}, anger_before=anger,
                    caller_stage=stage)


def record(*turns: TurnView, outcome: str | None = None) -> ReportRecord:
    return ReportRecord(kind="session", path=Path("."), scenario=SCENARIO, turns=list(turns), outcome=outcome)


OPENING = "You've taken forty-nine ninety-nine from my account twice this month, and now I'm overdrawn."
FEE = "The overdraft fee was twenty-five pounds. Who covers that?"


def test_at_most_two_points_each_way_and_never_one_technique_in_both():
    t = turn(1, OPENING, "Calm down. It's our policy. You should have checked. Not my department. I'm sorry "
                         "you were charged twice.", stage="opening", talk_over=True)
    fb = compose(record(t))
    pts = fb.turns[0]
    assert len(pts.went_well) <= 2 and len(pts.to_change) <= 2
    assert not {i.technique for i in pts.went_well} & {i.technique for i in pts.to_change}
    # red flags and talking over the caller come first
    assert all(i.key.startswith("flag:") or i.key == "interruption" for i in pts.to_change)
    # ... and the limit is a setting
    assert len(compose(record(t), ReportConfig(max_items=1)).turns[0].to_change) == 1


def test_the_opening_asks_for_acknowledging_before_later_techniques():
    t = turn(1, OPENING, "Let me look at the account.", stage="opening")
    change = compose(record(t)).turns[0].to_change
    assert change and change[0].technique in (2, 3)
    assert "For example:" in change[0].tip
    # the example is this scenario's own wording, not another scenario's
    assert SCENARIO["examples"]["acknowledge"] in change[0].tip or SCENARIO["examples"]["restate"] in change[0].tip


def test_what_was_done_well_earlier_is_not_demanded_again():
    t1 = turn(1, OPENING, "I'm so sorry, that's really stressful. You were charged twice and you're overdrawn.",
              stage="opening", anger=65)
    t2 = turn(2, FEE, "I can refund the duplicate today and cover the bank's fee.", stage="details", anger=46)
    fb = compose(record(t1, t2))
    assert any(i.technique == 2 for i in fb.turns[0].went_well)
    assert not any(i.technique == 2 and i.missing for i in fb.turns[1].to_change)
    # the same reply after the caller got angrier: acknowledging is asked for again
    t2_angry = turn(2, FEE, "I can refund the duplicate today and cover the bank's fee.", stage="details", anger=80)
    fb = compose(record(t1, t2_angry))
    assert any(i.technique == 2 and i.missing for i in fb.turns[1].to_change)


def test_session_focus_has_at_most_three_points_with_evidence_and_scenario_example():
    t1 = turn(1, OPENING, "Calm down. Our system doesn't make mistakes.", stage="opening", talk_over=True)
    t2 = turn(2, FEE, "It's our policy. You should have checked your statement.", stage="details")
    t3 = turn(3, "Just look at my account!", "That's not our problem. There's nothing I can do.", stage="details")
    fb = compose(record(t1, t2, t3, outcome="hung_up"))
    assert 1 <= len(fb.focus) <= 3
    first = fb.focus[0].to_dict()
    assert set(first) >= {"technique", "what", "evidence", "example"}
    assert first["evidence"] and first["evidence"][0]["turn"] in (1, 2, 3)
    assert any(e["quote"] for f in fb.focus for e in f.to_dict()["evidence"])
    assert all(f.example for f in fb.focus)
    assert len({f.technique for f in fb.focus}) == len(fb.focus)


def test_examples_fall_back_to_the_scenarios_facts_and_resolutions():
    sc = {"facts": ["the parcel is two weeks late", "the tracking has not moved"],
          "resolutions": ["resend it by courier today", "refund the caller's delivery fee"]}
    assert "the parcel is two weeks late" in example_for(3, sc)
    choices = example_for(8, sc)
    assert "resend it by courier today" in choices and "your delivery fee" in choices
    assert example_for(2, None)  # a general line when nothing is known


def test_stage_from_the_caller_line_or_the_position():
    t = TurnView(index=1, caller_stage="negotiate")
    assert turn_stage(t, 0, 3, None) == "negotiate"
    assert turn_stage(TurnView(index=1), 0, 3, None) == "opening"
    assert turn_stage(TurnView(index=3), 2, 3, "resolved") == "closing"


def test_scenario_examples_table_is_checked():
    base = Path(get_scenario("double-charge").source).read_text(encoding="utf-8")
    assert parse_scenario(base, expect_id="double-charge").examples["acknowledge"]
    with pytest.raises(ScenarioError, match="unknown key 'apologise'"):
        parse_scenario(base.replace("[examples]", "[examples]\napologise = \"Sorry\""), expect_id="double-charge")
