# syntax=docker/dockerfile:1
#
# Production image of the order execution engine (`oee`).
#
#   docker build -t oee .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=... -e REDIS_URL=... oee            # the HTTP API
#   docker run --rm -e DATABASE_URL=... -e REDIS_URL=... oee oee worker              # a queue worker
#   docker run --rm -e DATABASE_URL=... oee oee migrate                              # alembic upgrade head
#
# Every dependency ships as a manylinux wheel, so the slim base needs no compiler and no apt packages.
# The base is pinned by digest: python:3.11-slim (Python 3.11.15 on Debian trixie), the multi-platform index.
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

# The git commit the image is built from, shown by oee_build_info on /metrics (docker-compose.yml passes
# OEE_GIT_COMMIT: docker compose build --build-arg GIT_COMMIT="$(git rev-parse --short=12 HEAD)").
ARG GIT_COMMIT=unknown

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    OEE_DATA_DIR=/var/lib/oee

# An unprivileged user (uid/gid 10001) that owns nothing but the data folder: the embedded servers' data
# (when DATABASE_URL/REDIS_URL are unset), the worker's and watcher's heartbeats, and metrics/, where Compose
# mounts the volume the API and the workers share (a new named volume takes this folder's owner).
RUN groupadd --system --gid 10001 oee \
    && useradd --system --uid 10001 --gid oee --home-dir /home/oee --create-home --shell /usr/sbin/nologin oee \
    && mkdir -p /var/lib/oee/metrics \
    && chown -R oee:oee /var/lib/oee

WORKDIR /app

# What `pip install .` needs (README.md is the project's readme; the wildcard keeps a missing one from
# failing the COPY), plus alembic.ini and migrations/ for `oee migrate`.
COPY pyproject.toml README.md* ./
COPY kernel ./kernel
COPY adapters ./adapters
COPY wallets ./wallets
COPY engine ./engine
COPY localnet ./localnet
COPY tools ./tools
COPY alembic.ini ./alembic.ini
COPY migrations ./migrations

# `engine.runtime.run_migrations` looks for alembic.ini and migrations/ next to the installed `engine`
# package (its parent folder, i.e. site-packages); link them there from /app. The source copies of the
# packages are removed once installed, so only the installed code can ever be imported.
RUN pip install --no-cache-dir . \
    && site_packages="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    && ln -s /app/alembic.ini "${site_packages}/alembic.ini" \
    && ln -s /app/migrations "${site_packages}/migrations" \
    && printf '%s\n' "${GIT_COMMIT}" > "${site_packages}/BUILD_COMMIT" \
    && rm -rf /app/kernel /app/adapters /app/wallets /app/engine /app/localnet /app/tools /app/build /app/*.egg-info \
    && python -c 'import engine.runtime as r; assert (r.PROJECT_ROOT / "alembic.ini").is_file(); assert (r.PROJECT_ROOT / "migrations" / "env.py").is_file()'

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["oee", "api", "--host", "0.0.0.0"]
