"""Backends: one profile per name of the ``backend`` setting.

A profile (``local.py``, ``aws.py``) is everything that name means: the
adapters of the job store, the queues and storage, the fleet, how an encoder
learns who it is, prepares its machine and ends it, and whether spot notices
apply. The feeder and the encoder ask the profile and never test the name.

Each profile module imports its own heavy dependencies, so the embedded
default never loads boto3 and the AWS profile never opens SQLite.
"""

import dataclasses
import importlib
import os
import socket

from nommer.core.errors import ConfigError
from nommer.core.ports.storage import StorageRouter
from nommer.core.retrying import RetryingQueue, RetryingStore

NEW_JOBS = "new-jobs"
STATE_CHANGES = "state-changes"

# The module of each profile, loaded only when its name is the setting.
PROFILES = {"local": "nommer.core.backends.local", "aws": "nommer.core.backends.aws"}


@dataclasses.dataclass
class Backends:
    store: object
    new_jobs: object
    state_changes: object
    storage: StorageRouter

    def close(self):
        for part in (self.new_jobs, self.state_changes, self.store):
            part.close()


class NoIdentity(Exception):
    """The machine did not tell this encoder the id it must report under (on
    AWS, the instance metadata service did not answer): it cannot heartbeat
    under the id the feeder knows, nor end its own machine, so it must not
    start."""


def process_id():
    """HOST-PID: the id of an encoder that nothing else names."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Profile:
    """What one backend means. Stateless: every call gets the Config."""

    name = ""

    def adapters(self, config):
        """The job store, the two queues and storage (a Backends), not yet
        wrapped in retries; ConfigError naming the setting that is wrong,
        with nothing left half-built."""
        raise NotImplementedError

    def fleet(self, config):
        """The Fleet the feeder's Scaler starts and stops encoders with."""
        raise NotImplementedError

    def identify(self, config, instance_id):
        """``(config, encoder_id)``: the id this encoder reports under
        (``instance_id`` when given) and its config with what the machine
        told filled in. NoIdentity when the machine must tell and does not;
        ConfigError naming the settings when a needed value is missing."""
        return config, instance_id or process_id()

    def prepare_machine(self, config, encoder_id, logger):
        """Called once when the encoder starts; returns what to call when it
        has stopped."""
        return lambda: None

    def end_machine(self, config, encoder_id):
        """After an idle stop or a spot notice: end the machine the encoder
        runs on; True when it did. By default the process just ends."""
        return False

    def spot_watch(self, config, logger):
        """``(imds, market)``: the metadata service to watch for spot
        interruption notices (None: spot notices do not apply here) and the
        machine's market ("spot", "on-demand" or "" when not said)."""
        return None, ""

    def cost_instance_type(self, config):
        """The instance type cost factors are learned for."""
        return self.name


def profile(config):
    """The Profile of ``config.backend``; ConfigError naming the known ones."""
    try:
        module = PROFILES[config.backend]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(
            f"setting 'backend': {config.backend!r} is not available (one of: {known})"
        ) from None
    return importlib.import_module(module).PROFILE


def adapter_hook(config):
    """The ``wrap_adapters(parts, config)`` of the module the ``adapter_hook``
    setting names (for testing nommer itself), or None. Core knows no such
    module: the configuration names it."""
    if not config.adapter_hook:
        if config.fault_rate > 0:
            raise ConfigError("setting 'fault_rate': faults are injected by a test hook; "
                              "set 'adapter_hook' to \"nommer.testing.faults\" as well, "
                              "or fault_rate to 0")
        return None
    try:
        module = importlib.import_module(config.adapter_hook)
    except ImportError as e:
        raise ConfigError(f"setting 'adapter_hook': cannot import {config.adapter_hook!r}: {e}") from None
    hook = getattr(module, "wrap_adapters", None)
    if not callable(hook):
        raise ConfigError(f"setting 'adapter_hook': module {config.adapter_hook!r} "
                          "has no wrap_adapters(parts, config)")
    return hook


def build(config):
    """The adapters of ``config.backend``, wrapped by the adapter hook when
    one is set, the store and queues retrying transient errors."""
    chosen = profile(config)
    hook = adapter_hook(config)
    parts = chosen.adapters(config)
    if hook is not None:
        parts = hook(parts, config)
    parts.store = RetryingStore(parts.store)
    parts.new_jobs = RetryingQueue(parts.new_jobs)
    parts.state_changes = RetryingQueue(parts.state_changes)
    return parts


def build_fleet(config):
    return profile(config).fleet(config)
