"""sim package of the Jinqiao engine."""
