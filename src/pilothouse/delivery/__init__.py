"""Shipping safely: release notes, provenance, canary judging and staged rollouts."""
