"""What the sandbox wrapper adds to the start of each ffmpeg run.

    python bench/sandbox_startup.py [ROUNDS]

Runs ``ffmpeg -version`` ROUNDS times (default 30) each way, the ways
alternated so that load on a shared machine falls on all alike: directly;
through ``setpriv --pdeathsig KILL`` (how runs started before the wrapper);
through the wrapper with limits only (``confinement = "off"``); through the
wrapper with Landlock. Prints the median wall and CPU time of each (CPU
time, user and system of the child, says what a run costs on a loaded
machine, where wall time mostly says what else runs), and the wrapper's
median cost over setpriv.
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from nommer.core.ffmpeg import Sandbox
from nommer.core.ffmpeg.sandbox import landlock_abi


def main(rounds=30):
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = tempfile.mkdtemp(prefix="nommer-bench-")
    try:
        argv = [ffmpeg, "-version"]
        ways = {"direct": argv}
        if shutil.which("setpriv"):
            ways["setpriv"] = [shutil.which("setpriv"), "--pdeathsig", "KILL", "--", *argv]
        ways["wrapper, limits only"] = Sandbox(write=(work,), landlock=False).wrap(argv, fsize=2**34)
        if landlock_abi() >= 1:
            ways["wrapper, Landlock"] = Sandbox(write=(work,)).wrap(argv, fsize=2**34)
        times = {name: [] for name in ways}
        cpu = {name: [] for name in ways}
        for _ in range(rounds):
            for name, command in ways.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                began = time.perf_counter()
                subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                times[name].append(time.perf_counter() - began)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{rounds} runs of `ffmpeg -version` each; Landlock ABI {landlock_abi()}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, seconds in times.items():
        print(f"  {name:22s} wall median {statistics.median(seconds) * 1000:6.1f} ms"
              f"   CPU median {statistics.median(cpu[name]) * 1000:6.1f} ms")
    base = "setpriv" if "setpriv" in times else "direct"
    for name in ("wrapper, limits only", "wrapper, Landlock"):
        if name in times:
            wall = statistics.median(times[name]) - statistics.median(times[base])
            used = statistics.median(cpu[name]) - statistics.median(cpu[base])
            print(f"  {name} adds {wall * 1000:.1f} ms wall, {used * 1000:.1f} ms CPU a run over {base}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
