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
    return not (isinstance(body, dict) and body.get("page_token"))


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
    if response.status_code == 400 and error.get("code") == "failed_precondition":
        return None
    # A reference to a resource that does not exist (a dependency id): the 404 of a body field.
    if str(error.get("reason", "")).endswith("_NOT_FOUND"):
        return None
    raise AssertionError(f"schema-valid request refused: {response.status_code} {error.get('reason')} {error.get('message')}")
