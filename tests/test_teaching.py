"""Teaching view: the examples run and check their numbers; the graph carries the right numbers;
a click in a real headless browser shows a node's numbers; the vanishing-gradient study."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from compare.graph import draw, fmt, to_html, trace_graph
from compare.vanishing import study

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLES = ["chain_rule.py", "two_layer_net.py", "sigmoid_neuron.py", "linear_model_graph.py",
            "train_mlp.py"]


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_and_checks_its_numbers(script, tmp_path):
    args = [str(tmp_path / "out")] if script == "linear_model_graph.py" else \
        [str(tmp_path / "loss.png")] if script == "train_mlp.py" else []
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("ok")


def test_two_layer_net_prints_the_textbook_numbers():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "two_layer_net.py")],
                         capture_output=True, text=True, timeout=60).stdout
    for needle in ("L = 0.4900", "dL/dw1 = -0.8400", "dL/dw2 = -1.4000", "w1 = 0.584",
                   "w2 = 0.440"):
        assert needle in out


def test_graph_numbers_match_both_modes():
    g = trace_graph(lambda x, y: np.sin(x * y) + x, 0.3, 2.0, wrt=0)
    x, y = 0.3, 2.0
    inputs = {n.label: n for n in g.nodes if n.op == "input"}
    assert np.isclose(inputs["x0"].adjoint, y * np.cos(x * y) + 1)
    assert np.isclose(inputs["x1"].adjoint, x * np.cos(x * y))
    out = g.node(g.output)
    assert np.isclose(out.value, np.sin(x * y) + x)
    assert np.isclose(out.tangent, y * np.cos(x * y) + 1)  # forward along x0 = df/dx0
    assert g.order[0] == g.output
    sin_node = next(n for n in g.nodes if n.op == "sin")
    assert any(p.endswith(fmt(np.cos(x * y))) for p in sin_node.partials)


def test_graph_files(tmp_path):
    paths = draw(lambda w: np.sum((w * 2.0 - 1.0) ** 2), np.array([0.5, 1.0]), out_dir=str(tmp_path))
    png, svg, page = paths
    assert open(png, "rb").read(4) == b"\x89PNG"
    assert "<svg" in open(svg).read()
    text = open(page).read()
    assert "<script>" in text and "http" not in text.replace("http://www.w3.org", "")


def _browser():
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        chrome = None
    if not (chrome and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium, chromium-driver and selenium (.ci/run installs them)")
        pytest.skip("needs chromium, chromium-driver (apt) and selenium (pip)")
    return chrome, driver


def test_click_on_a_node_shows_its_numbers_in_a_real_browser(tmp_path):
    chrome, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    g = trace_graph(lambda x: (3 * x + 1) ** 2, 2.0)
    page = tmp_path / "graph.html"
    page.write_text(to_html(g))
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        browser.get(page.as_uri())
        square = next(n for n in g.nodes if n.op == "square")
        browser.find_element(By.CSS_SELECTOR, f"#node-{square.id} rect").click()
        details = browser.find_element(By.ID, "details").text
        assert "value = 49" in details and "adjoint (revad) = 1" in details
        assert "local d/d#2 = 14" in details and "tangent (dualad) = 42" in details
        leaf = next(n for n in g.nodes if n.op == "input")
        browser.find_element(By.CSS_SELECTOR, f"#node-{leaf.id} rect").click()
        assert "adjoint (revad) = 42" in browser.find_element(By.ID, "details").text
        for _ in range(len(g.order)):
            browser.find_element(By.ID, "step").click()
        info = browser.find_element(By.ID, "stepinfo").text
        assert f"step {len(g.order)}/{len(g.order)}" in info
    finally:
        browser.quit()


def test_vanishing_study_measures_sigmoid_vanishing():
    norms = study(depth=30, width=8)
    sig, res = norms["sigmoid"], norms["residual tanh"]
    assert sig[0] / sig[-1] < 1e-6, "sigmoid gradients must vanish toward the input"
    assert res[0] / res[-1] > 1e-2, "the residual chain keeps its gradient"
