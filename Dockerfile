# Minimal image for the supportbot CLI; the deployment issue extends it for the Slack/Teams workers.
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 SUPPORTBOT_DATA_DIR=/data
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY adapters ./adapters
RUN pip install torch==2.13.0 && pip install .
VOLUME ["/data"]
ENTRYPOINT ["supportbot"]
CMD ["--help"]
