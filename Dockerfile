# Image for the supportbot CLI and server (`docker run -p 3000:3000 --env-file .env IMAGE serve`);
# the operations issue extends it.
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 SUPPORTBOT_DATA_DIR=/data
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY adapters ./adapters
RUN pip install torch==2.13.0 && pip install .
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["supportbot"]
CMD ["--help"]
