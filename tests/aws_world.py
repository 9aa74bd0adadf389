"""A moto-mocked AWS account for the infrastructure tests: EC2 instances, an Auto Scaling
group and CloudWatch points put with `put_metric_data`, shaped as EC2 and the CloudWatch
agent publish them (namespaces, metric names, dimensions, statistics per period)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

REGION = "eu-west-1"
AMI = "ami-12c6146b"  # one of moto's built-in images
WATCH = [{"Key": "pilothouse:watch", "Value": "true"}]


def run_instance(aws: Any, instance_type: str, name: str, *, watch: bool = True) -> str:
    tags = [{"Key": "Name", "Value": name}] + (WATCH if watch else [])
    made = aws.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType=instance_type,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return str(made["Instances"][0]["InstanceId"])


def make_group(aws: Any, name: str, instance_type: str, capacity: int) -> list[str]:
    scaling = aws.client("autoscaling")
    scaling.create_launch_configuration(
        LaunchConfigurationName=f"{name}-lc", ImageId=AMI, InstanceType=instance_type
    )
    scaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=f"{name}-lc",
        MinSize=0,
        MaxSize=capacity * 2,
        DesiredCapacity=capacity,
        AvailabilityZones=[f"{REGION}a"],
    )
    group = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return [m["InstanceId"] for m in group["AutoScalingGroups"][0]["Instances"]]


def hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]


def put(
    aws: Any,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    times: Iterable[datetime],
    value: Callable[[datetime], float],
) -> list[float]:
    """One value per time, put as EC2 (or the agent) would publish it; the values put."""
    cloudwatch = aws.client("cloudwatch")
    dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    data = [
        {"MetricName": metric, "Dimensions": dims, "Timestamp": t, "Value": value(t)} for t in times
    ]
    for offset in range(0, len(data), 1000):  # put_metric_data takes 1000 at a time
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[offset : offset + 1000])
    return [d["Value"] for d in data]
