"""An EncoderCore over the embedded backends, step by step: which jobs run
where the kernel has no Landlock, and the limits of one job's encode."""

import pytest

from nommer.core import backends

from nommer.core import config as config_mod
from nommer.core.encoder.core import EncoderCore
from nommer.core.errors import ConfigError, JobFailed
from nommer.core.ffmpeg.sandbox import landlock_abi
from nommer.core.model.jobs import Job, State
from nommer.core.model.messages import message_body

OPTIONS = [{"outfile_options": [["c:v", "libx264"], ["preset", "ultrafast"]]}]


@pytest.fixture
def farm(tmp_path, sample_clip):
    media = tmp_path / "media"
    media.mkdir()
    (media / "source.mp4").write_bytes(sample_clip.read_bytes())
    made = []

    def core(abi=None, **settings):
        environ = {"NOMMER_DATA_DIR": str(tmp_path / "data"), "NOMMER_FILE_ROOTS": str(media),
                   "NOMMER_LOG_FORMAT": "json"}
        environ.update({f"NOMMER_{k.upper()}": str(v) for k, v in settings.items()})
        config = config_mod.load(environ=environ)
        parts = backends.build(config)
        made.append(parts)
        # abi: a kernel without Landlock, or with an older one, as the encoder sees it.
        return EncoderCore(config, parts, "enc-core", abi=abi), parts

    yield {"core": core, "media": media}
    for parts in made:
        parts.close()


def start(core, parts, media, output):
    job = parts.store.create(Job.new(f"file://{media / 'source.mp4'}", [
        {"destination": f"file://{media / 'out.mp4'}", **output}]))
    parts.new_jobs.send(message_body(job.id))
    return core.claim(parts.new_jobs.receive(visibility_timeout=60)[0])


def work(core, task):
    """Every step, as the actors run them; the job as it ended."""
    try:
        core.fetch(task)
        core.encode(task)
        core.upload(task)
    except Exception as e:
        core.end(task, e)
    return core.store.get(task.id)


def test_without_landlock_a_job_with_options_is_refused_before_the_download(farm):
    core, parts = farm["core"](abi=0)
    task = start(core, parts, farm["media"], {"options": OPTIONS})
    with pytest.raises(JobFailed) as err:
        core.fetch(task)
    assert err.value.code == "CONFINEMENT_UNAVAILABLE"
    assert not task.workdir.exists()  # nothing downloaded
    core.end(task, err.value)
    job = parts.store.get(task.id)
    assert (job.state, job.error_code) == (State.ERROR, "CONFINEMENT_UNAVAILABLE")
    assert 'confinement = "best-effort"' in job.details
    assert not (farm["media"] / "out.mp4").exists()
    assert parts.new_jobs.depth() == (0, 0)


def test_without_landlock_a_preset_job_runs_unconfined(farm):
    core, parts = farm["core"](abi=0)
    task = start(core, parts, farm["media"], {"preset": "mp4-h264-360p"})
    job = work(core, task)
    assert job.state == State.FINISHED, job.details
    assert task.landlock is False
    assert (farm["media"] / "out.mp4").stat().st_size > 1000


def test_best_effort_runs_options_without_landlock(farm):
    core, parts = farm["core"](abi=0, confinement="best-effort")
    task = start(core, parts, farm["media"], {"options": OPTIONS})
    job = work(core, task)
    assert job.state == State.FINISHED, job.details
    assert task.landlock is False


def test_required_without_landlock_does_not_start(farm):
    with pytest.raises(ConfigError, match="setting 'confinement' is \"required\""):
        farm["core"](abi=0, confinement="required")


@pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock")
def test_with_landlock_options_run_confined(farm):
    core, parts = farm["core"](confinement="required")
    task = start(core, parts, farm["media"], {"options": OPTIONS})
    job = work(core, task)
    assert job.state == State.FINISHED, job.details
    assert task.landlock is True


def test_an_encode_slower_than_its_source_allows_ends_in_too_slow(farm):
    # 2 s of source, 0.05 x 2 s + 0 s: no encode is that quick.
    core, parts = farm["core"](encode_time_factor=0.05, encode_time_slack=0)
    task = start(core, parts, farm["media"], {"preset": "mp4-h264-720p"})
    job = work(core, task)
    assert (job.state, job.error_code) == (State.ERROR, "TOO_SLOW")
    assert "encode_time_factor" in job.details and "(0.1 s)" in job.details
    assert job.outputs[0]["error_code"] == "TOO_SLOW"
    assert not (farm["media"] / "out.mp4").exists()
    assert not task.workdir.exists()


def test_an_encode_writing_past_the_budget_ends_in_output_too_large(farm):
    core, parts = farm["core"](max_output_bytes=5000)
    task = start(core, parts, farm["media"], {"preset": "mp4-h264-360p"})
    job = work(core, task)
    assert (job.state, job.error_code) == (State.ERROR, "OUTPUT_TOO_LARGE")
    assert "5000 bytes (the max_output_bytes setting)" in job.details
    assert not (farm["media"] / "out.mp4").exists()
    assert not task.workdir.exists()


def test_the_source_does_not_count_toward_the_budget(farm):
    source = (farm["media"] / "source.mp4").stat().st_size
    core, parts = farm["core"](max_output_bytes=source)  # less than source + output
    task = start(core, parts, farm["media"], {"preset": "mp4-h264-360p"})
    job = work(core, task)
    assert job.state == State.FINISHED, job.details
