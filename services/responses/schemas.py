"""What agencies send over HTTP, with errors in Bahasa Indonesia."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from kesah.contracts import RESPONSE_STATUSES


class AnswerSchema(Schema):
    """POST /api/agency/complaints/{id}/responses."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Kolom tidak dikenal.", "type": "Data harus berupa objek JSON."}

    body = fields.String(
        required=True,
        error_messages={"required": "Jawaban wajib diisi.", "null": "Tidak boleh kosong.", "invalid": "Harus berupa teks."},
        validate=validate.Length(min=5, max=5000, error="Jawaban harus 5 sampai 5000 karakter."),
    )
    status = fields.String(
        load_default="dijawab",
        error_messages={"null": "Tidak boleh kosong.", "invalid": "Harus berupa teks."},
        validate=validate.OneOf(
            RESPONSE_STATUSES, error="Status harus salah satu dari: " + ", ".join(RESPONSE_STATUSES) + "."
        ),
    )


ANSWER = AnswerSchema()


class AnswerFormSchema(AnswerSchema):
    """The portal's answer form: the same fields; other form fields are ignored."""

    class Meta:
        unknown = EXCLUDE


class ReasonFormSchema(Schema):
    """A reason given with a re-routing request, a routing decision or a rejection."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(
        required=True,
        error_messages={"required": "Alasan wajib diisi.", "null": "Alasan wajib diisi."},
        validate=validate.Length(min=5, max=1000, error="Alasan harus 5 sampai 1000 karakter."),
    )


ANSWER_FORM = AnswerFormSchema()
REASON_FORM = ReasonFormSchema()
