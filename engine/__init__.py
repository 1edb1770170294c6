"""filmline runtime: decode a video, run the stages, write a timeline."""
