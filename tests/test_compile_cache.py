"""The compiled tier's code cache (issue 17): a cached file runs only when it holds exactly the
source it is named for, the folder is private, and a folder others can write to is refused."""
from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest

import revad
from adops.compile import cache_dir, compiled, load_source


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
        assert fh.read() == source


def test_a_planted_file_is_rewritten_not_run(cache, tmp_path):
    source = _source(tmp_path)
    module = load_source(source)
    _forget(module)
    with open(module.__file__, "w") as fh:
        fh.write("def answer():\n    return -1\n")
    assert load_source(source).answer() == 42
    with open(module.__file__) as fh:
        assert fh.read() == source
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
        assert fh.read() == program.source


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
