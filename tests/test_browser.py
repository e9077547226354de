"""Run notebook 04 in a real JupyterLab, in headless Chromium, and use its explorer.

The test starts JupyterLab on a free localhost port with a token, a fresh root folder holding
a cleared copy of the notebook, a fresh workspace folder and temporary Jupyter config and
runtime folders.  Python Playwright drives Debian's Chromium (``/usr/bin/chromium``, never a
downloaded browser): it runs all cells from the Run menu, waits for the explorer, moves the
depth slider, and checks that the plot changed and that no widget failed to display.

Skipped, with the reason, when Chromium or Playwright is missing.  The screenshot goes to
``tmp_path`` (or to the folder named by ``KAIMING_BROWSER_ARTIFACTS``), never into the tree.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_comparing_initialization_schemes.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "kaiming-browser-test"
SERVER_TIMEOUT = 60          # seconds until JupyterLab answers /api/status
RUN_TIMEOUT = 240_000        # milliseconds for Run All on a slow, shared 2-core machine
STEP_TIMEOUT = 60_000        # milliseconds for any single UI step
IDLE = ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']"

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_cleared_copy(folder: Path) -> Path:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    path = folder / NOTEBOOK.name
    nbformat.write(nb, path)
    return path


def _wait_for_server(url: str, process: subprocess.Popen) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # localhost only
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"JupyterLab did not answer {url} within {SERVER_TIMEOUT} s")


def _start_kernel_session(url: str, name: str) -> None:
    """Start the notebook's kernel through the server's REST API, before the page opens.

    Left to the page, JupyterLab on a loaded machine sometimes starts two kernels for the
    notebook at once and shuts one down while it still holds it (seen in CI); the page then
    asks which kernel to use and runs nothing.  With a session already there, it attaches.
    """
    body = json.dumps({"path": name, "name": name, "type": "notebook",
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{url}/api/sessions?token={TOKEN}", data=body,
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # localhost only
    with opener.open(request, timeout=SERVER_TIMEOUT) as response:
        assert response.status == 201, response.status


@pytest.fixture
def jupyterlab(tmp_path):
    """Start JupyterLab on a cleared copy of notebook 04; yield its base URL."""
    root, workspaces = tmp_path / "root", tmp_path / "workspaces"
    config, runtime = tmp_path / "config", tmp_path / "runtime"
    for folder in (root, workspaces, config, runtime):
        folder.mkdir()
    _write_cleared_copy(root)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(runtime),
           "IPYTHONDIR": str(tmp_path / "ipython"), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    for name in ("KAIMING_FIGURES_DIR", "MPLBACKEND"):    # the notebook must write no figures
        env.pop(name, None)
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={workspaces}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    log = (tmp_path / "jupyterlab.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={TOKEN}", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KAIMING_BROWSER_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _set_slider(explorer, description: str, value: int) -> None:
    """Type a value into a slider's editable readout, as a learner can."""
    slider = explorer.locator(".widget-slider").filter(
        has=explorer.page.locator(".widget-label", has_text=re.compile(f"^{description}$")))
    readout = slider.locator(".widget-readout")
    readout.click()
    readout.press("Control+a")
    readout.type(str(value))
    readout.press("Enter")


def _run_all(page) -> None:
    page.locator(".jp-Cell .jp-InputPrompt").first.click()   # focus, or Run All is lost
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


def _wait_for_run_all(page, done) -> None:
    """Wait until ``done`` is visible, answering JupyterLab's "Select Kernel" dialog.

    If the page still lost its kernel (see :func:`_start_kernel_session`), JupyterLab asks
    which kernel to use and runs nothing; clicking its Select button did not bring it back
    in CI, so reload the page, which attaches to the running session, and run all again.
    """
    select = page.locator(".jp-Dialog", has_text="Select Kernel")
    deadline = time.monotonic() + RUN_TIMEOUT / 1000
    while not done.is_visible():
        if time.monotonic() > deadline:
            raise AssertionError(f"Run All did not finish within {RUN_TIMEOUT / 1000:.0f} s")
        if select.is_visible():
            page.reload()
            page.wait_for_selector(IDLE)
            _run_all(page)
        page.wait_for_timeout(500)


def test_explorer_renders_and_follows_the_depth_slider_in_jupyterlab(jupyterlab, tmp_path):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--disable-gpu", "--disable-quic", "--no-proxy-server"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT)
        try:
            _start_kernel_session(jupyterlab, NOTEBOOK.name)
            page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
            page.wait_for_selector(IDLE)
            _run_all(page)

            # The last cell prints this once every cell above has run without an error.
            # Wait for it in an output area: the source line that prints it is on screen
            # from the start, so matching any text would not wait for Run All at all.
            _wait_for_run_all(page, page.locator(".jp-OutputArea-output",
                                                 has_text="answers checked"))
            page.wait_for_selector(IDLE)
            explorer = page.locator(".kaiming-explorer")
            explorer.scroll_into_view_if_needed()
            image = explorer.locator("img.widget-image")
            status = explorer.locator(".widget-html")
            assert "depth 50" in status.inner_text()
            before = image.screenshot()

            _set_slider(explorer, "depth", 10)
            sync_api.expect(status).to_contain_text("depth 10 ", timeout=STEP_TIMEOUT)
            page.wait_for_selector(IDLE)
            after = image.screenshot()
            assert after != before, "the plot did not change when the depth slider moved"
            assert page.get_by_text("Error displaying widget").count() == 0
            assert explorer.locator(".widget-readout").first.inner_text() == "10"
        finally:
            shot = _artifacts(tmp_path) / "explorer.png"
            page.screenshot(path=str(shot), full_page=False)
            if explorer_visible := page.locator(".kaiming-explorer").count():
                page.locator(".kaiming-explorer").screenshot(
                    path=str(shot.with_name("explorer_widget.png")))
            print(f"screenshots in {shot.parent} (explorer found: {bool(explorer_visible)})")
            browser.close()
