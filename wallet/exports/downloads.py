"""The file of a finished export as a download."""

from django.http import FileResponse

from wallet.exports.models import ExportJob
from wallet.exports.services import export_path


def export_download(job: ExportJob) -> FileResponse:
    """Streams the file from EXPORT_ROOT (outside the web root) under the job's safe name."""
    return FileResponse(export_path(job).open("rb"), as_attachment=True, filename=job.download_name)
