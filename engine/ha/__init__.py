"""Production resilience: state rebuilt from the switch after any restart, and the active/standby lease."""
