"""Bounded fuzzing (hypothesis) of the loaders that read operator files: each fails only with a located error."""
