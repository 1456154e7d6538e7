"""reports package of the Jinqiao engine."""
