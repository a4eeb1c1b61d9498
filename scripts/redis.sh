# Sourced by scripts/test: the Redis tests start their own private redis-server, so make
# sure the binary is there (installed from the system packages when we may), unless
# FACADE_TEST_REDIS_URL names a server to use instead.
if [ -z "${FACADE_TEST_REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing redis-server for the Redis tests" >&2
        { apt-get install -y -qq redis-server || { apt-get update -qq &&
            apt-get install -y -qq redis-server; }; } >/dev/null 2>&1 ||
            echo "warning: could not install redis-server; the Redis tests will be skipped" >&2
    else
        echo "note: no redis-server and no FACADE_TEST_REDIS_URL; the Redis tests will be" \
            "skipped (install redis-server to run them)" >&2
    fi
fi
