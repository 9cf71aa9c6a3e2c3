# The project's services (bridges, workers, gatekeeper, CLI) in one image; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aiops ./aiops
COPY streams ./streams
COPY connectors ./connectors
COPY schemas ./schemas
COPY policy ./policy
COPY actions ./actions
COPY handbook ./handbook
# A regular (not editable) install: the data goes to /usr/local/share/aiops, as for any user of the wheel.
RUN pip install --no-cache-dir . && rm -rf /app/aiops /app/streams /app/connectors
ENTRYPOINT ["aiops"]
CMD ["--help"]
