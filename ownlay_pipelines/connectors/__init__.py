"""One module per platform: its client subclass, its stream specs and its normalisers."""
