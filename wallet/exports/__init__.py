"""Exports of admin changelists to CSV and XLSX (docs/OPERATIONS.md, "Exports").

Generic: each app's admin hands its django-import-export Resource and its filtered changelist
queryset; this package writes the file row by row (typed XLSX cells, UTF-8 CSV), records every
export as an ExportJob, runs the large ones on a Celery worker and keeps their files for a while.
"""
