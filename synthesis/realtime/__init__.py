"""Realtime streaming helpers for `/v1/stream`: pure Python, no Django."""
