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
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    OEE_DATA_DIR=/var/lib/oee

# An unprivileged user (uid/gid 10001) that owns nothing but the data folder; that folder is used only
# when DATABASE_URL/REDIS_URL are unset and the embedded servers start.
RUN groupadd --system --gid 10001 oee \
    && useradd --system --uid 10001 --gid oee --home-dir /home/oee --create-home --shell /usr/sbin/nologin oee \
    && mkdir -p /var/lib/oee \
    && chown oee:oee /var/lib/oee

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
    && rm -rf /app/kernel /app/adapters /app/wallets /app/engine /app/localnet /app/tools /app/build /app/*.egg-info \
    && python -c 'import engine.runtime as r; assert (r.PROJECT_ROOT / "alembic.ini").is_file(); assert (r.PROJECT_ROOT / "migrations" / "env.py").is_file()'

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["oee", "api", "--host", "0.0.0.0"]
