"""Faults injected through the simulator (issue 12): after each, no stuck agent, nothing lost."""
