"""Inline SVG plots for the HTML report, written by hand (no plotting library, nothing fetched at view time).

Pure: numbers and strings in, SVG markup out. Every piece of text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from .curves import TurnCurves

W = 900
"""Plot width in SVG user units (the SVG scales to the page width)."""
PAD_L, PAD_R = 56, 12


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


def _ticks(t0: float, t1: float, y: float, y_top: float) -> str:
    span = t1 - t0
    step = next(s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1e9) if span / s <= 12)
    out = []
    t = math.ceil(t0 / step) * step
    while t <= t1 + 1e-9:
        x = _x(t, t0, t1)
        out.append(f'<line x1="{x:.1f}" y1="{y_top:.1f}" x2="{x:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{y + 12:.1f}" class="tick" text-anchor="middle">{t:g} s</text>')
        t += step
    return "".join(out)


def turn_plot(
    c: TurnCurves,
    *,
    audio_id: str,
    t0: float = 0.0,
    pitch_band: tuple[float, float, float] | None = None,
    level_band: tuple[float, float, float] | None = None,
    interruptions: Sequence[dict] = (),
    dead_air: Sequence[dict] = (),
    title: str = "",
) -> str:
    """One turn: waveform (caller grey, trainee blue), the trainee's pitch and loudness against the baseline band,
    interruptions (red) and dead air (orange) marked, and a play-head. Clicking seeks ``audio_id``.

    Parameters
    ----------
    c : TurnCurves
    audio_id : str
        id of the ``<audio>`` element the plot seeks and follows.
    t0 : float
        Time at the plot's left edge (s).
    pitch_band, level_band : (low, baseline, high) or None
        The calm band around the trainee's baseline: Hz for pitch, dBFS for level. None: no baseline.
    interruptions, dead_air : sequence of dict
        ``{"start", "end", ...}`` in seconds.
    """
    t1 = t0 + max(c.duration_s, 0.1)
    wave_h, panel_h, gap = 80.0, 70.0, 8.0
    y_wave, y_pitch = 4.0, 4.0 + wave_h + gap
    y_level = y_pitch + panel_h + gap
    y_axis = y_level + panel_h
    H = y_axis + 18

    def fx(t: float) -> float:
        return _x(t, t0, t1)

    parts = [f'<svg class="turnplot" viewBox="0 0 {W} {H:.0f}" role="img" data-audio="{_e(audio_id)}" '
             f'data-t0="{t0:.3f}" data-t1="{t1:.3f}" data-x0="{PAD_L}" data-x1="{W - PAD_R}" '
             f'xmlns="http://www.w3.org/2000/svg">', f"<title>{_e(title or 'turn plot')}</title>"]
    for y, h, name in ((y_wave, wave_h, "waveform"), (y_pitch, panel_h, "pitch"), (y_level, panel_h, "loudness")):
        parts.append(f'<rect x="{PAD_L}" y="{y:.1f}" width="{W - PAD_L - PAD_R}" height="{h:.1f}" class="panel"/>'
                     f'<text x="{PAD_L - 4}" y="{y + 12:.1f}" class="ylab" text-anchor="end">{name}</text>')
    for ev, cls, what in [(i, "intr", "interruption") for i in interruptions] + \
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
        ov = ev.get("overlap_s")
        if cls == "intr" and isinstance(ov, int | float) and ov > 0:  # the stretch both talked at once
            xo = fx(min(a + ov, t1))
            parts.append(f'<rect x="{xa:.1f}" y="{y_wave:.1f}" width="{max(xo - xa, 1.5):.1f}" height="{wave_h:.1f}" '
                         f'class="overlap" data-t="{a:.3f}" data-audio="{_e(audio_id)}">'
                         f"<title>{_e(f'both talking for {ov:.1f} s')}</title></rect>")
    # waveform: symmetric envelopes around the panel's middle
    mid, half = y_wave + wave_h / 2, wave_h / 2 - 2
    for env, cls in ((c.caller_env, "wcaller"), (c.agent_env, "wagent")):
        if not env:
            continue
        pk = max(max(c.caller_env, default=0), max(c.agent_env, default=0), 1e-6)
        top = " ".join(f"{fx(t):.1f},{mid - v / pk * half:.1f}" for t, v in zip(c.env_t, env, strict=False))
        bot = " ".join(f"{fx(t):.1f},{mid + v / pk * half:.1f}"
                       for t, v in reversed(list(zip(c.env_t, env, strict=False))))
        parts.append(f'<polygon points="{top} {bot}" class="{cls}"/>')
    parts.append(f'<text x="{W - PAD_R - 4}" y="{y_wave + 12:.1f}" class="legend" text-anchor="end">'
                 f'<tspan class="lcaller">caller</tspan> / <tspan class="lagent">you</tspan></text>')
    # pitch on a semitone scale around the band (or the data)
    ph = [v for _, v in c.pitch if v]
    if ph or pitch_band:
        ref = pitch_band[1] if pitch_band else sorted(ph)[len(ph) // 2]
        st = [12 * math.log2(v / ref) for v in ph] + ([12 * math.log2(b / ref) for b in (pitch_band[0],
                                                                                        pitch_band[2])]
                                                      if pitch_band else [])
        lo, hi = min(min(st, default=-6), -6.0) - 1, max(max(st, default=6), 6.0) + 1

        def fyp(v: float) -> float:
            s = 12 * math.log2(max(v, 1e-3) / ref)
            return y_pitch + panel_h - (s - lo) / (hi - lo) * panel_h

        if pitch_band:
            ya, yb = fyp(pitch_band[2]), fyp(pitch_band[0])
            parts.append(f'<rect x="{PAD_L}" y="{ya:.1f}" width="{W - PAD_L - PAD_R}" height="{yb - ya:.1f}" '
                         f'class="band"><title>{_e(f"calm band {pitch_band[0]:.0f}-{pitch_band[2]:.0f} Hz")}'
                         f'</title></rect><line x1="{PAD_L}" x2="{W - PAD_R}" y1="{fyp(pitch_band[1]):.1f}" '
                         f'y2="{fyp(pitch_band[1]):.1f}" class="baseline"/>'
                         f'<text x="{PAD_L - 4}" y="{fyp(pitch_band[1]) + 4:.1f}" class="tick" text-anchor="end">'
                         f"{pitch_band[1]:.0f} Hz</text>")
        parts.append(f'<path d="{_path(c.pitch, fx, fyp)}" class="pitch"/>')
    else:
        parts.append(f'<text x="{W / 2:.0f}" y="{y_pitch + panel_h / 2:.1f}" class="na" text-anchor="middle">'
                     "no voiced speech: pitch not measured</text>")
    lv = [v for _, v in c.level if v is not None]
    if lv or level_band:
        vals = lv + ([level_band[0], level_band[2]] if level_band else [])
        lo, hi = min(vals) - 3, max(vals) + 3

        def fyl(v: float) -> float:
            return y_level + panel_h - (v - lo) / max(hi - lo, 1e-6) * panel_h

        if level_band:
            ya, yb = fyl(level_band[2]), fyl(level_band[0])
            parts.append(f'<rect x="{PAD_L}" y="{ya:.1f}" width="{W - PAD_L - PAD_R}" height="{yb - ya:.1f}" '
                         f'class="band"><title>{_e(f"calm band {level_band[0]:.1f} to {level_band[2]:.1f} dBFS")}'
                         f'</title></rect><line x1="{PAD_L}" x2="{W - PAD_R}" y1="{fyl(level_band[1]):.1f}" '
                         f'y2="{fyl(level_band[1]):.1f}" class="baseline"/>'
                         f'<text x="{PAD_L - 4}" y="{fyl(level_band[1]) + 4:.1f}" class="tick" text-anchor="end">'
                         f"{level_band[1]:.0f} dB</text>")
        parts.append(f'<path d="{_path(c.level, fx, fyl)}" class="level"/>')
    parts.append(_ticks(t0, t1, y_axis, y_wave))
    parts.append(f'<line class="playhead" x1="{PAD_L}" x2="{PAD_L}" y1="{y_wave}" y2="{y_axis:.1f}"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: dict[str, Sequence[float | None]],
    x_labels: Sequence[str],
    *,
    title: str,
    y_max: float = 100.0,
    bands: Sequence[tuple[float, float, str]] = (),
    point_titles: dict[str, Sequence[str]] | None = None,
    css_class: str = "chart",
    height: float = 240.0,
) -> str:
    """A 0..``y_max`` line chart with one line per series, points with hover titles and optional shaded bands.

    Parameters
    ----------
    series : dict name -> values (None: missing)
    x_labels : labels under the points (escaped)
    bands : (low, high, css class) horizontal bands
    point_titles : per series, the hover text of each point (escaped)
    """
    n = len(x_labels)
    H, top, bottom = height, 16.0, 34.0
    x0, x1 = PAD_L, W - 120

    def fx(i: int) -> float:
        return x0 + (i / max(n - 1, 1)) * (x1 - x0) if n > 1 else (x0 + x1) / 2

    def fy(v: float) -> float:
        return top + (1 - v / y_max) * (H - top - bottom)

    parts = [f'<svg class="{_e(css_class)}" viewBox="0 0 {W} {H:.0f}" role="img" xmlns="http://www.w3.org/2000/svg">'
             f"<title>{_e(title)}</title>"]
    for lo, hi, cls in bands:
        parts.append(f'<rect x="{x0}" y="{fy(hi):.1f}" width="{x1 - x0}" height="{fy(lo) - fy(hi):.1f}" '
                     f'class="{_e(cls)}"/>')
    for v in range(0, int(y_max) + 1, int(y_max // 4) or 1):
        parts.append(f'<line x1="{x0}" x2="{x1}" y1="{fy(v):.1f}" y2="{fy(v):.1f}" class="grid"/>'
                     f'<text x="{x0 - 6}" y="{fy(v) + 4:.1f}" class="tick" text-anchor="end">{v}</text>')
    for i, lab in enumerate(x_labels):
        parts.append(f'<text x="{fx(i):.1f}" y="{H - bottom + 16:.1f}" class="tick" text-anchor="middle">'
                     f"{_e(lab)}</text>")
    for k, (name, vals) in enumerate(series.items()):
        cls = f"s{k % 6}"
        pts = [(float(i), v) for i, v in enumerate(vals)]
        parts.append(f'<path d="{_path(pts, lambda i: fx(int(i)), fy)}" class="line {cls}"/>')
        titles = (point_titles or {}).get(name) or []
        for i, v in enumerate(vals):
            if v is None:
                continue
            tip = titles[i] if i < len(titles) else f"{name}: {v:.0f}"
            parts.append(f'<circle cx="{fx(i):.1f}" cy="{fy(v):.1f}" r="4" class="pt {cls}">'
                         f"<title>{_e(tip)}</title></circle>")
        parts.append(f'<text x="{x1 + 12}" y="{top + 14 + 16 * k:.1f}" class="legend {cls}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
