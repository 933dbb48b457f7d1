"""The browser as an answer source for the call loop (``call/session.py``'s ``AnswerSource``).

:class:`WebAnswers` does what live practice's ``LiveAnswers`` does with the sound card, over the page's
WebSocket: it sends the caller's line to the page and records the microphone while it plays, stops the caller
when the trainee talks over them (``BargeInDetector``, unless the caller is angry enough to push on), ends the
answer after a stretch of silence (``EnergyEndpointer``) and analyses the turn during that final silence
(``EarlyAnalysis``). The same thresholds apply (``PracticeConfig``, ``SessionConfig``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..analysis.activity import BargeInDetector
from ..analysis.turn import TurnAudio
from ..call.caller import CallerLine
from ..call.practice import EarlyAnalysis
from ..call.session import EarlyAnalyses
from ..config import SAMPLE_RATE, Config
from .link import BrowserLink, PagePlayback


class HangUp(Exception):
    """The trainee ended the call from the page (like Ctrl-C in the terminal: finished turns are kept)."""


SR = SAMPLE_RATE


@dataclass
class PageStatus:
    """The live gauge on the page: who speaks, microphone level (dBFS), the caller's anger, a short message."""

    who: str = "connecting"
    anger: float = 0.0
    level_dbfs: float = -math.inf
    turn: int = 0
    message: str = ""
    started: float = field(default_factory=time.monotonic)

    def to_message(self, show_anger: bool) -> dict:
        lvl = self.level_dbfs
        return {"type": "status", "who": self.who, "turn": self.turn, "message": self.message,
                "level_dbfs": round(lvl, 1) if math.isfinite(lvl) else None,
                "anger": round(self.anger, 1) if show_anger else None,
                "elapsed_s": round(time.monotonic() - self.started, 1)}


class WebAnswers:
    """The page's microphone as an answer source (see the module docstring).

    Parameters
    ----------
    link : BrowserLink
    cfg : Config
    status : PageStatus
    on_tick : callable, optional
        Called about every ``practice.poll_s`` while a turn records (sends the gauge to the page).
    """

    def __init__(self, link: BrowserLink, cfg: Config, status: PageStatus,
                 on_tick: Callable[[], None] | None = None) -> None:
        self.link = link
        self.cfg = cfg
        self.status = status
        self.on_tick = on_tick or (lambda: None)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="web-early-asr")
        self.full_pool = ThreadPoolExecutor(1, thread_name_prefix="web-whole-answer")
        self._next: tuple[PagePlayback, float] | None = None  # the next line, started before take()
        self.hangup = threading.Event()  # the trainee pressed "End call": the next poll raises HangUp
        self._last_speech_end: float | None = None  # on the call timeline (s)

    def remaining(self, index: int) -> bool:
        return True

    def _poll(self) -> None:
        self.link.wait(self.cfg.practice.poll_s)
        self.link.check()
        if self.hangup.is_set():
            raise HangUp("ended from the page")
        self.status.level_dbfs = self.link.level_dbfs
        self.on_tick()

    def take(self, index: int, caller_audio: np.ndarray, line: CallerLine, analyze=None) -> TurnAudio:
        link, pc, st = self.link, self.cfg.practice, self.status
        link.check()
        started, self._next = self._next, None
        t0 = link.now_s if started is None else started[1]
        st.turn, st.who, st.message = index, "caller", ""
        barge = BargeInDetector(self.cfg, line.anger)
        answer_start: float | None = None
        barge_at: float | None = None
        pb: PagePlayback = link.play(caller_audio) if started is None else started[0]

        def caller_end() -> float | None:
            if pb.end_s is not None:
                return pb.end_s - t0
            return None if barge_at is None else barge_at + pc.fade_out_s - t0

        def describe() -> dict:
            return {"caller_end_s": caller_end() or 0.0, "barge_in_s": barge.detected_s,
                    "caller_line_s": len(caller_audio) / SR, "source": "browser", "end_reason": "silence"}

        early = EarlyAnalysis(self.cfg, link, t0, self.pool, analyze, describe)
        reason = "max_length"
        sent_line_at = time.monotonic()
        while True:
            self._poll()
            now = link.now_s
            if answer_start is None:
                if not pb.started:
                    if time.monotonic() - sent_line_at > pc.device_timeout_s + len(caller_audio) / SR:
                        answer_start = now  # the page never played it (muted tab?): take the answer anyway
                        st.message = "the caller's line did not play in the page"
                    continue
                if pb.done:
                    answer_start = pb.end_s
                    st.who, st.message = "you", "your turn"
                    continue
                ref, mic = link.tracks(t0)
                if barge(mic, ref):
                    barge_at = now
                    answer_start = now
                    link.stop(pb)
                    st.who, st.message = "you", "you cut in: the caller stopped"
                continue
            _, answer = link.tracks(answer_start)
            if early(answer):
                reason = early.reason or "silence"
                break
            if now - answer_start >= pc.max_answer_s:
                break
        if not pb.done:
            link.stop(pb)  # a caller who pushed on through the answer stops now
        end = link.now_s
        st.who = "analysing"
        self.on_tick()
        ref, mic = link.tracks(t0, end)
        extra: dict = {"page_line_id": pb.id}
        if pb.start_s is not None and self._last_speech_end is not None:
            extra["reply_latency_s"] = round(pb.start_s - self._last_speech_end, 3)
            # where it went: the server (end of turn, analysis, reaction, TTS) and the page (transport, start)
            extra["reply_server_s"] = round(t0 - self._last_speech_end, 3)
            extra["reply_page_s"] = round(pb.start_s - t0, 3)
        ep = early.endpointer
        speech_end = None if ep.speech_end_s is None else answer_start - t0 + ep.speech_end_s
        if speech_end is not None:
            self._last_speech_end = t0 + speech_end
        if barge.detected_s is not None:
            extra["barge_in_detected_s"] = round(barge.detected_s, 3)
        link.discard_before(end - 1.0)
        ta = TurnAudio(
            reference=ref, mic=mic, caller_end_s=caller_end() or 0.0,
            barge_in_s=None if barge_at is None else (barge.detected_s if barge.detected_s is not None
                                                      else barge_at - t0),
            caller_pushed_on=barge.push_on and barge.detected_s is not None,
            source="browser", answer_start_s=answer_start - t0, end_reason=reason, speech_end_s=speech_end,
            precomputed=early.result(), partial=early.partial, extra=extra, caller_line_s=len(caller_audio) / SR,
            start_s=t0, caller_start_s=None if pb.start_s is None else pb.start_s - t0,
        )
        quick = ta.precomputed
        if quick is not None and analyze is not None and self.cfg.practice.redecode_answer:
            # the caller reacts to the words decoded in pieces at the answer's pauses; the record gets the answer
            # decoded whole, as file mode does (and as terminal practice does), while the caller's reply already
            # plays (``start_line``)
            full = self.full_pool.submit(analyze, dataclasses.replace(ta, partial=None, precomputed=None),
                                         prepare_reply=False, whole=True)
            covered = round(len(mic) / SR, 3)
            ta.precomputed = EarlyAnalyses(quick, full=full, basis={"tone_until_s": covered, "words_until_s": covered,
                                                                     "words": "pieces"})
        return ta

    def start_line(self, audio: np.ndarray) -> None:
        """Start the caller's next line in the page now (decided before the turn's record was analysed); the next
        :meth:`take` records the turn around it."""
        self._next = (self.link.play(audio), self.link.now_s)

    def play_final(self, audio: np.ndarray) -> float | None:
        """Play the caller's closing line; returns the latency from the trainee's last word to it (s)."""
        pb = self.link.play(audio)
        deadline = time.monotonic() + len(audio) / SR + self.cfg.practice.device_timeout_s + 2.0
        while not pb.done and time.monotonic() < deadline:
            self._poll()
        if pb.start_s is None or self._last_speech_end is None:
            return None
        return round(pb.start_s - self._last_speech_end, 3)

    def record(self, duration_s: float) -> np.ndarray:
        """Record ``duration_s`` seconds of the page's microphone (the calibration clip); 16 kHz float32."""
        start = self.link.now_s
        while self.link.now_s < start + duration_s:
            self._poll()
        return self.link.tracks(start, start + duration_s)[1]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.full_pool.shutdown(wait=False, cancel_futures=True)

