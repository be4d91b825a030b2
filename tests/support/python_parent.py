"""A plain Python parent for the kill matrix: starts the service, relays its
ready line on stdout, then just lives until it is killed."""
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-m", "service", "serve", *sys.argv[1:]],
                         stdout=subprocess.PIPE, text=True)
for line in child.stdout:
    sys.stdout.write(line)
    sys.stdout.flush()
    break
while True:
    time.sleep(3600)
