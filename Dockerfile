# The back-office image: one image for web (gunicorn), worker and beat (Celery) and the
# migration job; the command picks the role (compose.yaml, deploy/k8s/). docs/OPERATIONS.md, "Deploy".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/var/media \
    EXPORT_ROOT=/app/var/exports

WORKDIR /app

# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 wallet \
    && useradd --system --uid 10001 --gid wallet --home-dir /app --shell /usr/sbin/nologin wallet

# Requirements before the source: a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files (served by whitenoise) and the compiled translations are part of the image, not
# of a start. DJANGO_DEBUG only lets settings load without the deployment's secrets: neither
# step reads a secret, and nothing of it stays in the image's environment.
RUN DJANGO_DEBUG=true python manage.py collectstatic --noinput \
    && python -c "from config.locales import messages_compile; messages_compile()"

# Uploads and exports: the processes' only writes (volumes in compose.yaml and deploy/k8s/).
RUN mkdir -p var/media var/exports && chown wallet:wallet var/media var/exports

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': 'localhost'}), timeout=4)"]

CMD ["gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi", "--bind", "0.0.0.0:8000"]
