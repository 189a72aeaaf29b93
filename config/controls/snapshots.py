"""A control's state as JSON, and back: what a proposal stores as before and after."""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from config.controls.registry import control_columns, control_of


def _as_json(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def snapshot(obj: models.Model, many: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """The control's columns of ``obj`` by name (foreign keys as ids); its many-to-many ids from
    ``many`` when given (a form's unsaved choice), else from the database."""
    values: dict[str, Any] = {column.name: getattr(obj, column.attname) for column in control_columns(type(obj))}
    for name in control_of(type(obj)).many:
        if many is not None and name in many:
            values[name] = sorted(many[name])
        elif obj.pk is None:
            values[name] = []
        else:
            values[name] = sorted(getattr(obj, name).values_list("pk", flat=True))
    return _as_json(values)


def snapshot_apply(obj: models.Model, values: dict[str, Any]) -> list[str]:
    """Set the columns named in ``values`` on ``obj`` (not saved); the many-to-many names are
    returned for the caller to set once ``obj`` is saved."""
    many = control_of(type(obj)).many
    for column in control_columns(type(obj)):
        if column.name in values:
            setattr(obj, column.attname, column.to_python(values[column.name]))
    return [name for name in many if name in values]


def snapshot_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The names whose values differ, with (before, after)."""
    return {
        name: (before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }
