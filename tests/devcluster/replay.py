"""Replaying golden scheduler calls against devcluster with this run's ids."""

from __future__ import annotations

import json
from typing import Any

from tests.devcluster import golden

GOLDEN_MASTER = "d79212f0-6a89-4873-b66e-53b3568dbec3"
GOLDEN_AGENT = "77051690-f407-4ed2-8bef-7a8863608ebc-S0"


def calls(name: str, kind: str) -> list[dict[str, Any]]:
    """(note, body) of every recorded call of `kind`, in order."""
    found = []
    for item in golden.load(name)["exchanges"]:
        body = item["request"]["body"]
        if isinstance(body, dict) and body.get("type") == kind:
            found.append({"note": item.get("note") or "", "body": body})
    return found


def rewrite(body: Any, replacements: dict[str, str]) -> Any:
    text = json.dumps(body)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def accept_body(
    recorded: dict[str, Any], framework_id: str, offer_id: str, agent_id: str, master_id: str
) -> dict[str, Any]:
    """A recorded ACCEPT aimed at our offer (unknown offer ids stay unknown)."""
    body = rewrite(recorded, {GOLDEN_AGENT: agent_id})
    body["framework_id"] = {"value": framework_id}
    for item in body["accept"]["offer_ids"]:
        if item["value"].endswith(("O999999", "O999998")):
            item["value"] = item["value"].replace(GOLDEN_MASTER, master_id)
        else:
            item["value"] = offer_id
    return body


def task_ids(accept: dict[str, Any]) -> list[str]:
    return [
        t["task_id"]["value"]
        for op in accept["accept"]["operations"]
        for t in op.get("launch", {}).get("task_infos", [])
    ]
