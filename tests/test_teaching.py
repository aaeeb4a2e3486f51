"""Teaching view: the examples run and check their numbers; the graph carries the right numbers;
both sweeps' arithmetic agrees with the modes; no edge crosses a box; the Jacobian by columns and
rows; a real headless browser steps both sweeps and the Jacobian; the vanishing-gradient and
memory-vs-depth studies."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dualad
import revad
from compare.studies import depth
from compare.teaching import jacobians
from compare.graph import crossings, draw, fmt, layout, to_html, trace_graph
from compare.studies.vanishing import study

ROOT = os.path.join(os.path.dirname(__file__), "..")
EXAMPLES = ["chain_rule.py", "two_layer_net.py", "sigmoid_neuron.py", "linear_model_graph.py",
            "train_mlp.py", "jacobian_sweeps.py"]
X, Y, LAM = 2.0, 1.0, 0.1


def ridge(w, b):
    return (w * X + b - Y) ** 2 + LAM * w ** 2


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_and_checks_its_numbers(script, tmp_path):
    args = [str(tmp_path / "out")] if script in ("linear_model_graph.py", "jacobian_sweeps.py") else \
        [str(tmp_path / "loss.png")] if script == "train_mlp.py" else []
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("ok")
    if script == "linear_model_graph.py":    # it prints both sweeps as the graph page shows them
        g = trace_graph(ridge, 0.5, 0.1, wrt=0)
        for step in g.forward_steps + g.backward_steps:
            for line in step.lines:
                assert line in res.stdout, line


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
    assert sorted(inputs) == ["x", "y"]        # the parameters' names, not x0, x1
    assert np.isclose(inputs["x"].adjoint, y * np.cos(x * y) + 1)
    assert np.isclose(inputs["y"].adjoint, x * np.cos(x * y))
    out = g.node(g.output)
    assert np.isclose(out.value, np.sin(x * y) + x)
    assert np.isclose(out.tangent, y * np.cos(x * y) + 1)  # forward along x0 = df/dx0
    assert g.order[0] == g.output
    sin_node = next(n for n in g.nodes if n.op == "sin")
    assert any(p.endswith(fmt(np.cos(x * y))) for p in sin_node.partials)


def test_both_sweeps_do_the_arithmetic_the_modes_do():
    w, b = 0.5, 0.1
    g = trace_graph(ridge, w, b, wrt=0)
    dw, db = revad.grad(ridge, argnums=(0, 1))(w, b)
    _, tangent = dualad.jvp(ridge, (w, b), (1.0, 0.0))
    ids = {n.name: n.id for n in g.nodes}
    assert [s.node for s in g.forward_steps] == sorted(ids.values())
    assert [s.node for s in g.backward_steps] == sorted(ids.values(), reverse=True)
    w_step = next(s for s in g.backward_steps if s.node == ids["w"])
    assert len(w_step.terms) == 2, "w feeds two nodes: its adjoint is a sum over two paths"
    assert np.isclose(sum(float(t.backward) for t in w_step.terms), float(dw))
    for t in w_step.terms:   # multiply along the path: adjoint of the consumer x local partial
        assert np.isclose(float(t.backward), float(g.node(t.dst).adjoint) * float(t.partial))
    b_step = next(s for s in g.backward_steps if s.node == ids["b"])
    assert np.isclose(float(b_step.result), float(db)) and len(b_step.terms) == 1
    last = g.forward_steps[-1]
    assert last.node == g.output and len(last.terms) == 2
    assert np.isclose(sum(float(t.forward) for t in last.terms), float(tangent))
    for t in last.terms:
        assert np.isclose(float(t.forward), float(t.partial) * float(g.node(t.src).tangent))
    assert "feeds 2 nodes" in w_step.lines[-1]
    assert g.backward_steps[0].lines[0].startswith(f"adjoint of #{g.output} = 1")


@pytest.mark.parametrize("f, args", [
    (ridge, (0.5, 0.1)),
    (jacobians.f_3_to_2, (1.0, 2.0, 3.0)),
    (lambda a, b, c: np.sin(a * b) * c + np.exp(a) + (a + b) * (b + c) ** 2 - c, (0.3, 0.7, 1.1)),
])
def test_layout_keeps_every_edge_out_of_other_boxes(f, args):
    g = trace_graph(f, *args)
    sizes = {n.id: (60 + 7 * len(n.label), 60) for n in g.nodes}
    boxes, edges, _ = layout(g, sizes, gap_x=40, gap_y=10)
    assert len(edges) == sum(len(n.inputs) for n in g.nodes)
    assert any(len(pts) > 3 for pts in edges.values()), "some edge skips a column"
    assert crossings(boxes, edges) == []
    for (a, b), pts in edges.items():   # each route starts at its source and ends at its target
        xa, ya, wa, ha = boxes[a]
        xb, yb, wb, hb = boxes[b]
        assert pts[0][0] == xa + wa and ya < pts[0][1] < ya + ha
        assert pts[-1][0] == xb and yb < pts[-1][1] < yb + hb


@pytest.mark.parametrize("f, args, n, m", [(jacobians.f_3_to_2, (1.0, 2.0, 3.0), 3, 2),
                                           (jacobians.f_2_to_3, (1.0, 2.0), 2, 3)])
def test_jacobian_by_columns_and_by_rows(f, args, n, m, tmp_path):
    s = jacobians.sweeps(f, *args)
    assert len(s["columns"]) == n and len(s["rows"]) == m     # the number of sweeps each needs
    J_fwd, J_rev = np.stack(s["columns"], axis=1), np.stack(s["rows"])
    J = np.stack(dualad.jacfwd(f, argnums=tuple(range(n)))(*args), axis=-1)
    assert np.allclose(J_fwd, J) and np.allclose(J_rev, J)
    path = jacobians.write(str(tmp_path))[0]
    assert open(path, "rb").read(4) == b"\x89PNG"


def test_graph_files(tmp_path):
    paths = draw(lambda w: np.sum((w * 2.0 - 1.0) ** 2), np.array([0.5, 1.0]), out_dir=str(tmp_path))
    png, svg, page, jpng = paths
    assert open(jpng, "rb").read(4) == b"\x89PNG"
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


def _products(line):
    """'   = 0.2 × 2 + 0.1 × 1' -> [(0.2, 2.0), (0.1, 1.0)]"""
    terms = line.split("=", 1)[1].split(" + ")
    return [tuple(float(v) for v in t.split("×")) for t in terms]


def _arith(browser, By):
    lines = browser.find_element(By.ID, "arith").text.splitlines()
    return lines, _products(lines[1]), float(lines[2].split("=")[1])


def test_a_real_browser_steps_both_sweeps_and_shows_the_modes_arithmetic(tmp_path):
    chrome, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    g = trace_graph(lambda x: (3 * x + 1) ** 2, 2.0)
    page = tmp_path / "graph.html"
    page.write_text(to_html(g))
    w, b = 0.5, 0.1
    ridge_page = tmp_path / "ridge.html"
    rg = trace_graph(ridge, w, b, wrt=0)
    ridge_page.write_text(to_html(rg, jacobians.sweeps(ridge, w, b)))
    dw, db = (float(v) for v in revad.grad(ridge, argnums=(0, 1))(w, b))
    _, tangent = dualad.jvp(ridge, (w, b), (1.0, 0.0))
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=opts)
    click = lambda id_: browser.find_element(By.ID, id_).click()  # noqa: E731
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

        browser.get(ridge_page.as_uri())
        ids = {n.name: n.id for n in rg.nodes}
        # forward sweep to the end: the output's tangent is a sum over its two inputs
        for _ in range(len(rg.forward_steps)):
            click("fwd-step")
        info = browser.find_element(By.ID, "stepinfo").text
        assert f"), step {len(rg.nodes)}/{len(rg.nodes)}" in info and "column 0" in info
        lines, products, result = _arith(browser, By)
        assert lines[0].startswith(f"tangent of #{rg.output} = ")
        assert len(products) == 2 and np.isclose(sum(a * c for a, c in products), result)
        assert np.isclose(result, float(tangent), rtol=1e-5)        # dualad's d ridge / dw
        active = browser.find_elements(By.CSS_SELECTOR, ".node.active")
        assert [e.get_attribute("id") for e in active] == [f"node-{rg.output}"]
        assert len(browser.find_elements(By.CSS_SELECTOR, "polyline.edge.active")) == 2
        assert browser.find_element(By.ID, f"node-{rg.output}-2").text == f"tangent = {fmt(tangent)}"
        # one step back and the output's tangent is unknown again
        click("fwd-back")
        assert browser.find_element(By.ID, f"node-{rg.output}-2").text == "tangent = ?"
        # backward sweep: the seed, then down to b (one path) and w (two paths)
        click("bwd-step")
        assert "the seed" in browser.find_element(By.ID, "arith").text
        for _ in range(len(rg.backward_steps) - 2):
            click("bwd-step")
        lines, products, result = _arith(browser, By)
        assert lines[0].startswith("adjoint of b = ")
        assert len(products) == 1 and np.isclose(result, db, rtol=1e-5)
        click("bwd-step")
        lines, products, result = _arith(browser, By)
        assert lines[0] == "adjoint of w = adjoint of #2 × d#2/dw + adjoint of #6 × d#6/dw"
        assert "multiply along each path, add across the paths" in lines[-1]
        assert np.isclose(result, dw, rtol=1e-5)                    # revad's d ridge / dw
        adjoints = {float(rg.node(i).adjoint) for i in (ids["w"] + 2, ids["w"] + 6)}
        for adj, partial in products:
            assert any(np.isclose(adj, a, rtol=1e-5) for a in adjoints)
        assert np.isclose(sum(a * c for a, c in products), dw, rtol=1e-5)
        assert browser.find_element(By.CSS_SELECTOR, f"#node-{ids['w']}").get_attribute(
            "class").split() == ["node", "input", "bwd-done", "active"] or "active" in \
            browser.find_element(By.CSS_SELECTOR, f"#node-{ids['w']}").get_attribute("class")
        # the Jacobian: forward fills one column per sweep (2), reverse one row per sweep (1)
        click("jac-fwd")
        assert browser.find_element(By.ID, "J-0-0").text == fmt(dw)
        assert browser.find_element(By.ID, "J-0-1").text == "?"
        click("jac-fwd")
        assert browser.find_element(By.ID, "J-0-1").text == fmt(db)
        assert "sweep 2 of 2" in browser.find_element(By.ID, "jacinfo").text
        click("jac-rev")
        assert [browser.find_element(By.ID, f"J-0-{j}").text for j in (0, 1)] == [fmt(dw), fmt(db)]
        assert "sweep 1 of 1" in browser.find_element(By.ID, "jacinfo").text
    finally:
        browser.quit()


def test_a_real_browser_fills_one_column_per_forward_sweep_and_one_row_per_backward(tmp_path):
    """The page seeds the forward sweep with e_i and the backward sweep with e_j: at the end of
    a forward sweep the output's tangent is column i of the Jacobian, at the end of a backward
    sweep the inputs' adjoints are row j (screenshots of both in tmp_path)."""
    chrome, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    f, args = jacobians.f_3_to_2, (1.0, 2.0, 3.0)
    J = np.stack(revad.jacrev(f, argnums=(0, 1, 2))(*args), axis=1)        # (m, n) = (2, 3)
    assert np.allclose(J, np.stack(dualad.jacfwd(f, argnums=(0, 1, 2))(*args), axis=1))
    x, y, z = args
    assert np.allclose(J, [[y, x, 1], [np.cos(x) * z, 0, np.sin(x)]])       # by hand
    draw(f, *args, out_dir=str(tmp_path), code=False)
    g = trace_graph(f, *args)
    ids = {n.name: n.id for n in g.nodes}
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1300,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=opts)
    text = lambda id_: browser.find_element(By.ID, id_).text  # noqa: E731
    try:
        browser.get((tmp_path / "graph.html").as_uri())
        assert "def f_3_to_2(x, y, z)" in text("source")
        assert text("point") == "evaluated at x = 1, y = 2, z = 3"
        for i in (0, 2):
            Select(browser.find_element(By.ID, "seed-in")).select_by_index(i)
            for _ in range(len(g.forward_steps)):
                browser.find_element(By.ID, "fwd-step").click()
            assert f"computes column {i} of the Jacobian" in text("stepinfo")
            assert text(f"node-{g.output}-2") == f"tangent = {fmt(J[:, i])}"
            seeds = [text(f"node-{ids[v]}-2") for v in "xyz"]
            assert seeds == [f"tangent = {1 if k == i else 0}" for k in range(3)]
            browser.save_screenshot(str(tmp_path / f"forward-column-{i}.png"))
        for j in (0, 1):
            Select(browser.find_element(By.ID, "seed-out")).select_by_index(j)
            for _ in range(len(g.backward_steps)):
                browser.find_element(By.ID, "bwd-step").click()
            assert f"computes row {j} of the Jacobian" in text("stepinfo")
            row = [float(text(f"node-{ids[v]}-3").split("= ")[1]) for v in "xyz"]
            assert np.allclose(row, J[j], rtol=1e-5)
            browser.save_screenshot(str(tmp_path / f"backward-row-{j}.png"))
        # the index nodes read as indexing, and each step keeps its node in view
        active = browser.find_element(By.CSS_SELECTOR, ".node.active rect")
        assert active.is_displayed()
    finally:
        browser.quit()
    for name in ("forward-column-0", "forward-column-2", "backward-row-0", "backward-row-1"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10000


def test_index_nodes_read_as_indexing():
    g = trace_graph(lambda x: np.sin(x[0] * x[1]) + np.exp(x[1:]).sum(), np.array([1.0, 2.0]))
    labels = [n.label for n in g.nodes if n.op == "getitem"]
    assert labels == ["x[0]", "x[1]", "x[1:]"]
    # the forward seed e_0 is column 0 of the Jacobian: d f / d x0 = cos(x0 x1) x1
    assert fmt(g.node(g.output).tangent) == fmt(np.cos(2.0) * 2.0)
    with pytest.raises(ValueError, match="seed_in=2: the inputs have 2 entries"):
        trace_graph(lambda x: x * 2.0, np.array([1.0, 2.0]), seed_in=2)


def test_memory_grows_with_depth_in_reverse_mode_only(tmp_path):
    rows = depth.study(depths=(1, 30, 300), width=8, repeat=1)
    peak = {(r["mode"], r["depth"]): r["peak_bytes"] for r in rows}
    assert peak[("reverse", 300)] > 5 * peak[("reverse", 30)]
    for mode in ("forward, 1 direction", "forward, k directions"):
        assert peak[(mode, 300)] < 1.5 * peak[(mode, 30)], mode
    fit = depth.slopes(rows)
    assert fit["reverse"]["memory_slope"] > 0.7
    assert abs(fit["forward, 1 direction"]["memory_slope"]) < 0.3
    # the report draws it from depth.csv beside results.csv, and states the slopes
    from compare.report import write_report
    from compare import run
    run(lambda x: np.sum(np.sin(x)), np.ones(3), repeat=1, csv_path=str(tmp_path / "results.csv"))
    depth.write_csv(rows, str(tmp_path / "depth.csv"))
    paths = write_report(str(tmp_path / "results.csv"), str(tmp_path))
    assert str(tmp_path / "memory_vs_depth.png") in paths
    text = (tmp_path / "summary.md").read_text()
    assert "Memory vs depth" in text and f"{fit['reverse']['memory_slope']:.2f}" in text


def test_vanishing_study_measures_sigmoid_vanishing():
    norms = study(depth=30, width=8)
    sig, res = norms["sigmoid"], norms["residual tanh"]
    assert sig[0] / sig[-1] < 1e-6, "sigmoid gradients must vanish toward the input"
    assert res[0] / res[-1] > 1e-2, "the residual chain keeps its gradient"


def test_vanishing_study_keeps_a_csv_and_explains_the_residual_scale(tmp_path):
    from compare.common.rows import read_csv
    from compare.studies.vanishing import write
    paths = write(str(tmp_path), depth=12, width=6)
    rows = read_csv(paths[0], ints=("layer",), floats=("activation_norm",), optional=("grad_norm",))
    assert len(rows) == 4 * 13 and {r["variant"] for r in rows} == {
        "sigmoid", "tanh", "relu", "residual tanh"}
    res = [r for r in rows if r["variant"] == "residual tanh"]
    plain = [r for r in rows if r["variant"] == "tanh"]
    # the residual chain's activations grow, plain tanh's shrink: the loss scale differs
    assert res[-1]["activation_norm"] > res[0]["activation_norm"] > plain[-1]["activation_norm"]
    md = (tmp_path / "vanishing.md").read_text()
    assert f"||h_L|| = {res[-1]['activation_norm']:.3g}" in md
    assert f"plain tanh ends at {plain[-1]['activation_norm']:.3g}" in md


def test_examples_write_nothing_into_reports():
    """reports/ holds what python -m compare makes; the examples write into a temp folder."""
    for name in os.listdir(os.path.join(ROOT, "examples")):
        if name.endswith(".py"):
            text = open(os.path.join(ROOT, "examples", name)).read()
            assert "reports" not in text, name
