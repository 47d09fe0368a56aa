"""A stand-in for the AWS Load Balancer Controller: turns ALB Ingresses into ELBv2 ALBs in moto."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from kubernetes import config, dynamic
from kubernetes.client import ApiClient

log = logging.getLogger(__name__)

FINALIZER = "ingress.k8s.aws/resources"
HELM_CONTROLLER = "ingress.k8s.aws/alb"
AUTO_MODE_CONTROLLER = "eks.amazonaws.com/alb"
ANNOTATION = "alb.ingress.kubernetes.io/"
CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_DEPLOYMENT = "aws-load-balancer-controller"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


class NotReady(Exception):
    """The controller cannot reconcile an Ingress yet; the message is the Warning Event's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Provisioned:
    arn: str
    dns_name: str
    ready_at: float
    certificates: tuple[str, ...]
    scheme: str
    resources: dict[str, list[str]] = field(default_factory=dict)


class AlbControllerStandIn:
    """Reconciles ALB Ingresses like the real controller, only once a controller is present.

    `mode` "preinstalled" (Helm) and "auto-mode" (EKS Auto Mode) model a controller outside our
    reach; "none" acts only when a controller Deployment has been applied in kube-system with an
    IRSA role that exists, trusts its service account and may create load balancers.
    """

    def __init__(
        self,
        *,
        kubeconfig: str,
        aws_env: dict[str, str],
        cluster_name: str,
        mode: str = "none",
        provisioning_delay: float = 1.0,
        interval: float = 0.2,
        set_lb_state: Callable[[str, str], None] | None = None,
    ) -> None:
        self._client = dynamic.DynamicClient(config.new_client_from_config(config_file=kubeconfig))
        session = boto3.session.Session(
            aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
            region_name=aws_env["AWS_DEFAULT_REGION"],
        )
        url = aws_env["AWS_ENDPOINT_URL"]
        self._elb = session.client("elbv2", endpoint_url=url)
        self._ec2 = session.client("ec2", endpoint_url=url)
        self._acm = session.client("acm", endpoint_url=url)
        self._iam = session.client("iam", endpoint_url=url)
        self._eks = session.client("eks", endpoint_url=url)
        self.cluster_name = cluster_name
        self.mode = mode
        self.provisioning_delay = provisioning_delay
        self.interval = interval
        self._set_lb_state = set_lb_state
        self._provisioned: dict[str, _Provisioned] = {}
        self._events: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alb-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.reconcile_once()
            except Exception:  # a stand-in must keep running, like a controller pod restarts
                log.exception("ALB controller stand-in: reconcile failed")

    def _api(self, api_version: str, kind: str) -> Any:
        return self._client.resources.get(api_version=api_version, kind=kind)

    def reconcile_once(self) -> None:
        """One pass over every Ingress of an ALB class."""
        classes = self._alb_classes()
        for ingress in self._api("networking.k8s.io/v1", "Ingress").get().items:
            obj = ingress.to_dict()
            if not self._is_alb(obj, classes):
                continue
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            try:
                self._check_controller(classes)
                if obj["metadata"].get("deletionTimestamp"):
                    self._delete(key, obj)
                else:
                    self._reconcile(key, obj)
            except NotReady as problem:
                self._warn(obj, problem.reason, problem.message)

    # -- presence -----------------------------------------------------------------------------

    def _alb_classes(self) -> dict[str, str]:
        items = self._api("networking.k8s.io/v1", "IngressClass").get().items
        return {
            item.metadata.name: item.spec.controller
            for item in items
            if item.spec.controller in (HELM_CONTROLLER, AUTO_MODE_CONTROLLER)
        }

    @staticmethod
    def _is_alb(obj: dict[str, Any], classes: dict[str, str]) -> bool:
        spec_class = (obj.get("spec") or {}).get("ingressClassName")
        annotations = obj["metadata"].get("annotations") or {}
        return spec_class in classes or annotations.get("kubernetes.io/ingress.class") == "alb"

    def _check_controller(self, classes: dict[str, str]) -> None:
        if self.mode == "auto-mode" and AUTO_MODE_CONTROLLER in classes.values():
            return
        if self.mode == "preinstalled" and HELM_CONTROLLER in classes.values():
            return
        if HELM_CONTROLLER not in classes.values():
            raise _silent()
        deployments = self._api("apps/v1", "Deployment")
        try:
            deployment = deployments.get(name=CONTROLLER_DEPLOYMENT, namespace=CONTROLLER_NAMESPACE)
        except Exception:
            raise _silent() from None
        status = deployment.to_dict().get("status") or {}
        if not status.get("readyReplicas"):
            raise _silent()
        if self.mode != "none":
            return
        pod_spec = deployment.to_dict()["spec"]["template"]["spec"]
        account = pod_spec.get("serviceAccountName", "default")
        sa = self._api("v1", "ServiceAccount").get(name=account, namespace=CONTROLLER_NAMESPACE)
        role_arn = (sa.to_dict()["metadata"].get("annotations") or {}).get(ROLE_ANNOTATION)
        self._check_role(role_arn, f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{account}")

    def _check_role(self, role_arn: str | None, subject: str) -> None:
        denied = "FailedDeployModel"
        if not role_arn:
            raise NotReady(denied, "NoCredentialProviders: no valid providers in chain")
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            role = self._iam.get_role(RoleName=role_name)["Role"]
        except self._iam.exceptions.NoSuchEntityException:
            raise NotReady(denied, f"WebIdentityErr: role {role_arn} does not exist") from None
        issuer = self._eks.describe_cluster(name=self.cluster_name)["cluster"]["identity"]["oidc"][
            "issuer"
        ]
        host = issuer.removeprefix("https://")
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        if not any(_trusts(statement, host, subject) for statement in trust.get("Statement", [])):
            raise NotReady(
                denied,
                f"WebIdentityErr: failed to retrieve credentials: AccessDenied: Not authorized to "
                f"perform sts:AssumeRoleWithWebIdentity (role {role_arn}, subject {subject})",
            )
        providers = self._iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        if not any(p["Arn"].endswith(f"oidc-provider/{host}") for p in providers):
            raise NotReady(denied, f"WebIdentityErr: no OpenIDConnect provider for {issuer}")
        attached = self._iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        if not any(self._allows_create(p["PolicyArn"]) for p in attached):
            raise NotReady(
                denied,
                f"AccessDenied: {role_arn} is not authorized to perform: "
                "elasticloadbalancing:CreateLoadBalancer",
            )

    def _allows_create(self, policy_arn: str) -> bool:
        policy = self._iam.get_policy(PolicyArn=policy_arn)["Policy"]
        version = self._iam.get_policy_version(
            PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        document = json.loads(version) if isinstance(version, str) else version
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") == "Allow" and any(
                a in ("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:*", "*")
                for a in actions
            ):
                return True
        return False

    # -- reconcile ----------------------------------------------------------------------------

    def _reconcile(self, key: str, obj: dict[str, Any]) -> None:
        annotations = obj["metadata"].get("annotations") or {}
        scheme = annotations.get(ANNOTATION + "scheme", "internal")
        certificates = tuple(
            arn.strip()
            for arn in annotations.get(ANNOTATION + "certificate-arn", "").split(",")
            if arn.strip()
        )
        current = self._provisioned.get(key)
        if current and current.scheme != scheme:
            self._delete_resources(current)
            self._provisioned.pop(key)
            current = None
        self._add_finalizer(obj)
        self._check_certificates(certificates)
        if current is None:
            subnets = self._subnets(scheme)
            current = self._create(key, obj, scheme, subnets, certificates)
            self._provisioned[key] = current
        elif current.certificates != certificates:
            self._set_certificates(current, certificates)
        if time.monotonic() >= current.ready_at:
            if self._set_lb_state:
                self._set_lb_state(current.arn, "active")
            status = (obj.get("status") or {}).get("loadBalancer") or {}
            if status.get("ingress") != [{"hostname": current.dns_name}]:
                body = {"status": {"loadBalancer": {"ingress": [{"hostname": current.dns_name}]}}}
                self._api("networking.k8s.io/v1", "Ingress").status.patch(
                    body=body,
                    name=obj["metadata"]["name"],
                    namespace=obj["metadata"]["namespace"],
                    content_type="application/merge-patch+json",
                )

    def _check_certificates(self, certificates: tuple[str, ...]) -> None:
        if not certificates:
            raise NotReady(
                "FailedBuildModel",
                "Failed build model due to ingress: no certificate found for HTTPS listener "
                "(set alb.ingress.kubernetes.io/certificate-arn)",
            )
        for arn in certificates:
            try:
                status = self._acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
            except self._acm.exceptions.ResourceNotFoundException:
                raise NotReady(
                    "FailedDeployModel",
                    f"Failed deploy model due to CertificateNotFound: Certificate '{arn}' not found",
                ) from None
            if status != "ISSUED":
                raise NotReady(
                    "FailedDeployModel",
                    f"Failed deploy model due to UnsupportedCertificate: certificate '{arn}' "
                    f"is {status}, not ISSUED",
                )

    def _subnets(self, scheme: str) -> list[str]:
        role = (
            "kubernetes.io/role/elb"
            if scheme == "internet-facing"
            else "kubernetes.io/role/internal-elb"
        )
        cluster = self._eks.describe_cluster(name=self.cluster_name)["cluster"]
        ids = cluster["resourcesVpcConfig"]["subnetIds"]
        subnets = self._ec2.describe_subnets(SubnetIds=ids)["Subnets"]
        tagged = [s for s in subnets if role in {t["Key"] for t in s.get("Tags", [])}]
        if not tagged:
            raise NotReady(
                "FailedBuildModel",
                "Failed build model due to couldn't auto-discover subnets: unable to resolve at "
                f"least one subnet (0 match VPC and tags: [{role}])",
            )
        if len({s["AvailabilityZone"] for s in tagged}) < 2:
            raise NotReady(
                "FailedDeployModel",
                "Failed deploy model due to ValidationError: At least two subnets in two "
                "different Availability Zones must be specified",
            )
        return [s["SubnetId"] for s in tagged]

    def _create(
        self,
        key: str,
        obj: dict[str, Any],
        scheme: str,
        subnets: list[str],
        certificates: tuple[str, ...],
    ) -> _Provisioned:
        annotations = obj["metadata"].get("annotations") or {}
        namespace, name = key.split("/")
        digest = hashlib.sha256(f"{self.cluster_name}/{key}".encode()).hexdigest()[:10]
        lb_name = f"k8s-{namespace[:8]}-{name[:8]}-{digest}".replace("--", "-")
        tags = _parse_tags(annotations.get(ANNOTATION + "tags", ""))
        base = [{"Key": k, "Value": v} for k, v in tags.items()] + [
            {"Key": "elbv2.k8s.aws/cluster", "Value": self.cluster_name},
            {"Key": "ingress.k8s.aws/stack", "Value": key},
        ]
        vpc = self._ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
        group = self._ec2.create_security_group(
            GroupName=lb_name,
            Description="[k8s] Managed SecurityGroup for LoadBalancer",
            VpcId=vpc,
            TagSpecifications=[
                {
                    "ResourceType": "security-group",
                    "Tags": [
                        *base,
                        {"Key": "ingress.k8s.aws/resource", "Value": "ManagedLBSecurityGroup"},
                    ],
                }
            ],
        )["GroupId"]
        lb = self._elb.create_load_balancer(
            Name=lb_name,
            Subnets=subnets,
            SecurityGroups=[group],
            Scheme=scheme,
            Type="application",
            Tags=[*base, {"Key": "ingress.k8s.aws/resource", "Value": "LoadBalancer"}],
        )["LoadBalancers"][0]
        target_group = self._elb.create_target_group(
            Name=f"k8s-{namespace[:8]}-{name[:8]}-{digest[:6]}tg"[:32],
            Protocol="HTTP",
            Port=80,
            VpcId=vpc,
            TargetType=annotations.get(ANNOTATION + "target-type", "instance"),
            HealthCheckPath=annotations.get(ANNOTATION + "healthcheck-path", "/"),
            HealthCheckPort=annotations.get(ANNOTATION + "healthcheck-port", "traffic-port"),
            Tags=[
                *base,
                {"Key": "ingress.k8s.aws/resource", "Value": "default/istio-ingressgateway:80"},
            ],
        )["TargetGroups"][0]["TargetGroupArn"]
        listeners = [
            self._elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="HTTPS",
                Port=443,
                Certificates=[{"CertificateArn": certificates[0]}],
                SslPolicy=annotations.get(ANNOTATION + "ssl-policy", "ELBSecurityPolicy-2016-08"),
                DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
            )["Listeners"][0]["ListenerArn"]
        ]
        if annotations.get(ANNOTATION + "ssl-redirect"):
            redirect = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
            listeners.append(
                self._elb.create_listener(
                    LoadBalancerArn=lb["LoadBalancerArn"],
                    Protocol="HTTP",
                    Port=80,
                    DefaultActions=[{"Type": "redirect", "RedirectConfig": redirect}],
                )["Listeners"][0]["ListenerArn"]
            )
        if len(certificates) > 1:
            self._elb.add_listener_certificates(
                ListenerArn=listeners[0],
                Certificates=[{"CertificateArn": arn} for arn in certificates[1:]],
            )
        log.info("ALB controller stand-in: created %s for %s", lb["LoadBalancerArn"], key)
        return _Provisioned(
            arn=lb["LoadBalancerArn"],
            dns_name=lb["DNSName"],
            ready_at=time.monotonic() + self.provisioning_delay,
            certificates=certificates,
            scheme=scheme,
            resources={"listeners": listeners, "target_groups": [target_group], "groups": [group]},
        )

    def _set_certificates(self, current: _Provisioned, certificates: tuple[str, ...]) -> None:
        https = current.resources["listeners"][0]
        self._elb.modify_listener(
            ListenerArn=https, Certificates=[{"CertificateArn": certificates[0]}]
        )
        old = [
            {"CertificateArn": c["CertificateArn"]}
            for c in self._elb.describe_listener_certificates(ListenerArn=https)["Certificates"]
            if not c.get("IsDefault") and c["CertificateArn"] not in certificates[1:]
        ]
        if old:
            self._elb.remove_listener_certificates(ListenerArn=https, Certificates=old)
        if certificates[1:]:
            self._elb.add_listener_certificates(
                ListenerArn=https, Certificates=[{"CertificateArn": a} for a in certificates[1:]]
            )
        current.certificates = certificates

    # -- deletion -----------------------------------------------------------------------------

    def _delete(self, key: str, obj: dict[str, Any]) -> None:
        current = self._provisioned.pop(key, None)
        if current:
            self._delete_resources(current)
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != FINALIZER]
        if finalizers != (obj["metadata"].get("finalizers") or []):
            self._api("networking.k8s.io/v1", "Ingress").patch(
                body=[{"op": "replace", "path": "/metadata/finalizers", "value": finalizers}],
                name=obj["metadata"]["name"],
                namespace=obj["metadata"]["namespace"],
                content_type="application/json-patch+json",
            )

    def _delete_resources(self, current: _Provisioned) -> None:
        for listener in current.resources.get("listeners", []):
            self._elb.delete_listener(ListenerArn=listener)
        self._elb.delete_load_balancer(LoadBalancerArn=current.arn)
        for target_group in current.resources.get("target_groups", []):
            self._elb.delete_target_group(TargetGroupArn=target_group)
        for group in current.resources.get("groups", []):
            self._ec2.delete_security_group(GroupId=group)
        log.info("ALB controller stand-in: deleted %s", current.arn)

    def _add_finalizer(self, obj: dict[str, Any]) -> None:
        finalizers = obj["metadata"].get("finalizers") or []
        if FINALIZER in finalizers:
            return
        self._api("networking.k8s.io/v1", "Ingress").patch(
            body=[{"op": "add", "path": "/metadata/finalizers", "value": [*finalizers, FINALIZER]}],
            name=obj["metadata"]["name"],
            namespace=obj["metadata"]["namespace"],
            content_type="application/json-patch+json",
        )

    def _warn(self, obj: dict[str, Any], reason: str, message: str) -> None:
        meta = obj["metadata"]
        marker = (f"{meta['namespace']}/{meta['name']}", reason, message)
        if not reason or marker in self._events:
            return
        self._events.add(marker)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hashlib.sha256("|".join(marker).encode()).hexdigest()[:10]
        self._api("v1", "Event").create(
            namespace=meta["namespace"],
            body={
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{meta['name']}.{digest}", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid", ""),
                },
                "reason": reason,
                "message": message,
                "type": "Warning",
                "source": {"component": "ingress"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )


def _silent() -> NotReady:
    """No controller at all: nothing happens and no event is written, as on a real cluster."""
    return NotReady("", "")


def _trusts(statement: dict[str, Any], host: str, subject: str) -> bool:
    federated = (statement.get("Principal") or {}).get("Federated", "")
    if statement.get("Effect") != "Allow" or not str(federated).endswith(f"oidc-provider/{host}"):
        return False
    equals = (statement.get("Condition") or {}).get("StringEquals", {})
    return bool(equals.get(f"{host}:sub") == subject)


def _parse_tags(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def new_client(kubeconfig: str) -> ApiClient:
    """An API client for the sandbox cluster (for the world's seeding helpers)."""
    return config.new_client_from_config(config_file=kubeconfig)
