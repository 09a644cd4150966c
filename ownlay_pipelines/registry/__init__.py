"""Workspaces (tenants), their tiers and their platform connections."""
