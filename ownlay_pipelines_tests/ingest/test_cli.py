from ownlay_pipelines.cli import main


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
    assert "'../etc' is not a slug" in capsys.readouterr().out
