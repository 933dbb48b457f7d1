"""Inline SVG plots for the HTML report, written by hand (no plotting library, nothing fetched at view time).

Pure: numbers and strings in, SVG markup out. Every piece of text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from .curves import TurnCurves

W = 900
"""Plot width in SVG user units. The page shows a plot at least ``MIN_PX`` pixels wide (scrolling sideways on a
narrow screen), so text of ``FONT`` units is never smaller than ``FONT * MIN_PX / W`` pixels."""
MIN_PX = 720
FONT = 13
PAD_L, PAD_R = 64, 14

MARKS = {
    "caller": ("k-caller", "caller's voice"),
    "agent": ("k-agent", "your voice"),
    "band": ("k-band", "your calm band"),
    "pitch": ("k-pitch", "your pitch"),
    "level": ("k-level", "your loudness"),
    "flag": ("k-flagmark", "red flag (what you said)"),
    "tech": ("k-techmark", "technique heard"),
    "intr": ("k-intr", "you talked over the caller"),
    "overlap": ("k-overlap", "both talking at once"),
    "dead": ("k-dead", "dead air"),
}
"""Every mark a turn plot can draw: key -> (CSS class of its legend swatch, legend text)."""


def _e(x: object) -> str:
    return escape(str(x), quote=True)


def _x(t: float, t0: float, t1: float) -> float:
    span = max(t1 - t0, 1e-6)
    return PAD_L + (t - t0) / span * (W - PAD_L - PAD_R)


def _path(points: Sequence[tuple[float, float | None]], fx, fy) -> str:
    """An SVG path through the points, broken where the value is None."""
    d: list[str] = []
    pen = False
    for t, v in points:
        if v is None or not math.isfinite(v):
            pen = False
            continue
        d.append(f"{'L' if pen else 'M'}{fx(t):.1f},{fy(v):.1f}")
        pen = True
    return " ".join(d)


def nice_step(span: float, max_ticks: int, steps: Sequence[float] = (0.5, 1, 2, 3, 5, 6, 10, 12, 15, 20, 30, 60,
                                                                          120, 300, 600)) -> float:
    """The smallest step of ``steps`` that puts at most ``max_ticks`` ticks on ``span``."""
    return next((s for s in steps if span / s <= max_ticks), max(span / max_ticks, 1e-9))


def _ticks(t0: float, t1: float, y: float, y_top: float) -> str:
    step = nice_step(t1 - t0, 10)
    out = []
    t = math.ceil(t0 / step) * step
    while t <= t1 + 1e-9:
        x = _x(t, t0, t1)
        out.append(f'<line x1="{x:.1f}" y1="{y_top:.1f}" x2="{x:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{y + FONT + 2:.1f}" class="tick" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(f'<text x="{(PAD_L + W - PAD_R) / 2:.1f}" y="{y + 2 * FONT + 6:.1f}" class="axis" '
               'text-anchor="middle">time in the recording (s)</text>')
    return "".join(out)


def _yscale(y_top: float, h: float, lo: float, hi: float, step: float, unit: str, zero: str) -> tuple[str, object]:
    """Grid lines and labels of a relative scale (``0`` labelled ``zero``); returns (markup, value -> y)."""

    def fy(v: float) -> float:
        return y_top + h - (v - lo) / max(hi - lo, 1e-6) * h

    out = []
    v = math.ceil(lo / step) * step
    while v <= hi + 1e-9:
        y = fy(v)
        lab = zero if abs(v) < 1e-9 else f"{v:+g} {unit}"
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{PAD_L - 5}" y="{y + FONT / 2 - 2:.1f}" class="tick" text-anchor="end">{_e(lab)}</text>')
        v += step
    return "".join(out), fy


def turn_plot(
    c: TurnCurves,
    *,
    audio_id: str,
    t0: float = 0.0,
    pitch_band: tuple[float, float, float] | None = None,
    level_band: tuple[float, float, float] | None = None,
    interruptions: Sequence[dict] = (),
    dead_air: Sequence[dict] = (),
    red_flags: Sequence[dict] = (),
    techniques: Sequence[dict] = (),
    title: str = "",
) -> tuple[str, list[str]]:
    """One turn: waveform (caller grey, trainee blue); the trainee's pitch in semitones and loudness in dB, both
    relative to their calm voice, with the calm band; red flags and techniques heard on a strip at the top;
    interruptions (with the stretch both talked), dead air and a play-head over all panels. Clicking seeks
    ``audio_id``.

    Parameters
    ----------
    c : TurnCurves
    audio_id : str
        id of the ``<audio>`` element the plot seeks and follows.
    t0 : float
        Time at the plot's left edge (s).
    pitch_band, level_band : (low, baseline, high) or None
        The calm band around the trainee's baseline: Hz for pitch, dBFS for level. None: the scale is relative
        to the turn's median and no band is drawn.
    interruptions, dead_air : sequence of dict
        ``{"start", "end", ...}`` in seconds (an interruption's ``overlap_s``: how long both talked).
    red_flags, techniques : sequence of dict
        Listening detections ``{"start", "end", "label", "text"}`` in seconds.

    Returns
    -------
    (svg markup, keys of :data:`MARKS` drawn, in legend order)
    """
    t1 = t0 + max(c.duration_s, 0.1)
    strip_h, wave_h, panel_h, gap = 16.0, 84.0, 92.0, FONT + 12.0  # each curve panel has its title above it
    y_strip = 4.0
    y_wave = y_strip + strip_h + 4
    y_pitch = y_wave + wave_h + gap
    y_level = y_pitch + panel_h + gap
    y_axis = y_level + panel_h
    H = y_axis + 2 * FONT + 12
    drawn: set[str] = set()

    def fx(t: float) -> float:
        return _x(t, t0, t1)

    parts = [f'<svg class="turnplot" viewBox="0 0 {W} {H:.0f}" role="img" data-audio="{_e(audio_id)}" '
             f'data-t0="{t0:.3f}" data-t1="{t1:.3f}" data-x0="{PAD_L}" data-x1="{W - PAD_R}" '
             f'xmlns="http://www.w3.org/2000/svg">', f"<title>{_e(title or 'turn plot')}</title>"]
    for y, h in ((y_wave, wave_h), (y_pitch, panel_h), (y_level, panel_h)):
        parts.append(f'<rect x="{PAD_L}" y="{y:.1f}" width="{W - PAD_L - PAD_R}" height="{h:.1f}" class="panel"/>')
    parts.append(f'<text x="{PAD_L - 5}" y="{y_strip + FONT - 1:.1f}" class="tick" text-anchor="end">said</text>')
    # what was said: red flags and techniques where they happen
    for dets, cls in ((techniques, "tech"), (red_flags, "flag")):
        for d in dets:
            a, b = d.get("start"), d.get("end")
            if not isinstance(a, int | float) or not isinstance(b, int | float) or b < t0 or a > t1:
                continue
            xa, xb = fx(max(a, t0)), fx(min(b, t1))
            label = f"{'red flag' if cls == 'flag' else 'technique'} at {a:.1f} s: {d.get('label', d.get('id', ''))}"
            if d.get("text"):
                label += f' "{d["text"]}"'
            parts.append(f'<rect x="{xa:.1f}" y="{y_strip:.1f}" width="{max(xb - xa, 3):.1f}" height="{strip_h}" '
                         f'class="{cls}mark" data-t="{a:.3f}" data-audio="{_e(audio_id)}"><title>{_e(label)}</title>'
                         "</rect>")
            if cls == "flag":
                parts.append(f'<line x1="{xa:.1f}" x2="{xa:.1f}" y1="{y_strip:.1f}" y2="{y_axis:.1f}" '
                             'class="flagline"/>')
            drawn.add(cls)
    for ev, cls, what in [(i, "intr", "you talked over the caller") for i in interruptions] + \
                         [(d, "dead", "dead air") for d in dead_air]:
        a, b = ev.get("start"), ev.get("end")
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            continue
        xa, xb = fx(max(a, t0)), fx(min(b, t1))
        label = f"{what} {a:.1f}-{b:.1f} s"
        if ev.get("text"):
            label += f': "{ev["text"]}"'
        parts.append(f'<rect x="{xa:.1f}" y="{y_wave:.1f}" width="{max(xb - xa, 1.5):.1f}" '
                     f'height="{y_axis - y_wave:.1f}" class="{cls}" data-t="{a:.3f}" data-audio="{_e(audio_id)}">'
                     f"<title>{_e(label)}</title></rect>")
        drawn.add(cls)
        ov = ev.get("overlap_s")
        if cls == "intr" and isinstance(ov, int | float) and ov > 0:  # the stretch both talked at once
            xo = fx(min(a + ov, t1))
            parts.append(f'<rect x="{xa:.1f}" y="{y_wave:.1f}" width="{max(xo - xa, 1.5):.1f}" height="{wave_h:.1f}" '
                         f'class="overlap" data-t="{a:.3f}" data-audio="{_e(audio_id)}">'
                         f"<title>{_e(f'both talking for {ov:.1f} s')}</title></rect>")
            drawn.add("overlap")
    # waveform: symmetric envelopes around the panel's middle
    mid, half = y_wave + wave_h / 2, wave_h / 2 - 2
    pk = max(max(c.caller_env, default=0), max(c.agent_env, default=0), 1e-6)
    for env, cls, key in ((c.caller_env, "wcaller", "caller"), (c.agent_env, "wagent", "agent")):
        if not env or not any(env):
            continue
        top = " ".join(f"{fx(t):.1f},{mid - v / pk * half:.1f}" for t, v in zip(c.env_t, env, strict=False))
        bot = " ".join(f"{fx(t):.1f},{mid + v / pk * half:.1f}"
                       for t, v in reversed(list(zip(c.env_t, env, strict=False))))
        parts.append(f'<polygon points="{top} {bot}" class="{cls}"/>')
        drawn.add(key)
    parts.append(f'<text x="{PAD_L - 5}" y="{mid + FONT / 2 - 2:.1f}" class="tick" text-anchor="end">voice</text>')
    # pitch in semitones relative to the calm voice (or the turn's median)
    ph = [v for _, v in c.pitch if v]
    if ph:
        ref = pitch_band[1] if pitch_band else sorted(ph)[len(ph) // 2]
        st = [12 * math.log2(v / ref) for v in ph]
        if pitch_band:
            st += [12 * math.log2(b / ref) for b in (pitch_band[0], pitch_band[2])]
        lo, hi = min(min(st), -3.0) - 1, max(max(st), 3.0) + 1
        grid, fys = _yscale(y_pitch, panel_h, lo, hi, nice_step(hi - lo, 5, (1, 2, 3, 6, 12, 24)), "st", "calm"
                            if pitch_band else "median")
        parts.append(grid)

        def fyp(v: float) -> float:
            return fys(12 * math.log2(max(v, 1e-3) / ref))

        if pitch_band:
            ya, yb = fyp(pitch_band[2]), fyp(pitch_band[0])
            parts.append(f'<rect x="{PAD_L}" y="{ya:.1f}" width="{W - PAD_L - PAD_R}" height="{yb - ya:.1f}" '
                         f'class="band"><title>{_e(f"your calm band {pitch_band[0]:.0f}-{pitch_band[2]:.0f} Hz")}'
                         f'</title></rect><line x1="{PAD_L}" x2="{W - PAD_R}" y1="{fyp(ref):.1f}" '
                         f'y2="{fyp(ref):.1f}" class="baseline"/>')
            drawn.add("band")
        parts.append(f'<path d="{_path(c.pitch, fx, fyp)}" class="pitch"/>')
        drawn.add("pitch")
        what = f"your calm voice, {ref:.0f} Hz" if pitch_band else f"this turn's median, {ref:.0f} Hz"
        parts.append(f'<text x="{PAD_L}" y="{y_pitch - 5:.1f}" class="ptitle">pitch, semitones (st) '
                     f"vs {_e(what)}</text>")
    else:
        parts.append(f'<text x="{(PAD_L + W - PAD_R) / 2:.0f}" y="{y_pitch + panel_h / 2:.1f}" class="na" '
                     'text-anchor="middle">no voiced speech: pitch not measured</text>')
    # loudness in dB relative to the calm level (or the turn's median)
    lv = [v for _, v in c.level if v is not None]
    if lv:
        ref_l = level_band[1] if level_band else sorted(lv)[len(lv) // 2]
        rel = [v - ref_l for v in lv] + ([level_band[0] - ref_l, level_band[2] - ref_l] if level_band else [])
        lo, hi = min(min(rel), -3.0) - 2, max(max(rel), 3.0) + 2
        grid, fyr = _yscale(y_level, panel_h, lo, hi, nice_step(hi - lo, 5, (1, 2, 3, 5, 6, 10, 20)), "dB",
                            "calm" if level_band else "median")
        parts.append(grid)

        def fyl(v: float) -> float:
            return fyr(v - ref_l)

        if level_band:
            ya, yb = fyl(level_band[2]), fyl(level_band[0])
            parts.append(f'<rect x="{PAD_L}" y="{ya:.1f}" width="{W - PAD_L - PAD_R}" height="{yb - ya:.1f}" '
                         f'class="band"><title>{_e(f"your calm band {level_band[0]:.1f} to {level_band[2]:.1f} dBFS")}'
                         f'</title></rect><line x1="{PAD_L}" x2="{W - PAD_R}" y1="{fyl(ref_l):.1f}" '
                         f'y2="{fyl(ref_l):.1f}" class="baseline"/>')
            drawn.add("band")
        parts.append(f'<path d="{_path(c.level, fx, fyl)}" class="level"/>')
        drawn.add("level")
        what = f"your calm level, {ref_l:.0f} dBFS" if level_band else f"this turn's median, {ref_l:.0f} dBFS"
        parts.append(f'<text x="{PAD_L}" y="{y_level - 5:.1f}" class="ptitle">loudness, dB vs '
                     f"{_e(what)}</text>")
    else:
        parts.append(f'<text x="{(PAD_L + W - PAD_R) / 2:.0f}" y="{y_level + panel_h / 2:.1f}" class="na" '
                     'text-anchor="middle">no speech from you: loudness not measured</text>')
    parts.append(_ticks(t0, t1, y_axis, y_wave))
    parts.append(f'<line class="playhead" x1="{PAD_L}" x2="{PAD_L}" y1="{y_strip}" y2="{y_axis:.1f}"/>')
    parts.append("</svg>")
    return "".join(parts), [k for k in MARKS if k in drawn]


def plot_legend(keys: Sequence[str]) -> str:
    """The legend of a turn plot: one swatch and name per mark drawn (keys of :data:`MARKS`)."""
    items = "".join(f'<span><i class="key {MARKS[k][0]}"></i>{_e(MARKS[k][1])}</span>' for k in keys if k in MARKS)
    return f'<p class="legendbox plotlegend">{items}</p>' if items else ""


def _spread(ys: list[float], min_gap: float, lo: float, hi: float) -> list[float]:
    """Move label positions apart (keeping their order) so that no two are closer than ``min_gap``."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for k in range(1, len(order)):
        i, j = order[k - 1], order[k]
        out[j] = max(out[j], out[i] + min_gap)
    over = max((out[i] - hi for i in order), default=0)
    if over > 0:
        for i in order:
            out[i] -= over
    return [max(v, lo) for v in out]


def line_chart(
    series: dict[str, Sequence[float | None]],
    x_labels: Sequence[str],
    *,
    title: str,
    y_max: float = 100.0,
    bands: Sequence[tuple] = (),
    point_titles: dict[str, Sequence[str]] | None = None,
    point_links: Sequence[str | None] | None = None,
    css_class: str = "chart",
    height: float = 240.0,
    x_values: Sequence[float] | None = None,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    y_title: str = "",
    x_title: str = "",
) -> str:
    """A 0..``y_max`` line chart: one line per series, its name at the line's end, points with hover titles,
    optional named bands.

    Parameters
    ----------
    series : dict name -> values (None: missing)
    x_labels : labels under the points (escaped); ignored when ``x_ticks`` is given
    bands : (low, high, css class[, name]) horizontal bands; a name is written inside the band
    point_links : per point, a link (relative URL) the point opens, or None
    x_values : numeric x of each point (e.g. days); default: evenly spread
    x_ticks : (x value, label) ticks on the x axis (with ``x_values``)
    y_title, x_title : axis titles
    """
    n = len(x_labels) if x_values is None else len(x_values)
    H, top, bottom = height, 16.0, 34.0 + (FONT + 4 if x_title else 0)
    x0, x1 = PAD_L + (FONT + 6 if y_title else 0), W - 130
    if x_values is not None and n:
        xv0, xv1 = min(x_values), max(x_values)
    else:
        xv0, xv1 = 0.0, float(max(n - 1, 1))
        x_values = [float(i) for i in range(n)]

    def fxv(v: float) -> float:
        return x0 + (v - xv0) / (xv1 - xv0) * (x1 - x0) if xv1 > xv0 else (x0 + x1) / 2

    def fx(i: int) -> float:
        return fxv(x_values[i])

    def fy(v: float) -> float:
        return top + (1 - v / y_max) * (H - top - bottom)

    parts = [f'<svg class="{_e(css_class)}" viewBox="0 0 {W} {H:.0f}" role="img" xmlns="http://www.w3.org/2000/svg">'
             f"<title>{_e(title)}</title>"]
    for band in bands:
        lo, hi, cls = band[0], band[1], band[2]
        parts.append(f'<rect x="{x0}" y="{fy(hi):.1f}" width="{x1 - x0}" height="{fy(lo) - fy(hi):.1f}" '
                     f'class="{_e(cls)}"/>')
        if len(band) > 3 and band[3]:
            parts.append(f'<text x="{x1 + 8}" y="{(fy(hi) + fy(lo)) / 2 + FONT / 2 - 2:.1f}" class="bandname">'
                         f"{_e(band[3])}</text>")
    for v in range(0, int(y_max) + 1, int(y_max // 4) or 1):
        parts.append(f'<line x1="{x0}" x2="{x1}" y1="{fy(v):.1f}" y2="{fy(v):.1f}" class="grid"/>'
                     f'<text x="{x0 - 6}" y="{fy(v) + 4:.1f}" class="tick" text-anchor="end">{v}</text>')
    if y_title:
        yc = (top + H - bottom) / 2
        parts.append(f'<text x="{FONT}" y="{yc:.1f}" class="axis" text-anchor="middle" '
                     f'transform="rotate(-90 {FONT} {yc:.1f})">{_e(y_title)}</text>')
    ticks = x_ticks if x_ticks is not None else [(x_values[i], lab) for i, lab in enumerate(x_labels)]
    for xv, lab in ticks:
        parts.append(f'<text x="{fxv(xv):.1f}" y="{H - bottom + FONT + 4:.1f}" class="tick" text-anchor="middle">'
                     f"{_e(lab)}</text>")
    if x_title:
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{H - 6:.1f}" class="axis" text-anchor="middle">'
                     f"{_e(x_title)}</text>")
    ends: list[tuple[str, str, float]] = []
    for k, (name, vals) in enumerate(series.items()):
        cls = f"s{k % 6}"
        pts = [(float(i), v) for i, v in enumerate(vals)]
        parts.append(f'<path d="{_path(pts, lambda i: fx(int(i)), fy)}" class="line {cls} d{k % 4}"/>')
        titles = (point_titles or {}).get(name) or []
        for i, v in enumerate(vals):
            if v is None:
                continue
            tip = titles[i] if i < len(titles) else f"{name}: {v:.0f}"
            dot = (f'<circle cx="{fx(i):.1f}" cy="{fy(v):.1f}" r="4.5" class="pt {cls}">'
                   f"<title>{_e(tip)}</title></circle>")
            link = point_links[i] if point_links and i < len(point_links) else None
            parts.append(f'<a href="{_e(link)}">{dot}</a>' if link else dot)
        last = next((v for v in reversed(list(vals)) if v is not None), None)
        if last is not None and len(series) > 1:
            ends.append((name, cls, fy(last)))
    ys = _spread([y for _, _, y in ends], FONT + 2, top, H - bottom)
    for (name, cls, _), y in zip(ends, ys, strict=True):
        parts.append(f'<text x="{x1 + 8}" y="{y + FONT / 2 - 2:.1f}" class="legend {cls}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
