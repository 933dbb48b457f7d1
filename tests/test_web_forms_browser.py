"""The web app's forms in a real browser: ``voice-trainer serve --token`` in a subprocess and headless Chromium
driven over the DevTools protocol, typing and clicking as a person would. Chromium sends a form POST's
``Origin`` according to the page's ``Referrer-Policy`` (``no-referrer`` makes it ``Origin: null``, which the
server refuses), so this checks the pages and the server's origin check agree: the token login and the trainer
notes form both work.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from speech import needs_espeak
from webcall import BROWSER_TEST, Server

pytestmark = [*BROWSER_TEST, needs_espeak]
TOKEN = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from report_session import make_session

    d = tmp_path_factory.mktemp("forms")
    root = d / "sessions"
    root.mkdir()
    shutil.copytree(make_session(d), root / "web-one")
    srv = Server(root, "--token", TOKEN)
    srv.root = root
    yield srv
    log = srv.stop()
    assert "Traceback" not in log, log[-3000:]


def _browser(tmp_path: Path):
    from test_report_browser import Browser

    b = Browser(Path(tempfile.mkdtemp(prefix="vt-chromium-", dir=tmp_path)), 1000, 900)
    b.open_page()
    for domain in ("Page", "Runtime", "Network"):
        b.send(f"{domain}.enable")
    return b


def _navigate(b, url: str) -> None:
    b.events.clear()
    b.send("Page.navigate", {"url": url})
    b.wait_event("Page.loadEventFired", timeout=60)


def _type(b, selector: str, text: str) -> None:
    """Click into the field (focus) and type ``text`` as keyboard input."""
    b.eval(f"document.querySelector({json.dumps(selector)}).focus()")
    b.send("Input.insertText", {"text": text})


def _click_and_load(b, selector: str) -> None:
    """A real mouse click on ``selector``; waits for the page it leads to."""
    x, y = b.eval(f"""(() => {{
        const el = document.querySelector({json.dumps(selector)});
        el.scrollIntoView({{block: 'center'}});
        const r = el.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2];
    }})()""")
    b.events.clear()
    for kind in ("mousePressed", "mouseReleased"):
        b.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
    b.wait_event("Page.loadEventFired", timeout=60)


def _posts(b) -> list[dict]:
    """The form POSTs the page sent (their request headers as Chromium sent them) and the answers' statuses."""
    b.send("Runtime.evaluate", {"expression": "1"})  # drain pending events
    sent = {m["params"]["requestId"]: m["params"]["request"] for m in b.events
            if m.get("method") == "Network.requestWillBeSent" and m["params"]["request"]["method"] == "POST"}
    return list(sent.values())


def test_token_login_and_trainer_note_in_the_browser(server, tmp_path):
    b = _browser(tmp_path)
    try:
        # a person opens the server: the page asks for the token (never in the URL), they type it and press Enter
        _navigate(b, server.url + "/sessions")
        assert b.eval("location.pathname") == "/login"
        _type(b, "input[name=token]", TOKEN)
        _click_and_load(b, "form button[type=submit]")
        posts = _posts(b)
        assert posts and posts[0]["headers"].get("Origin") == server.url, posts
        assert b.eval("location.pathname") == "/", b.eval("document.body.innerText")
        assert "Practise a call" in b.eval("document.body.innerText")
        # logged in: the sessions list and a report open without asking again
        _navigate(b, server.url + "/sessions")
        assert b.eval("location.pathname") == "/sessions" and "web-one" in b.eval("document.body.innerHTML")
        _navigate(b, server.url + "/sessions/web-one/")
        assert b.eval("document.querySelector('form[action=notes]') !== null")

        # the trainer adds a note on turn 2 with the form
        b.eval("document.querySelector('select[name=turn]').value = '2'")
        _type(b, "input[name=author]", "coach")
        _type(b, "textarea[name=text]", "Let her finish before the policy <b>line</b>")
        _click_and_load(b, "section.notes-form button[type=submit]")
        assert b.eval("location.pathname") == "/sessions/web-one/", b.eval("document.body.innerText")
        assert "Let her finish before the policy <b>line</b>" in b.eval("document.body.innerText")
        notes = json.loads((server.root / "web-one" / "notes.json").read_text())["notes"]
        assert [(n["turn"], n["author"], n["text"]) for n in notes] == [
            (2, "coach", "Let her finish before the policy <b>line</b>")]
    finally:
        b.close()
