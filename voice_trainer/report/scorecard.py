"""The terminal scorecard: the call's scores, the caller's anger, and per turn what went well and what to change,
each with its evidence (quote, time, number) and technique; trainer notes."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import Config
from ..model_files import describe
from .composer import CallFeedback, compose
from .feedback import Item, technique_name
from .record import ReportRecord, load_record

LABELS = {"overall": "Overall", "calmness": "Calmness", "listening": "Listening", "turn_taking": "Turn-taking"}


def _score(v: object) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:.0f}"


def _style(v: object) -> str:
    if not isinstance(v, int | float):
        return "dim"
    return "green" if v >= 75 else "yellow" if v >= 50 else "red"


def _item_line(i: Item) -> str:
    parts = [f"[bold]{escape(i.what)}[/bold]"]
    if i.start is not None:
        parts.append(f"at {i.start:.1f} s")
    if i.quote:
        q = i.quote if len(i.quote) <= 90 else i.quote[:87] + "..."
        parts.append(f'"{escape(q)}"')
    if i.number:
        parts.append(f"({escape(i.number)})")
    line = " ".join(parts)
    if i.technique:
        line += f"  [cyan]{escape(i.technique_label)}[/cyan]"
    if i.tip and i.kind == "change":
        line += f"\n      [dim]-> {escape(i.tip)}[/dim]"
    return line


def print_scorecard(session_dir_or_record: str | os.PathLike | ReportRecord, console: Console | None = None,
                    cfg: Config | None = None) -> None:
    """Print the scorecard of a session folder, a ``review --json`` file, or an already loaded record.

    Raises
    ------
    UserError
        The path is not a session / review result, or it is corrupted.
    """
    console = console or Console()
    cfg = cfg or Config()
    rec = session_dir_or_record if isinstance(session_dir_or_record, ReportRecord) \
        else load_record(session_dir_or_record)
    head = f"[bold]{escape(rec.title)}[/bold]"
    meta = [x for x in (rec.created_at, rec.mode, rec.status, f"outcome {rec.outcome}" if rec.outcome else "",
                        f"model {rec.model}" if rec.model else "") if x]
    console.print(head + "  [dim]" + escape("  ".join(meta)) + "[/dim]")
    if rec.model_files:
        console.print("[dim]models: " + escape(describe(rec.model_files)) + "[/dim]")
    for r in rec.recovered:
        console.print(f"[yellow]note:[/yellow] {escape(r)}")
    s = rec.scores or {}
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    for k in LABELS:
        table.add_column(LABELS[k], justify="right")
    table.add_row(*[f"[{_style(s.get(k))}]{_score(s.get(k))}[/]" for k in LABELS])
    console.print(table)
    if rec.scores_source == "turns":
        console.print("[dim]no end-of-call scorecard was saved; scores are the mean of the turns[/dim]")
    anger = rec.anger_points()
    if anger:
        path = " -> ".join(f"{a:.0f}" for _, a in anger)
        console.print(f"Caller anger: {path} (0 calm .. 100 furious)", highlight=False)
    cont = s.get("contagion")
    if isinstance(cont, dict) and cont.get("tip") and not cont.get("withheld"):
        console.print(f"Tone contagion: {escape(str(cont['tip']))}  [cyan]T4[/cyan]", highlight=False)
    for n in rec.notes:
        if n.get("turn") is None:
            who = f" ({escape(n['author'])})" if n.get("author") else ""
            console.print(f"[magenta]Trainer note{who}:[/magenta] {escape(n['text'])}", highlight=False)
    composed = compose(rec, cfg.report)
    _print_focus(console, composed)
    for t in rec.turns:
        sc = t.scores
        nums = "  ".join(f"{LABELS[k].lower()} [{_style(sc.get(k))}]{_score(sc.get(k))}[/]"
                         for k in ("calmness", "listening", "turn_taking"))
        anger_txt = ""
        if t.anger_before is not None and t.anger_after is not None:
            anger_txt = f"  anger {t.anger_before:.0f} -> {t.anger_after:.0f}"
        where = f" ({t.start_s:.1f}-{t.end_s:.1f} s)" if t.end_s is not None else ""
        console.print(f"\n[bold]Turn {t.index}{where}[/bold]  {nums}{anger_txt}", highlight=False)
        if t.caller_text:
            console.print(f'  caller: "{escape(t.caller_text)}"', highlight=False)
        console.print(f'  you:    "{escape(t.transcript)}"' if t.transcript else "  you:    (no words recognised)",
                      highlight=False)
        pts = composed.for_turn(t.index)
        good, change = (pts.went_well, pts.to_change) if pts else ([], [])
        for i in good:
            console.print(f"  [green]+[/green] {_item_line(i)}", highlight=False)
        for i in change:
            console.print(f"  [red]-[/red] {_item_line(i)}", highlight=False)
        for n in rec.notes:
            if n.get("turn") == t.index:
                who = f" ({escape(n['author'])})" if n.get("author") else ""
                console.print(f"  [magenta]Trainer note{who}:[/magenta] {escape(n['text'])}", highlight=False)


def _print_focus(console: Console, composed: CallFeedback) -> None:
    """The session focus: the three things to work on first, each with evidence and better wording."""
    if not composed.focus:
        return
    console.print("\n[bold]Work on first[/bold]")
    for n, f in enumerate(composed.focus, 1):
        console.print(f"  {n}. [bold]{escape(f.what)}[/bold]  [cyan]{escape(technique_name(f.technique))}[/cyan]",
                      highlight=False)
        for e in f.evidence[:2]:
            at = f" at {e['start']:.1f} s" if e.get("start") is not None else ""
            q = f' "{escape(str(e["quote"])[:80])}"' if e.get("quote") else ""
            console.print(f"     turn {e['turn']}{at}{q}", highlight=False)
        if f.example:
            console.print(f'     [dim]try:[/dim] "{escape(f.example)}"', highlight=False)
