"""One practice call driven from a page: the call loop of ``call/session.py`` with the browser as answer source.

:func:`run_page_call` runs in its own thread (Whisper and the analysis block); it tells the page what happens
through ``send`` (JSON messages, see ``static/practice.js``) and keeps every finished turn in a new session
folder under the server's session root, exactly as terminal practice does (``report`` and ``progress`` read it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import UserError
from .answers import HangUp, PageStatus, WebAnswers
from .link import BrowserLink, ConnectionLost

GAUGE_EVERY_S = 0.1
"""How often the live gauge (microphone level, who speaks) is sent to the page, at most (s)."""


@dataclass
class CallRequest:
    """What the page asked for (already checked): the scenario id, options; never a path."""

    scenario: str
    max_turns: int | None = None
    seed: int | None = None
    calibrate: bool = False
    show_anger: bool = True


def new_session_dir(root: Path, scenario_id: str) -> Path:
    """``ROOT/web-YYYYmmdd-HHMMSS-SCENARIO`` (a fresh folder name; the id is a checked scenario id)."""
    base = root / f"web-{time.strftime('%Y%m%d-%H%M%S')}-{scenario_id}"
    p, n = base, 1
    while p.exists() or p.is_symlink():  # a dangling link is taken too: never create through a link
        n += 1
        p = base.with_name(f"{base.name}-{n}")
    return p


def _turn_message(tr, show_anger: bool) -> dict:
    a = tr.analysis
    calm = None if a.tone is None or a.tone.calmness.value is None else round(a.tone.calmness.value)
    listen = a.listening.score.value if a.listening.score is not None else None
    return {"type": "turn", "index": tr.index, "transcript": tr.transcript.text, "nudges": list(tr.nudges),
            "anger_after": round(tr.anger_after, 1) if show_anger else None,
            "calmness": calm, "listening": None if listen is None else round(listen),
            "reply_latency_s": tr.audio.extra.get("reply_latency_s")}


def run_page_call(req: CallRequest, link: BrowserLink, cfg: Config, transcriber, session_root: Path,
                  answers_ready=None) -> tuple[str, Path | None]:
    """Run the whole call; returns (status, session folder). Never raises: the page is told what went wrong.

    Status is ``completed``, ``interrupted`` (ended from the page), ``device_lost`` (the page's connection
    closed mid-call; finished turns are kept) or ``failed``.
    """
    import random

    from ..analysis import tone
    from ..call.scenarios import get_scenario
    from ..call.session import SessionFolder, run_session, tts_renderer
    from ..profile import check_baseline, resolve_baseline

    send = link.send
    folder = None
    answers = None
    try:
        scenario = get_scenario(req.scenario, tuple(cfg.caller.scenario_dirs))
        seed = req.seed if req.seed is not None else random.SystemRandom().randrange(1 << 30)
        status = PageStatus(anger=float(scenario.persona.anger))
        last: dict = {"t": 0.0, "what": None}

        def tick() -> None:
            """Send the gauge every ``GAUGE_EVERY_S``, and at once when who speaks or the message changes."""
            what = (status.who, status.message, status.turn)
            if what != last["what"] or time.monotonic() - last["t"] >= GAUGE_EVERY_S:
                last.update(t=time.monotonic(), what=what)
                send(status.to_message(req.show_anger))

        answers = WebAnswers(link, cfg, status, on_tick=tick)
        if answers_ready is not None:
            answers_ready(answers)
        render = tts_renderer(scenario, cfg)
        transcriber.model  # noqa: B018 - loaded before the caller speaks
        tone.warm_up(cfg.tone)
        baseline = resolve_baseline(None, cfg, transcriber)
        if req.calibrate and cfg.tone.calibration_s > 0:
            status.who, status.message = "you", "calibration: read any text aloud in your normal voice"
            send({"type": "calibrate", "seconds": cfg.tone.calibration_s})
            clip = answers.record(cfg.tone.calibration_s)
            words = transcriber.transcribe(clip).words
            baseline = tone.baseline_from_audio(clip, 16000, words, kind="recording", source="calibration",
                                                config=cfg.tone)
            check_baseline(baseline, cfg, "the calibration recording")
            status.message = ""
        folder = SessionFolder(new_session_dir(session_root, scenario.id), scenario, cfg, mode="live",
                               model=transcriber.model_name, seed=seed,
                               settings={"input_device": "browser", "output_device": "browser",
                                         "show_anger": req.show_anger})
        send({"type": "session", "id": folder.dir.name, "title": scenario.title})

        def on_event(name: str, data: dict) -> None:
            if name == "caller_line":
                line = data["line"]
                status.anger = line.anger
                send({"type": "caller", "index": data["index"], "text": line.text,
                      "anger": round(line.anger, 1) if req.show_anger else None})
            elif name == "turn":
                status.anger = data["result"].anger_after
                send(_turn_message(data["result"], req.show_anger))

        result = run_session(scenario, cfg, transcriber, answers, render=render, baseline=baseline, seed=seed,
                             max_turns=req.max_turns, writer=folder, on_event=on_event)
        final = result.turns[-1].reply if result.turns else None
        if final is not None and final.final:
            send({"type": "caller", "index": len(result.turns) + 1, "text": final.text, "final": True,
                  "anger": round(final.anger, 1) if req.show_anger else None})
            latency = answers.play_final(render(final.text, final.anger))
            if latency is not None:
                result.turns[-1].audio.extra["final_reply_latency_s"] = latency
        folder.finish("completed", result)
        state, error = "completed", None
    except ConnectionLost as exc:
        state = exc.status
        error = f"the browser connection closed mid-call ({exc})" if state == "device_lost" else str(exc)
    except HangUp:
        state, error = "interrupted", "ended from the page"
    except UserError as exc:
        state, error = "failed", str(exc)
    except Exception as exc:  # the page and the session say so; finished turns stay
        state, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if answers is not None:
            answers.close()
    if folder is not None and state != "completed":
        with contextlib.suppress(UserError, OSError):  # best effort: the disk may be what failed
            folder.finish(state, error=error)
    with contextlib.suppress(Exception):
        send({"type": "end", "status": state, "error": error, "session": folder.dir.name if folder else None})
    return state, folder.dir if folder else None
