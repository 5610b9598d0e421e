# The tsmon image: one image, three roles (migrate, api, worker) chosen by the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
COPY sql ./sql
RUN pip install . && useradd --system --uid 10001 --home-dir /app tsmon
USER tsmon
ENV TSMON_HOME=/tmp/tsmon
ENTRYPOINT ["tsmon"]
CMD ["--help"]
