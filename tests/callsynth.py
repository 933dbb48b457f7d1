"""Synthesized two-party calls for turn-taking tests: espeak-ng renders placed on two tracks at known times."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from speech import espeak

SR = 16_000
CALLER_VOICE = "en-us"
AGENT_VOICE = "en+f3"


def render(text: str, folder: Path, name: str, voice: str, speed: int = 165) -> np.ndarray:
    """espeak-ng render at 16 kHz, trimmed so sample 0 is the first audible sample and the last is the last."""
    path = espeak(text, folder / f"{name}.wav", voice=voice, speed=speed)
    x, sr = sf.read(str(path), dtype="float32")
    x = soxr.resample(x, sr, SR).astype(np.float32)
    idx = np.flatnonzero(np.abs(x) > 0.01)
    return x[idx[0] : idx[-1] + 1] * 0.6


@dataclass
class Clip:
    speaker: str
    text: str
    start: float
    end: float


@dataclass
class Call:
    """Two tracks and the ground truth of what was placed where."""

    caller: np.ndarray
    agent: np.ndarray
    clips: list[Clip] = field(default_factory=list)
    interruption_onsets: list[float] = field(default_factory=list)
    dead_air: list[tuple[float, float]] = field(default_factory=list)
    listening_pause: tuple[float, float] | None = None
    backchannel_at: float | None = None
    tail_overlap_at: float | None = None

    def stereo(self, caller_channel: str = "left") -> np.ndarray:
        cols = (self.caller, self.agent) if caller_channel == "left" else (self.agent, self.caller)
        return np.stack(cols, axis=1)


class _Builder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: list[tuple[str, float, np.ndarray, str]] = []
        self.n = 0

    def put(self, speaker: str, text: str, start: float, speed: int = 165) -> Clip:
        voice = CALLER_VOICE if speaker == "caller" else AGENT_VOICE
        x = render(text, self.folder, f"{speaker}{self.n}", voice, speed)
        self.n += 1
        self.parts.append((speaker, start, x, text))
        return Clip(speaker, text, start, start + len(x) / SR)

    def tracks(self, tail_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        end = max(s + len(x) / SR for _, s, x, _ in self.parts) + tail_s
        tr = {"caller": np.zeros(int(end * SR) + 1, np.float32), "agent": np.zeros(int(end * SR) + 1, np.float32)}
        for speaker, s, x, _ in self.parts:
            i = int(round(s * SR))
            tr[speaker][i : i + len(x)] += x
        return tr["caller"], tr["agent"]


def angry_call(folder: Path) -> Call:
    """A call with exactly two agent interruptions, one backchannel, one short tail overlap, one dead air after
    a caller's question, and one listening pause (the caller goes quiet and carries on)."""
    b = _Builder(folder)
    onsets = []
    c1 = b.put("caller", "I have been waiting three weeks for my refund and nobody has called me back, not once.", 0.5)
    a1 = b.put("agent", "Sir, you need to calm down right now.", c1.start + 2.0)
    onsets.append(a1.start)
    c2_text = "I called twice last week and every time I was put on hold for an hour."
    c2 = b.put("caller", c2_text, max(c1.end, a1.end) + 1.2)
    bc = b.put("agent", "okay", c2.start + 1.6, speed=230)  # a quick listening token, about 0.35 s
    a3 = b.put("agent", "I am sorry to hear that. Let me check your account.", c2.end - 0.15)
    c3 = b.put("caller", "Are you going to fix this or not?", a3.end + 0.8)
    a4 = b.put("agent", "Yes. I can issue the refund today.", c3.end + 4.0)
    c4 = b.put("caller", "That is what the last person said too, and then nothing happened at all.", a4.end + 0.7)
    a5 = b.put("agent", "That was not my fault, it was another department.", c4.start + 1.5)
    onsets.append(a5.start)
    c5 = b.put("caller", "I am so tired of all this.", max(c4.end, a5.end) + 0.8)
    c6 = b.put("caller", "Every single time it is the same story with you people.", c5.end + 4.0)
    a6 = b.put("agent", "I hear you. I will email you the confirmation within the hour.", c6.end + 0.6)
    clips = [c1, a1, c2, bc, a3, c3, a4, c4, a5, c5, c6, a6]
    caller, agent = b.tracks()
    return Call(
        caller=caller,
        agent=agent,
        clips=clips,
        interruption_onsets=onsets,
        dead_air=[(c3.end, a4.start)],
        listening_pause=(c5.end, c6.start),
        backchannel_at=bc.start,
        tail_overlap_at=a3.start,
    )


def with_echo(call: Call, delay_s: float = 0.15, gain: float = 0.3) -> Call:
    """The same call with the caller leaking into the agent's track, delayed and attenuated (speaker echo)."""
    lag = int(round(delay_s * SR))
    echo = np.zeros_like(call.agent)
    echo[lag:] = gain * call.caller[: len(call.caller) - lag]
    return Call(
        caller=call.caller,
        agent=(call.agent + echo).astype(np.float32),
        clips=call.clips,
        interruption_onsets=call.interruption_onsets,
        dead_air=call.dead_air,
        listening_pause=call.listening_pause,
        backchannel_at=call.backchannel_at,
        tail_overlap_at=call.tail_overlap_at,
    )
