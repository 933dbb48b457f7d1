"""Word times moved onto the trainee's voice (analysis/word_timing.py): synthetic cases with known answers, and
real Whisper on a canned answer that starts after silence, through the one turn analysis every mode uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_trainer.analysis.activity import frame_levels_db
from voice_trainer.analysis.core import CallContext, TurnAudio, analyze_turn
from voice_trainer.analysis.transcript import Transcript, Word, merge
from voice_trainer.analysis.word_timing import clamp_to_speech
from voice_trainer.audio import files as audio_io
from voice_trainer.config import Config
from voice_trainer.speech.transcribe import Transcriber

SR = 16_000
SAMPLES = Path(__file__).resolve().parent.parent / "audio_samples"


def _tx(*words: tuple[str, float, float]) -> Transcript:
    return Transcript(text=" ".join(w for w, _, _ in words), words=[Word(w, a, b) for w, a, b in words])


def test_a_first_word_that_starts_in_the_silence_starts_at_the_voice_onset():
    tx = _tx(("Two", 3.02, 3.95), ("options", 3.95, 4.4))
    out = clamp_to_speech(tx, [(3.74, 4.5)], slack_s=0.1)
    assert [(w.start, w.end) for w in out.words] == [(3.74, 3.95), (3.95, 4.4)]
    assert out.word_timing == {"slack_s": 0.1, "moved_starts": 1, "moved_ends": 0, "moved": [
        {"index": 0, "word": "Two", "whisper": [3.02, 3.95], "voice": [3.74, 3.95]}]}
    assert tx.words[0].start == 3.02  # the input is left as it was
    assert out.to_dict()["word_timing"]["moved_starts"] == 1


def test_slack_ends_pauses_and_words_the_vad_missed():
    segs = [(1.0, 2.0), (3.0, 4.0)]
    tx = _tx(("a", 0.95, 1.3),  # 50 ms early: within the slack, kept
             ("b", 1.3, 2.4),   # ends 0.4 s into the pause: ends at the voice offset
             ("c", 2.5, 3.2),   # starts in the pause before the next segment: starts at its onset
             ("d", 3.5, 4.05),  # 50 ms late: kept
             ("e", 4.5, 4.8),   # no voice under it at all: the VAD missed it, nothing is guessed
             ("f", 1.8, 3.5))   # spans the pause: the first and last segments it overlaps bound it
    out = clamp_to_speech(tx, segs, slack_s=0.1)
    assert [(w.start, w.end) for w in out.words] == [(0.95, 1.3), (1.3, 2.0), (3.0, 3.2), (3.5, 4.05),
                                                     (4.5, 4.8), (1.8, 3.5)]
    assert out.word_timing["moved_starts"] == 1 and out.word_timing["moved_ends"] == 1
    assert [m["index"] for m in out.word_timing["moved"]] == [1, 2]
    assert all(w.start < w.end for w in out.words)
    no_ends = clamp_to_speech(tx, segs, slack_s=0.1, ends=False)
    assert no_ends.words[1].end == 2.4 and no_ends.word_timing["moved_ends"] == 0
    wide = clamp_to_speech(tx, segs, slack_s=1.0)
    assert wide.words == tx.words and wide.word_timing["moved"] == []


def test_nothing_to_check_leaves_the_transcript_alone():
    tx = _tx(("hello", 0.5, 0.9))
    assert clamp_to_speech(tx, [], slack_s=0.1) is tx and tx.word_timing == {}
    assert clamp_to_speech(Transcript(), [(0.0, 1.0)], slack_s=0.1).word_timing == {}


def test_the_record_of_moves_follows_shifts_and_merges():
    a = clamp_to_speech(_tx(("x", 0.2, 0.6)), [(0.5, 0.7)], slack_s=0.1)
    b = clamp_to_speech(_tx(("y", 0.1, 0.3), ("z", 0.3, 0.9)), [(0.0, 0.5)], slack_s=0.1).shifted(2.0)
    assert b.word_timing["moved"] == [{"index": 1, "word": "z", "whisper": [2.3, 2.9], "voice": [2.3, 2.5]}]
    m = merge([a, b])
    assert m.word_timing["moved_starts"] == 1 and m.word_timing["moved_ends"] == 1
    assert [x["index"] for x in m.word_timing["moved"]] == [0, 2] and m.words[2].word == "z"


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber(Config().transcribe)


# bench/bench_word_timing.py (18 canned answers after 2 s and 4 s of silence, load 3.0): Whisper's first word
# started 0.31-0.42 s before the true onset; after the clamp -0.046 to +0.056 s. The tolerance is twice the wider
# side of that spread; Whisper's own error is three times it.
ONSET_TOLERANCE_S = 0.12


@pytest.mark.whisper
@pytest.mark.parametrize("wav", ["late-package_good_2.wav", "double-charge_poor_1.wav"])
def test_real_whisper_first_word_starts_at_the_real_onset(transcriber, wav):
    answer = audio_io.load(SAMPLES / wav, sample_rate=SR)
    db = frame_levels_db(answer, SR, frame_s=0.01)
    onset_in_file = float(np.flatnonzero(db > db.max() - 40.0)[0]) * 0.01
    lead = 3.74  # the answer window opens on silence (here: no caller audio on the trainee's track)
    mic = np.concatenate([np.zeros(int(lead * SR), np.float32), answer, np.zeros(SR, np.float32)])
    cfg = Config()
    ta = TurnAudio(reference=np.zeros_like(mic), mic=mic, answer_start_s=lead)
    result = analyze_turn(ta, CallContext(), cfg, transcriber)
    tx = result.transcript
    assert tx.words and tx.decoding["window_s"] == 30.0 and tx.decoding["pieces"] == 1  # decoded whole
    onset = lead + onset_in_file
    assert abs(tx.words[0].start - onset) <= ONSET_TOLERANCE_S, (tx.words[0], onset, tx.word_timing)
    # explainable: the record says which word moved, from where (Whisper) to where (the voice)
    first = [m for m in tx.word_timing["moved"] if m["index"] == 0]
    if first:
        assert first[0]["voice"][0] == round(tx.words[0].start, 3) and first[0]["whisper"][0] < first[0]["voice"][0]
    assert tx.word_timing["slack_s"] == cfg.turns.word_voice_slack_s
