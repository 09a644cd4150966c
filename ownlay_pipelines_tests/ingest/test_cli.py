import os

import pytest

from ownlay_pipelines.cli import main
from ownlay_pipelines.sandbox.pii_key import ensure_key
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE


def test_keys_create_list_revoke_round_trip(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATABASE_URL", f"sqlite:///{tmp_path / 'ops.sqlite'}")

    assert main(["keys", "create", "acme-outdoor", "--label", "site"]) == 0
    created = capsys.readouterr().out.splitlines()
    key_id = created[0].split()[2]
    plaintext = created[1]
    assert plaintext.startswith("olk_") and key_id in plaintext

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "acme-outdoor" in listing and plaintext not in listing

    assert main(["keys", "revoke", key_id]) == 0
    assert main(["keys", "revoke", key_id]) == 1
    assert "no active key" in capsys.readouterr().out


def test_keys_create_refuses_a_workspace_id_that_is_not_a_slug(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATABASE_URL", f"sqlite:///{tmp_path / 'ops.sqlite'}")

    assert main(["keys", "create", "../etc"]) == 2
    assert "'../etc' is not a slug" in capsys.readouterr().err


def test_keys_create_refuses_an_unknown_workspace_listing_the_known_ones(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OWNLAY_DATABASE_URL", f"sqlite:///{tmp_path / 'ops.sqlite'}")

    assert main(["keys", "create", "acme-outdor"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown workspace 'acme-outdor'; the registry "
        f"({DEFAULT_REGISTRY_FILE.resolve()}) lists: acme-outdoor, blumen-haus, kumo-tea, rive-gauche"
    )
    assert main(["keys", "list"]) == 0
    assert "acme-outdor" not in capsys.readouterr().out


def test_serve_without_a_key_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "")  # unset, restored after the test
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))

    assert main(["serve", "--port", "18501"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: OWNLAY_PII_HASH_KEY is not set")


def test_serve_uses_the_demo_key_file_when_there_is_no_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "")  # unset, restored after the test
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))
    demo_key = ensure_key(tmp_path)
    served = {}
    monkeypatch.setattr(
        "ownlay_pipelines.ingest.server.serve",
        lambda host, port, settings: served.update(
            host=host, port=port, key=os.environ["OWNLAY_PII_HASH_KEY"]
        ),
    )

    assert main(["serve", "--port", "18502"]) == 0
    assert served == {"host": "127.0.0.1", "port": 18502, "key": demo_key}
    assert "using the demo's sandbox key" in capsys.readouterr().out


def test_serve_workers_flag_overrides_the_environment_and_refuses_zero(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "k" * 64)
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNLAY_INGEST_WORKERS", "3")
    served = []
    monkeypatch.setattr(
        "ownlay_pipelines.ingest.server.serve",
        lambda host, port, settings: served.append(settings.workers),
    )

    assert main(["serve", "--port", "18504"]) == 0
    assert main(["serve", "--port", "18504", "--workers", "2"]) == 0
    with pytest.raises(SystemExit) as refused:
        main(["serve", "--workers", "0"])

    assert served == [3, 2]
    assert refused.value.code == 2
    assert "--workers: must be a whole number of at least 1, not '0'" in capsys.readouterr().err


def test_serve_in_live_mode_never_falls_back_to_the_demo_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "")  # unset, restored after the test
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNLAY_MODE", "live")
    ensure_key(tmp_path)

    assert main(["serve", "--port", "18503"]) == 2
    assert "OWNLAY_PII_HASH_KEY is not set" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("OWNLAY_INGEST_MAX_BODY_BYTES", "1MB", "must be a whole number, not '1MB'"),
        ("OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND", "fast", "must be a number, not 'fast'"),
        ("OWNLAY_INGEST_RATE_LIMIT_EVENTS_PER_SECOND", "-5", "greater than or equal to 0"),
        ("OWNLAY_INGEST_WORKERS", "0", "greater than 0"),
    ],
)
@pytest.mark.parametrize("command", [["flush"], ["keys", "list"], ["serve", "--port", "18502"]])
def test_a_bad_ingest_setting_is_refused_in_one_line_naming_the_variable(
    tmp_path, monkeypatch, capsys, command: list[str], variable: str, value: str, says: str
):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", "k" * 64)
    monkeypatch.setenv(variable, value)

    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {variable} ")
    assert says in err
