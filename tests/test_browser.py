"""The built book in a real browser: headless Chromium over the DevTools protocol.

Every page of the build the ``built`` fixture makes is loaded from a local HTTP server
(no network). Per page: no JavaScript console errors, every image loaded, math
typeset by the MathJax copy served from the build, every internal link resolves, the
download (and, on notebook pages, launch) buttons exist. The search page finds
"gradient". A screenshot of every page goes to ``_build/screenshots/``.

``.ci/run`` installs Debian's ``chromium`` when it is missing; where no browser can be
found the tests skip and say so.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64decode
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "_build" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

websocket = pytest.importorskip("websocket", reason="websocket-client not installed")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no Chromium found (tried: " + ", ".join(BROWSERS) + "); "
        "install it with `apt-get install -y chromium` (.ci/run does this)"
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server(built):
    handler = functools.partial(_Quiet, directory=str(built))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class Page:
    """One browser tab over a CDP websocket: navigate, evaluate, screenshot."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(method)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params):
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))
        self.ws.settimeout(60)

    def goto(self, url: str) -> None:
        self.events = []
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"].get("text"))[:300])
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(json.dumps(params.get("args"))[:300])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                if entry.get("url", "").endswith("/favicon.ico"):
                    continue  # the browser asks for it on its own; no page links it
                found.append(f"{entry.get('text')} {entry.get('url', '')}"[:300])
        return found

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b64decode(data))


@pytest.fixture(scope="module")
def page(server):
    exe = _browser()
    profile = tempfile.mkdtemp(prefix="tml-chromium-")
    proc = subprocess.Popen(
        [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                port = int(match.group(1))
        if port is None:
            pytest.fail(f"{exe} did not start its DevTools endpoint")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            targets = [t for t in json.load(r) if t.get("type") == "page"]
        tab = Page(targets[0]["webSocketDebuggerUrl"])
        yield tab
        tab.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _pages(html: Path) -> list[str]:
    # index.html at the top is only a redirect to chapters/index.html (tested below)
    skip = {"index.html", "genindex.html", "search.html", "py-modindex.html"}
    return sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html).parts)
        and p.name not in skip
    )


PROBE = r"""
(async () => {
  const atMost = (ms, p) => Promise.race([p, new Promise(r => setTimeout(r, ms))]);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await atMost(20000, MathJax.startup.promise);
  }
  document.querySelectorAll("img[loading=lazy]").forEach(i => { i.loading = "eager"; });
  await atMost(20000, Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(done => { img.onload = img.onerror = done; }))));
  const text = document.querySelector("main") || document.body;
  const clone = text.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight")
       .forEach(n => n.remove());
  return {
    images: [...document.images].map(i => [i.currentSrc || i.src, i.naturalWidth]),
    mathSource: document.querySelectorAll("span.math, div.math").length,
    mathTypeset: document.querySelectorAll("mjx-container").length,
    rawTex: (clone.textContent.match(/\\\(|\\\[|\$\$/g) || []).length,
    mathjaxSrc: [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s)),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    download: !!document.querySelector(".dropdown-download-buttons"),
    ipynb: !!document.querySelector(".btn-download-notebook-button"),
    launch: [...document.querySelectorAll(".dropdown-launch-buttons a")]
              .map(a => a.href),
    notebook: !!document.querySelector(".cell"),
  };
})()
"""


@pytest.fixture(scope="module")
def visited(built, server, page):
    """Load every page once: {page: probe result + console errors}."""
    results = {}
    for name in _pages(built):
        page.goto(f"{server}/{name}")
        probe = page.js(PROBE)
        probe["errors"] = page.errors()
        page.screenshot(SCREENSHOTS / name.replace("/", "__").replace(".html", ".png"))
        results[name] = probe
    return results


def test_every_page_was_checked(built, visited):
    assert len(visited) >= 10
    assert "chapters/l01-introduction.html" in visited
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(visited)
    print(f"\nbrowser-checked {len(visited)} pages; screenshots in {SCREENSHOTS}")


def test_no_javascript_console_errors(visited):
    bad = {name: p["errors"] for name, p in visited.items() if p["errors"]}
    assert not bad, bad


def test_every_image_loaded(visited):
    bad = {
        name: [src for src, width in p["images"] if not width]
        for name, p in visited.items()
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, bad
    assert sum(len(p["images"]) for p in visited.values()) >= 5


def test_math_is_typeset_offline_by_the_served_mathjax(server, visited):
    with_math = [n for n, p in visited.items() if p["mathSource"]]
    assert "chapters/l01-introduction.html" in with_math
    for name in with_math:
        probe = visited[name]
        assert probe["mathTypeset"] > 0, f"{name}: MathJax typeset nothing"
        assert probe["rawTex"] == 0, f"{name}: raw TeX delimiters left in the text"
        assert probe["mathjaxSrc"], name
        assert all(s.startswith(server) for s in probe["mathjaxSrc"]), (
            f"{name}: MathJax is not served by the build: {probe['mathjaxSrc']}"
        )


def test_every_internal_link_resolves(server, visited):
    targets = {}
    for name, probe in visited.items():
        for href in probe["links"]:
            if href.startswith(server):
                targets.setdefault(urllib.parse.urldefrag(href).url, name)
    broken = []
    for url, source in sorted(targets.items()):
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                ok = r.status == 200
        except urllib.error.HTTPError:
            ok = False
        if not ok:
            broken.append(f"{url} (linked from {source})")
    assert not broken, broken
    assert any(u.endswith("/exercises/w01.ipynb") for u in targets)


def test_download_and_launch_buttons(visited):
    for name, probe in visited.items():
        assert probe["download"], f"{name}: no download button"
        if probe["notebook"]:
            assert probe["ipynb"], f"{name}: no executed .ipynb download"
            assert probe["launch"], f"{name}: no launch button"
            assert all(u.endswith(".ipynb") for u in probe["launch"]), probe["launch"]
    assert any(p["notebook"] for p in visited.values())


def test_the_site_root_redirects_to_the_landing_page(server, page):
    page.goto(f"{server}/index.html")
    landing = ""
    for _ in range(50):
        try:
            landing = page.js("location.href")
        except RuntimeError:  # the context went away while the redirect ran
            pass
        if landing.endswith("/chapters/index.html"):
            break
        time.sleep(0.1)
    assert landing.endswith("/chapters/index.html"), landing


def test_search_finds_gradient(server, page):
    page.goto(f"{server}/search.html?q=gradient")
    found = page.js(
        """(async () => {
          for (let i = 0; i < 100; i++) {
            const n = document.querySelectorAll("#search-results li").length;
            if (n) return n;
            await new Promise(r => setTimeout(r, 100));
          }
          return 0;
        })()"""
    )
    assert found > 0, "the search page found nothing for 'gradient'"
    assert not page.errors()


def test_downloaded_chapter_notebooks_are_executed(built):
    """The .ipynb behind the download button holds outputs (built, not committed)."""
    path = built / "_sources" / "chapters" / "l01-introduction.ipynb"
    nb = json.loads(path.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any(o.get("output_type") == "display_data" for o in outputs)
    first = "".join(nb["cells"][0]["source"])
    assert '%pip install --quiet "tmlbook @ git+https://github.com/' in first, first
    assert not list((REPO / "chapters").glob("*.ipynb")), "notebooks are not committed"


def test_student_notebooks_end_with_the_export_cell(built):
    from autograder.master import available_weeks, load_master
    from autograder.release import leaks

    for week in available_weeks():
        path = built / "exercises" / f"{week}.ipynb"
        nb = json.loads(path.read_text())
        last, before = nb["cells"][-1], nb["cells"][-2]
        assert last["cell_type"] == "code", week
        assert "grader.export(" in "".join(last["source"]), week
        assert "What to submit" in "".join(before["source"]), week
        assert leaks(load_master(week), path.read_text()) == [], week


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI only: needs Chromium")
def test_ci_has_a_browser():
    assert any(shutil.which(b) for b in BROWSERS), ".ci/run must install chromium"
