"""The saved stacks, read in about a second without starting a server: from the Prefect API when
one runs (the chosen server, or kfalb's local one), else straight from the local database.

With no server running, the SQLite database of PREFECT_HOME is read as Prefect's server reads
it: the LoadBalancerStack block documents (read only), their data decrypted with the database's
own key (or PREFECT_SERVER_ENCRYPTION_KEY). Anything unexpected there (another database, another
schema) falls back to the API of a server, started for it if need be.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken

from kfalb import server

BLOCK_TYPE_SLUG = "load-balancer-stack"  # tasks.stack_block's; kept apart from Prefect's import
_PAGE = 200  # the API's default page size
_SQLITE = ("sqlite+aiosqlite:///", "sqlite:///")

Documents = dict[str, dict[str, Any]]


def stack_documents(report: server.Report) -> Documents:
    """Every saved stack's block data, by stack name."""
    url = server.configured_api_url()
    if url is None:
        local = server.running()
        url = local.api_url if local else None
    if url is not None:
        return from_api(url)
    found = from_database(server.prefect_home())
    if found is not None:
        return found
    with server.prefect_api(report) as started:
        return from_api(started)


def from_api(api_url: str) -> Documents:
    """The block documents of the stack type, page by page (none before the first save)."""
    found: Documents = {}
    offset = 0
    while True:
        query = urlencode({"include_secrets": "false", "offset": offset, "limit": _PAGE})
        page = _get(
            f"{api_url.rstrip('/')}/block_types/slug/{BLOCK_TYPE_SLUG}/block_documents?{query}"
        )
        for document in page:
            if document.get("name") and not document.get("is_anonymous"):
                found[str(document["name"])] = dict(document.get("data") or {})
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def from_database(home: Path) -> Documents | None:
    """The stack documents of the local SQLite database; {} when there is none yet, None when it
    cannot be read here (not SQLite, not a schema this knows, no key)."""
    path = _database_path(home)
    if path is None:
        return None
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute(
                "SELECT d.name, d.data FROM block_document AS d JOIN block_type AS t "
                "ON t.id = d.block_type_id WHERE t.slug = ? AND NOT d.is_anonymous",
                (BLOCK_TYPE_SLUG,),
            ).fetchall()
            fernet = _fernet(db) if rows else None
        return {str(name): _decrypt(fernet, raw) for name, raw in rows if name and fernet}
    except (sqlite3.Error, InvalidToken, ValueError, KeyError, TypeError):
        return None


def _database_path(home: Path) -> Path | None:
    url = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or os.environ.get(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    )
    if not url:
        return home / "prefect.db"
    for prefix in _SQLITE:
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix)).expanduser()
    return None  # PostgreSQL: through its server only


def _fernet(db: sqlite3.Connection) -> Fernet:
    key = os.environ.get("PREFECT_SERVER_ENCRYPTION_KEY")
    if not key:
        row = db.execute("SELECT value FROM configuration WHERE key = 'ENCRYPTION_KEY'").fetchone()
        value = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        key = value["fernet_key"]
    return Fernet(str(key).encode())


def _decrypt(fernet: Fernet, raw: Any) -> dict[str, Any]:
    token = json.loads(raw) if isinstance(raw, str) and raw.startswith('"') else raw
    data = json.loads(fernet.decrypt(str(token).encode()).decode())
    if not isinstance(data, dict):
        raise ValueError("block data is not an object")
    return data


def _get(url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(url, headers=_auth_headers())
    opener = (
        urllib.request.build_opener(urllib.request.ProxyHandler({}))
        if "127.0.0.1" in url
        else urllib.request.build_opener()
    )
    try:
        with opener.open(request, timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:  # the block type is registered by the first save
            return []
        raise server.ServerError(
            f"The Prefect API at {url.split('/block_types')[0]} answered "
            f"HTTP {error.code} to a read of the saved stacks."
        ) from None
    except (OSError, ValueError) as error:
        raise server.ServerError(
            f"The Prefect API at {url.split('/block_types')[0]} does not "
            f"answer ({error}); `kfalb server status` tells which server "
            "kfalb uses."
        ) from None
    return list(body) if isinstance(body, list) else []


def _auth_headers() -> dict[str, str]:
    """Prefect Cloud's API key, or a self-hosted server's basic auth string, when set."""
    if key := os.environ.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {key}"}
    if auth := os.environ.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    return {}
