"""Which channels the watchtower can notify on, configured from the environment.

Webhook URLs and the SMTP password are secrets: they are read from the environment only and are
never printed (a webhook's `name` masks its token).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ownlay_pipelines.watchtower.notify.discord import DiscordWebhook
from ownlay_pipelines.watchtower.notify.email import SmtpMailer, SmtpSettings

DISCORD_WEBHOOK_ENV = "OWNLAY_DISCORD_WEBHOOK_URL"
"""Default webhook; `OWNLAY_DISCORD_WEBHOOK_URL_<channel id>` routes one channel elsewhere."""
_CHANNEL_SUFFIX = re.compile(rf"^{DISCORD_WEBHOOK_ENV}_(\d+)$")


@dataclass
class Notifiers:
    """The configured channels: Discord webhooks by channel id ("" = default) and an SMTP mailer."""

    discord: Mapping[str, DiscordWebhook] = field(default_factory=dict)
    mailer: SmtpMailer | None = None

    def webhook_for(self, channel_id: str | None) -> DiscordWebhook | None:
        """The webhook for a rule's `discord_channel_id`, else the default one, else None."""
        return self.discord.get(channel_id or "") or self.discord.get("")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifiers:
        """Webhooks from `OWNLAY_DISCORD_WEBHOOK_URL[_<channel id>]`, SMTP from `OWNLAY_SMTP_*`."""
        env = os.environ if environ is None else environ
        webhooks = {}
        for name, value in env.items():
            if name == DISCORD_WEBHOOK_ENV:
                webhooks[""] = DiscordWebhook(value)
            elif match := _CHANNEL_SUFFIX.match(name):
                webhooks[match.group(1)] = DiscordWebhook(value)
        settings = SmtpSettings.from_env(env)
        return cls(discord=webhooks, mailer=SmtpMailer(settings) if settings else None)
