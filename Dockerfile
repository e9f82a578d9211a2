# poolform in a container: the CLI, the Terraform provider and the reference server (server and
# postgres extras). The entrypoint is `poolform`; by default it serves the API on port 4200 with
# SQLite in /home/poolform/data (a volume). Any other command line works the same way:
#   docker build -t poolform .
#   docker run -p 127.0.0.1:4200:4200 poolform                  # PREFECT_API_URL=http://127.0.0.1:4200/api
#   docker run --rm -v "$PWD:/work" -w /work -e PREFECT_API_URL poolform plan
# compose.yaml runs it on PostgreSQL with two replicas. tests/test_container.py checks this file.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY reconciler ./reconciler
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/poolform-*.whl)[server,postgres]" \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group poolform \
    && mkdir /home/poolform/data \
    && chown poolform:poolform /home/poolform/data
USER poolform
WORKDIR /home/poolform
VOLUME /home/poolform/data
EXPOSE 4200
# No curl in a slim image: the health check is Python's own HTTP client (/api/health needs no auth).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:4200/api/health', timeout=4).status != 200)"]
ENTRYPOINT ["poolform"]
CMD ["server", "start", "--host", "0.0.0.0", "--port", "4200", "--db", "/home/poolform/data/server.db"]
