import sys

from devstack.supervisor import main

sys.exit(main())
