"""Staged rollouts: waves of targets, traffic steps, the canary judge, rollback.

plan.py parses a TOML plan; core.py is the pure state machine over the recorded
transitions; hooks.py runs the user's commands; runner.py drives a rollout and
records each transition before it acts; render.py shows a plan (`--dry-run`).
"""
