"""`make bench` / `python -m bench`: the service measured against its own engine and a peer.

See bench/README.md.
"""
