"""`chalice package` with infra/<stage>.json yields a valid stack whose tables, names and IAM match the models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.adapters import models
from chalicelib.config import Settings, get_settings
from tests.support import requirement_pins

ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "qr-campaigns"

# cfn-lint rule ids we accept, each with the reason. Empty: the templates lint clean at
# every level, informational included. Add an id here only with a comment saying why.
IGNORED_LINT_RULES: frozenset[str] = frozenset()

# DynamoDB data-plane actions the function may be granted. Control-plane actions
# (CreateTable, DeleteTable, DescribeTable, ...) and Scan are deliberately absent: the
# app never calls them at run time (PynamoDB builds its table metadata from the model,
# DescribeTable is only for exists/create/delete). Extending this set is a review decision.
# There are no IAM actions for TransactWriteItems/TransactGetItems: each item in a
# transaction is authorised as PutItem/UpdateItem/DeleteItem/ConditionCheckItem/GetItem.
ALLOWED_DYNAMODB_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
    }
)

# Actions that IAM only accepts with Resource "*" (e.g. "xray:PutTraceSegments",
# "cloudwatch:PutMetricData").
ACTIONS_WITHOUT_RESOURCE_LEVEL: frozenset[str] = frozenset(
    {
        # Shopper sign-in codes go by SMS straight to a phone number, which is no ARN: IAM
        # can only allow that publish with Resource "*". The app publishes to no topic.
        "sns:Publish",
        # Lambda's event source for a table's stream (see STREAM_READ_ACTIONS) needs it; IAM has
        # no resource type for it.
        "dynamodb:ListStreams",
    }
)

# What Lambda's event source mapping reads a DynamoDB stream with, granted only on the streams
# of this stage's tables whose model asks for one (Meta.stream_view_type).
STREAM_READ_ACTIONS = frozenset(
    {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }
)

# Queues the functions may send to besides the export queue: the statistics aggregator's
# stream event source puts the batches it gives up on in this dead-letter queue, with the
# function's role.
EXTRA_SQS_SEND_QUEUES = ("qrc-{stage}-stats-dlq", "qrc-{stage}-webhook-outbox-dlq")


def _tool(name: str) -> str:
    """The executable of the virtualenv running the tests, else the one on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` is not installed: pip install -r requirements-dev.txt")
    return found


# `packaged` (tests/functional/conftest.py): one package per stage for the whole session,
# built the way scripts/deploy.sh builds it.


def _resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == resource_type}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _functions(template: dict) -> dict[str, dict]:
    """Logical id -> Properties of every Lambda function chalice generated."""
    functions = {name: r["Properties"] for name, r in _resources(template, "AWS::Serverless::Function").items()}
    assert "APIHandler" in functions
    return functions


def _statements(template: dict) -> list[dict]:
    roles = _resources(template, "AWS::IAM::Role")
    assert roles, "chalice should generate the function's role (manage_iam_role)"
    assert not _resources(template, "AWS::IAM::Policy") and not _resources(template, "AWS::IAM::ManagedPolicy")
    statements = []
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
        for policy in role["Properties"]["Policies"]:
            statements.extend(_as_list(policy["PolicyDocument"]["Statement"]))
    return statements


def _model_tables(table_prefix: str) -> dict[str, type]:
    """Table name -> model for a stage's prefix, as `models.bind` names them."""
    models.bind(Settings(table_prefix=table_prefix))
    try:
        return {model.Meta.table_name: model for model in models.ALL_MODELS}
    finally:
        models.bind(get_settings())


def _table_prefix(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config["stages"][stage]["environment_variables"]["TABLE_PREFIX"]


def _tables(template: dict) -> dict[str, dict]:
    """Table name -> the whole table resource (Properties and policies)."""
    return {r["Properties"]["TableName"]: r for r in _resources(template, "AWS::DynamoDB::Table").values()}


def _key_schema(entries) -> list[tuple[str, str]]:
    # HASH before RANGE, as CloudFormation requires; PynamoDB lists them in declaration order.
    return sorted(((e["AttributeName"], e["KeyType"]) for e in entries), key=lambda k: k[1] != "HASH")


def _projection(projection: dict) -> tuple:
    return (projection["ProjectionType"], tuple(sorted(projection.get("NonKeyAttributes", ()))))


def _indexes(entries) -> dict[str, tuple]:
    return {
        index.get("index_name", index.get("IndexName")): (
            _key_schema(index.get("key_schema", index.get("KeySchema"))),
            _projection(index.get("projection", index.get("Projection"))),
        )
        for index in entries or ()
    }


def test_template_lints_clean(packaged):
    result = subprocess.run(
        # `--include-checks` takes several values: `--` ends them, or it swallows the path
        # and cfn-lint lints stdin instead.
        [_tool("cfn-lint"), "--format", "json", "--include-checks", "I", "--", str(packaged["path"])],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip(), f"cfn-lint printed nothing:\n{result.stderr}"
    findings = [
        f"{m['Level']} {m['Rule']['Id']} {'/'.join(map(str, m['Location']['Path']))}: {m['Message']}"
        for m in json.loads(result.stdout)
        if m["Rule"]["Id"] not in IGNORED_LINT_RULES
    ]
    assert findings == []


def test_stack_is_a_sam_template_with_the_function_and_api(packaged):
    template = packaged["template"]
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert _resources(template, "AWS::Serverless::Api")
    for function in _functions(template).values():
        assert function["CodeUri"] == "./deployment.zip"


def test_lambda_table_prefix_is_the_stage_prefix(packaged):
    stage, template = packaged["stage"], packaged["template"]
    for function in _functions(template).values():
        variables = function["Environment"]["Variables"]
        assert variables["STAGE"] == stage
        assert variables["TABLE_PREFIX"] == _table_prefix(stage) == f"qrc-{stage}"


def test_every_table_is_named_with_the_stage_prefix(packaged):
    template = packaged["template"]
    prefix = _functions(template)["APIHandler"]["Environment"]["Variables"]["TABLE_PREFIX"]
    tables = _tables(template)
    assert tables
    for name in tables:
        assert isinstance(name, str) and name.startswith(f"{prefix}-"), name


def test_tables_are_exactly_the_models_tables(packaged):
    prefix = _table_prefix(packaged["stage"])
    in_template, in_models = sorted(_tables(packaged["template"])), sorted(_model_tables(prefix))
    assert in_template == in_models, f"infra/{packaged['stage']}.json tables differ from models.ALL_MODELS"


def test_table_schemas_match_the_models(packaged):
    tables = _tables(packaged["template"])
    for name, model in _model_tables(_table_prefix(packaged["stage"])).items():
        assert name in tables, f"{model.__name__}: no table {name} in infra/{packaged['stage']}.json"
        props = tables[name]["Properties"]
        schema = model._get_schema()
        assert _key_schema(props["KeySchema"]) == _key_schema(schema["key_schema"]), name
        assert sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]) == sorted(
            (a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]
        ), name
        assert _indexes(props.get("GlobalSecondaryIndexes")) == _indexes(schema["global_secondary_indexes"]), name
        assert _indexes(props.get("LocalSecondaryIndexes")) == _indexes(schema["local_secondary_indexes"]), name
        ttl = model._ttl_attribute()
        expected_ttl = {"AttributeName": ttl.attr_name, "Enabled": True} if ttl else None
        assert props.get("TimeToLiveSpecification") == expected_ttl, name


def test_tables_are_on_demand_encrypted_and_recoverable(packaged):
    protected = packaged["stage"] == "prod"
    for name, table in _tables(packaged["template"]).items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props.get("DeletionProtectionEnabled", False) is protected, name
        if protected:
            assert table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain", name


def test_functions_log_to_their_own_log_groups_only(packaged):
    # The policy is plain JSON, so it can only name log groups of functions whose names are
    # fixed: infra/<stage>.json sets FunctionName the way `chalice deploy` names them.
    stage, template = packaged["stage"], packaged["template"]
    functions = _functions(template)
    assert functions["APIHandler"]["FunctionName"] == f"{APP_NAME}-{stage}"
    names = [function.get("FunctionName") for function in functions.values()]
    for name in names:
        assert isinstance(name, str) and name.startswith(f"{APP_NAME}-{stage}"), name
    groups = [g["Properties"]["LogGroupName"] for g in _resources(template, "AWS::Logs::LogGroup").values()]
    assert sorted(groups) == sorted(f"/aws/lambda/{name}" for name in names)
    log_resources = {
        resource
        for statement in _statements(template)
        if any(action.startswith("logs:") for action in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"])
    }
    assert log_resources == {
        arn
        for name in names
        for arn in (
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{name}",
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{name}:*",
        )
    }


def test_policy_has_no_wildcard_actions_or_resources(packaged):
    for statement in _statements(packaged["template"]):
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        actions = _as_list(statement["Action"])
        for action in actions:
            assert "*" not in action, statement
        if "*" in _as_list(statement["Resource"]):
            assert set(actions) <= ACTIONS_WITHOUT_RESOURCE_LEVEL, statement


def test_dynamodb_grants_are_data_plane_on_this_stages_tables_only(packaged):
    table_models = _model_tables(_table_prefix(packaged["stage"]))
    allowed = {}
    for name, model in table_models.items():
        arn = f"arn:aws:dynamodb:*:*:table/{name}"
        allowed[arn] = name
        schema = model._get_schema()
        for index in schema["global_secondary_indexes"] + schema["local_secondary_indexes"]:
            allowed[f"{arn}/index/{index['index_name']}"] = name
    streams = {
        f"arn:aws:dynamodb:*:*:table/{name}/stream/*"
        for name, model in table_models.items()
        if getattr(model.Meta, "stream_view_type", None)
    }
    granted, granted_streams = set(), set()
    for statement in _statements(packaged["template"]):
        actions = _as_list(statement["Action"])
        dynamodb = [a for a in actions if a.startswith("dynamodb:")]
        if not dynamodb:
            continue
        assert dynamodb == actions, f"keep DynamoDB grants in their own statements: {statement}"
        if dynamodb == ["dynamodb:ListStreams"]:
            assert _as_list(statement["Resource"]) == ["*"], statement
            continue
        if set(dynamodb) & STREAM_READ_ACTIONS:
            assert set(dynamodb) <= STREAM_READ_ACTIONS, f"keep stream grants in their own statements: {statement}"
            for resource in _as_list(statement["Resource"]):
                assert resource in streams, f"{resource} is not the stream of a streamed table of this stage"
                granted_streams.add(resource)
            continue
        assert set(dynamodb) <= ALLOWED_DYNAMODB_ACTIONS, statement
        for resource in _as_list(statement["Resource"]):
            assert resource in allowed, f"{resource} is not a table (or index) of this stage's models"
            granted.add(allowed[resource])
    assert granted == set(table_models), "every model's table needs a grant in an infra/policies/<function>.json"
    assert granted_streams == streams, "every streamed table's stream needs the stream grants"


def _export_queue_name(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config["stages"][stage]["environment_variables"]["EXPORT_QUEUE_NAME"]


def test_export_queue_retries_into_a_dead_letter_queue_and_outlasts_the_worker(packaged):
    from chalicelib.services import exports

    stage, template = packaged["stage"], packaged["template"]
    queues = _resources(template, "AWS::SQS::Queue")
    assert set(queues) == {
        "ExportQueue",
        "ExportDeadLetterQueue",
        "StatsDeadLetterQueue",
        "WebhookQueue",
        "WebhookDeadLetterQueue",
        "WebhookOutboxDeadLetterQueue",
    }
    queue = queues["ExportQueue"]["Properties"]
    assert queue["QueueName"] == _export_queue_name(stage) == f"qrc-{stage}-exports"
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ExportDeadLetterQueue", "Arn"]},
        "maxReceiveCount": exports.MAX_RECEIVES,
    }
    worker = _functions(template)["ExportWorker"]
    assert worker["FunctionName"] == f"{APP_NAME}-{stage}-export_worker"
    # Lambda asks for a visibility timeout of six times the function timeout; the finishing
    # lease equals the function timeout, so a crashed finisher's lease is over by redelivery.
    assert worker["Timeout"] == exports.FINISH_LEASE.total_seconds() == 900
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    (event,) = worker["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["Queue"]["Fn::Sub"].endswith(
        f":sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue['QueueName']}"
    )
    for props in (q["Properties"] for q in queues.values()):
        assert props["SqsManagedSseEnabled"] is True
    for function in _functions(template).values():
        variables = function["Environment"]["Variables"]
        assert variables["EXPORT_QUEUE_URL"] == {"Ref": "ExportQueue"}
        assert variables["EXPORT_BUCKET"] == {"Ref": "ExportBucket"}


def test_export_bucket_is_private_encrypted_and_expires_its_files(packaged):
    from chalicelib.services import exports

    stage, template = packaged["stage"], packaged["template"]
    (bucket,) = _resources(template, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": f"qrc-{stage}-exports-${{AWS::AccountId}}"}
    assert all(
        props["PublicAccessBlockConfiguration"][flag] is True
        for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    rules = {rule.get("Prefix"): rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["exports/"]["ExpirationInDays"] == exports.KEEP_FILES.days
    assert rules["export-parts/"]["ExpirationInDays"] == 1
    assert rules[""]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    (policy,) = _resources(template, "AWS::S3::BucketPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_export_grants_name_only_this_stages_queue_and_bucket(packaged):
    stage = packaged["stage"]
    for statement in _statements(packaged["template"]):
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        if any(action.startswith("sqs:") for action in actions):
            if actions == ["sqs:SendMessage"] and set(resources) <= {
                f"arn:aws:sqs:*:*:{name.format(stage=stage)}" for name in EXTRA_SQS_SEND_QUEUES
            }:
                continue
            assert set(actions) <= {
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            }, statement
            assert resources in ([f"arn:aws:sqs:*:*:qrc-{stage}-exports"], [f"arn:aws:sqs:*:*:qrc-{stage}-webhooks"]), (
                statement
            )
        if any(action.startswith("s3:") for action in actions):
            assert set(actions) <= {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}, statement
            assert sorted(resources) == sorted(
                f"arn:aws:s3:::qrc-{stage}-exports-*/{prefix}/*" for prefix in ("exports", "export-parts")
            ), statement


def test_the_api_is_throttled_and_prod_has_a_rate_limiting_firewall(packaged):
    stage, template = packaged["stage"], packaged["template"]
    (api,) = _resources(template, "AWS::Serverless::Api").values()
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in api["Properties"]["MethodSettings"]}
    everything, sign_in = settings[("/*", "*")], settings[("/~1v1~1shopper~1otp", "POST")]
    assert 0 < everything["ThrottlingRateLimit"] <= everything["ThrottlingBurstLimit"]
    # Sign-in codes cost money per request: their route has a far lower ceiling of its own.
    assert 0 < sign_in["ThrottlingRateLimit"] * 10 <= everything["ThrottlingRateLimit"]
    acls = _resources(template, "AWS::WAFv2::WebACL")
    if stage != "prod":
        assert not acls
        return
    (acl,) = acls.values()
    assert acl["Properties"]["Scope"] == "REGIONAL" and acl["Properties"]["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    otp = rules["sign-in-codes-per-address"]["Statement"]["RateBasedStatement"]
    assert otp["AggregateKeyType"] == "IP" and otp["Limit"] <= 300
    assert otp["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/v1/shopper/otp"
    assert all("Block" in rule["Action"] for rule in rules.values())
    (association,) = _resources(template, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/api"
    }


# The deployment package: what the functions import, and not what the Lambda runtime has.
PACKAGE_ZIPPED_LIMIT = 15 * 1024 * 1024  # ours; Lambda's own are 50 MiB zipped, 250 MiB unpacked
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def test_the_package_is_under_15_mb_and_leaves_the_runtime_sdk_out(packaged):
    import zipfile

    size = packaged["zip"].stat().st_size
    assert size < PACKAGE_ZIPPED_LIMIT, f"deployment.zip is {size / 2**20:.1f} MiB"
    with zipfile.ZipFile(packaged["zip"]) as archive:
        names = archive.namelist()
        unpacked = sum(info.file_size for info in archive.infolist())
    assert unpacked < 250 * 1024 * 1024
    top = {name.split("/")[0] for name in names}
    assert not top & set(RUNTIME_PROVIDED), sorted(top & set(RUNTIME_PROVIDED))
    # Exactly the pinned distributions of requirements.txt, each at its pin.
    shipped = {
        entry.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-"): entry.removesuffix(
            ".dist-info"
        ).rsplit("-", 1)[1]
        for entry in top
        if entry.endswith(".dist-info")
    }
    assert shipped == requirement_pins("requirements.txt")
    assert {"app.py", "chalicelib", "chalice"} <= top


@pytest.fixture(scope="module")
def unpacked(packaged, tmp_path_factory) -> dict:
    """The package unpacked as Lambda's /var/task (sources dated 1980, as the zip has them), and
    the environment of a process that runs it: only the package and the runtime's SDK on its path."""
    import zipfile

    import botocore

    task = tmp_path_factory.mktemp(f"task-{packaged['stage']}")
    with zipfile.ZipFile(packaged["zip"]) as archive:
        archive.extractall(task)
    runtime = Path(botocore.__file__).resolve().parents[1]  # the runtime's SDK (not in the package)
    env = {
        "PATH": os.environ["PATH"],
        "STAGE": packaged["stage"],
        "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return {"task": task, "env": env}


def test_a_cold_start_loads_every_module_of_the_package_from_its_bytecode(unpacked):
    # Lambda's /var/task is read-only: a module without bytecode in the package would be
    # compiled from source on every cold start. Imported with no bytecode writes, nothing
    # of the package compiles.
    task = unpacked["task"]
    result = subprocess.run(
        [sys.executable, "-S", "-v", "-c", "import app, chalicelib.services.scans, chalicelib.services.campaigns"],
        cwd=task,
        env=unpacked["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # -v: "# code object from <file>.py" for a module compiled from its source, and
    # "# <pyc> matches <file>.py" for one loaded from its bytecode.
    compiled = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(f"# code object from {task}/") and line.endswith(".py")
    ]
    loaded = [line for line in result.stderr.splitlines() if line.startswith(f"# {task}") and " matches " in line]
    assert compiled == [], compiled[:5]
    assert {f"{task}/app.py", f"{task}/chalicelib/services/scans.py", f"{task}/chalice/app.py"} <= {
        line.rsplit(" matches ", 1)[1] for line in loaded
    }


# One call of each service the functions call, sent by the app's own botocore session and
# stopped before it leaves (a `before-send` handler): what botocore built from its data.
_SAMPLE_REQUESTS = """
import json, sys
from botocore.config import Config
from chalicelib.adapters import aws

CALLS = {
    "dynamodb": ("get_item", {"TableName": "t", "Key": {"k": {"S": "v"}}, "ConsistentRead": True}),
    "s3": ("get_object", {"Bucket": "qrc-prod-exports-1", "Key": "exports/x.csv"}),
    "sns": ("publish", {"PhoneNumber": "+15555550100", "Message": "m"}),
    "sqs": ("get_queue_url", {"QueueName": "q"}),
    "ssm": ("get_parameter", {"Name": "/qrc/key", "WithDecryption": True}),
}

class Sent(Exception):
    pass

def text(value):
    return value.decode() if isinstance(value, bytes) else value

def stop(request, **_):
    headers = {k: text(v) for k, v in request.headers.items() if k in ("Content-Type", "X-Amz-Target")}
    # How it was signed: the credential's scope (region and signing name) and the signed
    # headers, without the date and the signature that vary by the second.
    credential, signed, _ = text(request.headers["Authorization"]).split(", ")
    scope = credential.split("/", 2)[2]
    raise Sent(json.dumps([request.method, request.url, headers, text(request.body), scope, signed]))

seen = {}
for region in ("us-east-1", "ap-southeast-1"):
    for service in aws.SERVICES:
        client = aws.create_client(service, region, None, Config(retries={"max_attempts": 1}))
        client.meta.events.register("before-send", stop)
        method, params = CALLS[service]
        try:
            getattr(client, method)(**params)
        except Sent as sent:
            seen[f"{region} {service}"] = json.loads(str(sent))
print(json.dumps({"paths": aws.session().get_component("data_loader").search_paths, "sent": seen}))
"""


def _sample_requests(cwd: Path, env: dict[str, str]) -> dict:
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": "/dev/null"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", _SAMPLE_REQUESTS],
        cwd=cwd,
        env={**env, **credentials},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_the_packaged_botocore_data_builds_every_request_as_botocore_s_own(unpacked):
    """The package's cut of botocore's data (no directory scan, no endpoints of four hundred
    services on a cold start) makes, for every service the functions call, in two regions,
    exactly the request the runtime's full data makes."""
    import botocore

    from chalicelib.adapters import aws

    packaged = _sample_requests(unpacked["task"], unpacked["env"])
    assert packaged["paths"] == [str(unpacked["task"] / aws.DATA_DIR)]
    # The same calls from the working tree, which has no botocore_data/: botocore's own data.
    stock = _sample_requests(ROOT, {**unpacked["env"], "PYTHONPATH": os.pathsep.join(map(str, [ROOT, *sys.path[1:]]))})
    assert str(Path(botocore.__file__).resolve().parent / "data") in stock["paths"]
    assert len(packaged["sent"]) == 2 * len(aws.SERVICES)
    assert packaged["sent"] == stock["sent"]
    assert packaged["sent"]["ap-southeast-1 dynamodb"][1] == "https://dynamodb.ap-southeast-1.amazonaws.com/"


def test_the_services_the_package_carries_are_exactly_those_the_functions_call():
    from chalicelib.adapters import aws
    from tests.aws_calls import program

    called = set()
    for name, entries in _entry_points().items():
        calls, problems = program().calls_of(entries)
        assert not problems, f"{name}: " + "; ".join(problems)
        called |= {call.action.split(":")[0] for call in calls}
    assert called == set(aws.SERVICES)


# Alarms: each one publishes to the stage's one topic, and each resource the stack runs has
# the alarms that say it is failing. Derived from the packaged template, so a new function,
# table or dead-letter queue without its alarms fails here.
def _alarms(template: dict) -> list[dict]:
    alarms = [r["Properties"] for r in _resources(template, "AWS::CloudWatch::Alarm").values()]
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm["AlarmName"]
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}], alarm["AlarmName"]
        assert alarm["AlarmName"].startswith(f"qrc-{template['_stage']}-"), alarm["AlarmName"]
    return alarms


def _metrics_of(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, plain or inside metric math."""
    if "MetricName" in alarm:
        dimensions = alarm.get("Dimensions", [])  # none for a metric counted from a log
        return [(alarm["Namespace"], alarm["MetricName"], {d["Name"]: d["Value"] for d in dimensions})]
    return [
        (m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]})
        for m in (q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q)
    ]


def _watched(template: dict, namespace: str, metric: str, dimension: str) -> dict[str, dict]:
    """Dimension value (a Ref's logical id, or the literal) -> alarm, for alarms firing on any count above zero."""
    found = {}
    for alarm in _alarms(template):
        for ns, name, dimensions in _metrics_of(alarm):
            if (ns, name) == (namespace, metric) and dimension in dimensions:
                value = dimensions[dimension]
                key = value.get("Ref") or value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else value
                found[key] = alarm
    return found


def _dead_letter_queues(template: dict) -> set[str]:
    """Logical ids of every queue the stack sends failures to: redrive targets and event source destinations."""
    queues = set()
    for queue in _resources(template, "AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            queues.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for function in _functions(template).values():
        for event in function.get("Events", {}).values():
            destination = event["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination:
                queues.add(destination["Fn::GetAtt"][0])
    return queues


def test_every_function_table_dead_letter_queue_and_the_api_has_its_alarms(packaged):
    template = {**packaged["template"], "_stage": packaged["stage"]}
    for metric in ("Errors", "Throttles"):
        watched = _watched(template, "AWS/Lambda", metric, "FunctionName")
        missing = set(_functions(template)) - set(watched)
        assert not missing, f"functions without a Lambda {metric} alarm: {sorted(missing)}"
        for alarm in watched.values():
            assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 0
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    tables = set(_resources(template, "AWS::DynamoDB::Table"))
    reads = _watched(template, "AWS/DynamoDB", "ReadThrottleEvents", "TableName")
    writes = _watched(template, "AWS/DynamoDB", "WriteThrottleEvents", "TableName")
    assert tables - set(reads) == set() and tables - set(writes) == set(), "every table needs a throttle alarm"
    for table in tables:
        alarm = reads[table]
        assert alarm is writes[table] and alarm["Threshold"] == 0, table
        (expression,) = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData")]
        assert expression == "FILL(reads, 0) + FILL(writes, 0)", table
    dead_letters = _dead_letter_queues(template)
    assert dead_letters == {
        "ExportDeadLetterQueue",
        "StatsDeadLetterQueue",
        "WebhookDeadLetterQueue",
        "WebhookOutboxDeadLetterQueue",
    }
    waiting = _watched(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    for queue in dead_letters:
        assert queue in waiting, f"{queue}: no alarm for messages waiting"
        assert waiting[queue]["Threshold"] == 0 and waiting[queue]["ComparisonOperator"] == "GreaterThanThreshold"
    # The REST API's name (the app's) and its stage.
    api_dimensions = {"ApiName": APP_NAME, "Stage": "api"}
    (errors,) = [a for a in _alarms(template) if _metrics_of(a) == [("AWS/ApiGateway", "5XXError", api_dimensions)]]
    assert errors["Statistic"] == "Average" and 0 < errors["Threshold"] <= 0.05
    (latency,) = [a for a in _alarms(template) if _metrics_of(a) == [("AWS/ApiGateway", "Latency", api_dimensions)]]
    assert (
        latency["ExtendedStatistic"] == "p99"
        and latency["Threshold"] < 1000 * _functions(template)["APIHandler"]["Timeout"]
    )
    api = packaged["template"]["Resources"]["RestAPI"]["Properties"]
    assert api["DefinitionBody"]["info"]["title"] == APP_NAME and api["StageName"] == "api"


def test_a_winners_sms_given_up_raises_an_alarm_from_the_draw_runners_log(packaged):
    # The runner logs draw_sms_given_up when a winner's SMS used its last try (draw_notify).
    template = {**packaged["template"], "_stage": packaged["stage"]}
    filters = _resources(template, "AWS::Logs::MetricFilter").values()
    (given_up,) = [f["Properties"] for f in filters if "draw_sms_given_up" in f["Properties"]["FilterPattern"]]
    assert given_up["LogGroupName"] == {"Ref": "DrawRunnerLogGroup"}
    (metric,) = given_up["MetricTransformations"]
    (alarm,) = [
        a for a in _alarms(template) if _metrics_of(a) == [(metric["MetricNamespace"], metric["MetricName"], {})]
    ]
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 0 and metric["MetricValue"] == "1"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_alarms_go_to_one_topic_only_cloudwatch_may_publish_to_and_an_optional_email(packaged):
    template = packaged["template"]
    assert list(_resources(template, "AWS::SNS::Topic")) == ["AlarmTopic"]
    (policy,) = _resources(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sns:Publish"
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (subscription,) = _resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_every_schedule_the_app_declares_runs_its_handler_in_the_template(packaged):
    from chalice.app import ScheduledEventConfig

    import app

    stage, functions = packaged["stage"], _functions(packaged["template"])
    schedules = [s for s in app.app.event_sources if isinstance(s, ScheduledEventConfig)]
    assert schedules, "the app declares at least the loyalty review"
    by_handler = {props["Handler"]: props for props in functions.values()}
    for schedule in schedules:
        props = by_handler.get(schedule.handler_string)
        assert props is not None, f"no function runs {schedule.handler_string}"
        assert props["FunctionName"] == f"{APP_NAME}-{stage}-{schedule.name}"
        expression = schedule.schedule_expression
        expected = expression if isinstance(expression, str) else expression.to_string()
        events = [e["Properties"]["Schedule"] for e in props["Events"].values() if e["Type"] == "Schedule"]
        assert events == [expected], schedule.name


# One role per function, holding exactly what that function calls. The calls are read from
# the source (tests/aws_calls.py: from each entry point, what it can reach and which tables,
# indexes, parameters and services those functions use) and from the function's event
# sources in the template; each role must grant them all and nothing else. The calls the
# tests really make are checked too, each in the test that made it (tests/iam_recorder.py):
# that catches what this reader misreads; this test adds the paths no test runs, and least
# privilege, which no run of part of the suite can judge.
#
# A new table, index or call: add its grant to the policy source of each function that now
# makes it (infra/policies/<function>.json, one for both stages), and this test names what
# is missing. A new Lambda function (an @app.schedule such as a draw runner): give it
# `lambda_functions.<name>.iam_policy_file` in both stages of .chalice/config.json, a
# policy source with its log group and its calls, a FunctionName and log group in both
# templates, and its alarms.
STREAM_LIST_ACTION = "dynamodb:ListStreams"
SQS_CONSUMER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def _stage_config(stage: str) -> dict:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]


def _entry_points() -> dict[str, list[str]]:
    """Chalice's name of each Lambda function -> the dotted names of the code it starts in."""
    import inspect

    import app

    routes = sorted(
        f"{view.__module__}.{view.__name__}"
        for methods in app.app.routes.values()
        for view in (inspect.unwrap(entry.view_function) for entry in methods.values())
    )
    entries = {"api_handler": routes}
    for source in app.app.event_sources:
        entries[source.name] = [source.handler_string]
    return entries


def _handler_names(template: dict) -> dict[str, str]:
    """Logical id of each function -> Chalice's name of it (api_handler for the routes)."""
    by_handler = {"app.app": "api_handler", **{h[0]: n for n, h in _entry_points().items() if n != "api_handler"}}
    return {logical: by_handler[props["Handler"]] for logical, props in _functions(template).items()}


def _role_pairs(template: dict, function: dict) -> set[tuple[str, str]]:
    role = template["Resources"][function["Role"]["Fn::GetAtt"][0]]
    return {
        (action, resource)
        for policy in role["Properties"]["Policies"]
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


def _needed_pairs(stage: str, template: dict, logical: str, name: str) -> tuple[set[tuple[str, str]], list[str]]:
    """What the function's role must grant: its code's calls, its event sources' reads, its logs."""
    from tests.aws_calls import program

    config = _stage_config(stage)
    variables = {
        **json.loads((ROOT / ".chalice" / "config.json").read_text())["environment_variables"],
        **config["environment_variables"],
        **config.get("lambda_functions", {}).get(name, {}).get("environment_variables", {}),
    }
    calls, problems = program().calls_of(_entry_points()[name])
    needed: set[tuple[str, str]] = set()
    for call in calls:
        pair = _resource_of_call(stage, variables, call)
        if pair is None:
            problems.append(f"no resource rule for {call.action}")
        else:
            needed.update(pair)
    function = template["Resources"][logical]["Properties"]
    needed |= _event_source_pairs(template["Resources"], function)
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function['FunctionName']}"
    needed.update((action, arn) for action in LOG_ACTIONS for arn in (group, f"{group}:*"))
    return needed, problems


def _resource_of_call(stage: str, variables: dict[str, str], call) -> set[tuple[str, str]] | None:
    """The (action, resource) pairs one call of the code needs; None for a service without a rule."""
    service = call.action.split(":")[0]
    if service == "dynamodb":
        arn = f"arn:aws:dynamodb:*:*:table/{variables['TABLE_PREFIX']}-{call.target}"
        return {(call.action, f"{arn}/index/{call.index}" if call.index else arn)}
    if service == "ssm":
        parameter = variables.get(call.target.upper())
        # unset: the secret comes in the environment instead
        return {(call.action, f"arn:aws:ssm:*:*:parameter{parameter}")} if parameter else set()
    if service == "sqs":
        queue = variables["WEBHOOK_QUEUE_NAME" if call.target == "webhook" else "EXPORT_QUEUE_NAME"]
        return {(call.action, f"arn:aws:sqs:*:*:{queue}")}
    if service == "s3":
        return {(call.action, f"arn:aws:s3:::qrc-{stage}-exports-*/{part}/*") for part in ("exports", "export-parts")}
    if service == "sns":
        return {(call.action, "*")}  # texts to phone numbers, which are no ARN
    return None


def _event_source_pairs(resources: dict, function: dict) -> set[tuple[str, str]]:
    """What the function's event sources read (its queue, its table's stream) and where its failures go."""
    needed: set[tuple[str, str]] = set()
    for event in function.get("Events", {}).values():
        props = event["Properties"]
        if event["Type"] == "SQS":
            name_of_queue = props["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
            needed.update((action, f"arn:aws:sqs:*:*:{name_of_queue}") for action in SQS_CONSUMER_ACTIONS)
        elif event["Type"] == "DynamoDB":
            table = resources[props["Stream"]["Fn::GetAtt"][0]]["Properties"]["TableName"]
            needed.update((action, f"arn:aws:dynamodb:*:*:table/{table}/stream/*") for action in STREAM_READ_ACTIONS)
            needed.add((STREAM_LIST_ACTION, "*"))
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            failed = resources[destination["Fn::GetAtt"][0]]["Properties"]["QueueName"]
            needed.add(("sqs:SendMessage", f"arn:aws:sqs:*:*:{failed}"))
    return needed


def test_every_function_has_a_policy_file_of_its_own_in_every_stage(packaged):
    stage = packaged["stage"]
    config = _stage_config(stage)
    assert "iam_policy_file" not in config, "no stage-wide policy: a function without its own would inherit it"
    names = set(_handler_names(packaged["template"]).values())
    files = {name: config.get("lambda_functions", {}).get(name, {}).get("iam_policy_file") for name in names}
    assert files == {name: f"policy-{stage}-{name}.json" for name in names}
    roles = [function["Role"]["Fn::GetAtt"][0] for function in _functions(packaged["template"]).values()]
    assert len(set(roles)) == len(roles), "two functions share a role"


def test_each_role_grants_exactly_the_calls_its_function_makes(packaged):
    stage, template = packaged["stage"], packaged["template"]
    failures = []
    for logical, name in sorted(_handler_names(template).items()):
        needed, problems = _needed_pairs(stage, template, logical, name)
        assert not problems, f"{name}: the calls could not all be read:\n" + "\n".join(problems)
        granted = _role_pairs(template, _functions(template)[logical])
        policy = f"infra/policies/{name}.json ({stage})"
        failures += [f"{policy} lacks {action} on {resource}" for action, resource in sorted(needed - granted)]
        failures += [
            f"{policy} grants {action} on {resource}, which {name} never calls"
            for action, resource in sorted(granted - needed)
        ]
    assert failures == [], "\n".join(failures)


def test_the_call_reader_sees_a_table_a_function_would_reach(tmp_path):
    """The reader is not a list: a new route's PynamoDB call shows as a new call of the API's."""
    from tests.aws_calls import Call, Program

    for part in ("app.py", "chalicelib"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, tmp_path / part, ignore=shutil.ignore_patterns("build", "__pycache__"))
        else:
            shutil.copy(source, tmp_path / part)
    app_source = (tmp_path / "app.py").read_text()
    app_source += (
        "\n\n@api('/v1/audit-probe')\ndef audit_probe():\n"
        "    from chalicelib.adapters.models import AuditEvent\n"
        "    return {'n': AuditEvent.count('x')}\n"
    )
    (tmp_path / "app.py").write_text(app_source)
    changed = Program(tmp_path)
    calls, problems = changed.calls_of(["app.audit_probe"])
    assert Call("dynamodb:Query", "audit") in calls and not problems
    # And an instance's model is followed through a helper's return annotation.
    helper = (
        "\n\ndef _probe_load(key: str) -> Member:\n    return Member.get(key, key)\n\n"
        "@api('/v1/member-probe', methods=('POST',))\ndef member_probe():\n"
        "    member = _probe_load('k')\n    member.delete(condition=Member.balance.exists())\n    return {}\n"
    )
    (tmp_path / "app.py").write_text(app_source + "\nfrom chalicelib.adapters.models import Member\n" + helper)
    calls, problems = Program(tmp_path).calls_of(["app.member_probe"])
    assert {Call("dynamodb:GetItem", "members"), Call("dynamodb:DeleteItem", "members")} <= calls and not problems
    # A batch read's tables are the keys of its RequestItems, whether written in the dict or set on it later.
    batch_probe = (
        "\n\n@api('/v1/batch-probe')\ndef batch_probe():\n"
        "    from chalicelib.adapters import dynamo\n"
        "    from chalicelib.adapters.models import Reward, ShopperAccount\n"
        "    keys = {Reward.Meta.table_name: {'Keys': []}}\n"
        "    keys[ShopperAccount.Meta.table_name] = {'Keys': []}\n"
        "    return dynamo.client().batch_get_item(RequestItems=keys)\n"
    )
    (tmp_path / "app.py").write_text(app_source + batch_probe)
    calls, problems = Program(tmp_path).calls_of(["app.batch_probe"])
    assert calls == {Call("dynamodb:BatchGetItem", "rewards"), Call("dynamodb:BatchGetItem", "shoppers")}
    assert not problems
    # A record a shared helper saves for its caller counts only for the functions that reach that caller.
    shared_save = (
        "\n\nfrom chalicelib.adapters.models import Reward, ShopperAccount\n"
        "def _probe_save(record) -> None:\n    record.save(condition=None)\n\n"
        "@api('/v1/reward-probe', methods=('POST',))\ndef reward_probe():\n"
        "    _probe_save(Reward('b', 'r'))\n    return {}\n\n"
        "@api('/v1/account-probe', methods=('POST',))\ndef account_probe():\n"
        "    _probe_save(ShopperAccount('s'))\n    return {}\n"
    )
    (tmp_path / "app.py").write_text(app_source + shared_save)
    shared = Program(tmp_path)
    rewards, problems = shared.calls_of(["app.reward_probe"])
    assert Call("dynamodb:PutItem", "rewards") in rewards and Call("dynamodb:PutItem", "shoppers") not in rewards
    accounts, more = shared.calls_of(["app.account_probe"])
    assert Call("dynamodb:PutItem", "shoppers") in accounts and Call("dynamodb:PutItem", "rewards") not in accounts
    assert not problems and not more


def _log_matches(pattern: str, line: dict) -> bool:
    """Whether a CloudWatch Logs JSON filter pattern of `$.field = value` terms joined by `&&` matches a line."""
    import re

    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    terms = [term.strip() for term in body[1:-1].split("&&")]
    for term in terms:
        found = re.fullmatch(r'\$\.(\w+) = (?:"([^"]*)"|(\d+))', term)
        assert found, f"a term this check cannot read: {term}"
        field, text, number = found.groups()
        if line.get(field) != (text if text is not None else int(number)):
            return False
    return True


def test_the_breach_alarms_count_the_log_lines_the_api_writes(packaged, api, caplog):
    # What the three breach-watch alarms count must be what the API really logs: an operator's view of
    # clear personal data, a request refused for its token, and a shopper's "my data" downloaded.
    import logging

    from chalicelib.services import audit
    from tests.support import shopper_token

    template = {**packaged["template"], "_stage": packaged["stage"]}
    filters = {
        name.removesuffix("MetricFilter"): resource["Properties"]
        for name, resource in _resources(template, "AWS::Logs::MetricFilter").items()
    }
    watched = {"ClearDataViews", "RefusedTokens", "MyDataDownloads"}
    assert watched <= set(filters)
    for name in watched:
        assert filters[name]["LogGroupName"] == {"Ref": "APIHandlerLogGroup"}
        (metric,) = filters[name]["MetricTransformations"]
        (alarm,) = [a for a in _alarms(template) if _metrics_of(a) == [(metric["MetricNamespace"], name, {})]]
        assert (
            alarm["Statistic"] == "Sum" and alarm["Threshold"] > 0 and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        )
        assert "A personal data breach" in alarm["AlarmDescription"]
    with caplog.at_level(logging.INFO):
        audit.record("brand-a", "owner-1", "phones_viewed", "cmp_x", {"where": "participants", "numbers": 3})
        audit.record("brand-a", "owner-1", "campaign_changed", "cmp_x", {})
        api.json("GET", "/v1/me/data", token=shopper_token())
        api.call("GET", "/v1/me/data", token="not-a-token")
        api.json("GET", "/v1/campaigns")
    lines = []
    for record in caplog.records:
        try:
            lines.append(json.loads(record.getMessage()))
        except ValueError:
            continue
    counted = {name: [line for line in lines if _log_matches(filters[name]["FilterPattern"], line)] for name in watched}
    assert [(line["action"], line["brand_id"]) for line in counted["ClearDataViews"]] == [("phones_viewed", "brand-a")]
    assert [line["route"] for line in counted["RefusedTokens"]] == ["/v1/me/data"]
    assert [line["status"] for line in counted["MyDataDownloads"]] == [200]


def _matches(pattern: object, event: object) -> bool:
    """Whether a Lambda event filter pattern (exact values only, as ours uses) lets `event` through."""
    if isinstance(pattern, list):
        return event in pattern
    if not isinstance(pattern, dict) or not isinstance(event, dict):
        return False
    return all(key in event and _matches(value, event[key]) for key, value in pattern.items())


def test_the_stream_filter_lets_every_record_the_aggregator_counts_through(packaged):
    """Refusals are counted (and feed the integrity signals) from the same stream as claims: a filter
    that passed claims only left every refusal counter at 0 in AWS, while the local worker, which
    applies no filter, counted them."""
    (function,) = [f for name, f in _functions(packaged["template"]).items() if name == "StatsAggregator"]
    (source,) = function["Events"].values()
    patterns = [json.loads(f["Pattern"]) for f in source["Properties"]["FilterCriteria"]["Filters"]]

    def record(event_name: str, state: str) -> dict:
        return {"eventName": event_name, "dynamodb": {"NewImage": {"state": {"S": state}, "campaign_id": {"S": "c"}}}}

    def passes(event: dict) -> bool:
        return any(_matches(p, event) for p in patterns)

    for state in ("claimed", "refused"):
        assert passes(record("INSERT", state)), state
    assert not passes(record("INSERT", "void")) and not passes(record("MODIFY", "claimed"))
