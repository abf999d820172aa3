"""The rendered site in a real browser: headless Chromium driven over the DevTools protocol.

Every page of a smoke report is loaded from file://: no JavaScript error, every plotly
figure drawn (its SVG in the DOM), every link resolves to an existing page (and anchor),
no request other than file://, code folded until asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from site_runs import smoke_reports

from genobench.report.site import render_site

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


def chromium_binary() -> str:
    """Debian's chromium, installed with apt when missing (CI runs as root)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("chromium is not installed: apt-get install chromium (as root), then rerun")
    subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "chromium"],
        check=False,
        capture_output=True,
    )
    if not shutil.which("chromium"):
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "chromium"],
            check=True,
            capture_output=True,
        )
    return shutil.which("chromium")


class Browser:
    """One headless Chromium page, with the console errors, exceptions and requests it saw."""

    def __init__(self, binary: str, profile: Path):
        import websocket

        self.log = profile / "chromium.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=log,
                stderr=log,
            )
        try:
            self.ws = websocket.create_connection(
                self._page_socket(profile), timeout=60, suppress_origin=True
            )
        except BaseException:
            self.proc.kill()
            raise
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def _page_socket(self, profile: Path) -> str:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"chromium did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
        return next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, url: str) -> None:
        """Open `url` and wait for its load event and for every plotly figure to be drawn."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            self.events.append(json.loads(self.ws.recv()))
        while time.monotonic() < deadline and self.evaluate(
            "[...document.querySelectorAll('.plotly-graph-div')]"
            ".some(d => !d.querySelector('svg.main-svg'))"
        ):
            time.sleep(0.2)

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(json.dumps(params["args"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def smoke_site(binning_smoke_run, tmp_path_factory):
    reports = smoke_reports(tmp_path_factory.mktemp("site") / "reports", binning_smoke_run[0])
    _, site = render_site(reports, renderer="fallback")
    return site


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    with tempfile.TemporaryDirectory(prefix="genobench-chromium-") as profile:
        b = Browser(binary, Path(profile))
        yield b
        b.close()


def _local(url: str) -> tuple[Path, str]:
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.parse.unquote(parsed.path)), parsed.fragment


@pytest.mark.slow
def test_every_page_loads_offline_with_figures_and_working_links(smoke_site, browser):
    pages = sorted(smoke_site.rglob("*.html"))
    assert len(pages) == 9  # front page, 6 run pages (one without notebook), 1 sweep
    anchors: dict[Path, set[str]] = {}
    links: list[tuple[Path, str]] = []
    figures = 0
    for page in pages:
        browser.load(page.as_uri())
        assert browser.errors() == [], page
        outside = [u for u in browser.requests() if not u.startswith("file://")]
        assert outside == [], page
        drawn = browser.evaluate(
            "[...document.querySelectorAll('.plotly-graph-div')]"
            ".map(d => !!d.querySelector('svg.main-svg'))"
        )
        assert all(drawn), page
        figures += len(drawn)
        anchors[page] = set(
            browser.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
        )
        links += [
            (page, href)
            for href in browser.evaluate(
                "[...document.querySelectorAll('a[href]')].map(a => a.href)"
            )
        ]
    # the front page draws 3 key figures (binning, gradient check, quantization); the binning
    # page its eps sweep and 2 UMAPs, gradient_check/smoke and quantization/smoke one each
    assert figures == 3 + 3 + 1 + 1
    for page, href in links:
        assert href.startswith("file://"), (page, href)
        target, fragment = _local(href)
        assert target.is_file(), (page, href)
        if fragment:
            assert fragment in anchors[target], (page, href)
    nav_targets = {_local(h)[0] for p, h in links if p.name == "index.html"}
    assert set(pages) <= nav_targets | {smoke_site / "index.html"}  # every page is reachable


@pytest.mark.slow
def test_code_is_folded_until_one_click_shows_it(smoke_site, browser):
    browser.load(
        (smoke_site / "runs" / "gradient_check" / "smoke" / "gradient_check.html").as_uri()
    )
    visible = (
        "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea')].map(e => e.checkVisibility())"
    )
    shown = browser.evaluate(visible)
    assert len(shown) == 4 and not any(shown)  # parameters, injected parameters, 2 more
    injected = browser.evaluate(
        "document.querySelector('.celltag_injected-parameters summary').textContent"
    )
    assert injected == "parameters injected by papermill"
    browser.evaluate("document.querySelector('button.gb-toggle').click()")
    assert all(browser.evaluate(visible))
    assert "seed = 1" in browser.evaluate(
        "document.querySelector('.celltag_injected-parameters').innerText"
    )
