"""The local identity provider's pins and configuration, without running it."""

from __future__ import annotations

from pathlib import Path

import yaml

from farmacy.auth import Role
from farmacy.settings import Settings
from stack import identity
from stack.install import HYDRA_MODULE
from stack.k8s_tools import required_version
from stack.versions import load_versions


def test_the_hydra_module_builds_the_version_pinned_in_versions_toml() -> None:
    versions = load_versions()
    go_mod = (HYDRA_MODULE / "go.mod").read_text()
    assert required_version(go_mod, versions.hydra_module) == versions.hydra
    assert (HYDRA_MODULE / "go.sum").read_text().count(f"{versions.hydra_module} {versions.hydra}") == 2


def test_hydra_issues_jwt_access_tokens_as_the_apis_expect_them(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, identity_port=6944, identity_admin_port=6945, pg_port=7942)
    config = yaml.safe_load(identity.render(settings, tmp_path).read_text())
    assert config["urls"]["self"]["issuer"] == settings.oidc_issuer
    assert config["strategies"]["access_token"] == "jwt"
    assert {settings.oidc_role_claim, settings.oidc_customer_id_claim} <= set(
        config["oauth2"]["allowed_top_level_claims"]
    )
    assert (config["serve"]["public"]["port"], config["serve"]["admin"]["port"]) == (6944, 6945)
    assert config["dsn"].startswith("postgres://farmacy:farmacy@127.0.0.1:7942/hydra?")
    assert (tmp_path / "hydra.yml").stat().st_mode & 0o077 == 0  # it holds the system secret and the DSN
    assert identity.render(settings, tmp_path).read_text() == (tmp_path / "hydra.yml").read_text()  # secret kept


def test_one_client_per_role() -> None:
    assert sorted(identity.client_id(r) for r in Role) == ["farmacy-admin", "farmacy-customer", "farmacy-operator"]
