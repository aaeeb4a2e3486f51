"""The compiled tier's code cache on disk: where generated modules live, how they load, and
how the folder stays within its size cap.

Generated source is written to :func:`cache_dir` (``$ADOPS_CACHE_DIR``, else
``$XDG_CACHE_HOME/adops`` or ``~/.cache/adops``) as ``adops_generated_<hash>.py``, one file per
distinct source, so numba's ``cache=True`` can keep the compiled loops across processes (its
index and object files go to ``__pycache__`` in that folder, named after the module). A module
is compiled from the source in memory, never from what the file holds; a file that differs from
its source (truncated, corrupted, planted) is rewritten atomically.

The folder stays tidy. Each file starts with ``# adops code version <VERSION>``; on its first
write a process removes the modules of other code versions (and their numba files). After a
write, when the generated modules and their numba files together exceed the cap
(:func:`max_bytes`: ``$ADOPS_CACHE_MAX_MB``, default 256 MB), the least recently used modules
go first, until they take under 80% of it; a module this process has loaded, or one used in
the last minute (another process may be compiling it), is never removed.
"Used" is the file's access time, which :func:`load_source` sets each time it loads a module
(its modification time is numba's stamp of the source, so it is left alone). Nothing else in
the folder is ever removed. ``python -m adops.compile cache info`` / ``cache clear`` show and
empty it.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import threading
import time
import types

#: the cap on the cache folder when ``ADOPS_CACHE_MAX_MB`` is not set
DEFAULT_MAX_MB = 256
#: after an eviction the folder holds under this share of the cap
EVICT_TO = 0.8
#: a module used (or a temporary file written) this recently is never removed by a tidy: another
#: process may be between writing it and compiling it
GRACE_SECONDS = 60
PREFIX = "adops_generated_"
_OWN = re.compile(PREFIX + r"[0-9a-f]{20}(?=\.|$)")  # a generated module's name, at a file's start

_lock = threading.Lock()
_loaded: set = set()       # names of the generated modules loaded in this process
_swept: set = set()        # the folders whose other versions' files this process removed


def source_version() -> str:
    """A hash of everything generated code compiles in: the modules holding the primal and
    partial bodies of every registered elementwise op (wherever those modules live), the kernels
    (``select``, ``smul``), the registry (the scalar ``strong_mul``), the runtime, the code
    generators (the Python driver's and the whole program's, with its forms, guards and row
    helpers), the modules of the reductions' partial rules (whole programs compile them) and
    numba's version. numba's cache of a generated loop embeds the rules it calls
    but tracks only its own file, so a changed rule must give new file names."""
    import inspect
    import numba
    from ..core import kernels, scipy_kernels
    from ..ops import registry
    from . import (codegen, formbase, forms, groupstep, guards, inplace, lapack, loopforms,
                   loops, pages, programview, reduceforms, rolling, rows, runs, runtime, segments,
                   simd, sums, whole)
    modules = {kernels, scipy_kernels, registry, codegen, loops, runtime, whole, groupstep, forms,
               guards, rows, formbase, reduceforms, simd, sums, inplace, programview, lapack,
               segments, loopforms, rolling, runs, pages}
    for op in list(registry.OPS.values()):
        fns = ()
        if isinstance(op, registry.ElementwiseOp):
            fns = (op.primal, *(p.body or p.kernel for p in op.partials
                                if isinstance(p, registry.Rule)))
        elif callable(getattr(op, "rule", None)):  # a reduction's rule: whole programs compile it
            fns = (op.rule,)
        for fn in fns:
            module = inspect.getmodule(getattr(fn, "py_func", fn))
            if module is not None and getattr(module, "__file__", None):
                modules.add(module)
    digest = hashlib.sha1(numba.__version__.encode())
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode())  # generated code names rules by module path
        with open(inspect.getsourcefile(module), "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


VERSION = source_version()


def cache_dir() -> str:
    """Where generated source lives: ``$ADOPS_CACHE_DIR`` or ``~/.cache/adops``.

    The folder is created private to the user (mode 0o700). Its code is run, so a folder that
    another user can write to (group or world writable, or owned by someone else) is refused.

    Example:
        >>> os.path.isdir(cache_dir())
        True
    """
    path = os.environ.get("ADOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "adops")
    os.makedirs(path, mode=0o700, exist_ok=True)
    _check_private(path)
    return path


def _check_private(path: str):
    """Refuse a code cache folder that others can write to (they could plant code we run)."""
    st = os.stat(path)
    foreign = hasattr(os, "getuid") and st.st_uid != os.getuid()
    if st.st_mode & 0o022 or foreign:
        who = "is owned by another user" if foreign else \
            f"can be written by {'group and others' if st.st_mode & 0o002 else 'its group'}"
        raise PermissionError(
            f"adops code cache {path!r} {who} (mode {oct(st.st_mode & 0o777)}): the compiled "
            "tier runs the code it finds there, so another user could plant code. Make it "
            f"private (chmod 700 {path!r}) or set ADOPS_CACHE_DIR to a folder only you can "
            "write to")


def max_bytes() -> int:
    """The cap on the cache folder in bytes: ``$ADOPS_CACHE_MAX_MB`` megabytes (default 256).

    Example:
        >>> max_bytes() > 0
        True
    """
    text = os.environ.get("ADOPS_CACHE_MAX_MB", "").strip()
    if not text:
        return DEFAULT_MAX_MB * 2 ** 20
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb >= 0:
        raise ValueError(f"ADOPS_CACHE_MAX_MB must be a number of megabytes (>= 0), got {text!r}")
    return int(mb * 2 ** 20)


def file_text(source: str) -> str:
    """What the cache file of ``source`` holds (and what runs): the code version line, then
    ``source``.

    Example:
        >>> file_text("X = 1").splitlines()[1]
        'X = 1'
    """
    return f"# adops code version {VERSION}\n{source}"


def load_source(source: str, kernels=None):
    """Run generated ``source`` as a module whose file is named by its hash.

    The module is compiled from ``source`` itself; the file (rewritten atomically unless it
    holds exactly ``source`` after the version line) is there for numba's on-disk cache and for
    tracebacks, so a truncated, corrupted or planted file is never run. A write may tidy the
    folder (see the module doc). ``kernels`` (key -> source of a kernel module, whose
    functions ``kernel_primal``, ``kernel_jvp`` etc. the source binds through ``KERNELS[key]``,
    the module) are loaded first, each a module of its own shared by every program that names it
    (:func:`adops.compile.loops.shared_kernels`).

    Example:
        >>> load_source("VALUE = 6 * 7").VALUE
        42
    """
    digest = hashlib.sha1((VERSION + source).encode()).hexdigest()[:20]
    name = f"{PREFIX}{digest}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    table = {}
    for key, text in (kernels or {}).items():
        table[key] = load_source(text)
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        folder = cache_dir()
        path = os.path.join(folder, name + ".py")
        text = file_text(source)
        wrote = _write_unless_same(path, text.encode())
        if not wrote:
            _mark_used(path)
        module = types.ModuleType(name)
        module.__file__ = path
        module.__dict__["RULES"] = _Rules()
        module.__dict__["KERNELS"] = table
        exec(compile(text, path, "exec"), module.__dict__)
        sys.modules[name] = module
        _loaded.add(name)
        if wrote:
            tidy(folder)
        return module


def _mark_used(path: str):
    """Set the file's access time to now (its use), keeping its modification time: numba's
    cache index is stamped with that."""
    try:
        st = os.stat(path)
        os.utime(path, ns=(time.time_ns(), st.st_mtime_ns))
    except OSError:
        pass


def _write_unless_same(path: str, data: bytes) -> bool:
    """Make the file at ``path`` hold ``data``: kept when it does (its numba cache stays
    valid), else replaced atomically (a private temporary file in the same folder). Whether it
    was written."""
    try:
        with open(path, "rb") as fh:
            if fh.read() == data:
                return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return True


def _rule(key):
    import importlib
    module, name = key.split(":")
    return getattr(importlib.import_module(module), name)


class _Rules:
    """``RULES[key]`` in generated code: the lazy kernel named ``module:qualname``."""

    def __getitem__(self, key):
        return _rule(key)


# ------------------------------------------------------------------------- the folder's contents
class Entry:
    """One generated module in the folder: its files (the source, numba's files, a temporary
    file left behind), their bytes, and when the module was last used."""

    def __init__(self, name):
        self.name, self.files, self.size, self.used, self.source = name, [], 0, 0.0, None

    def add(self, path, st, is_source):
        self.files.append(path)
        self.size += st.st_size
        if is_source:
            self.source, self.used = path, st.st_atime
        elif self.source is None:  # numba's files only (the source is gone): when they changed
            self.used = max(self.used, st.st_mtime)

    def version(self):
        """The code version its source names on the first line (None: no source or no line)."""
        if self.source is None:
            return None
        try:
            with open(self.source, "rb") as fh:
                line = fh.readline(200).decode("utf-8", "replace").strip()
        except OSError:
            return None
        head = "# adops code version "
        return line[len(head):] if line.startswith(head) else None

    def remove(self):
        """Remove its files (those already gone are skipped)."""
        for path in self.files:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def scan(folder: str) -> dict:
    """Module name -> :class:`Entry` for every generated module in ``folder`` (one
    ``os.scandir`` pass over the folder and one over its ``__pycache__``)."""
    entries, fresh = {}, time.time() - GRACE_SECONDS
    for where in (folder, os.path.join(folder, "__pycache__")):
        try:
            it = os.scandir(where)
        except FileNotFoundError:
            continue
        with it:
            for item in it:
                match = _OWN.match(item.name)
                if match is None or not item.is_file(follow_symlinks=False):
                    continue
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if item.name.endswith(".tmp") and st.st_mtime > fresh:
                    continue  # another process is writing it
                name = match.group(0)
                entry = entries.get(name) or entries.setdefault(name, Entry(name))
                entry.add(item.path, st, where == folder and item.name == name + ".py")
    return entries


def tidy(folder: str) -> list:
    """Remove, once per process and folder, the modules of other code versions; then, while the folder's
    modules exceed :func:`max_bytes`, the least recently used ones until under 80% of it. Never
    a module loaded in this process, nor one used in the last :data:`GRACE_SECONDS`. The names
    removed."""
    found = scan(folder)
    total = sum(e.size for e in found.values())
    fresh = time.time() - GRACE_SECONDS
    entries = [e for e in found.values() if e.name not in _loaded and e.used <= fresh]
    removed = []
    if folder not in _swept:  # per folder: a process may write to several (compare's fresh ones)
        _swept.add(folder)
        for entry in [e for e in entries if e.version() != VERSION]:
            entry.remove()
            total -= entry.size
            removed.append(entry.name)
            entries.remove(entry)
    cap = max_bytes()
    if total > cap:
        for entry in sorted(entries, key=lambda e: e.used):
            if total <= EVICT_TO * cap:
                break
            entry.remove()
            total -= entry.size
            removed.append(entry.name)
    return removed


def info(folder: str) -> dict:
    """What the folder holds: generated modules, their bytes (numba's files included), how
    many are of another code version, the cap and this code version."""
    entries = scan(folder)
    return {"folder": folder, "modules": len(entries),
            "bytes": sum(e.size for e in entries.values()),
            "other_versions": sum(e.version() != VERSION for e in entries.values()),
            "cap": max_bytes(), "version": VERSION}


def clear(folder: str) -> tuple:
    """Remove every generated module and its numba files (nothing else):
    ``(modules, files, bytes)`` removed."""
    entries = scan(folder)
    for entry in entries.values():
        entry.remove()
    return (len(entries), sum(len(e.files) for e in entries.values()),
            sum(e.size for e in entries.values()))
