"""Reading audio files: decoding, channel selection and resampling to analysis tracks.

Every track handed to the analysis is float32, mono, at ``sample_rate`` Hz (16 kHz by default), values in
[-1, 1]. WAV, FLAC, OGG and MP3 are read with libsndfile (soundfile); anything else (M4A/AAC, Opus, ...) with
FFmpeg through PyAV, which faster-whisper already depends on. Long files can be read chunk by chunk so memory
stays bounded whatever their length.

Device input and output live in ``devices.py``; this module only reads and writes files.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..atomic import atomic_write
from ..config import SAMPLE_RATE
from ..errors import UserError
from ..inputs import special_kind

ANALYSIS_RATE = SAMPLE_RATE
"""Every analysed track is resampled to this rate (Hz); an alias of :data:`voice_trainer.config.SAMPLE_RATE`."""
CHANNELS = ("mix", "left", "right")
SUPPORTED_HINT = "use WAV, FLAC, OGG, MP3 or M4A"
_BLOCK_S = 10.0  # seconds decoded per read
WAV_PCM_TAGS = (0x0001, 0x0003, 0xFFFE)
"""WAV format tags whose samples are plain PCM or float (integer PCM, IEEE float, WAVE_FORMAT_EXTENSIBLE)."""
WAV_SAMPLE_BITS = (8, 16, 24, 32, 64)
"""Sample sizes (bits) a PCM or float WAV can have (EXTENSIBLE's narrower valid bits live in a later field)."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, before decoding."""

    path: str
    duration_s: float
    sample_rate_hz: int
    channels: int
    backend: str  # "soundfile" or "pyav"


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise UserError(f"{p}: is a folder, not an audio file; give a file ({SUPPORTED_HINT})")
    kind = special_kind(p.stat().st_mode)
    if kind:  # a named pipe or a device: never opened (a pipe would block, a device never end)
        raise UserError(f"{p}: is {kind}, not an audio file; give a regular file ({SUPPORTED_HINT})")
    if p.stat().st_size == 0:
        raise UserError(f"{p}: the file is empty (0 bytes); record or export it again")
    try:  # the decoders would report a file they may not open as undecodable
        os.close(os.open(p, os.O_RDONLY))
    except OSError as exc:
        raise UserError(f"{p}: cannot open the file ({exc.strerror}); check its permissions") from None
    return p


_quiet_lock = threading.Lock()
_quiet = {"depth": 0, "saved": -1}  # how many threads are inside quiet_decoders(), and the stderr they restore


@contextlib.contextmanager
def quiet_decoders() -> Iterator[None]:
    """Silence the decoders' own messages while a file is probed or decoded: libmpg123 (inside libsndfile) writes
    "Note: Illegal Audio-MPEG-Header ..." straight to the process's stderr, and FFmpeg logs through PyAV; the
    user gets one line from us instead. Redirects file descriptor 2 to the null device for the duration.

    Safe across threads (the web server and batch decode in several): the first thread in redirects, the last one
    out restores what stderr was before the first came in. While any thread is inside, the whole process's fd 2
    is silenced; with ``VOICE_TRAINER_DEBUG`` set nothing is silenced (to see every message)."""
    if os.environ.get("VOICE_TRAINER_DEBUG"):
        yield
        return
    with _quiet_lock:
        if _quiet["depth"] == 0:
            try:
                saved = os.dup(2)
            except OSError:  # no stderr at all: nothing to silence
                saved = -1
            if saved >= 0:
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    sys.stderr.flush()
                    os.dup2(null, 2)
                finally:
                    os.close(null)
            _quiet["saved"] = saved
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] >= 0:
                os.dup2(_quiet["saved"], 2)
                os.close(_quiet["saved"])
                _quiet["saved"] = -1


def _check_wav_format(p: Path, fmt: bytes) -> None:
    """Reject a PCM or float ``fmt `` chunk whose sample size is not whole bytes or disagrees with its frame size
    (libsndfile reads such a file anyway, as something else: a wrong length, noise or "no speech")."""
    if len(fmt) < 16:
        raise UserError(f"{p}: the WAV header is damaged (its format chunk is too short); export the file again")
    tag, channels, _rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag not in WAV_PCM_TAGS:
        return  # compressed (ADPCM, mu-law...): libsndfile checks its own formats
    if bits not in WAV_SAMPLE_BITS or channels == 0 or block_align != channels * bits // 8:
        raise UserError(f"{p}: the WAV header claims {bits} bits per sample ({channels} channel(s), "
                        f"{block_align} bytes per frame), which is not a valid PCM layout; export the file again "
                        "as 16-bit WAV")


def _check_wav_complete(p: Path) -> None:
    """Reject a RIFF/WAVE file whose data chunk is shorter than its header declares, or whose format chunk
    describes an impossible sample layout."""
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, csize = struct.unpack("<4sI", fh.read(8))
            if cid == b"fmt ":
                _check_wav_format(p, fh.read(min(csize, 40)))
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):  # streaming writers leave the size open
                    return
                if pos + 8 + csize > size:
                    have = size - pos - 8
                    raise UserError(
                        f"{p}: the WAV file is truncated (header promises {csize} bytes of audio, "
                        f"only {have} are there); copy or export the file again"
                    )
                return
            pos += 8 + csize + (csize & 1)
        raise UserError(f"{p}: the WAV file has no audio data chunk; export it again")


def probe(path: str | os.PathLike) -> AudioInfo:
    """Inspect a file without decoding it.

    Raises
    ------
    UserError
        Missing, empty, truncated or undecodable file.
    """
    p = _check_file(path)
    _check_wav_complete(p)
    try:
        with quiet_decoders():
            info = sf.info(str(p))
        if info.frames <= 0 and info.samplerate > 0:
            raise UserError(f"{p}: the file holds no audio samples; record or export it again")
        return AudioInfo(str(p), info.frames / info.samplerate, info.samplerate, info.channels, "soundfile")
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        import av

        with quiet_decoders(), av.open(str(p)) as container:
            if not container.streams.audio:
                raise UserError(f"{p}: has no audio stream; {SUPPORTED_HINT}")
            stream = container.streams.audio[0]
            rate = stream.rate or stream.codec_context.sample_rate
            if stream.duration is not None and stream.time_base is not None:
                dur = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                dur = container.duration / 1_000_000
            else:
                dur = float("nan")
            return AudioInfo(str(p), dur, int(rate), stream.codec_context.channels, "pyav")
    except UserError:
        raise
    except Exception as exc:  # PyAV raises many error types for garbage input
        reason = _reason(exc, p)
        raise UserError(f"{p}: not an audio file that can be decoded ({reason}); {SUPPORTED_HINT}") from None


def _reason(exc: BaseException, p: Path, limit: int = 100) -> str:
    """A decoder's error message without the file name (the message already starts with it), cut at a word."""
    msg = getattr(exc, "strerror", None) or str(exc).split("\n")[0] or type(exc).__name__
    for name in (f"'{p}'", f'"{p}"', str(p)):
        msg = msg.replace(name, "")
    msg = msg.strip(" :;,") or type(exc).__name__
    return msg if len(msg) <= limit else msg[: limit - 3].rsplit(" ", 1)[0] + "..."


def _select(block: np.ndarray, channel: str, p: Path) -> np.ndarray:
    """``block`` is (frames, channels); returns mono float32."""
    if channel == "mix":
        return block.mean(axis=1, dtype=np.float32)
    if block.shape[1] < 2:
        raise UserError(f"{p}: the file is mono; --channel {channel} needs a stereo file (or use --channel mix)")
    return np.ascontiguousarray(block[:, 0 if channel == "left" else 1], dtype=np.float32)


def _blocks_soundfile(p: Path, info: AudioInfo, channels: tuple[str, ...]) -> Iterator[list[np.ndarray]]:
    blocksize = int(_BLOCK_S * info.sample_rate_hz)
    try:
        with sf.SoundFile(str(p)) as f:
            while True:
                with quiet_decoders():
                    block = f.read(blocksize, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield [_select(block, c, p) for c in channels]
    except sf.LibsndfileError as exc:
        raise UserError(f"{p}: decoding failed part-way ({exc}); the file may be damaged") from None


def _blocks_pyav(p: Path, info: AudioInfo, channels: tuple[str, ...]) -> Iterator[list[np.ndarray]]:
    import av

    try:
        with av.open(str(p)) as container:
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                block = frame.to_ndarray()
                # planar frames are (channels, frames); packed ones (1, frames * channels)
                block = block.T if frame.format.is_planar else block.reshape(-1, info.channels)
                if block.dtype.kind == "i":
                    block = block.astype(np.float32) / float(np.iinfo(block.dtype).max)
                yield [_select(block.astype(np.float32, copy=False), c, p) for c in channels]
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{p}: decoding failed part-way ({_reason(exc, p)}); the file may be damaged") from None


def iter_chunks(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    channels: tuple[str, ...] = ("mix",),
    chunk_s: float = 120.0,
) -> Iterator[tuple[float, list[np.ndarray]]]:
    """Decode a file piece by piece into resampled mono tracks.

    Parameters
    ----------
    path : path-like
        The audio file.
    sample_rate : int
        Output rate in Hz.
    channels : tuple of {"mix", "left", "right"}
        Which tracks to produce; one array per entry, all the same length.
    chunk_s : float
        Length of each yielded chunk in seconds (the last may be shorter).

    Yields
    ------
    offset_s : float
        Start of the chunk in seconds from the start of the file.
    tracks : list of np.ndarray
        float32 mono arrays, one per requested channel.
    """
    for c in channels:
        if c not in CHANNELS:
            raise UserError(f"unknown channel {c!r}; choose one of: {', '.join(CHANNELS)}")
    p = _check_file(path)
    info = probe(p)
    blocks = _blocks_soundfile if info.backend == "soundfile" else _blocks_pyav
    streams = [soxr.ResampleStream(info.sample_rate_hz, sample_rate, 1, dtype="float32") for _ in channels]
    chunk_len = int(chunk_s * sample_rate)
    pending: list[list[np.ndarray]] = [[] for _ in channels]
    pending_len = 0
    offset = 0

    def flush(n: int) -> tuple[float, list[np.ndarray]]:
        nonlocal pending, pending_len, offset
        joined = [np.concatenate(parts) if parts else np.zeros(0, np.float32) for parts in pending]
        out = [j[:n] for j in joined]
        pending = [[j[n:]] for j in joined]
        pending_len = len(joined[0]) - n
        start = offset / sample_rate
        offset += n
        return start, out

    for tracks in blocks(p, info, channels):
        check_finite(tracks, p, offset / sample_rate + pending_len / sample_rate)
        for i, t in enumerate(tracks):
            pending[i].append(streams[i].resample_chunk(t))
        pending_len = min(sum(len(x) for x in parts) for parts in pending)
        while pending_len >= chunk_len:
            yield flush(chunk_len)
    for i, s in enumerate(streams):
        pending[i].append(s.resample_chunk(np.zeros(0, np.float32), last=True))
    pending_len = min(sum(len(x) for x in parts) for parts in pending)
    if pending_len > 0 or offset == 0:
        yield flush(pending_len)


def load(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    channel: str = "mix",
    min_duration_s: float = 0.0,
) -> np.ndarray:
    """Decode a whole file into one float32 mono track at ``sample_rate`` Hz.

    Raises
    ------
    UserError
        Missing, empty, truncated, undecodable or too short (< ``min_duration_s`` seconds) input.
    """
    parts = [tracks[0] for _, tracks in iter_chunks(path, sample_rate=sample_rate, channels=(channel,))]
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    check_duration(audio, sample_rate, min_duration_s, str(path))
    return audio


def load_tracks(
    path: str | os.PathLike, *, sample_rate: int = SAMPLE_RATE, channels: tuple[str, ...] = ("left", "right")
) -> list[np.ndarray]:
    """Decode several channels of one file at once (for stereo call recordings)."""
    got: list[list[np.ndarray]] = [[] for _ in channels]
    for _, tracks in iter_chunks(path, sample_rate=sample_rate, channels=channels):
        for i, t in enumerate(tracks):
            got[i].append(t)
    return [np.concatenate(g) if g else np.zeros(0, np.float32) for g in got]


def check_finite(tracks: list[np.ndarray], path: str | os.PathLike, at_s: float = 0.0) -> None:
    """Raise :class:`UserError` when a decoded block holds NaN or infinite samples (a damaged float file).

    ``at_s`` is roughly where the block starts (seconds, for the message).
    """
    for t in tracks:
        if len(t) and not np.isfinite(t).all():
            raise UserError(
                f"{path}: holds samples that are not numbers (NaN or infinity, near {at_s:.0f} s); the file is "
                "damaged: export or record it again (e.g. as 16-bit PCM WAV)"
            )


def check_duration(audio: np.ndarray, sample_rate: int, min_duration_s: float, name: str) -> None:
    """Raise :class:`UserError` when ``audio`` is shorter than ``min_duration_s`` seconds."""
    dur = len(audio) / sample_rate
    if dur < min_duration_s:
        raise UserError(
            f"{name}: only {dur:.2f} s of audio; need at least {min_duration_s:g} s of speech to analyse"
        )


def write_wav_atomic(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write a WAV (16-bit PCM) atomically (see ``atomic.py``).

    ``audio`` is (frames,) for mono or (frames, channels).
    """

    def write(tmp: str) -> None:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")

    return atomic_write(path, write, ".wav")
