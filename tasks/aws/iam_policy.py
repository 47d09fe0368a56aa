"""The controller's IAM policy: bundled document, created with tags, updated by a new version."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming, sharing
from core.controller_versions import DEFAULT_CONTROLLER_VERSION, bundled_version_problem, release
from core.desired import policy_name
from core.errors import AwsTransientError, OwnershipError, PreflightError
from core.resources import CallerIdentity, PolicyState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code, read_back
from tasks.aws.iam_idempotent import create_or_find, found_after_conflict, gone_already
from tasks.aws.iam_legacy import users_to_mark
from tasks.aws.iam_shared import policy_item, read_policy, same_document
from tasks.aws.sts import caller_identity
from tasks.bundled import DEPLOYMENTS, bundled_path
from tasks.cluster_lock import cluster_lease
from tasks.logs import run_logger
from tasks.shared import release as release_use

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import TagTypeDef


def policy_file(version: str = DEFAULT_CONTROLLER_VERSION) -> Path:
    """The policy published for a bundled controller version (see the SOURCE.md next to it)."""
    problem = bundled_version_problem(version)
    if problem:
        raise PreflightError(f"stack.controllerVersion: {problem}.")
    return bundled_path(
        DEPLOYMENTS, "aws-load-balancer-controller", release(version).directory, "iam-policy.json"
    )


#: IAM keeps at most five versions of a managed policy.
MAX_VERSIONS = 5


def load_controller_policy(
    path: Path | None = None, partition: str = "aws", *, version: str = DEFAULT_CONTROLLER_VERSION
) -> dict[str, Any]:
    """The controller's policy document (of `version`, or the file `path`); ARNs rewritten for
    partitions other than `aws`."""
    path = path or policy_file(version)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PreflightError(f"The controller IAM policy file {path.name} is missing.") from None
    if partition != "aws":
        text = text.replace('"arn:aws:', f'"arn:{partition}:')
    document: dict[str, Any] = json.loads(text)
    return document


def _policy_arn(
    ctx: AwsContext, spec: StackSpec, identity: CallerIdentity | None = None
) -> tuple[str, str]:
    """The policy's ARN (from the caller's account) and the partition."""
    identity = identity or caller_identity(ctx)
    name = policy_name(spec)
    return f"arn:{identity.partition}:iam::{identity.account}:policy/{name}", identity.partition


def _target(
    ctx: AwsContext,
    spec: StackSpec,
    document: dict[str, Any] | None,
    identity: CallerIdentity | None = None,
) -> tuple[str, dict[str, Any]]:
    arn, partition = _policy_arn(ctx, spec, identity)
    version = spec.stack.controller_version  # the policy follows the controller's version
    return arn, document or load_controller_policy(partition=partition, version=version)


@aws_task
def observe_policy(
    ctx: AwsContext,
    spec: StackSpec,
    *,
    document: dict[str, Any] | None = None,
    identity: CallerIdentity | None = None,
    count_versions: bool = False,
) -> PolicyState | None:
    """Read the controller's IAM policy and compare its default version with the bundled one
    (`identity`: the caller, when already known, saves a call; `count_versions`: one more
    call, for what the plan does not need)."""
    arn, desired = _target(ctx, spec, document, identity)
    return read_policy(client(ctx, "iam"), arn, document=desired, count_versions=count_versions)


@aws_task
def ensure_policy(
    ctx: AwsContext,
    spec: StackSpec,
    *,
    document: dict[str, Any] | None = None,
    users: tuple[str, ...] = (),
) -> PolicyState:
    """Create the controller's IAM policy, or make the document bundled for the stack's controller
    version its default version; held by the stack (its user mark) and, of `users` (the
    controller's other users as observed), by those still of the previous version. Under the
    cluster's lock.

    When five versions exist, the oldest non-default version is deleted first.
    """
    iam = client(ctx, "iam")
    arn, desired = _target(ctx, spec, document)
    with cluster_lease(spec.region, spec.cluster.name, holder=spec.name):
        return _ensure(iam, arn, spec, desired, users)


def _ensure(
    iam: IAMClient, arn: str, spec: StackSpec, desired: dict[str, Any], users: tuple[str, ...]
) -> PolicyState:
    log = run_logger()
    state = read_policy(iam, arn, document=desired)
    users = users_to_mark(iam, state.tags if state else {}, users, spec.name)
    if state is None:
        made = create_or_find(
            lambda: iam.create_policy(
                PolicyName=policy_name(spec),
                PolicyDocument=json.dumps(desired),
                Description=f"AWS Load Balancer Controller of cluster {spec.cluster.name}, "
                "shared by its kubeflow-alb stacks",
                Tags=[
                    {"Key": key, "Value": value}
                    for key, value in sharing.creation_marks(spec.tags, (spec.name, *users)).items()
                ],
            )
        )
        if made is not None:
            log.info("Created IAM policy %s", arn)
            return _read_back(iam, arn, spec, desired)
        # Applied before (its answer lost) or made meanwhile: look again, adopt only ours.
        read = partial(read_policy, iam, arn, document=desired)
        state = found_after_conflict(read, what=f"IAM policy {arn}", operation="CreatePolicy")
    if not state.owned:
        raise OwnershipError(
            f"IAM policy {arn} exists and was not made by a kubeflow-alb stack "
            f"({naming.MANAGED_BY_TAG}={naming.TOOL}); it is not changed. Delete or rename it."
        )
    missing: list[TagTypeDef] = [
        {"Key": key, "Value": value}
        for key, value in {
            **sharing.marks_to_hold(state.tags, spec.name),
            **_marks(spec.name, users),
        }.items()
        if state.tags.get(key) != value
    ]
    if missing:
        iam.tag_policy(PolicyArn=arn, Tags=missing)
    if state.document_matches and not missing:
        return state
    if not state.document_matches:
        _new_default_version(iam, arn, desired)
        log.info("Updated IAM policy %s to the bundled document", arn)
    return _read_back(iam, arn, spec, desired)


def _marks(stack: str, users: tuple[str, ...]) -> dict[str, str]:
    return {sharing.user_key(user): user for user in (stack, *users)}


def _read_back(iam: IAMClient, arn: str, spec: StackSpec, document: dict[str, Any]) -> PolicyState:
    return read_back(lambda: read_policy(iam, arn, document=document), f"IAM policy {arn}")


def _new_default_version(iam: IAMClient, arn: str, document: dict[str, Any]) -> None:
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    same = [v for v in versions if not v["IsDefaultVersion"] and _version_is(iam, arn, v, document)]
    if same:  # an earlier attempt wrote it but did not get to make it the default
        iam.set_default_policy_version(PolicyArn=arn, VersionId=same[0]["VersionId"])
        return
    if len(versions) >= MAX_VERSIONS:
        oldest = min(
            (version for version in versions if not version["IsDefaultVersion"]),
            key=lambda version: version["CreateDate"],
        )
        gone_already(iam.delete_policy_version, PolicyArn=arn, VersionId=oldest["VersionId"])
    known = {version["VersionId"] for version in versions}
    try:
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
        )
    except ClientError as error:
        # A lost answer retried at the limit: the first send may have made the version.
        if error_code(error) != "LimitExceeded":
            raise
    _drop_duplicates(iam, arn, document, known)


def _version_is(iam: IAMClient, arn: str, version: Any, document: dict[str, Any]) -> bool:
    found = iam.get_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    return same_document(found["PolicyVersion"].get("Document", {}), document)


def _drop_duplicates(iam: IAMClient, arn: str, document: dict[str, Any], known: set[str]) -> None:
    """After a create whose answer was lost and was sent again, IAM holds the new document
    twice (the second send made it again): keep the default one, delete the other.

    Raises AwsTransientError when the new version is not the default (the write is then
    retried, reusing the version already there)."""
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    new = [version for version in versions if version["VersionId"] not in known]
    default = next((v for v in versions if v["IsDefaultVersion"]), None)
    if default is None or not _version_is(iam, arn, default, document):
        raise AwsTransientError(
            f"IAM policy {arn}: the new version is not the default yet; retrying.",
            code="LimitExceeded",
            operation="CreatePolicyVersion",
        )
    for version in new:
        if not version["IsDefaultVersion"]:
            gone_already(iam.delete_policy_version, PolicyArn=arn, VersionId=version["VersionId"])


@aws_task
def delete_policy(ctx: AwsContext, spec: StackSpec) -> bool:
    """Remove the stack's use of the controller's IAM policy: drop its user mark, and delete it
    with all its versions when no mark remains (under the cluster's lock); False when nothing
    was deleted.

    Refuses while the policy is still attached (delete the role first).
    """
    iam = client(ctx, "iam")
    arn, _ = _policy_arn(ctx, spec)
    with cluster_lease(spec.region, spec.cluster.name, holder=spec.name):
        state = read_policy(iam, arn, document={}, count_versions=False)
        if state is None:
            return False
        if not state.owned:
            raise OwnershipError(f"IAM policy {arn} is not this stack's to delete; it is left.")
        return release_use(policy_item(iam, arn), spec.name).deleted
