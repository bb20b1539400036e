#!/usr/bin/env bash
# Prints the path of Debian's Chromium, for the browser test (jupyter/tests/python/test_browser.py,
# which drives it through Playwright). The package `chromium` is installed with apt-get when it is
# missing (CI and the developers' machines run as root); Playwright never downloads a browser.
set -euo pipefail
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
    echo "installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium >&2
fi
echo "$chromium"
