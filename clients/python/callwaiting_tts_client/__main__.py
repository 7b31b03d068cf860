"""`python -m callwaiting_tts_client --help`."""

from callwaiting_tts_client.cli import MODULE_PROG, main

raise SystemExit(main(prog=MODULE_PROG))
