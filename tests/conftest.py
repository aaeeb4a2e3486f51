import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


# ------------------------------------------------------------- both tiers (eager, compiled)
import pytest  # noqa: E402


def pytest_generate_tests(metafunc):
    """Modules that declare ``pytestmark = pytest.mark.usefixtures("tier")`` run every test in
    both tiers: eager, and compiled (adops.compile.tier: transforms default to compiled=True)."""
    if "tier" in metafunc.fixturenames:
        metafunc.parametrize("tier", ["eager", "compiled"], indirect=True)


@pytest.fixture
def tier(request):
    from adops.compile import tier as use_tier
    with use_tier(request.param == "compiled"):
        yield request.param
