"""Score many recordings: session folders, stereo call recordings and single-speaker files.

Each input is scored exactly as the single-file commands score it (``analyze`` for a mono recording,
``review`` for a stereo call, ``report`` for a practice-session folder), by workers that load the Whisper model
once each. Results are appended to a JSON Lines file as they finish (one line per input, flushed and fsynced),
so an interrupted batch resumes where it stopped: an input whose content hash is already in the results is
skipped. A failing input is recorded with its error and the batch goes on.

Executors: ``local`` (a process pool on this machine) and ``ray`` (an actor pool on a Ray cluster; each actor
holds one model; needs the ``cluster`` extra and inputs on storage every node can read).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .atomic import json_safe, refuse_special_output
from .audio import files as audio_io
from .config import Config
from .errors import UserError
from .inputs import check_regular, loads_json, read_input_text
from .model_files import describe

AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".webm", ".mp4"}
SESSION_FILE = "session.json"


@dataclass(frozen=True)
class Job:
    """One input: a file or a session folder, and the hash of its content."""

    path: str
    sha256: str


SESSION_CONTENT = ("session.json", "turn_*.json", "turn_*.wav")
"""What a session's hash covers: its recording and results, not notes or reports added later."""


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, or of a session folder's recorded content (names and bytes, sorted)."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        files = sorted({f for pat in SESSION_CONTENT for f in p.glob(pat) if f.is_file() and ".tmp" not in f.name})
    else:
        files = [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        check_regular(f)  # a named pipe would block here, a device never end
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def discover(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand inputs into recordings and session folders.

    A folder holding ``session.json`` is one session; any other folder is searched recursively for session
    folders and audio files; a ``.txt``/``.lst`` file lists one input per line (``#`` comments allowed).
    """
    found: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise UserError(f"{p}: no such file or folder")
        if p.is_dir() and (p / SESSION_FILE).exists():
            found.append(p)
        elif p.is_dir():
            sessions = sorted(s.parent for s in p.rglob(SESSION_FILE))
            found += sessions
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in AUDIO_EXTS and not any(s in f.parents for s in sessions):
                    found.append(f)
        elif p.suffix.lower() in (".txt", ".lst"):
            try:
                listed = read_input_text(p)
            except (OSError, UnicodeDecodeError) as exc:
                why = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise UserError(f"{p}: cannot read the list of inputs ({why}); give a text file, one path a line") \
                    from None
            for line in listed.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    q = Path(line) if Path(line).is_absolute() else p.parent / line
                    found += discover([q]) if q.is_dir() else [q]
        else:
            found.append(p)
    seen: set[Path] = set()
    return [f for f in found if not (f.resolve() in seen or seen.add(f.resolve()))]


# ---------------------------------------------------------------------------------------------------------------
# Scoring one input (runs inside a worker)
# ---------------------------------------------------------------------------------------------------------------


class Scorer:
    """Holds one loaded Whisper model and scores inputs with it."""

    def __init__(self, cfg: Config, baseline: str | None = None) -> None:
        from .profile import resolve_baseline
        from .speech.transcribe import Transcriber

        self.cfg = cfg
        self.transcriber = Transcriber(cfg.transcribe)
        self.transcriber.model  # noqa: B018 - load now, once per worker
        # the same baseline `analyze` would use: --baseline, else the stored voice profile
        self.baseline = resolve_baseline(baseline, cfg, self.transcriber)

    def kind(self, path: Path) -> str:
        if path.is_dir():
            return "session"
        if path.suffix.lower() in AUDIO_EXTS or path.exists():
            return "call" if audio_io.probe(path).channels >= 2 else "recording"
        raise UserError(f"{path}: no such file")

    def score(self, path: str | os.PathLike) -> dict:
        """The same dict that ``analyze --json`` / ``review --json`` / ``report --json`` prints for this input."""
        p = Path(path)
        kind = self.kind(p)
        if kind == "session":
            from .report.summary import session_summary

            return {"kind": kind, "result": session_summary(p, self.cfg)}
        if kind == "call":
            from .review import review_file

            return {"kind": kind, "result": review_file(p, self.cfg, self.transcriber).to_dict()}
        from .pipeline import analyze_file

        return {"kind": kind, "result": analyze_file(p, self.cfg, self.transcriber, baseline=self.baseline).to_dict()}


def score_safely(scorer: Scorer, job: Job) -> dict:
    """Score one job; an error becomes a row with ``error`` instead of stopping the batch."""
    row: dict = {"input": job.path, "sha256": job.sha256}
    try:
        row.update(scorer.score(job.path))
        row["model_files"] = (row.get("result") or {}).get("model_files")  # which model files scored it
        row["status"] = "ok"
    except UserError as exc:
        row.update(status="error", error=str(exc))
    except Exception as exc:  # a batch must go on; the row says what happened
        row.update(status="error", error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return row


_WORKER: Scorer | None = None


def _init_worker(cfg: Config, baseline: str | None) -> None:
    global _WORKER
    _WORKER = Scorer(cfg, baseline)


def _work(job: Job) -> dict:
    assert _WORKER is not None
    return score_safely(_WORKER, job)


def run_local(jobs: list[Job], cfg: Config, workers: int, baseline: str | None = None) -> Iterator[dict]:
    """Score jobs in ``workers`` processes (1: in this process); yields rows as they finish."""
    from .speech.transcribe import default_threads

    if workers <= 1:
        scorer = Scorer(cfg, baseline)
        for job in jobs:
            yield score_safely(scorer, job)
        return
    cfg.transcribe.cpu_threads = cfg.transcribe.cpu_threads or max(1, default_threads() // workers)
    import multiprocessing as mp

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(cfg, baseline)) as pool:
        pending = {pool.submit(_work, job) for job in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()


def run_ray(jobs: list[Job], cfg: Config, workers: int, address: str | None,
            baseline: str | None = None) -> Iterator[dict]:
    """Score jobs on a Ray cluster with an actor pool of ``workers`` actors, one model each."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise UserError("the ray executor needs Ray: pip install 'voice-trainer[cluster]'") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(workers, 1), log_to_driver=False, include_dashboard=False)
    from .speech.transcribe import default_threads

    cfg.transcribe.cpu_threads = cfg.transcribe.cpu_threads or max(1, default_threads() // max(workers, 1))

    @ray.remote(num_cpus=1)
    class RayScorer:
        def __init__(self, cfg: Config, baseline: str | None) -> None:
            self.scorer = Scorer(cfg, baseline)

        def score(self, job: Job) -> dict:
            return score_safely(self.scorer, job)

    pool = ActorPool([RayScorer.remote(cfg, baseline) for _ in range(max(workers, 1))])
    yield from pool.map_unordered(lambda actor, job: actor.score.remote(job), jobs)


# ---------------------------------------------------------------------------------------------------------------
# The results file
# ---------------------------------------------------------------------------------------------------------------


def read_results(path: str | os.PathLike) -> list[dict]:
    """Rows of a results file; a torn last line (the batch was killed mid-write) is dropped."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = loads_json(line)
        except ValueError:  # not JSON, or nested absurdly deep: not a row this program wrote
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _repair_tail(p: Path) -> None:
    """Cut a torn last line so appended rows start on a line of their own."""
    if not p.exists() or p.stat().st_size == 0:
        return
    data = p.read_bytes()
    if not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(p, "r+b") as fh:
            fh.truncate(keep)


def run_batch(
    inputs: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    cfg: Config,
    *,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    retry_errors: bool = False,
    baseline: str | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Score every input not already in ``out``; append each row as it finishes.

    Returns
    -------
    list of dict
        The rows written in this run (rows skipped as already done are not included).
    """
    out_p = Path(out)
    if out_p.is_dir():
        raise UserError(f"{out_p}: is a folder; --out needs a file name such as results.jsonl")
    try:
        refuse_special_output(out_p)
    except OSError as exc:
        raise UserError(f"{out_p}: cannot write the results file ({exc.strerror})") from None
    try:
        out_p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out_p.parent}: cannot create the results folder ({exc.strerror})") from None
    try:  # fail now, not after the first input was scored: a read-only folder, a full disk, a torn last line
        _repair_tail(out_p)
        with open(out_p, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UserError(f"{out_p}: cannot write the results file ({exc.strerror}); choose another --out") from None
    done = {
        r.get("sha256")
        for r in read_results(out_p)
        if r.get("status") == "ok" or (r.get("status") == "error" and not retry_errors)
    }
    paths = discover(inputs)
    jobs, skipped = [], 0
    for p in paths:
        try:
            digest = content_hash(p)
        except OSError as exc:
            digest = f"unreadable:{p}:{exc.strerror}"
        if digest in done:
            skipped += 1
            continue
        jobs.append(Job(str(p), digest))
    if on_start:
        on_start(len(jobs), skipped)
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}; choose local or ray")
    rows_iter = (run_local(jobs, cfg, workers, baseline) if executor == "local"
                 else run_ray(jobs, cfg, workers, ray_address, baseline))
    written: list[dict] = []
    try:
        with open(out_p, "a", encoding="utf-8") as fh:
            for row in rows_iter:
                fh.write(json.dumps(json_safe(row), ensure_ascii=False, allow_nan=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                written.append(row)
                if on_row:
                    on_row(row)
    except OSError as exc:  # e.g. the disk filled up: what was written is kept and a new run resumes after it
        raise UserError(f"{out_p}: cannot write the results file ({exc.strerror}); the {len(written)} result(s) "
                        "written before are kept: free some space and run the same command again to resume") from None
    return written


CSV_COLUMNS = ("input", "kind", "status", "duration_s", "calmness", "listening", "turn_taking",
               "interruptions", "models", "error")


def csv_row(row: dict) -> dict:
    """Flatten one result row into the CSV summary columns (empty where not measured)."""
    def table(x: object) -> dict:  # a session's result has a list of turns where a recording's has a table
        return x if isinstance(x, dict) else {}

    res = table(row.get("result"))
    tone = table(res.get("tone"))
    listening = table(res.get("listening"))
    turns = table(res.get("turns"))
    scores = table(res.get("scores"))
    return {
        "input": row.get("input"),
        "kind": row.get("kind", ""),
        "status": row.get("status"),
        "duration_s": res.get("duration_s", ""),
        "calmness": scores.get("calmness", tone.get("calmness", "")),
        "listening": scores.get("listening", listening.get("score", "")),
        "turn_taking": scores.get("turn_taking", table(res.get("score")).get("score", "")),
        "interruptions": len(turns.get("interruptions") or []) if turns else "",
        "models": describe(row.get("model_files") or []),
        "error": row.get("error", ""),
    }
