#!/usr/bin/env python3
"""Build the one-folder bundle (`dist/asr-tray/`), or reuse the one there.

Run by the environment that holds the app and PyInstaller (`python
packaging/dev.py bundle` sets that up first, then runs this with the venv's
Python; tests/test_bundle.py runs it directly). A build is reused when its
stamp matches: a hash of everything the bundle is made of (the app's sources
and resources, this folder, pyproject.toml, the Python and the version of
every installed distribution, the options). So a second run, on CI too when
dist/ is kept, is a hash and nothing else.

After a build the result is checked, and the build fails with a sentence when
it holds what the app never uses: torch, CUDA libraries, the test suite or its
data. The stamp records the bundle's size on disk.

    python packaging/pyinstaller/build.py [--force] [--no-base] [--dist DIR] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SPEC = HERE / "asr_tray.spec"
NAME = "asr-tray"
SOURCES = ("gui", "service", "resources", "packaging/pyinstaller")
EXE_SUFFIX = ".exe" if os.name == "nt" else ""
EXECUTABLES = (f"asr-tray{EXE_SUFFIX}", f"asr-service{EXE_SUFFIX}")
# What must never be in a CPU bundle: path patterns (lowercase, "/" separators).
FORBIDDEN = {
    "torch": re.compile(r"(^|/)(torch|torchgen|functorch|silero_vad)(/|$)|libtorch"),
    "a CUDA library": re.compile(r"(^|/)(libcudart|libcublas|libcudnn|libcufft|libcurand|"
                                 r"libcusparse|libcusolver|libnvrtc|libnccl|cudart64|cublas64|"
                                 r"cudnn64)[^/]*$|(^|/)nvidia/(cu|nccl)"),
    "the test suite or its data": re.compile(r"(^|/)(tests|bench)/|\.wav$|(^|/)pytest|"
                                             r"(^|/)hypothesis/|(^|/)schemathesis/"),
}


def say(msg: str) -> None:
    print(f"[bundle] {msg}", flush=True)


def source_files() -> list[Path]:
    files = [ROOT / "pyproject.toml"]
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if (path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
                    and path != Path(__file__).resolve()):   # the builder is no input
                files.append(path)
    return files


def build_hash(with_base: bool) -> str:
    """Everything a build depends on, as one digest."""
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    # The installed packages, from site-packages only: sys.path differs between
    # callers (pytest puts the checkout first, and its .egg-info with it).
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    dists = sorted({f"{d.metadata['Name']}=={d.version}"
                    for d in metadata.distributions(path=site) if d.metadata["Name"]})
    digest.update("\n".join(dists).encode())
    digest.update(f"{sys.version}|{sys.platform}|base={with_base}".encode())
    return digest.hexdigest()


def dir_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def forbidden_files(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for root, _dirs, files in os.walk(folder):
        for f in files:
            rel = (Path(root) / f).relative_to(folder).as_posix().lower()
            for what, pattern in FORBIDDEN.items():
                if pattern.search(rel):
                    found.setdefault(what, []).append(rel)
    return found


@contextmanager
def build_lock(dist: Path):
    """One build at a time per dist folder (two test sessions, a test and dev.py)."""
    dist.mkdir(parents=True, exist_ok=True)
    with open(dist / f".{NAME}-build.lock", "w") as fh:
        if os.name == "posix":
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def stamp_path(dist: Path) -> Path:
    return dist / f"{NAME}.build-stamp.json"


def read_stamp(dist: Path) -> dict:
    try:
        return json.loads(stamp_path(dist).read_text())
    except (OSError, ValueError):
        return {}


def bundle_ok(folder: Path) -> bool:
    return all((folder / exe).is_file() for exe in EXECUTABLES)


def ensure_bundle(dist: Path | None = None, with_base: bool = True, force: bool = False) -> dict:
    """The bundle's stamp ({folder, hash, size_bytes, build_seconds, reused}),
    building it first unless an identical one is there."""
    dist = Path(dist or ROOT / "dist").resolve()
    folder = dist / NAME
    wanted = build_hash(with_base)
    with build_lock(dist):
        stamp = read_stamp(dist)
        if not force and stamp.get("hash") == wanted and bundle_ok(folder):
            return dict(stamp, reused=True)
        try:
            import PyInstaller  # noqa: F401
        except ImportError:
            raise SystemExit("[bundle] PyInstaller is not installed in this environment: run "
                             "`python packaging/dev.py bundle`, which installs the project's "
                             "[bundle] extra, or `pip install \"pyinstaller>=6.10\"`.") from None
        stamp_path(dist).unlink(missing_ok=True)
        work = ROOT / "build" / "pyinstaller"
        say(f"building {folder} with PyInstaller (a few minutes; later runs reuse it until "
            "the sources or the installed packages change)")
        t0 = time.monotonic()
        env = dict(os.environ, ASR_TRAY_BUNDLE_BASE="1" if with_base else "0")
        res = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm",
                              "--log-level", "WARN", "--distpath", str(dist),
                              "--workpath", str(work), str(SPEC)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace")
        seconds = time.monotonic() - t0
        if res.returncode != 0 or not bundle_ok(folder):
            print(res.stdout[-8000:], file=sys.stderr)
            raise SystemExit(f"[bundle] PyInstaller failed (exit {res.returncode}; its output "
                             f"above). Fix what it names, then run the build again.")
        bad = forbidden_files(folder)
        if bad:
            lines = "; ".join(f"{what}: {', '.join(files[:5])}" for what, files in bad.items())
            shutil.rmtree(folder, ignore_errors=True)
            raise SystemExit(f"[bundle] the bundle holds what the app never uses ({lines}). "
                             "Add it to the excludes of packaging/pyinstaller/asr_tray.spec "
                             "and build again.")
        stamp = {"folder": str(folder), "hash": wanted, "with_base": with_base,
                 "size_bytes": dir_size(folder), "build_seconds": round(seconds, 1),
                 "built_at": time.time()}
        stamp_path(dist).write_text(json.dumps(stamp, indent=1) + "\n")
        return dict(stamp, reused=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="build even when the stamp matches")
    p.add_argument("--no-base", action="store_true",
                   help="leave out the offline multilingual base model (about 145 MB)")
    p.add_argument("--dist", type=Path, default=None, help="output folder (default: dist/)")
    p.add_argument("--json", action="store_true", help="print the stamp as JSON")
    args = p.parse_args(argv)
    stamp = ensure_bundle(args.dist, with_base=not args.no_base, force=args.force)
    if args.json:
        print(json.dumps(stamp))
    else:
        how = "reused (sources unchanged)" if stamp["reused"] else \
            f"built in {stamp['build_seconds']:.0f} s"
        say(f"{stamp['folder']}: {stamp['size_bytes'] / 2**20:.0f} MiB, {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
