"""An encoder giving up on its machine: it cannot work there (no instance
identity on AWS, or no contact with the job store and the queue for
``lost_contact_timeout``), and a machine that cannot work must not go on
billing. It runs ``shutdown_command`` when one is set and exits with
:data:`EXIT_GIVE_UP`; on EC2 the encoder's unit powers the instance off on
that status, and the instance, launched with shutdown behaviour
``terminate``, ends."""

import shlex
import subprocess

# The encoder's exit status when it gives up on its machine. systemd does not
# restart it (RestartPreventExitStatus) and, on EC2, powers the instance off.
EXIT_GIVE_UP = 3
COMMAND_TIMEOUT = 60.0


def shut_down(config, logger):
    """Run ``shutdown_command``; True when it ran and succeeded. Never
    raises: the encoder exits with EXIT_GIVE_UP whatever happens here."""
    command = config.shutdown_command.strip()
    if not command:
        logger.warning("no shutdown_command set; exiting and leaving the machine to its "
                       "service manager", exit_status=EXIT_GIVE_UP)
        return False
    try:
        argv = shlex.split(command)
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        logger.error("shutdown_command failed", command=command, error=str(e))
        return False
    if done.returncode != 0:
        logger.error("shutdown_command failed", command=command, status=done.returncode,
                     output=(done.stderr or done.stdout)[-500:])
        return False
    logger.warning("asked the machine to shut down", command=command)
    return True
