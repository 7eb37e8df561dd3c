# Sourced by scripts/test and scripts/demo: make sure uv is on PATH (install it for
# this user if it is missing), then sync the locked environment.
if ! command -v uv >/dev/null 2>&1; then
    export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
    echo "uv is missing: installing it for this user with pip" >&2
    python3 -m pip install --user --quiet uv \
        || python3 -m pip install --user --quiet --break-system-packages uv
fi
uv sync --locked --quiet
