"""dialer package of the Jinqiao engine."""
