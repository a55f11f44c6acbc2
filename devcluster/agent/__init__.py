"""Devcluster agents: real task processes (or simulated ones) behind Mesos's agent APIs."""

from __future__ import annotations

from devcluster.agent.agent import Agent

__all__ = ["Agent"]
