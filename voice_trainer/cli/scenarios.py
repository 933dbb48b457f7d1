"""``voice-trainer scenarios``: list, show and validate scenario files."""

from __future__ import annotations

import argparse
import json
import sys

from ..atomic import json_safe
from ..call.scenarios import ScenarioError, get_scenario, load_library, load_scenario, scenario_files
from ..errors import UserError
from .common import config_from_args, print_json_line


def add_scenarios_dir_option(p: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """``--scenarios-dir DIR`` (repeatable). ``nested``: on a sub-action (given there, it replaces the parent's)."""
    p.add_argument(
        "--scenarios-dir",
        metavar="DIR",
        action="append",
        default=argparse.SUPPRESS if nested else [],
        help="extra folder of scenario *.toml files (repeatable; also the caller.scenario_dirs config key)",
    )


def extra_dirs(args: argparse.Namespace) -> list[str]:
    """User scenario folders: the config's ``caller.scenario_dirs`` then ``--scenarios-dir``."""
    cfg = config_from_args(args)
    return [*cfg.caller.scenario_dirs, *getattr(args, "scenarios_dir", [])]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="list, show and validate caller scenarios",
        description="List, show and validate caller scenarios (built-in ones plus --scenarios-dir folders).",
    )
    add_scenarios_dir_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    lst = actions.add_parser("list", help="one line per scenario")
    lst.add_argument("--json", action="store_true", help="print one JSON object per scenario")
    show = actions.add_parser("show", help="print one scenario")
    show.add_argument("id", metavar="ID", help="scenario id (or a path to a .toml file)")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    val = actions.add_parser("validate", help="check scenario files; prints FILE:LINE: problem for each problem")
    val.add_argument("files", nargs="*", metavar="FILE", help="files to check (default: every known scenario)")
    for q in (lst, show, val):
        add_scenarios_dir_option(q, nested=True)
        q.set_defaults(run=run)
    p.set_defaults(run=run)


def _list(args: argparse.Namespace) -> int:
    lib = load_library(extra_dirs(args))
    for s in sorted(lib.values(), key=lambda s: (s.difficulty, s.id)):
        if args.json:
            print_json_line({"id": s.id, "title": s.title, "difficulty": s.difficulty, "goal": s.goal,
                             "anger": s.persona.anger, "source": s.source})
        else:
            print(f"{s.id:24} {'*' * s.difficulty:3} anger {s.persona.anger:3}  {s.goal:7}  {s.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    s = get_scenario(args.id, extra_dirs(args))
    if args.json:
        sys.stdout.write(json.dumps(json_safe(s.to_dict()), ensure_ascii=False, indent=2, allow_nan=False) + "\n")
        return 0
    r = s.reactions
    print(f"{s.id}: {s.title}")
    print(f"  difficulty {s.difficulty}, goal {s.goal}; file {s.source}")
    if s.summary:
        print(f"  {s.summary}")
    print(f"  caller: {s.persona.name} (voice {s.persona.voice}), starting anger {s.persona.anger}")
    print(f"  hangs up at {r.hang_up_at}, accepts an offer at or below {r.accept_below}, floor {r.anger_floor}, "
          f"at most {r.max_turns} turns")
    if r.requires:
        print(f"  needs before accepting: {', '.join(r.requires)}")
    print("  facts to acknowledge and paraphrase:")
    for f in s.facts:
        print(f"    - {f}")
    print("  acceptable resolutions:")
    for f in s.resolutions:
        print(f"    - {f}")
    if s.cannot_grant:
        print("  the agent cannot grant:")
        for f in s.cannot_grant:
            print(f"    - {f}")
    if s.details:
        print("  what the caller can tell you when asked:")
        for k, v in s.details.items():
            print(f"    {k.replace('_', ' ')}: {v}")
    print("  opening lines:")
    for band, lines in s.lines["opening"].items():
        for line in lines:
            print(f"    [{band}] {line}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    files = args.files or [str(f) for f in scenario_files(extra_dirs(args))]
    if not files:
        raise UserError("no scenario files found; give FILE arguments or --scenarios-dir")
    bad = 0
    seen: dict[str, str] = {}
    for f in files:
        try:
            s = load_scenario(f)
        except ScenarioError as exc:
            bad += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        if s.id in seen:
            bad += 1
            print(f"{f}:1: duplicate scenario id {s.id!r} (also in {seen[s.id]}); rename one of them", file=sys.stderr)
            continue
        seen[s.id] = f
    print(f"{len(files) - bad} of {len(files)} scenario file(s) valid")
    return 2 if bad else 0


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "show": _show, "validate": _validate}[args.action](args)
