"""Every threshold and weight of voice-trainer, as one tree of dataclasses with documented defaults.

Each analysis room owns one section. A user overrides any value from a TOML file whose tables mirror the
sections, for example::

    [tone]
    raised_voice_db = 4.0

    [turns]
    min_interruption_s = 0.6

The file is found from ``--config FILE``, else ``$VOICE_TRAINER_CONFIG``, else
``$XDG_CONFIG_HOME/voice-trainer/config.toml`` (``~/.config/voice-trainer/config.toml``) when it exists.
Unknown keys and wrongly typed values are errors, so a typo never silently does nothing.

This module imports nothing of ours but :mod:`voice_trainer.inputs` (which imports nothing of ours).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .inputs import NestingError, loads_toml, read_input_text

SAMPLE_RATE = 16_000
"""The one analysis sample rate (Hz). Every track is resampled to it before analysis: Whisper and the Silero
VAD run at 16 kHz only, so it is a constant, not a setting. Every module takes it from here."""

# ---------------------------------------------------------------------------------------------------------------
# Sections. Units are in the field names (_s seconds, _hz hertz, _db decibels, _st semitones, _wpm words/minute).
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class AudioConfig:
    """Decoding and resampling."""

    min_duration_s: float = 0.3
    """Shorter input is rejected: too short to hold even a one-word answer ("yes" lasts about 0.3 s)."""
    chunk_s: float = 120.0
    """Long files are decoded and transcribed in chunks of this length, so memory stays bounded."""


@dataclass
class TranscribeConfig:
    """Whisper model choice and decoding options."""

    model: str = "tiny.en"
    """``tiny.en`` | ``base`` | a local CTranslate2 folder | a faster-whisper model name. ``$VOICE_TRAINER_MODEL``
    overrides this default."""
    language: str = "en"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0
    """0 means: the number of cores this process may use."""
    vad_filter: bool = True
    """Silero VAD before decoding; keeps Whisper from inventing words in silence."""
    vad_min_silence_ms: int = 500
    no_speech_prob_max: float = 0.6
    """Segments whose no-speech probability is above this AND whose mean log-probability is below
    ``low_logprob`` are dropped as likely hallucinations."""
    low_logprob: float = -1.0


@dataclass
class ToneConfig:
    """Tone analysis and calmness scoring (``voice_trainer/analysis/tone.py``).

    Calmness is judged against the trainee's own calm voice (a calibration profile, a calm recording or the
    session's first turn), never against absolute Hz or dB. Each component loses no points up to its threshold
    and all of its points at its ``_full`` value, linearly in between. Defaults follow the principle, not any
    data set: a raised voice is roughly +6 dB (normal -> raised -> loud -> shouted are ~6 dB steps), anger and
    effort raise pitch by several semitones, and a raised voice tilts the spectrum towards high frequencies by
    several dB (this survives the automatic gain control of phones, which flattens loudness).
    """

    # --- frame measurement -------------------------------------------------------------------------------
    pitch_tracker: str = "swift-f0"
    """``swift-f0`` (fast CNN with voicing confidence, MIT, the default) or ``pyin`` (librosa, ~15x slower)."""
    pitch_fmin_hz: float = 50.0
    """Lowest F0 searched (below a deep male voice, above mains hum harmonics that matter)."""
    pitch_fmax_hz: float = 800.0
    """Highest F0 searched (covers a shouting or screaming voice)."""
    voicing_threshold: float = 0.5
    """A frame is voiced when the tracker's voicing confidence is at least this (swift-f0 is calibrated at 0.5)."""
    periodicity_voiced: float = 0.99
    """A frame whose normalized autocorrelation at the tracked period is at least this counts as voiced
    whatever the tracker's confidence (near-perfectly periodic sound, e.g. a test tone; real speech almost never
    reaches it, so it adds no doubtful speech frames). Above 1 disables."""
    tilt_low_band_hz: tuple[float, float] = (50.0, 1000.0)
    """Low band of the alpha ratio (spectral tilt), as in eGeMAPS."""
    tilt_high_band_hz: tuple[float, float] = (1000.0, 5000.0)
    """High band of the alpha ratio; a raised voice puts relatively more energy here."""
    clip_level: float = 0.999
    """Samples at or above this absolute value count as clipped."""

    # --- summary ------------------------------------------------------------------------------------------
    activity_margin_db: float = 15.9
    """Frames within this many dB below the active speech level count as speech (ITU-T P.56 margin)."""
    silence_floor_dbfs: float = -70.0
    """Frames quieter than this are never speech."""
    min_voiced_s: float = 0.5
    """Pitch and spectral-tilt measures need at least this much voiced speech; otherwise they are withheld."""
    pitch_range_percentiles: tuple[float, float] = (5.0, 95.0)
    """F0 range is the distance between these percentiles of the voiced frames, in semitones."""
    pause_min_s: float = 0.25
    """A silence between words at least this long is a pause."""
    min_words_for_pace: int = 4
    """Pace needs at least this many words; otherwise it is withheld."""
    min_span_for_pace_s: float = 1.0
    """Pace needs speech spanning at least this long."""
    lead_in_s: float = 0.2
    """In a practice turn, tone is measured from this long before the trainee's first word (or first speech)."""
    clipped_note_fraction: float = 0.001
    """A note warns about microphone gain when more than this share of samples is clipped (0.1%)."""
    unvoiced_note_fraction: float = 0.2
    """A note warns that pitch may be withheld when less than this share of active speech is voiced."""

    # --- calmness components: weights (points) ------------------------------------------------------------
    weight_raised_voice: float = 25.0
    weight_raised_pitch: float = 25.0
    weight_vocal_effort: float = 20.0
    weight_pitch_swings: float = 15.0
    weight_rushed_pace: float = 15.0

    # --- calmness components: thresholds relative to the baseline -----------------------------------------
    raised_voice_db: float = 3.0
    """Active speech level this many dB above the baseline starts to cost points ..."""
    raised_voice_full_db: float = 12.0
    """... and this many dB above (between "loud" and "shouted") costs all of them."""
    raised_pitch_st: float = 2.0
    """Median F0 this many semitones above the baseline starts to cost points ..."""
    raised_pitch_full_st: float = 6.0
    """... and this many costs all of them."""
    vocal_effort_db: float = 2.0
    """Alpha ratio (spectral tilt) this many dB above the baseline starts to cost points ..."""
    vocal_effort_full_db: float = 8.0
    """... and this many costs all of them."""
    pitch_swings_st: float = 1.0
    """F0 variability (robust SD, semitones) this much above the baseline starts to cost points ..."""
    pitch_swings_full_st: float = 3.0
    """... and this much costs all of them."""
    rushed_pace_ratio: float = 1.15
    """Pace this many times the baseline pace starts to cost points ..."""
    rushed_pace_full_ratio: float = 1.5
    """... and this many times costs all of them."""
    pace_max_wpm: float = 160.0
    """Without a baseline pace, pace above this (top of the 120-160 wpm guideline) starts to cost points ..."""
    pace_full_wpm: float = 200.0
    """... and pace at this costs all of them."""

    # --- baseline and contagion ---------------------------------------------------------------------------
    calibration_s: float = 15.0
    """``voice-trainer calibrate`` (and ``practice --calibrate``) records this many seconds."""
    calibration_min_voiced_s: float = 2.0
    """``calibrate`` refuses a recording with less voiced speech than this (a profile needs a few sentences)."""
    calibration_pitch_hz: tuple[float, float] = (60.0, 400.0)
    """``calibrate`` refuses a median F0 outside this range: below and above any adult or child speaking voice
    (adult men speak around 85-180 Hz, women around 165-255 Hz)."""
    calibration_level_dbfs: tuple[float, float] = (-60.0, -3.0)
    """``calibrate`` refuses an active speech level outside this range: too quiet to measure, or at full scale
    (clipped or synthetic)."""
    calibration_min_pitch_range_st: float = 1.0
    """``calibrate`` refuses a recording whose F0 range (``pitch_range_percentiles``) is narrower than this: speech
    intonation moves the pitch by several semitones, a tone or a hum stays within a fraction of one."""
    calibration_max_clipped: float = 0.01
    """``calibrate`` refuses a recording with more than this share of samples at full scale (clipped)."""
    baseline_turns: int = 1
    """Without a profile, a session's first this-many turns with enough voiced speech form the baseline."""
    contagion_min_turns: int = 3
    """Tone contagion needs at least this many turns with both measures; otherwise it is withheld."""
    contagion_min_r: float = 0.5
    """Correlation between the caller's level and the trainee's loudness or pitch that counts as following."""
    contagion_rise_db: float = 3.0
    """Contagion when the trainee's level rises at least this much across the caller's range (with r above)."""
    contagion_rise_st: float = 2.0
    """Contagion when the trainee's median pitch rises at least this much across the caller's range."""


@dataclass
class ListeningConfig:
    """Active-listening and de-escalation language analysis (``analysis/listening/``).

    Phrase lexicons and score weights live in ``voice_trainer/data/listening.toml``; these are the thresholds.
    """

    lexicon_file: str = ""
    """A user TOML lexicon merged over the built-in one (same tables; lists are appended, scalars replaced).
    Empty: the built-in lexicon only."""
    min_confidence: float = 0.5
    """Detections below this confidence (0-1) are not reported."""
    negation_window_words: int = 6
    """A negation cue at most this many words before a match, in the same clause, cancels it
    ("I'm not going to tell you to calm down")."""
    rescue_window_sentences: int = 1
    """A red flag such as "it's our policy" is dropped when an alternative (a next step, a choice, a referral)
    follows within this many sentences."""
    paraphrase_min_overlap: float = 3.0
    """Weighted count of the caller's content words (by stem or synonym group) a sentence must restate to count
    as a paraphrase without a restating frame ("so you ...", "it sounds like ...")."""
    paraphrase_frame_min_overlap: float = 1.0
    """The same count needed when the sentence opens with a restating frame."""
    paraphrase_named_weight: float = 2.0
    """Weight of a number or a named thing (order id, product name) in that count; plain content words weigh 1."""
    fact_min_coverage: float = 0.5
    """A scenario fact counts as restated when this fraction of its content words is found in the reply."""
    stock_tail_min_content: int = 3
    """A stock phrase ("I understand") is specific when it is followed, in its sentence or the next, by at least
    this many content words, or by one of the caller's own words, a number or a feeling word."""
    red_flag_cap_per_flag: float = 20.0
    """Each red flag lowers the highest listening score a reply (or a call) can get by this many points: with
    the default, one red flag caps it at 80, three at 40, five or more at 0, whatever else went well."""
    learned_model: bool = True
    """Also run the learned detectors (``listening_model.py``: sentence encoder + trained heads) for restating,
    acknowledging, ownership and red flags whose wording varies; their thresholds are in
    ``data/listening_model/heads.json``. Off: the phrase rules only (no model is loaded)."""
    use_embeddings: bool = False
    """Also accept a sentence about "you" whose embedding similarity to the caller's line reaches
    ``embedding_min_similarity`` as a paraphrase. Needs an ``embedder`` passed to ``analyze_listening`` (Python API):
    on the development data raw similarity did not improve paraphrase F1; the trained pair head of
    ``learned_model`` is what ships."""
    embedding_min_similarity: float = 0.5
    """Cosine similarity between a reply sentence and the caller's line that counts as a restatement when
    ``use_embeddings`` is on."""


@dataclass
class TurnsConfig:
    """Turn-taking: voice activity, interruptions, response latency, dead air, echo suppression.

    Times in seconds. The VAD values follow the pipecat convention: speech must last ``vad_start_s`` to open a
    segment and silence must last ``vad_stop_s`` to close it.
    """

    vad_backend: str = "silero"
    """``silero`` (the Silero model bundled with faster-whisper; chosen by measurement, see bench/eval_turns.py)
    | ``energy`` (frame level above the track's noise floor) | ``webrtc`` (needs the ``webrtcvad`` extra)."""
    vad_threshold: float = 0.4
    """Silero speech probability that opens a segment (below Silero's usual 0.5: telephone-band speech gets
    lower probabilities, and 0.5 missed soft turn openings on a real call)."""
    vad_neg_threshold: float = 0.25
    """Silero probability below which a frame is silence once a segment is open (hysteresis)."""
    vad_start_s: float = 0.1
    """Shortest speech that counts as a segment (shorter blips are dropped)."""
    vad_stop_s: float = 0.3
    """Silence that closes a segment; shorter pauses between words stay inside one segment."""
    vad_pad_s: float = 0.03
    """Padding added to each side of a segment (never across a neighbour)."""
    word_voice_slack_s: float = 0.1
    """A Whisper word may start up to this long before the voice onset the VAD found in the trainee's track (or
    end this long after its voice offset) and keep its time; a word further out is moved onto the voice
    (:mod:`voice_trainer.analysis.word_timing`; each move is listed in the transcript's ``word_timing``). Whisper
    starts the first word after a silence 0.3-0.4 s early on the canned answers (bench/bench_word_timing.py);
    0.1 s leaves the segmenter's own frame (32 ms) and padding (``vad_pad_s``) untouched."""
    energy_margin_db: float = 15.0
    """Energy backend: a frame is speech when it is this far above the track's noise floor (10th percentile)."""
    energy_floor_dbfs: float = -55.0
    """Energy backend: frames quieter than this are never speech, whatever the noise floor."""
    webrtc_mode: int = 2
    """webrtcvad aggressiveness, 0 (least) - 3 (most)."""
    min_interruption_s: float = 0.5
    """Speech started while the other party talks is an interruption when it lasts at least this long ..."""
    min_interruption_words: int = 3
    """... or holds at least this many words."""
    backchannel_max_words: int = 2
    """Speech of at most this many words, all of them listening tokens ("mm-hm", "okay", "right"), is a
    backchannel: it never counts as an interruption and does not take the turn."""
    backchannel_words: tuple[str, ...] = (
        "mm", "mhm", "mm-hm", "mmhm", "hmm", "uh-huh", "uh", "huh", "um", "okay", "ok", "yeah", "yes", "yep",
        "right", "sure", "i", "see", "oh", "ah", "got", "it", "alright", "all", "wow",
    )
    """Listening tokens (lower case, punctuation stripped)."""
    untranscribed_backchannel_s: float = 1.0
    """A sound shorter than this that the recogniser left without any words (a quiet "mm-hm") is a
    backchannel, not an interruption (only when a transcript was given; without one, duration decides)."""
    simultaneous_start_s: float = 0.2
    """Both parties starting within this long of each other is a simultaneous start: reported as such, never
    as one party interrupting the other."""
    tail_overlap_s: float = 0.3
    """Starting less than this before the other party's last word ends is normal turn-taking, not cutting in."""
    backchannel_resume_s: float = 1.0
    """Short speech is a backchannel only when the other party goes on within this long after it."""
    dead_air_s: float = 3.0
    """Silence on both tracks at least this long while the caller waits for an answer is dead air."""
    slow_response_s: float = 2.0
    """A response latency (caller's end to agent's start) above this is slow."""
    interruption_penalty: float = 10.0
    """Points lost per interruption in the interruptions component (of ``weight_interruptions``)."""
    dead_air_penalty: float = 10.0
    """Points lost per dead-air stretch in the dead-air component (of ``weight_dead_air``)."""
    weight_interruptions: float = 30.0
    """Weight of not cutting in within the turn-taking score (the largest: letting the caller finish is the
    first de-escalation technique)."""
    weight_dead_air: float = 20.0
    """Weight of not leaving the caller waiting in silence within the turn-taking score."""
    weight_response_latency: float = 20.0
    """Weight of answering promptly within the turn-taking score (all points up to ``slow_response_s``, none at
    twice that)."""
    review_beam_size: int = 1
    """Whisper beam width when ``voice-trainer review`` transcribes the two tracks of a whole call. Greedy (1)
    keeps a 3-minute call under 10 s on 2 cores (bench/bench_review.py); the quotes and word counts the
    turn analysis needs barely change. 0 means: use ``[transcribe] beam_size``."""
    echo_max_delay_s: float = 0.5
    """Echo: the longest speaker-to-microphone delay searched (playback buffering plus air)."""
    echo_min_peak_ratio: float = 8.0
    """Echo is declared present when the cross-correlation peak is this many times the median |correlation|
    of the searched lags (a sharp peak: the microphone holds a delayed copy of the reference)."""
    echo_min_corr: float = 0.1
    """... and the aligned microphone and reference correlate at least this much (normalised, 0-1)."""
    echo_gate_margin_db: float = 0.0
    """After subtraction, a frame is gated to silence when its energy is less than this many dB above the
    energy of the echo expected in it: the echo dominates there, so what is left is residual echo (room
    reverberation the single-delay subtraction misses) and never counts as the trainee's voice. Raise it for
    a reverberant room; the trainee's own speech in such frames is lost from voice activity (not from the
    transcript)."""


@dataclass
class CallerConfig:
    """The simulated caller's anger dynamics (anger is 0-100; every step is in anger points per agent turn).

    Rises are scaled by the scenario's difficulty (``difficulty_up_scale[difficulty-1]``), falls by
    ``difficulty_down_scale``. A technique used again loses effect: its n-th use counts ``repeat_decay**(n-1)``
    (never below ``repeat_floor``), so repeating "I understand" does not soothe forever. Falls shrink as anger
    grows: multiplied by ``1 - calm_resistance * anger/100`` (a furious caller is harder to reach).
    """

    interrupt_up: float = 12.0
    """Agent cut in while the caller was speaking (technique 1)."""
    red_flag_up: float = 10.0
    """Each distinct red flag in the turn (blame, "calm down", policy wall, ...), times the scenario's trigger
    weight for that flag."""
    raised_voice_up: float = 8.0
    """The tone analysis found the agent's voice louder than their calm baseline (range 0-100 anger points, like
    every ``*_up``; 0 turns the reaction off)."""
    raised_pitch_up: float = 6.0
    """The tone analysis found the agent's pitch raised above their calm baseline: the caller hears the strain
    even when the level is flattened by the line's gain control (0-100)."""
    rushed_pace_up: float = 4.0
    """The tone analysis found the agent rushing against their calm pace (or above the 120-160 wpm guideline
    without a baseline pace): the caller feels brushed off (0-100)."""
    asked_again_up: float = 4.0
    """The agent asked again for a detail the caller already gave (an order number, a date): per detail
    (0-100)."""
    tense_tone_up: float = 4.0
    """Calmness score at or below ``tense_calmness`` (tone measured, and tense)."""
    dead_air_s: float = 3.0
    """Silence after the caller finished longer than this counts as dead air."""
    dead_air_up_per_s: float = 2.0
    """Anger per second of dead air beyond ``dead_air_s``..."""
    dead_air_up_max: float = 12.0
    """...capped at this."""
    no_progress_up: float = 2.0
    """A turn with no technique and no red flag: the caller grows impatient."""
    acknowledge_down: float = 8.0
    paraphrase_down: float = 4.0
    """Paraphrase technique seen, plus ``paraphrase_fact_down`` per scenario fact restated."""
    paraphrase_fact_down: float = 3.0
    paraphrase_max_facts: int = 3
    """Facts beyond this many in one turn add nothing more."""
    choices_down: float = 6.0
    timeline_down: float = 8.0
    """``resolution_timeline``: a concrete next step with a time."""
    choices_timeline_bonus: float = 4.0
    """Extra fall when choices and a timeline come in the same turn (the caller hears a real plan)."""
    ownership_down: float = 4.0
    question_down: float = 2.0
    confirm_down: float = 2.0
    thanks_down: float = 2.0
    let_vent_down: float = 3.0
    boundary_down: float = 3.0
    explain_limit_down: float = 3.0
    referral_down: float = 0.0
    """Offering a referral ends the call (outcome "referred"); it does not itself soothe."""
    calm_tone_down: float = 5.0
    """Calmness score at or above ``calm_calmness``."""
    calm_calmness: float = 0.7
    tense_calmness: float = 0.3
    repeat_decay: float = 0.6
    repeat_floor: float = 0.25
    calm_resistance: float = 0.3
    difficulty_up_scale: list[float] = field(default_factory=lambda: [0.85, 1.0, 1.2])
    difficulty_down_scale: list[float] = field(default_factory=lambda: [1.15, 1.0, 0.85])
    cut_in_from_anger: float = 60.0
    """From this anger on, the caller cuts in when the agent talks on without acknowledging them (the scenario's
    ``interrupt`` lines). Below it the caller lets the agent finish. Above 100: never."""
    cut_in_after_s: list[float] = field(default_factory=lambda: [15.0, 12.0, 9.0])
    """How long (s) the agent may talk, from their first word, before the caller cuts in, by scenario difficulty
    1-3 (a scenario's ``reactions.interrupt_after_s`` overrides it)."""
    cut_in_furious_factor: float = 0.6
    """In the furious band the caller's patience is this share of ``cut_in_after_s``."""
    band_upset_at: float = 34.0
    """Anger at or above this is the "upset" band (below it: "calm")."""
    band_furious_at: float = 67.0
    """Anger at or above this is the "furious" band."""
    scenario_dirs: list[str] = field(default_factory=list)
    """Extra folders of scenario ``*.toml`` files, searched after the built-in ones (like ``--scenarios-dir``)."""
    engine: str = "pyttsx3"
    """The caller's voice: ``"pyttsx3"`` (espeak-ng, the default, always installed) or ``"piper"`` (a natural
    neural voice: ``pip install 'voice-trainer[voice]'``; without that extra pyttsx3 is used, with a one-line
    notice). ``voice-trainer say --engine`` overrides it."""


@dataclass
class TTSConfig:
    """Caller voice rendering: anger 0-100 maps linearly between the calm and the furious end of each setting."""

    driver: str = ""
    """pyttsx3 driver; empty = the platform default (espeak on Linux, sapi5 on Windows, nsss on macOS)."""
    calm_rate_wpm: float = 155.0
    """Speaking rate at anger 0 (pyttsx3 ``rate``, words per minute)."""
    furious_rate_wpm: float = 240.0
    """Speaking rate at anger 100."""
    calm_volume: float = 0.55
    """pyttsx3 ``volume`` (0-1) at anger 0."""
    furious_volume: float = 1.0
    """Volume at anger 100 (1.0 is espeak's full amplitude without clipping)."""
    calm_pitch: float = 35.0
    """pyttsx3 ``pitch`` (0-100, espeak-ng only) at anger 0."""
    furious_pitch: float = 75.0
    """Pitch at anger 100."""
    cache: bool = True
    """Reuse rendered lines from ``<cache dir>/tts`` (keyed by a hash of the text, voice settings and engine)."""
    # --- piper (``[caller] engine = "piper"``): no emotion tags, so anger is applied to the sound ---
    piper_calm_length_scale: float = 1.12
    """Piper's phoneme length scale at anger 0 (above 1: slower); the persona's speed multiplies it."""
    piper_furious_length_scale: float = 0.78
    """Length scale at anger 100 (faster)."""
    piper_calm_semitones: float = -1.0
    """Pitch shift (semitones) at anger 0, on top of the persona's own shift."""
    piper_furious_semitones: float = 3.0
    """Pitch shift at anger 100 (higher)."""
    piper_calm_emphasis: float = 0.0
    """Emphasis 0-1 at anger 0: loudness compression (a pushed voice) and, from 0.5, sentences said as
    exclamations."""
    piper_furious_emphasis: float = 1.0
    """Emphasis at anger 100."""
    piper_threads: int = 0
    """onnxruntime intra-op threads for piper (0: onnxruntime's default, all cores)."""


@dataclass
class PracticeConfig:
    """Live practice: end of turn, answer length, devices (filled in by the practice session)."""

    # --- the duplex device stream (devices.py) ---
    stream_latency: str = "high"
    """PortAudio latency of the duplex stream: ``"high"``, ``"low"`` or seconds as text (``"0.2"``). Devices are
    opened at their native rate (44.1/48 kHz) and resampled to 16 kHz in code; 16 kHz with ``"low"`` underran
    through PulseAudio."""
    duplex_mode: str = "pair"
    """``"pair"``: an InputStream and an OutputStream, aligned through their callbacks' ADC/DAC times (the
    default: through PortAudio's ALSA route to PulseAudio one full-duplex Stream left the microphone 1.9 s
    stale for good, a backlog from its start-up stall). ``"single"``: one full-duplex ``sounddevice.Stream``
    (one clock; try it on a real sound card)."""
    max_input_delay_s: float = 0.25
    """The stream only counts as started when microphone audio reaches the callback less than this late (or
    twice PortAudio's nominal input latency, if larger): after its start-up stall PortAudio's ALSA route to
    PulseAudio first delivered the microphone 0.4-1.9 s late, then caught up."""
    block_s: float = 0.02
    """Fixed callback block length. With a variable block size PortAudio's ALSA route to PulseAudio called back
    with blocks of 1-2 frames."""
    warmup_s: float = 0.3
    """The stream counts as started once callbacks have arrived without a stall, and the callbacks' ADC/DAC
    times have agreed within ``timing_settle_ms``, for this long (PortAudio's ALSA route to PulseAudio stalls
    for 0.5-2 s just after start and then drains a backlog of input)."""
    timing_settle_ms: float = 10.0
    """Largest spread of the round-trip readings over the warm-up window for the stream to count as settled."""
    start_timeout_s: float = 10.0
    """No steady callbacks within this time after opening: the device is reported as unusable. Through the
    virtual PulseAudio devices the streams were steady 1.9-3.6 s after opening with three busy processes (load
    4.7, 8 opens), and once took over 6 s at load 5-7; a busy machine should get its call, not an error."""
    device_timeout_s: float = 2.0
    """After start, no fresh microphone block for this long (or the stream stopping by itself) means the device
    was lost (the call then ends as ``device_lost``)."""
    watch_sound_server: bool = True
    """Through PulseAudio/PipeWire (``pactl`` on the PATH): follow which source the microphone stream records
    from. When that source disappears, PulseAudio silently moves the recording elsewhere (here: to the caller's
    own output monitor); the call then ends as ``device_lost`` within a few tenths of a second."""
    loopback_corr: float = 0.95
    """The microphone counts as a copy of the caller's output (a loopback, not a microphone) when, over
    ``loopback_window_s`` of the caller's line, its normalised correlation with the played reference reaches
    this at a lag within ``loopback_max_lag_s``. A microphone hearing loudspeakers through air stays far below
    (room, speaker and microphone responses); a value above 1 turns the check off."""
    loopback_window_s: float = 1.0
    """Stretch of the caller's line (s) over which the loopback correlation is measured."""
    loopback_max_lag_s: float = 0.1
    """Largest lag (s) between the reference and the microphone still counted as "near-zero delay"."""
    loopback_min_dbfs: float = -40.0
    """The loopback check only runs while the reference (the caller) is at least this loud (dBFS RMS)."""
    busy_xruns: int = 10
    """This many audio dropouts (PortAudio under/overflows plus the sound library's own underrun reports)
    within ``busy_window_s`` show a "machine too busy" warning in the live status line."""
    busy_window_s: float = 5.0
    """Window (s) over which dropouts are counted for the busy warning."""
    fade_out_s: float = 0.05
    """Barge-in: the caller's playback fades to silence over this time instead of clicking off."""
    poll_s: float = 0.05
    """How often a turn checks barge-in and end-of-turn while recording."""
    meter_window_s: float = 0.1
    """Window of the live input level meter (dBFS RMS)."""
    # --- end of turn (the default energy endpointer; a VAD may replace it) ---
    end_silence_s: float = 0.8
    """The trainee's answer ends after this much silence following speech."""
    live_beam_size: int = 1
    """Whisper's beam size during live practice (0: ``transcribe.beam_size``). The transcript is on the reply's
    critical path: greedy decoding (1) decodes faster than a beam of 5 on a busy 2-core machine, at a small cost
    in accuracy; file mode, ``analyze`` and the answer decoded whole for the turn record (``redecode_answer``)
    keep ``transcribe.beam_size``."""
    live_window_min_s: float = 6.0
    """Live practice decodes the answer's stretches with Whisper's encoder window cut to the audio plus
    ``live_window_pad_s``, at least this long (s), instead of 30 s (the encoder costs the same whatever the
    speech length: 0.55 s vs 0.02 s for 4 s on the loaded test machine). On the canned answers and 40 Hi-Fi TTS
    clips (bench/bench_live_asr.py) word error stayed within a point of the 30 s window at 6 s + 2 s; 4 s
    windows made tiny.en loop. A decode that loops anyway is redone on the full window. 30 or more: always 30 s."""
    live_window_pad_s: float = 2.0
    """Padding (s) after the audio in the shortened live encoder window (see ``live_window_min_s``)."""
    live_temperature_fallback: bool = False
    """Live, a low-confidence decode is kept instead of being redone at up to five higher temperatures (what
    file mode does): on a short tail the retries tripled the decode time (0.8 -> 2.1 s under load)."""
    early_reaction: bool = True
    """Live, the caller's reply is decided as soon as the answer's words are transcribed and checked for
    listening, with tone and turn-taking as measured up to the answer's last pause, and the caller starts
    speaking while the complete analysis (what the turn record and the scores hold) finishes; the turn record
    says which analysis the reaction used (``reaction.basis``). False: the reply waits for the complete analysis."""
    piece_min_s: float = 4.0
    """While the trainee speaks, the answer is decoded in pieces cut at pauses; a new piece starts only after at
    least this much audio (s) since the previous cut. Pieces cut at every 0.2 s pause had 15.9 % word error on the
    canned answers (whole answers about 9 %), at least 4 s 11.9 %, at least 6 s 10.1 %; the last piece is decoded
    on the reply's critical path (p95 0.21 / 0.40 / 0.49 s at load 3.5; bench/bench_live_asr.py)."""
    redecode_answer: bool = True
    """Live, when the caller's reply was decided from words decoded with the live settings (in pieces cut at the
    answer's pauses, short windows, ``live_beam_size``), the turn record's analysis decodes the whole answer
    again, as file mode does (Whisper's 30 s window, ``transcribe.beam_size``), while the caller already
    speaks: on the canned answers and 40 read clips pieces cut at every pause had 12.9 % word error, whole
    answers 9.1 % with the live beam (1) and 8.8 % with beam 5 (bench/bench_live_asr.py, load 7.5)."""
    cut_in_heard_share: float = 0.75
    """Live, the caller only cuts in once the transcripts made during the answer cover at least this share of
    their patience (``caller.cut_in_after_s``) without an acknowledgement: on a busy machine, where the
    transcripts lag, a caller cuts in late rather than over an acknowledgement not yet transcribed."""
    max_hold_s: float = 5.0
    """After the end-of-turn silence the answer stays open until its analysis is ready, at most this much longer
    (s): words after a pause in that time stay in the same answer. The caller could not reply sooner anyway."""
    max_answer_s: float = 30.0
    """An answer is cut off after this long from the start of the answer window."""
    no_speech_timeout_s: float = 10.0
    """No speech at all for this long after the caller stops: the turn ends (dead air)."""
    speech_threshold_dbfs: float = -45.0
    """Lowest frame level (RMS dBFS, 20 ms frames) counted as speech by the energy endpointer."""
    noise_margin_db: float = 10.0
    """Speech must also be this far above the noise floor (10th percentile of frame levels heard so far)."""
    min_speech_s: float = 0.2
    """Speech frames adding up to this long are needed before the answer counts as started."""


@dataclass
class SessionConfig:
    """The practice call loop, shared by live practice and file mode (``call/session.py``)."""

    response_gap_s: float = 0.7
    """File mode: an answer without a given start begins this long after the caller's line ends."""
    barge_in_reaction_s: float = 0.3
    """The caller stops this long after the trainee starts talking over them (a person needs a moment)."""
    push_on_anger: float = 80.0
    """At or above this anger the caller talks on through a barge-in instead of stopping."""
    tail_s: float = 0.4
    """Silence kept after the last speech of a turn in its recording."""
    max_turns: int = 8
    """A practice call ends after this many trainee turns if the caller has not ended it."""
    raised_voice_component: str = "raised_voice"
    """The tone component whose lost points mean the caller hears a raised voice (``raised_pitch`` and
    ``rushed_pace`` are heard the same way, as a raised pitch and a rushed pace)."""
    raised_voice_points_lost: float = 0.1
    """Share of such a component's weight lost (0-1) from which the caller reacts to it. With the default tone
    thresholds 0.1 is a voice about 4 dB above the calm one, a pitch 2.4 semitones up, a pace 18 % faster. (It was
    0.5, half the points: a voice 5.8 dB louder lost 31 % and the caller did not hear it.)"""
    nudges_per_turn: int = 3
    """How many short on-screen nudges a turn gets at most."""
    nudge_weak_share: float = 0.6
    """A tone component scoring below this share of its weight (0-1) earns the turn a nudge with its tip."""
    weight_calmness: float = 1.0
    """Weight of calmness in the overall score (the overall is the weighted mean of the measured skills)."""
    weight_listening: float = 1.0
    """Weight of active listening in the overall score."""
    weight_turn_taking: float = 1.0
    """Weight of turn-taking in the overall score."""
    weight_outcome: float = 1.5
    """Weight of the call's outcome in the overall score (see ``outcome_*``): how the call went counts as much
    as one and a half skills, so a call the caller hung up on cannot outscore a resolved one handled alike."""
    outcome_resolved: float = 100.0
    """Outcome points (0-100) when the caller accepted a resolution."""
    outcome_referred: float = 60.0
    """Outcome points when the call was referred (a supervisor, another team): handled, not solved."""
    outcome_unfinished: float = 40.0
    """Outcome points when the call stopped before the caller ended it (turn limit, stopped session)."""
    outcome_hung_up: float = 0.0
    """Outcome points when the caller hung up."""
    barge_in_window_s: float = 0.5
    """Live: the stretch of microphone audio (after echo removal) checked for the trainee talking over the caller."""
    barge_in_min_s: float = 0.3
    """Live: this much speech within the window counts as a barge-in (shorter: a cough, a backchannel)."""
    resume_grace_s: float = 1.0
    """Live: a trainee who starts talking within this long (s) of the caller's first sound is going on with
    their answer (a pause that was not the end): the caller yields however angry, instead of pushing on."""
    early_asr_after_s: float = 0.2
    """Live: after this much silence following speech, transcription starts in the background, so the answer is
    ready when the end-of-turn silence (``practice.end_silence_s``) is complete."""


@dataclass
class ReportConfig:
    """Trainer review: terminal scorecard, HTML report and progress (``voice_trainer/report/``)."""

    good_share: float = 0.8
    """A score component that earned at least this share of its points is listed under "went well"."""
    change_share: float = 0.6
    """A score component that earned less than this share of its points is listed under "what to change"."""
    max_items: int = 2
    """At most this many "went well" and this many "what to change" points per turn, chosen by impact (red flags
    and talking over the caller first, then what this moment of the call needs); see ``report/composer.py``."""
    focus_points: int = 3
    """The session focus: at most this many things to work on first, across the whole call."""
    new_topic_share: float = 0.5
    """A caller line whose content words are at least this share new (not said earlier in the call) raises
    something new: restating and asking are asked for again even if an earlier turn did them."""
    reacknowledge_anger_rise: float = 5.0
    """When the caller's anger rose by at least this much since the previous turn, acknowledging the feeling
    is asked for again even if an earlier turn did it."""
    embed_audio_max_mb: float = 40.0
    """The HTML report embeds the turns' audio (compressed, base64) up to this total size; larger sessions link
    the WAVs relatively (the report then has to stay beside the session folder)."""
    audio_format: str = "opus"
    """How the HTML report embeds audio: ``opus`` (Ogg Opus) or ``mp3``, both written by libsndfile."""
    audio_compression: float = 0.95
    """libsndfile's compression level for the embedded audio, 0 (largest) to 1 (smallest); 0.95 is about
    30 kbit/s for a 16 kHz stereo turn with Opus (28 with MP3), clear for speech."""
    word_onset_floor_db: float = 30.0
    """The report moves a word's start onto the trainee's voice when Whisper put it in the silence before: a
    frame counts as voice when it is at most this many dB below the turn's loudest frame."""
    curve_points: int = 500
    """Most points drawn per curve (waveform, pitch, loudness) in the report's SVG plots."""
    loudness_smooth_s: float = 0.1
    """The loudness curve is the frame level averaged (in power) over this window."""


@dataclass
class WebConfig:
    """``voice-trainer serve``: limits on what a page may send over the call's WebSocket (``web/app.py``)."""

    idle_timeout_s: float = 30.0
    """A call whose page stops sending microphone audio (its audio falls this far behind the wall clock since
    the call started, in s) is ended: a stalled page must not hold the server's only call slot. Its finished
    turns are kept and the session is marked ``device_lost``, the error naming this setting."""
    max_audio_lead_s: float = 5.0
    """A page's microphone audio may run at most this far (s) ahead of the wall clock since the call started
    (a page sends in real time); a page sending faster is disconnected, so it cannot fill the server's memory."""
    max_buffer_s: float = 300.0
    """Most microphone (and played reference) audio held for a call (s); older audio is forgotten (a turn is
    never this long: ``practice.max_answer_s`` and the caller's line)."""
    max_frame_bytes: int = 65_536
    """Largest binary WebSocket message (microphone PCM, bytes; the page sends 640-byte 20 ms frames); a larger
    one disconnects the page."""
    max_message_bytes: int = 4_096
    """Largest text (JSON) message from the page (bytes); a longer one is answered with an error and ignored."""
    max_json_depth: int = 4
    """Deepest nesting of arrays and objects accepted in a page's JSON message (the page's messages are flat)."""


@dataclass
class Config:
    """The whole configuration tree."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    tone: ToneConfig = field(default_factory=ToneConfig)
    listening: ListeningConfig = field(default_factory=ListeningConfig)
    turns: TurnsConfig = field(default_factory=TurnsConfig)
    caller: CallerConfig = field(default_factory=CallerConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    practice: PracticeConfig = field(default_factory=PracticeConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    web: WebConfig = field(default_factory=WebConfig)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/voice-trainer/config.toml`` (``~/.config/...`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "voice-trainer" / "config.toml"


def config_dir() -> Path:
    """The user's voice-trainer config folder (voice profiles live here)."""
    return default_config_path().parent


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voice-trainer`` (``~/.cache/voice-trainer`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "voice-trainer"


def _check_type(value: object, hint: object, where: str) -> object:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (inner,) = typing.get_args(hint)[:1]
        items = [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return dict(value)
    return value


def _apply(obj: object, table: dict, file: str, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if key not in names:
            known = ", ".join(sorted(names)) or "(none)"
            raise ConfigError(f"{file}: {name}: unknown key {key!r}; known keys: {known}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{file}: {name}: expected a table")
            _apply(current, value, file, f"{name}.")
        else:
            setattr(obj, key, _check_type(value, hints[key], f"{file}: {name}"))


# --- value ranges -------------------------------------------------------------------------------------------------
# Checked after every override, so a value that would make an analysis meaningless (a negative duration, a
# threshold of -inf, a share above 1) is an error naming the file and the key, never a NaN in the output.

_SHARES = {
    "voicing_threshold", "no_speech_prob_max", "min_confidence", "fact_min_coverage", "embedding_min_similarity",
    "vad_threshold", "vad_neg_threshold", "echo_min_corr", "contagion_min_r", "calm_calmness", "tense_calmness",
    "repeat_decay", "repeat_floor", "calm_resistance", "calm_volume", "furious_volume", "raised_voice_points_lost",
    "piper_calm_emphasis", "piper_furious_emphasis",
    "good_share", "change_share", "calibration_max_clipped", "new_topic_share",
    "cut_in_furious_factor", "cut_in_heard_share", "audio_compression", "nudge_weak_share", "clipped_note_fraction",
    "unvoiced_note_fraction",
}
"""Values between 0 and 1."""
_POINTS_0_100 = {"outcome_resolved", "outcome_referred", "outcome_unfinished", "outcome_hung_up",
                 "red_flag_cap_per_flag", "reacknowledge_anger_rise"}
"""Values on the 0-100 score or anger scale."""
_POSITIVE = {
    "min_duration_s", "chunk_s", "pitch_fmin_hz", "pitch_fmax_hz", "clip_level", "calibration_s", "rushed_pace_ratio",
    "rushed_pace_full_ratio", "pace_max_wpm", "pace_full_wpm", "beam_size", "min_span_for_pace_s", "min_words_for_pace",
    "calm_rate_wpm", "furious_rate_wpm", "end_silence_s", "max_answer_s", "no_speech_timeout_s", "block_s",
    "poll_s", "meter_window_s", "start_timeout_s", "device_timeout_s", "max_turns", "echo_max_delay_s",
    "cut_in_after_s", "loopback_window_s", "busy_window_s", "busy_xruns",
    "echo_min_peak_ratio", "curve_points", "max_items", "loudness_smooth_s", "calibration_min_pitch_range_st",
    "focus_points", "idle_timeout_s", "max_audio_lead_s", "max_buffer_s", "max_frame_bytes", "max_message_bytes",
    "max_json_depth",
}
"""Values that must be above 0 (lengths, rates, counts that divide or bound a loop)."""
_PAIRS = [
    ("tone", "raised_voice_db", "raised_voice_full_db"),
    ("tone", "raised_pitch_st", "raised_pitch_full_st"),
    ("tone", "vocal_effort_db", "vocal_effort_full_db"),
    ("tone", "pitch_swings_st", "pitch_swings_full_st"),
    ("tone", "rushed_pace_ratio", "rushed_pace_full_ratio"),
    ("tone", "pace_max_wpm", "pace_full_wpm"),
    ("tone", "pitch_fmin_hz", "pitch_fmax_hz"),
    ("caller", "band_upset_at", "band_furious_at"),
]
"""(section, lower, upper): the first must be below the second (a component loses points between them)."""

# Every numeric setting also has an allowed range [low, high] (:func:`allowed_range`), so no value can make a
# command run away: a beam of 100000 (24 GB), chunks of a nanosecond (minutes of spinning), -1 threads. The
# upper ends are far above any sensible value; they only catch typos and hostile files.
MAX_SECONDS = 3600.0
"""Longest duration setting (``*_s``): one hour."""
MIN_CHUNK_S = 1.0
"""Shortest ``audio.chunk_s``: shorter chunks only multiply the per-chunk work."""
MAX_BEAM_SIZE = 16
"""Widest Whisper beam (``*beam_size``): memory and time grow with the beam; Whisper itself uses 5."""
MAX_CPU_THREADS = 256
"""Most ``transcribe.cpu_threads`` (0: the cores this process may use)."""
MAX_COUNT = 1000
"""Largest count setting (turns, words, items, dropouts, ...)."""
MAX_LEVEL_DB = 150.0
"""Largest level difference in dB (``*_db``); a level in dBFS (``*_dbfs``) is between minus this and 0."""
MAX_SEMITONES = 48.0
"""Largest pitch difference in semitones (``*_st``): four octaves."""
MAX_WPM = 1000.0
"""Fastest speaking rate (``*_wpm``)."""
MAX_WEIGHT = 1000.0
"""Largest score weight (``weight_*`` and other weights)."""
MAX_RATIO = 100.0
"""Largest ratio setting (pace ratios, difficulty scales, the echo peak ratio)."""
MAX_CURVE_POINTS = 100_000
"""Most points drawn per curve in the HTML report."""
MAX_EMBED_MB = 4096.0
"""Largest ``report.embed_audio_max_mb``."""
MAX_WS_BYTES = 16 * 2**20
"""Largest WebSocket message limit (``web.max_frame_bytes``, ``web.max_message_bytes``): 16 MiB, over eight minutes
of the page's 16 kHz PCM in one frame."""
MAX_JSON_DEPTH = 64
"""Deepest JSON nesting a setting may allow (``web.max_json_depth``; the page's own messages are flat)."""
_ANGER = (0.0, 100.0)
_LIMITS: dict[str, tuple[float, float]] = {
    "chunk_s": (MIN_CHUNK_S, MAX_SECONDS),
    "beam_size": (1, MAX_BEAM_SIZE),
    "review_beam_size": (0, MAX_BEAM_SIZE),
    "live_beam_size": (0, MAX_BEAM_SIZE),
    "cpu_threads": (0, MAX_CPU_THREADS),
    "piper_threads": (0, MAX_CPU_THREADS),
    "piper_calm_length_scale": (0.3, 3.0),
    "piper_furious_length_scale": (0.3, 3.0),
    "piper_calm_semitones": (-12.0, 12.0),
    "piper_furious_semitones": (-12.0, 12.0),
    "webrtc_mode": (0, 3),  # webrtcvad's aggressiveness levels
    "low_logprob": (-100.0, 0.0),  # a mean log-probability is at most 0
    "periodicity_voiced": (0.0, 2.0),  # a correlation; above 1 turns the rule off
    "loopback_corr": (0.0, 2.0),  # a correlation; above 1 turns the check off
    "clip_level": (0.0, 1.0),  # full scale is 1
    "pitch_range_percentiles": (0.0, 100.0),  # percentiles
    "difficulty_up_scale": (0.0, MAX_RATIO),
    "difficulty_down_scale": (0.0, MAX_RATIO),
    "rushed_pace_ratio": (0.0, MAX_RATIO),
    "rushed_pace_full_ratio": (0.0, MAX_RATIO),
    "echo_min_peak_ratio": (0.0, MAX_RATIO),
    "curve_points": (2, MAX_CURVE_POINTS),  # a curve needs two points
    "embed_audio_max_mb": (0.0, MAX_EMBED_MB),
    "cut_in_from_anger": (0.0, 2 * _ANGER[1]),  # above 100: never
    "calm_pitch": (0.0, 100.0),  # pyttsx3's pitch scale
    "furious_pitch": (0.0, 100.0),
    "paraphrase_min_overlap": (0.0, MAX_COUNT),
    "paraphrase_frame_min_overlap": (0.0, MAX_COUNT),
    "paraphrase_named_weight": (0.0, MAX_WEIGHT),
    "max_frame_bytes": (1, MAX_WS_BYTES),
    "max_message_bytes": (1, MAX_WS_BYTES),
    "max_json_depth": (1, MAX_JSON_DEPTH),
}
"""Settings whose range no rule of :func:`allowed_range` covers (or covers too loosely)."""
_ANGER_SUFFIXES = ("_up", "_down", "_bonus", "_penalty", "_up_max", "_up_per_s", "_anger", "_at")
"""Steps and levels on the 0-100 anger or points scale."""
_SUFFIX_RANGES: list[tuple[str, tuple[float, float]]] = [
    ("_dbfs", (-MAX_LEVEL_DB, 0.0)),
    ("_db", (-MAX_LEVEL_DB, MAX_LEVEL_DB)),
    ("_st", (-MAX_SEMITONES, MAX_SEMITONES)),
    ("_hz", (0.0, SAMPLE_RATE / 2)),
    ("_wpm", (0.0, MAX_WPM)),
    ("_ms", (0.0, 1000 * MAX_SECONDS)),
    ("_s", (0.0, MAX_SECONDS)),
]
"""Ranges by unit (the unit is in the name), in the order they are tried."""


def allowed_range(key: str, default: object = 0.0) -> tuple[float, float] | None:
    """The [low, high] range of the setting ``key`` (whose default is ``default``), or None if none is declared.

    In order: :data:`_LIMITS`, shares (0-1), points (0-100), anger steps, the unit in the name, weights, and any
    other whole number as a count (0 to :data:`MAX_COUNT`).
    """
    if key in _LIMITS:
        return _LIMITS[key]
    if key in _SHARES:
        return (0.0, 1.0)
    if key in _POINTS_0_100 or key.endswith(_ANGER_SUFFIXES):
        return _ANGER
    for suffix, rng in _SUFFIX_RANGES:
        if key.endswith(suffix):
            return rng
    if key.startswith("weight_"):
        return (0.0, MAX_WEIGHT)
    if isinstance(default, int) and not isinstance(default, bool):
        return (0, MAX_COUNT)
    return None


COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                 "bfloat16", "float32")
"""CTranslate2's quantization types (``transcribe.compute_type``); on a CPU the float16 ones fall back."""
_CHOICES: dict[str, tuple[str, ...]] = {
    "compute_type": COMPUTE_TYPES,
    "audio_format": ("opus", "mp3"),
    "engine": ("pyttsx3", "piper"),
}
"""Text settings with a fixed set of values."""


def _check_number(v: float, name: str, file: str, default: object = 0.0) -> None:
    key = name.rsplit(".", 1)[-1].split("[")[0]
    if isinstance(v, float) and not math.isfinite(v):
        raise ConfigError(f"{file}: {name}: must be a finite number, not {v!r}")
    if key in _SHARES and not 0.0 <= v <= 1.0:
        raise ConfigError(f"{file}: {name}: must be between 0 and 1, got {v!r}")
    if key in _POINTS_0_100 and not 0.0 <= v <= 100.0:
        raise ConfigError(f"{file}: {name}: must be between 0 and 100, got {v!r}")
    if key in _POSITIVE and v <= 0:
        raise ConfigError(f"{file}: {name}: must be above 0, got {v!r}")
    if v < 0 and (key.endswith(("_s", "_ms", "_hz", "_wpm", "_mb", "_words", "_turns", "_up", "_down", "_penalty",
                                "_points", "_overlap", "_weight", "_content", "_sentences", "_facts", "_per_turn"))
                  or key.startswith(("weight_", "min_", "max_"))):
        raise ConfigError(f"{file}: {name}: must not be negative, got {v!r}")
    if key.endswith("_dbfs") and v > 0:
        raise ConfigError(f"{file}: {name}: a level in dBFS is at most 0, got {v!r}")
    rng = allowed_range(key, default)
    if rng and not rng[0] <= v <= rng[1]:
        raise ConfigError(f"{file}: {name}: must be between {rng[0]:g} and {rng[1]:g}, got {v!r}")


def check_ranges(cfg: Config, file: str = "config") -> None:
    """Raise :class:`ConfigError` (``FILE: section.key: what is wrong``) for a value outside its range."""
    defaults = Config()
    for section in dataclasses.fields(cfg):
        sec = getattr(cfg, section.name)
        for f in dataclasses.fields(sec):
            v = getattr(sec, f.name)
            name = f"{section.name}.{f.name}"
            if f.name in _CHOICES and v not in _CHOICES[f.name]:
                raise ConfigError(f"{file}: {name}: {v!r} is not one of {', '.join(map(repr, _CHOICES[f.name]))}")
            default = getattr(getattr(defaults, section.name), f.name)
            default = default[0] if isinstance(default, list | tuple) and default else default
            values = v if isinstance(v, list | tuple) else [v]
            for i, x in enumerate(values):
                if isinstance(x, int | float) and not isinstance(x, bool):
                    _check_number(x, name if values is not v else f"{name}[{i}]", file, default)
            if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, float) for x in v) and not v[0] < v[1]:
                raise ConfigError(f"{file}: {name}: the first value must be below the second, got {list(v)}")
    for section, lo, hi in _PAIRS:
        sec = getattr(cfg, section)
        if not getattr(sec, lo) < getattr(sec, hi):
            raise ConfigError(f"{file}: {section}.{lo}: must be below {section}.{hi} "
                              f"({getattr(sec, lo)!r} is not below {getattr(sec, hi)!r})")
    if cfg.turns.vad_neg_threshold > cfg.turns.vad_threshold:
        raise ConfigError(f"{file}: turns.vad_neg_threshold: must not be above turns.vad_threshold")
    if cfg.caller.tense_calmness > cfg.caller.calm_calmness:
        raise ConfigError(f"{file}: caller.tense_calmness: must not be above caller.calm_calmness")
    if cfg.report.change_share > cfg.report.good_share:
        raise ConfigError(f"{file}: report.change_share: must not be above report.good_share")


def config_from_dict(data: dict, where: str = "config") -> Config:
    """Build a :class:`Config` from defaults overridden by a nested dict (as read from TOML).

    Raises
    ------
    ConfigError
        Unknown key, wrong type, or a value out of range; the message is ``WHERE: section.key: what is wrong``.
    """
    cfg = Config()
    _apply(cfg, data, where)
    check_ranges(cfg, where)
    return cfg


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load the configuration.

    Parameters
    ----------
    path : path-like, optional
        A TOML file. When None, ``$VOICE_TRAINER_CONFIG`` or the default path is used if it exists; otherwise
        the built-in defaults are returned.

    Raises
    ------
    ConfigError
        The file is missing (when given explicitly), is not valid TOML, or has unknown keys or wrong types.
    """
    explicit = path is not None or bool(os.environ.get("VOICE_TRAINER_CONFIG"))
    p = Path(path or os.environ.get("VOICE_TRAINER_CONFIG") or default_config_path())
    try:
        exists = p.exists()
    except OSError as exc:  # a folder on the way that this user may not enter (an unreadable ~/.config)
        where = "" if explicit else " (set $XDG_CONFIG_HOME or give --config FILE to use another)"
        raise ConfigError(f"{p}: cannot reach the config file ({exc.strerror}){where}") from None
    if not exists:
        if explicit:
            raise ConfigError(f"{p}: config file not found")
        cfg = Config()
    else:
        try:
            data = loads_toml(read_input_text(p))
        except NestingError as exc:
            raise ConfigError(f"{p}: {exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
        except OSError as exc:
            fix = "check the path" if explicit else "fix its permissions or give --config FILE"
            raise ConfigError(f"{p}: cannot read the config file ({exc.strerror}); {fix}") from None
        cfg = config_from_dict(data, where=str(p))
    env_model = os.environ.get("VOICE_TRAINER_MODEL")
    if env_model:
        cfg.transcribe.model = env_model
    return cfg


def to_dict(cfg: object) -> dict:
    """The config (or one section) as a plain nested dict, for session records."""
    return dataclasses.asdict(cfg)
