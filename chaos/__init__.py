"""The fault suite (`make chaos`): the real stack on servers of its own, broken on purpose.

See README, "Fault suite", and chaos/scenarios.py for what each fault expects."""
