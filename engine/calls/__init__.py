"""calls package of the Jinqiao engine."""
