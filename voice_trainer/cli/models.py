"""``voice-trainer models``: each model voice-trainer can load, where it comes from, and whether it checks out."""

from __future__ import annotations

import argparse
import sys

from .. import model_files
from .common import print_json_line


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the model files, their source packages and licences, and check them",
        description="List every model in voice-trainer's manifest: role, source package (pinned and installed "
        "version), licence, size, and whether its files match the manifest's sizes and sha256 (verified, "
        "mismatch, not installed, or not built yet). Exits 2 when a model's files do not match.",
    )
    p.add_argument("--json", action="store_true", help="print the list as one JSON array")
    p.set_defaults(run=run)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def format_table(rows: list[dict]) -> str:
    def source(r: dict) -> str:
        return ", ".join(p["name"] + "==" + p["pinned"] + ("" if p["installed"] in (None, p["pinned"])
                                                            else f" (installed {p['installed']})")
                         for p in r["packages"])

    cols = [("model", [r["id"] for r in rows]), ("role", [r["role"] for r in rows]),
            ("source", [source(r) for r in rows]), ("licence", [r["licence"] for r in rows]),
            ("size", [_mib(r["size_bytes"]) for r in rows]), ("sha256", [r["sha256"] for r in rows]),
            ("status", [r["status"] for r in rows])]
    widths = [max(len(h), *(len(v) for v in vals)) for h, vals in cols]
    lines = ["  ".join(h.ljust(w) for (h, _), w in zip(cols, widths, strict=True)).rstrip()]
    for i in range(len(rows)):
        lines.append("  ".join(vals[i].ljust(w) for (_, vals), w in zip(cols, widths, strict=True)).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    rows = model_files.statuses()
    if args.json:
        print_json_line(rows)
    else:
        print(format_table(rows))
    bad = [r for r in rows if r["status"] == "mismatch"]
    for r in bad:
        print(f"voice-trainer: error: {r['problem']}", file=sys.stderr)
    return 2 if bad else 0
