"""filmline runtime: decode a video, run the stages, write a timeline."""

__version__ = "0.1.0"
