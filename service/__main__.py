"""`python -m service`: the service's command line (service/cli.py).

On Windows the process first joins a kill-on-close job of its own, before it
starts anything (the marked re-exec, the worker): every child is then in the
job from its first instruction and cannot outlive us (service/safety/lifeline.py).
The call sits under the __main__ guard because multiprocessing's spawn imports
this module again in the worker, which starts nothing and needs no job.
"""
import sys

from service.cli import main
from service.safety import lifeline

if __name__ == "__main__":
    lifeline.join_own_kill_on_close_job()   # first thing; a no-op outside Windows
    sys.exit(main())
