"""Who may address the service: the Host and Origin rules against the
browser next door (pure functions; fronts/gate.py applies them).

A web page the user visits can send requests to 127.0.0.1: browsers apply no
CORS to WebSockets, a form POST needs no preflight, and with DNS rebinding
(evil.example resolving to 127.0.0.1) the page may even read the answers. Two
rules close that:

  Host    on a loopback bind, a request must name this computer (localhost,
          127.x.x.x or [::1]) and our port. A rebound page names its own
          domain, so it is refused. Beyond loopback the Host is not checked:
          clients reach the service by whatever name the network gives it,
          and the token every request needs there is what protects it
          (docs/decisions.md).
  Origin  a request that can change something (the WebSocket handshake, any
          method but GET/HEAD/OPTIONS) and carries an Origin must come from a
          page of this service itself or from an origin the user allowed
          (--allow-origin). The tray, the CLI and the node send no Origin.
"""
from __future__ import annotations

import ipaddress

from service.config import ServiceConfig, normalize_origin

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOOPBACK_NAMES = ("localhost",)


def _split_authority(authority: str) -> tuple[str, int | None] | None:
    """'host:port' / '[v6]:port' / 'host' -> (host lower-case, port); None if malformed."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[1:end], authority[end + 1:]
    else:
        host, sep, port = authority.rpartition(":")
        if not sep:
            host, port = authority, ""
        rest = sep + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    return host, int(rest[1:]) if rest else None


def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def names_this_computer(authority: str, port: int | None, default_port: int = 80) -> bool:
    """True when `authority` (a Host header, or an Origin's host[:port]) is a
    loopback name or address with our port (`port` None: any port)."""
    parsed = _split_authority(authority)
    if parsed is None:
        return False
    host, given = parsed
    if not is_loopback_host(host):
        return False
    return port is None or (given if given is not None else default_port) == port


def host_refusal(host_header: str | None, port: int | None, cfg: ServiceConfig) -> str | None:
    """The sentence for a request whose Host does not name this service, or None."""
    if not cfg.loopback:
        return None  # beyond loopback the token guards every request (docs/decisions.md)
    if host_header is not None and names_this_computer(host_header, port):
        return None
    where = f"127.0.0.1:{port}" if port else "127.0.0.1"
    shown = "no Host header" if host_header is None else f"Host {host_header[:80]!r}"
    return (f"This service answers only requests addressed to this computer, and this one "
            f"came with {shown}. Use http://{where} (or localhost); a web page on another "
            "site cannot reach it. If a proxy forwards to the service, make it keep the "
            "original Host.")


def origin_refusal(origin: str | None, host_header: str | None, scheme: str,
                   cfg: ServiceConfig) -> str | None:
    """The sentence for a request from a web page the service does not trust, or None.
    `origin` None (no header) is a program, not a page: allowed."""
    if origin is None:
        return None
    try:
        given = normalize_origin(origin)
    except ValueError:
        given = None  # "null" (sandboxed or file:// pages) and anything malformed
    if given is not None:
        if given in cfg.allowed_origins:
            return None
        # The service's own pages (/docs) are same-origin: the Origin names the Host.
        own_scheme = "https" if scheme in ("https", "wss") else "http"
        if host_header and given == _same_origin(own_scheme, host_header):
            return None
    return (f"Requests from the web page at {origin[:80]!r} are refused: a page of another "
            "site must not use this service behind your back. To allow that site, start "
            "the service with --allow-origin URL (or ASR_TRAY_ALLOWED_ORIGINS); programs "
            "that send no Origin header need nothing.")


def _same_origin(scheme: str, host_header: str) -> str | None:
    try:
        return normalize_origin(f"{scheme}://{host_header.strip()}")
    except ValueError:
        return None
