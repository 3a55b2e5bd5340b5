"""The web console: a page served by the API that uses the API like any other client.

Its files are plain HTML, CSS and JavaScript modules shipped inside this package (no CDN, no build
step). The page holds no secret of its own: the trader pastes an API key, which stays in the tab's
``sessionStorage``, and every call the page makes goes through the public HTTP and WebSocket API.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_PATH = "/console"
ASSETS_URL = f"{CONSOLE_PATH}/assets"
_ASSETS = files(__package__) / "static"


def install_console(app: FastAPI) -> None:
    """Serve the console page at ``/console`` and its scripts and styles under ``/console/assets``."""
    page = (_ASSETS / "index.html").read_text(encoding="utf-8")
    app.mount(ASSETS_URL, StaticFiles(directory=str(_ASSETS)), name="console-assets")

    @app.get(CONSOLE_PATH, include_in_schema=False)
    async def console() -> HTMLResponse:
        return HTMLResponse(page)
