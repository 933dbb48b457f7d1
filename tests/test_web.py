"""``voice-trainer serve`` without a browser: the audio link's clock (synthetic signals with known answers), the
command's one-line errors, and the safety rules of the web app (host, origin, token, escaping, no client paths),
checked against a real uvicorn server in a thread."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from speech import needs_espeak as needs_espeak_mark
from webcall import free_port

from voice_trainer.config import Config
from voice_trainer.web.link import SR, BrowserLink, ConnectionLost

ROOT = Path(__file__).resolve().parent.parent


def _pcm(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def test_link_places_the_played_line_on_the_microphone_clock():
    sent: list = []
    link = BrowserLink(sent.append)
    link.add_mic(_pcm(np.ones(320, np.float32)))
    assert link.now_s == 0.0  # no call yet: nothing is kept
    link.begin()
    mic = (0.1 * np.sin(2 * np.pi * 300 * np.arange(SR) / SR)).astype(np.float32)
    for k in range(0, SR, 320):  # 1 s of microphone in 20 ms frames
        link.add_mic(_pcm(mic[k: k + 320]))
    assert link.now_s == pytest.approx(1.0)
    line = np.full(SR // 2, 0.25, np.float32)
    pb = link.play(line)
    assert sent[0] == {"type": "play", "id": pb.id, "samples": SR // 2} and isinstance(sent[1], bytes)
    assert len(sent[1]) == 2 * len(line)
    link.on_page_event("started", pb.id, 4000)  # the page started it at mic sample 4000
    ref, m = link.tracks(0.0)
    assert len(ref) == len(m) == SR
    assert np.all(ref[:4000] == 0) and np.allclose(ref[4000:12000], 0.25)
    assert np.allclose(m, mic, atol=2 / 32767)  # 16-bit PCM both ways
    # stopped (faded over fade_out_s) at sample 6000: the reference ends there, fading in the last 50 ms
    link.on_page_event("stopped", pb.id, 6000)
    ref, _ = link.tracks(0.0)
    fade = int(link.cfg.fade_out_s * SR)
    assert np.allclose(ref[4000:6000 - fade], 0.25)
    assert ref[6000 - fade] == pytest.approx(0.25) and ref[5999] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(ref[6000 - fade:6000]) <= 0) and np.all(ref[6000:] == 0)
    assert pb.start_s == pytest.approx(0.25) and pb.end_s == pytest.approx(0.375)
    # forgetting the start keeps absolute times
    link.discard_before(0.5)
    ref2, m2 = link.tracks(0.5)
    assert len(m2) == SR // 2 and np.allclose(m2, mic[SR // 2:], atol=1e-4)
    link.close("tab closed")
    with pytest.raises(ConnectionLost, match="tab closed"):
        link.check()


@pytest.mark.parametrize("args, needle", [
    (["--host", "0.0.0.0"], "--token"),
    (["--port", "70000"], "--port"),
    (["--host", "0.0.0.0", "--token", "short"], "8 characters"),
    (["--max-turns", "0"], "--max-turns"),
])
def test_serve_bad_input_is_one_line(tmp_path, args, needle):
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "serve", "--session-dir", str(tmp_path / "s"),
                           *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr


def test_serve_session_dir_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "serve", "--session-dir", str(f)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "is a file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_serve_port_in_use(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "voice_trainer", "serve", "--port", str(port),
                               "--session-dir", str(tmp_path / "s")], capture_output=True, text=True, timeout=60,
                              cwd=ROOT)
    assert proc.returncode == 2 and "--port" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


class _Served:
    """The web app on a real uvicorn server in a thread (the transcriber is never loaded by these requests)."""

    def __init__(self, root: Path, token: str | None = None, cfg: Config | None = None) -> None:
        import uvicorn

        from voice_trainer.speech.transcribe import Transcriber
        from voice_trainer.web.app import ServeOptions, create_app

        cfg = cfg or Config()
        self.port = free_port()
        app = create_app(ServeOptions(session_root=root, port=self.port, token=token, cfg=cfg),
                         Transcriber(cfg.transcribe))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    ws="websockets-sansio", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: dict | None = None, data: bytes | None = None):
        req = urllib.request.Request(self.url + path, headers=headers or {}, data=data)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def ws(self, origin: str | None, cookie: str | None = None):
        from websockets.sync.client import connect

        headers = {"Cookie": cookie} if cookie else None
        return connect(f"ws://127.0.0.1:{self.port}/ws", origin=origin, additional_headers=headers, open_timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def made_session(tmp_path_factory):
    from report_session import make_session

    d = tmp_path_factory.mktemp("made")
    return make_session(d)


@pytest.fixture
def sessions_root(tmp_path, made_session):
    import shutil

    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(made_session, root / "web-one")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "session.json").write_text("{}")
    return root


@pytest.mark.whisper
def test_pages_are_escaped_and_sessions_never_come_from_a_path(sessions_root):
    s = _Served(sessions_root)
    try:
        st, h, body = s.get("/")
        assert st == 200 and "late-package" in body and "default-src 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        st, _, body = s.get("/practice?scenario=late-package&autostart=1")
        assert st == 200 and 'id="call"' in body and "/static/practice.js" in body
        data = json.loads(__import__("html").unescape(body.split('data-call="')[1].split('"')[0]))
        assert data == {"scenario": "late-package", "autostart": True, "turns": None, "seed": None,
                        "calibrate": False, "hard": False, "fade_s": Config().practice.fade_out_s}
        st, _, body = s.get("/practice?scenario=%3Cscript%3Ealert(1)%3C/script%3E")
        assert st == 404 and "<script>alert" not in body and "&lt;script&gt;" in body
        assert s.get("/practice?scenario=late-package&turns=x")[0] == 400
        st, _, body = s.get("/sessions")
        assert st == 200 and 'href="/sessions/web-one/"' in body
        st, _, body = s.get("/sessions/web-one/")
        assert st == 200 and "<audio" in body and 'action="notes"' in body
        for bad in ("/sessions/..%2Fsecret/", "/sessions/%2E%2E/", "/sessions/secret/",
                    "/sessions/web-one/session.json", "/sessions/web-one/..%2F..%2Fsecret%2Fsession.json",
                    "/static/..%2Fapp.py"):
            st, h, _ = s.get(bad)
            if st in (307, 308):  # Starlette's slash redirect; where it leads is refused too
                st = s.get(urllib.parse.urlsplit(h["location"]).path)[0]
            assert st == 404, bad
        # static files are served from the package only
        st, h, js = s.get("/static/pcm-worklet.js")
        assert st == 200 and "registerProcessor" in js
        # a note: only from our own origin; its markup is shown as text
        form = b"turn=1&author=coach&text=%3Cb%3Ecalmer%3C%2Fb%3E+at+the+start"
        st, _, _ = s.get("/sessions/web-one/notes", {"Origin": "http://evil.example"}, form)
        assert st == 403
        assert s.get("/sessions/web-one/notes", {"Origin": "null"}, form)[0] == 403  # an opaque origin too
        assert s.get("/sessions/web-one/notes", {}, form)[0] == 403
        st, h, _ = s.get("/sessions/web-one/notes", {"Origin": s.url}, form)
        assert st == 303 and h["location"] == "/sessions/web-one/"
        st, _, body = s.get("/sessions/web-one/")
        assert "&lt;b&gt;calmer&lt;/b&gt; at the start" in body and "<b>calmer</b>" not in body
        notes = json.loads((sessions_root / "web-one" / "notes.json").read_text())
        assert notes["notes"][-1] | {"created_at": None} == {"turn": 1, "text": "<b>calmer</b> at the start",
                                                           "author": "coach", "created_at": None}
    finally:
        s.stop()


@pytest.mark.whisper
def test_host_and_origin_checks(sessions_root):
    from websockets.exceptions import InvalidStatus

    s = _Served(sessions_root)
    try:
        # DNS rebinding: a page on another name that resolves here is refused
        assert s.get("/", {"Host": f"evil.example:{s.port}"})[0] == 421
        with pytest.raises(InvalidStatus), s.ws(origin="http://evil.example"):
            pass
        with pytest.raises(InvalidStatus), s.ws(origin=None):
            pass
        with s.ws(origin=s.url) as ws:  # our own page may connect; a bad request is answered, not crashed on
            ws.send(json.dumps({"type": "start", "scenario": "../../etc/passwd"}))
            msg = json.loads(ws.recv(timeout=10))
            assert msg["type"] == "end" and msg["status"] == "failed" and msg["session"] is None
        assert not [p for p in sessions_root.iterdir() if p.name != "web-one"]  # nothing was created
    finally:
        s.stop()


@pytest.mark.whisper
def test_token_is_required_when_set(sessions_root):
    from websockets.exceptions import InvalidStatus

    token = "correct-horse-battery"
    s = _Served(sessions_root, token=token)
    try:
        st, h, _ = s.get("/sessions")
        assert st == 303 and h["location"] == "/login"
        assert s.get("/login")[0] == 200
        assert s.get("/sessions", {"Cookie": "vt_token=wrong"})[0] == 303
        st, h, _ = s.get("/login", {"Origin": s.url}, b"token=wrong")
        assert st == 403
        st, h, _ = s.get("/login", {"Origin": s.url}, f"token={token}".encode())
        assert st == 303 and f"vt_token={token}" in h["set-cookie"] and "HttpOnly" in h["set-cookie"]
        assert s.get("/sessions", {"Cookie": f"vt_token={token}"})[0] == 200
        st, h, _ = s.get(f"/sessions?token={token}")
        assert st == 303 and "token" not in h["location"] and f"vt_token={token}" in h["set-cookie"]
        with pytest.raises(InvalidStatus), s.ws(origin=s.url):
            pass
        # static files need the token too (with --host 0.0.0.0 anyone on the network could fetch them)
        for path in ("/static/practice.js", "/static/style.css", "/static/pcm-worklet.js"):
            st, h, _ = s.get(path)
            assert st == 303 and h["location"] == "/login", path
            assert s.get(path, {"Cookie": f"vt_token={token}"})[0] == 200, path
        assert "/static/" not in s.get("/login")[2]  # the token page does not ask for what it cannot load
        with s.ws(origin=s.url, cookie=f"vt_token={token}") as ws:
            ws.send(json.dumps({"type": "start", "scenario": "no-such-scenario"}))
            assert json.loads(ws.recv(timeout=10))["status"] == "failed"
    finally:
        with contextlib.suppress(Exception):
            s.stop()


@pytest.fixture
def linked_root(sessions_root, tmp_path):
    """``web-one`` holds ``turn_08.wav -> a secret file``; ``linked`` is a session folder linked from outside the
    root; ``web-two``'s ``notes.json`` links out; ``web-three`` links to ``web-one`` within the root."""
    import shutil

    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET\n")
    outside = tmp_path / "outside"
    shutil.copytree(sessions_root / "web-one", outside)
    (sessions_root / "linked").symlink_to(outside, target_is_directory=True)
    shutil.copytree(sessions_root / "web-one", sessions_root / "web-two")
    (sessions_root / "web-two" / "notes.json").symlink_to(tmp_path / "outside-notes.json")
    (sessions_root / "web-one" / "turn_08.wav").symlink_to(secret)
    (sessions_root / "web-three").symlink_to(sessions_root / "web-one" / ".." / "web-one")
    return sessions_root


@pytest.mark.whisper
def test_links_leading_out_of_the_session_root_are_not_read(linked_root, tmp_path):
    """``ln -s /etc/passwd S/web-one/turn_08.wav`` is not served, nor is a session linked from outside."""
    s = _Served(linked_root)
    try:
        st, _, body = s.get("/sessions/web-one/turn_08.wav")
        assert st == 404 and "SECRET" not in body
        assert s.get("/sessions/web-one/turn_01.wav")[0] == 404  # its session holds a link leading out
        st, _, body = s.get("/sessions/web-one/")
        assert st == 403 and "turn_08.wav" in body and "outside" in body
        assert s.get("/sessions/linked/")[0] == 403
        assert s.get("/sessions/linked/turn_01.wav")[0] == 404
        # a link within the root is followed
        (linked_root / "web-one" / "turn_08.wav").unlink()
        st, h, _ = s.get("/sessions/web-three/turn_01.wav")
        assert st == 200 and h["content-type"] == "audio/wav"
        assert s.get("/sessions/web-three/")[0] == 200
    finally:
        s.stop()


@pytest.mark.whisper
def test_links_leading_out_of_the_session_root_are_not_written(linked_root, tmp_path):
    """A note is never written through a linked session folder or a linked notes file."""
    form = b"turn=-&author=coach&text=written+through+a+link"
    s = _Served(linked_root)
    try:
        assert s.get("/sessions/linked/notes", {"Origin": s.url}, form)[0] == 403
        assert not (tmp_path / "outside" / "notes.json").exists()
        assert s.get("/sessions/web-two/notes", {"Origin": s.url}, form)[0] == 403
        assert not (tmp_path / "outside-notes.json").exists()
        (linked_root / "web-one" / "turn_08.wav").unlink()
        assert s.get("/sessions/web-three/notes", {"Origin": s.url}, form)[0] == 303  # within the root
        assert json.loads((linked_root / "web-one" / "notes.json").read_text())["notes"][0]["author"] == "coach"
    finally:
        s.stop()


@pytest.mark.whisper
@pytest.mark.parametrize("query, needle", [
    ("turns=%C2%B2", "turns"), ("seed=%C2%B2", "seed"), ("turns=%D9%A3", "turns"), ("seed=" + "9" * 5000, "seed"),
    ("turns=0", "turns"), ("seed=-1", "seed"),
])
def test_bad_practice_numbers_are_a_400_with_one_line(sessions_root, query, needle):
    """``turns=²``: str.isdigit() takes it, int() does not (it was a 500)."""
    s = _Served(sessions_root)
    try:
        st, _, body = s.get(f"/practice?scenario=late-package&{query}")
        assert st == 400, body
        msg = body.split('<p class="error">')[1].split("</p>")[0]
        assert needle in msg and "whole number" in msg and "\n" not in msg and len(msg) < 120, msg
    finally:
        s.stop()


@pytest.mark.whisper
@pytest.mark.parametrize("field, value", [("status", 5), ("session_id", ["x"]), ("started_at", 1.5),
                                          ("scores", {"overall": "high"}), ("outcome", {"a": 1})])
def test_one_damaged_session_does_not_break_the_list(sessions_root, field, value):
    """A session.json with a number where text belongs, or text where a score belongs, never breaks the list: the
    other sessions still show. A field of the wrong type is ignored when the session is read (``store``: its
    default, with a note), so that session is listed; a score that is no number makes it unreadable."""
    import shutil

    shutil.copytree(sessions_root / "web-one", sessions_root / "web-bad")
    data = json.loads((sessions_root / "web-bad" / "session.json").read_text())
    data[field] = value
    (sessions_root / "web-bad" / "session.json").write_text(json.dumps(data))
    s = _Served(sessions_root)
    try:
        st, _, body = s.get("/sessions")
        assert st == 200 and 'href="/sessions/web-one/"' in body, body[-2000:]
        text = __import__("html").unescape(body)
        if field != "scores":  # repaired on reading: listed, the bad value nowhere on the page
            assert 'href="/sessions/web-bad/"' in body and "Unreadable:" not in text
            if isinstance(value, list | dict):  # (a bare 5 or 1.5 is all over any page)
                assert json.dumps(value) not in text and repr(value) not in text
            return
        unreadable = text.split("Unreadable:")[1]
        assert "web-bad" in unreadable and f"({field}" in unreadable and "\n" not in unreadable.split("</p>")[0]
        assert 'href="/sessions/web-bad/"' not in body
    finally:
        s.stop()


def _rss_mb() -> float:
    """This process's resident memory (MB; the test servers run in a thread of it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.parametrize("text, needle", [
    ('{"type":"started","id":Infinity,"at":0}', "Infinity"),
    ('{"type":"ended","id":1,"at":1e400}', "finite"),
    ('{"type":"stopped","id":NaN,"at":0}', "NaN"),
    ('{"type":"started","id":1.5,"at":0}', "whole number"),
    ('{"type":"started","id":1,"at":' + "9" * 400 + "}", "whole number"),
    ("[" * 100_000 + "]" * 100_000, "long"),
    ("[" * 2000 + "]" * 2000, "nested"),
    ('{"type":"start","scenario":{"a":{"b":{"c":{"d":1}}}}}', "nested"),
    ('{"type":"start","scenario":"late-package","turns":1e400}', "finite"),
    ('{"type":"start","scenario":"late-package","seed":-1}', "whole number"),
    ('{"type":"start","scenario":["late-package"]}', "scenario"),
    ('"start"', "type"), ("{not json", "JSON"), ('{"type":"nope"}', "type"),
])
@pytest.mark.whisper
def test_malformed_messages_are_answered_not_crashed_on(sessions_root, text, needle):
    s = _Served(sessions_root)
    try:
        with s.ws(origin=s.url) as ws:
            ws.send(text)
            msg = json.loads(ws.recv(timeout=10))
            assert msg["type"] == "error" and needle in msg["error"] and "\n" not in msg["error"], msg
            # the connection still works
            ws.send(json.dumps({"type": "start", "scenario": "no-such-scenario"}))
            assert json.loads(ws.recv(timeout=10))["status"] == "failed"
    finally:
        s.stop()


@pytest.mark.whisper
def test_audio_outside_a_call_is_not_kept(sessions_root):
    """A page that streams audio without a call (here: 96 MB in 64 kB frames) does not grow the server's memory;
    a frame over ``web.max_frame_bytes`` closes the connection."""
    from websockets.exceptions import ConnectionClosed

    s = _Served(sessions_root)
    try:
        frame = bytes(Config().web.max_frame_bytes)
        with s.ws(origin=s.url) as ws:
            ws.send(json.dumps({"type": "start", "scenario": "no-such-scenario"}))  # refused: no call
            assert json.loads(ws.recv(timeout=10))["status"] == "failed"
            before = _rss_mb()
            for _ in range(96 * 2**20 // len(frame)):
                ws.send(frame)
            ws.send(json.dumps({"type": "nope"}))  # answered after every frame before it was handled
            assert json.loads(ws.recv(timeout=60))["type"] == "error"
            grew = _rss_mb() - before
            assert grew < 40, f"the server kept the audio: +{grew:.0f} MB"
        with s.ws(origin=s.url) as ws:
            ws.send(frame + b"xx")
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    finally:
        s.stop()


@pytest.mark.whisper
@needs_espeak_mark
def test_a_stalled_call_ends_and_frees_the_slot(sessions_root):
    """A page that starts a call and never sends audio: after ``web.idle_timeout_s`` the call ends (session
    marked ``device_lost``, saying why) and another page can call; a page sending garbage meanwhile changes
    nothing for either."""
    cfg = Config()
    cfg.web.idle_timeout_s = 3.0
    s = _Served(sessions_root, cfg=cfg)
    try:
        with s.ws(origin=s.url) as a, s.ws(origin=s.url) as c:
            a.send(json.dumps({"type": "start", "scenario": "late-package", "turns": 1}))
            first = None
            while first is None or first.get("type") not in ("session", "end"):
                m = a.recv(timeout=120)
                first = json.loads(m) if isinstance(m, str) else first
            assert first["type"] == "session", first  # a's call runs
            c.send(json.dumps({"type": "start", "scenario": "late-package", "turns": 1}))
            assert "another call" in json.loads(c.recv(timeout=10))["error"]
            for bad in ('{"type":"started","id":Infinity,"at":0}', "[" * 5000, '{"type":"hangup"}'):
                c.send(bad)  # another page's garbage (and hang-up) must not end a's call
            c.send(bytes(640) * 10)
            t0 = time.monotonic()
            end = None
            while end is None and time.monotonic() - t0 < 120:
                m = a.recv(timeout=120)
                if isinstance(m, str) and json.loads(m)["type"] == "end":
                    end = json.loads(m)
            assert end is not None and end["status"] == "device_lost", end
            assert "web.idle_timeout_s" in end["error"], end
            assert end["session"] == first["id"]
            folder = sessions_root / end["session"]
            rec = json.loads((folder / "session.json").read_text())
            assert rec["status"] == "device_lost" and "no microphone audio" in rec["error"]
        with s.ws(origin=s.url) as b:  # the slot is free again
            b.send(json.dumps({"type": "start", "scenario": "late-package", "turns": 1}))
            msgs = []
            while not any(m.get("type") in ("session", "end") for m in msgs):
                m = b.recv(timeout=120)
                if isinstance(m, str):
                    msgs.append(json.loads(m))
            assert msgs[-1]["type"] == "session", msgs[-1]
    finally:
        s.stop()
