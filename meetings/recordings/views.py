"""Pages: the recordings list, delete with confirmation, and the signed file links."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from meetings.recordings import access, actions, storage
from meetings.recordings.links import LinkKind, LinkRefusal, read_token, signed_url
from meetings.recordings.models import Recording, RecordingStatus
from meetings.recordings.ranges import file_response


def links_for(recording: Recording, user_id: int) -> dict[str, str | None]:
    ready = recording.status == RecordingStatus.READY
    return {
        "play_url": signed_url(recording.pk, LinkKind.PLAY, user_id) if ready else None,
        "download_url": signed_url(recording.pk, LinkKind.DOWNLOAD, user_id) if ready else None,
        "thumbnail_url": (
            signed_url(recording.pk, LinkKind.THUMBNAIL, user_id) if ready and recording.thumbnail_name else None
        ),
    }


@login_required
def recordings_page(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    assert user_id is not None  # signed in
    visible = access.with_manageable(access.recordings_visible_to(request.user), request.user)
    recordings = visible.order_by("-started_at")[:100]
    rows = [{"recording": recording, **links_for(recording, user_id)} for recording in recordings]
    return render(request, "recordings/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def delete_recording(request: HttpRequest, recording_id: int) -> HttpResponse:
    recording = access.access_recording_to_manage(request.user, recording_id)
    if request.method == "POST":
        actions.do_delete_recording(recording)
        messages.success(request, "The recording was deleted.")
        return redirect("recordings")
    return render(request, "recordings/delete.html", {"recording": recording})


def _refusal(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


@require_GET
def recording_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """A recording's video, download or thumbnail through a signed link. Expired or forged
    links answer 403 (``link_expired`` / ``link_invalid``); a recording its holder may no longer
    see, or that is not ready, answers 404."""
    try:
        link = read_token(token)
    except LinkRefusal as refusal:
        return _refusal(refusal.code, refusal.detail, 403)
    holder = User.objects.filter(pk=link.user_id, is_active=True).first()
    recording = (
        access.recordings_visible_to(holder).filter(pk=link.recording_id).first() if holder is not None else None
    )
    if recording is None or recording.status != RecordingStatus.READY:
        return _refusal("not_found", "No recording here.", 404)
    if link.kind == LinkKind.THUMBNAIL and not recording.thumbnail_name:
        return _refusal("not_found", "This recording has no thumbnail.", 404)
    response = _serve(recording, link.kind, request.headers.get("Range", ""))
    # A redirect to the bucket is re-checked at every open (no-store); the bytes may be cached.
    response["Cache-Control"] = "no-store" if response.status_code == 302 else "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _serve(recording: Recording, kind: LinkKind, range_header: str) -> HttpResponseBase:
    """The file itself (local storage, with Range) or a redirect to the bucket's presigned URL."""
    if kind == LinkKind.THUMBNAIL:
        name, content_type, download_name = recording.thumbnail_name, "image/jpeg", None
    else:
        name, content_type = recording.file_name, "video/mp4"
        download_name = (
            f"{recording.meeting.code}-{recording.started_at:%Y%m%d-%H%M}.mp4" if kind == LinkKind.DOWNLOAD else None
        )
    direct = storage.presigned_url(
        name,
        expire_seconds=settings.RECORDINGS_STORAGE_URL_SECONDS,
        content_type=content_type,
        download_name=download_name,
    )
    if direct is not None:
        return HttpResponseRedirect(direct)
    return file_response(name, content_type, range_header, download_name=download_name)
