"""A REST target's "Import offline conversions" (SPEC §4c "Offline import"): upload a CSV
or NDJSON file of goal events, see the first rows judged (a dry run), start it, and watch a
progress bar while the page judges it a part of 1,000 rows at a time. Closing the page
pauses it; opening it again resumes where it stopped. The import is kept with its counts
and a downloadable verdict report; uploading, starting and discarding are audited. The
`import_goals` command is the same from the command line (any size). Routed by
`visitors.admin.admin_urls`."""

from typing import Any

from django import forms
from django.contrib import messages
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.admin_scoping import admin_object_get
from accounts.audit import audit_entries_of, audit_who
from accounts.roles import Role
from targets.models import DeployTarget, TargetKind
from visitors.imports import (
    IMPORT_COLUMNS,
    IMPORT_FILE_MAX_BYTES,
    PREVIEW_ROWS,
    VERDICTS,
    ImportCounts,
    ImportFileError,
    goal_import_create,
    goal_import_preview,
    goal_import_report,
    goal_import_step,
)
from visitors.models import GoalImport

MB = 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"CSV with a header of {', '.join(IMPORT_COLUMNS)} (g and vid or session "
        f"required), or NDJSON (.ndjson, .jsonl); UTF-8; up to {IMPORT_FILE_MAX_BYTES // MB} MB. "
        "Larger files: the import_goals command."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_FILE_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / MB:.1f} MB; the limit is "
                f"{IMPORT_FILE_MAX_BYTES // MB} MB. Split it, or import it with the "
                "import_goals command."
            )
        return upload


def _target(request: HttpRequest, object_id: str, *, change: bool) -> tuple[Any, DeployTarget]:
    """The REST target of an import; importing (`change`) is an editor's, not a change of
    the target (an owner's: SPEC §6b)."""
    model_admin, target = admin_object_get(
        request=request, model=DeployTarget, object_id=object_id,
        role=Role.EDITOR if change else None,
    )  # fmt: skip
    if target.kind != TargetKind.REST:
        raise Http404("Offline conversions are imported through a REST deploy target.")
    return model_admin, target


def _context(
    request: HttpRequest, model_admin: Any, target: DeployTarget, **extra: Any
) -> dict[str, Any]:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": target,
        "can_change": model_admin.has_change_permission(request, target),
        **extra,
    }


def _by_whom(goal_import: GoalImport) -> str:
    first = audit_entries_of(GoalImport, goal_import.pk).order_by("timestamp").first()
    return audit_who(first) if first is not None else "—"


def target_import_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """The target's imports, and the form that uploads a new one."""
    model_admin, target = _target(request, object_id, change=request.method == "POST")
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            goal_import = goal_import_create(
                account_id=target.account_id, target_id=target.pk, name=upload.name,
                stream=upload.open("rb"), size=upload.size,
            )  # fmt: skip
        except ImportFileError as exc:
            form.add_error("file", f"{upload.name}: {exc}")
        else:
            return HttpResponseRedirect(_detail_url(target, goal_import))
    if form.errors:
        status = 400
    imports = GoalImport.objects.filter(target=target)[:50]
    context = _context(
        request, model_admin, target, title=f"Import offline conversions to {target.code}",
        form=form, imports=[(i, _by_whom(i), _counts(i)) for i in imports],
    )  # fmt: skip
    return TemplateResponse(
        request, "admin/targets/deploytarget/import.html", context, status=status
    )


def _detail_url(target: DeployTarget, goal_import: GoalImport) -> str:
    return reverse("admin:targets_deploytarget_import_detail", args=[target.pk, goal_import.pk])


def _counts(goal_import: GoalImport) -> dict[str, Any]:
    counts = ImportCounts.from_json(goal_import.counts)
    return {
        "verdicts": [(v, counts.verdicts[v]) for v in VERDICTS],
        "reasons": counts.reasons_by_count(),
    }


def _progress(goal_import: GoalImport) -> dict[str, Any]:
    """What the progress bar shows (and the step answers)."""
    return {
        "status": goal_import.status,
        "rows": goal_import.rows,
        "rows_done": goal_import.rows_done,
        "parts": goal_import.parts,
        "parts_done": goal_import.parts_done,
        "verdicts": dict(_counts(goal_import)["verdicts"]),
    }


def target_import_detail_view(request: HttpRequest, object_id: str, import_id: str) -> HttpResponse:
    """One import: its preview and Start (previewed), its progress (importing), its counts
    and report (imported). POST `action`: start, step (a part; JSON for the page's
    script) or discard (a previewed import)."""
    model_admin, target = _target(request, object_id, change=request.method == "POST")
    goal_import = get_object_or_404(GoalImport, pk=import_id, target=target)
    if request.method == "POST":
        return _act(request, target, goal_import, request.POST.get("action", ""))
    preview = []
    if goal_import.status == GoalImport.Status.PREVIEW:
        preview = goal_import_preview(goal_import)
    context = _context(
        request, model_admin, target, title=f"Import of {goal_import.name}",
        goal_import=goal_import, by_whom=_by_whom(goal_import), counts=_counts(goal_import),
        progress=_progress(goal_import), preview=preview, preview_rows=PREVIEW_ROWS,
    )  # fmt: skip
    return TemplateResponse(request, "admin/targets/deploytarget/import_detail.html", context)


def _act(
    request: HttpRequest, target: DeployTarget, goal_import: GoalImport, action: str
) -> HttpResponse:
    wants_json = "application/json" in request.headers.get("Accept", "")
    if action == "step":
        try:
            goal_import = goal_import_step(goal_import.pk)
        except DatabaseError:
            failed = "The database failed: nothing of this part was recorded. Try again."
            if wants_json:
                return JsonResponse({"error": failed, **_progress(goal_import)}, status=503)
            messages.error(request, failed)
        if wants_json:
            return JsonResponse(_progress(goal_import))
    elif action == "start" and goal_import.status == GoalImport.Status.PREVIEW:
        goal_import.status = GoalImport.Status.RUNNING
        goal_import.save(update_fields=["status"])
    elif action == "discard" and goal_import.status == GoalImport.Status.PREVIEW:
        goal_import.delete()
        messages.success(request, f"Discarded {goal_import.name}: nothing was recorded.")
        return HttpResponseRedirect(reverse("admin:targets_deploytarget_import", args=[target.pk]))
    else:
        messages.error(
            request,
            f"This import is {goal_import.get_status_display()}: cannot "
            f"{action[:40] or 'do that'}.",
        )
    return HttpResponseRedirect(_detail_url(target, goal_import))


def target_import_report_view(
    request: HttpRequest, object_id: str, import_id: str
) -> StreamingHttpResponse:
    """The verdict report of an import: a CSV line per row judged."""
    _, target = _target(request, object_id, change=False)
    goal_import = get_object_or_404(GoalImport, pk=import_id, target=target)
    response = StreamingHttpResponse(
        goal_import_report(goal_import), content_type="text/csv; charset=utf-8"
    )
    stem = goal_import.name.rsplit(".", 1)[0] or "import"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:100]
    response["Content-Disposition"] = f'attachment; filename="{safe}-verdicts.csv"'
    return response
