"""Conformance runners for the shared SSML and text-normalization suites (`make conformance`)."""
