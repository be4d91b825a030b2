"""The model catalog from the files alone (service/models/): where the cache
is, which models are listed and with which languages, what a --model value
resolves to, and the join of the offline base that a crash cannot leave
looking complete."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.errors import LoadFailed
from service.models import catalog, names, offline
from service.models.cache import CACHE_ENV, model_cache_dir
from service.safety.markers import without_markers
from tests.support.files import sha256


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One model cache for the session's tests: base is joined into it once."""
    return tmp_path_factory.getbasetemp() / "model-cache"



# ---------------------------------------------------------------- the cache
def test_the_cache_is_the_platforms_per_user_cache_folder(tmp_path):
    home = tmp_path
    linux = home / ".cache/asr-tray/models"
    assert model_cache_dir({}, "linux", home) == linux
    assert model_cache_dir({"XDG_CACHE_HOME": "/x/c"}, "linux", home) == Path("/x/c/asr-tray/models")
    # a relative XDG_CACHE_HOME is invalid by the XDG spec: ignored
    assert model_cache_dir({"XDG_CACHE_HOME": "rel"}, "linux", home) == linux
    assert model_cache_dir({"LOCALAPPDATA": r"C:\Users\li\AppData\Local"}, "win32", home) == \
        Path(r"C:\Users\li\AppData\Local") / "asr-tray" / "models"
    assert model_cache_dir({}, "darwin", home) == home / "Library/Caches/asr-tray/models"
    for platform in ("linux", "win32", "darwin"):
        assert model_cache_dir({CACHE_ENV: str(tmp_path / "mine")}, platform, home) == \
            tmp_path / "mine"


def test_the_hub_names_are_faster_whispers_own():
    """names.HUB_REPOS is a copy (the catalog must not import faster-whisper)."""
    from faster_whisper.utils import _MODELS

    assert names.HUB_REPOS == _MODELS
    assert "small" not in names.OFFLINE and set(names.OFFLINE) <= set(_MODELS)


# ---------------------------------------------------------------- the list
def test_tiny_en_and_base_are_listed_with_their_languages(tmp_path):
    entries = {e.name: e for e in catalog.list_models(cache_dir=tmp_path / "cache")}
    tiny, base = entries["tiny.en"], entries["base"]
    assert (tiny.languages, tiny.source, tiny.current) == ("en", "bundled", False)
    assert Path(tiny.path, "model.bin").is_file() and tiny.size_bytes > 70 * 2**20
    # before its first use base is listed where it will be, with the size it will have
    assert (base.languages, base.source) == ("multilingual", "offline package")
    assert base.path == str(tmp_path / "cache" / "base") and not Path(base.path).exists()
    assert base.size_bytes == offline.BASE_MODEL_BYTES + sum(
        p.stat().st_size for p in offline.base_sources().side_files)
    assert "small" not in entries


def test_current_is_marked_by_name_or_by_folder(tmp_path):
    tiny = offline.tiny_en_folder()
    marked = lambda cur: [e.name for e in catalog.list_models(cur, tmp_path) if e.current]
    assert marked("base") == ["base"]
    assert marked(str(tiny)) == ["tiny.en"]         # the bundled folder given as a path
    assert marked(None) == [] and marked("large-v3") == []
    # a folder of one's own that is neither: listed as "folder"
    own = tmp_path / "own"
    own.mkdir()
    for f in tiny.iterdir():
        os.symlink(f, own / f.name)
    entry = catalog.list_models(str(own), tmp_path / "cache")[-1]
    assert (entry.name, entry.source, entry.current, entry.languages) == \
        (str(own), "folder", True, "en")


def test_models_json_lists_what_can_be_used_now(shared_cache, tmp_path):
    env = dict(without_markers(os.environ), **{CACHE_ENV: str(shared_cache)})
    run = lambda *a: subprocess.run([sys.executable, "-m", "service", "models", *a], env=env,
                                    capture_output=True, text=True, timeout=60)
    out = run("--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert isinstance(listed, list)
    by_name = {e["name"]: e for e in listed}
    assert {"tiny.en", "base"} <= set(by_name)
    for e in listed:
        assert {"name", "languages", "size_bytes", "path", "current", "source"} <= set(e)
        assert e["languages"] in ("en", "multilingual") and e["size_bytes"] > 0
    assert by_name["tiny.en"]["current"] and not by_name["base"]["current"]   # the default
    assert by_name["base"]["path"] == str(shared_cache / "base")
    again = json.loads(run("--json", "--current", "base").stdout)
    assert [e["name"] for e in again if e["current"]] == ["base"]
    text = run()
    assert "tiny.en" in text.stdout and "multilingual" in text.stdout


# ---------------------------------------------------------------- resolve
def test_a_hub_name_not_downloaded_is_a_sentence_not_a_download(tmp_path):
    with pytest.raises(LoadFailed) as caught:
        catalog.resolve("large-v3", tmp_path)
    assert caught.value.message == (
        "The model 'large-v3' is not downloaded yet: download it in Settings -> Models or with "
        "`asr-service models download large-v3` (needs a network).")
    (tmp_path / "large-v3.partial").mkdir()
    with pytest.raises(LoadFailed, match="only partly downloaded: resume it"):
        catalog.resolve("large-v3", tmp_path)
    with pytest.raises(LoadFailed, match="neither a Whisper model name nor a folder"):
        catalog.resolve("no-such-model", tmp_path)
    with pytest.raises(LoadFailed, match="could not be loaded: no such folder"):
        catalog.resolve(str(tmp_path / "nowhere"), tmp_path)
    assert not any(p.name == "large-v3" for p in tmp_path.iterdir())


def test_names_resolve_to_their_folders(shared_cache):
    assert catalog.resolve("tiny.en", shared_cache) == str(offline.tiny_en_folder())
    base = Path(catalog.resolve("base", shared_cache))
    assert base == shared_cache / "base" and catalog.check_folder(base).languages == "multilingual"
    assert catalog.resolve(str(base), shared_cache) == str(base.resolve())


# ---------------------------------------------------------------- the base join
def test_base_is_joined_once_and_verified(tmp_path):
    cache = tmp_path / "cache"
    folder = offline.ensure_base(cache)
    assert folder == cache / "base"
    assert (folder / "model.bin").stat().st_size == offline.BASE_MODEL_BYTES
    assert sha256(folder / "model.bin") == offline.BASE_SHA256
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.bin", *offline.BASE_SIDE_FILES])
    stamp = (folder / "model.bin").stat()
    t0 = time.perf_counter()
    assert offline.ensure_base(cache) == folder
    assert time.perf_counter() - t0 < 0.1, "the second call should only look at sizes"
    assert (folder / "model.bin").stat().st_ino == stamp.st_ino   # not joined again
    assert [p.name for p in cache.iterdir()] == ["base"]          # no temporary left


def test_a_join_killed_half_way_leaves_nothing_that_looks_complete(tmp_path):
    cache = tmp_path / "cache"
    code = ("import sys; from service.models import offline; "
            "offline.ensure_base(sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(cache)])
    tmp = cache / f"{offline.JOINING_PREFIX}{proc.pid}" / "model.bin"
    deadline = time.monotonic() + 30
    try:
        while not (tmp.exists() and tmp.stat().st_size > 0):
            assert proc.poll() is None, "the join ended before it could be interrupted"
            assert time.monotonic() < deadline, "the join never started writing model.bin"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert tmp.exists() and not (cache / "base").exists()
    entry = next(e for e in catalog.list_models(cache_dir=cache) if e.name == "base")
    assert not Path(entry.path).exists()            # still "to be joined"
    assert offline.ensure_base(cache) == cache / "base"
    assert sha256(cache / "base" / "model.bin") == offline.BASE_SHA256
    assert [p.name for p in cache.iterdir()] == ["base"], "the dead join's folder stays"


def test_a_base_folder_with_a_short_model_bin_is_joined_again(tmp_path):
    cache = tmp_path / "cache"
    (cache / "base").mkdir(parents=True)
    (cache / "base" / "model.bin").write_bytes(b"\0" * 1000)
    assert not offline.base_is_joined(cache / "base")
    offline.ensure_base(cache)
    assert (cache / "base" / "model.bin").stat().st_size == offline.BASE_MODEL_BYTES
