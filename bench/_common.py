"""Shared by the benchmarks: start a service, make speech, summarise timings.

Benchmarks run each case in its own ASR_TRAY_RUNTIME_DIR and check that no
process of it survives (they start real processes, like the tests)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.safety.markers import MARKERS  # noqa: E402
from tests.support import procs, speech  # noqa: E402
from tests.support.service_proc import start_service  # noqa: E402,F401


def scratch() -> Path:
    d = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    os.environ["ASR_TRAY_RUNTIME_DIR"] = str(d / "runtime")
    for k in MARKERS:
        os.environ.pop(k, None)
    (d / "runtime").mkdir()
    return d


def clip(d: Path) -> Path:
    """espeak speech of known text, 10-30 s long."""
    parts = [speech.make_speech(d, k) for k in speech.SENTENCES]
    out = speech.concat(d / "clip.wav", parts, gap_s=0.6, repeat=1)
    return out


def summary(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    return (f"median {statistics.median(v):.3f} {unit}, min {min(v):.3f}, max {max(v):.3f} "
            f"(n={len(v)})")


def leftovers_of_run() -> int:
    left = procs.wait_tree_gone(os.environ["ASR_TRAY_RUNTIME_DIR"], 3.0)
    procs.kill_all(left)
    return len(left)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
