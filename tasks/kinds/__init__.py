"""The task modules of the stack's kinds, registered by kind: each gives the walk its verbs
(tasks/kinds/base.py). A new kind's module is added here and to core/kinds.py's table."""

from __future__ import annotations

from collections.abc import Mapping

from core.state import Kind
from tasks.kinds import (
    answers,
    balancer,
    certificate,
    controller,
    delegation,
    former,
    gateway,
    iam,
    ingress,
    record,
    subnet_tags,
    validation,
    zone,
)
from tasks.kinds.base import Env, Got, Look, Verbs

VERBS: Mapping[Kind, Verbs] = {
    Kind.HOSTED_ZONE: zone.VERBS,
    Kind.DELEGATION: delegation.VERBS,
    Kind.CERTIFICATE: certificate.VERBS,
    Kind.VALIDATION_RECORD: validation.VERBS,
    Kind.SUBNET_TAG: subnet_tags.VERBS,
    Kind.OIDC_PROVIDER: iam.OIDC,
    Kind.IAM_POLICY: iam.POLICY,
    Kind.IAM_ROLE: iam.ROLE,
    Kind.POD_IDENTITY: iam.ASSOCIATION,
    Kind.GATEWAY_API: gateway.CRDS,
    Kind.CONTROLLER: controller.VERBS,
    Kind.INGRESS: ingress.VERBS,
    Kind.GATEWAY: gateway.VERBS,
    Kind.LOAD_BALANCER: balancer.VERBS,
    Kind.ALB_ANSWER: answers.ALB,
    Kind.DNS_RECORD: record.VERBS,
    Kind.DNS_ANSWER: answers.DNS,
    Kind.HTTPS_ANSWER: answers.HTTPS,
    Kind.FORMER_FRONT_DOOR: former.VERBS,
}

__all__ = ["VERBS", "Env", "Got", "Look", "Verbs"]
