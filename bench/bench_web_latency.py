"""Voice-to-voice latency of practice in the browser (``voice-trainer serve``), through the real page.

``voice-trainer serve`` runs in a subprocess; headless Chromium opens the practice page with a fake microphone
that plays canned answers (``--use-file-for-fake-audio-capture``), so the whole path is measured: AudioWorklet
capture, the WebSocket, end of turn, Whisper and the analysis, the caller's reaction and TTS, the line sent back
and started by the page's AudioWorklet. The latency of each caller reply is read from the turn records
(``reply_latency_s``, and ``final_reply_latency_s`` for a closing line): from the trainee's last word (the
endpointer's end of speech) to the first sample of the caller's next line in the page's output, both on the
page's own audio clock (microphone samples sent). The end-of-turn silence (``practice.end_silence_s``, 0.8 s by
default) is part of it. Each reply is also split into the server's part (end of speech to the line being sent:
end of turn, analysis, the caller's reaction, TTS) and the page's (sent to first sample played).

    .venv/bin/python bench/bench_web_latency.py [--calls 3] [--screenshot docs/serve-practice.png]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from webcall import CHROMIUM, Server, chromium_with_fake_mic, fake_mic_wav, wait_for  # noqa: E402

SAMPLES = REPO / "audio_samples"
CALLS = ["late-package", "double-charge", "technician-no-show"]
GAPS_S = (9.0, 8.0, 8.0)  # silence before each answer: the opening line is 5-7 s, replies 3-6 s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--screenshot", metavar="PNG", help="also save the page of the first call just after its second "
                    "turn (the README's picture: docs/serve-practice.png)")
    args = ap.parse_args()
    if CHROMIUM is None:
        sys.exit("bench_web_latency: chromium is not installed (./bootstrap.sh test installs it)")
    root = Path(tempfile.mkdtemp(prefix="vt-web-latency-"))
    srv = Server(root / "sessions", "--max-turns", "3")
    replies: list[float] = []
    split: dict[str, list[float]] = {"reply_server_s": [], "reply_page_s": []}
    rows = []
    try:
        for i in range(args.calls):
            scenario = CALLS[i % len(CALLS)]
            parts = [(g, str(SAMPLES / f"{scenario}_good_{k + 1}.wav")) for k, g in enumerate(GAPS_S)]
            wav = fake_mic_wav(root / f"mic_{i}.wav", [*parts, (12.0, None)])
            before = {p.name for p in (root / "sessions").iterdir()}
            b = chromium_with_fake_mic(root / f"profile_{i}", wav, width=860, height=820)
            load_before = os.getloadavg()
            t0 = time.monotonic()
            try:
                b.open_page()
                b.send("Page.enable")
                b.send("Page.navigate", {"url": f"{srv.url}/practice?scenario={scenario}&autostart=1&seed={i}"})
                b.wait_event("Page.loadEventFired", timeout=60)
                if args.screenshot and i == 0:
                    wait_for(lambda b=b: b.eval("window.vtCall.turns") >= 2, 240, 0.2)
                    shot = b.send("Page.captureScreenshot", {"format": "png"})
                    Path(args.screenshot).write_bytes(base64.b64decode(shot["data"]))
                ended = wait_for(lambda b=b: b.eval("window.vtCall.phase") == "ended", 240, 0.5)
                state = b.eval("window.vtCall")
            finally:
                b.close()
            if not ended:
                print(f"{scenario}: the call did not end in 240 s: {state}", file=sys.stderr)
                continue
            folder = next(p for p in (root / "sessions").iterdir() if p.name not in before)
            lat = []
            for f in sorted(folder.glob("turn_*.json")):
                extra = json.loads(f.read_text())["answer"]["extra"]
                lat += [extra[k] for k in ("reply_latency_s", "final_reply_latency_s") if extra.get(k) is not None]
                for k, v in split.items():
                    if extra.get(k) is not None:
                        v.append(extra[k])
            replies += lat
            rows.append({"scenario": scenario, "status": state["status"], "turns": state["turns"],
                         "replies_s": lat, "call_s": round(time.monotonic() - t0, 1),
                         "load_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        srv.stop()
    if replies:
        print(json.dumps({
            "replies": len(replies), "p50_s": round(statistics.median(replies), 3),
            "p95_s": round(float(np.percentile(replies, 95)), 3), "min_s": round(min(replies), 3),
            "max_s": round(max(replies), 3), "load_1min_at_end": round(os.getloadavg()[0], 2),
            **{f"p50_{k}": round(statistics.median(v), 3) for k, v in split.items() if v},
        }))


if __name__ == "__main__":
    main()
