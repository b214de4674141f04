"""A headless Chromium driven over the DevTools protocol (``websockets``), for page tests.

    with Chromium(extra_flags) as browser:
        page = browser.open("http://127.0.0.1:8000/")
        page.wait_for("document.body.dataset.state === 'done'", timeout=60)
        page.screenshot(path)

The browser runs in its own process group with a throwaway profile, and is killed with it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = [  # the project's headless flags: no GPU, no network chatter, no first-run dialogs
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]


class Page:
    """One tab: evaluate JavaScript, wait for a condition, upload a file, take a screenshot."""

    def __init__(self, url: str):
        import websockets

        self._loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self._socket = self._run(websockets.connect(url, max_size=64 * 1024 * 1024))

    def _run(self, coroutine, timeout: float = 60):
        return self._loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def call(self, method: str, timeout: float = 60, **params) -> dict:
        async def exchange():
            ident = next(self._ids)
            await self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads(await self._socket.recv())
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message["result"]

        return self._run(exchange(), timeout)

    def evaluate(self, expression: str, timeout: float = 60):
        result = self.call("Runtime.evaluate", timeout, expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, interval: float = 0.2):
        """Evaluate ``expression`` until its value is truthy; returns that value (read in one evaluation)."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never met {expression!r} in {timeout:g} s")
            time.sleep(interval)
        return value

    def set_file(self, selector: str, path: Path) -> None:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", files=[str(path)], nodeId=node)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self._run(self._socket.close())
        self._loop.close()


class Chromium:
    """A headless Chromium with remote debugging on a free port; ``open(url)`` gives its first tab."""

    def __init__(self, flags: list[str] = (), window: str = "1100,900"):
        self.flags = [*FLAGS, f"--window-size={window}", *flags]
        self.profile = tempfile.mkdtemp(prefix="dfcnn-chromium-")
        self.process: subprocess.Popen | None = None
        self.pages: list[Page] = []

    def __enter__(self) -> Chromium:
        self.process = subprocess.Popen(
            [CHROMIUM, *self.flags, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{CHROMIUM} did not start (exit {self.process.poll()})")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        return self

    def open(self, url: str) -> Page:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as answer:
            target = next(t for t in json.load(answer) if t["type"] == "page")
        page = Page(target["webSocketDebuggerUrl"])
        self.pages.append(page)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", url=url)
        page.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", timeout=30)
        return page

    def __exit__(self, *exc) -> None:
        for page in self.pages:
            try:
                page.close()
            except Exception:  # the browser may already be gone
                pass
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
