"""Observability of the running system (docs/OPERATIONS.md, "Metrics, alerts and probes"): the
Prometheus exposition at ``/metrics``, the ``/healthz`` and ``/readyz`` probes, and JSON logs
that carry the request's id, user and order but never a secret or a payee's identifier."""
