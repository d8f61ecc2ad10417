"""A minimal headless-Chromium driver over the Chrome DevTools Protocol (CDP), for the report
page's browser test. Chromium comes from the Debian package (``scripts/install_browser.sh``);
nothing is downloaded. The protocol is spoken over the DevTools websocket with
``websocket-client``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

#: flags that keep a headless Chromium quiet and local (without the background-networking ones,
#: connection attempts are refused many at a time in a sandbox without network)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    """The Chromium binary (``/usr/bin/chromium`` from Debian, else one on PATH), or None."""
    for cand in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("chromium") or shutil.which("chromium-browser")


class CDPError(RuntimeError):
    """Chromium did not start, or a DevTools command failed."""


class HeadlessChromium:
    """``with HeadlessChromium(binary, workdir) as b: b.navigate(url); b.evaluate(js)``.

    Starts Chromium with a fresh ``--user-data-dir`` under ``workdir`` and
    ``--remote-debugging-port=0``, reads the chosen port from ``DevToolsActivePort``, attaches to
    the first page target and records every network request URL the page makes.
    """

    def __init__(self, binary: str, workdir: Path, *, width: int = 1280, height: int = 1600,
                 timeout: float = 60.0) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.size = (width, height)
        self.timeout = timeout
        self.requests: list[str] = []
        """URLs of every request the page made (``Network.requestWillBeSent``)."""
        self.console_errors: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._ws: Any = None
        self._next_id = 0

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "HeadlessChromium":
        try:
            return self._start()
        except BaseException:
            self.__exit__(None, None, None)  # never leave a browser behind
            raise

    def _start(self) -> "HeadlessChromium":
        import websocket  # websocket-client

        profile = self.workdir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        log_path = self.workdir / "chromium.log"
        self._log = open(log_path, "wb")
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a stale one names a dead port
        self._proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=self._log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._proc.poll() is not None:
                raise CDPError(f"chromium exited with {self._proc.returncode}: {log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise CDPError(f"chromium wrote no DevToolsActivePort within {self.timeout:.0f}s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = self._http_json(f"http://127.0.0.1:{port}/json/list")
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise CDPError(f"no page target among {targets}")
        self._ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=self.timeout,
                                               suppress_origin=True)
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.send(method)
        self.send("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._ws is not None:
                self._ws.close()
        finally:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if getattr(self, "_log", None) is not None:
                self._log.close()

    @staticmethod
    def _http_json(url: str) -> Any:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        with opener.open(url, timeout=10) as resp:
            return json.loads(resp.read().decode("utf-8"))

    # -- protocol --------------------------------------------------------------------------
    def _handle_event(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        params = msg.get("params") or {}
        if method == "Network.requestWillBeSent":
            self.requests.append(str(params.get("request", {}).get("url", "")))
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])

    def _recv(self) -> dict[str, Any]:
        msg = json.loads(self._ws.recv())
        if "method" in msg:
            self._handle_event(msg)
        return msg

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its ``result`` (events seen meanwhile are recorded)."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = self._recv()
            if msg.get("id") == ident:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
        raise CDPError(f"{method}: no answer within {self.timeout:.0f}s")

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = self._recv()
            if msg.get("method") == method:
                return msg.get("params", {})
        raise CDPError(f"no {method} event within {self.timeout:.0f}s")

    # -- high level ------------------------------------------------------------------------
    def navigate(self, url: str) -> None:
        """Open ``url`` and wait for its load event (images decoded or failed by then)."""
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"navigate {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if result.get("exceptionDetails"):
            raise CDPError(f"evaluate failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scroll height when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)") or self.size[1])
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": self.size[0], "height": min(height, 16000), "scale": 1})
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
