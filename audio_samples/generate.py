"""Regenerate the canned trainee answers in this folder, and manifest.toml, with espeak-ng.

    python audio_samples/generate.py            # writes the WAVs and manifest.toml next to this script
    python audio_samples/generate.py --print    # only prints the espeak-ng commands

Each answer is rendered with ``espeak-ng -v VOICE -s WPM -p PITCH -a AMPLITUDE -g GAP -w raw.wav TEXT`` (22,050 Hz),
resampled to 16 kHz with soxr (quality HQ) and written as mono 16-bit PCM. Nothing random is involved: the same
espeak-ng version (1.51 here) gives the same files. The texts are ours; the facts they restate come from the
scenario files in ../scenarios/ (late-package, double-charge, technician-no-show).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
RATE = 16_000
VOICE = "en-us+m5"  # no scenario caller uses this voice, so the trainee is easy to tell apart

# Prosody presets. espeak-ng: -s words per minute, -p pitch 0-99 (default 50), -a amplitude 0-200 (default 100),
# -g extra gap between words in units of 10 ms.
CALM = {"speed_wpm": 150, "pitch": 42, "amplitude": 90, "word_gap": 1}
RAISED = {"speed_wpm": 185, "pitch": 68, "amplitude": 160, "word_gap": 0}
TALK_OVER_OFFSET_S = 1.0
"""A talks-over-the-caller answer starts this long after the start of the caller's line of its turn; every
scenario's lines last well over 2 s, so it overlaps the caller by more than a second."""


@dataclass
class Answer:
    scenario: str
    set: str  # "good" | "poor" | "baseline"
    turn: int  # 0 for the baseline
    text: str
    prosody: dict
    techniques: list[int] = field(default_factory=list)
    """Techniques (numbers in docs/techniques) the answer is meant to show."""
    red_flags: list[str] = field(default_factory=list)
    """Phrases the answer is meant to be caught on."""
    talks_over_caller: bool = False

    @property
    def file(self) -> str:
        if self.set == "baseline":
            return "baseline_calm.wav"
        return f"{self.scenario}_{self.set}_{self.turn}.wav"


ANSWERS = [
    # ---- a birthday present two weeks late ----
    Answer("late-package", "good", 1,
           "I'm so sorry. You paid extra for guaranteed delivery, and the tracking hasn't moved for nine days. "
           "That's really frustrating.", CALM, [2, 3]),
    Answer("late-package", "good", 2,
           "With the birthday on Saturday, can I offer you two options? An express replacement sent today, "
           "or a full refund. Which would you prefer?", CALM, [6, 7, 8]),
    Answer("late-package", "good", 3,
           "Okay. I'll send the replacement today and email you the tracking within the hour. Does that work "
           "for you? Thank you for your patience.", CALM, [7, 8, 9]),
    Answer("late-package", "poor", 1, "You need to calm down. The tracking is not my department.", RAISED,
           red_flags=["calm down", "not my department"], talks_over_caller=True),
    Answer("late-package", "poor", 2,
           "It's our policy. You should have ordered earlier. There is nothing I can do.", RAISED,
           red_flags=["it's our policy", "you should have", "there's nothing I can do"]),
    Answer("late-package", "poor", 3, "I already told you. Parcels are sometimes late. That is not our fault.",
           RAISED, red_flags=["I already told you", "not our fault"]),
    # ---- charged twice on the monthly bill ----
    Answer("double-charge", "good", 1,
           "I'm sorry about that. You were charged forty-nine ninety-nine twice this month, and now your "
           "account is overdrawn. That's a real worry.", CALM, [2, 3]),
    Answer("double-charge", "good", 2,
           "I can see both charges. Can I refund the duplicate today? It shows in three to five working days, "
           "and I can cover the bank's fee too.", CALM, [6, 7]),
    Answer("double-charge", "good", 3,
           "Would you like a written confirmation for your bank as well? I'll send it within the hour. "
           "Thank you for your patience.", CALM, [8, 7, 9]),
    Answer("double-charge", "poor", 1, "You need to calm down. Our system doesn't make mistakes like that.", RAISED,
           red_flags=["calm down"], talks_over_caller=True),
    Answer("double-charge", "poor", 2,
           "It's our policy to wait for the billing cycle. You should have checked your statement.", RAISED,
           red_flags=["it's our policy", "you should have"]),
    Answer("double-charge", "poor", 3, "Your bank fee is not our problem. There's nothing I can do about it.",
           RAISED, red_flags=["not our problem", "there's nothing I can do"]),
    # ---- the technician never came ----
    Answer("technician-no-show", "good", 1,
           "I'm so sorry. You took an unpaid day off, waited from eight till noon, and nobody came or even "
           "called. That's not okay.", CALM, [2, 3]),
    Answer("technician-no-show", "good", 2,
           "And your heating has been broken for a week. I can book the first slot tomorrow morning. "
           "Would eight or ten suit you better?", CALM, [3, 6, 7, 8]),
    Answer("technician-no-show", "good", 3,
           "So that's tomorrow at eight, and the technician will call you thirty minutes before. Is that right? "
           "Thank you for bearing with us.", CALM, [7, 8, 9]),
    Answer("technician-no-show", "poor", 1, "You need to calm down. Technicians are busy. That's not my department.",
           RAISED, red_flags=["calm down", "not my department"], talks_over_caller=True),
    Answer("technician-no-show", "poor", 2,
           "It's our policy, the window is only an estimate. You should have called us.", RAISED,
           red_flags=["it's our policy", "you should have"]),
    Answer("technician-no-show", "poor", 3, "Look, I can't do anything today. You'll just have to wait.", RAISED,
           red_flags=["I can't do anything", "you'll just have to wait"]),
    # ---- the calm baseline for calibration (same voice and settings as the good set; neutral content) ----
    Answer("", "baseline", 0,
           "Good morning. I am reading a short passage so that the trainer can learn how my voice sounds when I "
           "am relaxed. The weather has been mild this week, and the park near my home is full of people "
           "walking their dogs in the afternoon.", CALM),
]  # fmt: skip


def command(a: Answer, out: str) -> list[str]:
    p = a.prosody
    return [
        "espeak-ng", "-v", VOICE, "-s", str(p["speed_wpm"]), "-p", str(p["pitch"]), "-a", str(p["amplitude"]),
        "-g", str(p["word_gap"]), "-w", out, a.text,
    ]  # fmt: skip


def render(a: Answer) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw = str(Path(tmp) / "raw.wav")
        subprocess.run(command(a, raw), check=True, capture_output=True)
        x, rate = sf.read(raw, dtype="float32")
    return np.clip(soxr.resample(x, rate, RATE, quality="HQ"), -1.0, 1.0).astype(np.float32)


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest_entry(a: Answer, duration_s: float, peak_dbfs: float) -> str:
    p = a.prosody
    lines = [
        "[[answer]]",
        f"file = {toml_str(a.file)}",
        f"scenario = {toml_str(a.scenario)}",
        f"set = {toml_str(a.set)}",
        f"turn = {a.turn}",
        f"text = {toml_str(a.text)}",
        f"voice = {toml_str(VOICE)}",
        f"speed_wpm = {p['speed_wpm']}",
        f"pitch = {p['pitch']}",
        f"amplitude = {p['amplitude']}",
        f"word_gap_ms = {p['word_gap'] * 10}",
        f"duration_s = {duration_s:.2f}",
        f"peak_dbfs = {peak_dbfs:.1f}",
        f"techniques = [{', '.join(str(t) for t in a.techniques)}]",
        f"red_flags = [{', '.join(toml_str(r) for r in a.red_flags)}]",
        f"talks_over_caller = {'true' if a.talks_over_caller else 'false'}",
    ]
    if a.talks_over_caller:
        lines.append(f"start_offset_s = {TALK_OVER_OFFSET_S}")
    return "\n".join(lines)


HEADER = """\
# Canned trainee answers, generated by audio_samples/generate.py (do not edit by hand; rerun the script).
# One [[answer]] per file: 16 kHz mono 16-bit WAV in this folder.
#   scenario           scenario id (../scenarios/ID.toml); "" for the calibration baseline
#   set                good (de-escalating) | poor (defensive, raised voice, talks over) | baseline (calm, neutral)
#   turn               1-based answer number within the call; 0 for the baseline
#   speed_wpm, pitch, amplitude, word_gap_ms    the espeak-ng settings (-s, -p 0-99, -a 0-200, -g x 10 ms)
#   techniques         technique numbers (1-10) the answer is meant to show
#   red_flags          phrases it is meant to be caught on
#   talks_over_caller  true: play it while the caller still speaks, start_offset_s after the start of the
#                      caller's line of that turn (it then overlaps the caller by more than a second)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--print", action="store_true", help="print the espeak-ng commands and exit")
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: this folder)")
    args = ap.parse_args(argv)
    if args.print:
        for a in ANSWERS:
            print(shlex.join(command(a, a.file)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    total = 0
    for a in ANSWERS:
        audio = render(a)
        path = args.out / a.file
        sf.write(str(path), audio, RATE, subtype="PCM_16", format="WAV")
        total += path.stat().st_size
        peak = float(20 * np.log10(max(1e-9, float(np.max(np.abs(audio))))))
        entries.append(manifest_entry(a, len(audio) / RATE, peak))
        print(f"{a.file:36s} {len(audio) / RATE:5.2f} s  peak {peak:6.1f} dBFS", file=sys.stderr)
    (args.out / "manifest.toml").write_text(HEADER + "\n" + "\n\n".join(entries) + "\n", encoding="utf-8")
    print(f"{len(ANSWERS)} files, {total / 1e6:.2f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
