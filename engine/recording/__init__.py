"""recording package of the Jinqiao engine."""
