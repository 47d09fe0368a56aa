"""Pure helpers of the AWS tasks: names, documents, placement, tags."""

from __future__ import annotations

import json
from urllib.parse import quote

from core.observation import place
from core.resources import SubnetState, ValidationZones
from tasks.aws import ec2, iam_policy
from tasks.aws.route53_records import record_name, zone_id_of


def test_route53_names_are_unescaped_and_normalised():
    assert record_name("\\052.Platform.Example.com.") == "*.platform.example.com"
    assert zone_id_of("/hostedzone/Z123") == "Z123"


def test_policy_documents_compare_by_meaning():
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "a:B", "Resource": "*"}],
    }
    same = {
        "Statement": {"Resource": ["*"], "Action": ["a:B", "a:B"], "Effect": "Allow"},
        "Version": "2012-10-17",
    }
    assert iam_policy.same_document(doc, same)
    assert iam_policy.same_document(quote(json.dumps(doc)), doc)  # IAM's URL-encoded form
    other = {**doc, "Statement": [{**doc["Statement"][0], "Action": "a:C"}]}
    assert not iam_policy.same_document(doc, other)


def test_bundled_policy_is_rewritten_for_other_partitions():
    china = json.dumps(iam_policy.load_controller_policy(partition="aws-cn"))
    assert '"arn:aws:' not in china
    assert '"arn:aws-cn:' in china


def test_validation_records_go_to_the_deepest_zone_we_have():
    zones = ValidationZones(
        subdomain="platform.example.com", subdomain_zone_id="ZSUB", root="example.com"
    )
    assert place(zones, "_x.platform.example.com.") == ("ZSUB", "platform.example.com")
    assert place(zones, "_y.example.com") == (None, "example.com")
    assert place(zones, "_z.example.org") == (None, "")


def test_subnet_tags_missing_by_key_only():
    public = SubnetState(
        subnet_id="s-1", vpc_id="v", public=True, tags={"kubernetes.io/role/elb": "0"}
    )
    assert ec2.missing_tags(public, "kf") == {"kubernetes.io/cluster/kf": "shared"}
    private = SubnetState(subnet_id="s-2", vpc_id="v", public=False)
    assert ec2.missing_tags(private, "kf") == {
        "kubernetes.io/role/internal-elb": "1",
        "kubernetes.io/cluster/kf": "shared",
    }
