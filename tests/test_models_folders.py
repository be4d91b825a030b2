"""A CTranslate2 folder is checked from its files before anything loads it,
and a folder or name that cannot load gets one sentence naming it and what is
wrong: from `check_folder`, from `asr-service models check`, and from a real
service, which reports it on its ready line and in /health."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.models import offline
from service.models.folder import check_folder
from service.safety.markers import without_markers


def copy_of_tiny(dst: Path, skip: tuple[str, ...] = (), model_bin_bytes: int | None = None,
                 model_bin: bytes | None = None) -> Path:
    """tiny.en's folder, hard-linked (no 75 MB copy), without `skip`, with a
    model.bin cut to `model_bin_bytes` or replaced by `model_bin`."""
    src = offline.tiny_en_folder()
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name in skip:
            continue
        if f.name == "model.bin" and (model_bin_bytes is not None or model_bin is not None):
            with open(f, "rb") as fh:
                data = model_bin if model_bin is not None else fh.read(model_bin_bytes)
            (dst / f.name).write_bytes(data)
            continue
        try:
            os.link(f, dst / f.name)
        except OSError:
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


# Each broken folder and the phrase its sentence carries.
BROKEN = {
    "missing": (lambda d: d / "nowhere", "no such folder"),
    "a file": (lambda d: copy_of_tiny(d / "m") / "model.bin", "a file, not a folder"),
    "no model.bin": (lambda d: copy_of_tiny(d / "m", skip=("model.bin",)),
                     "not a CTranslate2 model (no model.bin)"),
    "truncated": (lambda d: copy_of_tiny(d / "m", model_bin_bytes=30 * 2**20),
                  "model.bin is incomplete"),
    "not ctranslate2": (lambda d: copy_of_tiny(d / "m", model_bin=b"PK\3\4 a zip, say" * 99),
                        "not a CTranslate2 model file"),
    "no vocabulary": (lambda d: copy_of_tiny(d / "m", skip=("vocabulary.txt",)),
                      "no vocabulary.txt or vocabulary.json"),
    "no tokenizer": (lambda d: copy_of_tiny(d / "m", skip=("tokenizer.json",)),
                     "no tokenizer.json"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_folder_gets_a_sentence_naming_it(tmp_path, case):
    make, phrase = BROKEN[case]
    folder = make(tmp_path)
    check = check_folder(folder)
    assert not check.ok
    assert check.sentence.startswith(f"The model folder '{folder}' could not be loaded: ")
    assert phrase in check.sentence and check.sentence.endswith(".")


def test_the_truncated_model_bin_says_where_it_stops(tmp_path):
    check = check_folder(copy_of_tiny(tmp_path / "m", model_bin_bytes=30 * 2**20))
    assert "stops after 30 MiB inside '" in check.problem, check.problem


def test_good_folders_and_their_languages(tmp_path):
    tiny = check_folder(offline.tiny_en_folder())
    assert tiny.ok and tiny.languages == "en" and tiny.size_bytes > 70 * 2**20
    assert "English-only" in tiny.sentence
    base = check_folder(offline.ensure_base(tmp_path / "cache"))
    assert base.ok and base.languages == "multilingual"
    # vocabulary.json (a list) counts as vocabulary.txt does
    m = copy_of_tiny(tmp_path / "json", skip=("vocabulary.txt",))
    words = (offline.tiny_en_folder() / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    (m / "vocabulary.json").write_text(json.dumps(words))
    assert check_folder(m).languages == "en"


def test_models_check_command(tmp_path):
    env = without_markers(os.environ)
    run = lambda *a: subprocess.run([sys.executable, "-m", "service", "models", "check", *a],
                                    env=env, capture_output=True, text=True, timeout=60)
    good = run(str(offline.tiny_en_folder()), "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True
    bad_dir = copy_of_tiny(tmp_path / "m", skip=("model.bin",))
    bad = run(str(bad_dir))
    assert bad.returncode == 1
    assert bad.stdout.strip() == (f"The model folder '{bad_dir}' could not be loaded: not a "
                                  "CTranslate2 model (no model.bin).")


@pytest.mark.parametrize("case", ["missing", "no model.bin", "truncated", "not downloaded"])
def test_the_service_reports_the_sentence_when_the_model_cannot_load(
        tmp_path, service_factory, monkeypatch, case):
    monkeypatch.setenv("ASR_TRAY_MODEL_CACHE", str(tmp_path / "cache"))
    if case == "not downloaded":
        model, phrase = "large-v3", ("The model 'large-v3' is not downloaded yet: download it in "
                                     "Settings -> Models or with `asr-service models download "
                                     "large-v3` (needs a network).")
    else:
        make, detail = BROKEN[case]
        model = str(make(tmp_path))
        phrase = f"The model folder '{model}' could not be loaded: {detail}"
    svc = service_factory("--model", model, wait_ready=False)
    event = svc.wait_event()
    assert event["event"] == "error" and phrase in event["message"], event
    health = httpx.get(event["url"] + "/health", timeout=10)
    assert health.status_code == 503 and phrase in health.json()["message"]
    assert "Repository" not in event["message"] and "huggingface" not in event["message"]
