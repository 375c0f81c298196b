"""nommer: a self-hosted, elastic media-encoding farm."""

__version__ = "0.1.0"
