"""`python -m callwaiting_tts_client --help`."""

from callwaiting_tts_client.cli import main

raise SystemExit(main())
