# Sourced by scripts/test and scripts/demo: find uv (install it for this user with
# pip if it is missing), then sync the locked environment. Sets UV to the command
# that runs uv.
export PATH="$HOME/.local/bin:$PATH"
if command -v uv >/dev/null 2>&1; then
    UV="uv"
else
    if ! python3 -m uv --version >/dev/null 2>&1; then
        echo "uv is missing: installing it for this user with pip" >&2
        python3 -m pip install --user --quiet uv \
            || python3 -m pip install --user --quiet --break-system-packages uv
    fi
    # The package may already be installed without its script on PATH.
    if command -v uv >/dev/null 2>&1; then UV="uv"; else UV="python3 -m uv"; fi
fi
$UV sync --locked --quiet
