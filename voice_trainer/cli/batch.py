"""``voice-trainer batch``: score many recordings and session folders into a JSON Lines file."""

from __future__ import annotations

import argparse
import csv
import io
import sys

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..atomic import write_text_atomic
from ..batch import CSV_COLUMNS, csv_row, read_results, run_batch
from ..errors import UserError
from .common import add_model_options, config_from_args
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="score many recordings and sessions (resumable)",
        description="Score every recording (mono: like analyze; stereo: like review) and session folder under "
        "the inputs. Results are appended to RESULTS.jsonl as they finish; running again skips inputs whose "
        "content is already scored.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT_DIR_OR_LIST", help="folders, files, or .txt lists of paths")
    p.add_argument("--out", required=True, metavar="RESULTS.jsonl", help="results file (appended; resumable)")
    p.add_argument("--csv", metavar="FILE", help="also write a one-row-per-input CSV summary of all results")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="parallel workers, one model each (default 1)")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="local processes or a Ray cluster")
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--retry-errors", action="store_true", help="score again inputs that failed before")
    p.add_argument("--baseline", metavar="PROFILE_OR_WAV",
                   help="calm-voice baseline for tone of single-speaker recordings (default: your stored profile)")
    add_model_options(p)
    p.set_defaults(run=run)


def error_line(row: dict) -> str:
    """``INPUT: what went wrong``, naming the input once (a UserError's message already starts with it)."""
    inp, err = str(row.get("input")), str(row.get("error") or "unknown error")
    return err if err.startswith(inp) else f"{inp}: {err}"


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UserError("--workers must be 1 or more")
    cfg = config_from_args(args)
    console = TerminalConsole(stderr=True)
    errors: list[dict] = []
    with Progress(
        TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task("batch", total=None)

        def on_start(todo: int, skipped: int) -> None:
            progress.update(task, total=todo)
            if skipped:
                progress.console.print(f"{skipped} input(s) already in {args.out}: skipped")

        def on_row(row: dict) -> None:
            progress.advance(task)
            if row.get("status") != "ok":
                errors.append(row)
                progress.console.print(f"[red]failed[/red] {escape(error_line(row))}", highlight=False)

        written = run_batch(
            args.inputs, args.out, cfg, workers=args.workers, executor=args.executor,
            ray_address=args.ray_address, retry_errors=args.retry_errors, baseline=args.baseline,
            on_start=on_start, on_row=on_row,
        )
    if args.csv:
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for row in read_results(args.out):
            w.writerow(csv_row(row))
        try:  # written whole or not at all: never a CSV cut short after its header
            write_text_atomic(args.csv, buf.getvalue())
        except OSError as exc:
            raise UserError(f"{args.csv}: cannot write the CSV summary ({exc.strerror}); choose another --csv "
                            f"(the results are in {args.out})") from None
    new_ok = len(written) - len(errors)
    all_rows = read_results(args.out)
    ok_hashes = {r.get("sha256") for r in all_rows if r.get("status") == "ok"}
    failed = [r for r in all_rows if r.get("status") != "ok" and r.get("sha256") not in ok_hashes]
    print(
        f"{new_ok} scored now, {len(errors)} failed now; {args.out} holds {len(all_rows) - len(failed)} results "
        f"and {len(failed)} errors",
        file=sys.stderr,
    )
    for row in failed:
        print(f"  error: {error_line(row)}", file=sys.stderr)
    return 1 if failed else 0
