"""Canonical vocabularies and row models shared by every layer."""
