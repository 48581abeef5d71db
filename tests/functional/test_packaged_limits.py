"""What AWS enforces and no local stack does, read from the packaged template: timeouts, queues, stream batches, schedules."""

from __future__ import annotations

from chalicelib.config import WORK_SECONDS

LAMBDA_MAX_TIMEOUT = 900
# Lambda's advice for a queue event source: a visibility timeout of six times the function's
# timeout, or a message whose batch is still being retried by the poller shows again.
VISIBILITY_PER_TIMEOUT = 6
# What the loyalty review's member under way when its budget runs out may still take
# (a few reads and one transaction, with their retries).
LOYALTY_MEMBER_SECONDS = 60


def _functions(template: dict) -> dict[str, dict]:
    """Each Lambda function's Properties, by its name in .chalice/config.json (`api_handler` for the API)."""
    functions = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"].removeprefix("app.")
            functions["api_handler" if handler == "app" else handler] = resource["Properties"]
    return functions


def _events(template: dict, kind: str) -> list[tuple[str, dict, dict]]:
    """(function, its Properties, the event's Properties) of every event source of one kind."""
    return [
        (name, props, event["Properties"])
        for name, props in _functions(template).items()
        for event in props.get("Events", {}).values()
        if event["Type"] == kind
    ]


def _queues(template: dict) -> dict[str, tuple[str, dict]]:
    """Queue name -> (logical id, Properties) of every SQS queue in the stack."""
    return {
        r["Properties"]["QueueName"]: (logical, r["Properties"])
        for logical, r in template["Resources"].items()
        if r.get("Type") == "AWS::SQS::Queue"
    }


def test_every_function_has_a_work_budget_and_its_timeout_covers_it(packaged):
    functions = _functions(packaged["template"])
    assert set(functions) == set(WORK_SECONDS), "declare each function's budget in chalicelib.config.WORK_SECONDS"
    for name, props in functions.items():
        timeout = props["Timeout"]
        assert WORK_SECONDS[name] <= timeout <= LAMBDA_MAX_TIMEOUT, (
            f"{name}: Timeout {timeout} s does not cover its {WORK_SECONDS[name]} s budget"
        )


def test_the_loyalty_review_stops_in_time_to_finish_its_last_member(packaged):
    # review_due stops starting members at its budget (app.py passes WORK_SECONDS'), so the
    # timeout must leave room for the member under way; Lambda's default 30 s left none.
    timeout = _functions(packaged["template"])["loyalty_review"]["Timeout"]
    assert timeout >= WORK_SECONDS["loyalty_review"] + LOYALTY_MEMBER_SECONDS


def test_an_export_finisher_never_outlasts_its_lease(packaged):
    from chalicelib.services import exports

    timeout = _functions(packaged["template"])["export_worker"]["Timeout"]
    assert timeout <= exports.FINISH_LEASE.total_seconds()


def test_the_api_s_longest_wait_ends_before_api_gateway_gives_up(packaged):
    from chalicelib.services import draw_runner

    assert (
        draw_runner.WAIT_SECONDS
        < WORK_SECONDS["api_handler"]
        <= _functions(packaged["template"])["api_handler"]["Timeout"]
    )


def test_each_queue_hides_a_message_six_times_as_long_as_its_consumer_may_run(packaged):
    template = packaged["template"]
    queues = _queues(template)
    consumed = _events(template, "SQS")
    assert consumed, "the export worker reads its queue"
    for name, function, event in consumed:
        queue_name = event["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
        assert queue_name in queues, f"{name} reads {queue_name}, which the stack does not make"
        _, queue = queues[queue_name]
        assert queue["VisibilityTimeout"] >= VISIBILITY_PER_TIMEOUT * function["Timeout"], queue_name
        # Every delivery a message is allowed fits in its retention, and its dead-letter
        # queue keeps it at least as long (SQS keeps the first enqueue time when it moves).
        redrive = queue["RedrivePolicy"]
        assert queue["MessageRetentionPeriod"] >= redrive["maxReceiveCount"] * queue["VisibilityTimeout"]
        dead_letter = template["Resources"][redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]["Properties"]
        assert dead_letter["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"]


def test_the_stream_consumer_takes_bounded_batches_and_gives_up_into_a_queue(packaged):
    template = packaged["template"]
    streams = _events(template, "DynamoDB")
    assert sorted(name for name, _, _ in streams) == ["stats_aggregator", "webhook_outbox"]
    for _name, _function, event in streams:
        assert 1 <= event["BatchSize"] <= 10_000
        assert 0 <= event["MaximumBatchingWindowInSeconds"] <= 300
        # -1 would retry a failing batch until its records expire (24 h), holding the shard.
        assert 0 <= event["MaximumRetryAttempts"] <= 10_000
        assert event["StartingPosition"] == "TRIM_HORIZON"
        target = event["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert template["Resources"][target]["Type"] == "AWS::SQS::Queue"


def test_every_schedule_runs_a_function_of_the_stack(packaged):
    from chalice.app import ScheduledEventConfig

    import app

    template = packaged["template"]
    functions = _functions(template)
    scheduled = {name for name, _, _ in _events(template, "Schedule")}
    declared = {s.name for s in app.app.event_sources if isinstance(s, ScheduledEventConfig)}
    assert declared, "the app declares at least the loyalty review"
    assert scheduled == declared and declared <= set(functions)
    # Rules written into infra/ by hand must target a function the stack makes.
    logical = {r: res for r, res in template["Resources"].items() if res.get("Type") == "AWS::Serverless::Function"}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Events::Rule":
            targets = [t["Arn"] for t in resource["Properties"].get("Targets", [])]
        elif resource.get("Type") == "AWS::Scheduler::Schedule":
            targets = [resource["Properties"]["Target"]["Arn"]]
        else:
            continue
        for arn in targets:
            assert isinstance(arn, dict) and "Fn::GetAtt" in arn, (
                f"a schedule targets {arn!r}, not a function of the stack"
            )
            assert arn["Fn::GetAtt"][0] in logical, arn
