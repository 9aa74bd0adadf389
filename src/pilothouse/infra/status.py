"""EC2 DescribeInstances and Auto Scaling DescribeAutoScalingGroups answers as resources
(pure: the pages in, records out)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pilothouse.errors import InputError
from pilothouse.infra.model import GROUP, INSTANCE, Resource


def _tag(tags: Iterable[Mapping[str, Any]] | None, key: str) -> str | None:
    for tag in tags or ():
        if tag.get("Key") == key:
            return str(tag.get("Value", ""))
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def instances_of(pages: Iterable[Mapping[str, Any]], region: str) -> Iterator[Resource]:
    """Every instance of DescribeInstances pages (Reservations -> Instances)."""
    for page in pages:
        for reservation in page.get("Reservations", []):
            for item in reservation.get("Instances", []):
                key = item.get("InstanceId")
                if not isinstance(key, str) or not key:
                    raise InputError("EC2 DescribeInstances: an instance without InstanceId")
                tags = item.get("Tags")
                yield Resource(
                    key=key,
                    kind=INSTANCE,
                    name=_tag(tags, "Name") or key,
                    region=region,
                    state=str(item.get("State", {}).get("Name", "unknown")),
                    instance_type=str(item.get("InstanceType", "")),
                    group=_tag(tags, "aws:autoscaling:groupName"),
                    launched_at=_time(item.get("LaunchTime")),
                )


def groups_of(
    pages: Iterable[Mapping[str, Any]], region: str
) -> Iterator[tuple[Resource, list[str]]]:
    """Every group of DescribeAutoScalingGroups pages, with its instances' ids."""
    for page in pages:
        for item in page.get("AutoScalingGroups", []):
            name = str(item.get("AutoScalingGroupName", ""))
            members = item.get("Instances", [])
            types = sorted({str(m.get("InstanceType", "")) for m in members} - {""})
            in_service = sum(1 for m in members if m.get("LifecycleState") == "InService")
            desired = int(item.get("DesiredCapacity", 0))
            yield (
                Resource(
                    key=f"asg:{name}",
                    kind=GROUP,
                    name=name,
                    region=region,
                    state=f"{in_service}/{desired} InService",
                    instance_type=",".join(types),
                    capacity=desired,
                    launched_at=_time(item.get("CreatedTime")),
                ),
                [str(m["InstanceId"]) for m in members if m.get("InstanceId")],
            )
