"""Speed of the listening analysis: 1,000 agent replies (with caller lines) analysed, target under 2 s.

Usage::

    .venv/bin/python bench/bench_listening.py [--n 1000] [--repeat 3]

The replies are made here from templates (no evaluation data), mixing good and poor wording, 1-4 sentences
each, so every detector runs. Prints the best of ``--repeat`` runs (the first run includes compiling the lexicon).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voice_trainer.analysis.listening.detect import analyze_call, analyze_listening  # noqa: E402

CALLERS = [
    "My order {n} still hasn't arrived after {w} weeks and nobody called me back!",
    "You charged me twice for the {p} and I want my money back today.",
    "This is the {k} time I'm calling about my broken {p}, it's ridiculous.",
    "I've been on hold for {m} minutes, get me your manager, you useless idiots!",
]
PARTS = [
    "I'm so sorry, {w} weeks without a reply is really frustrating.",
    "So your order {n} is {w} weeks late and no one phoned you back.",
    "It sounds like you're worried the money won't come back.",
    "What happened when you last contacted us about the {p}?",
    "I'll send a replacement {p} today and you'll have it within {d} business days.",
    "I can refund you now or ship a new one, whichever you prefer.",
    "Shall I go ahead with that?",
    "Thank you for your patience, I'll call you back tomorrow with an update.",
    "Calm down, please.",
    "You should have checked the tracking page.",
    "It's our policy, there's nothing I can do.",
    "That's not my department.",
    "I understand.",
    "I guarantee it will never happen again.",
    "I'm not going to tell you to calm down; you have every right to be angry.",
    "Let me transfer you to my supervisor.",
]


def make(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        vals = {"n": rnd.randint(1000, 99999), "w": rnd.randint(1, 5), "p": rnd.choice(["laptop", "phone", "kettle"]),
                "k": rnd.choice(["third", "fourth"]), "m": rnd.randint(10, 90), "d": rnd.randint(2, 7)}
        caller = rnd.choice(CALLERS).format(**vals)
        agent = " ".join(p.format(**vals) for p in rnd.sample(PARTS, rnd.randint(1, 4)))
        out.append((agent, caller))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = make(args.n)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for agent, caller in data:
            analyze_listening(agent, caller_text=caller)
        times.append(time.perf_counter() - t0)
    best = min(times)
    chars = sum(len(a) for a, _ in data) / len(data)
    print(f"listening: {args.n} replies (mean {chars:.0f} chars) in {best:.3f} s best of {args.repeat} "
          f"(first run {times[0]:.3f} s incl. lexicon compile) = {1000 * best / args.n:.2f} ms/reply; "
          f"target < 2 s per 1,000: {'PASS' if best * 1000 / args.n < 2.0 else 'FAIL'}")
    calls = [[("caller", c), ("agent", a)] * 3 for a, c in data[:100]]
    t0 = time.perf_counter()
    for call in calls:
        analyze_call(call)
    dt = time.perf_counter() - t0
    print(f"analyze_call: 100 calls of 6 turns in {dt:.3f} s = {1000 * dt / 100:.2f} ms/call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
