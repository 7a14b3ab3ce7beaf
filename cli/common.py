"""What every command of the CLI shares: the settings, and the profile option."""

from __future__ import annotations

import os

from farmacy.settings import Profile, Settings


def settings() -> Settings:
    return Settings()


PROFILE_HELP = (
    "single: one node of each engine; cluster: 3 Kafka brokers, 2 Kafka Connect workers, 2 Elasticsearch nodes "
    "(and a tiebreaker), in .stack-cluster (docs/deploy.md). Also FARMACY_PROFILE."
)


def use_profile(profile: Profile | None) -> None:
    """Every later Settings() of this command, and the processes it starts (supervisord passes its environment
    on), see the profile."""
    if profile is not None:
        os.environ["FARMACY_PROFILE"] = profile.value
