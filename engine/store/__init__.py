"""store package of the Jinqiao engine."""
