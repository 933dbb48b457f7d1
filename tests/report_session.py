"""Test helper: a real practice session folder made by the real call loop in file mode.

The caller's lines and the trainee's answers are rendered by espeak-ng inside the test; the session loop
(``session.run_session``) transcribes with the real Whisper model and analyses every turn; the folder is written
by ``session.SessionFolder`` (``store.py``). Turn 2 talks over the caller with a policy line; turn 3 waits
~3.6 s before answering (dead air) and offers choices and thanks.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from speech import espeak

SR = 16_000

ANSWERS = [
    ("I'm so sorry your birthday present is two weeks late and the tracking has not moved for nine days. "
     "That is really frustrating.", ""),
    ("Look it's our policy and you should have checked the tracking yourself.", "@-1.5"),
    ("I can send a replacement today or refund you right now. Which would you prefer? "
     "Thank you for your patience.", "dead_air"),
]
DEAD_AIR_S = 3.6


@functools.lru_cache(maxsize=1)
def transcriber():
    from voice_trainer.config import Config
    from voice_trainer.speech.transcribe import Transcriber

    t = Transcriber(Config().transcribe)
    t.model  # noqa: B018 - load once per test process
    return t


def _render_caller(folder: Path):
    n = [0]

    def render(text: str, anger: float) -> np.ndarray:
        n[0] += 1
        p = folder / f"caller_{n[0]}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(int(150 + anger)), "-p", "60", "-w", str(p), text],
                       check=True)
        x, sr = sf.read(str(p), dtype="float32")
        return soxr.resample(x, sr, SR).astype(np.float32) * 0.7

    return render


def make_session(folder: Path, answers=ANSWERS, name: str = "session") -> Path:
    """Run the real loop on the ``late-package`` scenario with espeak-ng answers; return the session folder."""
    from voice_trainer.call.scenarios import load_library
    from voice_trainer.call.session import AnswerSpec, FileAnswers, SessionFolder, run_session
    from voice_trainer.config import Config

    cfg = Config()
    scenario = load_library()["late-package"]
    specs = []
    for i, (text, how) in enumerate(answers):
        p = espeak(text, folder / f"{name}_answer_{i + 1}.wav", speed=165, voice="en+m3")
        specs.append(AnswerSpec(str(p), float(how[1:])) if how.startswith("@") else str(p))
    delayed = {i + 1 for i, (_, how) in enumerate(answers) if how == "dead_air"}

    class Answers(FileAnswers):
        def take(self, index, caller_audio, line, analyze=None):
            if index in delayed:
                self.answers[index - 1] = AnswerSpec(self.answers[index - 1].path, len(caller_audio) / SR + DEAD_AIR_S)
            return super().take(index, caller_audio, line)

    out = folder / name
    writer = SessionFolder(out, scenario, cfg, mode="file", model=cfg.transcribe.model, seed=0)
    result = run_session(scenario, cfg, transcriber(), Answers(specs, cfg), render=_render_caller(folder),
                         writer=writer, max_turns=len(answers))
    writer.finish(result.status, result)
    return out
