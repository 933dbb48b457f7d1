"""Turn-taking on synthesized calls: two espeak-ng voices placed on two tracks at known times."""

from __future__ import annotations

import numpy as np
import pytest
from callsynth import SR, angry_call, with_echo
from speech import needs_espeak

from voice_trainer.analysis.echo import estimate_echo, suppress_echo
from voice_trainer.analysis.turns import analyze_turns
from voice_trainer.analysis.vad import speech_segments
from voice_trainer.config import Config, TurnsConfig
from voice_trainer.review import review_tracks
from voice_trainer.speech.transcribe import Transcriber

pytestmark = [needs_espeak, pytest.mark.slow]
ONSET_TOL_S = 0.15


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    return angry_call(tmp_path_factory.mktemp("call"))


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber(Config().transcribe)


def check_events(result, call) -> None:
    got = [i.start for i in result.interruptions]
    assert len(got) == len(call.interruption_onsets) == 2, result.to_dict()["interruptions"]
    for g, want in zip(got, call.interruption_onsets, strict=True):
        assert abs(g - want) <= ONSET_TOL_S
    # the backchannel and the short overlap at the caller's last words are not interruptions (implied by the
    # exact count; checked by time so a swap cannot hide)
    for t in (call.backchannel_at, call.tail_overlap_at):
        assert all(abs(i.start - t) > 0.5 for i in result.interruptions)
    assert result.caller_interruptions == []
    (want_a, want_b), = call.dead_air
    assert len(result.dead_air) == 1
    assert abs(result.dead_air[0].start - want_a) <= ONSET_TOL_S
    assert abs(result.dead_air[0].end - want_b) <= ONSET_TOL_S
    pa, pb = call.listening_pause
    assert any(abs(a - pa) <= ONSET_TOL_S and abs(b - pb) <= ONSET_TOL_S for a, b in result.listening_pauses)


def test_vad_alone_finds_the_events(call):
    caller = speech_segments(call.caller, SR)
    agent = speech_segments(call.agent, SR)
    check_events(analyze_turns(caller, agent, duration_s=len(call.caller) / SR), call)


def test_energy_vad_finds_them_too(call):
    cfg = TurnsConfig(vad_backend="energy")
    r = analyze_turns(speech_segments(call.caller, SR, cfg), speech_segments(call.agent, SR, cfg), config=cfg)
    check_events(r, call)


def test_echo_is_found_and_never_counted_as_the_agent(call):
    echoed = with_echo(call, delay_s=0.15, gain=0.3)
    caller = speech_segments(echoed.caller, SR)
    # without suppression the caller's own voice, heard in the agent's track, looks like the agent talking at
    # the same time: barging in, or (the echo starts 0.15 s after each caller segment) simultaneous starts
    raw = analyze_turns(caller, speech_segments(echoed.agent, SR))
    assert len(raw.interruptions) + len(raw.simultaneous_starts) > 2
    cleaned, est = suppress_echo(echoed.agent, echoed.caller, SR)
    assert est.detected
    assert est.delay_s == pytest.approx(0.15, abs=1e-3)
    assert est.gain == pytest.approx(0.3, rel=0.1)
    check_events(analyze_turns(caller, speech_segments(cleaned, SR)), call)
    # and nothing is "found" in the other direction
    assert not estimate_echo(echoed.caller, echoed.agent, SR).detected


@pytest.mark.whisper
def test_review_with_words_quotes_the_events(call, transcriber):
    echoed = with_echo(call, delay_s=0.08, gain=0.25)
    r = review_tracks(echoed.caller, echoed.agent, SR, Config(), transcriber)
    assert r.agent.echo is not None and r.agent.echo.detected
    check_events(r.turns, call)
    texts = [i.text.lower() for i in r.turns.interruptions]
    assert "calm" in texts[0] and "fault" in texts[1]
    assert all(i.words and i.words >= 3 for i in r.turns.interruptions)
    assert "fix this" in r.turns.dead_air[0].caller_text
    # the caller's words never show up in the agent's transcript
    assert "refund and nobody" not in r.agent.transcript.text.lower().replace(",", "")
    assert r.turns.talk_share is not None and 0.2 < r.turns.talk_share < 0.6
    comps = {c.id: c for c in r.score.components}
    assert comps["interruptions"].value == 2 and comps["dead_air"].value == 1
    d = r.to_dict()
    assert [set(i) >= {"start", "end", "words", "text"} for i in d["turns"]["interruptions"]] == [True, True]


def test_silence_in_silence_out():
    z = np.zeros(SR * 3, np.float32)
    assert speech_segments(z, SR) == []
    r = analyze_turns(speech_segments(z, SR), speech_segments(z, SR), duration_s=3.0)
    assert r.talk_share is None and r.interruptions == [] and r.dead_air == []


@pytest.mark.whisper
def test_review_includes_tone_and_listening_of_the_agent(call, transcriber):
    r = review_tracks(call.caller, call.agent, SR, Config(), transcriber)
    d = r.to_dict()
    agent_turns = [t for t in r.turns.turns if t.speaker == "agent"]
    assert len(d["tone"]["turns"]) == len(agent_turns)
    assert d["listening"] is not None and d["listening"]["turns"]
    # "that was not my fault" is defensive wording (technique 5): the listening analysis should see it
    flags = [f for t in d["listening"]["turns"] for f in t["red_flags"]]
    assert any("fault" in f["text"].lower() for f in flags), flags
