"""The practice call loop in file mode: golden runs on the canned answers, barge-in rules, scripts, demo,
and a SIGKILL in the middle of a session."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from textnorm import assert_same_speech, norm_words

from voice_trainer.call.samples import sample_set, scenarios_with_samples
from voice_trainer.call.scenarios import get_scenario
from voice_trainer.call.session import SR, AnswerSpec, FileAnswers, SessionFolder, place_answer, run_session
from voice_trainer.config import Config
from voice_trainer.speech.transcribe import Transcriber
from voice_trainer.store import load_session

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "audio_samples"


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber(Config().transcribe)


# --- placing a canned answer against the caller's line ---------------------------------------------------------


def test_answer_after_the_caller_with_the_response_gap():
    cfg = Config()
    caller = np.ones(SR * 2, np.float32) * 0.1
    ta = place_answer(caller, np.ones(SR, np.float32) * 0.2, None, 50.0, cfg)
    assert ta.barge_in_s is None and ta.caller_end_s == pytest.approx(2.0)
    start = int((2.0 + cfg.session.response_gap_s) * SR)
    assert ta.mic[start - 1] == 0 and ta.mic[start] == pytest.approx(0.2)
    assert len(ta.reference) == len(ta.mic)


def test_barge_in_stops_the_caller_unless_very_angry():
    cfg = Config()
    caller = np.ones(SR * 4, np.float32) * 0.1
    calm = place_answer(caller, np.ones(SR, np.float32), 1.0, 40.0, cfg)
    assert calm.barge_in_s == pytest.approx(1.0) and not calm.caller_pushed_on
    stop = 1.0 + cfg.session.barge_in_reaction_s + cfg.practice.fade_out_s
    assert calm.caller_end_s == pytest.approx(stop, abs=0.01)
    assert not np.any(calm.reference[int(stop * SR) + 2:])
    furious = place_answer(caller, np.ones(SR, np.float32), -1.0, 95.0, cfg)  # 1 s before the caller's end
    assert furious.caller_pushed_on and furious.barge_in_s == pytest.approx(3.0)
    assert np.all(furious.reference[: SR * 4] == pytest.approx(0.1))


def test_answer_spec_parsing():
    assert AnswerSpec.parse("a.wav") == AnswerSpec("a.wav")
    assert AnswerSpec.parse("x@y.wav@-1.5") == AnswerSpec("x@y.wav", -1.5)


# --- golden runs on the canned answers ---------------------------------------------------------------------------


def _call(scenario_id: str, which: str, transcriber, tmp_path: Path):
    cfg = Config()
    ss = sample_set(scenario_id, which)
    scenario = get_scenario(scenario_id)
    from voice_trainer.profile import resolve_baseline

    baseline = resolve_baseline(ss.baseline, cfg, transcriber)
    folder = SessionFolder(tmp_path / f"{scenario_id}-{which}", scenario, cfg, mode="file",
                           model=transcriber.model_name, seed=0)
    result = run_session(scenario, cfg, transcriber, FileAnswers(list(ss.answers), cfg), baseline=baseline,
                         writer=folder)
    folder.finish("completed", result)
    return result


@pytest.mark.whisper
@pytest.mark.parametrize("scenario_id", scenarios_with_samples(SAMPLES))
def test_golden_good_set_beats_poor_set(scenario_id, transcriber, tmp_path):
    good = _call(scenario_id, "good", transcriber, tmp_path)
    poor = _call(scenario_id, "poor", transcriber, tmp_path)
    g, p = good.scorecard, poor.scorecard
    assert g.calmness.value > p.calmness.value + 10, (g.calmness.value, p.calmness.value)
    assert g.listening.value > p.listening.value + 20, (g.listening.value, p.listening.value)
    assert g.overall > p.overall
    # the poor set's answer played over the caller is detected as an interruption in that turn
    over = [i for i, a in enumerate(sample_set(scenario_id, "poor").answers) if a.start_s is not None]
    assert over, "the poor set has an answer that talks over the caller"
    for i in over:
        assert i < len(poor.turns), "the call ended before the answer that talks over the caller"
        assert len(poor.turns[i].turns.interruptions) >= 1
    assert all(not t.turns.interruptions for t in good.turns)
    assert good.caller.anger < poor.caller.anger
    assert poor.turns and any(t.listening.red_flags for t in poor.turns)


# --- scripts, the run and demo commands ------------------------------------------------------------------------


def _script(tmp_path: Path, expect: str, extra: str = "") -> Path:
    ss = sample_set("double-charge", "good", SAMPLES)
    answers = "".join(f'[[answers]]\nfile = "{a.path}"\n' for a in ss.answers)
    p = tmp_path / "s.toml"
    p.write_text(f'scenario = "double-charge"\nbaseline = "{ss.baseline}"\n{extra}{answers}[expect]\n{expect}')
    return p


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voice_trainer", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.whisper
def test_run_script_pass_and_fail(tmp_path):
    ok = run_cli("run", str(_script(tmp_path, "interruptions = [0, 0]\nlistening = [40, 100]\n")), "--json",
                 "--session-dir", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["passed"] and all(c["passed"] for c in out["checks"])
    assert load_session(tmp_path / "ok").status == "completed"
    bad = run_cli("run", str(_script(tmp_path, "calmness = [0, 10]\n")), "--no-session")
    assert bad.returncode == 1 and "FAIL" in bad.stdout


@pytest.mark.parametrize(
    "body,needle",
    [
        ('scenario = "double-charge"\n[[answers]]\nfile = "a.wav"\nvolume = 3\n', ":4: unknown key 'volume'"),
        ('scenario = "double-charge"\n', "[[answers]]"),
        ('scenario = "double-charge"\n[[answers]]\nfile = "a.wav"\n[expect]\ncalmness = [90, 10]\n', "range"),
        ('scenario = \n', ":1: not valid TOML"),
    ],
)
def test_bad_scripts_name_file_and_line(tmp_path, body, needle):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    proc = run_cli("run", str(p))
    assert proc.returncode == 2 and needle in proc.stderr and str(p) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_answer_file_fails_before_the_call(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('scenario = "double-charge"\n[[answers]]\nfile = "nope.wav"\n')
    proc = run_cli("run", str(p), "--session-dir", str(tmp_path / "never"))
    assert proc.returncode == 2 and "nope.wav: no such file" in proc.stderr
    assert not (tmp_path / "never").exists()


@pytest.mark.whisper
def test_demo_command_writes_sessions_and_reports(tmp_path):
    proc = run_cli("demo", "--set", "good", "--session-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rec = load_session(folder)
    assert rec.status == "completed" and rec.mode == "demo" and len(rec.turns) >= 2
    assert (folder / "report.html").stat().st_size > 10_000
    assert str(folder) in proc.stdout.replace("\n", "")
    assert "overall" in proc.stdout.lower()


# --- nothing lost: SIGKILL in the middle of a session ----------------------------------------------------------


@pytest.mark.whisper
def test_sigkill_mid_session_keeps_every_finished_turn(tmp_path):
    ss = sample_set("late-package", "good", SAMPLES)
    answers = [a.path for a in ss.answers] * 2
    session = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voice_trainer", "practice", "--scenario", "late-package", "--answers", *answers,
         "--max-turns", "6", "--session-dir", str(session), "--baseline", ss.baseline],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while time.time() < deadline and not (session / "turn_01.json").exists():  # killed while turn 2 is under way
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rec = load_session(session)
    assert rec.status == "interrupted"  # killed: never marked finished, and its writer is gone
    assert len(rec.turns) >= 1
    for t in rec.turns:
        assert (session / t.wav).exists()
        assert t.trainee_text and json.loads((session / f"{t.name}.json").read_text())["index"] == t.index
    finished = {f"turn_{t.index:02d}.wav" for t in rec.turns} | {f"turn_{t.index:02d}.json" for t in rec.turns}
    assert {p.name for p in session.glob("turn_*")} >= finished


def test_every_listening_id_is_known_to_the_caller():
    from voice_trainer.analysis import ids
    from voice_trainer.analysis.listening.detect import load_lexicon

    lex = load_lexicon()
    assert all(ids.canonical(k) in ids.TECHNIQUES for k in [*lex.techniques, "paraphrase"])
    assert all(ids.canonical(k) in ids.RED_FLAGS for k in [*lex.red_flags, "stock_phrase", "re_asked"])


def test_a_silent_answer_is_a_missed_turn_with_dead_air(transcriber, tmp_path):
    cfg = Config()
    silent = tmp_path / "silent.wav"
    import soundfile as sf

    sf.write(silent, np.zeros(SR * 5, np.float32), SR)
    scenario = get_scenario("double-charge")
    result = run_session(scenario, cfg, transcriber, FileAnswers([str(silent)], cfg), seed=0)
    (turn,) = result.turns
    assert turn.transcript.words == []
    # nothing said: a missed turn (listening 0 from one "answered" component), not a withheld or a good score
    assert turn.listening.score.value == 0.0
    assert [c.id for c in turn.listening.score.components if c.withheld is None] == ["answered"]
    assert turn.turn_taking.value == 0.0  # the caller got no answer at all
    waits = [d for d in turn.turns.dead_air if d.after == "caller"]
    assert waits and waits[0].duration_s >= cfg.turns.dead_air_s
    assert turn.observation.dead_air_s >= cfg.turns.dead_air_s
    assert turn.anger_after > turn.anger_before
    assert any("dead air" in n for n in turn.nudges)
    assert result.scorecard.listening.value == 0.0
    assert result.scorecard.calmness.value is None  # no voice to judge: withheld
    assert result.scorecard.overall is not None and result.scorecard.overall <= 20


def test_too_short_answer_file_fails_before_the_call(tmp_path):
    import soundfile as sf

    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(int(SR * 0.2), np.float32), SR)
    from voice_trainer.errors import UserError

    with pytest.raises(UserError, match="0.20 s"):
        FileAnswers([str(short)], Config())


@pytest.mark.whisper
def test_transcript_of_the_beginning_is_reused(transcriber):
    """The live path's transcript of the answer's beginning is kept as it is and only the audio after the cut is
    decoded (issue 27: checked against this run's own decodings, not against words Whisper happened to produce)."""
    from voice_trainer.analysis.core import _transcribe
    from voice_trainer.analysis.transcript import Transcript, Word
    from voice_trainer.analysis.vad import speech_segments
    from voice_trainer.audio import files as audio

    a = audio.load(SAMPLES / "double-charge_good_1.wav")
    b = audio.load(SAMPLES / "double-charge_good_2.wav")
    mic = np.concatenate([a, np.zeros(SR // 2, np.float32), b])
    k = len(a) + SR // 4  # cut in the pause
    segs = speech_segments(mic, SR)
    live = transcriber.transcribe(mic[:k])  # what the live path decoded before the cut
    assert live.words and max(w.end for w in live.words) <= k / SR + 0.05
    # the beginning is handed over with words no decoding can produce, so "kept, not decoded again" is exact
    head = Transcript(text="", words=[Word(f"head{i}", w.start, w.end) for i, w in enumerate(live.words)])
    reused = _transcribe(transcriber, mic, SR, (head, k), segs)
    n = len(head.words)
    assert reused.words[:n] == head.words
    assert not any(w.word.startswith("head") for w in reused.words[n:])  # ...and not repeated
    # the rest is the audio after the cut decoded on its own and placed on the turn's clock: the same decoding
    # as this run gives for that audio (compared after one normalisation, textnorm.TOLERANCE), shifted by the cut
    rest = transcriber.transcribe(mic[k:])
    tail = reused.words[n:]
    assert len(norm_words(rest.words)) >= 10
    assert_same_speech(tail, rest.words)
    assert min(w.start for w in tail) >= k / SR - 0.05
    assert tail[0].start == pytest.approx(rest.words[0].start + k / SR, abs=0.05)
    # no speech after the cut: the beginning is the whole transcript, nothing is decoded
    only_a = mic[: len(a) + SR // 2]
    assert _transcribe(transcriber, only_a, SR, (head, k), speech_segments(only_a, SR)) is head
    # no transcript of the beginning: the whole answer is decoded once, as the file path does
    whole = _transcribe(transcriber, mic, SR, None, segs)
    assert not any(w.word.startswith("head") for w in whole.words)
    assert min(w.start for w in whole.words) < k / SR < max(w.start for w in whole.words)


def test_barge_in_detector_on_synthetic_tracks():
    from voice_trainer.call.practice import BargeInDetector

    cfg = Config()
    ref = (np.sin(2 * np.pi * 200 * np.arange(SR * 2) / SR) * 0.3).astype(np.float32)
    quiet = np.zeros(SR * 2, np.float32)
    assert not BargeInDetector(cfg, 40.0)(quiet, ref)  # silence is no barge-in
    talk = quiet.copy()
    talk[SR: SR * 2] = (np.sin(2 * np.pi * 150 * np.arange(SR) / SR) * 0.2).astype(np.float32)
    det = BargeInDetector(cfg, 40.0)
    assert det(talk, ref)
    assert det.detected_s == pytest.approx(1.5, abs=0.05)  # first speech frame within the checked window
    angry = BargeInDetector(cfg, 95.0)
    assert not angry(talk, ref) and angry.detected_s is not None  # the caller pushes on; the moment is kept


# --- the caller cuts in (issue 17) -----------------------------------------------------------------------------


@pytest.mark.whisper
def test_caller_cuts_in_on_a_long_answer_without_acknowledgement(transcriber, tmp_path):
    import dataclasses

    from voice_trainer.report.html import render_html
    from voice_trainer.report.record import load_record

    ss = sample_set("late-package", "poor", SAMPLES)  # short answers (3-4 s) that never acknowledge the caller
    answers = [a.path for a in ss.answers[:2]]
    patient = Config()
    # a caller whose patience is shorter than the answers (the defaults are 9-15 s by difficulty)
    impatient = dataclasses.replace(patient, caller=dataclasses.replace(patient.caller, cut_in_after_s=[2.0] * 3))
    folder = SessionFolder(tmp_path / "cut", get_scenario("late-package"), impatient, mode="file", model="tiny.en",
                           seed=1)
    res = run_session(get_scenario("late-package"), impatient, transcriber, FileAnswers(answers, impatient),
                      baseline=None, seed=1, writer=folder)
    folder.finish(res.status, res)
    t1 = res.turns[0]
    assert t1.caller_line.cut_in_after_s == 2.0  # anger 60: the caller is angry enough to cut in
    first_word = next(w.start for w in t1.transcript.words if w.end > t1.audio.answer_start_s)
    assert t1.cut_in is not None and t1.cut_in["at_s"] == pytest.approx(first_word + 2.0, abs=0.01)
    assert t1.reply is not None and (t1.reply.stage == "interrupt" or t1.reply.final)
    assert any("cut in" in n for n in t1.nudges)
    rec = json.loads((tmp_path / "cut" / "turn_01.json").read_text())
    assert rec["reaction"]["caller_cut_in"] == t1.cut_in  # recorded...
    page = render_html(load_record(tmp_path / "cut"), tmp_path / "cut.html", impatient)
    assert "The caller cut in at" in page  # ...and shown in the report
    # ...and heard: the cut-in line is on the caller channel (left) of the turn's WAV at the cut-in time, over the
    # answer, where the caller was silent before (issue 30)
    import soundfile as sf

    from voice_trainer.report.export import transcript_cues

    wav, wav_sr = sf.read(str(tmp_path / "cut" / "turn_01.wav"), dtype="float32")
    at = t1.cut_in["at_s"]
    caller_ch, trainee_ch = wav[:, 0], wav[:, 1]
    win = slice(int(at * wav_sr), int((at + 0.8) * wav_sr))
    assert t1.audio.caller_end_s < at - 0.5  # the caller had finished long before: silence there without the cut-in
    assert np.sqrt(np.mean(caller_ch[win] ** 2)) > 0.01
    assert np.sqrt(np.mean(caller_ch[int(t1.audio.caller_end_s * wav_sr) + 800: int((at - 0.1) * wav_sr)] ** 2)) < 1e-3
    assert np.sqrt(np.mean(trainee_ch[win] ** 2)) > 0.005  # the answer goes on under it
    line = rec["reaction"]["caller_cut_in"]["line"]
    assert line["text"] == t1.reply.text and line["start_s"] == pytest.approx(at, abs=1e-3)
    cues = transcript_cues(load_record(tmp_path / "cut"))
    assert any(c.speaker == "caller" and c.turn == 1 and abs(c.start - at) < 2e-3 and c.text == t1.reply.text
               for c in cues)
    from voice_trainer.report.export import to_vtt

    assert t1.reply.text.split()[0] in to_vtt(cues)
    # the same answers to a patient caller: nobody cuts in
    calm = run_session(get_scenario("late-package"), patient, transcriber, FileAnswers(answers, patient), seed=1)
    assert all(t.cut_in is None and t.caller_line.stage != "interrupt" for t in calm.turns)
