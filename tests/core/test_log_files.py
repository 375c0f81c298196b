"""Log files that do not grow without end: rotated by size, old ones pruned."""

import os
import subprocess
import sys
import time

from nommer.core import config as config_mod
from nommer.core.adapters.local_fleet import LocalFleet

WRITER = """
import sys
from nommer.core import config, log
settings = config.load(environ={"NOMMER_LOG_FILE": sys.argv[1], "NOMMER_LOG_MAX_BYTES": "4096",
                               "NOMMER_LOG_BACKUPS": "2", "NOMMER_LOG_FORMAT": "json"})
log.configure_from(settings)
logger = log.get("nommer.test")
for n in range(200):
    logger.info("line", n=n, padding="x" * 40)
print("the last words", file=sys.stderr, flush=True)
"""


def test_a_log_file_is_rotated_by_size_keeping_the_backups_asked(tmp_path):
    path = tmp_path / "encoder-e1.log"
    done = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # everything went to the file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["encoder-e1.log", "encoder-e1.log.1", "encoder-e1.log.2"]
    for name in names:
        assert os.path.getsize(tmp_path / name) <= 4096
    current = path.read_text()
    assert current.rstrip().endswith("the last words")  # stderr follows the rotation
    assert '"n": 199' in current
    newest_backup = (tmp_path / "encoder-e1.log.1").read_text()
    assert '"n": 199' not in newest_backup and '"line"' in newest_backup


def test_logs_of_encoders_gone_for_long_are_pruned(tmp_path):
    settings = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), "log_keep_days": 1})
    fleet = LocalFleet(settings)
    fleet.log_dir.mkdir(parents=True, exist_ok=True)
    old = [fleet.log_dir / "encoder-local-1-1.log", fleet.log_dir / "encoder-local-1-1.log.1"]
    recent = fleet.log_dir / "encoder-local-1-2.log"
    for path in [*old, recent]:
        path.write_text("x\n")
    two_days_ago = time.time() - 2 * 86400
    for path in old:
        os.utime(path, (two_days_ago, two_days_ago))
    fleet._prune_logs()
    assert sorted(p.name for p in fleet.log_dir.iterdir()) == [recent.name]
