"""The HTML report: one self-contained file that works offline.

Per turn: an audio player for the stereo turn (compressed to Ogg Opus and embedded as a data URI, see
``media.py``; or the WAV linked relatively when asked, or when the session is larger than
``report.embed_audio_max_mb``); an SVG plot of the waveform, what was said (red flags, techniques), the trainee's
pitch and loudness relative to their calm voice with the calm band, interruptions and dead air, with a legend of
every mark drawn; the transcript with techniques and red flags highlighted, each word seeking the audio when
clicked; what went well and what to change with clickable times (each on the start of the word it quotes); the
caller's anger change and its reasons; trainer notes. A missing or unreadable recording is said so in its turn.
For the call: the scores, the session focus and the caller's anger curve with its bands named.

Safety: every string from a transcript, a scenario file or a note goes through :func:`html.escape`; the one
inline script and style are pinned by a Content-Security-Policy hash, so injected markup could not run even if
it slipped through. No network: no CDN, no fonts, no external files other than (optionally) the turns' WAVs.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import urllib.parse
from html import escape
from pathlib import Path

import numpy as np

from ..atomic import write_text_atomic
from ..config import Config
from ..errors import UserError
from ..model_files import describe
from .composer import CallFeedback, compose
from .curves import speech_start_times, turn_curves
from .feedback import TECHNIQUE_TEXT, TECHNIQUES, Item, technique_name
from .media import AudioFile, encode, read_audio
from .record import ReportRecord, TurnView, load_record
from .svg import line_chart, plot_legend, turn_plot

MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".opus": "audio/ogg",
        ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/mp4", ".webm": "audio/webm"}

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:980px;padding:16px;
color:#1d2330;background:#fafbfc;overflow-wrap:anywhere}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:.2em 0}h3{font-size:1em;margin:.8em 0 .3em}
.meta{color:#5b6475;font-size:.9em}.scores{display:flex;gap:12px;margin:12px 0;flex-wrap:wrap}
.score{background:#fff;border:1px solid #d9dde5;border-radius:8px;padding:8px 14px;min-width:110px;text-align:center}
.score b{display:block;font-size:1.8em}.good{color:#1a7f37}.mid{color:#9a6700}.bad{color:#cf222e}
.na{fill:#8a93a3;color:#8a93a3;font-size:13px}
.missing{background:#fff1f0;border-left:4px solid #cf222e;padding:6px 10px}
section.turn{background:#fff;border:1px solid #d9dde5;border-radius:10px;padding:12px 16px;margin:18px 0}
audio{width:100%;margin:6px 0}svg{width:100%;height:auto;display:block}
.plot{overflow-x:auto;max-width:100%}.plot svg{min-width:720px}
.panel{fill:#f4f6f9;stroke:#d9dde5}.grid{stroke:#e3e6eb;stroke-width:1}
.tick,.legend,.axis,.ptitle,.bandname{font-size:13px;fill:#5b6475}.ptitle{fill:#1d2330}.axis{fill:#1d2330}
.wcaller{fill:#9aa3b2;opacity:.55}.wagent{fill:#2f6fde;opacity:.6}
.band{fill:#2da44e;opacity:.16}.baseline{stroke:#2da44e;stroke-dasharray:4 3}
.pitch{fill:none;stroke:#8250df;stroke-width:1.6}.level{fill:none;stroke:#bc4c00;stroke-width:1.6}
.intr{fill:#bf3989;opacity:.12;cursor:pointer}.overlap{fill:#bf3989;opacity:.38;cursor:pointer}
.dead{fill:#d4a72c;opacity:.25;cursor:pointer}.flagmark{fill:#cf222e;cursor:pointer}.techmark{fill:#2da44e;
opacity:.75;cursor:pointer}.flagline{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:3 3}
.playhead{stroke:#1d2330;stroke-width:1.5}svg.turnplot{cursor:crosshair}
.transcript{background:#f6f8fa;border-radius:6px;padding:8px 10px;line-height:1.9}
.w{cursor:pointer;border-radius:3px;padding:1px 0}.w:hover{background:#dbe7fb}.w.now{background:#ffe58a}
.tech{background:#d6f5dd;border-bottom:2px solid #2da44e}.flag{background:#ffdcd7;border-bottom:2px solid #cf222e}
.caller{color:#5b6475;font-style:italic}
.focus{background:#fff8e6;border:1px solid #e8d49a;border-radius:10px;padding:8px 16px;margin:14px 0}
.example{margin:.2em 0 .6em;color:#1d2330}ul.fb{padding-left:1.2em;margin:.2em 0}ul.fb li{margin:.25em 0}
ol{padding-left:1.4em}
button.ts{font:inherit;font-size:.85em;border:1px solid #c4cad4;background:#fff;border-radius:4px;cursor:pointer;
padding:0 5px}.tn{color:#0a58ca;font-size:.85em}.tip{color:#5b6475}
.note{background:#fbefff;border-left:4px solid #8250df;padding:6px 10px;margin:6px 0;white-space:pre-wrap}
.legendbox span{margin-right:14px;font-size:.9em;display:inline-block;white-space:nowrap}.plotlegend{margin:4px 0}
.key{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle;margin-right:4px}
.k-tech{background:#d6f5dd}.k-flag{background:#ffdcd7}.k-intr{background:#f0cfe2}.k-overlap{background:#d98bb8}
.k-dead{background:#f0dca0}.k-band{background:#cdebd5}.k-pitch{background:#8250df}.k-level{background:#bc4c00}
.k-caller{background:#c6cbd3}.k-agent{background:#86a9ec}.k-flagmark{background:#cf222e}.k-techmark{background:#5cbf7a}
svg path.line{fill:none;stroke-width:2.2}.pt{stroke:#fff;stroke-width:1.5}.d1{stroke-dasharray:8 4}
.d2{stroke-dasharray:2 3}.d3{stroke-dasharray:10 3 2 3}
.s0{stroke:#1d2330;fill:#1d2330}.s1{stroke:#2f6fde;fill:#2f6fde}.s2{stroke:#2da44e;fill:#2da44e}
.s3{stroke:#bc4c00;fill:#bc4c00}.s4{stroke:#8250df;fill:#8250df}.s5{stroke:#cf222e;fill:#cf222e}
text.legend.s0,text.legend.s1,text.legend.s2,text.legend.s3,text.legend.s4,text.legend.s5{stroke:none}
.b-calm{fill:#2da44e;opacity:.08}.b-upset{fill:#d4a72c;opacity:.14}.b-furious{fill:#cf222e;opacity:.14}
.tablewrap{overflow-x:auto;max-width:100%}table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #e3e6eb;text-align:right;overflow-wrap:normal}
th{white-space:nowrap}td:first-child,th:first-child{text-align:left}
@media (max-width:600px){body{padding:8px;font-size:14px}section.turn{padding:8px 10px}
.score{min-width:0;flex:1 1 40%;padding:6px 8px}td,th{padding:3px 6px}}
"""

JS = """
(function(){
  function audioFor(el){return document.getElementById(el.getAttribute('data-audio'));}
  function seek(a,t){if(!a||!isFinite(t))return;a.currentTime=Math.max(0,t);follow(a);}
  document.addEventListener('click',function(ev){
    var el=ev.target.closest?ev.target.closest('[data-t]'):null;
    if(el){seek(audioFor(el),parseFloat(el.getAttribute('data-t')));ev.preventDefault();return;}
    var svg=ev.target.closest?ev.target.closest('svg.turnplot'):null;
    if(!svg)return;
    var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal,x=(ev.clientX-r.left)/r.width*vb.width;
    var x0=+svg.getAttribute('data-x0'),x1=+svg.getAttribute('data-x1');
    var t0=+svg.getAttribute('data-t0'),t1=+svg.getAttribute('data-t1');
    if(x<x0||x>x1)return;
    seek(audioFor(svg),t0+(x-x0)/(x1-x0)*(t1-t0));
  });
  function follow(a){
    var t=a.currentTime;
    document.querySelectorAll('svg.turnplot[data-audio="'+a.id+'"]').forEach(function(svg){
      var x0=+svg.getAttribute('data-x0'),x1=+svg.getAttribute('data-x1');
      var t0=+svg.getAttribute('data-t0'),t1=+svg.getAttribute('data-t1');
      var x=x0+(Math.min(Math.max(t,t0),t1)-t0)/(t1-t0)*(x1-x0);
      var ph=svg.querySelector('.playhead');if(ph){ph.setAttribute('x1',x);ph.setAttribute('x2',x);}
    });
    document.querySelectorAll('.w[data-audio="'+a.id+'"]').forEach(function(w){
      var s=+w.getAttribute('data-t'),e=+w.getAttribute('data-end');
      w.classList.toggle('now',t>=s&&t<e);
    });
  }
  document.querySelectorAll('audio').forEach(function(a){
    a.addEventListener('timeupdate',function(){follow(a);});
    a.addEventListener('seeked',function(){follow(a);});
  });
})();
"""


def _e(x: object) -> str:
    return escape(str(x), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _cls(v: object) -> str:
    if not isinstance(v, int | float):
        return "na"
    return "good" if v >= 75 else "mid" if v >= 50 else "bad"


def _fmt(v: object) -> str:
    return f"{v:.0f}" if isinstance(v, int | float) else "-"


def _ts(t: float | None, audio_id: str | None) -> str:
    if t is None:
        return ""
    if not audio_id:
        return f"<span class=\"tsx\">{t:.1f} s</span>"
    return f'<button class="ts" type="button" data-t="{t:.3f}" data-audio="{_e(audio_id)}">{t:.1f} s</button>'


# ---------------------------------------------------------------------------------------------------------------
# Transcript with highlights and seekable words
# ---------------------------------------------------------------------------------------------------------------


def _word_spans(text: str, words: list[dict]) -> list[tuple[int, int, float, float]]:
    """Character spans of the timed words in ``text`` (found left to right; unmatched words are skipped)."""
    out = []
    low = text.lower()
    cur = 0
    for w in words:
        token = str(w.get("word", "")).strip()
        s, e = w.get("start"), w.get("end")
        if not token or not isinstance(s, int | float) or not isinstance(e, int | float):
            continue
        pos = low.find(token.lower(), cur)
        if pos < 0 or pos - cur > 40:
            continue
        out.append((pos, pos + len(token), float(s), float(e)))
        cur = pos + len(token)
    return out


def transcript_html(text: str, words: list[dict], listening: dict | None, audio_id: str | None) -> str:
    """The transcript as HTML: techniques (green) and red flags (red) highlighted from their character offsets;
    each recognised word is a span whose click seeks ``audio_id`` to the word's start."""
    if not text:
        return '<p class="transcript na">(no words recognised)</p>'
    marks: list[tuple[int, int, str, str]] = []
    for kind, key in (("tech", "techniques"), ("flag", "red_flags")):
        for d in (listening or {}).get(key) or []:
            a, b = d.get("char_start"), d.get("char_end")
            if isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= len(text):
                marks.append((a, b, kind, f"{d.get('label', d.get('id', ''))} ({technique_name(d.get('technique'))})"))
    spans = _word_spans(text, words) if audio_id else []
    cuts = sorted({0, len(text), *[m[0] for m in marks], *[m[1] for m in marks], *[s[0] for s in spans],
                   *[s[1] for s in spans]})
    out = ['<p class="transcript">']
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = _e(text[a:b])
        cls = [m[2] for m in marks if m[0] <= a and b <= m[1]]
        titles = [m[3] for m in marks if m[0] <= a and b <= m[1]]
        word = next((s for s in spans if s[0] <= a and b <= s[1]), None)
        attrs = ""
        classes = sorted(set(cls))
        if word is not None:
            classes.insert(0, "w")
            attrs += f' data-t="{word[2]:.3f}" data-end="{word[3]:.3f}" data-audio="{_e(audio_id)}"'
            titles.insert(0, f"{word[2]:.2f} s")
        if classes or titles:
            cl = f' class="{_e(" ".join(classes))}"' if classes else ""
            tt = f' title="{_e("; ".join(titles))}"' if titles else ""
            out.append(f"<span{cl}{tt}{attrs}>{piece}</span>")
        else:
            out.append(piece)
    out.append("</p>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------------------------


def _norm(token: str) -> str:
    return "".join(ch for ch in token.lower() if ch.isalnum())


def chip_time(start: float | None, quote: str, words: list[dict], window_s: float = 1.0) -> float | None:
    """Where a point's time chip seeks: the start of the quote's first word (the timed word nearest ``start``
    within ``window_s`` that matches it), so a click lands on what is quoted; else ``start`` itself."""
    if start is None or not quote.split():
        return start
    first = _norm(quote.split()[0])
    best = None
    for w in words:
        s = w.get("start")
        if isinstance(s, int | float) and first and _norm(str(w.get("word", ""))) == first \
                and abs(s - start) <= window_s and (best is None or abs(s - start) < abs(best - start)):
            best = float(s)
    return start if best is None else best


def _item_html(i: Item, audio_id: str | None, words: list[dict] | None = None) -> str:
    parts = [f"<b>{_e(i.what)}</b>"]
    if i.start is not None:
        parts.append(_ts(chip_time(i.start, i.quote or "", words or []), audio_id))
    if i.quote:
        parts.append(f"&ldquo;{_e(i.quote)}&rdquo;")
    if i.number:
        parts.append(f"({_e(i.number)})")
    if i.technique:
        parts.append(f'<span class="tn">{_e(i.technique_label)}</span>')
    s = " ".join(parts)
    if i.tip:
        s += f'<br><span class="tip">{_e(i.tip)}</span>'
    return f"<li>{s}</li>"


def _bands(tone: dict | None) -> tuple[tuple[float, float, float] | None, tuple[float, float, float] | None]:
    """(pitch band Hz, level band dBFS) from the tone components' baseline and threshold: the band reaches as far
    below the baseline as the threshold lies above it (in semitones for pitch, dB for level)."""
    pitch = level = None
    for c in (tone or {}).get("components") or []:
        b, t = c.get("baseline"), c.get("threshold")
        if not isinstance(b, int | float) or not isinstance(t, int | float) or c.get("withheld"):
            continue
        if c.get("id") == "raised_pitch" and b > 0 and t > 0:
            pitch = (b * b / t, float(b), float(t))
        elif c.get("id") == "raised_voice":
            level = (2 * b - t, float(b), float(t))
    return pitch, level


def _tracks(af: AudioFile, agent_channel: int, start_s: float,
            end_s: float | None) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(caller, trainee, sample rate) of the stretch ``start_s``..``end_s`` of a readable recording."""
    if af.error or af.left is None or af.right is None:
        return None
    sr = af.sample_rate
    a = int(max(start_s, 0) * sr)
    b = len(af.left) if end_s is None else int(end_s * sr)
    caller, agent = (af.left, af.right) if agent_channel == 1 else (af.right, af.left)
    return caller[a:b], agent[a:b], sr


def _embedded_src(af: AudioFile, cfg: Config) -> str | None:
    """The recording compressed (``report.audio_format``) as a data URI; None when it cannot be read."""
    if af.error or af.left is None or af.right is None:
        return None
    data, mime = encode(af.left, af.right, af.sample_rate, cfg.report.audio_format, cfg.report.audio_compression)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _linked_src(path: Path, out_dir: Path) -> str:
    rel = os.path.relpath(path.resolve(), out_dir.resolve())
    return urllib.parse.quote(Path(rel).as_posix())


def aligned_record(rec: ReportRecord, audio: dict[Path, AudioFile], cfg: Config) -> ReportRecord:
    """A copy of ``rec`` whose word starts sit on the trainee's voice (:func:`curves.speech_start_times`).

    Detections (techniques, red flags) that started at a moved word move with it, so every time chip equals
    the start of the word it quotes. Turns without a readable recording keep their times.
    """
    out = copy.copy(rec)
    out.turns = []
    for t in rec.turns:
        af = audio.get(t.audio) if t.audio is not None else None
        got = _tracks(af, t.agent_channel, t.start_s, t.end_s) if af is not None else None
        if got is None or not t.words:
            out.turns.append(t)
            continue
        _, agent, sr = got
        starts = speech_start_times(t.words, agent, sr, offset_s=t.start_s,
                                    floor_db=cfg.report.word_onset_floor_db)
        moved = {round(float(w["start"]), 3): s for w, s in zip(t.words, starts, strict=True)
                 if s is not None and s != w.get("start")}
        if not moved:
            out.turns.append(t)
            continue
        nt = copy.deepcopy(t)
        for w, s in zip(nt.words, starts, strict=True):
            if s is not None:
                w["start"] = s
        for key in ("techniques", "red_flags"):
            for d in (nt.listening or {}).get(key) or []:
                st = d.get("start")
                if isinstance(st, int | float) and round(float(st), 3) in moved:
                    d["start"] = moved[round(float(st), 3)]
        out.turns.append(nt)
    return out


def _notes_html(notes: list[dict]) -> str:
    out = []
    for n in notes:
        who = f" &mdash; {_e(n['author'])}" if n.get("author") else ""
        when = f' <span class="meta">{_e(n.get("created_at", ""))}</span>' if n.get("created_at") else ""
        out.append(f'<div class="note"><b>Trainer note{who}:</b>{when}\n{_e(n["text"])}</div>')
    return "".join(out)


def _focus_html(composed: CallFeedback) -> str:
    """The session focus as an ordered list (what, technique, evidence chips, better wording)."""
    if not composed.focus:
        return ""
    items = []
    for f in composed.focus:
        ev = "".join(
            f'<li>turn <a href="#turn-{int(e["turn"])}">{int(e["turn"])}</a>'
            + (f' at {float(e["start"]):.1f} s' if e.get("start") is not None else "")
            + (f' &ldquo;{_e(e["quote"])}&rdquo;' if e.get("quote") else "") + "</li>"
            for e in f.evidence)
        ex = f'<p class="example">Try: &ldquo;{_e(f.example)}&rdquo;</p>' if f.example else ""
        items.append(f'<li><b>{_e(f.what)}</b> <span class="tn">{_e(technique_name(f.technique))}</span>'
                     f'<ul class="fb">{ev}</ul>{ex}</li>')
    return '<section class="focus" id="focus"><h2>Work on first</h2><ol>' + "".join(items) + "</ol></section>"


def _turn_html(rec: ReportRecord, t: TurnView, cfg: Config, audio_id: str | None, src: str | None,
               af: AudioFile | None, composed: CallFeedback | None = None) -> str:
    sc = t.scores
    out = [f'<section class="turn" id="turn-{t.index}">']
    where = f" ({t.start_s:.1f}&ndash;{t.end_s:.1f} s)" if t.end_s is not None else ""
    out.append(f"<h2>Turn {t.index}{where}</h2>")
    out.append('<div class="meta">' + " &middot; ".join(
        f'{lab} <b class="{_cls(sc.get(k))}">{_fmt(sc.get(k))}</b>'
        for k, lab in (("calmness", "calmness"), ("listening", "listening"), ("turn_taking", "turn-taking")))
        + (f" &middot; caller anger {t.anger_before:.0f} &rarr; {t.anger_after:.0f}"
           if t.anger_before is not None and t.anger_after is not None else "") + "</div>")
    if t.caller_text:
        out.append(f'<p class="caller">Caller: &ldquo;{_e(t.caller_text)}&rdquo;</p>')
    if src:
        out.append(f'<audio id="{_e(audio_id)}" controls preload="metadata" src="{_e(src)}"></audio>')
    tt = t.turns or {}
    if t.audio is None:
        out.append('<p class="missing">No recording for this turn: its audio file is missing, so there is no '
                   "player and no plot.</p>")
    elif af is not None and af.error:
        out.append(f'<p class="missing">Recording broken: {_e(af.error)}. No player and no plot for this '
                   "turn.</p>")
    elif audio_id and af is not None:
        got = _tracks(af, t.agent_channel, t.start_s, t.end_s)
        curves = turn_curves(got[0], got[1], got[2], cfg, offset_s=t.start_s) if got else None
        if curves is None or curves.duration_s <= 0:
            out.append('<p class="missing">The recording holds no audio for this turn: no plot.</p>')
        else:
            pb, lb = _bands(t.tone)
            lis = t.listening or {}
            svg, marks = turn_plot(curves, audio_id=audio_id, t0=t.start_s, pitch_band=pb, level_band=lb,
                                   interruptions=tt.get("interruptions") or [], dead_air=tt.get("dead_air") or [],
                                   red_flags=lis.get("red_flags") or [], techniques=lis.get("techniques") or [],
                                   title=f"Turn {t.index}: waveform, pitch and loudness")
            out.append(f'<div class="plot">{svg}</div>')
            out.append(plot_legend(marks))
            if pb is None or lb is None:
                out.append('<p class="meta">No calm baseline for '
                           + " and ".join(x for x, b in (("pitch", pb), ("loudness", lb)) if b is None)
                           + " in this turn: the scale is relative to this turn's median and no band is drawn.</p>")
    out.append("<h3>What you said</h3>")
    out.append(transcript_html(t.transcript, t.words, t.listening, audio_id))
    pts = (composed or compose(rec, cfg.report)).for_turn(t.index)
    good, change = (pts.went_well, pts.to_change) if pts else ([], [])
    out.append("<h3>Went well</h3>")
    out.append('<ul class="fb good-list">' + "".join(_item_html(i, audio_id, t.words) for i in good) + "</ul>"
               if good else '<p class="meta">Nothing stood out in this turn.</p>')
    out.append("<h3>What to change</h3>")
    out.append('<ul class="fb change-list">' + "".join(_item_html(i, audio_id, t.words) for i in change) + "</ul>"
               if change else '<p class="meta">Nothing to change in this turn.</p>')
    cut = t.caller_cut_in
    if cut and _num_or_none(cut.get("at_s")) is not None and _num_or_none(cut.get("limit_s")) is not None:
        out.append(f'<p class="caller cut-in">The caller cut in at {float(cut["at_s"]):.1f} s: you had talked for '
                   f'{float(cut["limit_s"]):.0f} s without acknowledging them.</p>')
    if t.anger_changes:
        out.append("<h3>How the caller reacted</h3><ul class=\"fb\">" + "".join(
            f"<li>{float(c.get('delta', 0)):+.1f} anger: {_e(c.get('detail') or c.get('reason', ''))}</li>"
            for c in t.anger_changes if isinstance(c, dict)) + "</ul>")
    if t.reply:
        out.append(f'<p class="caller">Caller replied: &ldquo;{_e(t.reply)}&rdquo;</p>')
    out.append(_notes_html([n for n in rec.notes if n.get("turn") == t.index]))
    out.append("</section>")
    return "".join(out)


def _num_or_none(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def render_html(rec: ReportRecord, out_path: str | os.PathLike, cfg: Config | None = None, *,
                embed_audio: bool | None = None) -> str:
    """The report of a loaded record as one HTML document.

    Parameters
    ----------
    rec : ReportRecord
    out_path : path-like
        Where the file will be written (relative audio links are made from its folder).
    cfg : Config, optional
    embed_audio : bool, optional
        Embed the audio as data URIs (True) or link it relatively (False); default: embed up to
        ``report.embed_audio_max_mb`` in total.
    """
    cfg = cfg or Config()
    out_dir = Path(out_path).parent
    files: list[Path] = []
    for t in rec.turns:
        if t.audio is not None and t.audio not in files:
            files.append(t.audio)
    audio = {f: read_audio(f) for f in files}
    rec = aligned_record(rec, audio, cfg)
    srcs: dict[Path, str | None] = {}
    if embed_audio is not False:
        srcs = {f: _embedded_src(af, cfg) for f, af in audio.items()}
        total = sum(len(x) * 3 / 4 for x in srcs.values() if x)
        if embed_audio is None and total > cfg.report.embed_audio_max_mb * 1e6:
            srcs = {}
    if not srcs:
        srcs = {f: None if af.error else _linked_src(f, out_dir) for f, af in audio.items()}
    s = rec.scores or {}
    body = [f"<h1>{_e(rec.title)}</h1>"]
    meta = [x for x in (rec.created_at, rec.mode and f"mode {rec.mode}", rec.status and f"status {rec.status}",
                        rec.outcome and f"outcome {rec.outcome}", rec.model and f"model {rec.model}") if x]
    body.append(f'<p class="meta">{_e(" · ".join(meta))}</p>')
    if rec.model_files:
        body.append(f'<p class="meta models">models: {_e(describe(rec.model_files))}</p>')
    if rec.scenario.get("summary"):
        body.append(f"<p>{_e(rec.scenario['summary'])}</p>")
    for r in rec.recovered:
        body.append(f'<p class="meta">Recovered: {_e(r)}</p>')
    for r in rec.warnings:
        body.append(f'<p class="meta">Warning: {_e(r)}</p>')
    body.append('<div class="scores">' + "".join(
        f'<div class="score" id="score-{k}">{lab}<b class="{_cls(s.get(k))}">{_fmt(s.get(k))}</b></div>'
        for k, lab in (("overall", "Overall"), ("calmness", "Calmness"), ("listening", "Listening"),
                       ("turn_taking", "Turn-taking"))) + "</div>")
    if rec.scores_source == "turns":
        body.append('<p class="meta">No end-of-call scorecard was saved; these are the means of the turns.</p>')
    cont = s.get("contagion")
    if isinstance(cont, dict) and cont.get("tip") and not cont.get("withheld"):
        body.append(f'<p>Tone contagion: {_e(cont["tip"])} <span class="tn">{_e(technique_name(4))}</span></p>')
    composed = compose(rec, cfg.report)
    body.append(_focus_html(composed))
    body.append(_notes_html([n for n in rec.notes if n.get("turn") is None]))
    anger = rec.anger_points()
    if anger:
        reasons = {t.index: "; ".join(f"{float(c.get('delta', 0)):+.0f} {c.get('detail') or c.get('reason')}"
                                      for c in t.anger_changes if isinstance(c, dict)) for t in rec.turns}
        titles = [f"{'start' if i == 0 else f'after turn {i}'}: anger {a:.0f}"
                  + (f" ({reasons[i]})" if reasons.get(i) else "") for i, a in anger]
        cc = cfg.caller
        body.append("<h2>Caller's anger over the call</h2>")
        chart = line_chart({"anger": [a for _, a in anger]}, ["start" if i == 0 else f"turn {i}" for i, _ in anger],
                           title="Caller anger (0 calm to 100 furious) after each turn",
                           bands=[(0.0, cc.band_upset_at, "b-calm", "calm"),
                                  (cc.band_upset_at, cc.band_furious_at, "b-upset", "upset"),
                                  (cc.band_furious_at, 100.0, "b-furious", "furious")],
                           point_titles={"anger": titles}, css_class="chart anger", height=220,
                           y_title="caller anger (0-100)", x_title="after each turn")
        body.append(f'<div class="plot">{chart}</div>')
    if rec.kind == "call_review":
        for n in rec.extra.get("notes") or []:
            body.append(f'<p class="meta">{_e(n)}</p>')
    body.append('<p class="legendbox">In the transcripts: <span><i class="key k-tech"></i>technique heard</span>'
                '<span><i class="key k-flag"></i>red flag</span> '
                "<span>Click a word, a time or the plot to play from there.</span></p>")
    shared = rec.kind == "call_review"
    if shared and files:
        if srcs[files[0]]:
            body.append(f'<audio id="audio-call" controls preload="metadata" src="{_e(srcs[files[0]])}"></audio>')
        else:
            body.append(f'<p class="missing">Recording broken: {_e(audio[files[0]].error)}.</p>')
    for t in rec.turns:
        af = audio.get(t.audio) if t.audio is not None else None
        if t.audio is None or af is None or af.error:
            audio_id, src = None, None
        elif shared:
            audio_id, src = "audio-call", None
        else:
            audio_id, src = f"audio-{t.index}", srcs[t.audio]
        body.append(_turn_html(rec, t, cfg, audio_id, src, af, composed))
    if not rec.turns:
        body.append('<p class="meta">This session has no completed turns.</p>')
    body.append("<h2>Techniques</h2><ol>" + "".join(f"<li><b>{_e(TECHNIQUES[n])}</b>: {_e(TECHNIQUE_TEXT[n])}</li>"
                                                    for n in range(1, 11)) + "</ol>")
    csp = (f"default-src 'none'; img-src data:; media-src data: file: 'self'; style-src {_csp_hash(CSS)}; "
           f"script-src {_csp_hash(JS)}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e('voice-trainer report: ' + rec.title)}</title><style>{CSS}</style></head>\n<body>"
            + "\n".join(body) + f"\n<script>{JS}</script></body></html>\n")


def write_html(session_dir: str | os.PathLike | ReportRecord, out_path: str | os.PathLike,
               cfg: Config | None = None, *, embed_audio: bool | None = None) -> Path:
    """Write the HTML report of a session folder (or a ``review --json`` file, or a loaded record) atomically.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    UserError
        Not a session / review result, a corrupted one, or the output cannot be written.
    """
    rec = session_dir if isinstance(session_dir, ReportRecord) else load_record(session_dir)
    out = Path(out_path)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give the HTML file to write (e.g. {out / 'report.html'})")
    text = render_html(rec, out, cfg, embed_audio=embed_audio)
    try:
        write_text_atomic(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the report ({exc.strerror})") from None
    return out
