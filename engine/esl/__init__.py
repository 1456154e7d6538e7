"""esl package of the Jinqiao engine."""
