"""`asr-service`: serve (default), leftovers, status."""
from __future__ import annotations

import argparse
import json
import os
import sys

from service.config import BUNDLED_MODEL, ModelConfig, ServiceConfig, normalize_origin
from service.sizes import mib

# The defaults live in config.py; the CLI only reads them from there.
_SERVICE = ServiceConfig()
_MODEL = ModelConfig()
ALLOWED_ORIGINS_ENV = "ASR_TRAY_ALLOWED_ORIGINS"
MAX_PORT_SEARCH = 1000   # a search that long means something else is wrong


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr-service", description="Local speech recognition service.")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="run the HTTP service (default)")
    s.add_argument("--host", default=_SERVICE.host, help="listen address (loopback unless --token)")
    s.add_argument("--port", type=_port, default=_SERVICE.port,
                   help=f"TCP port (default {_SERVICE.port}); 0 picks a free one")
    s.add_argument("--port-search", type=_port_search, default=_SERVICE.port_search, metavar="N",
                   help="when --port is taken, listen on the first free one of the next N ports "
                        f"(default {_SERVICE.port_search}: that port or nothing); the ready "
                        "line names the port used")
    s.add_argument("--model", default=_MODEL.model,
                   help=f"{BUNDLED_MODEL} (bundled, English), base (offline, multilingual), a "
                        "name downloaded with `asr-service models download NAME`, or a "
                        f"CTranslate2 model folder; default: {BUNDLED_MODEL}")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default=_MODEL.device)
    s.add_argument("--compute-type", default=_MODEL.compute_type,
                   help="CTranslate2 compute type (default int8 on CPU, float16 on CUDA)")
    s.add_argument("--cpu-threads", type=int, default=_MODEL.cpu_threads)
    s.add_argument("--download-root", default=_MODEL.download_root,
                   help="the model cache: where base is joined and downloads go (default: "
                        "the per-user cache folder, see docs/models.md)")
    s.add_argument("--token", default=os.environ.get("ASR_TRAY_TOKEN"),
                   help="bearer token for control endpoints (env ASR_TRAY_TOKEN)")
    s.add_argument("--max-upload-mb", type=float, default=_SERVICE.max_upload_bytes / 2**20,
                   help=f"largest upload accepted (default {mib(_SERVICE.max_upload_bytes)})")
    s.add_argument("--max-queue", type=int, default=_SERVICE.max_queue,
                   help="requests waiting for the worker before new ones get 503 "
                        f"(default {_SERVICE.max_queue})")
    s.add_argument("--max-streams", type=int,
                   default=int(os.environ.get("ASR_TRAY_MAX_STREAMS", _SERVICE.max_streams)),
                   help="live WebSocket streams served at once (env ASR_TRAY_MAX_STREAMS, "
                        f"default {_SERVICE.max_streams})")
    s.add_argument("--request-timeout", type=float, default=_SERVICE.request_timeout,
                   help=f"seconds per request (default {_SERVICE.request_timeout:g})")
    s.add_argument("--stream-idle-timeout", type=float, default=_SERVICE.stream_idle_timeout,
                   help="seconds a live stream may send no audio before it is closed, "
                        f"freeing its slot (default {_SERVICE.stream_idle_timeout:g}; 0: never)")
    s.add_argument("--allow-origin", action="append", type=_origin, metavar="URL",
                   default=None,
                   help="a web origin (scheme://host[:port]) whose pages may open streams and "
                        "send requests; repeatable (env ASR_TRAY_ALLOWED_ORIGINS, comma-separated). "
                        "Clients that send no Origin header need none.")
    s.add_argument("--lifeline-stdin", action="store_true",
                   help="exit when stdin reaches EOF (the parent keeps a pipe open)")
    s.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    lo = sub.add_parser("leftovers", help="list (or --kill) processes of earlier runs")
    lo.add_argument("--kill", action="store_true", help="end them")
    lo.add_argument("--json", action="store_true", help="machine-readable output")
    lo.add_argument("--runtime-dir", metavar="DIR", default=None,
                    help="only leftovers of that runtime directory (and its registry); "
                         "default: every leftover of yours on this machine")

    st = sub.add_parser("status", help="show running services from the registry")
    st.add_argument("--json", action="store_true")

    from service.models import commands as model_commands

    model_commands.add_parser(sub)
    return p


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port: give a whole number "
                                         "from 1 to 65535, or 0 for a free one.")
    return port


def _port_search(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_PORT_SEARCH:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of ports to try: give a "
                                         f"whole number from 0 to {MAX_PORT_SEARCH}.")
    return n


def _origin(text: str) -> str:
    try:
        return normalize_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _allowed_origins(given: list[str] | None) -> tuple[str, ...]:
    """--allow-origin values, or else ASR_TRAY_ALLOWED_ORIGINS (comma-separated)."""
    if given:
        return tuple(dict.fromkeys(given))
    env = os.environ.get(ALLOWED_ORIGINS_ENV, "")
    try:
        return tuple(dict.fromkeys(normalize_origin(o) for o in env.split(",") if o.strip()))
    except ValueError as exc:
        raise SystemExit(f"asr-service: {ALLOWED_ORIGINS_ENV}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        argv = ["serve", *argv]
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from service.safety import markers

        markers.ensure_markers("service", "service", argv)
        import secrets

        token = args.token or secrets.token_urlsafe(24)
        cfg = ServiceConfig(
            host=args.host, port=args.port, port_search=args.port_search,
            token=token, token_given=bool(args.token),
            max_upload_bytes=int(args.max_upload_mb * 2**20), max_queue=args.max_queue,
            max_streams=args.max_streams, stream_idle_timeout=args.stream_idle_timeout,
            allowed_origins=_allowed_origins(args.allow_origin),
            request_timeout=args.request_timeout, lifeline_stdin=args.lifeline_stdin,
            model=ModelConfig(model=args.model, device=args.device,
                              compute_type=args.compute_type, cpu_threads=args.cpu_threads,
                              download_root=args.download_root))
        from service.server import serve

        code = serve(cfg, args.log_level)
        # Everything of ours has stopped by now (worker, resource tracker,
        # registry record, log files flushed below). The interpreter's own
        # teardown of numpy, FastAPI and uvicorn adds 0.6-0.9 s here and more
        # under wine, for nothing a caller waiting for our exit needs.
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.command == "leftovers":
        return _leftovers(args)
    if args.command == "status":
        return _status(args)
    if args.command == "models":
        from service.models import commands as model_commands

        return model_commands.run(args)
    return 2


def _leftovers(args) -> int:
    from service.safety import leftovers, markers

    if args.runtime_dir:
        # That directory's registry is the one to read and prune (this process only).
        os.environ[markers.RUNTIME_DIR] = args.runtime_dir
    found = leftovers.scan(runtime_dir=args.runtime_dir)
    if args.kill:
        report = leftovers.kill(found)
        if args.json:
            print(json.dumps(report.to_json(), indent=1))
        else:
            print(report.sentence())
        return 1 if report.survivors else 0
    if args.json:
        print(json.dumps({
            "leftovers": [l.to_json() for l in found.leftovers],
            "records": [dict(r.to_json(), alive=False) for r in found.stale_records]
            + [dict(r.to_json(), alive=True) for r in found.live_records]
            + [dict(l.record.to_json(), alive=True) for l in found.leftovers if l.record]}, indent=1))
        return 0
    if not found.leftovers:
        print("No leftover processes.")
    for l in found.leftovers:
        print(f"{l.role:8} pid {l.pid:<7} age {l.age:7.0f}s  rss {mib(l.rss or 0):>10}  "
              f"gpu {l.gpu_memory}")
        print(f"         started {l.started}  runtime dir {l.runtime_dir}")
        print(f"         {l.cmdline}")
    if found.stale_records:
        print(f"{len(found.stale_records)} registry record(s) of processes that are gone "
              "(removed with --kill).")
    return 0


def _status(args) -> int:
    import httpx

    from service.safety import registry

    services = []
    for rec in registry.read_all():
        if rec.role != "service" or rec.process() is None:
            continue
        entry = {"pid": rec.pid, "url": rec.extra.get("url"), "instance": rec.instance}
        try:
            # trust_env=False: a desktop proxy setting must not capture loopback calls
            entry["status"] = httpx.get(f"{entry['url']}/v1/status", timeout=2,
                                        trust_env=False).json()
        except Exception as exc:
            entry["error"] = f"not answering: {exc}"
        services.append(entry)
    if args.json:
        print(json.dumps({"services": services}, indent=1))
    elif not services:
        print("No ASR service is running.")
    else:
        for s in services:
            st = s.get("status") or {}
            print(f"service pid {s['pid']} at {s['url']}: {st.get('state', s.get('error'))}, "
                  f"worker pid {st.get('worker_pid')}, model {st.get('model')} on {st.get('device')}, "
                  f"restarts {st.get('restarts')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
