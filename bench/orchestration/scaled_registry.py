"""Registries of N sandbox workspaces: copies of the sandbox workspaces under new slugs.

The sandbox world derives every entity from (seed, workspace, account), so each copy is a real
tenant with its own campaigns and numbers; account ids get the copy's number so no two
workspaces share an account.
"""

from pathlib import Path

import yaml

from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE


def scaled_registry(count: int) -> dict:
    """A registry document with `count` workspaces cycling through the sandbox templates."""
    templates = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text())["workspaces"]
    workspaces = []
    for number in range(count):
        template = templates[number % len(templates)]
        copy = dict(template)
        copy["id"] = f"{template['id']}-{number:04d}"
        copy["name"] = f"{template['name']} #{number}"
        copy["connections"] = [
            {**connection, "account_id": f"{connection['account_id']}{number:04d}"}
            for connection in template.get("connections", [])
        ]
        workspaces.append(copy)
    return {"workspaces": workspaces}


def write_scaled_registry(path: Path, count: int) -> Path:
    """Write `scaled_registry(count)` to `path` and return it."""
    path.write_text(yaml.safe_dump(scaled_registry(count), sort_keys=False))
    return path
