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
