"""`python -m callwaiting_tts.client --help`."""

from callwaiting_tts.client.cli import main

raise SystemExit(main())
