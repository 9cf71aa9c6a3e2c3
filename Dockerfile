# The project's services (bridges, workers, gatekeeper, CLI) in one image; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aiops ./aiops
COPY streams ./streams
COPY connectors ./connectors
COPY gatekeeper ./gatekeeper
COPY triage ./triage
COPY memory ./memory
COPY demo ./demo
COPY dashboards ./dashboards
COPY feed ./feed
COPY bench ./bench
COPY schemas ./schemas
COPY policy ./policy
COPY actions ./actions
COPY handbook ./handbook
RUN pip install --no-cache-dir -e .
ENTRYPOINT ["aiops"]
CMD ["--help"]
