"""AWS errors the sandbox adds to moto: one class per real error code.

moto serialises any ``ServiceException`` raised while it handles a request into the
service's own wire format (rest-xml for Route53, JSON ``__type`` for ACM, query XML for
IAM and ELBv2), taking the HTTP status from the botocore model of the error code. So a
rule only has to raise one of these; botocore then raises ``ClientError`` with the code.
These classes must live outside the ``moto`` package: moto looks a second service model
up from the module name of any exception defined inside it.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class SandboxAwsError(ServiceException):
    """An error that real AWS returns and moto 5.2.5 does not."""

    code = "SandboxError"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class HostedZoneAlreadyExists(SandboxAwsError):
    """Route53, HTTP 409: the CallerReference was used before, even by a deleted zone."""

    code = "HostedZoneAlreadyExists"


class InvalidChangeBatch(SandboxAwsError):
    """Route53, HTTP 400: at least one change of a batch cannot be applied; none are."""

    code = "InvalidChangeBatch"

    def __init__(self, messages: list[str]) -> None:
        # Route53 joins the messages of every failing change, in brackets.
        super().__init__("[" + ", ".join(messages) + "]")
        self.messages = list(messages)


class HostedZoneNotEmpty(SandboxAwsError):
    """Route53, HTTP 400: records other than the zone's own SOA and NS are left."""

    code = "HostedZoneNotEmpty"


class NoSuchChange(SandboxAwsError):
    """Route53, HTTP 404: GetChange for an id that no request returned."""

    code = "NoSuchChange"


class AcmResourceInUse(SandboxAwsError):
    """ACM, HTTP 400: DeleteCertificate while a load balancer listener uses it."""

    code = "ResourceInUseException"


class DeleteConflict(SandboxAwsError):
    """IAM, HTTP 409: the entity still has attachments or versions."""

    code = "DeleteConflict"


class NoSuchEntity(SandboxAwsError):
    """IAM, HTTP 404: the entity does not exist."""

    code = "NoSuchEntity"


class CertificateNotFound(SandboxAwsError):
    """ELBv2, HTTP 400: the certificate does not exist or is not ISSUED yet."""

    code = "CertificateNotFound"


class OperationNotPermitted(SandboxAwsError):
    """ELBv2, HTTP 400: e.g. DeleteLoadBalancer while its deletion protection is enabled."""

    code = "OperationNotPermitted"


class TooManyTags(SandboxAwsError):
    """ELBv2, HTTP 400: more than 50 tags on one resource."""

    code = "TooManyTags"


class AcmValidationException(SandboxAwsError):
    """ACM, HTTP 400: a request parameter breaks a constraint (length, pattern, CN length)."""

    code = "ValidationException"


class EksResourceInUse(SandboxAwsError):
    """EKS, HTTP 409: e.g. a second Pod Identity association for the same service account."""

    code = "ResourceInUseException"


class EksResourceNotFound(SandboxAwsError):
    """EKS, HTTP 404: the cluster, association or add-on does not exist."""

    code = "ResourceNotFoundException"


class EksInvalidParameter(SandboxAwsError):
    """EKS, HTTP 400: a parameter breaks a constraint (an association id's length)."""

    code = "InvalidParameterException"
