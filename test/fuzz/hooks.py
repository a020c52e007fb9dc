"""Schemathesis hooks for the OpenAPI fuzz test (test/e2e/openapi-fuzz.test.ts).

Page tokens are opaque values the server issued (AIP-158): a made-up one is refused with
INVALID_ARGUMENT, which a schema cannot state, so generated cases carrying one are dropped.
"""
import schemathesis


@schemathesis.hook
def filter_query(ctx, query):
    return not (query and "page_token" in query)


@schemathesis.hook
def filter_body(ctx, body):
    if not isinstance(body, dict):
        return True
    if body.get("page_token"):
        return False
    # BatchSetEnvVars: keys must be distinct, which JSON Schema cannot say of objects in a list.
    variables = body.get("variables")
    if isinstance(variables, list):
        keys = [v.get("key") for v in variables if isinstance(v, dict)]
        if len(keys) != len(set(keys)):
            return False
    return True


@schemathesis.check
def not_refused_as_bad_input(ctx, response, case):
    """A request the document allows must not be refused as bad input (400 INVALID_ARGUMENT).

    A 400 FAILED_PRECONDITION is a state conflict the RPC documents in its "Errors:" (cancel a
    finished task, a stale fencing token): the request was well formed, the resource's state
    refused it; those pass, as 404 and 409 do in schemathesis' own positive_data_acceptance.
    """
    if response.status_code not in (400, 413, 422):
        return None
    try:
        error = response.json().get("error", {})
    except Exception:
        error = {}
    # The OAuth token endpoint answers RFC 6749 / 8628 errors: `{"error": "<code>", ...}`. The
    # device flow's states (pending, denied, expired, an unknown or used code) are outcomes.
    if isinstance(error, str):
        if error in ("authorization_pending", "slow_down", "access_denied", "expired_token", "invalid_grant"):
            return None
        raise AssertionError(f"schema-valid request refused: {response.status_code} {error} {response.json().get('error_description')}")
    if not isinstance(error, dict):
        error = {}
    # `failed_precondition`; the seed 002 (switchyard.workspaces.v1) wire spells it PRECONDITION_FAILED.
    if response.status_code == 400 and error.get("code") in ("failed_precondition", "PRECONDITION_FAILED"):
        return None
    # Content addressing: the bytes must hash to the path's digest, which a schema cannot state.
    if error.get("reason") == "HASH_MISMATCH":
        return None
    # A vector must have the index's dimensions and come from its model: facts of the deployment
    # (MemoryService.GetEmbeddingModel answers them), not of the document.
    if error.get("reason") in ("EMBEDDING_DIMENSION_MISMATCH", "EMBEDDING_MODEL_MISMATCH"):
        return None
    # A cron expression's validity (fields, ranges) is more than a pattern states.
    if (error.get("metadata") or {}).get("field") == "cron":
        return None
    # A reference to a resource that does not exist (a dependency id): the 404 of a body field.
    if str(error.get("reason", "")).endswith("_NOT_FOUND"):
        return None
    raise AssertionError(f"schema-valid request refused: {response.status_code} {error.get('reason')} {error.get('message')}")


@schemathesis.check
def no_server_error(ctx, response, case):
    """No 5xx, but for the documented answer of a task-backed call that no worker took within its
    deadline (503 NO_WORKER / WORKER_TIMEOUT, the task left queued): no worker runs in this test.
    """
    if response.status_code < 500:
        return None
    try:
        error = response.json().get("error", {})
    except Exception:
        error = {}
    if response.status_code == 503 and isinstance(error, dict) and error.get("reason") in ("NO_WORKER", "WORKER_TIMEOUT"):
        return None
    raise AssertionError(f"server error: {response.status_code} {response.text[:300]}")
