"""Text-to-speech backends and a content-addressed audio cache (no FreeSWITCH imports)."""
