"""Load the models a command will use in a background thread, while the main thread imports, parses and decodes.

:func:`start` begins loading and returns at once; whoever uses a model first simply waits for it (each loader
holds a lock and loads once per process). The order keeps the peak memory low:

1. the sentence encoder of the learned listening detectors (building its onnxruntime session briefly needs
   about 210 MiB more than it keeps, while the int8 graph is rewritten: done first, before Whisper is loaded,
   so that transient does not stack on Whisper's working memory);
2. the Whisper model (its files checked against the manifest first).

The pitch tracker is not preloaded: it is small and quick to build, and is needed only after the first
transcription, so building it then keeps it out of Whisper's peak.

After each step freed heap memory is handed back to the OS (:func:`voice_trainer.memory.release`). A loading
error is not raised here: the main thread meets the same error, with its usual one-line message, when it uses
the model.

The loading thread then stays parked (a daemon, blocked, no CPU) instead of ending: when the thread that loaded a
CTranslate2 model had ended, every later transcription took 1.5-7x the CPU time (measured with faster-whisper
alone, load 6; its OpenMP worker threads seem to keep spinning); with the loading thread still alive it did not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import memory
from .config import Config

__all__ = ["Loading", "start"]


def _step(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the main thread reports it when it needs this model
        pass
    finally:
        memory.release()


class Loading:
    """Models being loaded in the background (:func:`start`)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every model has been tried (loaded or failed); False on timeout."""
        return self.done.wait(timeout)


_PARKED = threading.Event()
"""Never set: loading threads wait on it for the rest of the process (see the module docstring)."""


def _run(cfg: Config, transcriber: object | None, listening: bool, state: Loading) -> None:
    try:
        _load(cfg, transcriber, listening, state.started)
    finally:
        state.started.set()
        state.done.set()
    _PARKED.wait()


def _load(cfg: Config, transcriber: object | None, listening: bool, started: threading.Event) -> None:
    from .speech.transcribe import loading_lock

    def encoder() -> None:
        from .analysis.listening.sentence_encoder import get_encoder

        get_encoder()

    with loading_lock():  # a thread that needs Whisper meanwhile waits until it is loaded here, after the encoder
        started.set()
        if listening and cfg.listening.learned_model:
            _step(encoder)
        if transcriber is not None:
            _step(lambda: transcriber.model)  # type: ignore[attr-defined]


def start(cfg: Config, transcriber: object | None = None, *, listening: bool = True) -> Loading:
    """Start loading, in a daemon thread, the models a run with ``cfg`` will use.

    Parameters
    ----------
    cfg : Config
        The run's configuration (which Whisper model, whether the learned listening detectors run).
    transcriber : Transcriber, optional
        Its Whisper model is loaded (None: no Whisper).
    listening : bool
        Also build the sentence encoder (when ``cfg.listening.learned_model``).
    """
    state = Loading()
    threading.Thread(target=_run, args=(cfg, transcriber, listening, state), name="voice-trainer-preload",
                     daemon=True).start()
    state.started.wait()  # the loading lock is held before the caller goes on
    return state
