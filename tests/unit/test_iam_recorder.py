"""The call recorder reads each request's resources as IAM authorises them, and the check refuses what a policy does not grant."""

from __future__ import annotations

from types import SimpleNamespace

from tests import iam_recorder
from tests.iam_recorder import Call, Recorder


def _model(service: str, operation: str) -> SimpleNamespace:
    return SimpleNamespace(name=operation, service_model=SimpleNamespace(service_name=service))


def _record(service: str, operation: str, params: dict, function: str = "api_handler") -> list[Call]:
    recorder = Recorder()
    recorder.table_names = lambda: {"t1-draws": "draws", "t1-audit": "audit", "t1-code_states": "code_states"}
    recorder.stand_ins = lambda: {("bucket", "b1"): "export_bucket", ("queue", "q1"): "export_queue"}
    with iam_recorder.running(function, "POST /v1/x"):
        recorder.on_call(params=params, model=_model(service, operation))
    return recorder.take()


def test_a_call_outside_any_entry_point_is_not_recorded():
    recorder = Recorder()
    recorder.on_call(params={"TableName": "t1-draws"}, model=_model("dynamodb", "GetItem"))
    assert recorder.take() == []


def test_each_item_of_a_transaction_and_each_table_of_a_batch_is_its_own_request():
    written = _record(
        "dynamodb",
        "TransactWriteItems",
        {"TransactItems": [{"Update": {"TableName": "t1-draws"}}, {"ConditionCheck": {"TableName": "t1-audit"}}]},
    )
    assert [(c.action, c.name) for c in written] == [
        ("dynamodb:UpdateItem", "draws"),
        ("dynamodb:ConditionCheckItem", "audit"),
    ]
    read = _record("dynamodb", "BatchGetItem", {"RequestItems": {"t1-draws": {}, "t1-audit": {}}})
    assert [(c.action, c.name) for c in read] == [
        ("dynamodb:BatchGetItem", "draws"),
        ("dynamodb:BatchGetItem", "audit"),
    ]


def test_the_index_bucket_key_copy_source_and_queue_are_read_from_the_request():
    (query,) = _record("dynamodb", "Query", {"TableName": "t1-code_states", "IndexName": "by_shopper"})
    assert (query.name, query.detail) == ("code_states", "by_shopper")
    part, source = _record(
        "s3", "UploadPartCopy", {"Bucket": "b1", "Key": "exports/a.zip", "CopySource": "b1/export-parts/p"}
    )
    assert (part.action, part.name, part.detail) == ("s3:PutObject", "export_bucket", "exports/a.zip")
    assert (source.action, source.detail) == ("s3:GetObject", "export-parts/p")
    (sent,) = _record("sqs", "SendMessageBatch", {"QueueUrl": "http://127.0.0.1:5000/123456789012/q1"})
    assert (sent.action, sent.name) == ("sqs:SendMessage", "export_queue")


def test_a_call_the_policy_does_not_grant_is_named_with_function_route_operation_and_stage_arn():
    (query,) = _record("dynamodb", "Query", {"TableName": "t1-code_states", "IndexName": "by_shopper"}, "draw_runner")
    assert iam_recorder.violations([query]) == []  # the draw runner's late-claim lookup
    (delete,) = _record("dynamodb", "DeleteItem", {"TableName": "t1-draws"}, "draw_runner")
    problems = iam_recorder.violations([delete])
    assert problems == [
        f"draw_runner (POST /v1/x): dynamodb:DeleteItem needs dynamodb:DeleteItem on table draws "
        f"(arn:aws:dynamodb:us-east-1:{iam_recorder.ACCOUNT}:table/qrc-{stage}-draws), "
        f"which infra/policies/draw_runner.json does not allow in {stage}"
        for stage in ("dev", "prod")
    ]


def test_resource_wildcards_match_across_path_segments_as_iam_does():
    # The export bucket's name ends in the account id, granted as qrc-<stage>-exports-*/exports/*.
    (put,) = _record("s3", "PutObject", {"Bucket": "b1", "Key": "exports/brand-a/batch/file.zip"}, "export_worker")
    assert iam_recorder.violations([put]) == []
    (elsewhere,) = _record("s3", "PutObject", {"Bucket": "b1", "Key": "other/file.zip"}, "export_worker")
    assert len(iam_recorder.violations([elsewhere])) == 2
