"""FreeSWITCH simulator: real ESL bytes on loopback, channels, apps, API, scripted callers and agents."""
from engine.sim.control import FreeSwitchSim, Hangup, Press, SimCall, Wait

__all__ = ["FreeSwitchSim", "Hangup", "Press", "SimCall", "Wait"]
