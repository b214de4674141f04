"""``GET /docs``: the API's documentation, served from this machine (FastAPI's own page loads Swagger UI
from a CDN, and is blank offline).

With the ``swagger-ui-py`` package installed, its Swagger UI files (``swagger_ui/static``) are served
under ``/docs/assets`` and ``/docs`` is the interactive Swagger UI; without it ``/docs`` is
``static/docs.html``, a self-contained page listing every operation of ``/openapi.json``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")  # what the Swagger page loads


def swagger_ui_folder() -> Path | None:
    """The folder of Swagger UI's files from the ``swagger-ui-py`` package, or None when it is not
    installed (found without importing it: its ``__init__`` loads Jinja2 and every web framework's handler)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if all((folder / name).is_file() for name in SWAGGER_FILES) else None


def add_docs_routes(app: FastAPI) -> None:
    """Serve ``/docs`` (the app is created with ``docs_url=None``): Swagger UI when installed, else the listing page."""
    folder = swagger_ui_folder()
    if folder is None:

        @app.get("/docs", include_in_schema=False)
        async def openapi_page():
            return FileResponse(STATIC / "docs.html", media_type="text/html")

        return

    app.mount("/docs/assets", StaticFiles(directory=folder), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )
