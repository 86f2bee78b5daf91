"""Customer 360 and identity resolution."""

__version__ = "0.1.0"
