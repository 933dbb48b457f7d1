"""``voice-trainer serve``: practise in the browser (a local web app; see ``voice_trainer/web``)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from pathlib import Path

from ..errors import UserError
from .common import add_model_options, config_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="practise in the browser: a local web page with the call, reports and progress",
        description="Start a local web app: choose a scenario, practise with the browser's microphone and speakers, "
        "read the reports, follow progress, add trainer notes. It binds to 127.0.0.1; any other --host needs "
        "--token (the page then asks for it).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--session-dir", metavar="DIR", default="sessions",
                   help="folder that holds the sessions (each call gets a new folder in it; default ./sessions)")
    p.add_argument("--token", metavar="TEXT", default=os.environ.get("VOICE_TRAINER_TOKEN"),
                   help="secret the page asks for (required with a --host other than 127.0.0.1/localhost; "
                   "default $VOICE_TRAINER_TOKEN)")
    p.add_argument("--max-turns", type=int, metavar="N", help="end each call after N of the trainee's turns")
    add_model_options(p)
    p.set_defaults(run=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Fail with one line when the port cannot be bound (in use, or no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
                            "or --host") from None


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be 1-65535, not {args.port}")
    if args.max_turns is not None and args.max_turns < 1:
        raise UserError("--max-turns must be 1 or more")
    if not _is_loopback(args.host) and not args.token:
        raise UserError(f"--host {args.host} lets other computers connect: also give --token SECRET "
                        "(or use the default --host 127.0.0.1)")
    if args.token is not None and len(args.token) < 8:
        raise UserError("--token must be at least 8 characters")
    root = Path(args.session_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"{root}: is a file; --session-dir must be a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{root}: cannot create the session folder ({exc.strerror})") from None
    if not os.access(root, os.W_OK):
        raise UserError(f"{root}: the session folder is not writable; choose another --session-dir")
    check_port(args.host, args.port)
    cfg = config_from_args(args)

    import uvicorn

    from ..analysis import tone
    from ..speech.transcribe import Transcriber
    from ..web.app import ServeOptions, create_app

    transcriber = Transcriber(cfg.transcribe)
    print(f"voice-trainer: loading the speech model ({transcriber.model_name})...", flush=True)
    transcriber.model  # noqa: B018 - loaded once, before the first call
    tone.warm_up(cfg.tone)
    opts = ServeOptions(session_root=root.resolve(), host=args.host, port=args.port, token=args.token,
                        max_turns=args.max_turns, cfg=cfg)
    app = create_app(opts, transcriber)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    shown = f"[{shown}]" if ":" in shown else shown
    print(f"voice-trainer: open http://{shown}:{args.port}/ in a browser (Ctrl-C to stop); "
          f"sessions go to {root}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio", lifespan="off",
                ws_max_size=max(cfg.web.max_frame_bytes, cfg.web.max_message_bytes))  # refused before buffered
    app.state.finish_calls()  # a call in progress keeps its finished turns and is marked interrupted
    return 0
