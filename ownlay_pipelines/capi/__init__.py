"""Conversions-API forwarding (seed 002): normalise and hash contact data, keep a durable outbox
per (event, destination), deliver batches to Meta, Google Ads, TikTok and Snapchat through the
HTTP client core, and log every attempt in the ops store. docs/privacy.md describes what waits
where and for how long.
"""
