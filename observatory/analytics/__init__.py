"""Pure computation: plain dataclasses and numbers in, results out. No Django, no Celery
(tests/unit/observatory/analytics/test_purity.py enforces it)."""
