"""Training of the engine's own models (intro transformer, trigger CNN) from annotations."""
