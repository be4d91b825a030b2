"""The process-safety layers of DESIGN.md, one module each, usable by the
service, the worker and the tray alike (they import neither FastAPI nor Qt):

  markers.py    the environment markers every process of a tree carries
  lifeline.py   L0 kernel fate-sharing (PDEATHSIG, Job Object) and L1 lifelines
  processes.py  finding marked processes and ending them (terminate -> kill)
  registry.py   L3: pid + create_time records in the runtime directory
  leftovers.py  L3: what lost its tree, and ending it by identity
  gpu.py        L4: GPU memory per pid through NVML (or "no GPU")
"""
