"""What the sandbox wrapper adds to the start of each ffmpeg run.

    python bench/sandbox_startup.py [ROUNDS]

Runs ``ffmpeg -version`` ROUNDS times (default 30) each way, the ways
alternated so that load on a shared machine falls on all alike: directly;
through ``setpriv --pdeathsig KILL`` (how runs started before the wrapper);
through the wrapper with limits only (``confinement = "off"``); through the
wrapper with Landlock; forked by the warm fork server (ffmpeg/launcher.py,
how runs start now), with Landlock. Prints the median wall and mean CPU time of each (CPU
time, user and system of the child, of this process and of the fork
server, says what a run costs on a loaded machine, where wall time mostly
says what else runs; a mean, because the kernel counts a fork server's
children in clock ticks of 10 ms), and what each way adds over setpriv.
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from nommer.core.ffmpeg import Sandbox, launcher
from nommer.core.ffmpeg.sandbox import landlock_abi


def _cpu():
    """CPU seconds of this process (its client side of the fork server
    included) and of the runs it and its fork server waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = used.ru_utime + used.ru_stime + time.process_time()
    server = launcher.launcher()
    if server is not None and server.server_pid:
        try:
            fields = open(f"/proc/{server.server_pid}/stat").read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


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
        if launcher.available():
            ways["fork server, Landlock"] = Sandbox(write=(work,), landlock=landlock_abi() >= 1)
        times = {name: [] for name in ways}
        cpu = {name: [] for name in ways}
        for _ in range(rounds):
            for name, command in ways.items():
                before = _cpu()
                began = time.perf_counter()
                if isinstance(command, Sandbox):
                    child = command.start(argv, fsize=2**34)
                    child.communicate()
                    assert child.returncode == 0
                else:
                    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                times[name].append(time.perf_counter() - began)
                cpu[name].append(_cpu() - before)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{rounds} runs of `ffmpeg -version` each; Landlock ABI {landlock_abi()}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, seconds in times.items():
        print(f"  {name:22s} wall median {statistics.median(seconds) * 1000:6.1f} ms"
              f"   CPU mean {statistics.mean(cpu[name]) * 1000:6.1f} ms")
    base = "setpriv" if "setpriv" in times else "direct"
    for name in ("wrapper, limits only", "wrapper, Landlock", "fork server, Landlock"):
        if name in times:
            wall = statistics.median(times[name]) - statistics.median(times[base])
            used = statistics.mean(cpu[name]) - statistics.mean(cpu[base])
            print(f"  {name} adds {wall * 1000:.1f} ms wall, {used * 1000:.1f} ms CPU a run over {base}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
