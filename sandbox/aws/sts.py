"""STS AssumeRole as AWS decides it: moto 5.2.5 hands out credentials for any role ARN.

Here the role must exist and its trust policy must allow the caller: an `Allow` statement for
`sts:AssumeRole` whose principal is the caller's account (`123456789012`,
`arn:aws:iam::123456789012:root`), its ARN (a user, or the role of an assumed-role session) or
`*`, and whose conditions hold (`StringEquals`/`StringLike` on `sts:ExternalId`; any other
condition is taken as not met), with no matching `Deny`. Otherwise the answer is AWS's:
HTTP 403 `AccessDenied`, "User: <caller arn> is not authorized to perform: sts:AssumeRole on
resource: <role arn>", for a missing role and an untrusting one alike.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sts.responses import TokenResponse

from sandbox.aws.hooks import Realism, hook

_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/.+$")
_ASSUMED = re.compile(
    r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/"
)
_ACTION = "sts:assumerole"


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def caller_principals(caller_account: str, caller_arn: str) -> set[str]:
    """The principal values in a trust policy that name this caller."""
    found = {"*", caller_account, caller_arn}
    partition = caller_arn.split(":")[1] if caller_arn.count(":") >= 5 else "aws"
    found.add(f"arn:{partition}:iam::{caller_account}:root")
    assumed = _ASSUMED.match(caller_arn)
    if assumed:
        found.add(f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}")
    return found


def _principal_matches(principal: Any, names: set[str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(str(value) in names for value in _listed(principal.get("AWS")))


def _action_matches(action: Any) -> bool:
    return any(fnmatch.fnmatchcase(_ACTION, str(item).lower()) for item in _listed(action))


def _conditions_hold(condition: Any, external_id: str | None) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if operator not in ("StringEquals", "StringLike") or not isinstance(tests, dict):
            return False  # a condition the sandbox cannot evaluate is not met
        for key, wanted in tests.items():
            if key.lower() != "sts:externalid" or external_id is None:
                return False
            values = [str(value) for value in _listed(wanted)]
            if operator == "StringEquals" and external_id not in values:
                return False
            if operator == "StringLike" and not any(
                fnmatch.fnmatchcase(external_id, value) for value in values
            ):
                return False
    return True


def trusts(
    document: str | dict[str, Any],
    *,
    caller_account: str,
    caller_arn: str,
    external_id: str | None = None,
) -> bool:
    """Whether a role's trust policy lets this caller assume the role (with this ExternalId)."""
    policy: Any = document
    if isinstance(document, str):
        try:
            policy = json.loads(document)
        except ValueError:
            try:
                policy = json.loads(unquote(document))  # as sent in a query string
            except ValueError:
                return False
    names = caller_principals(caller_account, caller_arn)
    allowed = False
    for statement in _listed(policy.get("Statement") if isinstance(policy, dict) else None):
        if not isinstance(statement, dict):
            continue
        matches = (
            _principal_matches(statement.get("Principal"), names)
            and _action_matches(statement.get("Action"))
            and _conditions_hold(statement.get("Condition"), external_id)
        )
        if matches and statement.get("Effect") == "Deny":
            return False
        allowed = allowed or (matches and statement.get("Effect") == "Allow")
    return allowed


def _role_document(role_arn: str) -> str | None:
    """The trust policy of the role with this ARN, or None when there is no such role."""
    found = _ROLE_ARN.match(role_arn or "")
    if found is None or found["account"] not in iam_backends:
        return None
    backend = iam_backends[found["account"]][found["partition"]]
    try:
        return str(backend.get_role_by_arn(role_arn).assume_role_policy_document)
    except NotFoundException:
        return None


def access_denied(caller_arn: str, role_arn: str) -> tuple[str, dict[str, Any]]:
    """STS's answer when the role cannot be assumed: query-protocol XML, HTTP 403."""
    message = (
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return body, {"status": 403, "Content-Type": "text/xml"}


def _around_assume_role(realism: Realism, original: Any, response: TokenResponse) -> Any:
    role_arn = str(response._get_param("RoleArn") or "")
    external_id = response._get_param("ExternalId")
    _, caller_arn, caller_account = response.backend.get_caller_identity(
        response.get_access_key(), response.region
    )
    document = _role_document(role_arn)
    if document is None or not trusts(
        document, caller_account=caller_account, caller_arn=caller_arn, external_id=external_id
    ):
        return access_denied(caller_arn, role_arn)
    return original(response)


def install() -> None:
    hook(TokenResponse, "assume_role", _around_assume_role)
