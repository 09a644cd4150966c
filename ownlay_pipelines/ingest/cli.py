"""`ownlay serve` (the ingestion service) and `ownlay keys create|list|revoke` (its API keys)."""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import (
    create_api_key,
    list_api_keys,
    open_key_store,
    revoke_api_key,
)
from ownlay_pipelines.ingest.server import serve
from ownlay_pipelines.registry.tenant import validate_workspace_id


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `serve` and `keys` to the `ownlay` command's subparsers."""
    server = subparsers.add_parser("serve", help="run the event and webhook ingestion service")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8080)
    server.set_defaults(handler=_serve)

    keys = subparsers.add_parser("keys", help="create, list and revoke ingestion API keys")
    commands = keys.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="issue a key for a workspace (shown once)")
    create.add_argument("workspace_id")
    create.add_argument("--label", default="")
    create.set_defaults(handler=_create)
    listing = commands.add_parser("list", help="list keys (never their values)")
    listing.add_argument("--workspace", dest="workspace_id")
    listing.set_defaults(handler=_list)
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)


def _serve(args: argparse.Namespace) -> int:
    serve(args.host, args.port, settings=IngestSettings.from_env())
    return 0


def _create(args: argparse.Namespace) -> int:
    try:
        workspace_id = validate_workspace_id(args.workspace_id)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    issued = create_api_key(_store(), workspace_id, label=args.label)
    print(f"key id {issued.key_id} for {issued.workspace_id}; send it as X-Ownlay-Api-Key:")
    print(issued.plaintext)
    print("It is shown only this once; only its SHA-256 is stored.")
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = list_api_keys(_store(), args.workspace_id)
    print(f"{'key id':<26}{'workspace':<16}{'created':<18}{'revoked':<18}label")
    for key in keys:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "-"
        print(
            f"{key.key_id:<26}{key.workspace_id:<16}"
            f"{key.created_at.strftime('%Y-%m-%d %H:%M'):<18}{revoked:<18}{key.label}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not revoke_api_key(_store(), args.key_id):
        print(f"error: no active key with id {args.key_id!r}")
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _store() -> sa.Engine:
    return open_key_store(IngestSettings.from_env().database_url)
