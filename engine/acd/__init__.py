"""acd package of the Jinqiao engine."""
