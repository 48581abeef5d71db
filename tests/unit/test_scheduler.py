"""The local scheduler finds every @app.schedule of app.py, so the dev stack runs each job as its rule would."""

from __future__ import annotations

from chalice.app import ScheduledEventConfig

from scripts.scheduler import jobs_of, scheduled_event


def test_every_schedule_the_app_declares_is_a_local_job_with_its_period():
    from app import app

    declared = {s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig)}
    jobs = {job.name: job for job in jobs_of(app)}
    assert set(jobs) == declared and "loyalty_review" in jobs
    assert jobs["loyalty_review"].every_seconds == 3600
    assert jobs["draw_runner"].every_seconds == 60


def test_a_job_gets_the_event_eventbridge_sends():
    event = scheduled_event("loyalty_review")
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/loyalty_review")
