"""filmline: long-form video in, a structured timeline out."""

__version__ = "0.1.0"
