"""The Celery worker: ``python -m worker`` (the container) or ``celery -A worker.app worker``."""
