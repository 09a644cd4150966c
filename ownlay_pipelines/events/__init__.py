"""First-party events: seed 000's canonical OwnlayEvent, its validation, privacy and lake rows."""
