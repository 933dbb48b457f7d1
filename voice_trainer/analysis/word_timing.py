"""Word times checked against the trainee's voice activity: Whisper's word starts/ends moved onto the speech the
VAD found.

Whisper's word timestamps come from cross-attention, not from the signal. After a stretch of silence (or the
caller's audio) at the start of a decode window, the first word often *starts in that silence*: a few tenths of
a second early on a clean recording, more when the window opens on other audio. The voice activity detector
(:mod:`voice_trainer.analysis.vad`) measures the same track directly, so where the two disagree the signal wins:

* a word that overlaps a speech segment but starts more than ``slack_s`` before the first segment it overlaps
  starts at that segment's start (the voice onset);
* likewise a word that ends more than ``slack_s`` after the last segment it overlaps ends at that segment's end
  (the voice offset).

A word that overlaps no segment keeps its times: the VAD missed it (a quiet word, or double talk the echo gate
removed), and nothing is guessed. Starts only move later and ends only earlier, so a word never grows and never
leaves the stretch Whisper gave it. Every move is kept in :attr:`Transcript.word_timing` (how many, and each
word's times before and after), so a timestamp in the feedback can always be traced back.

Pure: words and segments (seconds) in, a new :class:`~voice_trainer.analysis.transcript.Transcript` out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .transcript import Transcript, Word

__all__ = ["clamp_to_speech"]


def clamp_to_speech(transcript: Transcript, segments: Sequence[Any], *, slack_s: float, ends: bool = True
                    ) -> Transcript:
    """Move word starts (and ends) that Whisper placed outside the trainee's speech onto it.

    Parameters
    ----------
    transcript : Transcript
        The trainee's words, times in seconds on the same clock as ``segments``.
    segments : sequence of (start, end)
        The trainee's speech segments in seconds (:func:`voice_trainer.analysis.vad.speech_segments`), sorted,
        non-overlapping.
    slack_s : float
        How far (s) a word may start before the voice onset (or end after the voice offset) and keep its time.
    ends : bool
        Also move word ends that fall after the voice offset (default True).

    Returns
    -------
    Transcript
        A copy whose ``word_timing`` records the check: ``slack_s``, ``moved_starts`` and ``moved_ends`` (counts)
        and ``moved`` (one entry per moved word: its index, the word, Whisper's ``start``/``end`` and the new
        ones). With no segments or no words the transcript is returned unchanged (nothing was checked).
    """
    segs = [(float(a), float(b)) for a, b in segments]
    if not segs or not transcript.words:
        return transcript
    words: list[Word] = []
    moved: list[dict] = []
    n_starts = n_ends = 0
    for i, w in enumerate(transcript.words):
        over = [(a, b) for a, b in segs if a < w.end and b > w.start]
        start, end = w.start, w.end
        if over:
            onset, offset = over[0][0], over[-1][1]
            if start < onset - slack_s:
                start = onset
                n_starts += 1
            if ends and end > offset + slack_s:
                end = offset
                n_ends += 1
        if (start, end) != (w.start, w.end):
            moved.append({"index": i, "word": w.word, "whisper": [round(w.start, 3), round(w.end, 3)],
                          "voice": [round(start, 3), round(end, 3)]})
            w = Word(w.word, start, end, w.probability)
        words.append(w)
    timing = {"slack_s": slack_s, "moved_starts": n_starts, "moved_ends": n_ends, "moved": moved}
    return dataclasses.replace(transcript, words=words, word_timing=timing)
