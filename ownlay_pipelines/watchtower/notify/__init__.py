"""Delivering watchtower alerts: Discord webhooks, SMTP e-mail, immediate and digest dispatch."""
