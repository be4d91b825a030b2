"""Shared fixtures. Every test runs with its own ASR_TRAY_RUNTIME_DIR, which
every process it starts inherits; after the test, anything still carrying that
directory in its environment is a leak: it is killed and the test fails."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import procs, speech  # noqa: E402
from tests.support.service_proc import start_service  # noqa: E402
from service.safety.markers import MARKERS  # noqa: E402

LEAK_GRACE = 5.0


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path, monkeypatch):
    rt = tmp_path / "runtime"
    rt.mkdir()
    monkeypatch.setenv("ASR_TRAY_RUNTIME_DIR", str(rt))
    for k in MARKERS:
        monkeypatch.delenv(k, raising=False)
    yield rt
    left = procs.wait_tree_gone(str(rt), LEAK_GRACE)
    if left:
        desc = [f"pid {p.pid} {' '.join(p.cmdline()[:4]) if p.is_running() else ''}" for p in left]
        procs.kill_all(left)
        pytest.fail(f"test leaked {len(left)} process(es) of its tree: {desc}")


@pytest.fixture(scope="session")
def speech_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    files = {k: speech.make_speech(d, k) for k in speech.SENTENCES}
    files["long"] = speech.concat(d / "long.wav", [files[k] for k in speech.SENTENCES], repeat=3)
    # minutes of speech: several seconds of compute even on a fast machine
    files["very_long"] = speech.concat(d / "very_long.wav", [files["long"]], gap_s=0.1, repeat=4)
    return files


@pytest.fixture
def service(tmp_path):
    """A running service on the bundled model, stopped (and checked) after the test."""
    svc = start_service(tmp_path)
    yield svc
    svc.stop()
