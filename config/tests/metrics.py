"""Reading this process's Prometheus metrics in tests: the value of one sample, or the sum of
every sample whose labels include the given ones (0 before anything was counted)."""

from prometheus_client import REGISTRY


def metric(name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
