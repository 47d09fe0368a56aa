"""The end-to-end check: the dashboard answers over HTTPS with a certificate valid for its name."""

from __future__ import annotations

import http.client
import socket
import ssl
from datetime import UTC, datetime
from typing import Any

from prefect import task
from pydantic import BaseModel, ConfigDict

from core.settings import Settings, get_settings
from core.waits import WAITS
from tasks.dns import answers
from tasks.logs import run_logger
from tasks.waits import wait_for

TIMEOUT = 10.0


class HttpsAnswer(BaseModel):
    """What the dashboard URL answered, or why it did not."""

    model_config = ConfigDict(frozen=True)

    url: str
    ok: bool
    status: int | None = None
    location: str = ""
    address: str = ""
    certificate_names: tuple[str, ...] = ()
    certificate_expires: datetime | None = None
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return self.error
        where = f" -> {self.location}" if self.location else ""
        return f"HTTP {self.status}{where} from {self.address}"


def probe(host: str, settings: Settings, *, path: str = "/", via: str | None = None) -> HttpsAnswer:
    """One GET of https://host/ at the address public DNS gives (or `via`'s, e.g. a new ALB's
    DNS name before the host points at it, with the host as SNI), verifying the certificate."""
    url = f"https://{host}{'' if settings.https_port == 443 else f':{settings.https_port}'}{path}"
    addresses = answers(via or host, "A", settings)
    if not addresses:
        return HttpsAnswer(url=url, ok=False, error=f"{via or host} does not resolve")
    context = ssl.create_default_context(
        cafile=str(settings.ca_bundle) if settings.ca_bundle else None
    )
    address = addresses[0]
    try:
        with (
            socket.create_connection((address, settings.https_port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            peer: dict[str, Any] = dict(tls.getpeercert() or {})
            connection = http.client.HTTPConnection(host, settings.https_port, timeout=TIMEOUT)
            connection.sock = tls
            connection.request("GET", path, headers={"Host": host, "User-Agent": "kubeflow-alb"})
            response = connection.getresponse()
            response.read(65536)
    except ssl.SSLCertVerificationError as error:
        return HttpsAnswer(
            url=url,
            ok=False,
            address=address,
            error=f"certificate not valid for {host}: {error.verify_message}",
        )
    except (OSError, http.client.HTTPException) as error:
        return HttpsAnswer(
            url=url, ok=False, address=address, error=f"{type(error).__name__}: {error}"
        )
    names = tuple(value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS")
    expires = peer.get("notAfter")
    status = response.status
    return HttpsAnswer(
        url=url,
        ok=status == 200 or 300 <= status < 400,
        status=status,
        location=response.getheader("Location", "") or "",
        address=address,
        certificate_names=names,
        certificate_expires=(
            datetime.fromtimestamp(ssl.cert_time_to_seconds(str(expires)), UTC) if expires else None
        ),
        error="" if status < 400 else f"HTTP {status}",
    )


@task(name="check-https")
def wait_for_dashboard(host: str, via: str | None = None) -> HttpsAnswer:
    """Wait until https://<host>/ answers 200 or a redirect (to the login) with a valid
    certificate for the host; `via`: through that name's address (a new ALB, before the host
    points at it). Bounded by KFALB_HTTPS_TIMEOUT_SECONDS.
    """
    settings = get_settings()
    answer = wait_for(
        WAITS.https_answer.of(host, note=f" through {via}" if via else ""),
        lambda: probe(host, settings, via=via),
        until=lambda result: result.ok,
        settings=settings,
        describe=lambda result: result.describe() if result else "nothing",
    )
    run_logger().info("%s answered %s", answer.url, answer.describe())
    return answer


@task(name="observe-https")
def observe_dashboard(host: str) -> HttpsAnswer:
    """One HTTPS check of the dashboard, for the drift check (never raises for a bad answer)."""
    return probe(host, get_settings())
