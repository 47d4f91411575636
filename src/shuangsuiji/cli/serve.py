"""``shuangsuiji serve``: the HTTP service (``docs/server.md``); FastAPI is imported only here,
when the command runs, so the other commands start without it."""

from __future__ import annotations

from pathlib import Path

import click

from shuangsuiji.cli.common import db_option, fail, handle_errors


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8750, show_default=True, type=int)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="SHUANGSUIJI_KEYS",
    help="The keys file (TOML): people, their roles and the SHA-256 of their API keys.",
)
@click.option(
    "--trusted-proxy-header",
    default=None,
    help="A header in which a trusted proxy names the person (by id); only behind that proxy.",
)
@click.option(
    "--max-upload-mb",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="SHUANGSUIJI_MAX_UPLOAD_MB",
    help="Refuse request bodies (CSV uploads, JSON rows) larger than this with 413.",
)
@click.option("--new-key", is_flag=True, help="Print a fresh API key and its keys-file line.")
@handle_errors
def serve(
    db_url: str,
    host: str,
    port: int,
    keys_file: Path | None,
    trusted_proxy_header: str | None,
    max_upload_mb: int,
    new_key: bool,
) -> None:
    """Serve the registry over HTTP (OpenAPI at /openapi.json); needs the [server] extra.

    The keys file is read again when it changes (checked on each request): a valid new file
    takes effect at once, a malformed one is refused and the keys in force stay (the log and
    GET /health say so). See docs/server.md.
    """
    if new_key:
        from shuangsuiji.server.auth import hash_key
        from shuangsuiji.server.auth import new_key as make_key

        key = make_key()
        click.echo(f"key:        {key}")
        click.echo(f'key_sha256 = "{hash_key(key)}"   # the keys file keeps only this')
        return
    if keys_file is None:
        fail("name the keys file: --keys FILE (or SHUANGSUIJI_KEYS); see docs/server.md")
    try:
        import uvicorn

        from shuangsuiji.server import create_app
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        fail(f"the service needs the server extra: pip install 'shuangsuiji[server]' ({exc})")
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(
        db_url,
        keys=keys_file,
        proxy_header=trusted_proxy_header,
        max_upload_bytes=max_upload_mb * 2**20,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
