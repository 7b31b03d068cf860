import sys

from callwaiting_tts.stack.supervisor import main

sys.exit(main())
