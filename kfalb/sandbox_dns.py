"""`kfalb sandbox dns add|remove|list`: edit the root domain's zone at the running sandbox's
external DNS provider, through the sandbox's control endpoint."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from core.errors import KfalbError, SpecError

#: Written by the sandbox (sandbox.control.CONTROL_FILE); `kfalb demo` keeps its world one down.
CONTROL_FILES = ("control-url", "world/control-url")


def control_url(directory: Path) -> str:
    """The running sandbox's control endpoint, from its directory."""
    for name in CONTROL_FILES:
        try:
            return (directory / name).read_text().strip()
        except OSError:
            continue
    raise KfalbError(
        f"no running sandbox in {directory}: start one with "
        "`kfalb sandbox up --detach --no-root-in-route53`"
    )


def dns_command(args: argparse.Namespace, directory: Path) -> int:
    """Run one `kfalb sandbox dns` action and print what the zone holds for it."""
    base = control_url(directory) + "/dns/records"
    if args.dns_command == "add":
        body = {"name": args.name, "type": args.type, "values": args.values, "ttl": args.ttl}
        answer = _call("POST", base, body)
        print(f"{answer['zone']}: {args.name} {args.type.upper()} {' '.join(args.values)}")
    elif args.dns_command == "remove":
        query = urllib.parse.urlencode({"name": args.name, "type": args.type})
        answer = _call("DELETE", f"{base}?{query}")
        print(f"{answer['zone']}: removed {args.name} {args.type.upper()}")
    else:
        answer = _call("GET", base)
        for record in answer["records"]:
            values = " ".join(record["values"])
            print(f"{record['name']}  {record['ttl']}  {record['type']}  {values}")
    return 0


def _call(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found
    except urllib.error.HTTPError as error:
        message = json.loads(error.read() or b"{}").get("error", error.reason)
        if error.code == 400:
            raise SpecError(f"sandbox dns: {message}") from None
        raise KfalbError(f"sandbox dns: {message}") from None
    except OSError as error:
        raise KfalbError(
            f"the sandbox's control endpoint {url} does not answer: {error}; "
            "is the sandbox still running (`kfalb sandbox status`)?"
        ) from None
