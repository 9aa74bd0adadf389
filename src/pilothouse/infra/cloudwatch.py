"""The AWS edge: EC2, Auto Scaling and CloudWatch read with boto3.

Credentials come from boto3's standard chain only (environment, shared files, SSO, the
instance or task role): pilothouse never takes, stores or prints them. boto3 is the
optional extra `aws` (`pip install 'pilothouse[aws]'`): most installs never talk to AWS.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pilothouse.errors import ConfigError, PilothouseError
from pilothouse.infra import metrics as plan
from pilothouse.infra.model import MetricPoint, Resource
from pilothouse.infra.status import groups_of, instances_of

EXTRA_HINT = "pip install 'pilothouse[aws]'"


class AwsError(PilothouseError):
    """An AWS API refused or failed a call."""


def session(region: str) -> Any:
    """A boto3 session on the standard credential chain, in *region* (empty: the chain's)."""
    try:
        import boto3
    except ImportError:
        raise ConfigError(
            f"ingest cloudwatch needs boto3, which is not installed: {EXTRA_HINT}"
        ) from None
    with calling("AWS session"):  # a missing $AWS_PROFILE fails here
        made = boto3.session.Session(region_name=region or None)
    if not made.region_name:
        raise ConfigError(
            "ingest cloudwatch: no AWS region: set infra.region in pilothouse.toml, "
            "--region, or $AWS_REGION"
        )
    return made


@contextmanager
def calling(what: str) -> Iterator[None]:
    """One AWS call: its failures as one line naming the call, never a credential."""
    from botocore import exceptions as aws
    from botocore.parsers import ResponseParserError

    try:
        yield
    except aws.NoCredentialsError:
        raise ConfigError(
            f"{what}: no AWS credentials in the standard chain ($AWS_ACCESS_KEY_ID, "
            "$AWS_PROFILE, ~/.aws, SSO, an instance or task role)"
        ) from None
    except aws.ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(
            f"{what}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        ) from None
    except aws.BotoCoreError as exc:
        raise AwsError(f"{what}: {exc}") from None
    except ResponseParserError:  # not a BotoCoreError; its text holds the whole body
        raise AwsError(f"{what}: the answer is not AWS's (is $AWS_ENDPOINT_URL right?)") from None


def client(aws: Any, service: str) -> Any:
    """A client of *service*; a region boto3 refuses is one line too."""
    with calling(f"{service} client"):
        return aws.client(service)


def _pages(client: Any, operation: str, **arguments: Any) -> list[dict[str, Any]]:
    with calling(f"{client.meta.service_model.service_name} {operation}"):
        return list(client.get_paginator(operation).paginate(**arguments))


def discover(
    aws: Any, *, instances: Sequence[str], groups: Sequence[str], watch_tag: str
) -> list[Resource]:
    """The named instances and groups (with the groups' instances), or, when none is
    named, every instance tagged *watch_tag*; each as EC2 describes it now."""
    region = str(aws.region_name)
    ec2 = client(aws, "ec2")
    found: list[Resource] = []
    ids = list(dict.fromkeys(instances))
    if groups:
        scaling = client(aws, "autoscaling")
        pages = _pages(scaling, "describe_auto_scaling_groups", AutoScalingGroupNames=list(groups))
        described = list(groups_of(pages, region))
        missing = sorted(set(groups) - {group.name for group, _ in described})
        if missing:
            raise ConfigError(f"infra.auto_scaling_groups: no group {', '.join(missing)} "
                              f"in {region}")  # fmt: skip
        for group, members in described:
            found.append(group)
            ids += [member for member in members if member not in ids]
    if ids:
        pages = _pages(ec2, "describe_instances", InstanceIds=ids)
    elif not groups:
        filters = [{"Name": "tag-key", "Values": [watch_tag]}]
        pages = _pages(ec2, "describe_instances", Filters=filters)
    else:
        pages = []
    return found + sorted(instances_of(pages, region), key=lambda r: r.key)


def agent_metrics(aws: Any) -> dict[tuple[str, str], plan.Dimensions]:
    """The CloudWatch agent's memory metrics, by the instance or group they name."""
    spec = plan.AGENT
    pages = _pages(client(aws, "cloudwatch"), "list_metrics",
                   Namespace=spec.namespace, MetricName=spec.metric)  # fmt: skip
    return plan.agent_dimensions(m for page in pages for m in page.get("Metrics", []))


def read_points(
    aws: Any, queries: Sequence[plan.Query], *, end: datetime, period_seconds: int
) -> Iterator[MetricPoint]:
    """The points of *queries* up to *end*: GetMetricData per batch, every page."""
    cloudwatch = client(aws, "cloudwatch")
    for start, batch in plan.batches(queries):
        arguments = plan.request(batch, start, end, period_seconds)
        pages = _pages(cloudwatch, "get_metric_data", **arguments)
        yield from plan.points_of(batch, pages, period_seconds)
