"""`ownlay serve` (the ingestion service) and `ownlay keys create|list|revoke` (its API keys).

The service, the key store and their settings are imported inside the handlers, so building the
`ownlay` parser stays light.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ownlay_pipelines.cli_support import known_workspace

if TYPE_CHECKING:
    import sqlalchemy as sa


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `serve` and `keys` to the `ownlay` command's subparsers."""
    server = subparsers.add_parser("serve", help="run the event and webhook ingestion service")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8080)
    server.add_argument(
        "--workers",
        type=_worker_count,
        help="worker processes (default: OWNLAY_INGEST_WORKERS, else 1); the number of cores "
        "for production load",
    )
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
    from ownlay_pipelines.ingest.config import IngestSettings
    from ownlay_pipelines.ingest.server import serve

    if not _pii_key_configured():
        return 2
    settings = IngestSettings.from_env()
    if args.workers is not None:
        settings = settings.model_copy(update={"workers": args.workers})
    serve(args.host, args.port, settings=settings)
    return 0


def _worker_count(text: str) -> int:
    """`--workers`: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _pii_key_configured() -> bool:
    """True when the service has a PII hashing key: the environment's, or in sandbox mode the
    key file `ownlay demo` created. Otherwise says in one line how to set one."""
    from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV
    from ownlay_pipelines.sandbox.pii_key import key_file
    from ownlay_pipelines.settings import Mode, Settings

    if os.environ.get(PII_HASH_KEY_ENV):
        return True
    settings = Settings.from_env()
    demo_key = key_file(settings.data_dir)
    if settings.mode is Mode.SANDBOX and demo_key.exists():
        os.environ[PII_HASH_KEY_ENV] = demo_key.read_text().strip()
        print(f"{PII_HASH_KEY_ENV} is not set; using the demo's sandbox key {demo_key}")
        return True
    print(
        f"error: {PII_HASH_KEY_ENV} is not set (it keys the hashing of IPs and e-mails); "
        f"export {PII_HASH_KEY_ENV}=$(python3 -c 'import secrets; print(secrets.token_hex(32))')",
        file=sys.stderr,
    )
    return False


def _create(args: argparse.Namespace) -> int:
    from ownlay_pipelines.ingest.keys import create_api_key

    try:
        workspace_id = known_workspace(args.workspace_id)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    issued = create_api_key(_store(), workspace_id, label=args.label)
    print(f"key id {issued.key_id} for {issued.workspace_id}; send it as X-Ownlay-Api-Key:")
    print(issued.plaintext)
    print("It is shown only this once; only its SHA-256 is stored.")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ownlay_pipelines.ingest.keys import list_api_keys

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
    from ownlay_pipelines.ingest.keys import revoke_api_key

    if not revoke_api_key(_store(), args.key_id):
        print(f"error: no active key with id {args.key_id!r}")
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _store() -> sa.Engine:
    from ownlay_pipelines.ingest.config import IngestSettings
    from ownlay_pipelines.ingest.keys import open_key_store

    return open_key_store(IngestSettings.from_env().database_url)
