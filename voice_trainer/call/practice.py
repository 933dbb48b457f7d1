"""Live practice: the call loop of ``session.py`` on real audio devices (microphone and speakers).

:class:`LiveAnswers` is the answer source for the microphone: it plays the caller's line on the duplex stream
(``devices.py``) while recording, stops the caller when the trainee talks over them (unless the caller is angry
enough to push on), and ends the answer after a stretch of silence. To answer sooner it transcribes up to each
pause while the trainee speaks and analyses the turn during the final silence. :func:`practice_call` runs a
whole call with a live terminal display and keeps every finished turn on disk.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis import ids
from ..analysis.activity import BargeInDetector, EnergyEndpointer
from ..analysis.turn import TurnAudio
from ..audio import devices
from ..config import Config
from ..errors import UserError
from ..speech.transcribe import LiveDecoding, Transcriber
from .caller import CallerLine
from .session import SR

NATIVE_LOG = "audio.log"
"""The session folder's log of what the native audio libraries (ALSA, PortAudio) printed during the call."""


class EarlyAnalysis:
    """The end-of-turn check that also analyses the turn during the trainee's final silence.

    Wraps the device module's energy endpointer. When speech has been followed by ``early_asr_after_s`` of
    silence, the turn so far is analysed in a background thread (echo removal, voice activity, Whisper, tone,
    listening). If no more speech comes before the end-of-turn silence is complete, that analysis is used and
    the caller answers without waiting for it; if the trainee speaks again, it is dropped and redone later.

    With ``full_pool`` (live practice, ``practice.early_reaction``) each pause first gets the analysis the
    caller's reply is decided from (:func:`~.session.reaction_analysis`: the words since the previous pause
    decoded, listening on all of them, tone and turn-taking from the latest complete analysis) on ``pool``, and
    the complete analysis then runs on ``full_pool`` reusing those words: the answer is held only until the
    reply's analysis is ready.
    """

    def __init__(self, cfg: Config, duplex: devices.DuplexStream, turn_start_s: float, pool: ThreadPoolExecutor,
                 analyze, describe, full_pool: ThreadPoolExecutor | None = None) -> None:
        self.cfg = cfg
        self.endpointer = EnergyEndpointer(SR, cfg.practice)
        self.duplex = duplex
        self.turn_start_s = turn_start_s
        self.pool = pool
        self.full_pool = full_pool
        self.analyze = analyze
        self.describe = describe  # () -> dict of what is known of the turn so far (caller end, barge-in)
        self.job: tuple | None = None  # (speech end s, complete Future, reply's Future, before, k samples, ta)
        self.reason: str | None = None
        self.error: str | None = None
        self.partial: tuple = None  # (Transcript of mic[:k], k): the next decodes start at k
        self.heard: tuple = None  # (Transcript of mic[:k], k) from the latest finished job
        self.held = False  # the answer was held open past the end-of-turn silence for the analysis
        self.cut_in_after_s: float | None = None  # the caller's patience (s of talk) or None
        self.acknowledged = False  # an earlier partial analysis heard the trainee acknowledge the caller
        self.latest: tuple | None = None  # (complete TurnAnalysis of mic[:k], k) from the latest finished job
        self._queued: list[Future] = []  # complete analyses waiting on full_pool

    def __call__(self, answer: np.ndarray) -> bool:
        stop = self.endpointer(answer)
        self.reason = self.endpointer.reason
        ep = self.endpointer
        if (self.cut_in_after_s is not None and not self.acknowledged and ep.speech_start_s is not None
                and ep.speech_end_s is not None
                and len(answer) / SR - ep.speech_end_s < self.cfg.session.early_asr_after_s
                and ep.speech_end_s - ep.speech_start_s >= self.cut_in_after_s
                and self._heard_s(ep.speech_start_s) >= self.cfg.practice.cut_in_heard_share * self.cut_in_after_s):
            # still talking past the caller's patience, and the words transcribed so far hold no acknowledgement
            self.reason = "caller_cut_in"
            return True
        if (self.analyze is not None and ep.speech_started and ep.speech_end_s is not None
                and (self.job is None or self.job[0] != ep.speech_end_s)):
            silent_for = len(answer) / SR - ep.speech_end_s
            if silent_for >= self.cfg.session.early_asr_after_s and (self.job is None or self.job[2].done()):
                ref, mic = self.duplex.tracks(self.turn_start_s)
                ta = TurnAudio(reference=ref.copy(), mic=mic.copy(), partial=self.partial, **self.describe())
                k = len(ta.mic)
                if self.full_pool is None:
                    job = self.pool.submit(self.analyze, ta)
                    job.add_done_callback(lambda f: self._keep(f, k, complete=True))
                    self.job = (ep.speech_end_s, job, job, None, k, ta)
                else:
                    full: Future = Future()
                    reaction = self.pool.submit(self._react, ta, self.latest, full)
                    reaction.add_done_callback(lambda f: self._keep(f, k, complete=False))
                    full.add_done_callback(lambda f: self._keep(f, k, complete=True))
                    self.job = (ep.speech_end_s, full, reaction, self.latest, k, ta)
        if stop and self.reason == "silence" and self.job is not None and ep.speech_end_s is not None:
            # hold the answer open until the analysis of all of it is ready (the caller could not answer sooner
            # anyway): words after a pause in that time stay in this answer instead of being cut off
            ready = self.job[0] == ep.speech_end_s and (self.job[1].done() or self._reaction_ready())
            silent_for = len(answer) / SR - ep.speech_end_s
            if not ready and silent_for < self.cfg.practice.end_silence_s + self.cfg.practice.max_hold_s:
                self.held = True
                return False
        return stop

    def _react(self, ta: TurnAudio, before: tuple | None, full: Future):
        """The reply's analysis of ``ta`` (reaction pool); queues the complete one, which reuses its words.

        Without an earlier complete analysis (``before``) it holds the words and their listening only: the
        caller then waits for the complete analysis (see :meth:`_reaction_ready`)."""
        try:
            quick = self.analyze(ta, reaction=True, before=None if before is None else before[0])
        except BaseException as exc:
            full.set_exception(exc)
            raise
        for q in self._queued:  # complete analyses of earlier pauses not started yet: this one covers more
            q.cancel()
        job = self.full_pool.submit(self.analyze, dataclasses.replace(ta, partial=(quick.transcript, len(ta.mic))),
                                    prepare_reply=False)
        self._queued = [job]

        def chain(f: Future) -> None:
            if f.cancelled():
                full.cancel() or full.set_exception(RuntimeError("replaced by a later analysis"))
            elif f.exception() is not None:
                full.set_exception(f.exception())
            else:
                full.set_result(f.result())

        job.add_done_callback(chain)
        return quick

    def _reaction_ready(self) -> bool:
        j = self.job
        return (j is not None and j[3] is not None and j[2].done() and not j[2].cancelled()
                and j[2].exception() is None)

    def analyses(self):
        """What the call loop gets for the turn: a complete analysis (TurnAnalysis), or an
        :class:`~.session.EarlyAnalyses` when the caller can react before the record's analysis is ready (the
        reply's analysis is ready and the complete one is not, or the words were decoded with the reply's live
        settings and the record gets them decoded whole: ``practice.redecode_answer``); None: analyse again in the
        call loop."""
        from .session import EarlyAnalyses

        ep = self.endpointer
        if self.job is None or self.job[0] != ep.speech_end_s:
            return self.result()
        _, full, reaction, before, k, ta = self.job
        if full.done() or not self._reaction_ready():
            quick = self.result()  # the complete analysis (waited for)
            if quick is None:
                return None
            basis = {"tone_until_s": round(k / SR, 3), "words_until_s": round(k / SR, 3)}
            complete = True
        else:
            complete = False
            quick = reaction.result()
            basis = {"tone_until_s": round(before[1] / SR, 3), "words_until_s": round(k / SR, 3)}
        if self.full_pool is not None and self.cfg.practice.redecode_answer:
            # the words were decoded for the reply (in pieces cut at pauses, short windows, a faster beam); the
            # record gets the answer decoded whole as file mode does, while the caller already speaks
            for q in self._queued:
                q.cancel()
            full = self.full_pool.submit(self.analyze, dataclasses.replace(ta, partial=None), prepare_reply=False,
                                         whole=True)
            words = "pieces" if ta.partial is not None else "live"
            return EarlyAnalyses(quick, full=full, basis={**basis, "words": words})
        if complete:
            return quick
        return EarlyAnalyses(quick, full=full, basis=basis)

    def _heard_s(self, speech_start_s: float) -> float:
        """How much of the answer's talk (s from its first speech) the finished partial transcripts cover."""
        if self.heard is None or not self.heard[0].words:
            return 0.0
        window_start = float(self.describe().get("caller_end_s") or 0.0)  # the answer window, turn clock
        return self.heard[0].words[-1].end - window_start - speech_start_s

    def _keep(self, job: Future, k: int, complete: bool) -> None:
        """A finished job's transcript covers mic[:k] (cut in a pause): later jobs transcribe only what follows."""
        if not job.cancelled() and job.exception() is None:
            res = job.result()
            if self.heard is None or self.heard[1] <= k:
                self.heard = (res.transcript, k)
            # the next decode starts at this cut only if the piece before it is long enough to decode well
            if k - (0 if self.partial is None else self.partial[1]) >= self.cfg.practice.piece_min_s * SR:
                self.partial = (res.transcript, k)
            if complete and (self.latest is None or self.latest[1] <= k):
                self.latest = (res, k)
            from .session import ACKNOWLEDGING

            if any(ids.canonical(d.id) in ACKNOWLEDGING for d in res.listening.techniques):
                self.acknowledged = True

    def result(self):
        """The early analysis (a TurnAnalysis), if it covers all the speech of the answer; else None."""
        ep = self.endpointer
        if self.job is None:
            return None
        stale = self.job[0] != ep.speech_end_s
        if stale:  # its decode is waited for (never two decodes at once), not its complete analysis
            with contextlib.suppress(Exception):
                self.job[2].result(timeout=60)
            return None
        try:
            res = self.job[1].result(timeout=60)  # a stale job is waited for too: never two decodes at once
        except Exception as exc:  # the turn is analysed again on the main thread, which reports real errors
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        return None if stale else res


@dataclass
class LiveStatus:
    """What the live display shows; updated from the call loop and the audio poll."""

    who: str = "connecting"
    anger: float = 0.0
    started: float = field(default_factory=time.monotonic)
    level_dbfs: float = -math.inf
    turn: int = 0
    message: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class LiveAnswers:
    """The microphone as an answer source (see the module docstring)."""

    prepares_replies = True
    """The call loop renders the caller's likely reply during the trainee's final silence (``session.py``)."""

    def __init__(self, duplex: devices.DuplexStream, cfg: Config, status: LiveStatus | None = None,
                 on_tick=None) -> None:
        self.duplex = duplex
        self.cfg = cfg
        self.status = status or LiveStatus()
        self.on_tick = on_tick
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="early-asr")
        self.full_pool = ThreadPoolExecutor(1, thread_name_prefix="early-analysis")
        self._last_speech_end: float | None = None  # on the call timeline
        self._last_answer_end = 0.0  # on the call timeline
        self._answer_done_wall = time.monotonic()
        self._analysis_wait_s = 0.0
        self._final: devices.Playback | None = None  # the closing line, once started
        self._next: tuple | None = None  # (Playback, timeline s, wall s) of the next line, started early

    def remaining(self, index: int) -> bool:
        return True

    def take(self, index: int, caller_audio: np.ndarray, line: CallerLine, analyze=None) -> TurnAudio:
        d = self.duplex
        taken_at = time.monotonic()
        # the turn starts where the previous answer ended: words said in between are kept, not dropped
        contiguous = 0.0 < self._last_answer_end <= d.now_s
        t0 = self._last_answer_end if contiguous else d.now_s
        cutting_in = line.stage == "interrupt"
        follows = contiguous and not cutting_in  # the answer ended at a pause, not cut off by the caller
        started, self._next = self._next, None
        if started is None and not cutting_in:  # a caller who cuts in does not wait for the trainee to stop
            self._wait_while_talking(t0)
        line_from = d.now_s if started is None else started[1]  # the line is handed to the device from here
        barge = BargeInDetector(self.cfg, max(line.anger, self.cfg.session.push_on_anger) if cutting_in
                                else line.anger)
        st = self.status
        st.turn = index
        caller_start: list[float] = []
        caller_end: list[float] = []

        def describe() -> dict:
            return {"caller_end_s": caller_end[0] if caller_end else 0.0, "barge_in_s": barge.detected_s,
                    "caller_line_s": len(caller_audio) / SR, "source": "microphone", "end_reason": "silence",
                    "follows_answer": follows}

        early = EarlyAnalysis(self.cfg, d, t0, self.pool, analyze, describe,
                              full_pool=self.full_pool if self.cfg.practice.early_reaction else None)
        early.cut_in_after_s = line.cut_in_after_s

        def on_event(name: str, t: float) -> None:
            with st.lock:
                if name == "caller_start":
                    st.who = "caller"
                    caller_start.append(t)
                if name in ("caller_end", "barge_in") and not caller_end:
                    caller_end.append(t)
                if name in ("your_turn", "barge_in", "caller_end"):
                    st.who = "you"
                    st.message = "your turn" if name != "barge_in" else "you cut in: the caller stopped"
                elif name == "end":
                    st.who = "analysing"

        def tick() -> None:
            st.level_dbfs = d.level_dbfs
            if self.on_tick:
                self.on_tick()

        def barge_in(mic: np.ndarray, ref: np.ndarray) -> bool:
            hit = barge(mic, ref)
            if hit or barge.detected_s is None or cutting_in or not caller_start:
                return hit
            # the trainee went on with their answer just as the caller started: the caller yields, however angry
            # (a caller who pushes on talks over a real barge-in, not over the end of the previous answer)
            return barge.detected_s - caller_start[0] <= self.cfg.session.resume_grace_s

        rec = d.record_turn(caller_audio if started is None else None, SR, should_stop=early, barge_in=barge_in,
                            on_tick=tick, on_event=on_event, start_s=t0,
                            playback=None if started is None else started[0])
        extra = dict(rec.extra)
        if self._last_speech_end is not None and caller_start:
            extra["reply_latency_s"] = round(t0 + caller_start[0] - self._last_speech_end, 3)
            # where the reply's time went: the end-of-turn silence, the call loop between two answers (analysis
            # not done during the silence, caller reaction, TTS render, disk, display), the device until the
            # first sample sounded
            extra["reply_parts_s"] = {
                "end_silence": round(min(self.cfg.practice.end_silence_s,
                                         self._last_answer_end - self._last_speech_end), 3),
                "held_for_analysis": round(max(0.0, self._last_answer_end - self._last_speech_end
                                               - self.cfg.practice.end_silence_s), 3),
                "analysis_wait": round(self._analysis_wait_s, 3),
                "between_turns": round((taken_at if started is None else started[2]) - self._answer_done_wall, 3),
                "to_first_sound": round(t0 + caller_start[0] - line_from, 3),
            }
        ep = early.endpointer
        speech_end = None if ep.speech_end_s is None else rec.answer_start_s + ep.speech_end_s
        if speech_end is not None:
            self._last_speech_end = t0 + speech_end
        self._last_answer_end = t0 + len(rec.mic) / SR
        if barge.detected_s is not None:
            extra["barge_in_detected_s"] = round(barge.detected_s, 3)
        d.discard_before(d.now_s - 1.0)
        recorded_at = time.monotonic()
        precomputed = early.analyses()
        if early.error:  # the turn is analysed again in the call loop; say why in the record
            extra["early_analysis_error"] = early.error[:200]
        self._answer_done_wall = time.monotonic()
        self._analysis_wait_s = self._answer_done_wall - recorded_at
        return TurnAudio(
            reference=rec.reference, mic=rec.mic,
            caller_end_s=rec.caller_end_s if rec.caller_end_s is not None else 0.0,
            barge_in_s=rec.barge_in_s if rec.barge_in_s is not None else barge.detected_s,
            caller_pushed_on=barge.push_on and barge.detected_s is not None and rec.barge_in_s is None,
            source="microphone", answer_start_s=rec.answer_start_s, end_reason=rec.end_reason,
            speech_end_s=speech_end, precomputed=precomputed, partial=early.partial, extra=extra,
            caller_line_s=len(caller_audio) / SR, follows_answer=follows,
        )

    def start_line(self, audio: np.ndarray) -> None:
        """Start the caller's next line now (decided before the turn's complete analysis was ready); the next
        :meth:`take` records the turn around it."""
        self._next = (self.duplex.play(audio, SR), self.duplex.now_s, time.monotonic())

    def _wait_while_talking(self, t0: float) -> None:
        """Hold the caller's line while the trainee is still talking (they went on after a pause): the caller
        starts once the trainee has been quiet for ``end_silence_s``, or after ``max_answer_s``.

        Speech is judged by the energy endpointer on the audio since ``t0`` (its noise floor included), so a
        noisy room does not hold the caller."""
        d, pc = self.duplex, self.cfg.practice
        ep = EnergyEndpointer(SR, pc)
        start = time.monotonic()
        while time.monotonic() - start < pc.max_answer_s:
            _, mic = d.tracks(t0)
            ep(mic)
            started = ep.speech_started or (ep.speech_start_s is not None and ep.speech_end_s is not None
                                            and ep.speech_end_s - ep.speech_start_s >= 3 * ep.FRAME_S)
            talking = started and ep.speech_end_s is not None and len(mic) / SR - ep.speech_end_s < pc.end_silence_s
            if not talking:
                return
            with self.status.lock:
                self.status.who, self.status.message = "you", "go on: the caller waits"
            if self.on_tick:
                self.on_tick()
            time.sleep(pc.poll_s)

    def start_final(self, audio: np.ndarray) -> None:
        """Start the caller's closing line at once (returns at once); :meth:`play_final` waits for its end."""
        with self.status.lock:
            self.status.who, self.status.message = "caller", "closing line"
        self._final = self.duplex.play(audio, SR)

    def play_final(self, audio: np.ndarray) -> float | None:
        """Play the caller's closing line (unless :meth:`start_final` did) until its end; returns the latency
        from the trainee's last word to it (s)."""
        d = self.duplex
        st = self.status
        with st.lock:
            st.who, st.message = "caller", "closing line"
        pb = self._final if self._final is not None else d.play(audio, SR)
        deadline = time.monotonic() + len(audio) / SR + 5.0
        while not pb.done and time.monotonic() < deadline:
            d.check()
            if self.on_tick:
                self.on_tick()
            time.sleep(self.cfg.practice.poll_s)
        with st.lock:
            st.who, st.message = "ended", "the caller ended the call"
        if pb.start_s is None or self._last_speech_end is None:
            return None
        return round(pb.start_s - self._last_speech_end, 3)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.full_pool.shutdown(wait=False, cancel_futures=True)


def _meter(level: float, width: int = 24) -> str:
    if not math.isfinite(level):
        return "." * width
    filled = int(round(min(max((level + 60.0) / 60.0, 0.0), 1.0) * width))
    return "#" * filled + "." * (width - filled)


def practice_call(
    scenario,
    cfg: Config,
    transcriber: Transcriber,
    *,
    session_dir,
    input_device=None,
    output_device=None,
    max_turns: int | None = None,
    seed: int = 0,
    show_anger: bool = True,
    calibrate_s: float = 0.0,
    baseline=None,
    console=None,
):
    """Run one live call on the audio devices; every finished turn is on disk before the next starts.

    Returns
    -------
    (SessionResult or None, status, session folder)
        ``status`` is ``completed``, ``interrupted`` (Ctrl-C) or ``device_lost``.
    """
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape
    from rich.text import Text

    from ..analysis import tone
    from ..profile import check_baseline
    from .session import SessionFolder, memo_renderer, run_session, tts_renderer

    console = console or Console()
    status = LiveStatus(anger=float(scenario.persona.anger))
    pc = cfg.practice
    # the same loaded model: on the reply's critical path short encoder windows, no temperature retries and
    # (``live_beam_size``) a faster beam; the answer decoded whole for the record keeps ``transcribe`` settings
    transcriber = copy.copy(transcriber)
    transcriber.live = LiveDecoding(min_s=pc.live_window_min_s, pad_s=pc.live_window_pad_s,
                                    temperature_fallback=pc.live_temperature_fallback,
                                    beam_size=pc.live_beam_size or None)
    render = memo_renderer(tts_renderer(scenario, cfg))
    transcriber.model  # noqa: B018 - load Whisper before the caller speaks
    tone.warm_up(cfg.tone)
    duplex = devices.DuplexStream(input_device, output_device, cfg=cfg.practice)
    console.print(f"[bold]{escape(scenario.title)}[/bold] - opening the audio devices...")
    # native ALSA/PortAudio messages go to a log while the streams run, never over the live display: first a
    # temporary one (no session folder before the devices open), then the session's own
    capture = devices.StderrCapture()
    early_fd, early_name = tempfile.mkstemp(prefix="voice-trainer-", suffix=".log")
    os.close(early_fd)
    early_log = Path(early_name)
    capture.start(early_log)
    try:
        duplex.open()  # no usable device: a one-line DeviceError, and no session folder is left behind
        folder = SessionFolder(session_dir, scenario, cfg, mode="live", model=transcriber.model_name, seed=seed,
                               settings={"input_device": duplex.input_device.label() if duplex.input_device else None,
                                         "output_device": duplex.output_device.label()
                                         if duplex.output_device else None,
                                         "device_rate_hz": duplex.device_rate, "show_anger": show_anger})
        native_log = folder.dir / NATIVE_LOG
        with contextlib.suppress(OSError):
            native_log.write_bytes(early_log.read_bytes())
        capture.start(native_log)
    except BaseException:
        duplex.close()
        capture.stop()
        raise
    finally:
        early_log.unlink(missing_ok=True)
    answers = LiveAnswers(duplex, cfg, status)
    duplex.native_log = native_log

    def view() -> Text:
        el = time.monotonic() - status.started
        t = Text()
        t.append(f"turn {status.turn}  {int(el // 60):02d}:{int(el % 60):02d}  ", style="bold")
        t.append(f"speaking: {status.who:<9} ", style="cyan" if status.who == "you" else "red")
        t.append(f"mic [{_meter(status.level_dbfs)}] ")
        if show_anger:
            t.append(f"anger [{_meter(status.anger * 0.6 - 60, 20)}] {status.anger:3.0f}", style="red")
        if status.message:
            t.append(f"  {status.message}", style="yellow")
        if duplex.busy:
            t.append(f"  machine too busy: audio dropouts ({duplex.dropouts})", style="bold red")
        return t

    result = None
    state = "completed"
    error = None
    from ..report.terminal import print_turn

    try:
        with Live(view(), console=console, refresh_per_second=10, transient=True) as live:
            answers.on_tick = lambda: live.update(view())
            if calibrate_s > 0:
                status.who, status.message = "you", "calibration: read any text aloud in your normal voice"
                clip = duplex.record(calibrate_s, on_tick=lambda: (setattr(status, "level_dbfs", duplex.level_dbfs),
                                                                     live.update(view())))
                words = transcriber.transcribe(clip).words
                baseline = tone.baseline_from_audio(clip, SR, words, kind="recording", source="calibration",
                                                    config=cfg.tone)
                check_baseline(baseline, cfg, "the calibration recording")
                status.message = ""

            def on_event(name: str, data: dict) -> None:
                if name == "final_line":  # the caller hangs up or agrees: say so at once, score afterwards
                    answers.start_final(render(data["line"].text, data["line"].anger))
                elif name == "caller_line":
                    status.anger = data["line"].anger
                    status.message = ""
                elif name == "turn":
                    tr = data["result"]
                    status.anger = tr.anger_after
                    live.console.print(Text(""))
                    print_turn(live.console, tr, show_anger)

            result = run_session(scenario, cfg, transcriber, answers, render=render, baseline=baseline, seed=seed,
                                 max_turns=max_turns, writer=folder, on_event=on_event)
            final = result.turns[-1].reply if result.turns else None
            if final is not None and final.final:
                latency = answers.play_final(render(final.text, final.anger))
                if latency is not None:
                    last = result.turns[-1]
                    last.audio.extra["final_reply_latency_s"] = latency
                    # the last turn was written before its reply played: write it again with the latency
                    folder.update_turn(last)
    except KeyboardInterrupt:
        state, error = "interrupted", "stopped with Ctrl-C"
    except devices.DeviceError as exc:
        state, error = "device_lost", str(exc)
    except BaseException as exc:  # anything else: the session says so, finished turns stay, the error goes on
        with contextlib.suppress(UserError):  # best effort: the disk may be what failed
            folder.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        answers.close()
        duplex.close()
        capture.stop()
    with contextlib.suppress(Exception):
        folder.writer.record.settings["audio_dropouts"] = {"callbacks": duplex.xruns, "native": duplex.native_xruns}
    folder.finish(state, result if state == "completed" else None, error=error)
    return result, state, folder.dir, error
