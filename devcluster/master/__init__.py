"""The devcluster master: Mesos's scheduler, operator and legacy HTTP APIs in one process."""

from __future__ import annotations
