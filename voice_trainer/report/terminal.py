"""Terminal output shared by practice, demo and run: one block per turn, and the end-of-call summary."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..call.session import SessionResult, TurnResult


def _score(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def print_caller(console: Console, index: int, text: str, anger: float, show_anger: bool = True) -> None:
    gauge = f" [dim](anger {anger:.0f})[/dim]" if show_anger else ""
    console.print(f"\n[bold red]Caller[/bold red]{gauge}: {escape(text)}", highlight=False)


def print_turn(console: Console, tr: TurnResult, show_anger: bool = True) -> None:
    """What the trainee said, the turn's three scores, the nudges and how the caller took it."""
    print_caller(console, tr.index, tr.caller_line.text, tr.anger_before, show_anger)
    said = tr.transcript.text or "(nothing heard)"
    console.print(f"[bold cyan]You[/bold cyan]: {escape(said)}", highlight=False)
    calm = None if tr.tone is None else tr.tone.calmness.value
    console.print(
        f"  calmness {_score(calm)}  listening {_score(tr.listening.score.value)}  "
        f"turn-taking {_score(tr.turn_taking.value)}",
        highlight=False,
    )
    for n in tr.nudges:
        style = "green" if n.startswith("Good") else "yellow"
        console.print(f"  [{style}]> {escape(n)}[/{style}]", highlight=False)
    if show_anger:
        delta = tr.anger_after - tr.anger_before
        console.print(f"  [dim]caller anger {tr.anger_before:.0f} -> {tr.anger_after:.0f} ({delta:+.0f})[/dim]")


def print_summary(console: Console, result: SessionResult) -> None:
    """A short scorecard for when the full report module is not used."""
    card = result.scorecard
    final = result.turns[-1].reply if result.turns else None
    if final is not None and final.final:
        console.print(f"\n[bold red]Caller[/bold red]: {escape(final.text)}", highlight=False)
    console.print(
        f"\n[bold]Overall {_score(card.overall)}[/bold]  calmness {_score(card.calmness.value)}  "
        f"listening {_score(card.listening.value)}  turn-taking {_score(card.turn_taking.value)}  "
        f"outcome: {result.caller.outcome or 'not finished'}",
        highlight=False,
    )
