"""The interface's translations: gather, compile, check (standard library only).

    python packaging/i18n.py           lupdate: every tr()/translate() string of gui/
                                       into resources/i18n/asr_tray_<lang>.ts (existing
                                       translations kept), then lrelease into the .qm
    python packaging/i18n.py --check   fail (exit 1, each problem on a line) when a
                                       source string has no finished translation, a
                                       translation drops or adds a placeholder, or a
                                       .qm is not what its .ts compiles to

Uses PySide6's own tools (pyside6-lupdate, pyside6-lrelease) next to this
Python. Sources are listed without line numbers (-locations none), so that
editing code does not rewrite the .ts. Strings that left the code are dropped
(-no-obsolete). docs/i18n.md says how to translate.
"""
from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "gui"
CATALOGUES = ROOT / "resources" / "i18n"
LANGUAGES = ("zh_CN",)                 # English is the source language
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:[:!][^{}]*)?\}|%n|%L?\d")


def ts_path(lang: str) -> Path:
    return CATALOGUES / f"asr_tray_{lang}.ts"


def qm_path(lang: str) -> Path:
    return CATALOGUES / f"asr_tray_{lang}.qm"


def tool(name: str) -> str:
    """pyside6-<name> of this Python's environment, else the one on PATH."""
    here = Path(sys.executable).parent
    for candidate in (here / f"pyside6-{name}", here / f"pyside6-{name}.exe"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(f"pyside6-{name}")
    if found is None:
        sys.exit(f"pyside6-{name} was not found next to {sys.executable} or on PATH: install "
                 "PySide6 into this environment (it ships the tool), then run this again.")
    return found


def sources() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in SOURCES.rglob("*.py")
                  if "__pycache__" not in p.parts)


def run(args: list[str]) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{Path(args[0]).name} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def lupdate(ts: Path, lang: str) -> str:
    return run([tool("lupdate"), "-locations", "none", "-no-obsolete", "-target-language", lang,
                *sources(), "-ts", str(ts)])


def lrelease(ts: Path, qm: Path) -> str:
    return run([tool("lrelease"), "-silent", str(ts), "-qm", str(qm)])


def update() -> int:
    CATALOGUES.mkdir(parents=True, exist_ok=True)
    for lang in LANGUAGES:
        print(lupdate(ts_path(lang), lang).strip())
        lrelease(ts_path(lang), qm_path(lang))
        print(f"compiled {qm_path(lang).relative_to(ROOT)}")
    problems = [p for lang in LANGUAGES for p in translation_problems(ts_path(lang))]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} message(s) still need a translation: open the .ts in "
              "pyside6-linguist (or an editor), translate, then run this again.")
    return 0


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text or ""))


def translation_problems(ts: Path) -> list[str]:
    """Unfinished, empty or placeholder-breaking translations in `ts`."""
    problems = []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            where = f"{ts.name}: [{name}] {source!r}"
            if translation is None or translation.get("type") in ("unfinished", "vanished",
                                                                    "obsolete"):
                problems.append(f"{where}: not translated (or not marked finished)")
                continue
            forms = ([f.text or "" for f in translation.iter("numerusform")]
                     if message.get("numerus") == "yes" else [translation.text or ""])
            for form in forms:
                if not form.strip():
                    problems.append(f"{where}: the translation is empty")
                elif _placeholders(form) != _placeholders(source):
                    problems.append(f"{where}: placeholders {_placeholders(source)} in the source "
                                    f"but {_placeholders(form)} in the translation {form!r}")
    return problems


def check() -> int:
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="asr-i18n-") as tmp:
        for lang in LANGUAGES:
            ts, qm = ts_path(lang), qm_path(lang)
            if not ts.exists():
                problems.append(f"{ts.relative_to(ROOT)} is missing: run python packaging/i18n.py")
                continue
            # What the code asks for now, merged into a copy of the committed .ts.
            fresh = Path(tmp) / ts.name
            shutil.copyfile(ts, fresh)
            lupdate(fresh, lang)
            problems += translation_problems(fresh)
            compiled = Path(tmp) / qm.name
            lrelease(ts, compiled)
            if not qm.exists() or not filecmp.cmp(compiled, qm, shallow=False):
                problems.append(f"{qm.relative_to(ROOT)} is not what {ts.name} compiles to: "
                                "run python packaging/i18n.py")
    for problem in problems:
        print(problem)
    print("translations: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Gather, compile and check the interface's "
                                "translations (resources/i18n).")
    p.add_argument("--check", action="store_true",
                   help="change nothing; fail when a translation is missing or a .qm is stale")
    opts = p.parse_args(argv)
    return check() if opts.check else update()


if __name__ == "__main__":
    sys.exit(main())
