"""Scores that agree with how the call went: missed turns, red-flag caps, no self-judged calmness, the outcome.

Pure functions on hand-made inputs with known answers (no Whisper, no audio devices).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from voice_trainer.analysis import tone as T
from voice_trainer.analysis.listening.detect import analyze_call, analyze_listening
from voice_trainer.analysis.scoring import Score, outcome_score
from voice_trainer.call.session import overall_score
from voice_trainer.config import ListeningConfig, SessionConfig, ToneConfig

SR = 16_000
POINTS = {"resolved": 100.0, "referred": 60.0, "hung_up": 0.0, None: 40.0}


def harmonic(f0: float, dur_s: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(dur_s * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 11))
    return (amp * x / np.abs(x).max()).astype(np.float32)


def test_a_turn_with_no_words_scores_zero_listening_not_withheld():
    r = analyze_listening("", caller_text="Where is my refund?")
    assert r.score.value == 0.0
    answered = {c.id: c for c in r.score.components}["answered"]
    assert answered.points == 0.0 and answered.withheld is None and answered.tip
    # the technique components are not judged (nothing to quote), only the missed answer counts
    assert all(c.withheld for c in r.score.components if c.id != "answered")
    call = analyze_call([("caller", "Where is my refund?"), ("agent", ""), ("caller", "Hello?"), ("agent", " ")])
    assert call.score.value == 0.0


def test_red_flags_cap_the_listening_score_and_say_why():
    caller = "I was charged twice and now my account is overdrawn."
    good = ("I'm so sorry, that's really stressful. So you were charged twice and your account is overdrawn. "
            "I can refund the duplicate today; would you like a confirmation email too?")
    clean = analyze_listening(good, caller_text=caller)
    assert clean.score.cap is None
    flagged = analyze_listening(good + " Calm down. It's our policy. You should have checked your statement. "
                                "That's not my department.", caller_text=caller)
    n = len(flagged.red_flags)
    assert n >= 3
    assert flagged.score.value <= 100 - 20 * n
    cap = flagged.score.to_dict()["cap"]
    assert cap["limit"] == pytest.approx(max(0, 100 - 20 * n)) and cap["uncapped"] > cap["limit"]
    assert f"{n} red flags" in cap["reason"] and cap["evidence"]
    # the step is a setting
    lenient = analyze_listening(good + " Calm down.", caller_text=caller,
                                config=ListeningConfig(red_flag_cap_per_flag=0.0))
    assert lenient.score.cap is None


def test_score_capped_keeps_lower_scores_and_unmeasured_ones():
    assert Score(30.0).capped(80, "x").value == 30.0 and Score(30.0).capped(80, "x").cap is None
    assert Score(None).capped(0, "x").value is None
    s = Score(90.0).capped(-20, "many")
    assert s.value == 0.0 and s.cap.uncapped == 90.0


def test_a_turn_that_is_the_baseline_is_not_judged_against_itself():
    cfg = ToneConfig()
    frames = T.measure_frames(harmonic(140.0, 3.0), SR, cfg)
    m = T.summarize(frames, (), cfg)
    base = T.session_baseline([frames], [()], cfg)
    assert base is not None
    assert T.score_calmness(m, base, cfg).calmness.value == pytest.approx(100.0)  # what the old code reported
    r = T.withhold_as_baseline(T.score_calmness(m, base, cfg))
    assert r.calmness.value is None and r.calmness_withheld == T.SELF_BASELINE
    assert all(c.withheld for c in r.calmness.components)
    assert r.measures.pitch_median_hz == pytest.approx(140.0, rel=0.02)  # measured, kept for later turns
    assert T.baseline_turn_indices([frames, frames], [(), ()], cfg) == [0]
    assert T.session_baseline([frames, frames], [(), ()], cfg).turns == (0,)  # what review withholds


def test_outcome_score_components_and_order():
    resolved = outcome_score("resolved", 30.0, 65.0, points=POINTS)
    hung_up = outcome_score("hung_up", 30.0, 65.0, points=POINTS)
    assert resolved.value == pytest.approx(0.5 * 100 + 0.5 * 70)
    assert hung_up.value == pytest.approx(0.5 * 0 + 0.5 * 70)
    ids = [c.id for c in resolved.components]
    assert ids == ["ending", "caller_anger"]
    assert json.loads(json.dumps(resolved.to_dict()))["components"][1]["baseline"] == 65.0
    unknown = outcome_score(None, None, None, points=POINTS)
    assert unknown.value == pytest.approx(40.0)  # the anger part is withheld, not zero


def test_a_hung_up_call_cannot_outscore_a_resolved_call_with_the_same_skills():
    sc = SessionConfig()
    skills = [Score(85.0), Score(70.0), Score(95.0)]
    resolved = overall_score(*skills, outcome_score("resolved", 35.0, 65.0, points=POINTS), sc)
    hung_up = overall_score(*skills, outcome_score("hung_up", 96.0, 65.0, points=POINTS), sc)
    assert hung_up < resolved - 20
    # a skill that was not measured is left out, not counted as zero
    no_calm = overall_score(Score(None), Score(70.0), Score(95.0), None, sc)
    assert no_calm == pytest.approx((70 + 95) / 2)
    assert overall_score(Score(None), Score(None), Score(None), None, sc) is None


def test_many_red_flags_and_an_angry_caller_cannot_leave_a_high_overall():
    sc = SessionConfig()
    listening = analyze_listening("Calm down. It's our policy. You should have read the terms. Not my department. "
                                  "There's nothing I can do.", caller_text="You charged me twice!").score
    overall = overall_score(Score(90.0), listening, Score(100.0),
                            outcome_score("hung_up", 95.0, 65.0, points=POINTS), sc)
    assert listening.value <= 20
    assert overall < 50


@pytest.mark.parametrize(("toml", "msg"), [
    ({"session": {"outcome_hung_up": -5.0}}, "session.outcome_hung_up: must be between 0 and 100"),
    ({"listening": {"red_flag_cap_per_flag": 150.0}}, "listening.red_flag_cap_per_flag: must be between 0 and 100"),
    ({"report": {"new_topic_share": 1.5}}, "report.new_topic_share: must be between 0 and 1"),
    ({"report": {"focus_points": 0}}, "report.focus_points: must be above 0"),
    ({"turns": {"simultaneous_start_s": -0.1}}, "turns.simultaneous_start_s: must not be negative"),
    ({"session": {"weight_outcome": -1.0}}, "session.weight_outcome: must not be negative"),
])
def test_scoring_settings_are_range_checked(toml, msg):
    from voice_trainer.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match=msg.replace(".", r"\.")):
        config_from_dict(toml, "my.toml")
    assert config_from_dict({"session": {"outcome_referred": 75.0}}).session.outcome_referred == 75.0
