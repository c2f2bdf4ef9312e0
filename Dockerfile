# One image for web, worker and beat (see docker-compose.yml).

# The dashboards' front-end packages (uPlot), from the npm registry at the lockfile's versions.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OBSERVATORY_VAR_DIR=/var/lib/observatory
WORKDIR /app
COPY pyproject.toml README.md ./
COPY observatory ./observatory
COPY collectors ./collectors
COPY dashboards ./dashboards
COPY manage.py ./
COPY --from=assets /app/node_modules ./node_modules
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime python manage.py collectstatic --noinput -v0 \
 && useradd --system --home /var/lib/observatory observatory \
 && mkdir -p /var/lib/observatory && chown -R observatory /var/lib/observatory
USER observatory
EXPOSE 8000
CMD ["gunicorn", "observatory.wsgi:application", "-c", "python:observatory.gunicorn_conf", "--bind", "0.0.0.0:8000"]
