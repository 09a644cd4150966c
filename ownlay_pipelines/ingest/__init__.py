"""The HTTP ingestion service: first-party events and signed webhooks into a durable buffer."""
