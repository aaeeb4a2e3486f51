"""The compiled tier's code cache (issues 17 and 19): a cached file runs only when it holds
exactly the source it is named for, the folder is private, and a folder others can write to is
refused; the folder stays under its cap (least recently used modules go first, never one loaded
in this process), other code versions' files go, ``python -m adops.compile cache info|clear``
show and empty it, and the suite keeps out of the user's cache."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import revad
from adops.compile import cache_dir, compiled, load_source
from adops.compile import cache as code_cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder (not yet created) as ``ADOPS_CACHE_DIR``."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ADOPS_CACHE_DIR", str(folder))
    return folder


def _source(tmp_path):
    """A source unique to this test (so no earlier import of it is in sys.modules)."""
    return f"# {tmp_path}\ndef answer():\n    return 6 * 7\n"


def _forget(module):
    """Drop a loaded generated module, so the next load reads the cache folder again."""
    sys.modules.pop(module.__name__, None)


def test_the_cache_folder_is_created_private(cache):
    assert cache_dir() == str(cache)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700


def test_a_truncated_file_is_rewritten_not_run(cache, tmp_path):
    source = _source(tmp_path)
    module = load_source(source)
    path = module.__file__
    _forget(module)
    with open(path, "w") as fh:
        fh.write(source[:len(source) // 2])  # cut inside the function: a SyntaxError if run
    again = load_source(source)
    assert again.answer() == 42
    with open(path) as fh:
        assert fh.read() == code_cache.file_text(source)


def test_a_planted_file_is_rewritten_not_run(cache, tmp_path):
    source = _source(tmp_path)
    module = load_source(source)
    _forget(module)
    with open(module.__file__, "w") as fh:
        fh.write("def answer():\n    return -1\n")
    assert load_source(source).answer() == 42
    with open(module.__file__) as fh:
        assert fh.read() == code_cache.file_text(source)
    assert not [n for n in os.listdir(cache) if n.endswith(".tmp")]  # no temporary file left


def test_a_planted_program_gives_the_right_gradient(cache):
    def f(x):
        return np.sum(np.sin(x) * x ** 2)
    x = np.array([0.5, -1.0, 2.0])
    want = 2 * x * np.sin(x) + x ** 2 * np.cos(x)
    np.testing.assert_allclose(revad.grad(f, compiled=True)(x), want, rtol=1e-12)
    (program,) = next(iter(compiled(f).programs.values()))
    _forget(program.module)
    planted = program.source.replace("def backward(", "def _backward(") + \
        "\ndef backward(R, S):\n    return [S[0][:, None] * 0.0 - 1.0]\n"
    with open(program.module.__file__, "w") as fh:
        fh.write(planted)

    def same_f(x):  # a new function with the same program: its code is loaded again
        return np.sum(np.sin(x) * x ** 2)
    np.testing.assert_allclose(revad.grad(same_f, compiled=True)(x), want, rtol=1e-12)
    with open(program.module.__file__) as fh:
        assert fh.read() == code_cache.file_text(program.source)


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757], ids=oct)
def test_a_folder_others_can_write_to_is_refused(cache, tmp_path, mode):
    cache.mkdir()
    os.chmod(cache, mode)
    with pytest.raises(PermissionError) as info:
        load_source(_source(tmp_path))
    message = str(info.value)
    assert str(cache) in message and "ADOPS_CACHE_DIR" in message and "chmod 700" in message
    os.chmod(cache, 0o700)  # the way out the message names
    assert load_source(_source(tmp_path)).answer() == 42


# ------------------------------------------------------------------- a cache that stays tidy
def _plant(folder, tag, version=None, size=100_000, used=None):
    """A generated module's files as another process would leave them: the source (with the
    version line of ``version``, this one by default; "" for none) and numba's index and object
    file of ``size`` bytes in ``__pycache__``, last used at ``used``. Their paths."""
    name = "adops_generated_" + format(tag, "020x")
    header = code_cache.file_text("") if version is None else \
        (f"# adops code version {version}\n" if version else "")
    folder.mkdir(mode=0o700, exist_ok=True)
    source = folder / f"{name}.py"
    source.write_text(header + f"def f():\n    return {tag}\n")
    pycache = folder / "__pycache__"
    pycache.mkdir(exist_ok=True)
    index = pycache / f"{name}.f-2.py{sys.version_info[0]}{sys.version_info[1]}.nbi"
    objects = pycache / f"{name}.f-2.py{sys.version_info[0]}{sys.version_info[1]}.1.nbc"
    index.write_bytes(b"i" * 100)
    objects.write_bytes(b"o" * size)
    if used is not None:
        os.utime(source, (used, os.stat(source).st_mtime))
    return [source, index, objects]


def test_a_module_loaded_again_is_marked_used_and_its_numba_stamp_kept(cache, tmp_path):
    module = load_source(_source(tmp_path))
    now = time.time()
    # read an hour ago, written two hours ago: reading it again would not move its atime
    # (relatime), so the new atime is load_source's mark
    os.utime(module.__file__, (now - 3600, now - 7200))
    _forget(module)
    load_source(_source(tmp_path))
    st = os.stat(module.__file__)
    assert st.st_atime > now - 60          # used now
    assert st.st_mtime == now - 7200       # numba's cache index is stamped with the mtime


def test_over_the_cap_the_least_recently_used_modules_go_with_their_numba_files(
        cache, tmp_path, monkeypatch):
    monkeypatch.setattr(code_cache, "_swept", {str(cache)})  # the version sweep is the next test's
    monkeypatch.setenv("ADOPS_CACHE_MAX_MB", "0.5")    # 524288 bytes: evict to under 419430
    loaded = load_source(_source(tmp_path))             # loaded here: never removed
    now = time.time()
    os.utime(loaded.__file__, (now - 10_000, os.stat(loaded.__file__).st_mtime))  # the oldest
    planted = [_plant(cache, tag, used=now - 1000 + tag) for tag in range(6)]  # 6 x ~100 kB
    unrelated = cache / "notes.txt"
    unrelated.write_text("mine")
    load_source(_source(tmp_path) + "# another\n")      # a write: the folder is over its cap
    gone = [tag for tag, files in enumerate(planted) if not files[0].exists()]
    assert gone == [0, 1]
    for tag, files in enumerate(planted):
        assert all(f.exists() == (tag not in gone) for f in files), tag
    assert os.path.exists(loaded.__file__) and unrelated.read_text() == "mine"
    total = sum(e.size for e in code_cache.scan(str(cache)).values())
    assert total <= code_cache.EVICT_TO * code_cache.max_bytes()


def test_under_the_cap_nothing_goes(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(code_cache, "_swept", {str(cache)})
    planted = [_plant(cache, tag, used=1000 + tag) for tag in range(3)]
    load_source(_source(tmp_path))
    assert all(f.exists() for files in planted for f in files)


def test_files_of_other_code_versions_go_on_the_first_write(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(code_cache, "_swept", {"/another/folder"})  # a new process, or one that
    # wrote to another folder first (compare times compile time against a fresh folder)
    old = time.time() - 3600
    other = _plant(cache, 1, version="000000000000", used=old)
    unversioned = _plant(cache, 2, version="", used=old)  # from before files named a version
    current = _plant(cache, 3, used=old)
    just_used = _plant(cache, 5, version="000000000000")  # another process may be compiling it
    writing = cache / ("adops_generated_" + format(6, "020x") + ".py.x1y2.tmp")
    writing.write_text("# being written by another process")
    unrelated = [cache / "notes.txt", cache / "__pycache__" / "other.cpython-312.pyc"]
    for f in unrelated:
        f.write_text("mine")
    load_source(_source(tmp_path))
    assert not any(f.exists() for f in other + unversioned)
    assert all(f.exists() for f in current + unrelated + just_used + [writing])
    later = _plant(cache, 4, version="000000000000", used=old)
    load_source(_source(tmp_path) + "# another\n")      # once per process: the sweep is done
    assert all(f.exists() for f in later)


def _cli(folder, *args, **env):
    return subprocess.run([sys.executable, "-m", "adops.compile", *args],
                          env=dict(os.environ, ADOPS_CACHE_DIR=str(folder), **env),
                          capture_output=True, text=True, timeout=300)


def test_cache_info_and_clear_on_the_command_line(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    planted = _plant(folder, 1) + _plant(folder, 2, version="000000000000", size=5000)
    unrelated = [folder / "notes.txt", folder / "__pycache__" / "other.cpython-312.pyc"]
    for f in unrelated:
        f.write_text("mine")
    size = sum(os.path.getsize(f) for f in planted)
    info = _cli(folder, "cache", "info", ADOPS_CACHE_MAX_MB="3")
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert f"folder: {folder}" in lines
    assert "generated modules: 2" in lines
    assert any(line.startswith(f"size: {size} bytes") for line in lines), lines
    assert any(line.startswith(f"cap: {3 * 2 ** 20} bytes") for line in lines), lines
    assert f"code version: {code_cache.VERSION}" in lines
    assert "of other code versions: 1" in lines
    cleared = _cli(folder, "cache", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip() == \
        f"removed 2 generated modules (6 files, {size} bytes) from {folder}"
    assert not any(f.exists() for f in planted)
    assert all(f.read_text() == "mine" for f in unrelated)
    again = _cli(folder, "cache", "info")
    assert "generated modules: 0" in again.stdout.splitlines()


def test_cache_command_errors_are_one_line(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    bad = _cli(folder, "cache", "info", ADOPS_CACHE_MAX_MB="lots")
    assert bad.returncode == 1 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "ADOPS_CACHE_MAX_MB" in bad.stderr
    os.chmod(folder, 0o777)
    refused = _cli(folder, "cache", "clear")
    assert refused.returncode == 1 and "chmod 700" in refused.stderr
    os.chmod(folder, 0o700)
    usage = _cli(folder, "cache", "shrink")
    assert usage.returncode == 2


def test_the_suite_keeps_out_of_the_users_cache():
    """conftest.py points ADOPS_CACHE_DIR at the suite's own folder (unless the user set one)."""
    folder = os.environ.get("ADOPS_CACHE_DIR")
    assert folder
    home = os.path.join(os.path.expanduser("~"), ".cache", "adops")
    assert os.path.realpath(folder) != os.path.realpath(home)
    assert os.path.realpath(cache_dir()) == os.path.realpath(folder)
