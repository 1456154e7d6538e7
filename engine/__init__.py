"""Jinqiao (金桥): a call-center engine that controls FreeSWITCH over the Event Socket."""

__version__ = "0.1.0"
