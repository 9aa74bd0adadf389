"""Infrastructure status: EC2 instances and Auto Scaling groups with their CloudWatch
metrics, self-hosted GitHub Actions runners, and what idle capacity would save.

`model` and `metrics`/`status`/`runners` (parsing) are pure; `cloudwatch` is the AWS edge
(boto3), `store/infra.py` the SQL, `cli/infra.py` the command.
"""
