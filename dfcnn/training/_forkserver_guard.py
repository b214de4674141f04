"""Imported by the forkserver that starts dfcnn's audio workers (see ``dfcnn.training.workers``), before it
serves any request, so that it and every worker it forks stop on the trainer's word only and die
with it:

- the forkserver gets PR_SET_PDEATHSIG: the kernel kills it when the trainer dies;
- every child it forks gets PR_SET_PDEATHSIG at the instant of the fork (an at-fork hook), before
  it has imported anything: a worker killed while still importing torch would otherwise outlive
  the trainer by the length of that import;
- SIGINT and SIGTERM are ignored, here and (inherited) in every worker: a Ctrl-C reaches the whole
  process group and a ``kill`` may reach the whole cgroup, but a worker that died of it would crash
  the trainer before it saves; the trainer ends the workers after saving.
"""

import os
import signal

from .workers import die_with_parent

die_with_parent()
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the forkserver restores what it found here in each child
signal.signal(signal.SIGTERM, signal.SIG_IGN)
_FORKSERVER = os.getpid()
os.register_at_fork(after_in_child=lambda: die_with_parent(expected_parent=_FORKSERVER))
