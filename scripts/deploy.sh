#!/usr/bin/env bash
# Package and deploy one stage as the CloudFormation stack qr-campaigns-<stage>.
#
#   scripts/deploy.sh <stage> [--dry-run] [--artifact-bucket NAME] [--region REGION]
#                             [--alarm-email ADDRESS] [--review] [--build-dir DIR]
#
# Every check comes before any change: the stage, the region, the artifact bucket, AWS
# credentials and every SSM parameter the stage's config names (*_PARAMETER). Then
# scripts/package_stage.py (`chalice package` with PIP_NO_DEPS=1, from a fresh copy of the
# project, so no build an earlier run cached in .chalice/deployments/ is reused, with each
# function's IAM policy written there from infra/policies/),
# scripts/finish_package.py (the package's bytecode and botocore data, for fast cold
# starts; it refuses a package carrying boto3 or botocore), `aws cloudformation package` and
# `aws cloudformation deploy`, which applies one change set and rolls it back whole if
# any resource fails. --dry-run checks the stage and its config without AWS and prints
# the commands it would run. docs/operations.md has the runbook.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
    sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
}
fail() {
    echo "deploy: $*" >&2
    exit 2
}

STAGE=""
DRY_RUN=0
REVIEW=0
BUCKET="${QRC_ARTIFACT_BUCKET:-}"
BUCKET_FROM="QRC_ARTIFACT_BUCKET"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
ALARM_EMAIL="${QRC_ALARM_EMAIL:-}"
BUILD_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --review) REVIEW=1 ;;
        --artifact-bucket) BUCKET="${2:?--artifact-bucket needs a bucket name}"; BUCKET_FROM="--artifact-bucket"; shift ;;
        --region) REGION="${2:?--region needs a region}"; shift ;;
        --alarm-email) ALARM_EMAIL="${2:?--alarm-email needs an address}"; shift ;;
        --build-dir) BUILD_DIR="${2:?--build-dir needs a directory}"; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage; fail "unknown option $1" ;;
        *) [ -z "$STAGE" ] || fail "one stage only (got '$STAGE' and '$1')"; STAGE="$1" ;;
    esac
    shift
done
[ -n "$STAGE" ] || { usage; fail "name a stage"; }

PYTHON="$ROOT/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)" || fail "python3 is needed to read .chalice/config.json"

# The stage must be in .chalice/config.json and have a merge template; prints the SSM
# parameter names its functions read, one a line.
PARAMETERS="$("$PYTHON" - "$STAGE" <<'EOF'
import json, pathlib, sys

stage = sys.argv[1]
config = json.loads(pathlib.Path(".chalice/config.json").read_text())
deployable = sorted(name for name in config.get("stages", {}) if pathlib.Path(f"infra/{name}.json").is_file())
if stage not in deployable:
    known = "is not a stage in .chalice/config.json" if stage not in config.get("stages", {}) else "has no infra/<stage>.json (it is never deployed)"
    sys.exit(f"deploy: stage '{stage}' {known}; deployable stages: {', '.join(deployable)}")
scopes = [config, config["stages"][stage], *config["stages"][stage].get("lambda_functions", {}).values()]
names = {value for scope in scopes for key, value in scope.get("environment_variables", {}).items() if key.endswith("_PARAMETER")}
print("\n".join(sorted(names)))
EOF
)" || exit 2

[ -n "$REGION" ] || fail "no region: pass --region or set AWS_REGION"
[ -n "$BUCKET" ] || fail "no artifact bucket: pass --artifact-bucket or set QRC_ARTIFACT_BUCKET (an S3 bucket in $REGION for the code packages)"
BUILD_DIR="${BUILD_DIR:-build/$STAGE}"
STACK="qr-campaigns-$STAGE"

CHALICE="$(command -v chalice || true)"
[ -n "$CHALICE" ] || CHALICE="$ROOT/.venv/bin/chalice"

PACKAGE=("$PYTHON" scripts/package_stage.py "$STAGE" "$BUILD_DIR" --chalice "$CHALICE")
FINISH=("$PYTHON" scripts/finish_package.py "$BUILD_DIR")
UPLOAD=(aws cloudformation package --region "$REGION" --template-file "$BUILD_DIR/sam.json"
    --s3-bucket "$BUCKET" --s3-prefix "qr-campaigns/$STAGE" --use-json
    --output-template-file "$BUILD_DIR/packaged.json")
DEPLOY=(aws cloudformation deploy --region "$REGION" --stack-name "$STACK"
    --template-file "$BUILD_DIR/packaged.json" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND
    --no-fail-on-empty-changeset)
[ -z "$ALARM_EMAIL" ] || DEPLOY+=(--parameter-overrides "AlarmEmail=$ALARM_EMAIL")
[ "$REVIEW" = 0 ] || DEPLOY+=(--no-execute-changeset)
ENDPOINT=(aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK"
    --query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue" --output text)

show() {
    printf '%q ' "$@" | sed 's/ $//'
    echo
}

if [ "$DRY_RUN" = 1 ]; then
    echo "# stage $STAGE, stack $STACK, region $REGION, artifacts s3://$BUCKET/qr-campaigns/$STAGE (from $BUCKET_FROM)"
    echo "# checks: AWS credentials, then each SSM parameter exists:"
    show aws sts get-caller-identity --region "$REGION"
    while IFS= read -r name; do
        [ -z "$name" ] || show aws ssm get-parameter --region "$REGION" --name "$name" --query Parameter.Type --output text
    done <<<"$PARAMETERS"
    show "${PACKAGE[@]}"
    show "${FINISH[@]}"
    show "${UPLOAD[@]}"
    show "${DEPLOY[@]}"
    show "${ENDPOINT[@]}"
    exit 0
fi

command -v aws >/dev/null || fail "the AWS CLI (aws) is not installed: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
aws sts get-caller-identity --region "$REGION" >/dev/null 2>&1 \
    || fail "no AWS credentials (aws sts get-caller-identity failed): set AWS_PROFILE or sign in, then run again; nothing was changed"

missing=()
while IFS= read -r name; do
    [ -z "$name" ] && continue
    # The type only: the value (a secret) is never fetched or printed.
    aws ssm get-parameter --region "$REGION" --name "$name" --query Parameter.Type --output text >/dev/null 2>&1 \
        || missing+=("$name")
done <<<"$PARAMETERS"
if [ ${#missing[@]} -gt 0 ]; then
    printf 'deploy: missing SSM parameter (or not readable with these credentials): %s\n' "${missing[@]}" >&2
    fail "create each as a SecureString (docs/operations.md, Deploy) and run again; nothing was changed"
fi

echo "deploy: packaging $STAGE into $BUILD_DIR"
"${PACKAGE[@]}"
# Lambda's /var/task is read-only: bytecode not in the package is compiled on every cold
# start; and the runtime's botocore scans the data of every AWS service for the first client.
"${FINISH[@]}"
echo "deploy: uploading the code to s3://$BUCKET/qr-campaigns/$STAGE (bucket from $BUCKET_FROM)"
"${UPLOAD[@]}"
echo "deploy: applying the change set to $STACK (CloudFormation rolls back on any failure)"
"${DEPLOY[@]}"
if [ "$REVIEW" = 1 ]; then
    echo "deploy: change set created, not executed: review it, then aws cloudformation execute-change-set"
    exit 0
fi
echo "API URL: $("${ENDPOINT[@]}")"
