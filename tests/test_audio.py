"""Decoding: formats, rates, channels, chunking, and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from speech import tone, write

from voice_trainer.audio import files as audio
from voice_trainer.errors import UserError
from voice_trainer.pipeline import quiet_split


def peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize("sr_in", [8000, 22050, 44100, 48000])
def test_resamples_any_rate_to_16k_keeping_pitch_and_duration(tmp_path, sr_in):
    path = write(tmp_path / "t.wav", tone(1000.0, 2.0, sr_in), sr_in)
    x = audio.load(path, sample_rate=16000)
    assert abs(len(x) - 32000) <= 2
    assert abs(peak_hz(x, 16000) - 1000.0) < 2.0


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_decodes_compressed_formats(tmp_path, fmt, ext):
    path = write(tmp_path / f"t.{ext}", tone(440.0, 1.5, 44100), 44100, format=fmt)
    x = audio.load(path, sample_rate=16000)
    assert abs(len(x) / 16000 - 1.5) < 0.1  # mp3 adds encoder padding
    assert abs(peak_hz(x, 16000) - 440.0) < 3.0


def test_decodes_m4a_through_ffmpeg(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "t.m4a"
    sr = 44100
    x = tone(440.0, 1.0, sr)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=sr, layout="mono")
        frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert audio.probe(path).backend == "pyav"
    y = audio.load(path, sample_rate=16000)
    assert 0.9 < len(y) / 16000 < 1.2
    assert abs(peak_hz(y, 16000) - 440.0) < 3.0


def test_channel_selection(tmp_path):
    sr = 16000
    left, right = tone(300.0, 1.0, sr), tone(1200.0, 1.0, sr)
    path = write(tmp_path / "st.wav", np.stack([left, right], axis=1), sr)
    assert abs(peak_hz(audio.load(path, channel="left"), sr) - 300) < 2
    assert abs(peak_hz(audio.load(path, channel="right"), sr) - 1200) < 2
    mix = audio.load(path, channel="mix")
    assert np.allclose(mix, (left + right) / 2, atol=1e-3)
    lt, rt = audio.load_tracks(path)
    assert np.allclose(lt, left, atol=1e-3) and np.allclose(rt, right, atol=1e-3)


def test_left_channel_of_a_mono_file_is_an_error(tmp_path):
    path = write(tmp_path / "m.wav", tone(300.0, 1.0, 16000), 16000)
    with pytest.raises(UserError, match="mono"):
        audio.load(path, channel="left")


def test_chunks_cover_the_file_exactly(tmp_path):
    sr = 16000
    x = np.random.default_rng(0).standard_normal(sr * 7).astype(np.float32) * 0.1
    path = write(tmp_path / "n.wav", x, sr, subtype="FLOAT")
    chunks = list(audio.iter_chunks(path, sample_rate=sr, chunk_s=2.0))
    assert [off for off, _ in chunks] == [0.0, 2.0, 4.0, 6.0]
    joined = np.concatenate([c[0] for _, c in chunks])
    assert np.allclose(joined, x, atol=1e-6)


def test_quiet_split_finds_the_pause():
    sr = 16000
    loud = tone(200.0, 1.0, sr)
    x = np.concatenate([loud, np.zeros(sr // 5, np.float32), loud])
    cut = quiet_split(x, sr, search_s=2.0)
    assert sr <= cut <= sr + sr // 5


@pytest.mark.parametrize(
    "make,expect",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not audio\n" * 20), "not an audio file"),
    ],
)
def test_bad_files(tmp_path, make, expect):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(UserError, match=expect):
        audio.load(path)


def test_truncated_wav_is_reported(tmp_path):
    path = write(tmp_path / "full.wav", tone(300.0, 2.0, 16000), 16000, subtype="PCM_16")
    data = path.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        audio.load(cut)


def test_too_short(tmp_path):
    path = write(tmp_path / "s.wav", tone(300.0, 0.2, 16000), 16000)
    with pytest.raises(UserError, match="0.20 s"):
        audio.load(path, min_duration_s=0.5)


def test_atomic_wav_write_leaves_no_temp(tmp_path):
    out = audio.write_wav_atomic(tmp_path / "o.wav", np.zeros((1600, 2), np.float32), 16000)
    assert sf.info(str(out)).channels == 2
    assert [p.name for p in tmp_path.iterdir()] == ["o.wav"]


def test_frame_levels_of_a_sine_and_of_silence():
    from voice_trainer.analysis.vad import frame_levels_db

    sr = 16000
    x = np.concatenate([tone(500.0, 1.0, sr, amp=1.0), np.zeros(sr // 2, np.float32)])  # whole periods per frame
    db = frame_levels_db(x, sr, frame_s=0.02)
    assert len(db) == 75  # 1.5 s of 20 ms frames
    assert np.allclose(db[:50], -3.01, atol=0.05)  # a full-scale sine is 3 dB below full scale
    assert np.all(db[50:] < -100)
    assert len(frame_levels_db(x, sr, frame_s=0.025, hop_s=0.01)) == 1 + (len(x) - 400) // 160
