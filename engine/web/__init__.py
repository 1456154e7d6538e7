"""web package of the Jinqiao engine."""
