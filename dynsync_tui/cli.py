"""The `dynsync` command: the TUI by default, `preview`, `sync` and `sandbox` for scripts.

Exit codes: 0 ok · 1 finished with failed records · 2 bad config or input · 3 cannot connect ·
4 internal error (a bug: the traceback goes to the log folder, never to the screen).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from dynsync_tui import __version__, logs
from dynsync_tui import paths as paths_mod
from dynsync_tui.core.config import Config, ConfigError
from dynsync_tui.core.config import load as load_config

EXIT_OK, EXIT_FAILED_RECORDS, EXIT_BAD_INPUT, EXIT_CANNOT_CONNECT, EXIT_INTERNAL = 0, 1, 2, 3, 4


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- arguments


def _common(p: argparse.ArgumentParser, sub: bool = False) -> None:
    """The shared flags. On a command (``sub``) they default to "not given", so a flag written
    before the command is not overwritten by the command's own default."""
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--sandbox", action="store_true", help="use the built-in sandbox (the default with no config)", **d)
    p.add_argument("--data", metavar="DIR", type=Path, help="sandbox: load CSV files from DIR instead of the seed", **d)
    p.add_argument("--config", metavar="PATH", type=Path,
                   help="TOML config file (default: the one in the dynsync home)", **d)
    p.add_argument("--country", metavar="CODE|off", help="default country for mobile validation, or off", **d)
    p.add_argument("--record-country", metavar="FIELD", help="use the record's country from this CRM field", **d)
    p.add_argument("--state", metavar="PATH", type=Path,
                   help="sync state file (default: the one in the dynsync home)", **d)
    p.add_argument("--log-pii", action="store_true", help="don't mask emails and phone numbers in the run log", **d)
    p.add_argument("--verbose", action="store_true", help="also print the run log to stderr", **d)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line, like every other error (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dynsync",
        description="Sync mobile numbers from Dynamics 365 into Dotdigital. With no command, opens the TUI.",
        epilog="Exit codes: 0 ok, 1 finished with failed records, 2 bad config or input, 3 cannot connect.",
    )
    parser.add_argument("--version", action="version", version=f"dynsync {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="{preview,sync,sandbox}")

    pv = sub.add_parser("preview", help="show which records would sync, and which would be skipped and why")
    _common(pv, sub=True)
    pv.add_argument("--json", action="store_true", help="print the counts as JSON")
    pv.add_argument("--export", metavar="FILE.csv", type=Path, help="write one row per record to a CSV file")

    sy = sub.add_parser("sync", help="run a one-off sync")
    _common(sy, sub=True)
    sy.add_argument("--yes", action="store_true", help="don't ask for confirmation (required when not on a terminal)")
    sy.add_argument("--json", action="store_true", help="print the summary as JSON")
    sy.add_argument("--full", action="store_true", help="send every record, even unchanged ones")

    sb = sub.add_parser("sandbox", help="run the built-in sandbox alone and print its URLs")
    sb.add_argument("--data", metavar="DIR", type=Path, help="load CSV files from DIR instead of the seed")
    sb.add_argument("--reset", action="store_true", help="start afresh: new seed data, empty Dotdigital account")
    sb.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    sb.add_argument("--faults", metavar="FILE.toml", type=Path, help="inject the faults of this plan (tests)")
    return parser


# ---------------------------------------------------------------- wiring


def resolve_config(args: argparse.Namespace, paths: paths_mod.Paths) -> tuple[Config, Path]:
    """The config from --config, else the home's config.toml, else the defaults; flags override."""
    if args.config is not None:
        cfg, path = load_config(args.config), args.config
    elif paths.config_file.exists():
        cfg, path = load_config(paths.config_file), paths.config_file
    else:
        cfg, path = Config(), paths.config_file
    if args.sandbox:
        cfg.dynamics.environment_url = ""
    if args.country is not None:
        from dynsync_tui.core.countries import is_known_region

        code = args.country.strip()
        if code.lower() != "off" and not is_known_region(code.upper()):  # "" too: say off to turn it off
            raise ConfigError(f"--country {args.country!r}: not an ISO country code (use e.g. GB, US, or off)")
        cfg.validation.default_country = None if code.lower() == "off" else code.upper()
    if args.record_country is not None:
        cfg.validation.record_country_field = args.record_country.strip()
    return cfg, path


def sandbox_home(paths: paths_mod.Paths, data: Path | None) -> Path:
    """The seed sandbox lives in the home's sandbox/; each CSV folder gets a home of its own."""
    if data is None:
        return paths.sandbox_dir
    digest = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:10]
    return paths.sandbox_dir / f"csv-{digest}"


@contextmanager
def running_sandbox(paths: paths_mod.Paths, data: Path | None, needed: bool) -> Iterator[Any]:
    if not needed:
        yield None
        return
    from dynsync_tui.sandbox import Sandbox

    if data is not None and not data.is_dir():
        raise ConfigError(f"--data {data}: no such folder")
    sb = Sandbox(sandbox_home(paths, data), data_dir=data)
    sb.start()
    try:
        yield sb.info
    finally:
        sb.stop()


def _prompt_secret(text: str) -> str:
    """Ask for a missing secret on the terminal (not echoed); it is kept out of the logs."""
    import getpass

    value = getpass.getpass(f"{text}: ")
    logs.add_secrets(value)
    return value


def check_state_path(state: Path | None) -> None:
    """An explicit --state names a file in an existing folder (a typo must not start a new
    state somewhere else, which would make every record look new)."""
    if state is not None and not state.parent.exists():
        raise CliError(f"--state {state}: folder {state.parent} does not exist", EXIT_BAD_INPUT)
    if state is not None and state.is_dir():
        raise CliError(f"--state {state}: is a folder; give a file name", EXIT_BAD_INPUT)


def _connect(cfg: Config, paths: paths_mod.Paths, info: Any, state: Path | None,
             *, can_prompt: bool = False, **hooks: Any) -> Any:
    from dynsync_tui.sync.services import build_services

    logs.add_secrets(getattr(info, "client_secret", None), getattr(info, "api_password", None))
    if state is not None:
        paths = dataclasses.replace(paths, state_file=state)
    prompt = _prompt_secret if can_prompt and sys.stdin.isatty() and sys.stderr.isatty() else None
    hooks.setdefault("prompt", prompt)  # the TUI passes its own (a modal), see cmd_tui
    return build_services(cfg, paths, sandbox_info=info if cfg.is_sandbox else None, **hooks)


def _checked(services: Any, cfg: Config) -> Any:
    """The services, once the config's mappings, fields and lists fit the environment."""
    from dynsync_tui.sync import preflight

    preflight.check(cfg, services.dataverse)
    return services


# ---------------------------------------------------------------- commands


def cmd_preview(args: argparse.Namespace, paths: paths_mod.Paths) -> int:
    import json

    from dynsync_tui.core.export import check_path, write_csv
    from dynsync_tui.sync.engine import Engine

    cfg, _ = resolve_config(args, paths)
    check_state_path(args.state)
    if args.export is not None:
        check_path(args.export)
    with running_sandbox(paths, args.data, cfg.is_sandbox) as info:
        services = _checked(_connect(cfg, paths, info, args.state, can_prompt=True), cfg)
        services.dotdigital.account_info()  # sign in to Dotdigital too: a wrong password fails here, not at sync
        preview = Engine(cfg, services, on_event=logs.event_logger()).preview()
    if args.export is not None:
        rows = write_csv(args.export, preview.verdicts)
        print(f"Wrote {rows:,} rows to {Path(args.export).resolve()}", file=sys.stderr)
    summary = preview.summary
    logs.log_summary("preview", summary)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
    else:
        from dynsync_tui.core.export import summary_lines

        print("\n".join(summary_lines(summary, services.label)))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace, paths: paths_mod.Paths) -> int:
    import json

    from dynsync_tui.sync.engine import Engine

    cfg, _ = resolve_config(args, paths)
    check_state_path(args.state)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("sync: no terminal to ask for confirmation on; add --yes to sync without asking")
        answer = input("Sync to Dotdigital now? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing sent.")
            return EXIT_OK
    live = sys.stderr.isatty() and not args.json
    with running_sandbox(paths, args.data, cfg.is_sandbox) as info:
        services = _checked(_connect(cfg, paths, info, args.state, can_prompt=True), cfg)
        engine = Engine(cfg, services, on_event=logs.event_logger(_progress_line if live else None))
        summary = engine.sync(full=args.full)
    if live:
        sys.stderr.write("\r\x1b[2K")
    out = {
        "run_id": summary.run_id, "created": summary.created, "updated": summary.updated,
        "unchanged": summary.unchanged, "skipped": summary.skipped, "failed": summary.failed,
        "seconds": round(summary.seconds, 2), "dataverse_requests": summary.dataverse_requests,
        "dotdigital_calls": summary.dotdigital_calls,
    }
    logs.log.info("sync: %s", out)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"Sync finished in {out['seconds']} s (run {out['run_id']}): {summary.created:,} created, "
            f"{summary.updated:,} updated, {summary.unchanged:,} unchanged, {summary.skipped:,} skipped, "
            f"{summary.failed:,} failed."
        )
    return EXIT_FAILED_RECORDS if summary.failed else EXIT_OK


def _progress_line(ev: Any) -> None:
    eta = f" ETA {ev.eta_s:.0f}s" if getattr(ev, "eta_s", None) else ""
    sys.stderr.write(
        f"\r\x1b[2K{ev.phase}: {ev.done}/{ev.total} · {ev.created} created · {ev.updated} updated · "
        f"{ev.skipped} skipped · {ev.failed} failed{eta} {ev.message or ''}"[:200]
    )
    sys.stderr.flush()


def cmd_sandbox(args: argparse.Namespace, paths: paths_mod.Paths) -> int:
    from dynsync_tui.sandbox import serve

    if args.data is not None and not args.data.is_dir():
        raise ConfigError(f"--data {args.data}: no such folder")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: must be 0 (any free port) to 65535")
    return serve(sandbox_home(paths, args.data), args.data, args.reset, port=args.port, faults=args.faults)


def cmd_tui(args: argparse.Namespace, paths: paths_mod.Paths) -> int:
    from dynsync_tui.tui.app import create_app

    cfg, cfg_path = resolve_config(args, paths)
    check_state_path(args.state)
    with running_sandbox(paths, args.data, cfg.is_sandbox) as info:
        sandbox_state: dict[str, Any] = {"info": info}

        def connect(c: Config, **hooks: Any) -> Any:  # hooks: prompt, on_device_code, cancel, on_wait
            if c.is_sandbox and sandbox_state["info"] is None:
                raise ConfigError("the sandbox is not running: restart with dynsync --sandbox")
            return _connect(c, paths, sandbox_state["info"], args.state, **hooks)

        app = create_app(config=cfg, config_path=cfg_path, paths=paths, connect=connect,
                         sandbox_label="sandbox" if info is not None else None)
        app.run()
        return int(app.return_code or 0)


COMMANDS: dict[str | None, Callable[[argparse.Namespace, paths_mod.Paths], int]] = {
    None: cmd_tui, "preview": cmd_preview, "sync": cmd_sync, "sandbox": cmd_sandbox,
}


def error_code(exc: BaseException) -> int | None:
    """Map an exception to an exit code (None: not one of ours, let it raise)."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, ConfigError):
        return EXIT_BAD_INPUT
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"SandboxDataError", "StateError", "MappingError", "ExportError"}:
        return EXIT_BAD_INPUT
    if "ConnectorError" in names:
        return EXIT_CANNOT_CONNECT
    if isinstance(exc, OSError):
        return EXIT_CANNOT_CONNECT
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = paths_mod.resolve()
    paths.ensure()
    run_log = logs.start(paths.log_dir, args.command or "tui", pii=getattr(args, "log_pii", False),
                         verbose=getattr(args, "verbose", False) and args.command is not None)
    logs.log.info("start: dynsync %s %s", __version__, args.command or "tui")
    code = EXIT_INTERNAL
    try:
        code = COMMANDS[args.command](args, paths)
        return code
    except BrokenPipeError:  # `dynsync preview | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
        return code
    except KeyboardInterrupt:
        code = 130
        print("dynsync: interrupted", file=sys.stderr)
        return code
    except Exception as exc:  # one line, never a traceback
        code = error_code(exc)  # type: ignore[assignment]
        if code is None:
            logs.log.error("internal error: %s: %s", type(exc).__name__, exc)
            code = _internal_error(exc, paths)
            return code
        logs.log.error("%s", exc)
        print(f"dynsync: {exc}", file=sys.stderr)
        return code
    finally:
        logs.log.info("end: exit code %s", code)
        run_log.close()


def _internal_error(exc: BaseException, paths: paths_mod.Paths) -> int:
    """A bug: one line on screen, the traceback in the log folder (no secrets are in tracebacks)."""
    import traceback

    log = paths.log_dir / "crash.log"
    try:
        with open(log, "a", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
            traceback.print_exception(exc, file=fh)
        where = f" (details in {log})"
    except OSError:
        where = ""
    print(f"dynsync: internal error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
    return EXIT_INTERNAL
