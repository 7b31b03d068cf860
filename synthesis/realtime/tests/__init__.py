"""Tests of the realtime helpers (pure: no services)."""
