"""Test settings: only overrides. The database still comes from DATABASE_URL (PostgreSQL in CI)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_HTTPS = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Tests never touch the developer's own keys.
BERTH_ENCRYPTION_KEYS_FILE = Path(tempfile.mkdtemp(prefix="berth-test-keys-")) / "encryption-keys"
