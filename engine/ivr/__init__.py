"""ivr package of the Jinqiao engine."""
