"""The HTML report in a real browser: headless Chromium opens the file from disk with networking off, and we drive
it over the Chrome DevTools Protocol (``--remote-debugging-pipe``: JSON messages on file descriptors 3 and 4, no
extra Python package). Checks: audio players and plots are there, clicking a word seeks its audio, no console
errors, no network requests, no script from the transcript runs; a screenshot is written to the test's tmp dir.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from report_session import make_session
from speech import needs_espeak
from webcall import BROWSER_TEST, CHROMIUM

pytestmark = [*BROWSER_TEST, needs_espeak]


class Browser:
    """Headless Chromium driven over CDP through a pipe pair."""

    def __init__(self, profile: Path, width: int = 1100, height: int = 2600, extra_args: tuple[str, ...] = ()) -> None:
        """``extra_args``: more Chromium switches (e.g. a fake microphone)."""
        self._to_r, self._to_w = os.pipe()  # we write commands; Chromium reads fd 3
        self._from_r, self._from_w = os.pipe()  # Chromium writes fd 4; we read
        to_r, from_w = self._to_r, self._from_w

        def child_fds() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        args = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
            *extra_args, "--remote-debugging-pipe", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(self._to_r)
        os.close(self._from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from Chromium")
            ready, _, _ = select.select([self._from_r], [], [], left)
            if ready:
                chunk = os.read(self._from_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, *, browser: bool = False, timeout: float = 30) -> dict:
        self._id += 1
        msg: dict = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def eval(self, expr: str):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def open_page(self) -> None:
        targets = self.send("Target.getTargets", browser=True)["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        tid = page["targetId"] if page else self.send("Target.createTarget", {"url": "about:blank"},
                                                      browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": tid, "flatten": True},
                                 browser=True)["sessionId"]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing is best effort; the process is killed below
            self.send("Browser.close", browser=True, timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    from voice_trainer.report import add_note, write_html

    d = tmp_path_factory.mktemp("browser")
    session = make_session(d)
    add_note(session, 2, "Listen again from 1.5 s <script>alert(1)</script>", "coach")
    return write_html(session, d / "report.html")


def test_report_in_headless_chromium(report_file, tmp_path):
    profile = Path(tempfile.mkdtemp(prefix="vt-chromium-", dir=tmp_path))
    b = Browser(profile)
    try:
        b.open_page()
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable")
        b.send("Network.emulateNetworkConditions",
               {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        b.send("Page.navigate", {"url": report_file.resolve().as_uri()})
        b.wait_event("Page.loadEventFired", timeout=60)

        n_audio = b.eval("document.querySelectorAll('audio').length")
        assert n_audio == 3  # one player per turn
        assert b.eval("document.querySelectorAll('audio[src^=\"data:audio/ogg;base64,\"]').length") == 3
        assert b.eval("document.querySelectorAll('svg.turnplot').length") == 3
        assert b.eval("document.querySelectorAll('svg.turnplot path.pitch').length") == 3
        assert b.eval("document.querySelectorAll('svg.anger circle').length") == 4  # start + 3 turns
        # the note's markup is shown as text, and no script of ours other than the report's ran
        assert "<script>alert(1)</script>" in b.eval("document.querySelector('#turn-2 .note').textContent")
        assert b.eval("document.scripts.length") == 1

        # wait until the players know their duration (Chromium decodes the Ogg Opus), then click a word
        b.eval("Promise.all([...document.querySelectorAll('audio')].map(a => a.readyState >= 1 ? 1 : "
               "new Promise(r => { a.addEventListener('loadedmetadata', r); setTimeout(r, 10000); })))")
        durations = b.eval("[...document.querySelectorAll('audio')].map(a => a.duration)")
        assert all(d > 1 for d in durations), durations
        assert b.eval("document.querySelectorAll('audio').length") == \
            b.eval("[...document.querySelectorAll('audio')].filter(a => !a.error).length")
        word = b.eval("""(() => {
            const w = [...document.querySelectorAll('#turn-2 .w')].find(w => +w.dataset.t > 0.5);
            w.scrollIntoView({block: 'center'});
            const r = w.getBoundingClientRect();
            return {t: +w.dataset.t, audio: w.dataset.audio, x: r.left + r.width / 2, y: r.top + r.height / 2,
                    text: w.textContent};
        })()""")
        assert word["audio"] == "audio-2"
        before = b.eval("document.getElementById('audio-2').currentTime")
        assert before == 0
        for kind in ("mousePressed", "mouseReleased"):
            b.send("Input.dispatchMouseEvent",
                   {"type": kind, "x": word["x"], "y": word["y"], "button": "left", "clickCount": 1})
        deadline = time.monotonic() + 5
        now = before
        while time.monotonic() < deadline:
            now = b.eval("document.getElementById('audio-2').currentTime")
            if now:
                break
            time.sleep(0.05)
        assert now == pytest.approx(word["t"], abs=0.02), word
        assert b.eval("document.querySelector('#turn-2 .w.now') !== null")  # the clicked word is marked

        # a time button in the feedback seeks too
        t_btn = b.eval("(() => { const x = document.querySelector('#turn-2 button.ts'); x.click(); "
                       "return +x.dataset.t; })()")
        assert b.eval("document.getElementById('audio-2').currentTime") == pytest.approx(t_btn, abs=0.02)

        b.eval("window.scrollTo(0, 0)")
        shot = b.send("Page.captureScreenshot", {"format": "png"})
        png = tmp_path / "report_screenshot.png"
        png.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {png}")
        assert png.stat().st_size > 10_000

        time.sleep(0.2)
        b.send("Runtime.evaluate", {"expression": "1"})  # drain pending events
        errors = [m for m in b.events if
                  (m.get("method") == "Runtime.consoleAPICalled" and m["params"]["type"] in ("error", "assert"))
                  or m.get("method") == "Runtime.exceptionThrown"
                  or (m.get("method") == "Log.entryAdded" and m["params"]["entry"]["level"] == "error")]
        assert not errors, errors
        assert not [m for m in b.events if m.get("method") == "Page.javascriptDialogOpening"]
        urls = [m["params"]["request"]["url"] for m in b.events if m.get("method") == "Network.requestWillBeSent"]
        assert all(u.startswith(("file:", "data:")) for u in urls), urls
    finally:
        b.close()


def _layout(b: Browser, width: int) -> dict:
    b.send("Emulation.setDeviceMetricsOverride",
           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    b.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return b.eval("""(() => {
        const de = document.documentElement;
        // the smallest text drawn in any plot, in CSS pixels as shown
        let minPx = 1e9, n = 0;
        document.querySelectorAll('svg').forEach(svg => {
            const vb = svg.viewBox.baseVal, w = svg.getBoundingClientRect().width;
            if (!vb || !vb.width || !w) return;
            svg.querySelectorAll('text').forEach(t => {
                const fs = parseFloat(getComputedStyle(t).fontSize);
                minPx = Math.min(minPx, fs * w / vb.width); n++;
            });
        });
        // items of a legend that wrap inside themselves
        const wrapped = [...document.querySelectorAll('.legendbox span')].filter(
            s => s.getClientRects().length > 1).length;
        const wide = [...document.querySelectorAll('body *')].filter(el => {
            const r = el.getBoundingClientRect();
            return r.right > de.clientWidth + 1 && !el.closest('.plot, .tablewrap');
        }).map(el => el.tagName + '.' + el.className).slice(0, 5);
        return {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth, minPx, n, wrapped, wide};
    })()""")


@pytest.mark.parametrize("width", [390, 1280])
def test_report_fits_the_screen(report_file, progress_file, tmp_path, width):
    """No horizontal overflow of the page at phone and desktop width; plot text stays readable (plots scroll
    sideways inside their box on a phone); legend items never break; screenshots are saved."""
    profile = Path(tempfile.mkdtemp(prefix="vt-chromium-", dir=tmp_path))
    b = Browser(profile, width=width, height=900)
    try:
        b.open_page()
        b.send("Page.enable")
        for name, page in (("report", report_file), ("progress", progress_file)):
            b.send("Page.navigate", {"url": page.resolve().as_uri()})
            b.wait_event("Page.loadEventFired", timeout=60)
            got = _layout(b, width)
            assert got["scrollWidth"] <= got["clientWidth"], (name, width, got)
            assert not got["wide"], (name, width, got)
            assert got["n"] > 10 and got["minPx"] >= 9.0, (name, width, got)
            assert got["wrapped"] == 0, (name, width, got)
            for y in (0, 1400):
                b.eval(f"window.scrollTo(0, {y})")
                shot = b.send("Page.captureScreenshot", {"format": "png"})
                png = tmp_path / f"{name}_{width}px_{y}.png"
                png.write_bytes(base64.b64decode(shot["data"]))
                print(f"screenshot: {png}")
                assert png.stat().st_size > 5_000
    finally:
        b.close()


@pytest.fixture(scope="module")
def progress_file(report_file):
    """A progress page over two copies of the session, with links to their reports."""
    from voice_trainer.report.progress import progress_rows, write_progress_html

    root = report_file.parent / "trainee"
    for i, name in enumerate(("first", "second")):
        d = root / name
        shutil.copytree(report_file.parent / "session", d)
        sj = json.loads((d / "session.json").read_text())
        sj["started_at"] = f"2031-05-0{i + 1}T10:00:00+00:00"
        (d / "session.json").write_text(json.dumps(sj))
    rows, _ = progress_rows(root)
    page, made = write_progress_html(rows, report_file.parent / "progress.html")
    assert len(made) == 2
    return page
