"""OpenAPI post-processing: the errors every management API operation can answer."""

_ERROR = {
    "type": "object",
    "description": 'DRF\'s error: {"detail": ...}, or field names with their messages.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_ERRORS = {
    "400": "Invalid input: field-level messages.",
    "401": "Missing, unknown or revoked admin key (or a runtime key).",
    "403": "The key or user has no access to this account.",
    "404": "No such object in this account.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "415": "Unsupported media type.",
    "503": "Database unavailable (see Retry-After).",
}


def add_error_responses(result: dict, generator: object, request: object, public: bool) -> dict:
    """Document the error answers of every operation under /api/{account}/."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/{account}/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, text in _ERRORS.items():
                operation["responses"].setdefault(
                    code,
                    {"description": text, "content": {"application/json": {"schema": _ERROR}}},
                )
    return result
