import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))

# The suite's code cache: a private folder of its own (kept between runs, so numba's cache stays
# warm), never the user's ~/.cache/adops. Set before adops is imported, and inherited by the
# subprocesses the tests start. A folder the user chose with ADOPS_CACHE_DIR is kept.
if not os.environ.get("ADOPS_CACHE_DIR"):
    _folder = os.path.join(tempfile.gettempdir(), f"adops-tests-{os.getuid()}")
    os.makedirs(_folder, mode=0o700, exist_ok=True)
    os.environ["ADOPS_CACHE_DIR"] = _folder


# ------------------------------------------------------------- both tiers (eager, compiled)
import pytest  # noqa: E402


def pytest_generate_tests(metafunc):
    """Modules that declare ``pytestmark = pytest.mark.usefixtures("tier")`` run every test in
    both tiers: eager, and compiled (adops.compile.tier: transforms default to compiled=True)."""
    if "tier" in metafunc.fixturenames:
        metafunc.parametrize("tier", ["eager", "compiled"], indirect=True)


@pytest.fixture
def tier(request):
    # the compiled tier's mode tests run its Python driver (fused loops): building every one of
    # their hundreds of programs whole as well would cost seconds each and the suite its time
    # limit; the whole programs are tested by test_whole_program.py, test_fast_path.py and the
    # tests that call a compiled transform twice
    from adops.compile import tier as use_tier, whole_after
    with use_tier(request.param == "compiled"), whole_after(10 ** 9):
        yield request.param


# ------------------------------------------------------------- parallel runs (pytest-xdist)
#: the files that take longest on a fresh clone (numba compiling; measured by --durations on a
#: cold cache), handed to the workers first: a file runs on one worker (--dist loadfile), so a
#: long file left for last would keep one core busy while the other idles
SLOW_FIRST = ("test_whole_program.py", "test_matrix_forms.py", "test_compare.py", "test_trees.py",
              "test_scipy_compiled.py", "test_second_order_compiled.py",
              "test_mutation_programs.py", "test_compiled.py", "test_edge_inputs.py",
              "test_random_programs.py", "test_standard.py", "test_fast_path.py", "test_revad.py",
              "test_compiled_arguments.py", "test_adops.py", "test_scan.py", "test_tiers.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.fspath)), len(rank)))
