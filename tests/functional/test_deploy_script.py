"""scripts/deploy.sh checks everything before changing anything, then packages and deploys in order.

`aws` and `chalice` are stand-ins on PATH: small scripts that record their arguments and
answer like the real tools (credentials, SSM parameters present or not, the package
step writing its template), so no AWS account and no slow package build are needed.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.adapters import aws

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy.sh"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

# Records each call as one JSON line, then answers: sts succeeds only with FAKE_CREDENTIALS=1,
# ssm get-parameter only for names in FAKE_PARAMETERS, the package step writes its output.
FAKE_AWS = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["aws", *args]) + "\\n")
def option(name):
    return args[args.index(name) + 1]
if args[:2] == ["sts", "get-caller-identity"]:
    if os.environ.get("FAKE_CREDENTIALS") != "1":
        sys.exit("Unable to locate credentials. You can configure credentials by running \\"aws configure\\".")
    print(json.dumps({"Account": "123456789012"}))
elif args[:2] == ["ssm", "get-parameter"]:
    if option("--name") not in os.environ.get("FAKE_PARAMETERS", "").split(","):
        sys.exit("An error occurred (ParameterNotFound) when calling the GetParameter operation")
    print("SecureString")
elif args[:2] == ["cloudformation", "package"]:
    open(option("--output-template-file"), "w").write(open(option("--template-file")).read())
elif args[:2] == ["cloudformation", "describe-stacks"]:
    print("https://abc123.execute-api.eu-west-1.amazonaws.com/api/")
"""

# Writes what `chalice package` does: a template whose function runs this Python, and a zip;
# records, beside its arguments, what the project it was pointed at holds.
FAKE_CHALICE = f"""#!/usr/bin/env python3
import json, os, pathlib, sys, zipfile
project = pathlib.Path(sys.argv[sys.argv.index("--project-dir") + 1])
seen = {{name: (project / name).exists() for name in ("app.py", "chalicelib", ".chalice/config.json", ".chalice/deployments")}}
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["chalice", *sys.argv[1:], "PIP_NO_DEPS=" + os.environ.get("PIP_NO_DEPS", ""), seen]) + "\\n")
out = pathlib.Path(sys.argv[-1])
out.mkdir(parents=True, exist_ok=True)
function = {{"Type": "AWS::Serverless::Function", "Properties": {{"Runtime": "{RUNTIME}"}}}}
(out / "sam.json").write_text(json.dumps({{"Resources": {{"APIHandler": function}}}}))
with zipfile.ZipFile(out / "deployment.zip", "w") as package:
    package.writestr("app.py", "answer = 42\\n")
"""


def _stage_parameters(stage: str) -> list[str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    variables = config["stages"][stage]["environment_variables"]
    return sorted(value for key, value in variables.items() if key.endswith("_PARAMETER"))


@pytest.fixture
def fakes(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("chalice", FAKE_CHALICE)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "QRC_")) and key != "PIP_NO_DEPS"
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_LOG=str(log), AWS_REGION="eu-west-1")
    build = tmp_path / "build"

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *args, "--build-dir", str(build)],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return run, calls, build


def test_an_unknown_stage_is_named_with_the_stages_there_are_and_nothing_runs(fakes):
    run, calls, _ = fakes
    result = run("staging", "--artifact-bucket", "artifacts", FAKE_CREDENTIALS="1")
    assert result.returncode != 0
    assert "stage 'staging' is not a stage in .chalice/config.json" in result.stderr
    assert "deployable stages: dev, prod" in result.stderr
    assert calls() == []


def test_the_local_stage_is_refused_as_never_deployed(fakes):
    run, calls, _ = fakes
    result = run("local", "--artifact-bucket", "artifacts", FAKE_CREDENTIALS="1")
    assert result.returncode != 0 and "never deployed" in result.stderr
    assert calls() == []


def test_without_credentials_it_says_so_and_stops_after_asking_sts(fakes):
    run, calls, _ = fakes
    result = run("dev", "--artifact-bucket", "artifacts")
    assert result.returncode != 0
    assert "no AWS credentials" in result.stderr and "nothing was changed" in result.stderr
    assert [call[1:3] for call in calls()] == [["sts", "get-caller-identity"]]


def test_without_an_artifact_bucket_it_names_the_flag_and_the_variable(fakes):
    run, calls, _ = fakes
    result = run("dev", FAKE_CREDENTIALS="1")
    assert result.returncode != 0
    assert "--artifact-bucket" in result.stderr and "QRC_ARTIFACT_BUCKET" in result.stderr
    assert calls() == []


def test_a_missing_ssm_parameter_is_named_and_no_cloudformation_call_is_made(fakes):
    run, calls, _ = fakes
    present, *absent = _stage_parameters("dev")
    assert absent, "the dev stage reads more than one SSM parameter"
    result = run("dev", "--artifact-bucket", "artifacts", FAKE_CREDENTIALS="1", FAKE_PARAMETERS=present)
    assert result.returncode != 0
    for name in absent:
        assert f"missing SSM parameter (or not readable with these credentials): {name}" in result.stderr
    assert present not in result.stderr
    made = calls()
    assert {call[0] for call in made} == {"aws"}
    assert {call[1] for call in made} == {"sts", "ssm"}
    assert sorted(call[call.index("--name") + 1] for call in made if call[1] == "ssm") == _stage_parameters("dev")


def test_with_everything_present_it_packages_uploads_deploys_and_prints_the_url(fakes):
    run, calls, build = fakes
    parameters = ",".join(_stage_parameters("prod"))
    result = run(
        "prod",
        "--alarm-email",
        "ops@example.com",
        FAKE_CREDENTIALS="1",
        FAKE_PARAMETERS=parameters,
        QRC_ARTIFACT_BUCKET="artifacts",
    )
    assert result.returncode == 0, result.stderr
    assert "API URL: https://abc123.execute-api.eu-west-1.amazonaws.com/api/" in result.stdout
    assert "bucket from QRC_ARTIFACT_BUCKET" in result.stdout
    # What is uploaded holds the bytecode of every module (Lambda cannot write it) and
    # botocore's data for the services the functions call.
    with zipfile.ZipFile(build / "deployment.zip") as package:
        names = package.namelist()
    assert sorted(name for name in names if not name.startswith(f"{aws.DATA_DIR}/")) == [
        f"__pycache__/app.{sys.implementation.cache_tag}.pyc",
        "app.py",
    ]
    assert f"{aws.DATA_DIR}/dynamodb/2012-08-10/service-2.json" in names
    assert "finish_package: 1 modules compiled" in result.stdout
    made = [call for call in calls() if call[1] not in ("sts", "ssm")]
    # chalice packages a fresh copy of the project, gone afterwards: no build cached in the
    # checkout's .chalice/deployments/ by an earlier run can be reused.
    project = Path(made[0][2])
    assert project != ROOT and not project.exists()
    assert made[0][-1] == {
        "app.py": True,
        "chalicelib": True,
        ".chalice/config.json": True,
        ".chalice/deployments": False,
    }
    assert made == [
        [
            "chalice",
            "--project-dir",
            str(project),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            "infra/prod.json",
            str(build),
            "PIP_NO_DEPS=1",
            made[0][-1],
        ],
        [
            "aws",
            "cloudformation",
            "package",
            "--region",
            "eu-west-1",
            "--template-file",
            f"{build}/sam.json",
            "--s3-bucket",
            "artifacts",
            "--s3-prefix",
            "qr-campaigns/prod",
            "--use-json",
            "--output-template-file",
            f"{build}/packaged.json",
        ],
        [
            "aws",
            "cloudformation",
            "deploy",
            "--region",
            "eu-west-1",
            "--stack-name",
            "qr-campaigns-prod",
            "--template-file",
            f"{build}/packaged.json",
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            "AlarmEmail=ops@example.com",
        ],
        [
            "aws",
            "cloudformation",
            "describe-stacks",
            "--region",
            "eu-west-1",
            "--stack-name",
            "qr-campaigns-prod",
            "--query",
            "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue",
            "--output",
            "text",
        ],
    ]
    # Every check came before the first change.
    kinds = ["package" if call[0] == "chalice" else call[1] for call in calls()]
    assert kinds.index("package") > max(i for i, kind in enumerate(kinds) if kind in ("sts", "ssm"))


def test_a_dry_run_needs_no_credentials_and_prints_the_commands_it_would_run(fakes):
    run, calls, build = fakes
    result = run("dev", "--dry-run", "--artifact-bucket", "artifacts")
    assert result.returncode == 0, result.stderr
    assert calls() == []
    commands = [shlex.split(line) for line in result.stdout.splitlines() if not line.startswith("#")]
    assert [command[:3] for command in commands] == [
        ["aws", "sts", "get-caller-identity"],
        *[["aws", "ssm", "get-parameter"]] * len(_stage_parameters("dev")),
        [commands[len(_stage_parameters("dev")) + 1][0], "scripts/package_stage.py", "dev"],
        [commands[len(_stage_parameters("dev")) + 2][0], "scripts/finish_package.py", str(build)],
        ["aws", "cloudformation", "package"],
        ["aws", "cloudformation", "deploy"],
        ["aws", "cloudformation", "describe-stacks"],
    ]
    package = commands[len(_stage_parameters("dev")) + 1]
    assert package[3:5] == [str(build), "--chalice"] and Path(package[5]).name == "chalice"
    deploy = commands[-2]
    assert "--no-fail-on-empty-changeset" in deploy and deploy[deploy.index("--stack-name") + 1] == "qr-campaigns-dev"
    assert "from --artifact-bucket" in result.stdout


def test_a_dry_run_still_refuses_an_unknown_stage(fakes):
    run, calls, _ = fakes
    result = run("qa", "--dry-run", "--artifact-bucket", "artifacts")
    assert result.returncode != 0 and "stage 'qa'" in result.stderr
    assert result.stdout == ""
