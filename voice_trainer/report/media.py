"""The report's audio: each recording read once (for the plots) and compressed for the page.

A turn's stereo WAV (caller left, trainee right) is 16-bit PCM at 16 kHz: about 64 kB per second, far too big to
send around inside an HTML file. The page gets it as Ogg Opus (or MP3), both written by libsndfile through
soundfile, at about 30 kbit/s: speech stays clear and a 3-minute turn is well under 1 MB.

A recording that is missing or cannot be decoded (truncated, no data chunk) becomes an :class:`AudioFile` with
``error`` set; the report then says so where the player and the plot would have been.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import UserError

PAGE_RATE = 16_000
"""Sample rate (Hz) of the tracks read for the plots and written into the page (Opus accepts 8/12/16/24/48 kHz)."""

FORMATS = {
    "opus": ("OGG", "OPUS", "audio/ogg"),
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
}
"""``report.audio_format`` -> (libsndfile format, subtype, MIME type)."""


@dataclass
class AudioFile:
    """One recording as the report uses it.

    Attributes
    ----------
    path : Path
    left, right : np.ndarray or None
        The two channels, float32 at ``sample_rate`` (None when ``error`` is set).
    sample_rate : int
    error : str or None
        Why the recording cannot be played or plotted (one line), or None.
    """

    path: Path
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    sample_rate: int = PAGE_RATE
    error: str | None = None

    @property
    def duration_s(self) -> float:
        return 0.0 if self.left is None else len(self.left) / self.sample_rate


def read_audio(path: str | Path) -> AudioFile:
    """Decode both channels of ``path`` at :data:`PAGE_RATE`; a file that cannot be read gets ``error`` instead."""
    from ..audio import files as audio_io

    p = Path(path)
    try:
        left, right = audio_io.load_tracks(p, sample_rate=PAGE_RATE, channels=("left", "right"))
    except UserError as exc:
        return AudioFile(p, error=str(exc))
    except (OSError, RuntimeError, ValueError) as exc:  # a decoder failing in a way audio.py does not name
        return AudioFile(p, error=f"{p}: cannot be decoded ({str(exc).splitlines()[0][:100]})")
    if len(left) == 0:
        return AudioFile(p, error=f"{p}: holds no audio")
    return AudioFile(p, left=np.asarray(left, np.float32), right=np.asarray(right, np.float32))


def encode(left: np.ndarray, right: np.ndarray, sample_rate: int, fmt: str = "opus",
           compression: float = 0.95) -> tuple[bytes, str]:
    """Stereo audio compressed for the page.

    Parameters
    ----------
    left, right : np.ndarray
        Float tracks in [-1, 1], same length.
    sample_rate : int
        Hz; Opus needs 8000, 12000, 16000, 24000 or 48000.
    fmt : {"opus", "mp3"}
    compression : float
        libsndfile's compression level, 0 (largest, best) to 1 (smallest). For Opus 0.95 gives about
        30 kbit/s for a 16 kHz stereo turn.

    Returns
    -------
    (bytes, MIME type)
    """
    if fmt not in FORMATS:
        raise UserError(f"report.audio_format {fmt!r}: use one of {', '.join(FORMATS)}")
    major, subtype, mime = FORMATS[fmt]
    data = np.clip(np.stack([left, right], axis=1), -1.0, 1.0).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, data, sample_rate, format=major, subtype=subtype, compression_level=float(compression))
    return buf.getvalue(), mime
