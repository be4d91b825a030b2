"""Settings shared by the service and its worker (plain data: it is pickled
into the spawned worker, so it must not hold anything heavy)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

BUNDLED_MODEL = "tiny.en"

# Names and addresses that reach only this computer. Listening on one of them
# is what lets the service skip the token for plain requests.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(url: str) -> str:
    """`scheme://host[:port]` as a browser writes it in an Origin header
    (lower case, no default port, no path), so that comparing is exact.
    ValueError, with a sentence, for anything that is not an origin."""
    text = url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (parts is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname
            or parts.path or parts.query or parts.fragment or parts.username):
        raise ValueError(f"{url!r} is not a web origin: write it as scheme://host[:port], "
                         "e.g. http://localhost:3000 (no path).")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


@dataclass(frozen=True)
class ModelConfig:
    model: str = BUNDLED_MODEL        # a faster-whisper name or a CTranslate2 directory
    device: str = "auto"               # auto | cpu | cuda
    compute_type: str | None = None    # default: int8 on CPU, float16 on CUDA
    cpu_threads: int = 0               # 0: one per core, at most 8
    download_root: str | None = None

    def threads(self) -> int:
        return self.cpu_threads or max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class ServiceConfig:
    """Every default is written here once; the CLI takes its defaults from
    these fields."""

    host: str = "127.0.0.1"
    port: int = 8765
    port_search: int = 0               # when `port` is taken, try this many ports after it
    token: str | None = None
    token_given: bool = False          # a token chosen by the caller, not generated
    max_upload_bytes: int = 100 * 2**20
    max_queue: int = 8                 # requests waiting for the worker, beyond the one it runs
    max_streams: int = 4               # live caption streams served at once (real time each)
    request_timeout: float = 300.0     # seconds a single request may keep the worker
    lifeline_stdin: bool = False       # the tray's pipe on our stdin is our lifeline
    stream_idle_timeout: float = 30.0  # seconds a live stream may send no audio (0: no limit)
    # Web origins (scheme://host[:port]) whose pages may open streams and POST;
    # clients that send no Origin (the tray, the CLI, the node) need none.
    allowed_origins: tuple[str, ...] = ()
    model: ModelConfig = ModelConfig()

    @property
    def loopback(self) -> bool:
        """Listening only on this computer (no token needed for plain requests)."""
        return self.host in LOOPBACK_HOSTS
