"""Conformance runners for the shared SSML and text-normalization suites (`make conformance`).

A measuring tool beside the product: it drives the pure text package and, for the behaviour
rows, a real Piper engine; nothing in the service imports it.
"""
