"""The local web app of ``voice-trainer serve`` (Starlette on uvicorn).

Pages (plain HTML from this module, CSS/JS from ``static/``; nothing from a CDN, no build step):

* ``/``                     choose a scenario and difficulty, calibrate, hard mode;
* ``/practice?scenario=ID`` the call (``&autostart=1`` starts it without a click; ``&turns=N``, ``&seed=N``,
                            ``&calibrate=1``, ``&hard=1``);
* ``/sessions``             the sessions under the session root, with the progress chart;
* ``/sessions/ID/``         a session's report, with a form for trainer notes (``POST notes``);
* ``/ws``                   the call's WebSocket (microphone PCM in, caller PCM and events out).

Safe by default: the server binds to 127.0.0.1; a request must name an allowed host (no DNS rebinding); with a
token every request needs it (the page asks once and keeps it in a cookie); WebSocket and form requests must come
from this server's own origin; text is escaped; sessions are found by folder name inside the session root, never
by a path from the client, and a session whose folder or files link outside the root is neither read nor written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..config import Config
from ..errors import UserError
from ..store import resolve_inside, session_inside

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "vt_token"
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}$")
AUDIO_NAME = re.compile(r"^turn_[0-9]{1,4}\.wav$")
DIGITS = re.compile(r"^[0-9]{1,12}$")
MAX_PAGE_TURNS = 50
"""Most turns a page may ask for (``turns=N``); the server's ``--max-turns`` and ``session.max_turns`` apply too."""
MAX_SEED = 2**31 - 1
"""Largest caller seed a page may ask for (``seed=N``)."""
MAX_PENDING_ERRORS = 32
"""A malformed WebSocket message is answered with an error only while fewer messages than this wait to be sent
(a page that sends garbage and never reads cannot grow the queue)."""
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REFERRER_POLICY = "same-origin"
"""Every page's ``Referrer-Policy``: the browser sends this server its pages' origin (form POSTs carry a real
``Origin``, which the server checks), and other sites nothing."""
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "media-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@dataclass
class ServeOptions:
    """What ``voice-trainer serve`` was started with."""

    session_root: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_turns: int | None = None
    cfg: Config = field(default_factory=Config)


class CallSlot:
    """One call at a time (Whisper and the analysis share the machine's cores)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def take(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()


def _page(title: str, body: str, *, script: str | None = None, css: bool = True) -> HTMLResponse:
    """A page of the app; ``css=False`` for the token page (the stylesheet needs the token too)."""
    js = f'<script src="/static/{script}"></script>' if script else ""
    style = '<link rel="stylesheet" href="/static/style.css">' if css else ""
    html = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)} - voice-trainer</title>{style}'
            '<link rel="icon" href="data:,"></head>'
            '<body><nav><a href="/">Practise</a> <a href="/sessions">Sessions &amp; progress</a></nav>'
            f"<main>{body}</main>{js}</body></html>\n")
    return HTMLResponse(html)


def _error(status: int, text: str) -> HTMLResponse:
    r = _page("error", f'<h1>Sorry</h1><p class="error">{escape(text)}</p><p><a href="/">Back to the start</a></p>')
    r.status_code = status
    return r


async def _form(request: Request, limit: int = 16_384) -> dict[str, str]:
    """A small URL-encoded form (the notes and token forms); longer bodies are cut at ``limit`` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            break
    pairs = parse_qsl(body[:limit].decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def _host_only(netloc: str) -> str:
    """``host`` of ``host:port`` or ``[v6]:port``, lower case."""
    try:
        return (urlsplit("//" + netloc).hostname or "").lower()
    except ValueError:
        return ""


def create_app(opts: ServeOptions, transcriber) -> Starlette:
    """The Starlette application; ``transcriber`` is shared by all calls (one at a time)."""
    from ..call.scenarios import load_library

    root = opts.session_root
    cfg = opts.cfg
    slot = CallSlot()
    calls: set[threading.Thread] = set()  # call threads, joined by ``app.state.finish_calls`` at shutdown
    library = load_library(tuple(cfg.caller.scenario_dirs))
    open_host = opts.host in ("0.0.0.0", "::", "")
    allowed_hosts = {*LOOPBACK, opts.host.lower()}

    def host_ok(headers) -> bool:
        return open_host or _host_only(headers.get("host", "")) in allowed_hosts

    def origin_ok(headers) -> bool:
        """The request comes from a page of this server (same scheme-less host:port as the Host header)."""
        origin = headers.get("origin")
        if not origin:
            return False
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == headers.get("host", "").lower()

    def token_ok(req_cookies: dict) -> bool:
        if not opts.token:
            return True
        got = req_cookies.get(TOKEN_COOKIE, "")
        return hmac.compare_digest(got.encode(), opts.token.encode())

    def session_dir(sid: str) -> Path | None:
        """The session folder named ``sid`` directly inside the root (never a client path), resolved; None when
        there is none.

        Raises
        ------
        UserError
            The folder, or a file in it, is a link leading outside the session root.
        """
        if not SESSION_ID.match(sid):
            return None
        for p in root.iterdir() if root.is_dir() else ():
            if p.name == sid and p.is_dir() and (p / "session.json").is_file():
                return session_inside(p, root)
        return None

    # --- pages -------------------------------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        diff = request.query_params.get("difficulty", "")
        rows = []
        for s in sorted(library.values(), key=lambda s: (s.difficulty, s.id)):
            if diff in ("1", "2", "3") and s.difficulty != int(diff):
                continue
            rows.append(f'<li><label><input type="radio" name="scenario" value="{escape(s.id, quote=True)}"'
                        f'{" checked" if not rows else ""}> <b>{escape(s.title)}</b> '
                        f'<span class="meta">difficulty {s.difficulty}</span></label>'
                        f'<p class="meta">{escape(s.summary)}</p></li>')
        pick = "".join(f'<a href="/?difficulty={d}"{" class=on" if diff == str(d) else ""}>{d}</a> '
                       for d in (1, 2, 3))
        body = (f'<h1>Practise a call</h1><p>Difficulty: {pick}<a href="/">all</a></p>'
                '<form method="get" action="/practice"><ul class="scenarios">' + "".join(rows) + "</ul>"
                '<p><label><input type="checkbox" name="calibrate" value="1"> Calibrate my calm voice first '
                f'({cfg.tone.calibration_s:g} s of reading aloud)</label></p>'
                '<p><label><input type="checkbox" name="hard" value="1"> Hard mode (hide the anger gauge)'
                '</label></p><p><button type="submit">Start</button></p></form>')
        return _page("Practise", body)

    async def practice(request: Request) -> Response:
        q = request.query_params
        sid = q.get("scenario", "")
        if not SCENARIO_ID.match(sid) or sid not in library:
            return _error(404, f"unknown scenario {sid!r}; choose one on the start page")
        sc = library[sid]
        turns = q.get("turns", "")
        seed = q.get("seed", "")
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses
        if turns and not (DIGITS.match(turns) and 1 <= int(turns) <= MAX_PAGE_TURNS):
            return _error(400, f"turns must be a whole number from 1 to {MAX_PAGE_TURNS}, not {turns[:20]!r}")
        if seed and not (DIGITS.match(seed) and int(seed) <= MAX_SEED):
            return _error(400, f"seed must be a whole number from 0 to {MAX_SEED}, not {seed[:20]!r}")
        data = {"scenario": sid, "autostart": q.get("autostart") == "1", "turns": int(turns) if turns else None,
                "seed": int(seed) if seed else None, "calibrate": q.get("calibrate") == "1",
                "hard": q.get("hard") == "1", "fade_s": cfg.practice.fade_out_s}
        body = (f'<h1>{escape(sc.title)}</h1><p class="meta">{escape(sc.summary)}</p>'
                f'<div id="call" data-call="{escape(json.dumps(data), quote=True)}">'
                '<div class="gauge"><div><span class="lbl">Speaking</span> <b id="who">not started</b></div>'
                '<div><span class="lbl">Your microphone</span> <meter id="level" min="-60" max="0" value="-60">'
                '</meter></div>'
                + ("" if data["hard"] else '<div><span class="lbl">Caller anger</span> '
                   '<meter id="anger" min="0" max="100" low="40" high="70" optimum="0" value="0"></meter> '
                   '<span id="anger-n"></span></div>')
                + '<div><span class="lbl">Time</span> <span id="clock">00:00</span> <span class="lbl">turn</span>'
                ' <span id="turn">0</span></div><p id="message" class="message"></p></div>'
                '<p><button id="start" type="button">Start the call</button> '
                '<button id="hangup" type="button" disabled>End call</button></p>'
                '<ol id="log" class="log"></ol><p id="result"></p></div>')
        return _page(sc.title, body, script="practice.js")

    async def sessions(request: Request) -> Response:
        from ..report.progress import progress_html, progress_rows

        try:
            # a session holding a link out of the root is listed as unreadable, not read; so is a damaged one
            rows, skipped = (await asyncio.to_thread(progress_rows, root, lambda d: session_inside(d, root))
                             if root.is_dir() else ([], []))
        except UserError:
            rows, skipped = [], []
        if not rows:
            return _page("Sessions", '<h1>Sessions</h1><p>No sessions yet: <a href="/">practise a call</a>.</p>'
                         + "".join(f'<p class="error">Unreadable: {escape(s)}</p>' for s in skipped))
        here = {str(p) for p in root.iterdir()}  # only sessions directly in the root get a report link
        links = [f"/sessions/{quote(Path(r['path']).name)}/" if r["path"] in here else None for r in rows]
        page = progress_html(rows, "Sessions and progress", links)
        # the progress page is a whole document with its own strict CSP; add our navigation at the top
        page = page.replace("<body>", '<body><nav><a href="/">Practise</a> <a href="/sessions">Sessions</a></nav>', 1)
        if skipped:
            page = page.replace("</body>", "".join(f"<p>Unreadable: {escape(s)}</p>" for s in skipped) + "</body>", 1)
        return HTMLResponse(page)

    async def report(request: Request) -> Response:
        from ..report.html import render_html
        from ..report.record import load_record

        try:
            d = session_dir(request.path_params["sid"])
        except UserError as exc:
            return _error(403, str(exc))
        if d is None:
            return _error(404, "no such session")
        try:
            rec = load_record(d)
            page = await asyncio.to_thread(render_html, rec, d / "report.html", cfg)
        except UserError as exc:
            return _error(500, str(exc))
        turns = "".join(f'<option value="{t.index}">turn {t.index}</option>' for t in rec.turns)
        form = ('<section class="notes-form"><h2>Trainer notes</h2><form method="post" action="notes">'
                f'<p><label>On <select name="turn"><option value="-">the whole call</option>{turns}</select>'
                '</label> <label>by <input name="author" maxlength="60"></label></p>'
                '<p><textarea name="text" rows="3" cols="60" maxlength="2000" required></textarea></p>'
                '<p><button type="submit">Add note</button> <a href="/sessions">all sessions</a></p>'
                "</form></section>")
        page = page.replace("<h2>Techniques</h2>", form + "<h2>Techniques</h2>", 1)
        return HTMLResponse(page)

    async def audio(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            d = session_dir(request.path_params["sid"])
            f = None if d is None or not AUDIO_NAME.match(name) else resolve_inside(d / name, root)
        except UserError:
            return PlainTextResponse("not found", 404)
        if f is None or not f.is_file():
            return PlainTextResponse("not found", 404)
        return FileResponse(f, media_type="audio/wav")

    async def add_note_view(request: Request) -> Response:
        from ..report.notes import notes_path, parse_turn
        from ..report.record import add_note

        if not origin_ok(request.headers):
            return _error(403, "this form must be sent from the voice-trainer page itself")
        try:
            d = session_dir(request.path_params["sid"])
            if d is not None:
                resolve_inside(notes_path(d), root)  # the notes file itself may not link out either
        except UserError as exc:
            return _error(403, str(exc))
        if d is None:
            return _error(404, "no such session")
        form = await _form(request)
        try:
            turn = parse_turn(str(form.get("turn", "-")))
            add_note(d, turn, str(form.get("text", "")), str(form.get("author", ""))[:60])
        except UserError as exc:
            return _error(400, str(exc))
        return RedirectResponse(f"/sessions/{quote(d.name)}/", status_code=303)

    async def login(request: Request) -> Response:
        if request.method == "POST":
            if not origin_ok(request.headers):
                return _error(403, "this form must be sent from the voice-trainer page itself")
            form = await _form(request)
            given = str(form.get("token", ""))
            if opts.token and hmac.compare_digest(given.encode(), opts.token.encode()):
                r = RedirectResponse("/", status_code=303)
                r.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
                return r
            return _error(403, "wrong token; ask whoever started the server for it")
        return _page("Token", '<h1>This server needs a token</h1><form method="post" action="/login">'
                     '<p><label>Token <input name="token" type="password" autofocus></label> '
                     '<button type="submit">Enter</button></p></form>', css=False)

    # --- the call's WebSocket ------------------------------------------------------------------------------------

    async def ws_call(ws: WebSocket) -> None:
        from .call import CallRequest, run_page_call
        from .link import PAGE_EVENTS, BrowserLink, PageMessageError, parse_page_message

        if not host_ok(ws.headers) or not origin_ok(ws.headers) or not token_ok(ws.cookies):
            await ws.close(code=1008)
            return
        await ws.accept()
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()

        def send(msg: dict | bytes) -> None:
            loop.call_soon_threadsafe(out.put_nowait, msg)

        async def sender() -> None:
            while True:
                msg = await out.get()
                if msg is None:
                    return
                if isinstance(msg, bytes):
                    await ws.send_bytes(msg)
                else:
                    await ws.send_text(json.dumps(msg, allow_nan=False))

        link = BrowserLink(send, cfg.practice, cfg.web)
        send_task = asyncio.create_task(sender())
        call_thread: threading.Thread | None = None
        holder: dict = {}
        have_slot = False
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    if msg.get("code") == 1012:  # uvicorn closes every WebSocket with 1012 when it stops
                        link.close("the server was stopped", status="interrupted")
                    break
                if msg.get("bytes") is not None:
                    data = msg["bytes"]
                    if len(data) > cfg.web.max_frame_bytes:
                        link.close(f"the page sent a {len(data)}-byte audio frame (at most {cfg.web.max_frame_bytes}"
                                   ", web.max_frame_bytes)")
                        with contextlib.suppress(Exception):
                            await ws.close(code=1009)
                        break
                    # outside a call nothing is kept; in one, a page sending faster than real time is cut off
                    if not link.add_mic(data) and link.began is not None:
                        link.close("the page sent microphone audio faster than real time (web.max_audio_lead_s)")
                        with contextlib.suppress(Exception):
                            await ws.close(code=1008)
                        break
                    continue
                try:
                    ev = parse_page_message(msg.get("text") or "", cfg.web)
                except PageMessageError as exc:
                    if not send_task.done() and out.qsize() < MAX_PENDING_ERRORS:  # a page that never reads
                        send({"type": "error", "error": str(exc)})  # ignored: the call (if any) goes on
                    continue
                kind = ev["type"]
                if kind in PAGE_EVENTS:
                    link.on_page_event(kind, ev["id"], ev["at"])
                elif kind == "hangup" and "answers" in holder:
                    holder["answers"].hangup.set()
                elif kind == "start" and call_thread is None:
                    sid = ev["scenario"]
                    turns = ev.get("turns")
                    seed = ev.get("seed")
                    if (not SCENARIO_ID.match(sid) or sid not in library
                            or not (turns is None or (isinstance(turns, int) and 1 <= turns <= MAX_PAGE_TURNS))
                            or not (seed is None or (isinstance(seed, int) and 0 <= seed <= MAX_SEED))):
                        send({"type": "end", "status": "failed", "error": "bad call request", "session": None})
                        continue
                    if not slot.take():
                        send({"type": "end", "status": "failed", "session": None,
                              "error": "another call is running on this server; try again when it ends"})
                        continue
                    have_slot = True
                    limit = min(x for x in (turns, opts.max_turns, cfg.session.max_turns) if x is not None)
                    req = CallRequest(sid, max_turns=limit, seed=seed, calibrate=bool(ev.get("calibrate")),
                                      show_anger=not ev.get("hard"))

                    def run(req=req) -> None:
                        try:
                            run_page_call(req, link, cfg, transcriber, root,
                                          answers_ready=lambda a: holder.__setitem__("answers", a))
                        finally:
                            link.end()  # no audio is kept after the call
                            slot.release()
                            send(None)

                    call_thread = threading.Thread(target=run, name="web-call", daemon=True)
                    calls.add(call_thread)
                    link.begin()
                    call_thread.start()
        except WebSocketDisconnect:
            pass
        finally:
            link.close("the page closed the connection")
            if call_thread is None:
                if have_slot:
                    slot.release()
                send(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send_task, timeout=1.0)
            send_task.cancel()

    # --- security middleware -----------------------------------------------------------------------------------

    async def guard(request: Request, call_next):
        if not host_ok(request.headers):
            return PlainTextResponse("unknown host", 421)
        if opts.token and request.url.path != "/login":  # static files too: nothing is served without the token
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given.encode(), opts.token.encode()):
                r = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
                r.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
                return r
            if not token_ok(request.cookies):
                return RedirectResponse("/login", status_code=303)
        response = await call_next(request)
        if request.url.path.startswith("/sessions/") and request.url.path.endswith("/"):
            pass  # the report page carries its own strict CSP (inline script by hash)
        elif request.url.path == "/sessions":
            pass  # so does the progress page
        else:
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: under no-referrer Chromium sends ``Origin: null`` with a form's POST,
        # which ``origin_ok`` refuses; same-origin still sends nothing to other sites
        response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def finish_calls(timeout_s: float = 60.0) -> None:
        """After the server stopped: let running calls write their last turn and close their sessions."""
        for t in list(calls):
            t.join(timeout_s)

    app = Starlette(middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)], routes=[
        Route("/", index),
        Route("/practice", practice),
        Route("/sessions", sessions),
        Route("/sessions/{sid}", lambda r: RedirectResponse(f"/sessions/{quote(r.path_params['sid'])}/", 308)),
        Route("/sessions/{sid}/", report),
        Route("/sessions/{sid}/notes", add_note_view, methods=["POST"]),
        Route("/sessions/{sid}/{name}", audio),
        Route("/login", login, methods=["GET", "POST"]),
        WebSocketRoute("/ws", ws_call),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.state.finish_calls = finish_calls
    return app
