"""What the service leaves on disk is safe to keep (issue 10): the token is in
no log line, no stderr and no registry record; the runtime directory, the
registry and the logs are private to the user (0700 / 0600); a job_id or
trace_id holding a line break cannot forge a log line."""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import stat
import sys

import httpx
import pytest
from websockets.sync.client import connect

from service import logs

TOKEN = "log-safety-secret-9d2e7a"
FORGED = "FORGED service[1] ERROR asr.service: all is lost"


@pytest.fixture(scope="module")
def svc(module_service_factory):
    # DEBUG: uvicorn's access log is on, the most talkative the service gets.
    s = module_service_factory("--token", TOKEN, "--log-level", "DEBUG")
    s.runtime_dir = module_service_factory.runtime_dir
    return s


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def everything_written(svc) -> dict[str, str]:
    files = {p.name: p.read_text(errors="replace") for p in svc.runtime_dir.rglob("*")
             if p.is_file()}
    files["stderr"] = open(svc.stderr_path, errors="replace").read()
    return files


def test_the_token_is_never_written(svc):
    ws_base = svc.url.replace("http://", "ws://") + "/v1/stream?sample_rate=16000"
    with connect(f"{ws_base}&token={TOKEN}", proxy=None, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "stop"}))
        assert json.loads(ws.recv(timeout=20))["type"] == "done"
    r = httpx.get(svc.url + f"/v1/status?token={TOKEN}",
                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200
    written = everything_written(svc)
    assert any(name.startswith("service-") and name.endswith(".json") for name in written), written
    assert "service.log" in written and "stream" in written["service.log"]
    leaks = [name for name, text in written.items() if TOKEN in text]
    assert not leaks, f"the token is written in {leaks}"
    record = next(json.loads(t) for n, t in written.items() if n.startswith("service-"))
    assert "--token" in record["extra"]["argv"], record   # the argv is there, its value is not


def test_runtime_files_are_private(svc):
    if os.name == "nt":
        pytest.skip("POSIX modes")
    rt = svc.runtime_dir
    for d in (rt, rt / "registry", rt / "logs"):
        assert mode(d) == 0o700, f"{d} is {oct(mode(d))}"
    files = [p for p in rt.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"service.log", "worker.log"}
    assert any(p.parent.name == "registry" for p in files)
    for p in files:
        assert mode(p) == 0o600, f"{p} is {oct(mode(p))}"


def test_a_line_break_in_a_job_id_forges_no_log_line(svc):
    pcm = b"\0\0" * 8000
    body = {"job_id": "a\n" + FORGED, "trace_id": "t\r\n" + FORGED,
            "audio": base64.b64encode(pcm).decode(), "audio_format": "pcm16",
            "sample_rate": 16000}
    r = httpx.post(svc.url + "/utterance", json=body, timeout=60)
    assert r.status_code == 200, r.text
    written = everything_written(svc)
    log_text = written["service.log"] + written["worker.log"] + written["stderr"]
    assert "a\\n" + FORGED in log_text or "t\\r\\n" + FORGED in log_text, \
        "the utterance's ids should be in the log, escaped"
    forged = [line for line in log_text.splitlines() if line.startswith("FORGED")]
    assert not forged, forged


# ------------------------------------------------------------------ in-process
def formatted(*args, exc_info=None) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.log_safety")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error(*args, exc_info=exc_info)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_formatter_escapes_messages_but_not_tracebacks():
    text = formatted("job %s", "x\nERROR forged\x1b[2J\u2028")
    assert text.count("\n") == 1 and "x\\nERROR forged\\x1b[2J\\u2028" in text, text
    try:
        raise ValueError("boom")
    except ValueError:
        text = formatted("failed", exc_info=sys.exc_info())
    assert "Traceback (most recent call last):\n" in text and "ValueError: boom" in text, text


def test_redaction_of_tokens():
    logs.add_secret("plain-secret-value")
    text = formatted('"GET /v1/stream?a=1&token=abc.def HTTP/1.1" Authorization: bearer xyz '
                     "argv --token T0k --token=T1k and plain-secret-value")
    for secret in ("abc.def", "xyz", "T0k", "T1k", "plain-secret-value"):
        assert secret not in text, text
    assert logs.redact_argv(["serve", "--token", "T", "--port", "0", "--token=U"]) == \
        ["serve", "--token", "***", "--port", "0", "--token=***"]
