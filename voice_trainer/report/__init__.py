"""Trainer review: the terminal scorecard, the self-contained HTML report, trainer notes and progress.

Public entry points::

    print_scorecard(session_dir_or_record, console)   # rich terminal scorecard
    write_html(session_dir, out_path) -> Path          # one offline HTML file with replay and plots
    session_summary(session_dir, cfg) -> dict          # what ``report --json`` prints (batch uses it)
    add_note(session_dir, turn, text)                  # trainer notes beside the session
    progress_rows(folder) -> list[dict]                # a trainee's sessions in time order, scores per skill

This package only reads session folders; it never touches devices or TTS.
"""

from __future__ import annotations

from .html import render_html, write_html
from .notes import load_notes
from .progress import progress_rows
from .record import ReportRecord, TurnView, add_note, load_record
from .scorecard import print_scorecard
from .summary import record_summary, session_summary

__all__ = ["ReportRecord", "TurnView", "add_note", "load_notes", "load_record", "print_scorecard",
           "progress_rows", "record_summary", "render_html", "session_summary", "write_html"]
