"""`python -m gui` runs the tray app (the marker re-exec uses this form)."""
import sys

from gui.app import main

sys.exit(main())
