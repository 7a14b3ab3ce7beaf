"""Alertmanager's rendered config: the ops API's receiver always, the outgoing webhook and e-mail when set."""

from __future__ import annotations

from farmacy.settings import Settings
from stack.manifests import alertmanager_config


def test_every_alert_goes_to_the_ops_api_receiver_with_its_secret() -> None:
    config = alertmanager_config(Settings(_env_file=None, ops_port=9003, alert_webhook_secret="s3cret-value"))
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == "http://127.0.0.1:9003/ops/alerts/webhook"
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials": "s3cret-value"}
    assert "slack_configs" not in receiver and "email_configs" not in receiver


def test_outgoing_webhook_and_email_when_configured() -> None:
    settings = Settings(
        _env_file=None,
        alert_outgoing_webhook_url="https://hooks.example.com/services/T/B/X",
        alert_email_to="oncall@example.com",
        alert_smtp_smarthost="127.0.0.1:2525",
    )
    (receiver,) = alertmanager_config(settings)["receivers"]
    assert receiver["slack_configs"][0]["api_url"] == "https://hooks.example.com/services/T/B/X"
    email = receiver["email_configs"][0]
    assert (email["to"], email["smarthost"], email["send_resolved"]) == ("oncall@example.com", "127.0.0.1:2525", True)
