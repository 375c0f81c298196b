"""How many encoders to start: media-nommer's rule, within bounds."""

import math

from nommer.core.jobs import age_seconds


def encoders_to_start(unfinished, running, jobs_per_encoder, overflow, maximum, minimum=0):
    """Encoders to launch now.

    With no encoder and any unfinished job, start one; otherwise when the
    unfinished jobs reach capacity plus the overflow threshold, start enough
    for the overage (at least one). Never beyond ``maximum``; keep at least
    ``minimum`` running.
    """
    capacity = running * jobs_per_encoder
    wanted = max(0, minimum - running)
    if running == 0 and unfinished > 0:
        wanted = max(wanted, 1)
    elif running > 0 and unfinished >= capacity + overflow and unfinished > capacity:
        wanted = max(wanted, math.ceil((unfinished - capacity) / jobs_per_encoder))
    return max(0, min(wanted, maximum - running))


def unbooted(members, heartbeating, boot_timeout, now=None):
    """The members launched more than ``boot_timeout`` seconds ago whose
    encoder never heartbeated (its id is not in ``heartbeating``): machines
    that bill but will never work, to be ended and not counted as capacity.
    A member whose launch time is unknown is given the benefit of the doubt."""
    found = []
    for member in members:
        if member.state not in ("starting", "running") or member.id in heartbeating:
            continue
        age = age_seconds(member.started_at, now)
        if age is not None and age > boot_timeout:
            found.append(member)
    return found
