"""The browser character creator's files, served by the gRPC-Web door beside its RPCs.

    GET/HEAD /, /app.js, /creator.css ... -> starlette StaticFiles over server/web_static
    everything else (POST /avatarforge.v1.AvatarForge/<Method>, lifespan) -> the RPC app

Same origin as the RPCs, so the page needs no CORS. StaticFiles refuses paths that resolve
outside the folder (`..`, symlinks) and sets the content type from the file name; every file
reply also gets nosniff, a same-origin Content-Security-Policy and no-cache (a rebuilt bundle
shows on the next load). The bundle in web_static/ is built from web/ (README, "The browser
creator"); tests/test_web_bundle.py fails when it is stale.
"""
from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "web_static"
REQUIRED = ("index.html", "app.js", "creator.css")
# The page loads only its own files; images are blob: URLs of the PNGs the RPCs return.
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                 b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-cache"),
]


def with_page(rpc_app, rpc_prefix: str, static_dir: Path = STATIC_DIR):
    """An ASGI app: the page's files for GET/HEAD outside `rpc_prefix`, `rpc_app` for the rest."""
    from starlette.exceptions import HTTPException
    from starlette.responses import PlainTextResponse
    from starlette.staticfiles import StaticFiles

    missing = [n for n in REQUIRED if not (static_dir / n).is_file()]
    if missing:
        raise OSError(f"the web page's files {missing} are missing from {static_dir}: build them with `make web`")
    files = StaticFiles(directory=static_dir, html=True)

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and not scope["path"].startswith(rpc_prefix):
            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
                await send(message)

            try:
                await files(scope, receive, send_with_headers)
            except HTTPException as e:  # 404 and 405 come as exceptions, for a router to answer
                await PlainTextResponse(e.detail, e.status_code)(scope, receive, send_with_headers)
        else:
            await rpc_app(scope, receive, send)

    return app


def page_url(web_address: str, port: int) -> str:
    """The URL to open: a wildcard host is reachable as localhost on this machine."""
    host = web_address.rpartition(":")[0].strip("[]")
    host = "localhost" if host in ("", "0.0.0.0", "::") else host
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"
